"""Which exit code an error gets (the table is :mod:`winic_soap.cli.exit_codes`), and how an error is shown
(never with a password in it)."""

from __future__ import annotations

import json
import sys

from winic_soap.cli.exit_codes import ExitCode
from winic_soap.cli.sending import Terminated
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

__all__ = ["bulk_summary", "exit_code_for", "report_error"]


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code of the error family ``exc`` belongs to; a stopped bulk send takes its cause's."""
    if isinstance(exc, BulkSendError):
        if isinstance(exc.error, StoreError) and (exc.receipts or exc.unknown):
            return ExitCode.JOURNAL  # 10 says nothing was sent: here something was
        return exit_code_for(exc.error)
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED
    if isinstance(exc, StoreError):
        return ExitCode.STORE
    if isinstance(exc, ConfigurationError):
        return ExitCode.USAGE
    if isinstance(exc, InputError):
        return ExitCode.INPUT
    if isinstance(exc, (AuthenticationError, AccessDeniedError)):
        return ExitCode.AUTHENTICATION
    if isinstance(exc, BalanceError):
        return ExitCode.BALANCE
    if isinstance(exc, ServiceError):
        return ExitCode.SERVICE
    if isinstance(exc, OutcomeUnknown):
        return ExitCode.OUTCOME_UNKNOWN
    if isinstance(exc, TransportError):
        return ExitCode.TRANSPORT
    if isinstance(exc, HandOffError):
        return ExitCode.HAND_OFF
    return ExitCode.FAILURE


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
