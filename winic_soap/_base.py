"""What the sync and async clients share -- everything but moving bytes and passing time: settings,
the contract, checking input before the wire, building each request, reading each answer, the unknown-
outcome rule for writes, scrubbing secrets from server text, and the bookkeeping of bulk sends.

The shells (``client.py``, ``async_client.py``) call :meth:`BaseClient._request` and
:meth:`BaseClient._answer` around one trip through ``winic_soap.http``, under ``retry.Attempts``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from winic_soap import decoding
from winic_soap.bulk import BulkRun
from winic_soap.config import Settings
from winic_soap.core import envelope, form
from winic_soap.core.answer import Scrubber, WireRequest, WireResponse, check_answer
from winic_soap.core.contract import Contract, OperationContract, load_packaged_contract
from winic_soap.core.form import _TEMPURI_STRING as TEMPURI_STRING
from winic_soap.core.streamed import ResultText
from winic_soap.events import Emit, Hook, emitter
from winic_soap.exceptions import (
    ConfigurationError,
    InputError,
    OutcomeUnknown,
    SendOutcomeUnknown,
    TransportError,
    WinicError,
)
from winic_soap.models import (
    SERVICE_TZ,
    AccountInfo,
    CostEstimate,
    DeliveryReport,
    OperationInfo,
    Problem,
    Reply,
    SendReceipt,
    Submission,
    Suppressed,
    service_time,
)
from winic_soap.recipients import MAX_PER_REQUEST, ascii_digits, check_numbers, domestic_numbers
from winic_soap.redaction import SECRET_FIELDS
from winic_soap.retry import Attempts, RetryPolicy
from winic_soap.text import count_parts, sanitize, segments, unsendable

if TYPE_CHECKING:
    from winic_soap.store.base import Store
    from winic_soap.wsdl import Fetch, ZeepEngine

logger = logging.getLogger("winic_soap.client")
_CREDENTIALS = ("uid", "pwd")
_DIGITS = re.compile("[0-9]+")
_TOS = re.compile("[0-9]+(?:,[0-9]+)*")  # one request's recipients on the wire
_PULLS = ("SMS_Reports", "GET_SMS_MO", "GET_SMS_MO_Ext")  # answers handed out once: streamed, never refused
_FIELDS = {"msg": "text", "tos": "recipients", "extno": "ext"}  # wire names -> the arguments users wrote
T = TypeVar("T")
Decode = Callable[[str, str | None, str], T]  # (operation, raw answer, transport) -> result; raises its error


class _Reread:
    """An iterable that runs ``read`` afresh for every iteration."""

    def __init__(self, read: Callable[[], Iterator[Reply | DeliveryReport]]) -> None:
        self._read = read

    def __iter__(self) -> Iterator[Reply | DeliveryReport]:
        return self._read()


def _wire_number(value: object) -> bool:
    return isinstance(value, str) and _DIGITS.fullmatch(value) is not None


def _service_now() -> datetime:
    return datetime.now(SERVICE_TZ).replace(tzinfo=None)


@dataclass(slots=True)
class Call:
    """One operation to make: its contract, parameters, and for a send its recipients and text."""

    op: OperationContract
    params: Mapping[str, str | None] = field(repr=False)  # the credentials are in it
    recipients: list[str] | None = None
    text: str = ""

    @property
    def operation(self) -> str:
        return self.op.name


@dataclass(slots=True)
class SendPlan:
    """A checked send: the operation, its batches of at most 100 numbers, and the parameters they share.
    A plan is what :meth:`~winic_soap.WinicClient.send_batch` sends, batch by batch, exactly as planned. Its numbers are
    kept compactly and each batch is made when it is sent; ``skipped`` names the invalid numbers left out
    (``skip_invalid=True``)."""

    operation: str
    batches: Sequence[Sequence[str]]
    text: str
    params: dict[str, str | None] = field(repr=False)  # the credentials are in it
    at: datetime | None
    concurrency: int
    skipped: tuple[Problem, ...] = ()
    numbers: Sequence[str] | None = field(default=None, repr=False)
    suppressed: tuple[Suppressed, ...] = ()  # left out: on the store's suppression list (store.suppression)

    def recipients(self) -> Sequence[str]:
        """Every number of the plan, checked and de-duplicated, in order (sending them again checks nothing twice)."""
        if self.numbers is not None:
            return self.numbers
        return [n for batch in self.batches for n in batch]

    def __repr__(self) -> str:
        recipients = len(self.numbers) if self.numbers is not None else sum(map(len, self.batches))
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (
            f"SendPlan({self.operation}, {recipients} recipient(s) in {len(self.batches)} batch(es){skipped}, "
            f"at={self.at})"
        )


class BaseClient:
    """Settings, contract and every decision that involves no I/O; see the module docstring."""

    _transport_name: str

    def __init__(
        self,
        uid: str | None = None,
        pwd: str | None = None,
        *,
        endpoint: str | None = None,
        transport: str | None = None,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], datetime] = _service_now,
        verify: Any = None,
        store: Store | str | None = None,
        options: Mapping[str, Any],
    ) -> None:
        import ssl

        if isinstance(store, str):  # a URL is the ``store`` setting (the CLI's store), as it always was
            options, store = {**options, "store": store}, None

        # an ssl.SSLContext cannot live in Settings (files and variables carry strings): kept aside
        self._tls_context: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        if verify is not None and self._tls_context is None:
            options = {**options, "verify": verify}
        changes = {
            k: v
            for k, v in {"uid": uid, "pwd": pwd, "endpoint": endpoint, "transport": transport, **options}.items()
            if v is not None
        }
        try:  # without ``settings``, what is not passed comes from WINIC_* and the TOML file, as in from_env
            self._settings = settings.with_(**changes) if settings is not None else Settings.load(**changes)
        except TypeError as exc:
            raise ConfigurationError(str(exc)) from None
        s = self._settings
        self._retry = retry or RetryPolicy(s.max_attempts, s.deadline, s.backoff, s.backoff_max)
        self._clock = clock
        self._emit: Emit = emitter(hooks)
        self._lock = threading.Lock()  # one password change at a time
        self._engine_lock = threading.Lock()
        self._pwd = s.pwd
        self._scrubber = Scrubber([s.pwd])
        self._transport_name = s.transport
        self._soap = s.transport in ("soap11", "soap12")
        self._engine: ZeepEngine | None = None
        self._contract: Contract | None = load_packaged_contract() if s.wsdl is None else None
        self._store = store  # sends check its suppression list (None: no check)
        if s.transport == "http-get":
            logger.warning(
                "HTTP GET puts the password in the URL (proxies and server logs keep it); prefer soap11 or http-post"
            )

    # -- contract and zeep ------------------------------------------------------------------------
    def _load_contract(self, fetch: Fetch) -> Contract:
        """zeep's introspection of the configured WSDL (remote ones through ``fetch``)."""
        from winic_soap.wsdl import load_contract

        return load_contract(self._settings.wsdl, fetch=fetch)

    def _zeep(self) -> ZeepEngine:
        """zeep bound to our endpoint and SOAP version, made on first need (a fault, a non-string operation)."""
        with self._engine_lock:
            if self._engine is None:
                from winic_soap.wsdl import ZeepEngine

                self._engine = ZeepEngine(self._settings.wsdl, self._settings.endpoint, version=self._transport_name)
            return self._engine

    @property
    def _loaded_contract(self) -> Contract:
        """The operations' contract; a custom WSDL on the async client is loaded when it is entered."""
        if self._contract is None:
            raise ConfigurationError("the WSDL is not loaded yet")
        return self._contract

    # -- public, shared ---------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings this client runs with, with the password it now uses (``repr`` hides it)."""
        return self._settings.with_(pwd=self._pwd)

    def __repr__(self) -> str:
        s = self._settings
        return f"{type(self).__name__}(uid={s.uid!r}, endpoint={s.endpoint!r}, transport={self._transport_name!r})"

    def operations(self) -> list[OperationInfo]:
        """Every operation the loaded WSDL offers, with its parameters in order."""
        return sorted((op.info for op in self._loaded_contract.operations.values()), key=lambda op: op.name)

    def has_operation(self, name: str) -> bool:
        """Whether the loaded WSDL offers ``name`` (an older service lacks some operations)."""
        return name in self._loaded_contract.operations

    # -- building calls (input checked here, before anything goes on the wire) ---------------------
    def _credentials(self) -> dict[str, str | None]:
        if not self._settings.uid or not self._pwd:
            missing = " and ".join(n for n, v in (("uid", self._settings.uid), ("pwd", self._pwd)) if not v)
            raise InputError(missing, "credentials are required for this operation")
        return {"uid": self._settings.uid, "pwd": self._pwd}

    def _call(self, operation: str, params: Mapping[str, str | None], **send: Any) -> Call:
        op = self._loaded_contract.operations.get(operation)
        if op is None:
            raise ConfigurationError(f"the loaded WSDL has no operation {operation!r}")
        for name, value in params.items():
            broken = None if value is None else unsendable(value, secret=name in SECRET_FIELDS)
            if broken:  # the same refusal on every transport (XML could not carry it; a form could)
                raise InputError(_FIELDS.get(name, name), broken)
        return Call(op, params, **send)

    def _pull_call(self, operation: str, port: str | None = None) -> Call:
        params = self._credentials()
        if operation == "GET_SMS_MO":
            digits = ascii_digits(port) if isinstance(port, str) else None
            if port is not None and (digits is None or not _DIGITS.fullmatch(digits)):
                raise InputError("port", "must be a string of digits", port)
            params["IDtype"] = digits or ""
        return self._call(operation, params)

    def _account_call(self, personal: bool) -> Call:
        return self._call("GetUserInfo_" if personal else "GetUserInfo", self._credentials())

    def _plan_send(
        self, operation: str, recipients: Iterable[str] | str, text: str, *, at: datetime | None,
        extra: dict[str, str | None], concurrency: int, skip_invalid: bool,
    ) -> SendPlan:  # fmt: skip
        clean = sanitize(text, strict=self._settings.strict_text, max_parts=self._settings.max_parts)
        otime = self._otime(at)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise InputError("concurrency", "must be a positive integer", concurrency)
        params = {**self._credentials(), "msg": clean, "otime": otime, **extra}
        self._call(operation, params)  # the operation exists and every value can be encoded
        international = operation == "SendInternationalMessages"
        checked = check_numbers(recipients, international=international, skip_invalid=skip_invalid)
        batches = checked.numbers.batches()
        return SendPlan(operation, batches, clean, params, at, concurrency, checked.skipped, checked.numbers)

    def _plan_domestic(
        self, recipients: Iterable[str] | str, text: str, *, at: datetime | None, ext: str | int | None,
        concurrency: int, skip_invalid: bool = False,
    ) -> SendPlan:  # fmt: skip
        operation, extra = "SendMessages", self._extension(ext)
        if extra:
            operation = "SendMessages_Ext"
        return self._plan_send(
            operation, recipients, text, at=at, extra=extra, concurrency=concurrency, skip_invalid=skip_invalid
        )

    def _plan_international(
        self, recipients: Iterable[str] | str, text: str, *, at: datetime | None, concurrency: int,
        skip_invalid: bool = False,
    ) -> SendPlan:  # fmt: skip
        return self._plan_send(
            "SendInternationalMessages", recipients, text, at=at, extra={}, concurrency=concurrency,
            skip_invalid=skip_invalid,
        )  # fmt: skip

    @staticmethod
    def _extension(ext: str | int | None) -> dict[str, str | None]:
        if ext is None:
            return {}
        extno = str(ext)
        if not extno.isdigit() or not 1 <= len(extno) <= 10 or not extno.isascii():
            raise InputError("ext", "must be 1-10 digits", ext)
        return {"extno": extno}

    def plan_send(
        self,
        recipients: Iterable[str] | str,
        text: str,
        *,
        at: datetime | None = None,
        ext: str | int | None = None,
        international: bool = False,
        concurrency: int = 1,
        skip_invalid: bool = False,
    ) -> SendPlan:
        """Check a send as :meth:`send` would and split it into its requests, sending nothing: the
        operation, the batches of at most 100 numbers and the text as it will go out (for a journal
        written before the send, or a preview). ``skip_invalid`` leaves invalid numbers out, named in
        ``plan.skipped``, instead of refusing them all in one :class:`InputError`."""
        if international:
            if ext is not None:
                raise InputError("ext", "international sends take no extension number", ext)
            return self._plan_international(recipients, text, at=at, concurrency=concurrency, skip_invalid=skip_invalid)
        return self._plan_domestic(recipients, text, at=at, ext=ext, concurrency=concurrency, skip_invalid=skip_invalid)

    def _stored_plan(
        self, operation: str, text: str, *, at: datetime | None = None, ext: str | None = None, concurrency: int = 1
    ) -> SendPlan:
        """The plan of a send checked earlier (a journalled job): its stored text and options as they were,
        without its batches (the journal hands them out). Only the schedule is checked again: ``at`` must
        still be in the future, or None to send now."""
        params = {**self._credentials(), "msg": text, "otime": self._otime(at), **self._extension(ext)}
        self._call(operation, params)
        return SendPlan(operation, [], text, params, at, concurrency)

    def _screen(self, plan: SendPlan, ignore_suppression: bool) -> SendPlan:
        """Leave numbers on the store's suppression list out of ``plan`` (named in the receipt), unless
        ``ignore_suppression`` (a message the person asked for: a login code). Without a store, no check."""
        if not isinstance(ignore_suppression, bool):
            raise InputError("ignore_suppression", "must be True or False", type(ignore_suppression).__name__)
        if self._store is not None and not ignore_suppression:
            from winic_soap.store.suppression import screen

            screen(self._store, plan)  # the store down: StoreError, nothing sent unchecked
            if plan.suppressed:
                logger.info("left out %d recipient(s) on the suppression list", len(plan.suppressed))
        return plan

    def _batch_call(self, plan: SendPlan, batch: Sequence[str]) -> Call:
        numbers = list(batch)
        # not checked again against the numbering plan (a batch goes out as planned, even after an upgrade),
        # but it must be a batch: one request's worth of wire-form numbers, none of which can smuggle a comma
        # (another recipient) into ``tos`` or reach the service unnormalised. One match over the joined
        # numbers: this runs once per request of a million-number send.
        tos = ",".join(numbers) if all(isinstance(n, str) for n in numbers) else ""
        if (
            isinstance(batch, str)
            or not _TOS.fullmatch(tos)
            or tos.count(",") != len(numbers) - 1
            or not len(numbers) <= MAX_PER_REQUEST
            or len(set(numbers)) != len(numbers)
        ):
            bad = batch if isinstance(batch, str) else next((n for n in numbers if not _wire_number(n)), None)
            raise InputError(
                "numbers",
                f"must be one batch of the plan: a list of 1-{MAX_PER_REQUEST} distinct numbers in ASCII digits, "
                "as in plan.batches",
                f"{len(numbers)} number(s)" if bad is None else bad,
            )
        return self._call(plan.operation, {**plan.params, "tos": tos}, recipients=numbers, text=plan.text)

    def _bulk(self, plan: SendPlan, total: int, on_progress: Callable[[int, int], None] | None) -> BulkRun:
        return BulkRun(
            total, operation=plan.operation, text=plan.text, transport=self._transport_name, on_progress=on_progress
        )

    def receipt_of(self, plan: SendPlan, submissions: Sequence[Submission]) -> SendReceipt:
        """The receipt of a plan whose batches were sent one by one with ``send_batch`` (by a journal of your
        own, or the store's): the same :class:`SendReceipt` that ``send`` returns."""
        at = plan.at and service_time(plan.at).replace(microsecond=0)  # to the second, as ``otime`` carried it
        parts = segments(plan.text, international=plan.operation == "SendInternationalMessages")
        return SendReceipt(
            tuple(submissions), plan.operation, self._transport_name, plan.text, parts, at, plan.skipped,
            plan.suppressed,
        )  # fmt: skip

    def _register_call(self, uid: str, pwd: str, *, company: str, contact: str, mobile: str, agent: str) -> Call:
        for name, value in (("uid", uid), ("pwd", pwd), ("company", company), ("contact", contact)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(name, "must not be empty")
        phone = domestic_numbers([mobile], field="mobile")[0]
        operation = "RegineUser_" if self.has_operation("RegineUser_") else "RegineUser"
        params = {"uid": uid, "pwd": pwd, "agent_code": agent, "co_name": company, "link_man": contact, "mob": phone}
        return self._call(operation, params)

    def _password_call(self, new: str) -> Call:
        if not isinstance(new, str) or not new.strip():
            raise InputError("new", "the new password must not be empty")
        return self._call("EditUserPwd", {**self._credentials(), "newpwd": new})

    def _any_call(self, operation: str, params: Mapping[str, str]) -> Call:
        contract = self._loaded_contract.operations.get(operation)
        if contract is None:
            raise InputError("operation", f"not in the loaded WSDL (see operations()): {operation}")
        unknown = set(params) - set(contract.parameters)
        if unknown:
            raise InputError(
                ", ".join(sorted(unknown)),
                f"not a parameter of {operation} ({', '.join(contract.parameters) or 'none'})",
            )
        values: dict[str, str | None] = {}
        for name in contract.parameters:
            value = params.get(name)
            if value is None and name in _CREDENTIALS:
                value = self._credentials()[name]
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # num=10 means "10" on the wire
            if value is not None and not isinstance(value, str):
                raise InputError(name, "must be a string", type(value).__name__)
            values[name] = "" if value is None else value
        return self._call(operation, values)

    def _estimate(
        self, recipients: int | Iterable[str], text: str, info: AccountInfo, *, international: bool = False
    ) -> CostEstimate:
        count = (
            recipients
            if isinstance(recipients, int)
            else len(check_numbers(recipients, international=international).numbers)
        )
        clean = sanitize(text, strict=self._settings.strict_text, max_parts=self._settings.max_parts)
        counted = count_parts(
            clean, signature=info.signature, chars_per_sms=info.chars_per_sms, international=international
        )
        return CostEstimate(count, counted.parts, info.price, info.price * count * counted.parts, info.balance, counted)

    def _local(self, at: datetime) -> datetime:
        return at if at.tzinfo is None else at.astimezone(SERVICE_TZ).replace(tzinfo=None)

    def _otime(self, at: datetime | None) -> str:
        if at is None:
            return ""
        if not isinstance(at, datetime):
            raise InputError("at", "must be a datetime", type(at).__name__)
        local = self._local(at)
        if local <= self._clock():
            raise InputError("at", "must be in the future (service time, Asia/Shanghai)", local.isoformat(" "))
        return local.strftime("%Y-%m-%d %H:%M:%S")

    # -- one trip: the request, the answer, the failure ------------------------------------------------
    def _attempts(self, call: Call) -> Attempts:
        if call.op.is_pull:
            logger.debug("pulling %s over %s", call.operation, self._transport_name)
        return Attempts(
            self._retry,
            operation=call.operation,
            transport=self._transport_name,
            idempotent=call.op.is_read,
            timeout=self._settings.timeout,
            emit=self._emit,
        )

    def _request(self, call: Call) -> WireRequest:
        """The HTTP request for ``call`` on the configured transport."""
        s, op = self._settings, call.op
        if not self._soap:
            verb = "GET" if self._transport_name == "http-get" else "POST"
            return form.render_request(s.endpoint, op.name, call.params, verb=verb)
        if op.simple and self._transport_name in op.actions:
            return envelope.soap_request(s.endpoint, op, self._transport_name, call.params)
        return self._zeep().request(op.name, call.params)

    def _answer(self, call: Call, response: WireResponse) -> str | None:
        """The answer string as the service wrote it (decoded, error codes included, by the caller's decoder
        inside the retried attempt, so that a read's ``-09`` is retried)."""
        if self._soap:
            return envelope.read_answer(call.op, self._transport_name, response, self._zeep_reader)
        return form.read_answer(response)

    def _pull_decoder(self, operation: str) -> Decode[Any]:
        """The list decoder of a pull operation; anything else is an :class:`InputError`."""
        if operation not in _PULLS:
            raise InputError("operation", f"must be one of {', '.join(_PULLS)} (a pull)", operation)
        return decoding.decode_reports if operation == "SMS_Reports" else decoding.decode_replies

    def _streamed(self, call: Call, response: WireResponse, body: BinaryIO) -> bool:
        """True when a pull answer streamed to ``body`` is larger than the part kept in memory: then it must
        be the service's XML success answer (else a typed error here), read by :meth:`_records_in`."""
        try:
            size = body.seek(0, 2)
        except OSError:  # the disk failed it: the answer was read into memory instead
            return False
        if size <= len(response.content):
            return False
        check_answer(response, fault_status=False)
        return True

    def _records_in(self, call: Call, body: BinaryIO) -> Iterable[Reply | DeliveryReport]:
        """The records of a streamed pull answer, decoded from ``body`` one at a time; each iteration reads
        it again from the start (a caller whose spool failed reads them into memory instead)."""

        def records() -> Iterator[Reply | DeliveryReport]:
            if self._soap:
                reader = ResultText(f"{{{call.op.namespace}}}{call.op.result_element}")
            else:
                reader = ResultText(TEMPURI_STRING, root=TEMPURI_STRING)  # the document element is the result

            def pieces() -> Iterator[str]:
                body.seek(0)
                while chunk := body.read(1 << 20):
                    yield from reader.feed(chunk)
                yield from reader.close()

            return decoding.stream_records(call.operation, pieces())

        return _Reread(records)

    def _zeep_reader(self, operation: str, response: WireResponse) -> str | None:
        return self._zeep().process_reply(operation, response)

    def _scrubber_for(self, call: Call) -> Scrubber:
        secrets = [call.params.get(name) for name in SECRET_FIELDS]
        if secrets == [self._pwd, None]:
            return self._scrubber
        return Scrubber([self._pwd, *secrets])

    def _failure(self, call: Call, exc: WinicError) -> WinicError:
        """What one failed attempt raises, before the retry layer logs it: the error with the operation and
        transport, scrubbed of every secret the server may have echoed, and for a write that may have been
        processed, the unknown outcome (so the attempt's event already says so)."""
        if isinstance(exc, TransportError):
            exc.operation, exc.transport = call.operation, self._transport_name
            if call.op.is_pull and exc.processed is None:
                # said on every such attempt, even when a retry then succeeds: these records are gone
                logger.warning(
                    "%s: the answer was lost after the request reached the service; records it "
                    "carried (if any) were handed out and cannot be pulled again",
                    call.operation,
                )
        return self._outcome(call, self._scrubber_for(call).error(exc))

    def _outcome(self, call: Call, exc: WinicError) -> WinicError:
        """A write that may have been processed is an unknown outcome; every other error stays itself."""
        if call.op.is_read or not isinstance(exc, TransportError) or exc.processed is not None:
            return exc
        if call.recipients is not None:
            return SendOutcomeUnknown(
                call.operation, exc, recipients=call.recipients, text=call.text, transport=self._transport_name
            )
        return OutcomeUnknown(call.operation, exc, transport=self._transport_name)

    def _submission(self, call: Call, message_id: str | None) -> Submission:
        recipients = call.recipients or []
        logger.info("%s accepted for %d recipient(s): %s", call.operation, len(recipients), message_id)
        return Submission(message_id, recipients)

    def _password_changed(self, new: str) -> None:
        self._pwd = new
        self._scrubber = Scrubber([self._settings.pwd, new])
