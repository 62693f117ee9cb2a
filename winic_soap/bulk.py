"""The one bulk engine under every send: a run's state (accepted, failed, maybe processed, in flight,
never attempted), the sources that feed it batches (a send plan, or claims from the journal), one runner
per concurrency model (threads for :class:`~winic_soap.WinicClient`, tasks for the async client), and the
one rule for what a stopped run raises (:meth:`BulkRun.outcome`).

Whatever stops a run -- a failed batch, a raising progress callback, the store going away, Ctrl-C,
SIGTERM, asyncio cancellation or a timeout -- no new batch starts; batches in flight finish (threads,
within their call's deadline) or are named maybe-processed (cancelled tasks, a second interrupt); and
every accepted id and every maybe-processed number is reachable from what is raised.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Protocol

from winic_soap.exceptions import (
    BulkSendError,
    ClientClosedError,
    ConfigurationError,
    InputError,
    OutcomeUnknown,
    SendOutcomeUnknown,
    ServiceError,
    StoreError,
    TransportError,
    WinicError,
)
from winic_soap.models import Submission

__all__ = ["BatchSource", "BulkRun", "PlanBatches", "provably_unprocessed", "run_tasks", "run_threads"]

logger = logging.getLogger("winic_soap.client")
Progress = Callable[[int, int], None]


def provably_unprocessed(error: BaseException) -> bool:
    """The one test of whether a failed request is safe to send again: the service refused it with a code,
    it was refused before the wire, or it provably never left. Anything else may have been processed."""
    if isinstance(error, (ServiceError, InputError, ConfigurationError, ClientClosedError)):
        return True
    return isinstance(error, TransportError) and error.processed is False


class BatchSource(Protocol):
    """Where a run's batches come from and where their outcomes go (nothing, or the send journal)."""

    def take(self) -> tuple[int, Sequence[str]] | None:
        """The next batch to send (its index and numbers), or None when there is none; may raise StoreError."""

    def settle(
        self, index: int, numbers: Sequence[str], submission: Submission | None, error: WinicError | None
    ) -> None:
        """Record one batch's outcome; never raises (what cannot be written is kept for :meth:`flush`)."""

    def flush(self) -> StoreError | None:
        """Try once more to write what :meth:`settle` could not; the error that remains, if any (the runner
        waits between tries)."""

    def release(self, started: set[int]) -> None:
        """After an interrupt: give back every batch taken but never started (the interrupt fell between)."""

    def unsent(self) -> list[str]:
        """The numbers of every batch still never attempted."""


class PlanBatches:
    """The batches of a send plan, in order; outcomes are kept by the run alone."""

    def __init__(self, batches: Sequence[Sequence[str]]) -> None:
        self._batches = batches
        self._next = 0
        self._returned: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> tuple[int, Sequence[str]] | None:
        with self._lock:
            index = self._next
            if index >= len(self._batches):
                return None
            self._next += 1
        return index, self._batches[index]

    def settle(
        self, index: int, numbers: Sequence[str], submission: Submission | None, error: WinicError | None
    ) -> None:
        return None

    def flush(self) -> StoreError | None:
        return None

    def release(self, started: set[int]) -> None:
        self._returned = set(range(self._next)) - started

    def unsent(self) -> list[str]:
        later = range(self._next, len(self._batches))
        return [n for i in (*sorted(self._returned), *later) for n in self._batches[i]]


class BulkRun:
    """The state of one send of ``total`` batches, shared by the threads or tasks that send them."""

    def __init__(
        self, total: int, *, operation: str, text: str, transport: str, on_progress: Progress | None = None
    ) -> None:
        self.total = total
        self.operation, self.text, self.transport = operation, text, transport
        self.on_progress = on_progress
        self.done: dict[int, Submission] = {}
        self.failures: dict[int, WinicError] = {}
        self.numbers: dict[int, tuple[str, ...]] = {}  # of every failed batch
        self.in_flight: dict[int, tuple[str, ...]] = {}
        self.stop: BaseException | None = None  # the first reason no new batch starts
        self.interrupt: BaseException | None = None  # KeyboardInterrupt, SystemExit, CancelledError
        self.journal_error: StoreError | None = None
        self.job: str | None = None  # the journal's job, named on what a stopped run raises
        self._lock = threading.Lock()

    # -- what happens during the run ------------------------------------------------------------------
    def may_start(self) -> bool:
        return self.stop is None

    def begin(self, index: int, numbers: Sequence[str]) -> None:
        with self._lock:
            self.in_flight[index] = tuple(numbers)

    def accepted(self, index: int, submission: Submission) -> None:
        with self._lock:
            self.in_flight.pop(index, None)
            self.failures.pop(index, None)  # a batch named maybe-processed that then answered
            self.done[index] = submission
            count, report = len(self.done), self.on_progress if self.stop is None else None
        if report is not None:
            try:
                report(count, self.total)
            except Exception as exc:  # the caller's callback: stop starting batches, keep every receipt
                self.halt(exc)

    def failed(self, index: int, error: WinicError) -> None:
        with self._lock:
            self.numbers[index] = self.in_flight.pop(index, ())
            self.failures[index] = error
            if self.stop is None:
                self.stop = error

    def halt(self, reason: BaseException) -> None:
        """Start nothing new: ``reason`` is an error that is not one batch's (the store, a callback) or an
        interrupt."""
        with self._lock:
            if not isinstance(reason, Exception) and self.interrupt is None:
                self.interrupt = reason
            if self.stop is None:
                self.stop = reason

    def maybe_processed(self, cause: BaseException, numbers: Sequence[str]) -> SendOutcomeUnknown:
        """The error of a batch whose request may have reached the service when ``cause`` stopped it."""
        return SendOutcomeUnknown(self.operation, cause, recipients=numbers, text=self.text, transport=self.transport)

    def abandon(self, cause: BaseException) -> list[tuple[int, tuple[str, ...], WinicError]]:
        """Name every batch still in flight maybe-processed (a second interrupt: nobody waits for them)."""
        with self._lock:
            left, self.in_flight = list(self.in_flight.items()), {}
        abandoned: list[tuple[int, tuple[str, ...], WinicError]] = []
        for index, numbers in left:
            error = self.maybe_processed(cause, numbers)
            with self._lock:
                self.numbers[index], self.failures[index] = numbers, error
            abandoned.append((index, numbers, error))
        return abandoned

    def started(self) -> set[int]:
        """Every batch this run started (accepted, failed, or in flight)."""
        with self._lock:
            return set(self.done) | set(self.failures) | set(self.in_flight)

    def known(
        self, index: int, numbers: Sequence[str], submission: Submission | None, error: WinicError | None
    ) -> None:
        """What the journal knows of a batch this run did not send (another process, an earlier run), or
        of one whose bookkeeping an interrupt cut short."""
        self.in_flight.pop(index, None)
        if submission is not None:
            self.done[index] = submission
        elif error is not None:
            self.numbers[index], self.failures[index] = tuple(numbers), error

    # -- the one rule --------------------------------------------------------------------------------------
    def outcome(self, unsent: Sequence[str]) -> list[Submission]:
        """The accepted submissions in order when every batch was; else raise what tells the caller what was
        and was not sent: a lone request's own error, a :class:`StoreError` when nothing at all was sent,
        else a :class:`BulkSendError` (the interrupt itself, caused by one, when the run was interrupted)."""
        if self.in_flight:  # an interrupt fell between a request and its bookkeeping: it may have been sent
            self.abandon(self.interrupt or self.stop or RuntimeError("the run ended with requests in flight"))
        receipts = [self.done[i] for i in sorted(self.done)]
        if self.stop is None and not self.failures and not unsent and self.journal_error is None:
            return receipts
        unknown_at = [i for i in sorted(self.failures) if not provably_unprocessed(self.failures[i])]
        unknown = [n for i in unknown_at for n in self.numbers[i]]
        failed = [n for i in sorted(self.failures) if i not in unknown_at for n in self.numbers[i]]
        error = self.interrupt or self._deciding_error(unknown_at)
        if self.interrupt is None:
            if self.total == 1 and len(self.failures) == 1 and not receipts and self.journal_error is None:
                raise error  # a single request: its own error, as for any other call
            if not receipts and not unknown and isinstance(error, StoreError) and not failed:
                raise error  # nothing was sent: the store stopped the run before the first request
        bulk = BulkSendError(receipts, error, failed, unsent, unknown, job=self.job)
        raise (self.interrupt or bulk) from (bulk if self.interrupt else error)

    def _deciding_error(self, unknown_at: list[int]) -> BaseException:
        """An unknown outcome outranks every other error: it is what keeps a caller from sending again."""
        if unknown_at and not isinstance(self.stop, OutcomeUnknown):
            return self.failures[unknown_at[0]]
        if self.journal_error is not None and (self.stop is None or isinstance(self.stop, StoreError)):
            return self.journal_error  # the store went away: which acceptances it lost says more than why
        if self.stop is not None:
            return self.stop
        return next(iter(self.failures.values()))


# -- the runners ---------------------------------------------------------------------------------------
_FLUSH_WAITS = (0.2, 0.5, 1.0, 2.0)  # between tries to write outcomes the journal refused: about 4 s in all


def _flush_waits(run: BulkRun, source: BatchSource) -> Iterator[float]:
    """Write what the journal could not, once now and again after each wait the caller makes (a sleep, or
    an ``await``, so an event loop goes on meanwhile); what is still unwritten becomes the run's
    ``journal_error``."""
    run.journal_error = source.flush()
    for wait in _FLUSH_WAITS:
        if run.journal_error is None:
            return
        yield wait
        run.journal_error = source.flush()
    if run.journal_error is not None:
        logger.error("%s", run.journal_error)


def _flush(run: BulkRun, source: BatchSource) -> None:
    try:
        for wait in _flush_waits(run, source):
            time.sleep(wait)
    except BaseException as exc:  # Ctrl-C or SIGTERM while the store is away: stop trying, keep the outcome
        run.halt(exc)


async def _aflush(run: BulkRun, source: BatchSource) -> None:
    import asyncio

    try:
        for wait in _flush_waits(run, source):
            await asyncio.sleep(wait)
    except BaseException as exc:  # cancelled while the store is away: stop trying, keep the outcome
        run.halt(exc)


def _take(run: BulkRun, source: BatchSource) -> tuple[int, Sequence[str]] | None:
    try:
        return source.take()
    except WinicError as exc:  # the journal cannot hand out the next batch: nothing more is sent
        run.halt(exc)
        return None


def _batches(run: BulkRun, source: BatchSource) -> Iterator[tuple[int, Sequence[str]]]:
    while run.may_start():
        item = _take(run, source)
        if item is None:
            return
        run.begin(*item)
        yield item


def _failed(run: BulkRun, source: BatchSource, index: int, numbers: Sequence[str], exc: BaseException) -> None:
    # anything but our own errors (an interrupt, a bug in a hook) may have come after the request left
    error = exc if isinstance(exc, WinicError) else run.maybe_processed(exc, numbers)
    try:
        source.settle(index, numbers, None, error)
    finally:  # an interrupt landing in the journal write must not lose what the run knows
        run.failed(index, error)


def _sent(run: BulkRun, source: BatchSource, index: int, numbers: Sequence[str], submission: Submission) -> None:
    try:
        source.settle(index, numbers, submission, None)  # journalled first: the progress bar follows the journal
    finally:
        run.accepted(index, submission)


def _send_one(run: BulkRun, source: BatchSource, index: int, numbers: Sequence[str], send: SendOne) -> None:
    try:
        submission = send(numbers)
    except BaseException as exc:
        _failed(run, source, index, numbers, exc)
        if not isinstance(exc, Exception):
            raise  # the interrupt goes on once the batch is named maybe-processed
    else:
        _sent(run, source, index, numbers, submission)


SendOne = Callable[[Sequence[str]], Submission]
AsyncSendOne = Callable[[Sequence[str]], Awaitable[Submission]]


def run_threads(run: BulkRun, source: BatchSource, send: SendOne, concurrency: int, *, grace: float) -> None:
    """Send ``source``'s batches, ``concurrency`` at a time on threads (in this thread when 1). An interrupt
    in this thread stops new batches and waits up to ``grace`` seconds (the calls' deadline) for those in
    flight; a second interrupt stops the wait and names them maybe-processed."""
    if concurrency == 1:
        try:
            for index, numbers in _batches(run, source):
                _send_one(run, source, index, numbers, send)
        except BaseException as exc:  # an interrupt: the batch it hit was named maybe-processed
            run.halt(exc)
            source.release(run.started())
        _flush(run, source)
        return
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="winic-send")
    pending: set[Future[None]] = set()
    try:
        while True:
            while run.may_start() and len(pending) < concurrency:
                item = _take(run, source)
                if item is None:
                    break
                run.begin(*item)
                context = contextvars.copy_context()  # the caller's tracing span follows into the thread
                pending.add(pool.submit(context.run, _send_one, run, source, item[0], item[1], send))
            if not pending:
                break
            _, pending = wait(pending, return_when=FIRST_COMPLETED)
    except BaseException as exc:  # KeyboardInterrupt, SystemExit (SIGTERM in the CLI)
        run.halt(exc)
        try:
            wait(pending, timeout=grace)
        except BaseException:  # a second interrupt: stop waiting
            logger.warning("interrupted again: %d request(s) in flight are named maybe-processed", len(pending))
        for index, numbers, error in run.abandon(exc):
            source.settle(index, numbers, None, error)
        source.release(run.started())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    _flush(run, source)


async def run_tasks(run: BulkRun, source: BatchSource, send: AsyncSendOne, concurrency: int) -> None:
    """Send ``source``'s batches, ``concurrency`` at a time as asyncio tasks. Cancelled (``task.cancel()``,
    ``asyncio.timeout``, ``wait_for``), the batches in flight are named maybe-processed and the
    cancellation goes on. The journal's writes are short synchronous calls bounded by the store's timeout:
    made from a thread, a cancellation could leave a claimed batch that nobody sends."""

    async def worker() -> None:
        for index, numbers in _batches(run, source):
            try:
                submission = await send(numbers)
            except BaseException as exc:
                _failed(run, source, index, numbers, exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                _sent(run, source, index, numbers, submission)

    try:
        if concurrency == 1 or run.total == 1:
            await worker()
        else:
            import asyncio

            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, run.total)):
                    group.create_task(worker())
    except BaseException as exc:  # CancelledError (raised again by outcome(), the same object)
        run.halt(exc)
        for index, numbers, error in run.abandon(exc):
            source.settle(index, numbers, None, error)
        source.release(run.started())
    await _aflush(run, source)
