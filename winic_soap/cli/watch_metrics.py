"""``winic-soap watch --metrics-port N``: the watcher's Prometheus metrics (:mod:`winic_soap.metrics`) served
on ``/metrics`` while it runs, counted from the client's events, the hand-offs, the webhook deliveries and
the store."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from winic_soap.categories import Categories
from winic_soap.config import Settings
from winic_soap.exceptions import ConfigurationError, InputError

if TYPE_CHECKING:
    from winic_soap.events import Hook
    from winic_soap.metrics import Metrics
    from winic_soap.states import Released
    from winic_soap.store import Store

__all__ = ["WatchMetrics"]

T = TypeVar("T")


class WatchMetrics:
    """The metrics of one ``watch`` process, in a registry of their own, and the server that shows them."""

    def __init__(self, metrics: Metrics, port: int, host: str) -> None:
        self.metrics, self.port, self.host = metrics, port, host
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, args: argparse.Namespace) -> WatchMetrics:
        """From ``--metrics-port``/``--metrics-host``; a typed error before anything starts when the port is
        out of range or prometheus-client is missing."""
        if not 0 <= args.metrics_port <= 65535:
            raise InputError("--metrics-port", "must be a TCP port, 0-65535 (0: any free one)", args.metrics_port)
        try:
            from winic_soap.metrics import Metrics
        except ImportError:
            raise ConfigurationError(
                "--metrics-port needs prometheus-client: pip install 'winic-soap[metrics]'"
            ) from None
        settings = Settings.load(config=args.config, profile=args.profile)
        categories = Categories.of(settings.status_categories)
        return cls(Metrics.private(categories), args.metrics_port, args.metrics_host)

    @property
    def hooks(self) -> tuple[Hook, ...]:
        return (self.metrics.hook,)

    def webhook_failed(self, endpoint: str, state: Released) -> None:
        self.metrics.webhook_failed(endpoint, state)

    def counted(self, handler: Callable[[T], None]) -> Callable[[T], None]:
        """``handler`` (one record, or a claim of them), counting each record whose hand-off failed."""

        def counting(records: T) -> None:
            try:
                handler(records)
            except Exception:
                self.metrics.handoff_failed(len(records) if isinstance(records, list | tuple) else 1)
                raise

        return counting

    def start(self, store: Store) -> None:
        """Collect from ``store`` and serve ``/metrics``; the address served is printed on stderr."""
        from winic_soap.metrics import serve

        self.metrics.watch_store(store)
        try:
            self._server, self._thread = serve(self.metrics, self.port, self.host)
        except OSError as exc:
            raise ConfigurationError(f"--metrics-port: cannot serve on {self.host}:{self.port}: {exc}") from None
        host, port = self._server.server_address[:2]
        print(f"metrics on http://{host}:{port}/metrics", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
