"""The typed facade: :class:`WinicClient`. Checks input before the wire, picks the transport, applies
the retry policy, and turns every answer into typed results through the one decoder.

It never imports zeep or the HTTP library: those live in ``soap.py`` and ``session.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from winic_soap import decoding
from winic_soap.config import Settings
from winic_soap.contract import Contract, load_packaged_contract
from winic_soap.envelope import SoapTransport
from winic_soap.exceptions import (
    BulkSendError,
    ConfigurationError,
    InputError,
    OutcomeUnknown,
    SendOutcomeUnknown,
    TransportError,
    WinicError,
)
from winic_soap.form import FormTransport
from winic_soap.models import AccountInfo, CostEstimate, DeliveryReport, OperationInfo, Reply, SendReceipt, Submission
from winic_soap.recipients import chunked, domestic_numbers, international_numbers
from winic_soap.retry import RetryPolicy, call_with_retry
from winic_soap.session import HttpSession
from winic_soap.text import estimate_cost, sanitize, segments

__all__ = ["SERVICE_TZ", "WinicClient"]

logger = logging.getLogger("winic_soap.client")
SERVICE_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991
# Operations safe to repeat after an ambiguous failure. Pulls are destructive but repeating one hands
# out nothing twice; everything else (sends, register, password, unknown ops) is treated as a write.
_READS = frozenset(
    {
        "GET_SMS_MO",
        "GET_SMS_MO_Ext",
        "GET_MSP_MO",
        "SMS_Reports",
        "GetUserInfo",
        "GetUserInfo_",
        "GetMessageRecord",
        "GetMessageInfo",
    }
)
_PULLS = frozenset({"GET_SMS_MO", "GET_SMS_MO_Ext", "GET_MSP_MO", "SMS_Reports"})
_CREDENTIALS = ("uid", "pwd")


class _Transport(Protocol):
    name: str

    def invoke(self, operation: str, params: Mapping[str, str | None]) -> str | None: ...


def _service_now() -> datetime:
    return datetime.now(SERVICE_TZ).replace(tzinfo=None)


class WinicClient:
    """A thread-safe client for the winic SMS service; share one per process and close it when done.

    >>> with WinicClient("uid", "pwd", endpoint=mock.url) as client:  # doctest: +SKIP
    ...     client.send(["13800138000"], "验证码 123456").message_id
    """

    def __init__(
        self,
        uid: str | None = None,
        pwd: str | None = None,
        *,
        endpoint: str | None = None,
        transport: str | None = None,
        settings: Settings | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = _service_now,
        **options: Any,
    ) -> None:
        """Arguments win over ``settings`` (default: built-in defaults). ``options`` are any other
        :class:`Settings` fields (``timeout``, ``wsdl``, ``strict_text``...)."""
        changes = {
            k: v
            for k, v in {"uid": uid, "pwd": pwd, "endpoint": endpoint, "transport": transport, **options}.items()
            if v is not None
        }
        try:
            self._settings = (settings or Settings()).with_(**changes)
        except TypeError as exc:
            raise ConfigurationError(str(exc)) from None
        s = self._settings
        self._retry = retry or RetryPolicy(s.max_attempts, s.deadline, s.backoff, s.backoff_max)
        self._clock = clock
        self._lock = threading.Lock()
        self._pwd = s.pwd
        self._session = HttpSession(
            connect_timeout=s.connect_timeout,
            read_timeout=s.timeout,
            pool_size=s.pool_size,
            verify=s.verify,
            max_response_bytes=s.max_response_bytes,
        )
        try:
            self._contract = self._load_contract()
            self._transport: _Transport
            if s.transport in ("soap11", "soap12"):
                self._transport = SoapTransport(
                    self._session, self._contract, s.endpoint, version=s.transport, wsdl=s.wsdl, timeout=s.timeout
                )
            else:
                self._transport = FormTransport(
                    self._session, s.endpoint, verb="GET" if s.transport == "http-get" else "POST"
                )
        except BaseException:
            self._session.close()
            raise

    def _load_contract(self) -> Contract:
        """The packaged WSDL's stored introspection (no zeep at start-up), else zeep on the given WSDL."""
        packaged = load_packaged_contract() if self._settings.wsdl is None else None
        if packaged is not None:
            return packaged
        from winic_soap.soap import load_contract

        return load_contract(self._session, self._settings.wsdl, timeout=self._settings.timeout)

    # -- construction helpers -----------------------------------------------------------------
    @classmethod
    def from_env(cls, *, config: str | Path | None = None, profile: str | None = None, **overrides: Any) -> WinicClient:
        """Settings from ``overrides`` > ``WINIC_*`` environment (``WINIC_UID``, ``WINIC_PWD``,
        ``WINIC_ENDPOINT``, ``WINIC_TRANSPORT``...) > the TOML config file."""
        retry = overrides.pop("retry", None)
        return cls(settings=Settings.load(config=config, profile=profile, **overrides), retry=retry)

    @property
    def settings(self) -> Settings:
        return self._settings.with_(pwd=self._pwd)

    @property
    def transport(self) -> str:
        return self._transport.name

    def __repr__(self) -> str:
        s = self._settings
        return f"WinicClient(uid={s.uid!r}, endpoint={s.endpoint!r}, transport={self._transport.name!r})"

    def close(self) -> None:
        """Release pooled connections. The client cannot be used afterwards."""
        self._session.close()

    def __enter__(self) -> WinicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection ----------------------------------------------------------------------
    def operations(self) -> list[OperationInfo]:
        """Every operation the loaded WSDL offers, with its parameters in order."""
        return sorted((op.info for op in self._contract.operations.values()), key=lambda op: op.name)

    def has_operation(self, name: str) -> bool:
        return name in self._contract.operations

    # -- the core ---------------------------------------------------------------------------
    def _credentials(self) -> dict[str, str | None]:
        if not self._settings.uid or not self._pwd:
            missing = " and ".join(n for n, v in (("uid", self._settings.uid), ("pwd", self._pwd)) if not v)
            raise InputError(missing, "credentials are required for this operation")
        return {"uid": self._settings.uid, "pwd": self._pwd}

    def _invoke(self, operation: str, params: Mapping[str, str | None], *, idempotent: bool) -> str | None:
        if operation not in self._contract.operations:
            raise ConfigurationError(f"the loaded WSDL has no operation {operation!r}")
        if operation in _PULLS:
            logger.debug("pulling %s over %s", operation, self._transport.name)
        else:
            logger.debug("calling %s over %s", operation, self._transport.name)

        def attempt() -> str | None:
            # Codes are checked inside the retried call so that -09 (maintenance) can be retried for reads.
            try:
                return decoding.check(operation, self._transport.invoke(operation, params), self._transport.name)
            except TransportError as exc:
                if operation in _PULLS and exc.processed is None:
                    # said on every such attempt, even when a retry then succeeds: these records are gone
                    logger.warning(
                        "%s: the answer was lost after the request reached the service; records it "
                        "carried (if any) were handed out and cannot be pulled again",
                        operation,
                    )
                raise

        raw = call_with_retry(attempt, policy=self._retry, idempotent=idempotent, operation=operation)
        return raw

    def _write(
        self, operation: str, params: Mapping[str, str | None], *, recipients: list[str] | None = None, text: str = ""
    ) -> str | None:
        """A non-idempotent call: retried only when it provably never left; else an outcome-unknown error
        (:class:`SendOutcomeUnknown` when ``recipients`` say it was a send)."""
        try:
            return self._invoke(operation, params, idempotent=False)
        except TransportError as exc:
            if exc.processed is not None:
                raise
            if recipients is not None:
                raise SendOutcomeUnknown(
                    operation, exc, recipients=recipients, text=text, transport=self._transport.name
                ) from exc
            raise OutcomeUnknown(operation, exc, transport=self._transport.name) from exc

    # -- sends --------------------------------------------------------------------------------
    def send(
        self,
        recipients: Iterable[str] | str,
        text: str,
        *,
        at: datetime | None = None,
        ext: str | int | None = None,
        concurrency: int = 1,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> SendReceipt:
        """Send ``text`` to mainland China mobiles (``SendMessages``; ``SendMessages_Ext`` with ``ext``).

        Numbers are normalised (``+86``, spaces) and de-duplicated; more than 100 are split into requests
        of 100 (``concurrency`` of them in flight); ``at`` schedules the send (naive = Asia/Shanghai).
        """
        numbers = domestic_numbers(recipients)
        params: dict[str, str | None] = {}
        operation = "SendMessages"
        if ext is not None:
            extno = str(ext)
            if not extno.isdigit() or not 1 <= len(extno) <= 10 or not extno.isascii():
                raise InputError("ext", "must be 1-10 digits", ext)
            operation, params["extno"] = "SendMessages_Ext", extno
        return self._send(operation, numbers, text, at, params, concurrency=concurrency, on_progress=on_progress)

    def send_international(
        self,
        recipients: Iterable[str] | str,
        text: str,
        *,
        at: datetime | None = None,
        concurrency: int = 1,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> SendReceipt:
        """Send to international numbers (country code first, all in one country): ``SendInternationalMessages``."""
        numbers = international_numbers(recipients)
        return self._send(
            "SendInternationalMessages", numbers, text, at, {}, concurrency=concurrency, on_progress=on_progress
        )

    def _send(
        self,
        operation: str,
        numbers: list[str],
        text: str,
        at: datetime | None,
        extra: dict[str, str | None],
        *,
        concurrency: int,
        on_progress: Callable[[int, int], None] | None,
    ) -> SendReceipt:
        clean = sanitize(text, strict=self._settings.strict_text)
        otime = self._otime(at)
        if not isinstance(concurrency, int) or concurrency < 1:
            raise InputError("concurrency", "must be a positive integer", concurrency)
        credentials = self._credentials()
        if operation not in self._contract.operations:
            raise ConfigurationError(f"the loaded WSDL has no operation {operation!r}")
        batches = chunked(numbers)

        def one(batch: list[str]) -> Submission:
            params = {**credentials, "tos": ",".join(batch), "msg": clean, "otime": otime, **extra}
            raw = self._write(operation, params, recipients=batch, text=clean)
            message_id = decoding.decode_message_id(operation, raw, self._transport.name)
            logger.info("%s accepted for %d recipient(s): %s", operation, len(batch), message_id)
            return Submission(message_id, tuple(batch))

        if len(batches) == 1:
            submissions = [one(batches[0])]
            if on_progress:
                on_progress(1, 1)
        else:
            submissions = self._run_batches(batches, one, concurrency, on_progress)
        parts = segments(clean)
        return SendReceipt(tuple(submissions), operation, self._transport.name, clean, parts, at and self._local(at))

    def _run_batches(
        self,
        batches: list[list[str]],
        one: Callable[[list[str]], Submission],
        concurrency: int,
        on_progress: Callable[[int, int], None] | None,
    ) -> list[Submission]:
        """Run requests with at most ``concurrency`` in flight; after a failure start no new one."""
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        done: dict[int, Submission] = {}
        failure: tuple[int, WinicError] | None = None
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="winic-send") as pool:
            pending: dict[Future[Submission], int] = {}
            queue = iter(enumerate(batches))
            while True:
                while failure is None and len(pending) < concurrency:
                    item = next(queue, None)
                    if item is None:
                        break
                    pending[pool.submit(one, item[1])] = item[0]
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        done[index] = future.result()
                        if on_progress:
                            on_progress(len(done), len(batches))
                    elif isinstance(error, WinicError) and failure is None:
                        failure = (index, error)
                    elif not isinstance(error, WinicError):
                        raise error
        if failure is not None:
            index, error = failure
            attempted = set(done) | {index}
            unsent = [n for i, batch in enumerate(batches) if i not in attempted for n in batch]
            raise BulkSendError([done[i] for i in sorted(done)], error, batches[index], unsent)
        return [done[i] for i in range(len(batches))]

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

    # -- pulls and account --------------------------------------------------------------------
    def replies(self, port: str | None = None) -> list[Reply]:
        """Pull replies (``GET_SMS_MO``), only those to ``port`` when given. Each is handed out once."""
        if port is not None and (not isinstance(port, str) or not port.isdigit()):
            raise InputError("port", "must be a string of digits", port)
        raw = self._invoke("GET_SMS_MO", {**self._credentials(), "IDtype": port or ""}, idempotent=True)
        return decoding.decode_replies("GET_SMS_MO", raw, self._transport.name)

    def replies_ext(self) -> list[Reply]:
        """Pull replies with extension ports (``GET_SMS_MO_Ext``). Each is handed out once."""
        raw = self._invoke("GET_SMS_MO_Ext", self._credentials(), idempotent=True)
        return decoding.decode_replies("GET_SMS_MO_Ext", raw, self._transport.name)

    def reports(self) -> list[DeliveryReport]:
        """Pull delivery reports (``SMS_Reports``). Each is handed out once."""
        raw = self._invoke("SMS_Reports", self._credentials(), idempotent=True)
        return decoding.decode_reports("SMS_Reports", raw, self._transport.name)

    def account(self, *, personal: bool = False) -> AccountInfo:
        """Balance, price, signature... (``GetUserInfo``; ``GetUserInfo_`` with ``personal=True``)."""
        operation = "GetUserInfo_" if personal else "GetUserInfo"
        raw = self._invoke(operation, self._credentials(), idempotent=True)
        return decoding.decode_account(operation, raw, self._transport.name)

    def estimate(
        self, recipients: int | Iterable[str], text: str, *, account: AccountInfo | None = None
    ) -> CostEstimate:
        """Parts and cost of a send before making it, from the account's price and signature."""
        count = recipients if isinstance(recipients, int) else len(domestic_numbers(recipients))
        info = account or self.account()
        clean = sanitize(text, strict=self._settings.strict_text)
        parts = segments(clean, signature=info.signature, chars_per_sms=info.chars_per_sms)
        cost = estimate_cost(clean, count, price=info.price, signature=info.signature, chars_per_sms=info.chars_per_sms)
        return CostEstimate(count, parts, info.price, cost)

    # -- account management -------------------------------------------------------------------
    def register(self, uid: str, pwd: str, *, company: str, contact: str, mobile: str, agent: str = "") -> None:
        """Register a new account (``RegineUser_``, or ``RegineUser`` when the WSDL only has that)."""
        for field, value in (("uid", uid), ("pwd", pwd), ("company", company), ("contact", contact)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(field, "must not be empty")
        phone = domestic_numbers([mobile], field="mobile")[0]
        operation = "RegineUser_" if self.has_operation("RegineUser_") else "RegineUser"
        params = {"uid": uid, "pwd": pwd, "agent_code": agent, "co_name": company, "link_man": contact, "mob": phone}
        decoding.decode_ack(operation, self._write(operation, params), self._transport.name)

    def change_password(self, new: str) -> None:
        """Change this account's password (``EditUserPwd``); the client uses the new one afterwards."""
        if not isinstance(new, str) or not new.strip():
            raise InputError("new", "the new password must not be empty")
        with self._lock:
            params = {**self._credentials(), "newpwd": new}
            decoding.decode_ack("EditUserPwd", self._write("EditUserPwd", params), self._transport.name)
            self._pwd = new

    # -- anything else ------------------------------------------------------------------------
    def call(self, operation: str, /, **params: str) -> str | None:
        """Call any operation of the loaded WSDL with string parameters; ``uid``/``pwd`` are filled in.

        Returns the answer string (error codes raise). Operations not known to be reads are never
        retried after they may have reached the server.
        """
        contract = self._contract.operations.get(operation)
        info = contract.info if contract else None
        if info is None:
            raise InputError("operation", f"not in the loaded WSDL (see operations()): {operation}")
        unknown = set(params) - set(info.parameters)
        if unknown:
            raise InputError(
                ", ".join(sorted(unknown)), f"not a parameter of {operation} ({', '.join(info.parameters) or 'none'})"
            )
        values: dict[str, str | None] = {}
        for name in info.parameters:
            value = params.get(name)
            if value is None and name in _CREDENTIALS:
                value = self._credentials()[name]
            if value is not None and not isinstance(value, str):
                raise InputError(name, "must be a string", type(value).__name__)
            values[name] = "" if value is None else value
        if operation in _READS:
            raw = self._invoke(operation, values, idempotent=True)
        else:
            raw = self._write(operation, values)
        return decoding.check(operation, raw, self._transport.name)
