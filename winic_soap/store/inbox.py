"""The durable inbox: pulled records kept (spooled first, committed idempotently), then claimed under a
lease, acknowledged once handed on, failed back into line or into the dead letters, and read back."""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from winic_soap.exceptions import InputError, StoreError
from winic_soap.models import DeliveryReport, Reply
from winic_soap.states import RECORD_STATES, RecordKind, RecordState, Released
from winic_soap.store import settle, suppression
from winic_soap.store.ids import new_id, utc_iso
from winic_soap.store.outcomes import OutcomesMixin
from winic_soap.store.owners import owner_is_dead
from winic_soap.store.records import (
    RECORD_COLUMNS,
    InboxRecord,
    inbox_record,
    inbox_row,
    pulled_record,
    sends_for,
)
from winic_soap.store.schema import Tx, marks
from winic_soap.store.spool import PulledAnswer

__all__ = ["InboxMixin"]

logger = logging.getLogger("winic_soap.store")
_IDS_PER_STATEMENT = 500  # ids bound in one statement: well under every backend's limit of parameters


class InboxMixin(OutcomesMixin):
    """The store's inbox (``winic_inbox``). Committing reports settles unknown sends they prove accepted,
    hence its base."""

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
            inbox_row(new_id(now), r, operation=operation, endpoint=endpoint, uid=uid, pulled_at=pulled_at, now=now)
            for r in records
        )
        return PulledAnswer(new_id(now), operation, rows)

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
            pulled = [(row[0], pulled_record(row)) for row in rows if row[1] == "reply" or row[1] == "report"]
            suppression.record_replies(tx, self.keywords, pulled, float(rows[0][11]))
            settle.record_reports(tx, self.precedence, pulled, str(rows[0][10]))
        message_ids = {row[5] for row in rows if row[1] == "report"}
        if message_ids:
            try:
                self.resolve_unknown(message_ids)
            except StoreError as exc:  # the records are safe; resolving can wait for the next reports
                logger.warning("resolving unknown sends from reports failed: %s", exc)

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
                yield inbox_row(
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
        self, owner: str, *, limit: int = 100, lease: float | None = None, kind: RecordKind | None = None
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
            sends = sends_for(tx, {r[12] for r in rows if r[12]})
        return sorted((inbox_record(r, sends) for r in rows), key=lambda r: r.seq)

    _CLAIM = (
        "UPDATE winic_inbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
        "WHERE seq IN (SELECT seq FROM winic_inbox WHERE state = 'pending' "
        # "+ 0": walk the (state, seq) index in order; the attempts index would sort every pending row
        "AND (lease_until IS NULL OR lease_until < ?) AND attempts + 0 < ? "
        "AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
        f"ORDER BY seq LIMIT ?{{skip_locked}}) RETURNING {RECORD_COLUMNS}"
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

    def fail(
        self,
        record_id: str,
        error: str,
        *,
        retry_after: float = 0.0,
        owner: str | None = None,
        counted: bool = True,
    ) -> Released:
        """Note a failed hand-off and release the record, to be claimed again after ``retry_after`` seconds:
        ``pending`` again, or ``dead`` once it was handed off ``max_handoffs`` times. Returns the state.

        With ``owner``, only while that owner still holds the record's lease: a consumer whose lease ran
        out must not put back a record another consumer now holds ("lost" is returned then).
        ``counted=False``: the consumer itself stopped the hand-off (a clean shutdown), so its claim's attempt
        is given back and the record stays ``pending`` (a stop is no fault of the record's)."""
        back = 0 if counted else 1
        with self._transaction(single=True) as tx:
            until = self._now(tx) + retry_after if retry_after > 0 else None
            rows = tx.rows(
                "UPDATE winic_inbox SET last_error = ?, lease_owner = NULL, lease_until = ?, "
                "state = CASE WHEN ? = 0 AND attempts >= ? THEN 'dead' ELSE 'pending' END, "
                "attempts = attempts - CASE WHEN attempts > 0 THEN ? ELSE 0 END "
                "WHERE id = ? AND state = 'pending' AND (CAST(? AS TEXT) IS NULL OR lease_owner = ?) RETURNING state",
                (error[:500], until, back, self.max_handoffs, back, record_id, owner, owner),
            )
        if rows:
            return "dead" if rows[0][0] == "dead" else "pending"
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
    def records(
        self, state: RecordState | None = "pending", *, kind: RecordKind | None = None, limit: int = -1
    ) -> list[InboxRecord]:
        """Stored records, oldest first; ``state`` None means all."""
        if state is not None and state not in RECORD_STATES:
            raise InputError("state", f"must be one of {', '.join(RECORD_STATES)}", state)
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {RECORD_COLUMNS} FROM winic_inbox "
                "WHERE (CAST(? AS TEXT) IS NULL OR state = ?) AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
                "ORDER BY seq LIMIT ?",
                (state, state, kind, kind, limit if limit >= 0 else 1 << 62),
            )
            sends = sends_for(tx, {r[12] for r in rows if r[12]})
        return [inbox_record(r, sends) for r in rows]

    def pending(self, kind: RecordKind | None = None, limit: int | None = None) -> list[InboxRecord]:
        """Records not yet handed on, oldest first (claimed or not)."""
        return self.records("pending", kind=kind, limit=-1 if limit is None else limit)

    def get(self, record_id: str) -> InboxRecord | None:
        """One record by its id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(f"SELECT {RECORD_COLUMNS} FROM winic_inbox WHERE id = ?", (record_id,))
            sends = sends_for(tx, {r[12] for r in rows if r[12]})
        return inbox_record(rows[0], sends) if rows else None

    def by_message_id(self, message_id: str) -> list[InboxRecord]:
        """Every report stored for one message id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(f"SELECT {RECORD_COLUMNS} FROM winic_inbox WHERE message_id = ? ORDER BY seq", (message_id,))
            sends = sends_for(tx, {message_id})
        return [inbox_record(r, sends) for r in rows]

    def counts(self) -> dict[str, int]:
        """Records per state, and the batches the journal holds."""
        with self._transaction() as tx:
            by_state = dict(tx.rows("SELECT state, COUNT(*) FROM winic_inbox GROUP BY state"))
            (batches,) = tx.rows("SELECT COUNT(*) FROM winic_batches")[0]
        counts: dict[str, int] = {state: int(by_state.get(state, 0)) for state in RECORD_STATES}
        counts["records"] = sum(counts.values())
        counts["batches"] = int(batches)
        return counts
