"""The sync shell: :class:`WinicClient` moves each request through ``winic_soap.http`` under the retry policy,
on a thread pool for bulk sends. Every decision (input, requests, answers, outcomes) is shared with
the async client in ``_base.py``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from winic_soap import decoding
from winic_soap._base import BaseClient, Call, Decode, SendPlan, T, _service_now
from winic_soap.bulk import PlanBatches, run_threads
from winic_soap.config import Settings
from winic_soap.events import Hook
from winic_soap.exceptions import WinicError
from winic_soap.http.wires import SyncWire
from winic_soap.models import AccountInfo, CostEstimate, DeliveryReport, Reply, SendReceipt, Submission
from winic_soap.retry import RetryPolicy

if TYPE_CHECKING:
    import ssl

    from winic_soap.http.wires import HttpClient
    from winic_soap.store.base import Store

__all__ = ["WinicClient"]


class WinicClient(BaseClient):
    """A thread-safe client for the winic SMS service; share one per process and close it when done.

    >>> with WinicClient("uid", "pwd", endpoint=mock.url) as client:  # doctest: +SKIP
    ...     client.send(["13800138000"], "验证码 123456").message_id

    ``http_client``: an ``httpx2.Client`` configured your way (proxies, CA bundle, event hooks, tracing);
    it stays yours to close. Without it one is built from the settings (``proxy``, ``verify``, ``cert``,
    ``timeout``, ``pool_size``, ``keepalive_expiry``). ``hooks`` receive a :class:`~winic_soap.events.CallEvent`
    per attempt. A client used before ``os.fork()`` opens fresh connections in the child.
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
        http_client: HttpClient | None = None,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], datetime] = _service_now,
        verify: bool | str | ssl.SSLContext | None = None,
        store: Store | str | None = None,
        **options: Any,
    ) -> None:
        """Arguments win over ``settings`` (default: built-in defaults). ``options`` are any other
        :class:`Settings` fields (``timeout``, ``proxy``, ``cert``, ``wsdl``, ``strict_text``...). ``store``:
        a :class:`~winic_soap.store.Store` whose suppression list sends check (a URL string stays what it
        always was, the ``store`` setting: open it with ``open_store`` to have sends checked)."""
        super().__init__(
            uid, pwd, endpoint=endpoint, transport=transport, settings=settings, retry=retry, hooks=hooks,
            clock=clock, verify=verify, store=store, options=options,
        )  # fmt: skip
        self._wire = SyncWire(self._settings, http_client=http_client, verify=self._tls_context)
        try:
            if self._contract is None:
                self._contract = self._load_contract(self._wire.fetch)
        except BaseException:
            self._wire.close()
            raise

    @classmethod
    def from_env(cls, *, config: str | Path | None = None, profile: str | None = None, **overrides: Any) -> WinicClient:
        """Settings from ``overrides`` > ``WINIC_*`` environment (``WINIC_UID``, ``WINIC_PWD``,
        ``WINIC_ENDPOINT``, ``WINIC_PROXY``...) > the TOML config file."""
        extra = {k: overrides.pop(k) for k in ("retry", "http_client", "hooks", "clock") if k in overrides}
        return cls(settings=Settings.load(config=config, profile=profile, **overrides), **extra)

    def fetch_wsdl(self, url: str | None = None) -> bytes:
        """The live WSDL (``ENDPOINT?WSDL`` by default), through this client's HTTP client and proxy."""
        return self._wire.fetch(url or f"{self._settings.endpoint}?WSDL")

    def close(self) -> None:
        """Release pooled connections (a given ``http_client`` stays open). The client cannot be used afterwards."""
        self._wire.close()

    def __enter__(self) -> WinicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one place bytes move ------------------------------------------------------------------
    def _execute(self, call: Call, decode: Decode[T], *, into: BinaryIO | None = None) -> T:
        """One call under the retry policy: each attempt sends, reads and decodes, so its event says what
        the call returns (a send answered with no message id is ``unknown``, never ``ok``). ``into``: a pull's
        answer streams into that file; one too large to hold is left there and the call returns None."""
        attempts = self._attempts(call)
        count = 0

        def attempt() -> T:
            nonlocal count
            count += 1
            began = time.monotonic()
            try:
                if into is None:
                    response = self._wire.send(self._request(call), timeout=attempts.time_left())
                else:
                    into.seek(0)
                    into.truncate()
                    response = self._wire.send(self._request(call), timeout=attempts.time_left(), into=into)
                    if self._streamed(call, response, into):
                        attempts.succeeded(count, began, None)
                        return None  # type: ignore[return-value]  # read from ``into`` by the caller
                value = decode(call.operation, self._answer(call, response), self._transport_name)
            except WinicError as exc:
                error = self._failure(call, exc)
                attempts.failed(count, began, error)
                raise error from None
            attempts.succeeded(count, began, value if isinstance(value, str) and call.recipients is not None else None)
            return value

        return attempts.run(attempt)

    # -- sends ---------------------------------------------------------------------------------------
    def send(
        self,
        recipients: Iterable[str] | str,
        text: str,
        *,
        at: datetime | None = None,
        ext: str | int | None = None,
        concurrency: int = 1,
        on_progress: Callable[[int, int], None] | None = None,
        skip_invalid: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """Send ``text`` to mainland China mobiles (``SendMessages``; ``SendMessages_Ext`` with ``ext``).

        Numbers are normalised (``+86``, spaces, Unicode digits) and de-duplicated; more than 100 are split
        into requests of 100 (``concurrency`` of them in flight); ``at`` schedules the send (naive =
        Asia/Shanghai). Invalid numbers are all named in one :class:`InputError`, or with ``skip_invalid``
        left out and named in ``receipt.skipped``. With a ``store``, numbers on its suppression list are left
        out (``receipt.suppressed``) unless ``ignore_suppression`` (a message the person asked for: a login code).
        """
        plan = self._plan_domestic(recipients, text, at=at, ext=ext, concurrency=concurrency, skip_invalid=skip_invalid)
        return self._run(self._screen(plan, ignore_suppression), on_progress)

    def send_international(
        self,
        recipients: Iterable[str] | str,
        text: str,
        *,
        at: datetime | None = None,
        concurrency: int = 1,
        on_progress: Callable[[int, int], None] | None = None,
        skip_invalid: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """Send to international numbers (country code first, all in one country): ``SendInternationalMessages``."""
        plan = self._plan_international(recipients, text, at=at, concurrency=concurrency, skip_invalid=skip_invalid)
        return self._run(self._screen(plan, ignore_suppression), on_progress)

    def send_batch(self, plan: SendPlan, numbers: Sequence[str]) -> Submission:
        """Send one batch (at most 100 numbers) of ``plan`` exactly as planned, checked against neither the
        numbering plan nor the clock again: the request under :meth:`send` and the send journal. Anything that
        is not a batch of ``plan.batches`` (numbers not in wire form, duplicates) is an :class:`InputError`."""
        call = self._batch_call(plan, numbers)
        return self._submission(call, self._execute(call, decoding.decode_message_id))

    def _run(self, plan: SendPlan, on_progress: Callable[[int, int], None] | None) -> SendReceipt:
        run, batches = self._bulk(plan, len(plan.batches), on_progress), PlanBatches(plan.batches)
        run_threads(run, batches, partial(self.send_batch, plan), plan.concurrency, grace=self._retry.deadline)
        return self.receipt_of(plan, run.outcome(batches.unsent()))

    # -- pulls and account ---------------------------------------------------------------------------
    def replies(self, port: str | None = None) -> list[Reply]:
        """Pull replies (``GET_SMS_MO``), only those to ``port`` when given. Each is handed out once."""
        return self._execute(self._pull_call("GET_SMS_MO", port), decoding.decode_replies)

    def replies_ext(self) -> list[Reply]:
        """Pull replies with extension ports (``GET_SMS_MO_Ext``). Each is handed out once."""
        return self._execute(self._pull_call("GET_SMS_MO_Ext"), decoding.decode_replies)

    def reports(self) -> list[DeliveryReport]:
        """Pull delivery reports (``SMS_Reports``). Each is handed out once."""
        return self._execute(self._pull_call("SMS_Reports"), decoding.decode_reports)

    def pull_into(
        self, operation: str, into: BinaryIO, *, port: str | None = None
    ) -> list[Reply | DeliveryReport] | Iterable[Reply | DeliveryReport]:
        """Pull ``operation`` (``SMS_Reports``, ``GET_SMS_MO`` or ``GET_SMS_MO_Ext``) with its answer streamed
        into the file ``into`` (opened ``w+b``) and never refused for its size: the service has handed those
        records out. A small answer comes back as a list; a large one as an iterable decoding one record at a
        time from ``into`` (memory bounded whatever the backlog): keep ``into`` open until it is read."""
        call = self._pull_call(operation, port)
        records: list[Reply | DeliveryReport] | None = self._execute(call, self._pull_decoder(operation), into=into)
        return records if records is not None else self._records_in(call, into)

    def account(self, *, personal: bool = False) -> AccountInfo:
        """Balance, price, signature... (``GetUserInfo``; ``GetUserInfo_`` with ``personal=True``)."""
        return self._execute(self._account_call(personal), decoding.decode_account)

    def estimate(
        self, recipients: int | Iterable[str], text: str, *, account: AccountInfo | None = None,
        international: bool = False,
    ) -> CostEstimate:  # fmt: skip
        """Parts, cost and whether the balance covers it, before a send, from the account's price and signature;
        ``international`` counts parts as carriers do (GSM-7 or UCS-2, :func:`~winic_soap.text.count_parts`)."""
        info = account or self.account()
        return self._estimate(recipients, text, info, international=international)

    # -- account management ------------------------------------------------------------------------
    def register(self, uid: str, pwd: str, *, company: str, contact: str, mobile: str, agent: str = "") -> None:
        """Register a new account (``RegineUser_``, or ``RegineUser`` when the WSDL only has that)."""
        call = self._register_call(uid, pwd, company=company, contact=contact, mobile=mobile, agent=agent)
        self._execute(call, decoding.decode_ack)

    def change_password(self, new: str) -> None:
        """Change this account's password (``EditUserPwd``); the client uses the new one afterwards."""
        with self._lock:
            self._execute(self._password_call(new), decoding.decode_ack)
            self._password_changed(new)

    # -- anything else -------------------------------------------------------------------------------
    def call(self, operation: str, /, **params: str) -> str | None:
        """Call any operation of the loaded WSDL with string parameters; ``uid``/``pwd`` are filled in.

        Returns the answer string (error codes raise). Operations not known to be reads are never
        retried after they may have reached the server.
        """
        return self._execute(self._any_call(operation, params), decoding.check)
