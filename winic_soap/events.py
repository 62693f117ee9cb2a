"""One event per attempt of every call, for logs, metrics and tracing: a log record on the
``winic_soap.calls`` logger with the fields as ``extra``, and the same object to the client's hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

__all__ = ["CallEvent", "Emit", "Hook", "emitter"]

logger = logging.getLogger("winic_soap.calls")


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What one attempt of one operation did. ``outcome`` is ``"ok"`` (the answer decoded to a result: a
    send's message id), ``"unknown"`` (a write that may have been processed: never retried), or the error's
    class name; ``retry_in`` is the wait before the next attempt when one follows. Carries no secret."""

    operation: str
    transport: str
    attempt: int
    duration: float
    outcome: str
    message_id: str | None
    retry_in: float | None

    def with_retry(self, wait: float) -> CallEvent:
        return replace(self, retry_in=wait)

    def as_extra(self) -> dict[str, object]:
        """The fields as ``extra`` for a log record (prefixed so they never clash with LogRecord's own)."""
        return {f"winic_{name}": getattr(self, name) for name in self.__slots__}


Hook = Callable[[CallEvent], None]
Emit = Callable[[CallEvent], None]


def emitter(hooks: Sequence[Hook]) -> Emit:
    """The function that sends an event to the log and every hook; a failing hook is logged, never raised:
    a metrics bug must not turn a sent SMS into an error."""
    hooks = tuple(hooks)

    def emit(event: CallEvent) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s over %s: attempt %d %s in %.3fs%s",
                event.operation,
                event.transport,
                event.attempt,
                event.outcome,
                event.duration,
                "" if event.retry_in is None else f", retry in {event.retry_in:.2f}s",
                extra=event.as_extra(),
            )
        for hook in hooks:
            try:
                hook(event)
            except Exception:
                logger.exception("call hook %r failed; ignored", hook)

    return emit
