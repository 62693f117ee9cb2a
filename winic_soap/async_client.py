"""The async shell: :class:`AsyncWinicClient`, the same methods, arguments, results and errors as
:class:`~winic_soap.client.WinicClient`, as coroutines on ``httpx2.AsyncClient``; bulk sends run
``concurrency`` requests at once as tasks. Every decision is shared with the sync client in ``_base.py``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from winic_soap import decoding
from winic_soap._base import BaseClient, Call, Decode, SendPlan, T, _service_now
from winic_soap.bulk import PlanBatches, run_tasks
from winic_soap.config import Settings
from winic_soap.events import Hook
from winic_soap.exceptions import ConfigurationError, WinicError
from winic_soap.http.wires import AsyncWire
from winic_soap.models import AccountInfo, CostEstimate, DeliveryReport, Reply, SendReceipt, Submission
from winic_soap.retry import RetryPolicy

if TYPE_CHECKING:
    import asyncio
    import ssl

    from winic_soap.http.wires import AsyncHttpClient
    from winic_soap.store.base import Store

__all__ = ["AsyncWinicClient"]


class AsyncWinicClient(BaseClient):
    """An asyncio client for the winic SMS service; share one per event loop and close it when done.

    >>> async with AsyncWinicClient("uid", "pwd", endpoint=mock.url) as client:  # doctest: +SKIP
    ...     (await client.send(["13800138000"], "验证码 123456")).message_id

    ``http_client``: an ``httpx2.AsyncClient`` configured your way; it stays yours to close. A live
    ``wsdl=`` URL is fetched on first use, through the same client.
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
        http_client: AsyncHttpClient | None = None,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], datetime] = _service_now,
        verify: bool | str | ssl.SSLContext | None = None,
        store: Store | str | None = None,
        **options: Any,
    ) -> None:
        """Arguments win over ``settings``; ``options`` are any other :class:`Settings` fields; ``store``:
        sends leave out the numbers on its suppression list (see :class:`~winic_soap.WinicClient`)."""
        super().__init__(
            uid, pwd, endpoint=endpoint, transport=transport, settings=settings, retry=retry, hooks=hooks,
            clock=clock, verify=verify, store=store, options=options,
        )  # fmt: skip
        self._wire = AsyncWire(self._settings, http_client=http_client, verify=self._tls_context)
        self._loading: asyncio.Lock | None = None
        self._changing: asyncio.Lock | None = None

    @classmethod
    def from_env(
        cls, *, config: str | Path | None = None, profile: str | None = None, **overrides: Any
    ) -> AsyncWinicClient:
        """Settings from ``overrides`` > ``WINIC_*`` environment > the TOML config file."""
        extra = {k: overrides.pop(k) for k in ("retry", "http_client", "hooks", "clock") if k in overrides}
        return cls(settings=Settings.load(config=config, profile=profile, **overrides), **extra)

    async def fetch_wsdl(self, url: str | None = None) -> bytes:
        """The live WSDL (``ENDPOINT?WSDL`` by default), through this client's HTTP client and proxy."""
        return await self._wire.fetch(url or f"{self._settings.endpoint}?WSDL")

    async def aclose(self) -> None:
        """Release pooled connections (a given ``http_client`` stays open)."""
        await self._wire.aclose()

    async def __aenter__(self) -> AsyncWinicClient:
        await self._ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _ready(self) -> None:
        """Load a custom WSDL once (the packaged one is ready at construction); remote ones through our client."""
        if self._contract is not None:
            return
        if self._loading is None:
            import asyncio  # here, not at the top: a sync-only program never imports asyncio (cold start)

            self._loading = asyncio.Lock()
        async with self._loading:
            if self._contract is None:
                location = self._settings.wsdl or ""
                fetched: dict[str, bytes] = {}
                if location.startswith(("http://", "https://")):
                    fetched[location] = await self._wire.fetch(location)

                def fetch(url: str) -> bytes:
                    if url not in fetched:
                        raise ConfigurationError(f"the WSDL refers to another document ({url}); not fetched")
                    return fetched[url]

                self._contract = self._load_contract(fetch)

    # -- the one place bytes move ------------------------------------------------------------------
    async def _execute(self, call: Call, decode: Decode[T], *, into: BinaryIO | None = None) -> T:
        """One call under the retry policy; each attempt sends, reads and decodes (see ``WinicClient``)."""
        attempts = self._attempts(call)
        count = 0

        async def attempt() -> T:
            nonlocal count
            count += 1
            began = time.monotonic()
            try:
                if into is None:
                    response = await self._wire.send(self._request(call), timeout=attempts.time_left())
                else:
                    into.seek(0)
                    into.truncate()
                    response = await self._wire.send(self._request(call), timeout=attempts.time_left(), into=into)
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

        return await attempts.run_async(attempt)

    # -- sends ---------------------------------------------------------------------------------------
    async def send(
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
        """Send ``text`` to mainland China mobiles; see :meth:`WinicClient.send`."""
        await self._ready()
        plan = self._plan_domestic(recipients, text, at=at, ext=ext, concurrency=concurrency, skip_invalid=skip_invalid)
        return await self._run(await self._ascreen(plan, ignore_suppression), on_progress)

    async def send_international(
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
        """Send to international numbers; see :meth:`WinicClient.send_international`."""
        await self._ready()
        plan = self._plan_international(recipients, text, at=at, concurrency=concurrency, skip_invalid=skip_invalid)
        return await self._run(await self._ascreen(plan, ignore_suppression), on_progress)

    async def _ascreen(self, plan: SendPlan, ignore_suppression: bool) -> SendPlan:
        """:meth:`_screen` off the event loop when there is a store to ask (its calls block)."""
        if self._store is None or ignore_suppression is True:
            return self._screen(plan, ignore_suppression)
        import asyncio

        return await asyncio.to_thread(self._screen, plan, ignore_suppression)

    async def send_batch(self, plan: SendPlan, numbers: Sequence[str]) -> Submission:
        """Send one batch of ``plan`` exactly as planned; see :meth:`WinicClient.send_batch`."""
        call = self._batch_call(plan, numbers)
        return self._submission(call, await self._execute(call, decoding.decode_message_id))

    async def _run(self, plan: SendPlan, on_progress: Callable[[int, int], None] | None) -> SendReceipt:
        run, batches = self._bulk(plan, len(plan.batches), on_progress), PlanBatches(plan.batches)
        await run_tasks(run, batches, partial(self.send_batch, plan), plan.concurrency)
        return self.receipt_of(plan, run.outcome(batches.unsent()))

    # -- pulls and account ---------------------------------------------------------------------------
    async def replies(self, port: str | None = None) -> list[Reply]:
        """Pull replies (``GET_SMS_MO``), only those to ``port`` when given. Each is handed out once."""
        await self._ready()
        return await self._execute(self._pull_call("GET_SMS_MO", port), decoding.decode_replies)

    async def replies_ext(self) -> list[Reply]:
        """Pull replies with extension ports (``GET_SMS_MO_Ext``). Each is handed out once."""
        await self._ready()
        return await self._execute(self._pull_call("GET_SMS_MO_Ext"), decoding.decode_replies)

    async def reports(self) -> list[DeliveryReport]:
        """Pull delivery reports (``SMS_Reports``). Each is handed out once."""
        await self._ready()
        return await self._execute(self._pull_call("SMS_Reports"), decoding.decode_reports)

    async def pull_into(
        self, operation: str, into: BinaryIO, *, port: str | None = None
    ) -> list[Reply | DeliveryReport] | Iterable[Reply | DeliveryReport]:
        """:meth:`WinicClient.pull_into <winic_soap.WinicClient.pull_into>`: the answer streamed into ``into``,
        never refused for its size; a large one is decoded from that file as it is iterated (blocking file
        reads: iterate it in a worker thread, e.g. ``anyio.to_thread``, to keep the event loop free)."""
        await self._ready()
        call = self._pull_call(operation, port)
        records: list[Reply | DeliveryReport] | None = await self._execute(
            call, self._pull_decoder(operation), into=into
        )
        return records if records is not None else self._records_in(call, into)

    async def account(self, *, personal: bool = False) -> AccountInfo:
        """Balance, price, signature... (``GetUserInfo``; ``GetUserInfo_`` with ``personal=True``)."""
        await self._ready()
        return await self._execute(self._account_call(personal), decoding.decode_account)

    async def estimate(
        self, recipients: int | Iterable[str], text: str, *, account: AccountInfo | None = None,
        international: bool = False,
    ) -> CostEstimate:  # fmt: skip
        """Parts, cost and whether the balance covers it, before a send (``international``: as carriers count)."""
        info = account or await self.account()
        return self._estimate(recipients, text, info, international=international)

    # -- account management ------------------------------------------------------------------------
    async def register(self, uid: str, pwd: str, *, company: str, contact: str, mobile: str, agent: str = "") -> None:
        """Register a new account (``RegineUser_``, or ``RegineUser`` when the WSDL only has that)."""
        await self._ready()
        call = self._register_call(uid, pwd, company=company, contact=contact, mobile=mobile, agent=agent)
        await self._execute(call, decoding.decode_ack)

    async def change_password(self, new: str) -> None:
        """Change this account's password (``EditUserPwd``); the client uses the new one afterwards.
        One change at a time, as on the sync client."""
        await self._ready()
        async with self._password_lock():
            await self._execute(self._password_call(new), decoding.decode_ack)
            self._password_changed(new)

    def _password_lock(self) -> asyncio.Lock:
        if self._changing is None:
            import asyncio

            self._changing = asyncio.Lock()
        return self._changing

    # -- anything else -------------------------------------------------------------------------------
    async def call(self, operation: str, /, **params: str) -> str | None:
        """Call any operation of the loaded WSDL with string parameters; ``uid``/``pwd`` are filled in."""
        await self._ready()
        return await self._execute(self._any_call(operation, params), decoding.check)
