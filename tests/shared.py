"""Helpers shared by the test modules (conftest modules are not importable by name: there are two)."""

from __future__ import annotations

TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")


class SleepRecorder:
    """Stands in for ``time.sleep`` in retry policies: records the waits, never sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
