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
}
EXIT_HELP = """exit codes:
  0  success
  1  unexpected failure
  2  usage or configuration error (bad flag, unknown transport, missing credentials)
  3  input rejected before sending (bad number, empty text, past --at, ...)
  4  authentication refused (-02, -03, -14) or IP not allowed (-110)
  5  balance insufficient (-01)
  6  any other service error code (-04 ... -13, unknown codes)
  7  transport failure (connection refused, timeout, error page, unreadable answer)
  8  outcome unknown: a send (or other write) may have been processed; it was NOT retried
  9  watcher: a record could not be handed on (it stays pending in the store)
 10  the store cannot be opened or written (send: nothing was sent)
 11  wsdl diff: the WSDL differs from the packaged copy (operations or parameters)"""


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, BulkSendError):
        return exit_code_for(exc.error)
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
    if type(exc).__name__ == "HandOffError":
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
        info["failed"] = list(exc.failed)
        info["unsent"] = list(exc.unsent)
        info["cause"] = _details(exc.error)
    return info


def report_error(exc: WinicError, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": _details(exc)}, ensure_ascii=False), flush=True)
        return
    print(f"error: {exc}", file=sys.stderr)
    if isinstance(exc, BulkSendError):
        for s in exc.receipts:
            print(f"  accepted {s.message_id}: {len(s.recipients)} recipient(s)", file=sys.stderr)
        print(f"  failed: {', '.join(exc.failed)}", file=sys.stderr)
        if exc.unsent:
            print(f"  never attempted: {', '.join(exc.unsent)}", file=sys.stderr)
    if isinstance(exc, OutcomeUnknown) or (isinstance(exc, BulkSendError) and isinstance(exc.error, OutcomeUnknown)):
        print("  the service may have processed it; check `winic-soap reports` before sending again", file=sys.stderr)
