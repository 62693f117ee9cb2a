"""Scripted misbehaviour of the fake service: which faults fire on which call."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, get_args

from winic_soap.mock.protocol import contract

__all__ = ["FAULT_KINDS", "FaultKind", "FaultPlan", "FaultRule"]

FaultKind = Literal[
    "latency",  # sleep ``seconds`` before handling (combines with any other fault)
    "http500",  # IIS HTML error page, status 500; the operation does not run
    "http503",  # the same with 503 Service Unavailable
    "close_before",  # connection closed after the request was read; the operation does not run
    "close_after",  # the operation runs, then the connection closes: the reply is lost
    "truncate",  # the operation runs, the reply is cut in half and the connection closed
    "malformed",  # the operation runs, the reply is 200 with broken XML
    "code",  # the service answers ``code`` (e.g. -09) without running the operation
    "reply",  # answer ``body`` with ``status`` and ``content_type`` verbatim; the operation does not run
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
PROCESSING_FAULTS = frozenset({"close_after", "truncate", "malformed"})


@dataclass
class FaultRule:
    """One scripted fault. ``times`` fires left (None: unlimited); ``every`` fires on every Nth matching call."""

    kind: str
    operation: str | None = None
    times: int | None = 1
    every: int | None = None
    seconds: float = 0.0
    code: str = "-09"
    body: str | bytes = b""
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be >= 1")

    def fires(self, operation: str) -> bool:
        """Count this call and say whether the fault applies to it (call under the plan's lock)."""
        if self.operation is not None and self.operation != operation:
            return False
        if self.times is not None and self.times <= 0:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every:
            return False
        if self.times is not None:
            self.times -= 1
        return True


class FaultPlan:
    """The active rules; thread-safe. ``pick`` returns the latency to add and the fault that decides."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def script(
        self,
        kind: str,
        *,
        operation: str | None = None,
        times: int | None = 1,
        every: int | None = None,
        seconds: float = 0.0,
        code: str = "-09",
        body: str | bytes = b"",
        status: int = 200,
        content_type: str = "text/xml; charset=utf-8",
    ) -> FaultRule:
        """Add a rule after checking that ``operation`` is one the WSDL declares (a typo would never fire)."""
        if operation is not None and operation not in contract().operations:
            raise ValueError(f"operation {operation!r} is not in the WSDL")
        return self.add(FaultRule(kind, operation, times, every, seconds, code, body, status, content_type))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, operation: str) -> tuple[float, FaultRule | None]:
        delay, decisive = 0.0, None
        with self._lock:
            if not self._rules:
                return 0.0, None
            for rule in self._rules:
                if rule.kind != "latency" and decisive is not None:
                    continue  # one decisive fault per call; the others keep their budget
                if not rule.fires(operation):
                    continue
                if rule.kind == "latency":
                    delay += rule.seconds
                elif decisive is None:
                    decisive = rule
            self._rules = [r for r in self._rules if r.times is None or r.times > 0]
        return delay, decisive
