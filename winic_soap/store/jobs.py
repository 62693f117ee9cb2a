"""The journal's tables: jobs and their batches (at most 100 numbers each), written before anything is sent
and settled after each request, so that a stopped send leaves a record of what was accepted, what may have
been, and what was never attempted. The user-facing sends (``store.journal.send``, ``resume``) live in
:mod:`winic_soap.store.journal` and are built on these methods."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from winic_soap.exceptions import InputError, StoreError
from winic_soap.models import SendReceipt
from winic_soap.states import BATCH_STATES, BatchSource, BatchState
from winic_soap.store.core import StoreCore
from winic_soap.store.ids import new_job_id, utc_iso
from winic_soap.store.owners import process_owner
from winic_soap.store.schema import marks

if TYPE_CHECKING:
    from winic_soap.categories import Categories
    from winic_soap.store.stats import Stats

__all__ = ["BATCH_COLUMNS", "Batch", "JobSummary", "JobsMixin", "batch_of"]

BATCH_COLUMNS = "job_id, idx, numbers, state, message_id, code, error, source, started_at, finished_at, owner"


@dataclass(frozen=True)
class Batch:
    """One request of a job (at most 100 numbers) and what the journal knows of it."""

    job_id: str
    index: int
    numbers: tuple[str, ...]
    state: BatchState  # what each state means: winic_soap.states
    message_id: str | None = None
    code: str | None = None
    error: str | None = None
    source: BatchSource | None = None  # "send", or "reports" when reports proved an unknown batch accepted
    started_at: str | None = None
    finished_at: str | None = None
    owner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["numbers"] = list(self.numbers)
        return data


@dataclass(frozen=True)
class JobSummary:
    """A job of batches: its text and operation, and how many batches (and recipients) are in each state."""

    id: str
    operation: str
    text: str
    created_at: str
    options: dict[str, Any]
    endpoint: str
    uid: str
    batches: dict[BatchState, int] = field(default_factory=dict)
    recipients: dict[BatchState, int] = field(default_factory=dict)
    purged_at: str | None = None  # when retention blanked its text (store purge); batches and counts stay

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_of(row: Sequence[Any]) -> Batch:
    """A batch from a row of :data:`BATCH_COLUMNS`."""
    return Batch(
        job_id=row[0],
        index=int(row[1]),
        numbers=tuple(n for n in row[2].split(",") if n),
        state=row[3],
        message_id=row[4],
        code=row[5],
        error=row[6],
        source=row[7],
        started_at=row[8],
        finished_at=row[9],
        owner=row[10],
    )


class JobsMixin(StoreCore):
    """The store's jobs and batches (``winic_jobs``, ``winic_batches``)."""

    def create_job(
        self,
        operation: str,
        text: str,
        batches: Sequence[Sequence[str]],
        *,
        job_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        endpoint: str = "",
        uid: str = "",
    ) -> str:
        """Write a job and its batches (all ``new``) in one transaction, before anything is sent."""
        job_id = job_id or new_job_id()
        now = self.clock()
        with self._transaction() as tx:
            created = tx.rows(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                (job_id, operation, text, json.dumps(dict(options or {}), default=str), endpoint, uid, utc_iso(now)),
            )
            if not created:
                raise InputError(
                    "job", "already exists in the store: resume it (jobs resume) or pick a new name", job_id
                )
            tx.many(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state) VALUES (?, ?, ?, ?, 'new') "
                "ON CONFLICT (job_id, idx) DO NOTHING",
                [(job_id, i, ",".join(numbers), len(numbers)) for i, numbers in enumerate(batches)],
            )
        return job_id

    def begin_batch(
        self,
        job_id: str,
        index: int,
        numbers: Sequence[str],
        text: str,
        operation: str,
        *,
        owner: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Batch:
        """Journal one batch as ``sending`` before its request (the job is created on first use). Refuses,
        with :class:`StoreError`, a batch that was attempted before: it is never sent twice."""
        now = self.clock()
        with self._transaction() as tx:
            tx.run(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, ?, '', '', ?) ON CONFLICT (id) DO NOTHING",
                (job_id, operation, text, json.dumps(dict(options or {}), default=str), utc_iso(now)),
            )
            rows = tx.rows(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state, owner, started_at, started_epoch) "
                "VALUES (?, ?, ?, ?, 'sending', ?, ?, ?) ON CONFLICT (job_id, idx) DO UPDATE SET state = 'sending', "
                "owner = excluded.owner, started_at = excluded.started_at, started_epoch = excluded.started_epoch "
                f"WHERE winic_batches.state = 'new' RETURNING {BATCH_COLUMNS}",
                (job_id, index, ",".join(numbers), len(numbers), owner or process_owner(), utc_iso(now), now),
            )
        if not rows:
            raise StoreError(f"batch {index} of job {job_id} was attempted before; it is not sent again")
        return batch_of(rows[0])

    def claim_batch(self, job_id: str, owner: str) -> Batch | None:
        """Take the job's next never-attempted batch and journal it ``sending``; None when none is left."""
        now = self.clock()
        with self._transaction(single=True) as tx:
            rows = tx.rows(
                "UPDATE winic_batches SET state = 'sending', owner = ?, started_at = ?, started_epoch = ? "
                "WHERE job_id = ? AND state = 'new' AND idx = (SELECT idx FROM winic_batches "
                f"WHERE job_id = ? AND state = 'new' ORDER BY idx LIMIT 1{self._skip_locked}) "
                f"RETURNING {BATCH_COLUMNS}",
                (owner, utc_iso(now), now, job_id, job_id),
            )
        return batch_of(rows[0]) if rows else None

    def release_batch(self, job_id: str, index: int, owner: str) -> bool:
        """Put a batch ``owner`` claimed but never sent (interrupted between the claim and the request) back
        to ``new``; False if it is not that owner's ``sending`` batch."""
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_batches SET state = 'new', owner = NULL, started_at = NULL, started_epoch = NULL "
                "WHERE job_id = ? AND idx = ? AND state = 'sending' AND owner = ?",
                (job_id, index, owner),
            )
        return changed > 0

    def mark_accepted(self, job_id: str, index: int, message_id: str | None, *, source: BatchSource = "send") -> bool:
        """The service answered ``message_id`` (``source="reports"``: its reports proved it). False if the
        batch was not ``sending``/``unknown`` (already settled)."""
        return self._finish(job_id, index, "accepted", message_id=message_id, source=source)

    def mark_failed(self, job_id: str, index: int, code: str | None, error: str = "") -> bool:
        """The service refused the batch (``code``, e.g. ``-01``) or it provably never left."""
        return self._finish(job_id, index, "failed", code=code, error=error)

    def mark_unknown(self, job_id: str, index: int, error: str = "") -> bool:
        """The batch may have been processed: it is never sent again; its reports may settle it."""
        return self._finish(job_id, index, "unknown", error=error)

    def _finish(
        self,
        job_id: str,
        index: int,
        state: BatchState,
        *,
        message_id: str | None = None,
        code: str | None = None,
        error: str = "",
        source: BatchSource | None = None,
    ) -> bool:
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_batches SET state = ?, message_id = ?, code = ?, error = ?, source = ?, finished_at = ? "
                "WHERE job_id = ? AND idx = ? AND state IN ('sending', 'unknown')",
                (state, message_id, code, error[:500] or None, source, utc_iso(self.clock()), job_id, index),
            )
        return changed > 0

    def record_send(self, receipt: SendReceipt, *, job_id: str | None = None) -> str:
        """Journal a send made without the journal (already accepted), so its reports join it. Retrying it
        with the same ``job_id`` (after a lost acknowledgement) writes nothing twice."""
        job_id = job_id or new_job_id()
        now = self.clock()
        with self._transaction() as tx:
            tx.run(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, '{}', '', '', ?) ON CONFLICT (id) DO NOTHING",
                (job_id, receipt.operation, receipt.text, utc_iso(now)),
            )
            tx.many(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state, message_id, source, started_at, "
                "started_epoch, finished_at) VALUES (?, ?, ?, ?, 'accepted', ?, 'send', ?, ?, ?) "
                "ON CONFLICT (job_id, idx) DO NOTHING",  # a retry after a lost acknowledgement adds nothing
                [
                    (
                        job_id,
                        i,
                        ",".join(s.recipients),
                        len(s.recipients),
                        s.message_id,
                        utc_iso(now),
                        now,
                        utc_iso(now),
                    )
                    for i, s in enumerate(receipt.submissions)
                ],
            )
        return job_id

    def job(self, job_id: str) -> JobSummary | None:
        """One job with its batches counted per state; None if the store has no such job."""
        found = [j for j in self._job_summaries(job_id) if j.id == job_id]
        return found[0] if found else None

    def jobs(self) -> list[JobSummary]:
        """Every job, newest first, with its batches counted per state."""
        return sorted(self._job_summaries(None), key=lambda j: j.created_at, reverse=True)

    def _job_summaries(self, job_id: str | None) -> list[JobSummary]:
        with self._transaction() as tx:
            jobs = tx.rows(
                "SELECT id, operation, text, created_at, options, endpoint, uid, purged_at FROM winic_jobs "
                "WHERE (CAST(? AS TEXT) IS NULL OR id = ?)",
                (job_id, job_id),
            )
            counts = tx.rows(
                "SELECT job_id, state, COUNT(*), SUM(size) FROM winic_batches "
                "WHERE (CAST(? AS TEXT) IS NULL OR job_id = ?) "
                "GROUP BY job_id, state",
                (job_id, job_id),
            )
        summaries = {
            j[0]: JobSummary(
                j[0],
                j[1],
                j[2],
                j[3],
                json.loads(j[4]),
                j[5],
                j[6],
                dict.fromkeys(BATCH_STATES, 0),
                dict.fromkeys(BATCH_STATES, 0),
                j[7],
            )
            for j in jobs
        }
        for jid, state, batches, recipients in counts:
            if jid in summaries:
                summaries[jid].batches[state] = int(batches)
                summaries[jid].recipients[state] = int(recipients or 0)
        return list(summaries.values())

    def batches(self, job_id: str, states: Sequence[BatchState] | None = None) -> list[Batch]:
        """A job's batches in order, optionally only those in ``states``."""
        only = "" if states is None else f" AND state IN ({marks(len(states))})"  # not every number read back
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {BATCH_COLUMNS} FROM winic_batches WHERE job_id = ?{only} ORDER BY idx",
                (job_id, *(states or ())),
            )
        return [batch_of(r) for r in rows]

    def delivery(self, job_id: str) -> dict[str, Any]:
        """A job's delivery picture from its batches and the reports joined to them (recipients counted)."""
        summary = self.job(job_id)
        if summary is None:
            raise InputError("job", "no such job in the store", job_id)
        with self._transaction() as tx:
            reports = tx.rows(  # one settled status per (message id, mobile): see store.settle
                "SELECT b.idx, s.mobile, s.status FROM winic_settled s "
                "JOIN winic_batches b ON b.message_id = s.message_id WHERE b.job_id = ?",
                (job_id,),
            )
        latest: dict[tuple[int, str], str] = {}
        for idx, mobile, status in reports:
            latest[(int(idx), mobile)] = status
        delivered = sum(1 for s in latest.values() if s == "DELIVRD")
        undelivered: dict[str, int] = {}
        for status in latest.values():
            if status != "DELIVRD":
                undelivered[status] = undelivered.get(status, 0) + 1
        accepted = summary.recipients.get("accepted", 0)
        failed_codes: dict[str, int] = {}
        for batch in self.batches(job_id, ["failed"]):
            failed_codes[batch.code or "not sent"] = failed_codes.get(batch.code or "not sent", 0) + len(batch.numbers)
        return {
            "job": job_id,
            "recipients": sum(summary.recipients.values()),
            "accepted": accepted,
            "delivered": delivered,
            "undelivered": dict(sorted(undelivered.items())),
            "waiting_for_report": max(accepted - len(latest), 0),
            "unknown": summary.recipients.get("unknown", 0),
            "sending": summary.recipients.get("sending", 0),
            "failed": dict(sorted(failed_codes.items())),
            "never_attempted": summary.recipients.get("new", 0),
        }

    def stats(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        job: str | None = None,
        by: str | None = None,
        categories: Categories | None = None,
    ) -> Stats:
        """Delivery statistics of the sends started in ``[since, until)`` (epoch seconds; None: unbounded),
        optionally of one ``job``, ``by`` ``"day"``/``"hour"`` (:mod:`winic_soap.store.stats`). Read without a
        write lock: each aggregate query sees the store as it was when it ran."""
        from winic_soap.store.stats import compute

        with self._transaction(single=True) as tx:
            return compute(tx, self.backend, since=since, until=until, job=job, by=by, categories=categories)
