"""The send journal: a job and its batches written before the first request, each batch claimed
``sending`` before its request and settled after it, so a send that stops half-way (a crash, an error,
a lost reply, Ctrl-C) leaves a record of what was accepted, what may have been, and what was never
attempted. Sends run on the client's own bulk engine (``winic_soap.bulk``), fed by claims from the
journal; several processes may run one job together, each batch claimed by exactly one of them.

A job's key makes a send idempotent: a repeated send with a key already in the journal (a task engine's
redelivery, an operator's re-run) sends nothing that was attempted before and answers with the first
send's receipt, or raises what the first send raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Protocol

from winic_soap.bulk import BulkRun, provably_unprocessed, run_tasks, run_threads
from winic_soap.exceptions import (
    InputError,
    JournalError,
    ProtocolError,
    SendOutcomeUnknown,
    ServiceError,
    StoreError,
    TransportError,
    WinicError,
    error_for_code,
)
from winic_soap.models import SERVICE_TZ, SendReceipt, Submission, Suppressed
from winic_soap.recipients import chunked
from winic_soap.states import FailedAs
from winic_soap.store.ids import new_job_id
from winic_soap.store.owners import owner_is_dead, process_owner

if TYPE_CHECKING:
    from winic_soap._base import SendPlan
    from winic_soap.config import Settings
    from winic_soap.store.base import Store
    from winic_soap.store.jobs import Batch, JobSummary

__all__ = ["Journal", "outcome_of"]

logger = logging.getLogger("winic_soap.store")
Progress = Callable[[int, int], None]


class _Client(Protocol):
    """What the journal needs of a client (sync or async): planning, the receipt, its settings and clock."""

    @property
    def settings(self) -> Settings: ...
    def plan_send(
        self, recipients: Sequence[str] | str, text: str, *, at: datetime | None = ..., ext: str | int | None = ...,
        international: bool = ..., concurrency: int = ...,
    ) -> SendPlan: ...  # fmt: skip
    def _stored_plan(
        self, operation: str, text: str, *, at: datetime | None = ..., ext: str | None = ..., concurrency: int = ...
    ) -> SendPlan: ...
    def receipt_of(self, plan: SendPlan, submissions: Sequence[Submission]) -> SendReceipt: ...


class _SyncClient(_Client, Protocol):
    def send_batch(self, plan: SendPlan, numbers: Sequence[str]) -> Submission: ...


class _AsyncClient(_Client, Protocol):
    def send_batch(self, plan: SendPlan, numbers: Sequence[str]) -> Awaitable[Submission]: ...


def outcome_of(error: BaseException) -> tuple[FailedAs, str | None]:
    """How a failed send is journalled: ``("failed", code)`` when the service refused it or it provably never
    left (nothing to fear from sending it again), else ``("unknown", None)``: it may have been processed."""
    if not provably_unprocessed(error):
        return "unknown", None
    return "failed", error.code if isinstance(error, ServiceError) else type(error).__name__


class _JobBatches:
    """The bulk engine's batch source for one job: claims the job's never-attempted batches and settles
    each after its request; a write the store refuses is kept and tried again by each :meth:`flush`."""

    def __init__(
        self, store: Store, job_id: str, owner: str, new: Mapping[int, Sequence[str]] | Sequence[Sequence[str]]
    ) -> None:
        self.store, self.job_id, self.owner = store, job_id, owner
        # never-attempted batches when the run began (by index): what is unsent if the store goes away
        self._new = new if isinstance(new, Mapping) else _Indexed(new)
        self._taken: set[int] = set()
        self._unwritten: list[tuple[int, Submission | None, WinicError | None]] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[int, Sequence[str]] | None:
        batch = self.store.claim_batch(self.job_id, self.owner)
        if batch is None:
            return None
        with self._lock:
            self._taken.add(batch.index)
        return batch.index, batch.numbers

    def settle(
        self, index: int, numbers: Sequence[str], submission: Submission | None, error: WinicError | None
    ) -> None:
        try:
            self._write(index, submission, error)
        except StoreError as exc:
            what = f"accepted as {submission.message_id}" if submission else f"ended {outcome_of(error or exc)[0]}"
            logger.warning("job %s batch %d %s, not journalled yet (%s); retrying", self.job_id, index, what, exc)
            with self._lock:
                self._unwritten.append((index, submission, error))

    def _write(self, index: int, submission: Submission | None, error: WinicError | None) -> None:
        if submission is not None:
            self.store.mark_accepted(self.job_id, index, submission.message_id)
            return
        assert error is not None
        state, code = outcome_of(error)
        detail = f"{type(error).__name__}: {error}"
        if state == "failed":
            self.store.mark_failed(self.job_id, index, code, detail)
        else:
            self.store.mark_unknown(self.job_id, index, detail)

    def flush(self) -> StoreError | None:
        with self._lock:
            left, self._unwritten = self._unwritten, []
        failed: list[tuple[int, Submission | None, WinicError | None]] = []
        last: StoreError | None = None
        for item in left:
            try:
                self._write(*item)
            except StoreError as exc:
                failed.append(item)
                last = exc
        if not failed:
            return None
        with self._lock:
            self._unwritten[:0] = failed  # kept for the next try
        ids = ", ".join(f"batch {i}: {s.message_id}" for i, s, _ in failed if s is not None) or "none accepted"
        return JournalError(
            f"job {self.job_id}: the service answered {len(failed)} request(s) that the journal could not "
            f"record ({last}); they stay 'sending' there and are never sent again. Accepted: {ids}"
        )

    def release(self, started: set[int]) -> None:
        try:
            for batch in self.store.batches(self.job_id, ["sending"]):
                if batch.owner == self.owner and batch.index not in started:
                    self.store.release_batch(self.job_id, batch.index, self.owner)
                    with self._lock:
                        self._taken.discard(batch.index)
        except StoreError as exc:  # it stays 'sending': read as maybe-processed, never sent again
            logger.warning("job %s: claimed batches could not be given back (%s)", self.job_id, exc)

    def unsent(self) -> list[str]:
        try:
            return [n for batch in self.store.batches(self.job_id, ["new"]) for n in batch.numbers]
        except StoreError:
            return [n for i, numbers in sorted(self._new.items()) if i not in self._taken for n in numbers]


class _Indexed(Mapping[int, Sequence[str]]):
    """A plan's batches by index, each made only when it is read."""

    def __init__(self, batches: Sequence[Sequence[str]]) -> None:
        self._batches = batches

    def __getitem__(self, index: int) -> Sequence[str]:
        if not 0 <= index < len(self._batches):
            raise KeyError(index)
        return self._batches[index]

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._batches)))

    def __len__(self) -> int:
        return len(self._batches)


class Journal:
    """The send journal of a store: sends and resumes jobs with a sync or an async client.

    >>> receipt = store.journal.send(client, numbers, "通知", job="notice-1")  # doctest: +SKIP
    >>> receipt = await store.journal.asend(async_client, numbers, "通知", job=task_id)  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- sync ----------------------------------------------------------------------------------------------
    def send(
        self,
        client: _SyncClient,
        recipients: Sequence[str] | str,
        text: str,
        *,
        job: str | None = None,
        at: datetime | None = None,
        ext: str | None = None,
        international: bool = False,
        concurrency: int = 1,
        on_progress: Progress | None = None,
        send_now: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """Send as ``client.send`` does, through the journal: the job (``job`` names it, else one is made)
        and its batches are written first, then sent. With a ``job`` already in the journal for the same
        operation, numbers, text and schedule this is a replay: nothing attempted before is sent again, and
        the first send's receipt is returned (or what it raised is raised); batches another live process is
        sending are waited for, within the client's deadline. The same key for another send is an
        :class:`InputError`. Numbers on the store's suppression list are left out before the job is written
        (``receipt.suppressed``; a replay answers with the first send's) unless ``ignore_suppression``."""
        summary, plan = self._prepare(
            client, recipients, text, job=job, at=at, ext=ext, international=international, concurrency=concurrency,
            send_now=send_now, ignore_suppression=ignore_suppression,
        )  # fmt: skip
        run, batches = self._run_state(client, summary, plan, on_progress)
        run_threads(run, batches, partial(client.send_batch, plan), concurrency, grace=client.settings.deadline)
        return self._answer(client, summary, plan, run, batches, sleep=time.sleep)

    def resume(
        self,
        client: _SyncClient,
        job: str,
        *,
        concurrency: int = 1,
        on_progress: Progress | None = None,
        send_now: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """Send the job's never-attempted batches (``jobs resume``), then answer as :meth:`send` does. A job
        scheduled for a time that has passed is refused (:class:`InputError` naming the job and its time)
        unless ``send_now``, which sends it now, unscheduled. Numbers listed since the job was written are
        left out (``receipt.suppressed``) unless ``ignore_suppression``."""
        summary = self._screened(self._job(job), ignore_suppression)
        plan = self._plan_of(client, summary, concurrency, send_now)
        run, batches = self._run_state(client, summary, plan, on_progress)
        run_threads(run, batches, partial(client.send_batch, plan), concurrency, grace=client.settings.deadline)
        return self._answer(client, summary, plan, run, batches, sleep=time.sleep)

    # -- async ---------------------------------------------------------------------------------------------
    async def asend(
        self,
        client: _AsyncClient,
        recipients: Sequence[str] | str,
        text: str,
        *,
        job: str | None = None,
        at: datetime | None = None,
        ext: str | None = None,
        international: bool = False,
        concurrency: int = 1,
        on_progress: Progress | None = None,
        send_now: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """:meth:`send` with an :class:`~winic_soap.AsyncWinicClient` (batches as tasks)."""
        await _ready(client)
        summary, plan = self._prepare(
            client, recipients, text, job=job, at=at, ext=ext, international=international, concurrency=concurrency,
            send_now=send_now, ignore_suppression=ignore_suppression,
        )  # fmt: skip
        return await self._arun(client, summary, plan, concurrency, on_progress)

    async def aresume(
        self,
        client: _AsyncClient,
        job: str,
        *,
        concurrency: int = 1,
        on_progress: Progress | None = None,
        send_now: bool = False,
        ignore_suppression: bool = False,
    ) -> SendReceipt:
        """:meth:`resume` with an :class:`~winic_soap.AsyncWinicClient`."""
        await _ready(client)
        summary = self._screened(self._job(job), ignore_suppression)
        plan = self._plan_of(client, summary, concurrency, send_now)
        return await self._arun(client, summary, plan, concurrency, on_progress)

    async def _arun(
        self, client: _AsyncClient, summary: JobSummary, plan: SendPlan, concurrency: int, on_progress: Progress | None
    ) -> SendReceipt:
        import asyncio

        run, batches = self._run_state(client, summary, plan, on_progress)
        await run_tasks(run, batches, partial(client.send_batch, plan), concurrency)
        deadline = time.monotonic() + client.settings.deadline
        while not run.interrupt and self._others_sending(summary.id, run) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        return self._answer(client, summary, plan, run, batches, sleep=None)

    # -- a custom sender -----------------------------------------------------------------------------------
    @contextmanager
    def batch(self, job: str, index: int, numbers: Sequence[str], text: str, operation: str) -> Iterator[_BatchHandle]:
        """For a sender of your own: the batch journalled ``sending`` on entry (StoreError if it was attempted
        before); an exception inside is journalled by :func:`outcome_of` and re-raised; leaving without
        ``accepted()`` journals the batch unknown (nobody can tell what happened)."""
        handle = _BatchHandle(self.store, self.store.begin_batch(job, index, numbers, text, operation))
        try:
            yield handle
        except BaseException as exc:
            if not handle.finished:
                state, code = outcome_of(exc)
                if state == "failed":
                    self.store.mark_failed(job, index, code, f"{type(exc).__name__}: {exc}")
                else:
                    self.store.mark_unknown(job, index, f"{type(exc).__name__}: {exc}")
            raise
        if not handle.finished:
            self.store.mark_unknown(job, index, "no outcome was recorded")

    # -- shared steps --------------------------------------------------------------------------------------
    def _job(self, job_id: str) -> JobSummary:
        summary = self.store.job(job_id)
        if summary is None:
            raise InputError("job", "no such job in the store", job_id)
        return summary

    def _prepare(
        self,
        client: _Client,
        recipients: Sequence[str] | str,
        text: str,
        *,
        job: str | None,
        at: datetime | None,
        ext: str | None,
        international: bool,
        concurrency: int,
        send_now: bool,
        ignore_suppression: bool = False,
    ) -> tuple[JobSummary, SendPlan]:
        """The job to run: written now (checked by the client, screened against the suppression list, nothing
        sent), or the one already under ``job`` after checking it is the same send."""
        from winic_soap.store.suppression import screen

        existing = self.store.job(job) if job else None
        checked = client.plan_send(
            recipients, text, at=None if existing else at, ext=ext, international=international, concurrency=concurrency
        )
        everyone = checked.recipients()
        if existing is None:
            if not ignore_suppression:
                screen(self.store, checked)
            job_id = job or new_job_id()
            options = {
                "at": _aware(at), "ext": None if ext is None else str(ext),
                "suppressed": [s.as_dict() for s in checked.suppressed],
            }  # fmt: skip
            settings = client.settings
            try:
                self.store.create_job(
                    checked.operation, checked.text, checked.batches, job_id=job_id, options=options,
                    endpoint=settings.endpoint, uid=settings.uid,
                )  # fmt: skip
            except InputError:
                existing = self.store.job(job_id)  # another process wrote the same key first
                if existing is None:
                    raise
            else:
                return self._job(job_id), checked
        left_out = {s.mobile for s in _suppressed(existing)}  # compared as the first send screened it
        if left_out:
            checked.batches = chunked([n for n in everyone if n not in left_out])
        _check_same(existing, checked, at, ext, self.store.batches(existing.id))
        existing = self._screened(existing, ignore_suppression)
        return existing, self._plan_of(client, existing, concurrency, send_now)

    def _screened(self, job: JobSummary, ignore_suppression: bool) -> JobSummary:
        """The job after leaving numbers listed since it was written out of its never-attempted batches."""
        from winic_soap.store.suppression import screen_job

        if ignore_suppression or not job.batches.get("new"):
            return job
        left_out = screen_job(self.store, job.id)
        if not left_out:
            return job
        logger.info("job %s: left out %d number(s) put on the suppression list since it was written", job.id,
                    len(left_out))  # fmt: skip
        return self._job(job.id)

    def _plan_of(self, client: _Client, job: JobSummary, concurrency: int, send_now: bool) -> SendPlan:
        """A stored job's plan, decided once before its first batch: a schedule that has passed (by the
        client's clock) is refused while anything is left to send, unless ``send_now``."""
        at, ext = _stored_at(job), job.options.get("ext")
        try:
            plan = client._stored_plan(job.operation, job.text, at=at, ext=ext, concurrency=concurrency)
            plan.suppressed = _suppressed(job)
            return plan
        except InputError as exc:
            if exc.field != "at" or at is None:
                raise
        if job.batches.get("new", 0) and not send_now:
            raise InputError(
                "at",
                f"job {job.id} was scheduled for {at.isoformat()}, which has passed; resume it with "
                "send_now=True (--send-now) to send its never-attempted batches now, unscheduled",
                job.id,
            )
        plan = client._stored_plan(job.operation, job.text, ext=ext, concurrency=concurrency)
        plan.suppressed = _suppressed(job)
        if not send_now:
            plan.at = at  # nothing is left to send: the schedule shows on the receipt only
        return plan

    def _run_state(
        self, client: _Client, job: JobSummary, plan: SendPlan, on_progress: Progress | None
    ) -> tuple[BulkRun, _JobBatches]:
        total = sum(job.batches.values())
        run = BulkRun(
            total,
            operation=plan.operation,
            text=plan.text,
            transport=client.settings.transport,
            on_progress=on_progress,
        )
        run.job = job.id
        new: Mapping[int, Sequence[str]] | Sequence[Sequence[str]]
        if plan.batches:  # a job written just now: its batches are the plan's, made only if ever asked for
            new = plan.batches
        elif job.batches.get("new"):
            new = {b.index: b.numbers for b in self.store.batches(job.id, ["new"])}
        else:
            new = {}
        return run, _JobBatches(self.store, job.id, process_owner(), new)

    def _others_sending(self, job_id: str, run: BulkRun) -> bool:
        """Whether a live process (or thread) other than this run is still sending one of the job's batches."""
        try:
            batches = self.store.batches(job_id, ["sending"])
        except StoreError:
            return False
        mine = set(run.done) | set(run.failures)
        return any(b.index not in mine and b.owner and not owner_is_dead(b.owner) for b in batches)

    def _answer(
        self,
        client: _Client,
        job: JobSummary,
        plan: SendPlan,
        run: BulkRun,
        batches: _JobBatches,
        *,
        sleep: Callable[[float], None] | None,
    ) -> SendReceipt:
        """The job's receipt from this run and the journal, after waiting (sync) for batches other live
        processes are sending; raised by the engine's one rule when anything is not accepted."""
        if sleep is not None:
            deadline = time.monotonic() + client.settings.deadline
            while not run.interrupt and self._others_sending(job.id, run) and time.monotonic() < deadline:
                sleep(0.2)
        mine = set(run.done) | set(run.failures)
        try:  # what this run did not settle itself (a million numbers are not read back for nothing)
            stored = self.store.batches(job.id) if len(mine) < run.total else []
        except StoreError as exc:
            logger.warning("job %s: the journal cannot be read (%s); answering from this run alone", job.id, exc)
            stored = []
        for batch in stored:
            if batch.index not in mine and batch.state != "new":
                run.known(batch.index, batch.numbers, *_settled(batch, run))
        return client.receipt_of(plan, run.outcome(batches.unsent()))


class _BatchHandle:
    def __init__(self, store: Store, batch: Batch) -> None:
        self.store, self.batch, self.finished = store, batch, False

    def accepted(self, message_id: str | None) -> None:
        self.store.mark_accepted(self.batch.job_id, self.batch.index, message_id)
        self.finished = True


def _settled(batch: Batch, run: BulkRun) -> tuple[Submission | None, WinicError | None]:
    """What a journalled batch this run did not send ended as, in the engine's terms."""
    if batch.state == "accepted":
        return Submission(batch.message_id, batch.numbers), None
    detail = batch.error or f"batch {batch.index} of job {batch.job_id} {batch.state}"
    if batch.state == "failed":
        if batch.code and batch.code.startswith("-"):
            return None, error_for_code(batch.code, run.operation, None, run.transport)
        refused = TransportError(f"batch {batch.index} failed earlier, never sent: {detail}")
        refused.processed = False
        return None, refused
    cause = ProtocolError(f"batch {batch.index} ended {batch.state} earlier: {detail}", processed=None)
    return None, SendOutcomeUnknown(run.operation, cause, recipients=batch.numbers, text=run.text)


def _check_same(job: JobSummary, plan: SendPlan, at: datetime | None, ext: str | None, batches: list[Batch]) -> None:
    """A key names one send: the same operation, numbers (in order), text, extension and schedule."""
    stored = (n for b in batches for n in b.numbers)
    planned = (n for b in plan.batches for n in b)  # a batch at a time: a million numbers are not copied
    differs = [
        name
        for name, same in (
            ("operation", job.operation == plan.operation),
            ("numbers", all(a == b for a, b in zip_longest(stored, planned))),
            ("text", job.text == plan.text),
            ("ext", job.options.get("ext") == (None if ext is None else str(ext))),
            ("at", _stored_at(job) == (None if at is None else _aware_at(at))),
        )
        if not same
    ]
    if differs:
        raise InputError(
            "job",
            f"{job.id!r} is already used for another send ({', '.join(differs)} not the same): pick a new key",
            job.id,
        )


def _aware_at(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=SERVICE_TZ)  # naive means Asia/Shanghai


def _aware(at: datetime | None) -> str | None:
    """A schedule as stored: ISO 8601 with its offset."""
    return None if at is None else _aware_at(at).isoformat()


def _suppressed(job: JobSummary) -> tuple[Suppressed, ...]:
    """The numbers the job's first send left out (on the suppression list then), as its receipts name them."""
    return tuple(Suppressed(**entry) for entry in job.options.get("suppressed") or ())


def _stored_at(job: JobSummary) -> datetime | None:
    value = job.options.get("at")
    return _aware_at(datetime.fromisoformat(value)) if value else None


async def _ready(client: Any) -> None:
    """A custom WSDL is loaded on the async client's first use; the journal plans before that."""
    ready = getattr(client, "_ready", None)
    if ready is not None:
        await ready()
