"""The durable poller: pulls reports and replies on an interval, commits them to the store, then hands each
on; a record is acknowledged only after its handler returned. Any number of watchers may share one store:
one of them (the holder of the account's poller lease) pulls, all of them hand on what is stored."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Protocol

from winic_soap.exceptions import HandOffError, InputError, StoreError, WinicError
from winic_soap.models import DeliveryReport, Reply
from winic_soap.redaction import child_environment, records_for_log
from winic_soap.store import InboxRecord, Store
from winic_soap.store.owners import process_owner
from winic_soap.store.retention import parse_age
from winic_soap.store.spool import PulledAnswer

if TYPE_CHECKING:
    from winic_soap.webhooks import WebhookDispatcher

__all__ = [
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "OPERATIONS",
    "SOURCES",
    "ExecHandOff",
    "Watcher",
    "handoff_env",
]

logger = logging.getLogger("winic_soap.watcher")
MIN_INTERVAL, MAX_INTERVAL = 5.0, 30.0  # the service asks clients to poll every 5-30 s
SOURCES = ("reports", "replies", "replies_ext")
RETENTION_EVERY = 3600.0  # seconds between two purges of a watcher with a retention
OPERATIONS = {  # each source's pull operation
    "reports": "SMS_Reports",
    "replies": "GET_SMS_MO",
    "replies_ext": "GET_SMS_MO_Ext",
}
Handler = Callable[[InboxRecord], None]
BatchHandler = Callable[[Sequence[InboxRecord]], None]
_TICK = 0.1  # how often a running hand-off looks at its deadline and at the stop request
_TERM_GRACE = 2.0  # seconds a stopped hand-off gets between SIGTERM and SIGKILL
_SETPRIV = shutil.which("setpriv")


def handoff_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a hand-off command runs in: ours without the client's secrets, proxy URLs without
    their credentials (:func:`winic_soap.redaction.child_environment` says which)."""
    return child_environment(os.environ if environ is None else environ)


class ExecHandOff:
    """Hands records to an operator's command: JSON lines on its stdin (one record, or up to a batch), done
    when it exits 0. It runs in its own process group without the client's secrets (:func:`handoff_env`);
    one that outlives ``timeout`` seconds is killed (a failed hand-off), and one running when ``stop`` is
    set gets SIGTERM, then SIGKILL, so a stopping watcher never waits on it."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stop: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise InputError("--exec", "must name a command", list(argv))
        if timeout is not None and not timeout > 0:
            raise InputError("exec_timeout", "must be a positive number of seconds", timeout)
        self.argv = list(argv)
        # SIGKILL for the command when the watcher dies, even by SIGKILL (a hung hand-off must not outlive
        # it): util-linux's setpriv sets the parent-death signal and execs the command; without it, nothing
        self._launch = [_SETPRIV, "--pdeathsig", "KILL", "--", *self.argv] if _SETPRIV else self.argv
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.env = handoff_env(env)

    def __call__(self, records: Sequence[InboxRecord]) -> None:
        payload = "".join(record.as_json() + "\n" for record in records)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        # the operator's own command, split without a shell; its own group, so killing it ends its children
        with subprocess.Popen(  # noqa: S603
            self._launch, stdin=subprocess.PIPE, text=True, env=self.env, start_new_session=True
        ) as proc:
            # fed from a thread: a command that reads slowly (or never) must not keep us from the deadline
            feeder = threading.Thread(target=self._feed, args=(proc, payload), daemon=True)
            feeder.start()
            try:
                while True:
                    try:
                        proc.wait(timeout=_TICK)
                        break
                    except subprocess.TimeoutExpired:
                        if self.stop.is_set():
                            self._end(proc, signal.SIGTERM)
                            raise RuntimeError(f"{self.argv[0]} stopped: the watcher is stopping") from None
                        if deadline is not None and time.monotonic() > deadline:
                            self._end(proc, signal.SIGKILL)
                            raise RuntimeError(
                                f"{self.argv[0]} did not finish within {self.timeout:g} s (--exec-timeout); killed"
                            ) from None
            except BaseException:
                self._end(proc, signal.SIGKILL)
                raise
            finally:
                feeder.join(timeout=_TERM_GRACE)  # the command is gone: its stdin's read end too
        if proc.returncode != 0:
            raise RuntimeError(f"{self.argv[0]} exited {proc.returncode}")

    @staticmethod
    def _feed(proc: subprocess.Popen[str], payload: str) -> None:
        """Write the records to the command's stdin and close it; a command that exits without reading them
        all (a closed pipe) is judged by its exit status alone."""
        assert proc.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            try:
                proc.stdin.write(payload)
            finally:
                proc.stdin.close()

    @staticmethod
    def _end(proc: subprocess.Popen[str], first: signal.Signals) -> None:
        """End the command's process group: ``first``, then SIGKILL after a grace period."""
        if proc.returncode is not None:
            return
        for sig in (first, signal.SIGKILL) if first != signal.SIGKILL else (signal.SIGKILL,):
            with contextlib.suppress(ProcessLookupError):  # the group is gone already
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=_TERM_GRACE)
                return
            except subprocess.TimeoutExpired:
                continue


class _Puller(Protocol):
    def reports(self) -> list[DeliveryReport]: ...
    def replies(self, port: str | None = None) -> list[Reply]: ...
    def replies_ext(self) -> list[Reply]: ...


class Watcher:
    """Poll, store, hand on. ``handler`` raising leaves the record pending; it is handed on again after
    ``interval`` seconds, and goes to the dead letters after the store's ``max_handoffs``.

    ``lease`` (seconds) bounds both the poller lease of the account and each claim of records: a stand-by
    takes over pulling within one lease after the puller died, and a hand-off should finish within it.
    ``claim_size`` records are leased at a time; each claim counts as a hand-off attempt (towards the dead
    letters) for every record in it, so more than 1 suits only fast hand-offs and rare crashes.
    ``batch_handler``, given instead of a per-record ``handler``, gets each claim whole (up to ``claim_size``
    records) and acknowledges them all by returning; raising fails them all.
    ``retention`` (an age like ``30d``, or seconds; None or ``off`` keeps everything): once a round and then
    every hour, :meth:`Store.purge` what was handed on (and jobs finished) longer ago than that.
    ``webhooks``: a :class:`~winic_soap.webhooks.WebhookDispatcher` delivering every stored record to its
    endpoints, in threads of its own beside the rounds (so no endpoint holds up the pulls).
    """

    def __init__(
        self,
        client: _Puller,
        store: Store,
        handler: Handler | None = None,
        *,
        interval: float = 10.0,
        sources: Sequence[str] = SOURCES,
        port: str | None = None,
        max_backoff: float = 300.0,
        jitter: Callable[[float], float] = lambda limit: random.uniform(0, limit),
        lease: float | None = None,
        owner: str | None = None,
        claim_size: int = 1,
        batch_handler: BatchHandler | None = None,
        retention: float | str | None = None,
        webhooks: WebhookDispatcher | None = None,
    ) -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise InputError(
                "interval",
                f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds (the service's polling rule)",
                interval,
            )
        if (handler is None) == (batch_handler is None):
            raise InputError("handler", "give exactly one of handler and batch_handler", None)
        if claim_size < 1:
            raise InputError("claim_size", "must be at least 1", claim_size)
        unknown = set(sources) - set(SOURCES)
        if unknown or not sources:
            raise InputError("sources", f"must be some of {', '.join(SOURCES)}", sorted(unknown))
        settings = getattr(client, "settings", None)
        deadline = float(getattr(settings, "deadline", 60.0))
        # a pull must end inside the lease that allowed it, or two watchers could pull at once
        self.lease = lease if lease is not None else max(3 * interval, deadline + interval)
        if self.lease <= interval:
            raise InputError("lease", f"must be longer than the interval ({interval:g} s)", self.lease)
        self.endpoint = str(getattr(settings, "endpoint", ""))
        self.uid = str(getattr(settings, "uid", ""))
        self.client, self.store, self.handler = client, store, handler
        self.interval, self.sources, self.port = interval, tuple(sources), port
        self.max_backoff = max_backoff
        self.owner = owner or process_owner()
        self.claim_size = claim_size
        self.batch_handler = batch_handler
        self._stop = threading.Event()  # set by run()'s caller: nothing new is pulled or handed on
        self._jitter = jitter
        self.retention = None if retention is None else parse_age(retention, "retention")
        self._purged_at: float | None = None
        self.webhooks = webhooks
        self.failures = 0
        self.holding = False
        self._unstored: list[tuple[PulledAnswer, Sequence[Reply | DeliveryReport]]] = []

    def _pull_and_store(self, source: str) -> int:
        """Pull one source and store what came. With a client that streams (``pull_into``) the answer goes
        to a file in the spool's folder as it arrives, so no backlog is too large; a large one is spooled and
        committed as it is decoded. A small one (a list) is spooled and committed whole, kept in memory if
        even the spool cannot be written."""
        operation = OPERATIONS[source]
        port = self.port if source == "replies" else None
        pull_into = getattr(self.client, "pull_into", None)
        with ExitStack() as stack:
            if pull_into is not None:
                body = stack.enter_context(self.store.spool.incoming())
                records = pull_into(operation, body, port=port)
            else:  # any object with the list methods (reports, replies, replies_ext)
                records = self._pull_list(source)
            if not isinstance(records, list):
                try:
                    path, count = self.store.spool_stream(operation, records, endpoint=self.endpoint, uid=self.uid)
                except StoreError as exc:  # the spool's disk refused it: memory is what is left
                    logger.error("%s: %s; its records are read into memory", operation, exc)
                    records = list(records)
                else:
                    try:
                        self.store.commit_spooled(path)
                    except StoreError as exc:
                        logger.error(
                            "%s: %d pulled record(s) not stored yet (%s); kept in the spool %s, retried with "
                            "backoff, nothing new is pulled meanwhile",
                            operation,
                            count,
                            exc,
                            path,
                        )
                        raise
                    logger.info("%s: stored %d record(s)", operation, count)
                    return count
        if not records:
            return 0
        # the service will not hand these out again: their ids are made once, here
        answer = self.store.prepare_pulled(operation, records, endpoint=self.endpoint, uid=self.uid)
        self._unstored.append((answer, records))
        return self._commit_unstored()

    def _pull_list(self, source: str) -> list[Reply] | list[DeliveryReport]:
        if source == "reports":
            return self.client.reports()
        if source == "replies":
            return self.client.replies(port=self.port)
        return self.client.replies_ext()

    @property
    def unstored(self) -> list[Reply | DeliveryReport]:
        """Pulled records neither in the store nor in the spool (only when even the spool cannot be
        written): a caller about to exit must show them somewhere."""
        return [record for _, records in self._unstored for record in records]

    def _commit_unstored(self) -> int:
        """Keep what was pulled and not yet stored, oldest first (spooled, then committed). On a store failure
        an answer stays in the spool (or, if even the spool could not be written, in memory) and is retried."""
        stored = 0
        while self._unstored:
            answer, records = self._unstored[0]
            try:
                self.store.keep(answer)
            except StoreError as exc:
                spooled = self.store.spool.holds(answer)
                if spooled:  # the spool replays it, in this process or the next one
                    self._unstored.pop(0)
                logger.error(
                    "%s: %d pulled record(s) not stored yet (%s); kept %s, retried with backoff, "
                    "nothing new is pulled meanwhile: %s",
                    answer.operation,
                    len(records),
                    exc,
                    f"in the spool {self.store.spool.path_of(answer)}" if spooled else "in memory",
                    records_for_log(records),
                )
                raise
            self._unstored.pop(0)
            stored += len(records)
            logger.info("%s: stored %d record(s)", answer.operation, len(records))
        return stored

    def hold(self) -> bool:
        """Take or renew this account's poller lease; False while another watcher holds it."""
        held = self.store.hold_poller(self.endpoint, self.uid, self.owner, self.lease)
        if held != self.holding:
            logger.info("%s the poller lease for %s", "took" if held else "stand-by: another watcher holds", self.uid)
        self.holding = held
        return held

    def pull_once(self) -> int:
        """Store anything still unstored (in memory, then in the spool); then, holding the poller lease, pull
        every source once and store what came. Returns how many records were stored."""
        stored = self._commit_unstored() + self.store.replay_spool()
        for source in self.sources:
            if self._stop.is_set() or not self.hold():  # renewed before each pull, so each pull ends inside its lease
                break
            stored += self._pull_and_store(source)
        return stored

    def deliver_pending(self) -> int:
        """Claim stored records and hand each on; a failure releases the record for a later round and the
        records behind it flow on. Raises :class:`HandOffError` for the first failure, after the round."""
        delivered, failure = self._deliver()
        if failure is not None:
            raise failure
        return delivered

    def _deliver(self) -> tuple[int, HandOffError | None]:
        delivered = 0
        failure: HandOffError | None = None
        while not self._stop.is_set() and (
            records := self.store.claim(self.owner, limit=self.claim_size, lease=self.lease)
        ):
            if self.batch_handler is not None:
                try:
                    self.batch_handler(records)
                except Exception as exc:
                    for record in records:
                        error = self._failed(record, exc)
                        failure = failure or error
                    continue
                self._acked(records)
                delivered += len(records)
                continue
            for record in records:
                if self._stop.is_set():  # the rest of the claim goes back at once, for the next watcher
                    self._release(record)
                    continue
                try:
                    self.handler(record)  # type: ignore[misc]  # set whenever batch_handler is not
                except Exception as exc:
                    error = self._failed(record, exc)
                    failure = failure or error
                    continue
                self._acked([record])
                delivered += 1
        return delivered, failure

    def _acked(self, records: Sequence[InboxRecord]) -> None:
        """Acknowledge handed-on records in one store call; warn about any whose lease ran out meanwhile."""
        if self.store.ack_many([r.id for r in records]) < len(records):
            logger.warning(
                "%d record(s) were handed on after their lease ran out: another consumer may hand them on too "
                "(make the handler faster or the lease longer)",
                len(records),
            )

    def _release(self, record: InboxRecord) -> None:
        self.store.fail(record.id, "not handed on: the watcher stopped", owner=self.owner, counted=False)

    def _failed(self, record: InboxRecord, exc: Exception) -> HandOffError:
        """Note a failed hand-off: pending again after one interval, or dead. One the watcher's stop cut
        short is pending again at once and does not count towards the dead letters."""
        stopping = self._stop.is_set()
        state = self.store.fail(
            record.id,
            f"{type(exc).__name__}: {exc}",
            retry_after=0.0 if stopping else self.interval,
            owner=self.owner,
            counted=not stopping,
        )
        if state == "dead":
            logger.error("record %s moved to the dead letters after %d hand-offs (%s)", record.id, record.attempts, exc)
        else:
            logger.warning("handing on record %s failed (%s); it stays pending", record.id, exc)
        return HandOffError(record.id, exc)

    def poll_once(self) -> tuple[int, int]:
        """Hand on leftovers, pull (when holding the poller lease), hand on the new: (stored, delivered).
        A failed hand-off does not hold the pull back; its :class:`HandOffError` is raised at the end."""
        before, failure = self._deliver()
        stored = self.pull_once()
        after, later = self._deliver()
        failure = failure or later
        if failure is not None:
            raise failure
        return stored, before + after

    def next_wait(self) -> float:
        """The interval while pulling; a quarter lease at most on stand-by (to take over in time); a jittered
        exponential backoff after consecutive failures."""
        if not self.failures:
            return self.interval if self.holding else min(self.interval, self.lease / 4)
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 10))
        return float(ceiling / 2 + self._jitter(ceiling / 2))

    def release(self) -> None:
        """Give the poller lease up (a clean stop), so a stand-by takes over at once."""
        if self.holding:
            try:
                self.store.release_poller(self.endpoint, self.uid, self.owner)
            except StoreError as exc:
                logger.warning("could not release the poller lease: %s", exc)
            self.holding = False

    def apply_retention(self) -> dict[str, int] | None:
        """Purge by the retention, at most once an hour; a store failure is logged, and tried again next round."""
        now = time.monotonic()
        if self.retention is None or (self._purged_at is not None and now - self._purged_at < RETENTION_EVERY):
            return None
        try:
            purged = self.store.purge(self.retention)
        except StoreError as exc:
            logger.warning("retention: purge failed (%s); tried again next round", exc)
            return None
        self._purged_at = now
        if any(purged.values()):
            logger.info("retention: deleted %(records)d handed-on record(s), blanked %(jobs)d job text(s)", purged)
        return purged

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll until ``stop`` is set (or one round with ``once``); the poller lease is released at the end.
        Once ``stop`` is set nothing new is pulled or claimed: the round in progress ends after its current
        hand-off (an :class:`ExecHandOff` sharing ``stop`` is ended at once). Webhooks are delivered by their
        own threads meanwhile (with ``once``: one pass after the round)."""
        self._stop = stop
        if self.webhooks is not None and not once:
            self.webhooks.start(stop)
        try:
            while not stop.is_set():
                try:
                    self.poll_once()
                    self.failures = 0
                except HandOffError as exc:  # the record waits its turn; polling goes on at its pace
                    self.failures = 0
                    logger.warning("%s", exc)
                    if once:
                        raise
                except (WinicError, OSError) as exc:
                    self.failures += 1
                    logger.warning("poll failed (%s: %s); backing off", type(exc).__name__, exc)
                    if once:
                        raise
                self.apply_retention()
                if self.webhooks is not None:
                    if once:
                        self.webhooks.deliver_once()
                    self.webhooks.wake()
                if once:
                    return
                stop.wait(self.next_wait())
        finally:
            self.release()
            if self.webhooks is not None:
                self.webhooks.join()
