"""The durable poller: pulls reports and replies on an interval, commits them to the :class:`Inbox`,
then hands each on; a record is acknowledged only after its handler returned."""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from winic_soap.exceptions import InputError, WinicError
from winic_soap.inbox import Inbox, InboxRecord
from winic_soap.models import DeliveryReport, Reply

__all__ = ["MAX_INTERVAL", "MIN_INTERVAL", "SOURCES", "HandOffError", "Watcher"]

logger = logging.getLogger("winic_soap.watcher")
MIN_INTERVAL, MAX_INTERVAL = 5.0, 30.0  # the service asks clients to poll every 5-30 s
SOURCES = ("reports", "replies", "replies_ext")
Handler = Callable[[InboxRecord], None]


class HandOffError(WinicError):
    """Raised when a handler failed on a record; the record stays pending and is handed on again later."""

    def __init__(self, record_id: int, cause: BaseException) -> None:
        self.record_id = record_id
        super().__init__(f"handing on record {record_id} failed: {type(cause).__name__}: {cause}")


class _Puller(Protocol):
    def reports(self) -> list[DeliveryReport]: ...
    def replies(self, port: str | None = None) -> list[Reply]: ...
    def replies_ext(self) -> list[Reply]: ...


class Watcher:
    """Poll, store, hand on. ``handler`` raising leaves the record pending for the next round."""

    def __init__(
        self,
        client: _Puller,
        inbox: Inbox,
        handler: Handler,
        *,
        interval: float = 10.0,
        sources: Sequence[str] = SOURCES,
        port: str | None = None,
        max_backoff: float = 300.0,
        jitter: Callable[[float], float] = lambda limit: random.uniform(0, limit),
    ) -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise InputError(
                "interval",
                f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds (the service's polling rule)",
                interval,
            )
        unknown = set(sources) - set(SOURCES)
        if unknown or not sources:
            raise InputError("sources", f"must be some of {', '.join(SOURCES)}", sorted(unknown))
        self.client, self.inbox, self.handler = client, inbox, handler
        self.interval, self.sources, self.port = interval, tuple(sources), port
        self.max_backoff = max_backoff
        self._jitter = jitter
        self.failures = 0

    def _pull(self, source: str) -> tuple[str, list[Reply] | list[DeliveryReport]]:
        if source == "reports":
            return "SMS_Reports", self.client.reports()
        if source == "replies":
            return "GET_SMS_MO", self.client.replies(port=self.port)
        return "GET_SMS_MO_Ext", self.client.replies_ext()

    def pull_once(self) -> int:
        """Pull every source once and commit what came; returns how many records were stored."""
        stored = 0
        for source in self.sources:
            operation, records = self._pull(source)
            if records:
                try:
                    self.inbox.store(operation, records)  # committed before anything is handed on
                except sqlite3.Error:
                    # the service will not hand these out again: put them in the log before failing
                    logger.critical(
                        "%s: %d pulled record(s) could not be stored: %s",
                        operation,
                        len(records),
                        " | ".join(r.raw for r in records),
                    )
                    raise
                stored += len(records)
                logger.info("%s: stored %d record(s)", operation, len(records))
        return stored

    def deliver_pending(self) -> int:
        """Hand on pending records, oldest first; stop at the first handler failure (order is kept)."""
        delivered = 0
        for record in self.inbox.pending():
            try:
                self.handler(record)
            except Exception as exc:
                self.inbox.failed(record.id, f"{type(exc).__name__}: {exc}")
                logger.warning("handing on record %d failed (%s); it stays pending", record.id, exc)
                raise HandOffError(record.id, exc) from exc
            self.inbox.ack(record.id)
            delivered += 1
        return delivered

    def poll_once(self) -> tuple[int, int]:
        """Hand on leftovers, pull, hand on the new: (stored, delivered)."""
        delivered = self.deliver_pending()
        stored = self.pull_once()
        return stored, delivered + self.deliver_pending()

    def next_wait(self) -> float:
        """The normal interval, or a jittered exponential backoff after consecutive failures."""
        if not self.failures:
            return self.interval
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 10))
        return float(ceiling / 2 + self._jitter(ceiling / 2))

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll until ``stop`` is set (or one round with ``once``)."""
        while not stop.is_set():
            try:
                self.poll_once()
                self.failures = 0
            except (WinicError, OSError) as exc:
                self.failures += 1
                logger.warning("poll failed (%s: %s); backing off", type(exc).__name__, exc)
                if once:
                    raise
            if once:
                return
            stop.wait(self.next_wait())
