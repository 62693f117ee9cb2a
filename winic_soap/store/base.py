"""The store interface and everything both backends share: the SQL (written once, with ``?`` placeholders),
the records it returns, lease owners, and the rules (claims, dead letters, journal states, unknown outcomes
resolved from reports). The schema and its migrations live in :mod:`winic_soap.store.schema`.
A backend only supplies a connection and its transactions.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winic_soap.exceptions import InputError, StoreError
from winic_soap.models import SERVICE_TZ, DeliveryReport, Reply, service_time
from winic_soap.store import retention, schema, settle, suppression
from winic_soap.store.core import STORE_TIMEOUT, marks
from winic_soap.store.ids import new_id, new_job_id, utc_iso
from winic_soap.store.jobs import BATCH_STATES, Batch, JobSummary
from winic_soap.store.outcomes import OutcomesMixin
from winic_soap.store.owners import owner_is_dead, process_owner
from winic_soap.store.pollers import PollerLease, PollerMixin
from winic_soap.store.schema import Migration, Tx
from winic_soap.store.spool import PulledAnswer

if TYPE_CHECKING:
    from winic_soap.store.journal import Journal
    from winic_soap.store.suppression import Suppression

__all__ = [
    "BATCH_STATES",
    "RECORD_STATES",
    "SERVICE_TZ",
    "STORE_TIMEOUT",
    "Batch",
    "InboxRecord",
    "JobSummary",
    "PollerLease",
    "Store",
    "Tx",
    "new_id",
    "new_job_id",
    "owner_is_dead",
    "process_owner",
    "utc_iso",
]

logger = logging.getLogger("winic_soap.store")

RECORD_STATES = ("pending", "done", "dead")

_RECORD_COLUMNS = (
    "id, seq, kind, endpoint, uid, operation, payload, raw, pulled_at, state, attempts, last_error, message_id, "
    "COALESCE(settled, status), repeat_of"  # a report's settled status is its own unless store.settle wrote another
)


def _service_aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return service_time(value).isoformat()
    return value


_PAYLOAD_FIELDS = {cls: tuple(f.name for f in fields(cls) if f.name != "raw") for cls in (Reply, DeliveryReport)}


def _record_of(row: Sequence[Any]) -> Reply | DeliveryReport:
    """The pulled record an inbox row (as :meth:`Store._row` wrote it) was made from: what the opt-out list
    and the settled statuses read, also when the row comes back from the spool."""
    data = json.loads(row[8])
    for name in ("received_at", "at"):
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return (DeliveryReport if row[1] == "report" else Reply)(**data, raw=row[9] or "")


def _payload(record: Reply | DeliveryReport) -> dict[str, Any]:
    """The record's fields but ``raw``, times with their offset (flat fields: no ``asdict`` deep copy, which
    cost half the time of storing a million reports)."""
    return {name: _service_aware(getattr(record, name)) for name in _PAYLOAD_FIELDS[type(record)]}


@dataclass(frozen=True)
class InboxRecord:
    """A stored report or reply. ``id`` is unique across hosts and stores: use it to drop a repeat."""

    id: str
    seq: int
    kind: str
    endpoint: str
    uid: str
    operation: str
    data: dict[str, Any]
    raw: str
    pulled_at: str
    state: str
    attempts: int
    last_error: str | None = None
    send: dict[str, Any] | None = None  # for reports: the journalled send of its message id, if any
    settled: str | None = None  # for reports: the settled status of its (message id, mobile) (store.settle)
    repeat_of: str | None = None  # a repeat of an earlier report: that record's id (never handed on)

    @property
    def done(self) -> bool:
        return self.state == "done"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, "operation": self.operation, **self.data}
        body.update(raw=self.raw, pulled_at=self.pulled_at)
        if self.settled is not None:
            body["settled"] = self.settled
        if self.send is not None:
            body["send"] = self.send
        return body

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, default=str)


_IDS_PER_STATEMENT = 500  # ids bound in one statement: well under every backend's limit of parameters


class Store(OutcomesMixin, PollerMixin):
    """The durable inbox, the poller leases and the send journal, on one database.

    Thread-safe (one connection per store object, guarded by a lock); any number of processes and hosts
    may open the same database. Every failure of the database is a :class:`StoreError`.
    """

    _journal: Journal | None = None  # made on first use: most stores never send
    _suppression: Suppression | None = None

    # -- the schema ------------------------------------------------------------------------
    def _open_schema(self) -> None:
        """On open: bring the schema up to date (unless opened with ``migrate=False``); a store newer than
        this code is refused either way."""
        if self._migrate_on_open:
            self.migrate()
        else:
            self.migrate(dry_run=True)

    def migrate(self, *, dry_run: bool = False) -> list[Migration]:
        """Apply the migrations the store lacks, in one transaction under a lock (concurrent openers wait,
        then find nothing left to do); returns them. ``dry_run``: return them, apply nothing."""
        with self._transaction() as tx:
            lock = schema.lock_statement(self.backend)
            if lock is not None:
                tx.rows(lock)
            applied = schema.migrate(tx, self.backend, utc_iso(self.clock()), dry_run=dry_run)
        if applied and not dry_run:
            logger.info(
                "store %s migrated to schema version %d: %s",
                self.url,
                applied[-1].version,
                ", ".join(map(str, applied)),
            )
        return applied

    def purge(self, older_than: float | str, *, dry_run: bool = False, chunk: int = 5000) -> dict[str, int]:
        """Retention (:mod:`winic_soap.store.retention`): delete handed-on records older than ``older_than``
        (seconds, or an age like ``30d``) and blank the text of jobs finished before then; ``dry_run``
        counts and changes nothing. Returns ``{"records": n, "jobs": n}``. Records go ``chunk`` per
        transaction, so a large purge never holds up the writers that commit pulled records."""
        seconds = retention.parse_age(older_than)
        if seconds is None:
            raise InputError("older_than", "must be an age like 30d (off purges nothing: skip the call)", older_than)
        if chunk < 1:
            raise InputError("chunk", "must be at least 1", chunk)
        now = self.clock()
        cutoff, stamp = utc_iso(now - seconds), utc_iso(now)
        if dry_run:
            with self._transaction() as tx:
                return retention.count(tx, cutoff)
        with self._transaction() as tx:
            jobs = retention.blank_jobs(tx, cutoff, stamp)
        records = 0
        while True:
            with self._transaction() as tx:
                deleted = retention.delete_records(tx, cutoff, chunk)
            records += deleted
            if deleted < chunk:
                return {"records": records, "jobs": jobs}

    def schema_version(self) -> int:
        """The version the store's schema is at (:data:`winic_soap.store.schema.LATEST` once migrated)."""
        with self._transaction() as tx:
            return schema.version_of(tx, self.backend)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def journal(self) -> Journal:
        """The send journal on this store (:class:`winic_soap.store.journal.Journal`)."""
        if self._journal is None:
            from winic_soap.store.journal import Journal

            self._journal = Journal(self)
        return self._journal

    @property
    def suppression(self) -> Suppression:
        """The suppression list on this store (:class:`winic_soap.store.suppression.Suppression`)."""
        if self._suppression is None:
            self._suppression = suppression.Suppression(self)
        return self._suppression

    # -- inbox: writes ---------------------------------------------------------------------
    def commit_pulled(
        self, operation: str, records: Sequence[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> list[str]:
        """Keep pulled records durably and return their ids: spooled first, then committed in one transaction.
        Call before handing anything on. On a :class:`StoreError` the records wait in :attr:`spool`."""
        if not records:
            return []
        return self.keep(self.prepare_pulled(operation, records, endpoint=endpoint, uid=uid))

    def prepare_pulled(
        self, operation: str, records: Sequence[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> PulledAnswer:
        """The inbox rows of a pulled answer, their ids made here once: commit it as often as needed."""
        now = self.clock()
        pulled_at = utc_iso(now)
        rows = tuple(
            self._row(new_id(now), r, operation=operation, endpoint=endpoint, uid=uid, pulled_at=pulled_at, now=now)
            for r in records
        )
        return PulledAnswer(new_id(now), operation, rows)

    @staticmethod
    def _row(
        record_id: str,
        record: Reply | DeliveryReport,
        *,
        operation: str,
        endpoint: str,
        uid: str,
        pulled_at: str,
        now: float,
    ) -> tuple[Any, ...]:
        """One inbox row, in the column order of the INSERT in :meth:`_commit_rows`."""
        if isinstance(record, DeliveryReport):
            kind, message_id, status = "report", record.message_id, record.status
        else:
            kind, message_id, status = "reply", None, None
        payload = json.dumps(_payload(record), ensure_ascii=False)
        return (
            record_id,
            kind,
            endpoint,
            uid,
            operation,
            message_id,
            record.mobile,
            status,
            payload,
            record.raw,
            pulled_at,
            now,
        )

    def keep(self, answer: PulledAnswer) -> list[str]:
        """Spool ``answer`` (fsynced) before anything else, commit it, then drop it from the spool. A failed
        commit raises :class:`StoreError` with the answer still spooled (``spool.holds(answer)``); a spool
        that cannot be written (a full disk) is logged and the commit is tried all the same."""
        try:
            self.spool.write(answer)
        except OSError as exc:
            logger.error("%s: cannot spool %d pulled record(s) (%s)", answer.operation, len(answer.rows), exc)
        ids = self.commit_answer(answer)
        self.spool.remove(answer)
        return ids

    def commit_answer(self, answer: PulledAnswer) -> list[str]:
        """Insert the answer's rows in one transaction; rows already stored (same id: a commit whose
        acknowledgement was lost, a replay) are skipped. Returns the ids."""
        self._commit_rows(answer.rows)
        return answer.ids

    def _commit_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._transaction() as tx:
            tx.many(
                "INSERT INTO winic_inbox (id, kind, endpoint, uid, operation, message_id, mobile, status, payload, "
                "raw, pulled_at, pulled_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                rows,
            )
            # opt-outs and settled statuses change in the same transaction: a retried commit (same ids) or a
            # replayed spool file changes nothing twice
            pulled = [(row[0], _record_of(row)) for row in rows if row[1] == "reply" or row[1] == "report"]
            suppression.record_replies(tx, self.keywords, pulled, float(rows[0][11]))
            settle.record_reports(tx, self.precedence, pulled, str(rows[0][10]))
        message_ids = {row[5] for row in rows if row[1] == "report"}
        if message_ids:
            try:
                self.resolve_unknown(message_ids)
            except StoreError as exc:  # the records are safe; resolving can wait for the next reports
                logger.warning("resolving unknown sends from reports failed: %s", exc)

    def keep_stream(
        self, operation: str, records: Iterable[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> int:
        """:meth:`keep` for an answer of any size, read one record at a time: spooled whole first
        (:meth:`spool_stream`), then committed in transactions of ``commit_size`` rows. Memory is bounded by
        ``commit_size``; a failure leaves the answer in the spool, which replays it the same way."""
        path, count = self.spool_stream(operation, records, endpoint=endpoint, uid=uid)
        self.commit_spooled(path)
        return count

    def spool_stream(
        self, operation: str, records: Iterable[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> tuple[Path, int]:
        """Write an answer's records to the spool only (ids made as each row is written): the store gets them
        at the next :meth:`replay_spool`. Returns the spool file and how many records it holds."""
        now = self.clock()
        pulled_at = utc_iso(now)
        # the random part counts up from a random start (UUIDv7's monotonic counter): as unique, and each row
        # lands at the end of the id index instead of anywhere in it (a million reports commit twice as fast)
        counter = itertools.count(secrets.randbits(73))

        def rows() -> Iterator[tuple[Any, ...]]:
            for record in records:
                yield self._row(
                    new_id(now, lambda bits: next(counter)),
                    record,
                    operation=operation,
                    endpoint=endpoint,
                    uid=uid,
                    pulled_at=pulled_at,
                    now=now,
                )

        try:
            return self.spool.write_rows(new_id(now), operation, rows())
        except OSError as exc:
            raise StoreError(f"{operation}: the pulled answer cannot be spooled ({exc})") from exc

    def replay_spool(self) -> int:
        """Commit every answer left in the spool, oldest first, and return how many records that stored (or
        found stored). Stops at the first :class:`StoreError`, leaving it and the later ones spooled."""
        replayed = 0
        for path, operation in self.spool.entries():
            count = self.commit_spooled(path)
            replayed += count
            logger.info("%s: %d spooled record(s) reached the store", operation, count)
        return replayed

    def commit_spooled(self, path: Path) -> int:
        """Commit one spooled answer (from :meth:`spool_stream`) in bounded transactions, each idempotent,
        then remove it; returns how many records it held. A :class:`StoreError` leaves it spooled."""
        count = 0
        try:
            for rows in self.spool.rows(path, self.commit_size):
                self._commit_rows(rows)
                count += len(rows)
        except FileNotFoundError:  # another process replayed it meanwhile
            return count
        except (ValueError, TypeError) as exc:
            self.spool.set_aside(path, exc)
            return count
        path.unlink(missing_ok=True)
        return count

    def claim(
        self, owner: str, *, limit: int = 100, lease: float | None = None, kind: str | None = None
    ) -> list[InboxRecord]:
        """Lease up to ``limit`` pending records to ``owner``, oldest first. Records whose lease expired (or,
        once nothing else is free, whose holder on this host died) come back; ones claimed ``max_handoffs``
        times without an acknowledgement or a failure (their consumer died each time) go to the dead letters."""
        with self._transaction(durable=False) as tx:  # a lost claim only makes the record claimable again
            now = self._now(tx)
            args = (owner, now + (lease or self.lease), now, self.max_handoffs, kind, kind, limit)
            rows = tx.rows(self._CLAIM.format(skip_locked=self._skip_locked), args)
            if not rows:  # nothing free: look for leases of dead holders and for exhausted records, then again
                self._free_dead_holders(tx, now)
                tx.run(
                    "UPDATE winic_inbox SET state = 'dead', lease_owner = NULL, lease_until = NULL, "
                    "last_error = COALESCE(last_error, 'hand-off never finished') "
                    "WHERE state = 'pending' AND attempts >= ? AND (lease_until IS NULL OR lease_until < ?)",
                    (self.max_handoffs, now),
                )
                rows = tx.rows(self._CLAIM.format(skip_locked=self._skip_locked), args)
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return sorted((self._record(r, sends) for r in rows), key=lambda r: r.seq)

    _CLAIM = (
        "UPDATE winic_inbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
        "WHERE seq IN (SELECT seq FROM winic_inbox WHERE state = 'pending' "
        # "+ 0": walk the (state, seq) index in order; the attempts index would sort every pending row
        "AND (lease_until IS NULL OR lease_until < ?) AND attempts + 0 < ? "
        "AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
        f"ORDER BY seq LIMIT ?{{skip_locked}}) RETURNING {_RECORD_COLUMNS}"
    )

    @staticmethod
    def _free_dead_holders(tx: Tx, now: float) -> None:
        owners = tx.rows(
            "SELECT DISTINCT lease_owner FROM winic_inbox WHERE state = 'pending' AND lease_until >= ?", (now,)
        )
        dead = [o for (o,) in owners if o and owner_is_dead(o)]
        if dead:
            tx.run(
                "UPDATE winic_inbox SET lease_until = NULL "
                f"WHERE state = 'pending' AND lease_owner IN ({marks(len(dead))})",
                dead,
            )

    def ack(self, record_id: str) -> bool:
        """Mark a record handed on: it is never handed on again. False if it was not pending."""
        return self.ack_many([record_id]) > 0

    def ack_many(self, record_ids: Sequence[str]) -> int:
        """Mark records handed on in one statement (a batch hand-off's acknowledgement); returns how many
        were still pending."""
        if not record_ids:
            return 0
        changed, done_at = 0, utc_iso(self.clock())
        with self._transaction(single=len(record_ids) <= _IDS_PER_STATEMENT) as tx:
            for start in range(0, len(record_ids), _IDS_PER_STATEMENT):
                chunk = list(record_ids[start : start + _IDS_PER_STATEMENT])
                changed += tx.run(
                    "UPDATE winic_inbox SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL "
                    f"WHERE id IN ({marks(len(chunk))}) AND state = 'pending'",
                    (done_at, *chunk),
                )
        return changed

    def ack_all(self, record_ids: Sequence[str]) -> int:
        """:meth:`ack` for many records handed on together, in one transaction; returns how many were pending."""
        changed = 0
        for start in range(0, len(record_ids), 1000):
            page = list(record_ids[start : start + 1000])
            with self._transaction(single=True) as tx:
                changed += tx.run(
                    "UPDATE winic_inbox SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL "
                    f"WHERE id IN ({marks(len(page))}) AND state = 'pending'",
                    (utc_iso(self.clock()), *page),
                )
        return changed

    def fail(self, record_id: str, error: str, *, retry_after: float = 0.0, owner: str | None = None) -> str:
        """Note a failed hand-off and release the record, to be claimed again after ``retry_after`` seconds:
        ``pending`` again, or ``dead`` once it was handed off ``max_handoffs`` times. Returns the state.

        With ``owner``, only while that owner still holds the record's lease: a consumer whose lease ran
        out must not put back a record another consumer now holds ("lost" is returned then)."""
        with self._transaction(single=True) as tx:
            until = self._now(tx) + retry_after if retry_after > 0 else None
            rows = tx.rows(
                "UPDATE winic_inbox SET last_error = ?, lease_owner = NULL, lease_until = ?, "
                "state = CASE WHEN attempts >= ? THEN 'dead' ELSE 'pending' END "
                "WHERE id = ? AND state = 'pending' AND (CAST(? AS TEXT) IS NULL OR lease_owner = ?) RETURNING state",
                (error[:500], until, self.max_handoffs, record_id, owner, owner),
            )
        if rows:
            return str(rows[0][0])
        return "lost" if owner is not None and self.get(record_id) is not None else "gone"

    def retry(self, record_id: str) -> bool:
        """Put a dead letter back in line with a fresh count of hand-offs."""
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_inbox SET state = 'pending', attempts = 0, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state = 'dead'",
                (record_id,),
            )
        return changed > 0

    # -- inbox: reads ----------------------------------------------------------------------
    def records(self, state: str | None = "pending", *, kind: str | None = None, limit: int = -1) -> list[InboxRecord]:
        """Stored records, oldest first; ``state`` None means all."""
        if state is not None and state not in RECORD_STATES:
            raise InputError("state", f"must be one of {', '.join(RECORD_STATES)}", state)
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_RECORD_COLUMNS} FROM winic_inbox "
                "WHERE (CAST(? AS TEXT) IS NULL OR state = ?) AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
                "ORDER BY seq LIMIT ?",
                (state, state, kind, kind, limit if limit >= 0 else 1 << 62),
            )
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return [self._record(r, sends) for r in rows]

    def pending(self, kind: str | None = None, limit: int | None = None) -> list[InboxRecord]:
        """Records not yet handed on, oldest first (claimed or not)."""
        return self.records("pending", kind=kind, limit=-1 if limit is None else limit)

    def get(self, record_id: str) -> InboxRecord | None:
        """One record by its id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(f"SELECT {_RECORD_COLUMNS} FROM winic_inbox WHERE id = ?", (record_id,))
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return self._record(rows[0], sends) if rows else None

    def by_message_id(self, message_id: str) -> list[InboxRecord]:
        """Every report stored for one message id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_RECORD_COLUMNS} FROM winic_inbox WHERE message_id = ? ORDER BY seq", (message_id,)
            )
            sends = self._sends_for(tx, {message_id})
        return [self._record(r, sends) for r in rows]

    def counts(self) -> dict[str, int]:
        """Records per state, and the batches the journal holds."""
        with self._transaction() as tx:
            by_state = dict(tx.rows("SELECT state, COUNT(*) FROM winic_inbox GROUP BY state"))
            (batches,) = tx.rows("SELECT COUNT(*) FROM winic_batches")[0]
        counts = {state: int(by_state.get(state, 0)) for state in RECORD_STATES}
        counts["records"] = sum(counts.values())
        counts["batches"] = int(batches)
        return counts

    def _sends_for(self, tx: Tx, message_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not message_ids:
            return {}
        ids = sorted(message_ids)
        rows = tx.rows(
            "SELECT b.message_id, j.text, b.started_at, j.operation, b.size, j.id, b.idx, b.source "
            f"FROM winic_batches b JOIN winic_jobs j ON j.id = b.job_id WHERE b.message_id IN ({marks(len(ids))})",
            ids,
        )
        return {
            r[0]: {"text": r[1], "sent_at": r[2], "operation": r[3], "recipients": r[4], "job": r[5], "batch": r[6]}
            | ({"from": r[7]} if r[7] == "reports" else {})
            for r in rows
        }

    @staticmethod
    def _record(row: Sequence[Any], sends: Mapping[str, dict[str, Any]]) -> InboxRecord:
        return InboxRecord(
            id=row[0],
            seq=int(row[1]),
            kind=row[2],
            endpoint=row[3],
            uid=row[4],
            operation=row[5],
            data=json.loads(row[6]),
            raw=row[7],
            pulled_at=row[8],
            state=row[9],
            attempts=int(row[10]),
            last_error=row[11],
            send=sends.get(row[12]) if row[12] else None,
            settled=row[13],
            repeat_of=row[14],
        )
