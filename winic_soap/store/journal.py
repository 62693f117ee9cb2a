"""The send journal: each batch written ``sending`` before its request and its outcome after, so a send that
stops half-way (a crash, an error, a lost reply) leaves a record of what was accepted, what may have been,
and what was never attempted. ``run_job`` sends a job's never-attempted batches; several processes may run
one job together, each batch claimed by exactly one of them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from winic_soap.exceptions import (
    BulkSendError,
    ConfigurationError,
    InputError,
    OutcomeUnknown,
    ServiceError,
    StoreError,
    TransportError,
    WinicError,
)
from winic_soap.models import SendReceipt, Submission

if TYPE_CHECKING:
    from winic_soap.store.base import Batch, Store

__all__ = ["JobRun", "Journal", "outcome_of", "run_job"]

logger = logging.getLogger("winic_soap.store")


class _Sender(Protocol):
    def send(
        self, recipients: Sequence[str], text: str, *, at: datetime | None = ..., ext: str | None = ...
    ) -> SendReceipt: ...
    def send_international(self, recipients: Sequence[str], text: str, *, at: datetime | None = ...) -> SendReceipt: ...


def outcome_of(error: BaseException) -> tuple[str, str | None]:
    """How a failed send is journalled: ``("failed", code)`` when the service refused it or it provably never
    left (nothing to fear from sending it again), else ``("unknown", None)``: it may have been processed."""
    if isinstance(error, ServiceError):
        return "failed", error.code
    if isinstance(error, (InputError, ConfigurationError)):
        return "failed", type(error).__name__
    if isinstance(error, TransportError) and error.processed is False:
        return "failed", type(error).__name__
    if isinstance(error, OutcomeUnknown):
        return "unknown", None
    return "unknown", None


class Journal:
    """The send journal of a store. ``send`` sends as ``client.send`` does, journalled; a sender of its own
    calls ``begin_batch`` before each request and a ``mark_*`` after it, or wraps it in ``batch``.

    >>> receipt = store.journal.send(client, numbers, "通知", job="notice-1")  # doctest: +SKIP
    >>> with store.journal.batch("job-1", 0, numbers, text, "SendMessages") as batch:  # doctest: +SKIP
    ...     batch.accepted(client.send(numbers, text).message_id)
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def begin_batch(
        self, job: str, index: int, numbers: Sequence[str], text: str, operation: str, **options: Any
    ) -> Batch:
        """Journal the batch ``sending`` (committed) before the request; StoreError if it cannot, or if this
        batch was attempted before. Send only after this returned."""
        return self.store.begin_batch(job, index, numbers, text, operation, options=options)

    def mark_accepted(self, batch: Batch, message_id: str | None) -> None:
        self.store.mark_accepted(batch.job_id, batch.index, message_id)

    def mark_failed(self, batch: Batch, code: str | None, error: str = "") -> None:
        self.store.mark_failed(batch.job_id, batch.index, code, error)

    def mark_unknown(self, batch: Batch, error: str = "") -> None:
        self.store.mark_unknown(batch.job_id, batch.index, error)

    def mark_error(self, batch: Batch, error: BaseException) -> str:
        """Journal a failed request by what the error proves (see :func:`outcome_of`); returns the state."""
        state, code = outcome_of(error)
        text = f"{type(error).__name__}: {error}"
        if state == "failed":
            self.mark_failed(batch, code, text)
        else:
            self.mark_unknown(batch, text)
        return state

    def send(
        self,
        client: _Sender,
        recipients: Sequence[str] | str,
        text: str,
        *,
        job: str | None = None,
        at: datetime | None = None,
        ext: str | None = None,
        international: bool = False,
        concurrency: int = 1,
        strict: bool = False,
    ) -> SendReceipt:
        """Send as ``client.send`` does, through the journal: the job and its batches are written first
        (``job`` names it, else one is made), then sent; errors as ``client.send`` raises them
        (:class:`BulkSendError` for a job of several batches), and the job stays in the store to resume."""
        from winic_soap.recipients import chunked, domestic_numbers, international_numbers
        from winic_soap.store.base import SERVICE_TZ
        from winic_soap.text import sanitize, segments

        numbers = international_numbers(recipients) if international else domestic_numbers(recipients)
        clean = sanitize(text, strict=strict)
        operation = "SendInternationalMessages" if international else "SendMessages_Ext" if ext else "SendMessages"
        settings = getattr(client, "settings", None)
        job_id = self.store.create_job(
            operation,
            clean,
            chunked(numbers),
            job_id=job,
            options={"at": at.isoformat() if at else None, "ext": ext},
            endpoint=str(getattr(settings, "endpoint", "")),
            uid=str(getattr(settings, "uid", "")),
        )
        run = run_job(client, self.store, job_id, concurrency=concurrency)
        run.raise_for_error([n for b in self.store.batches(job_id, ["new"]) for n in b.numbers])
        transport = str(getattr(client, "transport", ""))
        local = at if at is None or at.tzinfo is None else at.astimezone(SERVICE_TZ).replace(tzinfo=None)
        return SendReceipt(tuple(run.accepted), operation, transport, clean, segments(clean), local)

    @contextmanager
    def batch(self, job: str, index: int, numbers: Sequence[str], text: str, operation: str) -> Iterator[_BatchHandle]:
        """``begin_batch`` on entry; an exception inside is journalled by :func:`outcome_of` and re-raised;
        leaving without ``accepted()`` journals the batch unknown (we cannot tell what happened)."""
        handle = _BatchHandle(self, self.begin_batch(job, index, numbers, text, operation))
        try:
            yield handle
        except BaseException as exc:
            if not handle.finished:
                self.mark_error(handle.batch, exc)
            raise
        if not handle.finished:
            self.mark_unknown(handle.batch, "no outcome was recorded")


class _BatchHandle:
    def __init__(self, journal: Journal, batch: Batch) -> None:
        self.journal, self.batch, self.finished = journal, batch, False

    def accepted(self, message_id: str | None) -> None:
        self.journal.mark_accepted(self.batch, message_id)
        self.finished = True


@dataclass
class JobRun:
    """What one :func:`run_job` call did: the batches it got accepted, and the error that stopped it."""

    job_id: str
    accepted: list[Submission] = field(default_factory=list)
    attempted: int = 0
    error: WinicError | None = None
    failed_batch: Batch | None = None

    def raise_for_error(self, unsent: Sequence[str] = ()) -> None:
        """Raise the stopping error as the plain client would: itself for a one-batch job, else a
        :class:`BulkSendError` with the accepted submissions and the never-attempted numbers."""
        if self.error is None:
            return
        if isinstance(self.error, StoreError) or (not self.accepted and not unsent):
            raise self.error
        failed = self.failed_batch.numbers if self.failed_batch else ()
        raise BulkSendError(self.accepted, self.error, failed, unsent) from self.error


def run_job(
    client: _Sender,
    store: Store,
    job_id: str,
    *,
    concurrency: int = 1,
    owner: str | None = None,
    on_batch: Callable[[Batch, str], None] | None = None,
    stop: threading.Event | None = None,
) -> JobRun:
    """Send the job's never-attempted batches, ``concurrency`` at a time, each journalled ``sending`` before
    its request. After a failed or unknown batch no new batch is started (the rest stay never-attempted, for
    ``jobs resume``). Batches in ``sending`` or ``unknown`` are never sent again."""
    from winic_soap.store.base import process_owner

    job = store.job(job_id)
    if job is None:
        raise InputError("job", "no such job in the store", job_id)
    if concurrency < 1:
        raise InputError("concurrency", "must be a positive integer", concurrency)
    owner = owner or process_owner()
    at = datetime.fromisoformat(job.options["at"]) if job.options.get("at") else None
    ext = job.options.get("ext")
    run = JobRun(job_id)
    accepted: list[tuple[int, Submission]] = []
    halt = stop or threading.Event()
    lock = threading.Lock()

    def send(batch: Batch) -> SendReceipt:
        if job.operation == "SendInternationalMessages":
            return client.send_international(list(batch.numbers), job.text, at=at)
        return client.send(list(batch.numbers), job.text, at=at, ext=ext)

    def stopped(error: WinicError, batch: Batch | None) -> None:
        with lock:
            if run.error is None:
                run.error, run.failed_batch = error, batch
        halt.set()

    def worker() -> None:
        while not halt.is_set():
            try:
                batch = store.claim_batch(job_id, owner)
            except StoreError as exc:
                stopped(exc, None)
                return
            if batch is None:
                return
            with lock:
                run.attempted += 1
            try:
                receipt = send(batch)
            except WinicError as exc:
                state = store.journal.mark_error(batch, exc)
                logger.warning("job %s batch %d: %s (%s)", job_id, batch.index, state, exc)
                if on_batch:
                    on_batch(batch, state)
                stopped(exc, batch)
                return
            message_id = receipt.message_id
            try:
                store.mark_accepted(job_id, batch.index, message_id)
            except StoreError as exc:  # accepted, but the journal says sending: never re-sent; the id goes to the log
                logger.error(
                    "job %s batch %d accepted as %s but not journalled: %s", job_id, batch.index, message_id, exc
                )
                stopped(exc, batch)
                return
            with lock:
                accepted.append((batch.index, Submission(message_id, batch.numbers)))
            if on_batch:
                on_batch(batch, "accepted")

    if concurrency == 1:
        worker()
    else:
        threads = [threading.Thread(target=worker, name=f"winic-job-{i}") for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    run.accepted = [submission for _, submission in sorted(accepted, key=lambda pair: pair[0])]
    return run
