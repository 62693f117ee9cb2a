"""The sync shell: :class:`WinicClient` moves each request through ``http.py`` under the retry policy,
on a thread pool for bulk sends. Every decision (input, requests, answers, outcomes) is shared with
the async client in ``_base.py``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winic_soap import decoding
from winic_soap._base import SERVICE_TZ, BaseClient, BulkRun, Call, SendPlan, _service_now
from winic_soap.config import Settings
from winic_soap.events import Hook
from winic_soap.exceptions import WinicError
from winic_soap.http import SyncWire
from winic_soap.models import AccountInfo, CostEstimate, DeliveryReport, Reply, SendReceipt, Submission
from winic_soap.retry import RetryPolicy

if TYPE_CHECKING:
    import ssl

    from winic_soap.http import HttpClient

__all__ = ["SERVICE_TZ", "WinicClient"]


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
        **options: Any,
    ) -> None:
        """Arguments win over ``settings`` (default: built-in defaults). ``options`` are any other
        :class:`Settings` fields (``timeout``, ``proxy``, ``cert``, ``wsdl``, ``strict_text``...)."""
        super().__init__(
            uid, pwd, endpoint=endpoint, transport=transport, settings=settings, retry=retry, hooks=hooks,
            clock=clock, verify=verify, options=options,
        )  # fmt: skip
        self._wire = SyncWire(self._settings, http_client=http_client, verify=self._tls_context)
        self._pid = os.getpid()
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
    def _execute(self, call: Call) -> str | None:
        if os.getpid() != self._pid:  # forked: the pooled sockets are the parent's, never share them
            self._pid = os.getpid()
            self._wire.renew()
        attempts = self._attempts(call)
        count = 0

        def attempt() -> str | None:
            nonlocal count
            count += 1
            began = time.monotonic()
            try:
                response = self._wire.send(self.request(call), timeout=attempts.time_left())
                raw = self.answer(call, response)
            except WinicError as exc:
                error = self.failure(call, exc)
                attempts.failed(count, began, error)
                raise error from None
            attempts.succeeded(count, began, raw if call.recipients is not None else None)
            return raw

        try:
            return attempts.run(attempt)
        except WinicError as exc:
            raise self.outcome(call, exc) from exc

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
    ) -> SendReceipt:
        """Send ``text`` to mainland China mobiles (``SendMessages``; ``SendMessages_Ext`` with ``ext``).

        Numbers are normalised (``+86``, spaces) and de-duplicated; more than 100 are split into requests
        of 100 (``concurrency`` of them in flight); ``at`` schedules the send (naive = Asia/Shanghai).
        """
        return self._send(
            self._plan_domestic(recipients, text, at=at, ext=ext, concurrency=concurrency, on_progress=on_progress)
        )

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
        return self._send(
            self._plan_international(recipients, text, at=at, concurrency=concurrency, on_progress=on_progress)
        )

    def _send_batch(self, plan: SendPlan, batch: list[str]) -> Submission:
        call = self._batch_call(plan, batch)
        return self.submission(call, self._execute(call))

    def _send(self, plan: SendPlan) -> SendReceipt:
        run = BulkRun(plan)
        if plan.concurrency == 1 or len(plan.batches) == 1:
            for index, batch in enumerate(plan.batches):
                if not run.may_start():
                    break
                try:
                    run.accepted(index, self._send_batch(plan, batch))
                except WinicError as exc:
                    run.failed(index, exc)
        else:
            self._run_pool(run)
        return self._receipt(plan, run.result())

    def _run_pool(self, run: BulkRun) -> None:
        """At most ``concurrency`` requests in flight; after a failure no new one starts."""
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        plan = run.plan
        with ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="winic-send") as pool:
            pending: dict[Future[Submission], int] = {}
            queue = iter(enumerate(plan.batches))
            while True:
                while run.may_start() and len(pending) < plan.concurrency:
                    item = next(queue, None)
                    if item is None:
                        break
                    pending[pool.submit(self._send_batch, plan, item[1])] = item[0]
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        run.accepted(index, future.result())
                    elif isinstance(error, WinicError):
                        run.failed(index, error)
                    else:
                        raise error

    # -- pulls and account ---------------------------------------------------------------------------
    def replies(self, port: str | None = None) -> list[Reply]:
        """Pull replies (``GET_SMS_MO``), only those to ``port`` when given. Each is handed out once."""
        call = self._pull_call("GET_SMS_MO", port)
        return decoding.decode_replies(call.operation, self._execute(call), self.transport)

    def replies_ext(self) -> list[Reply]:
        """Pull replies with extension ports (``GET_SMS_MO_Ext``). Each is handed out once."""
        call = self._pull_call("GET_SMS_MO_Ext")
        return decoding.decode_replies(call.operation, self._execute(call), self.transport)

    def reports(self) -> list[DeliveryReport]:
        """Pull delivery reports (``SMS_Reports``). Each is handed out once."""
        call = self._pull_call("SMS_Reports")
        return decoding.decode_reports(call.operation, self._execute(call), self.transport)

    def account(self, *, personal: bool = False) -> AccountInfo:
        """Balance, price, signature... (``GetUserInfo``; ``GetUserInfo_`` with ``personal=True``)."""
        call = self._account_call(personal)
        return decoding.decode_account(call.operation, self._execute(call), self.transport)

    def estimate(
        self, recipients: int | Iterable[str], text: str, *, account: AccountInfo | None = None
    ) -> CostEstimate:
        """Parts, cost and whether the balance covers it, before a send, from the account's price and signature."""
        return self._estimate(recipients, text, account or self.account())

    # -- account management ------------------------------------------------------------------------
    def register(self, uid: str, pwd: str, *, company: str, contact: str, mobile: str, agent: str = "") -> None:
        """Register a new account (``RegineUser_``, or ``RegineUser`` when the WSDL only has that)."""
        call = self._register_call(uid, pwd, company=company, contact=contact, mobile=mobile, agent=agent)
        self.decoded(call, self._execute(call), decoding.decode_ack)

    def change_password(self, new: str) -> None:
        """Change this account's password (``EditUserPwd``); the client uses the new one afterwards."""
        with self._lock:
            call = self._password_call(new)
            self.decoded(call, self._execute(call), decoding.decode_ack)
            self.password_changed(new)

    # -- anything else -------------------------------------------------------------------------------
    def call(self, operation: str, /, **params: str) -> str | None:
        """Call any operation of the loaded WSDL with string parameters; ``uid``/``pwd`` are filled in.

        Returns the answer string (error codes raise). Operations not known to be reads are never
        retried after they may have reached the server.
        """
        return self._execute(self._any_call(operation, params))
