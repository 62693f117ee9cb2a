"""One watcher of a fleet, run as its own process by tests/store/test_store_fleet.py: it logs each pull's window
(monotonic start and end, comparable across processes on one machine) and each record it hands on."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from winic_soap import DeliveryReport, Reply, WinicClient
from winic_soap.store import InboxRecord, open_store
from winic_soap.watcher import Watcher

T = TypeVar("T")


def command(store_url: str, mock_url: str, out: Path, windows: Path) -> list[str]:
    """How a test starts one watcher of the fleet (the lease seconds and any launcher go around it)."""
    return [sys.executable, __file__, store_url, mock_url, str(out), str(windows)]


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())  # one write per line: lines of several processes never mix
    finally:
        os.close(fd)


class TimedPuller:
    """The client, with every pull's window written down."""

    def __init__(self, client: WinicClient, windows: str) -> None:
        self.client, self.windows, self.settings = client, windows, client.settings

    def _timed(self, name: str, call: Callable[[], T]) -> T:
        started = time.monotonic()
        _append(self.windows, json.dumps({"pid": os.getpid(), "op": name, "start": started}))
        result = call()
        _append(self.windows, json.dumps({"pid": os.getpid(), "op": name, "start": started, "end": time.monotonic()}))
        return result

    def reports(self) -> list[DeliveryReport]:
        return self._timed("SMS_Reports", self.client.reports)

    def replies(self, port: str | None = None) -> list[Reply]:
        return self._timed("GET_SMS_MO", lambda: self.client.replies(port=port))

    def replies_ext(self) -> list[Reply]:
        return self._timed("GET_SMS_MO_Ext", self.client.replies_ext)


def main() -> None:
    store_url, endpoint, out, windows, lease = sys.argv[1:6]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def handler(record: InboxRecord) -> None:
        _append(out, json.dumps({"id": record.id, "raw": record.raw, "pid": os.getpid()}))

    with (
        WinicClient("demo", "demo-secret", endpoint=endpoint, timeout=2, deadline=3, max_attempts=2) as client,
        open_store(store_url) as store,
    ):
        watcher = Watcher(
            TimedPuller(client, windows),
            store,
            handler,
            interval=5,
            lease=float(lease),
            sources=["reports", "replies"],
        )
        print("ready", flush=True)
        watcher.run(stop)


if __name__ == "__main__":
    main()
