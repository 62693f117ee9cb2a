"""Exit codes per error family, and how an error is shown (never with a password in it)."""

from __future__ import annotations

import json
import sys

from winic_soap.exceptions import (
    AccessDeniedError,
    AuthenticationError,
    BalanceError,
    BulkSendError,
    ConfigurationError,
    HandOffError,
    InputError,
    OutcomeUnknown,
    SendOutcomeUnknown,
    ServiceError,
    StoreError,
    TransportError,
    WinicError,
)

__all__ = ["EXIT_CODES", "EXIT_HELP", "exit_code_for", "report_error"]

EXIT_CODES = {
    "ok": 0,
    "failure": 1,
    "usage": 2,
    "input": 3,
    "authentication": 4,
    "balance": 5,
    "service": 6,
    "transport": 7,
    "outcome-unknown": 8,
    "hand-off": 9,
    "store": 10,
    "drift": 11,
    "journal": 12,
    "interrupted": 130,
    "terminated": 143,
}
EXIT_HELP = """exit codes:
  0  success
  1  unexpected failure
  2  usage or configuration error (bad flag, unknown transport, missing credentials, unreadable file)
  3  input rejected before sending (bad numbers, empty text, past --at, file not in --encoding, ...)
  4  authentication refused (-02, -03, -14) or IP not allowed (-110)
  5  balance insufficient (-01)
  6  any other service error code (-04 ... -13, unknown codes)
  7  transport failure (connection refused, timeout, error page, unreadable answer)
  8  outcome unknown: a send (or other write) may have been processed; it was NOT retried
  9  watcher: a record could not be handed on (it stays pending in the store)
 10  the store cannot be opened or written (send: nothing was sent)
 11  wsdl diff: the WSDL differs from the packaged copy (operations or parameters)
 12  send, jobs resume: the service accepted requests (ids printed) that the journal could not record
130  interrupted (Ctrl-C); 143: terminated (SIGTERM). A send prints what it did first: ids on stdout"""


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, BulkSendError):
        if isinstance(exc.error, StoreError) and (exc.receipts or exc.unknown):
            return EXIT_CODES["journal"]  # 10 says nothing was sent: here something was
        return exit_code_for(exc.error)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_CODES["terminated" if type(exc).__name__ == "Terminated" else "interrupted"]
    if isinstance(exc, StoreError):
        return EXIT_CODES["store"]
    if isinstance(exc, ConfigurationError):
        return EXIT_CODES["usage"]
    if isinstance(exc, InputError):
        return EXIT_CODES["input"]
    if isinstance(exc, (AuthenticationError, AccessDeniedError)):
        return EXIT_CODES["authentication"]
    if isinstance(exc, BalanceError):
        return EXIT_CODES["balance"]
    if isinstance(exc, ServiceError):
        return EXIT_CODES["service"]
    if isinstance(exc, OutcomeUnknown):
        return EXIT_CODES["outcome-unknown"]
    if isinstance(exc, TransportError):
        return EXIT_CODES["transport"]
    if isinstance(exc, HandOffError):
        return EXIT_CODES["hand-off"]
    return EXIT_CODES["failure"]


def _details(exc: BaseException) -> dict[str, object]:
    info: dict[str, object] = {"type": type(exc).__name__, "message": str(exc), "exit": exit_code_for(exc)}
    for name in ("code", "operation", "transport", "field", "rule"):
        value = getattr(exc, name, None)
        if value is not None:
            info[name] = value
    if isinstance(exc, SendOutcomeUnknown):
        info["recipients"] = list(exc.recipients)
    if isinstance(exc, BulkSendError):
        info["accepted"] = [{"message_id": s.message_id, "recipients": list(s.recipients)} for s in exc.receipts]
        info["unknown"] = list(exc.unknown)
        info["failed"] = list(exc.failed)
        info["unsent"] = list(exc.unsent)
        if exc.job:
            info["job"] = exc.job
        info["cause"] = _details(exc.error)
    return info


def report_error(exc: WinicError, *, as_json: bool) -> None:
    """An error on stderr in one line (JSON on stdout with ``--json``); a stopped bulk send prints its
    accepted message ids on stdout and one summary line, never every number."""
    if as_json:
        print(json.dumps({"error": _details(exc)}, ensure_ascii=False), flush=True)
        return
    if isinstance(exc, BulkSendError):
        for s in exc.receipts:
            print(f"message id {s.message_id or '(legacy 000)'}  {len(s.recipients)} recipient(s)", flush=True)
        print(f"error: {bulk_summary(exc)}", file=sys.stderr)
        return
    print(f"error: {exc}", file=sys.stderr)
    if isinstance(exc, OutcomeUnknown):
        print("  the service may have processed it; check `winic-soap reports` before sending again", file=sys.stderr)
    elif isinstance(exc, AuthenticationError) and exc.code in ("-02", "-03"):
        print(
            "  check the account and password: --uid/--pwd, WINIC_UID/WINIC_PWD or the config file (--profile)",
            file=sys.stderr,
        )


def bulk_summary(exc: BulkSendError) -> str:
    """One line: what stopped the send and what each recipient became (unknown is never called failed)."""
    accepted = sum(len(s.recipients) for s in exc.receipts)
    parts = [f"{len(exc.receipts)} request(s) accepted ({accepted} recipient(s))"]
    if exc.unknown:
        parts.append(f"{len(exc.unknown)} recipient(s) UNKNOWN (may have been sent: never re-send them blindly)")
    if exc.failed:
        parts.append(f"{len(exc.failed)} failed (not sent)")
    if exc.unsent:
        parts.append(f"{len(exc.unsent)} never attempted")
    where = f"; job {exc.job}: `winic-soap jobs show {exc.job}`" if exc.job else ""
    cause = f"{type(exc.error).__name__}: {exc.error}" if str(exc.error) else type(exc.error).__name__  # Ctrl-C: ''
    return f"send stopped by {cause}: " + ", ".join(parts) + where
