"""Every error winic-soap raises, rooted at :class:`WinicError`.

::

    WinicError
    ├── ConfigurationError        settings unusable: unknown transport, bad endpoint, no credentials
    ├── InputError                bad input caught before anything went on the wire (.field, .rule)
    ├── ServiceError              the service answered a negative code (.code, .operation, .raw)
    │   ├── AuthenticationError   -02 account missing, -03 wrong password, -14 empty credentials
    │   ├── AccessDeniedError     -110 / -111 client IP not allowed
    │   ├── BalanceError          -01 balance insufficient
    │   ├── RejectedRequestError  -04 -05 -06 -07 -08 -10 -11 -13: the request itself was refused
    │   ├── MaintenanceError      -09 system under maintenance (reads retry it)
    │   └── UnknownServiceError   -12 other error, and any code this library does not know
    ├── TransportError            the exchange failed below the service (.reached, .processed)
    │   ├── ConnectError          never reached the server: refused, DNS, connect timeout, proxy refused
    │   │   ├── TLSError          the TLS handshake failed: certificate not verified, client certificate refused
    │   │   └── ProxyAuthenticationError  the proxy answered 407: its credentials are missing or wrong
    │   ├── ReadTimeoutError      request written, no answer in time
    │   ├── ConnectionLostError   connection closed or reset after the request was written
    │   ├── HTTPStatusError       an HTTP error page or redirect instead of an answer (.status, .location)
    │   └── ProtocolError         an answer we cannot read: malformed, truncated, hostile, SOAP fault
    │       └── SoapFaultError    a SOAP fault (.fault_code)
    ├── OutcomeUnknown            a write may or may not have taken effect; never retried
    │   └── SendOutcomeUnknown    ... and that write was a send (.recipients)
    ├── StoreError                the store (SQLite file, PostgreSQL) cannot be opened, read or written
    │   └── JournalError          ... after the service accepted what the journal could not record
    ├── BulkSendError             a send of several chunks stopped part-way (.receipts, .unknown, .failed, .unsent)
    ├── ClientClosedError         the client was closed; nothing was sent
    ├── HandOffError              a watcher's handler failed on a record; it stays pending (.record_id)
    └── WebhookVerificationError  a received webhook is not signed with the secret, or not fresh

No error carries a password: messages are built from operation names, codes and safe fields, and text the
server sent back is scrubbed of the client's secrets before it is put in an error. Every error pickles
(Celery's pickle serializer, process pools).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from winic_soap.models import Problem, Submission

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "BalanceError",
    "BulkSendError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "HTTPStatusError",
    "HandOffError",
    "InputError",
    "JournalError",
    "MaintenanceError",
    "OutcomeUnknown",
    "ProtocolError",
    "ProxyAuthenticationError",
    "ReadTimeoutError",
    "RejectedRequestError",
    "SendOutcomeUnknown",
    "ServiceError",
    "SoapFaultError",
    "StoreError",
    "TLSError",
    "TransportError",
    "UnknownServiceError",
    "WebhookVerificationError",
    "WinicError",
    "error_for_code",
]


def _rebuild(cls: type[WinicError], args: tuple[object, ...], state: dict[str, object]) -> WinicError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class WinicError(Exception):
    """Base of every error raised by winic-soap."""

    def __reduce__(self) -> tuple[object, ...]:
        # The subclasses take keyword-only context that ``args`` does not hold: pickle the state itself.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class ConfigurationError(WinicError, ValueError):
    """Raised when settings cannot work: unknown transport, malformed endpoint, missing credentials."""


class InputError(WinicError, ValueError):
    """Raised before any network I/O when an argument breaks a documented rule; names the field and rule.
    A list with bad items names every one in ``problems`` (the message shows the first few)."""

    SHOWN = 10  # problems written out in the message; the rest are counted

    def __init__(self, field: str, rule: str, value: object = None, *, problems: Sequence[Problem] = ()) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        self.problems = tuple(problems)
        shown = "" if value is None else f" (got {value!r})"
        if len(self.problems) > 1:
            listed = "; ".join(map(str, self.problems[: self.SHOWN]))
            more = len(self.problems) - self.SHOWN
            shown = f": {listed}" + (f"; ... and {more} more" if more > 0 else "")
        super().__init__(f"{field}: {rule}{shown}")


class ServiceError(WinicError):
    """Raised when the service answers a negative error code."""

    description = "service error"

    def __init__(self, code: str, operation: str, raw: str | None = None, transport: str | None = None) -> None:
        self.code = code
        self.operation = operation
        self.raw = raw if raw is not None else code
        self.transport = transport
        super().__init__(f"{operation} answered {code}: {_DESCRIPTIONS.get(code, self.description)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, operation={self.operation!r})"


class AuthenticationError(ServiceError):
    """Raised for -02 (no such account), -03 (wrong password), -14 (empty user name or password)."""

    description = "authentication failed"


class AccessDeniedError(ServiceError):
    """Raised for -110 (and the older gateway's -111): this client's IP address is not allowed."""

    description = "IP address not allowed"


class BalanceError(ServiceError):
    """Raised for -01: the account balance does not cover the send."""

    description = "balance insufficient"


class RejectedRequestError(ServiceError):
    """Raised when the service refuses the request's content: parameters, numbers, encoding, words, size."""

    description = "request rejected"


class MaintenanceError(ServiceError):
    """Raised for -09: the service is under maintenance; reads retry it, sends do not."""

    description = "system under maintenance"


class UnknownServiceError(ServiceError):
    """Raised for -12 ("other error") and any code this library does not know (kept raw in ``.code``)."""

    description = "unknown error code"


class TransportError(WinicError):
    """Raised when the exchange failed below the service.

    ``reached`` says whether the request can have reached the server; ``processed`` is False when the
    server provably did not act on it and None when nobody can know.
    """

    reached: bool = True
    processed: bool | None = None

    def __init__(self, message: str, *, operation: str | None = None, transport: str | None = None) -> None:
        self.operation = operation
        self.transport = transport
        super().__init__(message)


class ConnectError(TransportError):
    """Raised when no connection could be made (refused, DNS failure, connect timeout): nothing was sent."""

    reached = False
    processed = False


class TLSError(ConnectError):
    """Raised when the TLS handshake failed (certificate not verified, client certificate missing or refused):
    the request never reached the service, and trying again will not help."""


class ProxyAuthenticationError(ConnectError):
    """Raised when the proxy answered 407 (plain HTTP or to CONNECT): its credentials (the ``proxy`` URL's
    ``user:password``) are missing or refused. Nothing reached the service, and trying again will not help."""


class ClientClosedError(WinicError):
    """Raised when a closed client is used: nothing was sent."""


class ReadTimeoutError(TransportError):
    """Raised when the request was written but no answer came within the timeout."""


class ConnectionLostError(TransportError):
    """Raised when the connection closed or reset after the request was (maybe partly) written."""


class HTTPStatusError(TransportError):
    """Raised when the server answered an HTTP error page (5xx from IIS, 4xx) instead of the service."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        processed: bool | None = None,
        body: bytes = b"",
        location: str | None = None,
        operation: str | None = None,
        transport: str | None = None,
    ) -> None:
        self.status = status
        self.body = body[:2000]
        self.location = location
        self.processed = processed
        super().__init__(message, operation=operation, transport=transport)


class ProtocolError(TransportError):
    """Raised when an answer arrived but cannot be read: malformed or truncated XML, DTDs or entities,
    an unexpected content type, an oversized body."""

    def __init__(
        self, message: str, *, processed: bool | None = None, operation: str | None = None, transport: str | None = None
    ) -> None:
        self.processed = processed
        super().__init__(message, operation=operation, transport=transport)


class SoapFaultError(ProtocolError):
    """Raised for a SOAP fault. ``soap:Client``/``Sender`` faults mean the request was refused unprocessed."""

    def __init__(
        self, fault_code: str, message: str, *, operation: str | None = None, transport: str | None = None
    ) -> None:
        self.fault_code = fault_code
        client_fault = fault_code.rsplit(":", maxsplit=1)[-1] in ("Client", "Sender", "VersionMismatch")
        super().__init__(
            f"SOAP fault {fault_code}: {message}",
            processed=False if client_fault else None,
            operation=operation,
            transport=transport,
        )


class OutcomeUnknown(WinicError):
    """Raised when a write (send, register, password change) may or may not have taken effect.

    Never retried automatically: check the account (``reports()``, ``account()``) before trying again.
    """

    def __init__(self, operation: str, cause: BaseException, *, transport: str | None = None) -> None:
        self.operation = operation
        self.cause = cause
        self.transport = transport
        super().__init__(
            f"outcome unknown: {operation} may have been processed ({type(cause).__name__}: {cause}); not retried"
        )


class SendOutcomeUnknown(OutcomeUnknown):
    """Raised when a send may have reached the service: the SMS may or may not go out. Never retried."""

    def __init__(
        self,
        operation: str,
        cause: BaseException,
        *,
        recipients: Sequence[str],
        text: str,
        transport: str | None = None,
    ) -> None:
        self.recipients = tuple(recipients)
        self.text = text
        super().__init__(operation, cause, transport=transport)
        self.args = (
            f"outcome unknown: {operation} to {len(self.recipients)} recipient(s) may have been "
            f"processed ({type(cause).__name__}: {cause}); not retried",
        )

    def __repr__(self) -> str:
        return (
            f"SendOutcomeUnknown(operation={self.operation!r}, recipients={len(self.recipients)}, "
            f"cause={type(self.cause).__name__})"
        )


class BulkSendError(WinicError):
    """Raised when a send split into several requests stopped part-way, and what every recipient became.

    ``receipts``: the requests the service accepted (their message ids). ``unknown``: recipients of
    requests that may have been processed (an answer lost, a request in flight when the run was
    interrupted): never send to them again without checking reports. ``failed``: recipients of requests
    that provably were not processed (the service refused them with a code, or they never left).
    ``unsent``: recipients never attempted. Every recipient is in exactly one of the four. ``job``: the
    send journal's job, when it was journalled (``jobs show`` has the details). ``error`` is
    what stopped the send: an unknown outcome when there is one, else the first failure, the exception a
    progress callback raised, a :class:`StoreError`, or the interrupt (KeyboardInterrupt, CancelledError).

    An interrupted send re-raises the interrupt itself (so asyncio's and Python's semantics stay intact)
    with this error as its ``__cause__``; :meth:`find` digs it out of whatever was raised.
    """

    def __init__(
        self,
        receipts: Sequence[Submission],
        error: BaseException,
        failed: Sequence[str],
        unsent: Sequence[str],
        unknown: Sequence[str] = (),
        *,
        job: str | None = None,
    ) -> None:
        self.receipts = tuple(receipts)
        self.job = job
        self.error = error
        self.failed = tuple(failed)
        self.unsent = tuple(unsent)
        self.unknown = tuple(unknown)
        super().__init__(
            f"bulk send stopped ({type(error).__name__}: {error}): {len(self.receipts)} request(s) accepted, "
            f"{len(self.unknown)} recipient(s) with an unknown outcome (may have been sent), "
            f"{len(self.failed)} failed (not sent), {len(self.unsent)} never attempted"
        )

    def __repr__(self) -> str:
        return (
            f"BulkSendError(accepted={len(self.receipts)}, unknown={len(self.unknown)}, failed={len(self.failed)}, "
            f"unsent={len(self.unsent)}, error={type(self.error).__name__})"
        )

    @property
    def message_ids(self) -> tuple[str | None, ...]:
        """The accepted requests' message ids, in order."""
        return tuple(s.message_id for s in self.receipts)

    @staticmethod
    def find(exc: BaseException | None) -> BulkSendError | None:
        """The :class:`BulkSendError` that ``exc`` is or was caused by (a ``TimeoutError`` from
        ``asyncio.timeout``, a ``CancelledError``, a ``KeyboardInterrupt``), else None."""
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            if isinstance(exc, BulkSendError):
                return exc
            seen.add(id(exc))
            exc = exc.__cause__ or exc.__context__
        return None


class StoreError(WinicError):
    """Raised when the store cannot be opened, read or written; whatever depended on it (a send) did not go ahead."""


class JournalError(StoreError):
    """Raised when the service accepted requests that the send journal could not record (the store went
    away mid-send): the SMS went out; the accepted ids are on the :class:`BulkSendError` it stops."""


class HandOffError(WinicError):
    """Raised when a watcher's handler failed on a record; the record stays pending and is handed on again later."""

    def __init__(self, record_id: str, cause: BaseException | str) -> None:
        self.record_id = record_id
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"handing on record {record_id} failed: {detail}")


class WebhookVerificationError(WinicError):
    """Raised by :func:`winic_soap.webhooks.verify` when a request is not a valid, fresh webhook signed with
    the secret."""


_DESCRIPTIONS = {
    "-01": "balance insufficient",
    "-02": "account does not exist (for registration: the agent account does not exist)",
    "-03": "wrong password",
    "-04": "missing or invalid parameter",
    "-05": "bad phone number format",
    "-06": "bad message encoding",
    "-07": "message contains forbidden words",
    "-08": "no data received or account frozen (international: number must not start with +)",
    "-09": "system under maintenance",
    "-10": "too many numbers (at most 100 per request)",
    "-11": "message too long",
    "-12": "other error",
    "-13": "file transfer error",
    "-14": "user name or password empty",
    "-110": "IP address restricted",
    "-111": "IP address restricted (older gateway)",
}
_FAMILIES: dict[str, type[ServiceError]] = {
    "-01": BalanceError,
    "-02": AuthenticationError,
    "-03": AuthenticationError,
    "-14": AuthenticationError,
    "-110": AccessDeniedError,
    "-111": AccessDeniedError,
    "-09": MaintenanceError,
    **dict.fromkeys(("-04", "-05", "-06", "-07", "-08", "-10", "-11", "-13"), RejectedRequestError),
}


def error_for_code(code: str, operation: str, raw: str | None = None, transport: str | None = None) -> ServiceError:
    """The typed error for a service code; unknown codes become :class:`UnknownServiceError` with the code kept."""
    return _FAMILIES.get(code, UnknownServiceError)(code, operation, raw, transport)
