"""When to try a call again, and how long to wait: tenacity (``Retrying``, ``AsyncRetrying``) around the
call to the wire, for both shells.

One predicate decides. A request that provably never reached the server (connect phase) may always be
repeated; anything else only when the operation is a read in the contract. A write whose fate is unknown
is never repeated: that is how an SMS gets delivered twice. ``deadline`` bounds the whole call, retries
included, from its first attempt; each attempt gets ``min(timeout, time left)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

from winic_soap.events import CallEvent, Emit
from winic_soap.exceptions import (
    ConnectionLostError,
    HTTPStatusError,
    MaintenanceError,
    OutcomeUnknown,
    ProtocolError,
    ProxyAuthenticationError,
    ReadTimeoutError,
    SoapFaultError,
    TLSError,
    TransportError,
)

__all__ = ["Attempts", "RetryPolicy", "should_retry"]

logger = logging.getLogger("winic_soap.retry")
T = TypeVar("T")


async def _async_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, within which total deadline, with what jittered exponential backoff.

    ``sleep`` / ``async_sleep`` are injectable so tests run without real waits.
    """

    max_attempts: int = 4
    deadline: float = 60.0
    backoff: float = 0.25
    backoff_max: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = _async_sleep

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)


def should_retry(exc: BaseException, *, idempotent: bool) -> bool:
    """The one decision: may this failed call be made again?"""
    if isinstance(exc, (TLSError, ProxyAuthenticationError)):
        return False  # a refused certificate or proxy credentials fail the same way next time
    if isinstance(exc, TransportError) and not exc.reached:
        return True  # refused, DNS, connect timeout: the server never saw the request
    if not idempotent:
        return False  # a write that may have reached the server must surface, not repeat
    if isinstance(exc, (ReadTimeoutError, ConnectionLostError)):
        return True
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500 and exc.processed is None
    if isinstance(exc, SoapFaultError):
        return exc.processed is None  # soap:Server may be transient; soap:Client will fail again
    if isinstance(exc, ProtocolError):
        return exc.processed is None  # truncated or garbled answer; a request the service refused is final
    return isinstance(exc, MaintenanceError)  # -09 is temporary; every other business code is final


class _StopBeforeDeadline(tenacity.stop.stop_base):
    """tenacity's ``stop_before_delay``, counted from the call's first attempt, which runs before
    tenacity is involved (see :meth:`Attempts.run`)."""

    def __init__(self, started: float, deadline: float) -> None:
        self.started, self.deadline = started, deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        elapsed = (retry_state.outcome_timestamp or time.monotonic()) - self.started
        return elapsed + retry_state.upcoming_sleep >= self.deadline


class Attempts:
    """The attempts of one call: their time budget, the retry decision, and one event per attempt."""

    __slots__ = ("_emit", "_failed", "_idempotent", "_operation", "_policy", "_started", "_timeout", "_transport")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        operation: str,
        transport: str,
        idempotent: bool,
        timeout: float,
        emit: Emit,
    ) -> None:
        self._policy, self._operation, self._transport = policy, operation, transport
        self._idempotent, self._timeout, self._emit = idempotent, timeout, emit
        self._started = time.monotonic()
        self._failed: CallEvent | None = None

    def time_left(self) -> float:
        """``min(timeout, time left before the deadline)`` for the next attempt (never below 1 ms)."""
        left = self._policy.deadline - (time.monotonic() - self._started)
        return max(0.001, min(self._timeout, left))

    def succeeded(self, attempt: int, began: float, message_id: str | None = None) -> None:
        self._emit(
            CallEvent(self._operation, self._transport, attempt, time.monotonic() - began, "ok", message_id, None)
        )

    def failed(self, attempt: int, began: float, exc: BaseException) -> None:
        """Remember the failure; its event goes out once we know whether a retry follows, and after what wait."""
        outcome = "unknown" if isinstance(exc, OutcomeUnknown) else type(exc).__name__
        self._failed = CallEvent(
            self._operation, self._transport, attempt, time.monotonic() - began, outcome, None, None
        )

    def _flush(self, wait: float | None) -> None:
        if self._failed is not None:
            event, self._failed = self._failed, None
            self._emit(event if wait is None else event.with_retry(wait))

    def _options(self) -> dict[str, Any]:
        policy, idempotent = self._policy, self._idempotent

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "%s failed (%s: %s); attempt %d of %d, retrying in %.2fs",
                self._operation,
                type(error).__name__,
                error,
                state.attempt_number,
                policy.max_attempts,
                wait,
            )
            self._flush(wait)

        return {
            "stop": tenacity.stop_after_attempt(policy.max_attempts)
            | _StopBeforeDeadline(self._started, policy.deadline),
            "wait": tenacity.wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_max),
            "retry": tenacity.retry_if_exception(lambda exc: should_retry(exc, idempotent=idempotent)),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def run(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt()`` under the policy; the last error is re-raised as is.

        The first attempt runs before tenacity is set up (that costs about 50 us a call, more than the
        rest of our layers); only when it fails does tenacity take over, from its outcome: it sees the
        same first failure, and decides, waits, logs and retries exactly as if it had run it."""
        try:
            try:
                return attempt()
            except Exception as exc:
                first: Exception | None = exc

            def replay() -> T:
                nonlocal first
                if first is not None:
                    error, first = first, None
                    raise error
                return attempt()

            return tenacity.Retrying(sleep=self._policy.sleep, **self._options())(replay)
        finally:
            self._flush(None)

    async def run_async(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """The same for a coroutine attempt (``AsyncRetrying``), the first attempt also outside tenacity."""
        try:
            try:
                return await attempt()
            except Exception as exc:
                first: Exception | None = exc

            async def replay() -> T:
                nonlocal first
                if first is not None:
                    error, first = first, None
                    raise error
                return await attempt()

            return await tenacity.AsyncRetrying(sleep=self._policy.async_sleep, **self._options())(replay)
        finally:
            self._flush(None)
