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
    from winic_soap.client import WinicClient
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
        client: WinicClient,
        recipients: Sequence[str] | str,
        text: str,
        *,
        job: str | None = None,
        at: datetime | None = None,
        ext: str | None = None,
        international: bool = False,
        concurrency: int = 1,
    ) -> SendReceipt:
        """Send as ``client.send`` does, through the journal: the job and its batches are written first
        (``job`` names it, else one is made), then sent; errors as ``client.send`` raises them
        (:class:`BulkSendError` for a job of several batches), and the job stays in the store to resume."""
        plan = client.plan_send(
            recipients, text, at=at, ext=ext, international=international, concurrency=concurrency
        )  # the client's own checks and split, nothing sent
        settings = client.settings
        job_id = self.store.create_job(
            plan.operation,
            plan.text,
            plan.batches,
            job_id=job,
            options={"at": at.isoformat() if at else None, "ext": ext},
            endpoint=settings.endpoint,
            uid=settings.uid,
        )
        run = run_job(client, self.store, job_id, concurrency=concurrency)
        run.raise_for_error([n for b in self.store.batches(job_id, ["new"]) for n in b.numbers])
        return client.receipt_of(plan, run.accepted)

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
    failed_batches: list[Batch] = field(default_factory=list)

    def raise_for_error(self, unsent: Sequence[str] = ()) -> None:
        """Raise the stopping error as the plain client would: itself for a one-batch job that nothing
        else happened to, else a :class:`BulkSendError` with the accepted submissions, every batch that
        failed or may have been processed, and the never-attempted numbers. A store failure is raised as
        itself only when nothing was sent: after an acceptance, "nothing was sent" would be a lie."""
        if self.error is None:
            return
        failed = [n for batch in self.failed_batches for n in batch.numbers]
        if not self.accepted and (isinstance(self.error, StoreError) or (not unsent and len(self.failed_batches) <= 1)):
            raise self.error
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
            # an unknown outcome outranks any other error: it is what keeps a caller from re-sending
            if run.error is None or (isinstance(error, OutcomeUnknown) and not isinstance(run.error, OutcomeUnknown)):
                run.error = error
            if batch is not None:
                run.failed_batches.append(batch)
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
