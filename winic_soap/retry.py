"""When to try a call again, and how long to wait: tenacity policies around every operation.

One predicate decides. A request that provably never reached the server (connect phase) may always
be repeated; anything else is repeated only for idempotent reads. A send whose fate is unknown is
never repeated: that is how an SMS gets delivered twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from winic_soap.exceptions import (
    ConnectionLostError,
    HTTPStatusError,
    MaintenanceError,
    ProtocolError,
    ReadTimeoutError,
    SoapFaultError,
    TransportError,
)

__all__ = ["RetryPolicy", "call_with_retry", "should_retry"]

logger = logging.getLogger("winic_soap.retry")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, within which total deadline, with what jittered exponential backoff.

    ``sleep`` is injectable so tests run without real waits.
    """

    max_attempts: int = 4
    deadline: float = 60.0
    backoff: float = 0.25
    backoff_max: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)


def should_retry(exc: BaseException, *, idempotent: bool) -> bool:
    """The one decision: may this failed call be made again?"""
    if isinstance(exc, TransportError) and not exc.reached:
        return True  # refused, DNS, connect timeout: the server never saw the request
    if not idempotent:
        return False  # a write that may have reached the server must surface, not repeat
    if isinstance(exc, (ReadTimeoutError, ConnectionLostError)):
        return True
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500
    if isinstance(exc, SoapFaultError):
        return exc.processed is None  # soap:Server may be transient; soap:Client will fail again
    if isinstance(exc, ProtocolError):
        return exc.processed is None  # truncated or garbled answer; a request the service refused is final
    return isinstance(exc, MaintenanceError)  # -09 is temporary; every other business code is final


def call_with_retry(fn: Callable[[], T], *, policy: RetryPolicy, idempotent: bool, operation: str) -> T:
    """Run ``fn`` under ``policy``; the last error is re-raised as is when attempts or deadline run out.

    The first attempt runs bare: tenacity is imported and set up only once a call has failed in a way
    worth retrying, so the common case pays nothing for it.
    """
    try:
        return fn()
    except Exception as exc:
        if policy.max_attempts <= 1 or not should_retry(exc, idempotent=idempotent):
            raise
        first_failure: list[BaseException] = [exc]

    import tenacity

    def attempt() -> T:
        if first_failure:  # tenacity counts the failure that already happened as its attempt 1
            raise first_failure.pop()
        return fn()

    def log_before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s failed (%s: %s); attempt %d of %d, retrying in %.2fs",
            operation,
            type(error).__name__,
            error,
            state.attempt_number,
            policy.max_attempts,
            wait,
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts) | tenacity.stop_before_delay(policy.deadline),
        wait=tenacity.wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_max),
        retry=tenacity.retry_if_exception(lambda exc: should_retry(exc, idempotent=idempotent)),
        sleep=policy.sleep,
        before_sleep=log_before_sleep,
        reraise=True,
    )
    return retrying(attempt)
