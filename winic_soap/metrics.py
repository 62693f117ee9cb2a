"""Prometheus metrics (``pip install winic-soap[metrics]``; the only module that imports prometheus-client,
loaded only when metrics are asked for): ``winic-soap watch --metrics-port N`` serves them on ``/metrics``,
and a library user adds the same collectors with ``hooks=[metrics.hook]`` and :meth:`Metrics.watch_store`.

From the client's call events (:mod:`winic_soap.events`, one per attempt): ``winic_send_attempts_total``
(operation, outcome), ``winic_pulls_total`` (operation, outcome) and ``winic_pull_duration_seconds``. From
the store, read at each scrape: ``winic_reports_total`` (category of :mod:`winic_soap.categories`, raw
status) and ``winic_report_latency_seconds`` (send start to the report's arrival in the store) for distinct
reports stored since the collector started (any watcher's on that store: with several watchers on one
store take the ``max``, not the ``sum``), ``winic_dead_letters``, ``winic_inbox_records`` (state),
``winic_webhook_deliveries`` (state), ``winic_spool_answers`` (pulled answers waiting in the spool) and
``winic_store_up``. Counted by the watch command: ``winic_handoff_failures_total`` and
``winic_webhook_failures_total`` (endpoint without credentials, ``retry`` or ``dead``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from winic_soap.categories import Categories
from winic_soap.core.contract import PULLS
from winic_soap.exceptions import StoreError
from winic_soap.states import RECORD_STATES, Released
from winic_soap.store.stats import last_seq, reports_after

if TYPE_CHECKING:
    from winic_soap.events import CallEvent
    from winic_soap.store import Store

__all__ = ["LATENCY_BUCKETS", "Metrics", "serve"]

logger = logging.getLogger("winic_soap.metrics")

#: report latency buckets, seconds: operators report within seconds to hours
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)


class Metrics:
    """The collectors, registered in ``registry`` (default: prometheus-client's global one)."""

    def __init__(self, registry: CollectorRegistry | None = None, categories: Categories | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        self.categories = categories or Categories()
        self.sends = Counter(
            "winic_send_attempts", "Send attempts by outcome", ["operation", "outcome"], registry=self.registry
        )
        self.pulls = Counter("winic_pulls", "Pulls by outcome", ["operation", "outcome"], registry=self.registry)
        self.pull_duration = Histogram(
            "winic_pull_duration_seconds", "Time one pull attempt took", ["operation"], registry=self.registry
        )
        self.handoff_failures = Counter(
            "winic_handoff_failures", "Stored records whose hand-off failed (each attempt)", registry=self.registry
        )
        self.webhook_failures = Counter(
            "winic_webhook_failures", "Failed webhook deliveries", ["endpoint", "result"], registry=self.registry
        )

    @classmethod
    def private(cls, categories: Categories | None = None) -> Metrics:
        """Collectors in a registry of their own (not prometheus-client's global one): a process's server."""
        return cls(CollectorRegistry(), categories)

    def hook(self, event: CallEvent) -> None:
        """For ``hooks=[...]`` of a client: counts each attempt (sends, pulls and their duration)."""
        if event.operation in PULLS:
            self.pulls.labels(event.operation, event.outcome).inc()
            self.pull_duration.labels(event.operation).observe(event.duration)
        elif event.operation.startswith("Send"):
            self.sends.labels(event.operation, event.outcome).inc()

    def handoff_failed(self, count: int = 1) -> None:
        self.handoff_failures.inc(count)

    def webhook_failed(self, endpoint: str, state: Released) -> None:
        """A failed delivery to ``endpoint`` (shown without credentials); ``state`` is ``dead`` after the last."""
        self.webhook_failures.labels(endpoint, "dead" if state == "dead" else "retry").inc()

    def watch_store(self, store: Store) -> StoreCollector:
        """Read reports, dead letters, webhook queues and the spool from ``store`` at each scrape."""
        collector = StoreCollector(store, self.categories)
        self.registry.register(collector)
        return collector


class StoreCollector(Collector):
    """What the store holds, read at each scrape in a few grouped queries. Reports are counted from the
    inbox's sequence at start-up onwards (a forward-only cursor, so the counters never go back; repeats of a
    report are not counted); a store failure leaves the last figures and sets ``winic_store_up`` to 0."""

    def __init__(self, store: Store, categories: Categories) -> None:
        self.store, self.categories = store, categories
        self._lock = threading.Lock()
        self._reports: dict[tuple[str, str], int] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._cursor = self._start()

    def _start(self) -> int:
        try:
            with self.store._transaction(single=True) as tx:
                return last_seq(tx)
        except StoreError as exc:  # counted from the first scrape the store answers
            logger.warning("metrics: store not readable at start (%s)", exc)
            return -1

    def _read(self) -> dict[str, Any]:
        with self.store._transaction(single=True) as tx:
            if self._cursor < 0:
                self._cursor = last_seq(tx)
            seen = reports_after(tx, self._cursor, LATENCY_BUCKETS)
        self._cursor = seen.until
        for status, count in seen.statuses:
            key = (self.categories.of_status(status), status)
            self._reports[key] = self._reports.get(key, 0) + count
        for bucket, count, total in seen.latency:
            self._buckets[bucket] += count
            self._latency_sum += total
        return {"states": seen.inbox, "webhooks": seen.webhooks, "spool": len(self.store.spool)}

    def collect(self) -> Iterator[Any]:
        with self._lock:
            try:
                now: dict[str, Any] | None = self._read()
            except (StoreError, OSError) as exc:
                logger.warning("metrics: store not readable (%s)", exc)
                now = None
            up = GaugeMetricFamily("winic_store_up", "1 when the last scrape could read the store")
            up.add_metric([], 0 if now is None else 1)
            yield up
            reports = CounterMetricFamily(
                "winic_reports", "Distinct delivery reports stored, by category", labels=["category", "status"]
            )
            for (category, status), count in sorted(self._reports.items()):
                reports.add_metric([category, status], count)
            yield reports
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), self._buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            yield HistogramMetricFamily(
                "winic_report_latency_seconds",
                "From the send's start to its report's arrival in the store",
                buckets=buckets,
                sum_value=self._latency_sum,
            )
            if now is None:
                return
            dead = GaugeMetricFamily("winic_dead_letters", "Stored records that failed every hand-off")
            dead.add_metric([], int(now["states"].get("dead", 0)))
            yield dead
            inbox = GaugeMetricFamily("winic_inbox_records", "Stored records by state", labels=["state"])
            for state in RECORD_STATES:
                inbox.add_metric([state], int(now["states"].get(state, 0)))
            yield inbox
            queued = GaugeMetricFamily("winic_webhook_deliveries", "Webhook deliveries by state", labels=["state"])
            for state in ("pending", "done", "dead"):
                queued.add_metric([state], int(now["webhooks"].get(state, 0)))
            yield queued
            spool = GaugeMetricFamily("winic_spool_answers", "Pulled answers waiting in the spool for the store")
            spool.add_metric([], now["spool"])
            yield spool


def serve(metrics: Metrics, port: int, host: str = "127.0.0.1") -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` of ``metrics.registry`` on ``host:port`` in a daemon thread; returns the server
    (``server.shutdown()`` stops it) and its thread."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server, thread
