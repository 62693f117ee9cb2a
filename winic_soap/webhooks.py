"""Webhooks as the Standard Webhooks specification writes them (standardwebhooks.com): the sending side the
watcher runs (one queue and one thread per endpoint, :mod:`winic_soap.store.webhooks`), and :func:`sign` /
:func:`verify` for the applications that receive them.

Each stored record is POSTed as JSON with ``webhook-id`` (the record's id: the same on every attempt and
for every endpoint), ``webhook-timestamp`` (the attempt's, in Unix seconds) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` with the secret's bytes). A 2xx acknowledges;
anything else, a timeout or a refused connection is tried again on the endpoint's schedule, then the record
is dead for that endpoint alone. Delivery is at least once: a receiver drops repeats by ``webhook-id``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from winic_soap.config import Settings, new_secret, parse_secret
from winic_soap.exceptions import ConfigurationError, StoreError, WebhookVerificationError, WinicError
from winic_soap.redaction import url_for_log
from winic_soap.states import Released
from winic_soap.store import InboxRecord, Store
from winic_soap.store.owners import process_owner
from winic_soap.store.webhooks import WebhookQueue

__all__ = [
    "TOLERANCE",
    "WebhookDispatcher",
    "WebhookVerificationError",
    "body_of",
    "new_secret",
    "parse_secret",
    "sign",
    "verify",
]

logger = logging.getLogger("winic_soap.webhooks")
TOLERANCE = 300  # seconds a receiver accepts a timestamp away from its clock (the spec's five minutes)


def sign(msg_id: str, timestamp: int, body: bytes | str, secret: str | bytes) -> str:
    """The ``webhook-signature`` value for one message: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    data = body.encode() if isinstance(body, str) else body
    digest = hmac.new(parse_secret(secret), f"{msg_id}.{int(timestamp)}.".encode() + data, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str | bytes,
    *,
    tolerance: float = TOLERANCE,
    now: float | None = None,
) -> Any:
    """Check a received webhook and return its parsed JSON body. ``headers``: any mapping (names in any
    case); ``body``: the raw bytes as received. Raises :class:`WebhookVerificationError` for a missing
    header, a timestamp further than ``tolerance`` seconds from now (a replay), or no matching signature
    among those in the header (compared in constant time; several are allowed while a secret rotates)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (lowered.get(f"webhook-{n}", "") for n in ("id", "timestamp", "signature"))
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time in seconds") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance:g} s away from now (a replay?)")
    expected = sign(msg_id, timestamp, body, secret).encode()
    if not any(hmac.compare_digest(expected, given.encode()) for given in signatures.split()):
        raise WebhookVerificationError("no webhook-signature matches the body and the secret")
    return json.loads(body)


def body_of(record: InboxRecord) -> bytes:
    """What a record's webhook carries: ``{"type": "report.received" | "reply.received", "timestamp": when
    it was pulled, "data": the record as the watcher hands it on}``."""
    event = {"type": f"{record.kind}.received", "timestamp": record.pulled_at, "data": record.as_dict()}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class _Endpoint:
    """One endpoint: its queue, its HTTP client, its thread's wake-up, and the outcomes (record id: ``ack`` or
    ``release``) the store could not take yet, recorded first thing next round."""

    def __init__(self, dispatcher: WebhookDispatcher, url: str) -> None:
        from winic_soap.http.webhook import WebhookClient

        self.url, self.shown = url, url_for_log(url)
        self.queue = WebhookQueue(dispatcher.store, url, dispatcher.schedule)
        self.client = WebhookClient(dispatcher.settings, url)
        self.wake = threading.Event()
        self.unsettled: dict[str, str] = {}


class WebhookDispatcher:
    """Delivers stored records to each endpoint: a thread per endpoint, so a slow or dead one never holds
    up another or the watcher's pulls. Any number of dispatchers (processes, hosts) may share one store:
    claims with leases deliver each record to each endpoint once at a time. An endpoint new to the store gets
    the records not yet handed on when its first dispatcher is made, and every record stored after."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        urls: Sequence[str] | None = None,
        secret: str | None = None,
        schedule: Sequence[float] | None = None,
        owner: str | None = None,
        batch: int = 64,
        interval: float = 10.0,
        lease: float | None = None,
        on_failure: Callable[[str, Released], None] | None = None,
    ) -> None:
        if urls is not None:  # checked as the setting is
            settings = settings.with_(webhooks=tuple(urls))
        urls = list(settings.webhooks)
        if not urls:
            raise ConfigurationError("webhooks: name at least one endpoint URL")
        secret = settings.webhook_secret if secret is None else secret
        if not secret:
            raise ConfigurationError(
                "webhook_secret missing: set WINIC_WEBHOOK_SECRET or webhook_secret in the config file "
                "(never on the command line); winic_soap.webhooks.new_secret() makes one"
            )
        self._key = parse_secret(secret)
        self.store, self.settings = store, settings
        self.schedule = tuple(settings.webhook_retry_schedule if schedule is None else schedule)
        self.owner = owner or process_owner()
        self.batch, self.interval = batch, interval
        self.on_failure = on_failure  # (endpoint shown, "pending" or "dead") after each failed delivery: metrics
        # a claim outlives a batch of slow answers: each POST is cut at post_timeout (at most half the lease),
        # and the lease is renewed before any POST that could come within a quarter lease of outrunning it
        self.lease = lease if lease is not None else max(60.0, 4 * settings.timeout)
        if self.lease <= 0:
            raise ConfigurationError("lease must be a positive number of seconds")
        self.post_timeout = min(settings.timeout, self.lease / 2)
        self.endpoints = [_Endpoint(self, url) for url in dict.fromkeys(urls)]
        self._threads: list[threading.Thread] = []
        self._halt = threading.Event()  # set by join(): the threads end even if the caller's stop never is
        for endpoint in self.endpoints:  # an endpoint's queue starts now: what is not handed on, then all new
            endpoint.queue.enqueue()

    def __repr__(self) -> str:
        return f"WebhookDispatcher({[e.shown for e in self.endpoints]!r}, store={self.store.url!r})"

    # -- one pass -------------------------------------------------------------------------------
    def _stopped(self, stop: threading.Event | None) -> bool:
        return self._halt.is_set() or (stop is not None and stop.is_set())

    def deliver_due(self, endpoint: _Endpoint, stop: threading.Event | None = None) -> int:
        """Queue what is new for ``endpoint``, then try everything due now, once each (a failure waits its
        record's turn in the schedule); ends early when ``stop`` is set. Returns how many were acknowledged."""
        self._settle(endpoint)  # what an earlier round could not record (the store was down) comes first
        endpoint.queue.enqueue()
        delivered = 0
        while not self._stopped(stop):
            before = self.store.clock()  # the lease is counted from before the claim: never over-estimated
            claimed = endpoint.queue.claim(self.owner, limit=self.batch, lease=self.lease)
            if not claimed:
                return delivered
            delivered += self._post_claimed(endpoint, claimed, stop, before + self.lease)
        return delivered

    def _settle(self, endpoint: _Endpoint) -> None:
        """Record the outcomes waiting in ``endpoint.unsettled``; a store error leaves them there for the next
        round (meanwhile the lease still keeps the records from being sent twice at once)."""
        acked = [i for i, outcome in endpoint.unsettled.items() if outcome == "ack"]
        endpoint.queue.ack(acked)
        for record_id in acked:
            del endpoint.unsettled[record_id]
        released = list(endpoint.unsettled)
        endpoint.queue.release(released, self.owner)
        endpoint.unsettled.clear()

    def _post_claimed(
        self,
        endpoint: _Endpoint,
        claimed: list[tuple[InboxRecord, int]],
        stop: threading.Event | None,
        held_until: float,
    ) -> int:
        done: list[str] = []
        left = [record.id for record, _ in claimed]  # claimed, and no outcome yet: released on the way out
        try:
            for record, attempt in claimed:
                if self._stopped(stop):
                    break
                if held_until - self.store.clock() < self.post_timeout + self.lease / 4:
                    before = self.store.clock()
                    still = endpoint.queue.renew(left, self.owner, self.lease)
                    held_until = before + self.lease
                    if record.id not in still:  # taken over after our lease ran out: theirs now
                        left.remove(record.id)
                        continue
                body = body_of(record)
                stamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": record.id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(record.id, stamp, body, self._key),
                }
                status: int | None = None
                try:  # anything but our typed errors propagates: the record is released below
                    status = endpoint.client.post(body, headers, timeout=self.post_timeout)
                except WinicError as exc:
                    if self._stopped(stop):  # cut by our own stop: not the endpoint's failure
                        break
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    if 200 <= status < 300:
                        done.append(record.id)
                        left.remove(record.id)
                        continue
                    error = f"HTTP {status}"
                state = endpoint.queue.fail(record.id, self.owner, error, status)
                left.remove(record.id)
                if self.on_failure is not None:
                    self.on_failure(endpoint.shown, state)
                if state == "dead":
                    logger.error(
                        "webhook %s: record %s is dead after %d attempts (%s); inbox retry puts it back",
                        endpoint.shown,
                        record.id,
                        attempt,
                        error,
                    )
                else:
                    logger.warning(
                        "webhook %s: record %s attempt %d failed (%s)", endpoint.shown, record.id, attempt, error
                    )
        finally:  # what was acknowledged is noted; what has no outcome goes back uncounted
            endpoint.unsettled.update(dict.fromkeys(done, "ack"))
            endpoint.unsettled.update(dict.fromkeys(left, "release"))
            try:
                self._settle(endpoint)
            except StoreError as exc:  # kept for the next round; never hides the exception under way
                logger.warning(
                    "webhook %s: store failed (%s); %d outcome(s) kept for the next round",
                    endpoint.shown,
                    exc,
                    len(endpoint.unsettled),
                )
        if done:
            logger.info("webhook %s: delivered %d record(s)", endpoint.shown, len(done))
        return len(done)

    def deliver_once(self) -> int:
        """One pass for every endpoint, each in its own thread (``watch --once``); returns the acknowledged."""
        counts: list[int] = []

        def one(endpoint: _Endpoint) -> None:
            try:
                counts.append(self.deliver_due(endpoint))
            except StoreError as exc:
                logger.warning("webhook %s: store failed (%s)", endpoint.shown, exc)

        threads = [threading.Thread(target=one, args=(e,), name=f"webhook {e.shown}") for e in self.endpoints]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts)

    # -- the threads --------------------------------------------------------------------------------
    def start(self, stop: threading.Event) -> None:
        """Start one delivery thread per endpoint; they end soon after ``stop`` is set or :meth:`join` is called."""
        self._halt.clear()
        for endpoint in self.endpoints:
            thread = threading.Thread(
                target=self._run, args=(endpoint, stop), name=f"webhook {endpoint.shown}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New records were stored: deliver them now rather than at the next interval."""
        for endpoint in self.endpoints:
            endpoint.wake.set()

    def join(self) -> None:
        """Stop the threads and wait for them: the POST under way is cut (its connection shut down) and what
        was claimed without an answer goes back, uncounted, for a later round (same ``webhook-id``); then
        the HTTP clients are closed."""
        self._halt.set()
        self.wake()
        for endpoint in self.endpoints:
            endpoint.client.interrupt()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        for endpoint in self.endpoints:
            if endpoint.unsettled:
                with contextlib.suppress(StoreError):  # still down: the leases run out and return them
                    self._settle(endpoint)
            endpoint.client.close()

    def _run(self, endpoint: _Endpoint, stop: threading.Event) -> None:
        while not self._stopped(stop):
            wait = self.interval
            try:
                self.deliver_due(endpoint, stop)
                due = endpoint.queue.next_due()
                if due is not None:
                    wait = min(wait, max(due - self.store.clock(), 0.01))
            except StoreError as exc:
                logger.warning("webhook %s: store failed (%s); trying again in %g s", endpoint.shown, exc, wait)
            except Exception:  # a bug must not silently end the endpoint's deliveries
                logger.exception("webhook %s: delivery round failed", endpoint.shown)
            endpoint.wake.wait(wait)
            endpoint.wake.clear()
