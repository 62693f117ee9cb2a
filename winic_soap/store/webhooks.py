"""The webhook queues (:mod:`winic_soap.webhooks` delivers from them): one queue per endpoint URL in
``winic_webhook_deliveries``, filled from the inbox by a query, claimed with leases, retried on a schedule,
dead-lettered per endpoint.

Filling: every inbox record with a ``seq`` above the endpoint's cursor that has no row yet for it is queued.
On PostgreSQL the cursor only moves to a ``seq`` seen at least :data:`SETTLE` seconds before, so a record
committed late by a slow transaction (``seq`` is handed out at insert, not at commit) is never skipped;
SQLite's writers take turns, so its records commit in ``seq`` order and its cursor follows at once. An endpoint
seen for the first time starts with the records not yet handed on, then everything stored after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from winic_soap.exceptions import InputError
from winic_soap.states import Released
from winic_soap.store.ids import utc_iso
from winic_soap.store.owners import owner_is_dead
from winic_soap.store.records import RECORD_COLUMNS, InboxRecord, inbox_record, sends_for
from winic_soap.store.schema import marks

if TYPE_CHECKING:
    from winic_soap.store.base import Store
    from winic_soap.store.schema import Tx

__all__ = ["SETTLE", "DeadDelivery", "WebhookQueue", "dead_deliveries", "deliveries_of", "retry_deliveries"]

#: seconds after which no transaction can still commit a record below a seq seen then (store timeouts are far shorter)
SETTLE = 600.0
_TABLE = "winic_webhook_deliveries"


@dataclass(frozen=True)
class DeadDelivery:
    """A record one endpoint never acknowledged within its schedule (``inbox dead`` lists them)."""

    endpoint: str
    record_id: str
    attempts: int
    last_error: str | None
    last_status: int | None


class WebhookQueue:
    """One endpoint's queue on ``store``. ``schedule``: the waits (seconds) after the 1st, 2nd... failed
    attempt; a record that failed ``len(schedule) + 1`` times is dead for this endpoint."""

    def __init__(self, store: Store, endpoint: str, schedule: Sequence[float]) -> None:
        self.store, self.endpoint, self.schedule = store, endpoint, tuple(schedule)
        self.settle = 0.0 if store.backend == "sqlite" else SETTLE

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def enqueue(self, limit: int = 5000) -> int:
        """Queue up to ``limit`` stored records this endpoint has not had yet; returns how many."""
        now = self.store.clock()
        with self.store._transaction() as tx:
            start = self._cursor(tx, now)
            (top,) = tx.rows("SELECT COALESCE(MAX(seq), 0) FROM winic_inbox")[0]
            queued = tx.rows(
                f"INSERT INTO {_TABLE} (endpoint, record_id, record_seq, next_at) "
                f"SELECT ?, i.id, i.seq, ? FROM winic_inbox i WHERE i.seq > ? AND i.seq <= ? AND i.repeat_of IS NULL "
                # a repeat of a stored report (store.settle) is never handed on again, to any endpoint
                f"AND NOT EXISTS ("
                f"SELECT 1 FROM {_TABLE} d WHERE d.endpoint = ? AND d.record_id = i.id) ORDER BY i.seq LIMIT ? "
                "ON CONFLICT (endpoint, record_id) DO NOTHING RETURNING record_seq",
                (self.endpoint, now, start, top, self.endpoint, limit),
            )
            # everything up to `seen` is queued now; it becomes the cursor once `settle` has passed
            seen = max(int(s) for (s,) in queued) if len(queued) >= limit else int(top)
            tx.run(
                "UPDATE winic_webhook_cursors SET seq = CASE WHEN since <= ? THEN candidate ELSE seq END, "
                "candidate = CASE WHEN since <= ? THEN ? ELSE candidate END, "
                "since = CASE WHEN since <= ? THEN ? ELSE since END WHERE endpoint = ?",
                (now - self.settle, now - self.settle, seen, now - self.settle, now, self.endpoint),
            )
        return len(queued)

    def _cursor(self, tx: Tx, now: float) -> int:
        rows = tx.rows("SELECT seq FROM winic_webhook_cursors WHERE endpoint = ?", (self.endpoint,))
        if rows:
            return int(rows[0][0])
        # a new endpoint: what is not handed on yet, and everything stored from now on
        (start,) = tx.rows(
            "SELECT COALESCE((SELECT MIN(seq) - 1 FROM winic_inbox WHERE state <> 'done'), "
            "(SELECT MAX(seq) FROM winic_inbox), 0)"
        )[0]
        tx.run(
            "INSERT INTO winic_webhook_cursors (endpoint, seq, candidate, since) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (endpoint) DO NOTHING",
            (self.endpoint, int(start), int(start), now),
        )
        return int(tx.rows("SELECT seq FROM winic_webhook_cursors WHERE endpoint = ?", (self.endpoint,))[0][0])

    def claim(self, owner: str, *, limit: int, lease: float) -> list[tuple[InboxRecord, int]]:
        """Lease up to ``limit`` due records to ``owner``, oldest first, each with its attempt number (this
        claim counts as one). Leases of dead holders on this host come back at once, expired ones anyway;
        a record whose holders died ``max_attempts`` times is dead."""
        now = self.store.clock()
        with self.store._transaction(durable=False) as tx:  # a lost claim only makes the record claimable again
            rows = self._claim(tx, owner, now, limit, lease)
            if not rows:
                self._free_dead_holders(tx, now)
                tx.run(
                    f"UPDATE {_TABLE} SET state = 'dead', lease_owner = NULL, lease_until = NULL, "
                    "last_error = COALESCE(last_error, 'delivery never finished') WHERE endpoint = ? "
                    "AND state = 'pending' AND attempts >= ? AND (lease_until IS NULL OR lease_until < ?)",
                    (self.endpoint, self.max_attempts, now),
                )
                rows = self._claim(tx, owner, now, limit, lease)
            attempts = {str(r[0]): int(r[1]) for r in rows}
            if not attempts:
                return []
            ids = sorted(attempts)
            records = tx.rows(f"SELECT {RECORD_COLUMNS} FROM winic_inbox WHERE id IN ({marks(len(ids))})", ids)
            sends = sends_for(tx, {r[12] for r in records if r[12]})
            found = {r[0] for r in records}
            gone = [i for i in ids if i not in found]
            if gone:  # purged from the inbox meanwhile: nothing left to send
                tx.run(
                    f"DELETE FROM {_TABLE} WHERE endpoint = ? AND record_id IN ({marks(len(gone))})",
                    [self.endpoint, *gone],
                )
        claimed = [(inbox_record(r, sends), attempts[r[0]]) for r in records]
        return sorted(claimed, key=lambda pair: pair[0].seq)

    def _claim(self, tx: Tx, owner: str, now: float, limit: int, lease: float) -> list[tuple[Any, ...]]:
        return tx.rows(
            f"UPDATE {_TABLE} SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
            f"WHERE endpoint = ? AND record_id IN (SELECT record_id FROM {_TABLE} WHERE endpoint = ? "
            "AND state = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?) AND attempts < ? "
            f"ORDER BY record_seq LIMIT ?{self.store._skip_locked}) RETURNING record_id, attempts",
            (owner, now + lease, self.endpoint, self.endpoint, now, now, self.max_attempts, limit),
        )

    def _free_dead_holders(self, tx: Tx, now: float) -> None:
        owners = tx.rows(
            f"SELECT DISTINCT lease_owner FROM {_TABLE} WHERE endpoint = ? AND state = 'pending' AND lease_until >= ?",
            (self.endpoint, now),
        )
        dead = [o for (o,) in owners if o and owner_is_dead(o)]
        if dead:
            tx.run(
                f"UPDATE {_TABLE} SET lease_until = NULL WHERE endpoint = ? AND state = 'pending' "
                f"AND lease_owner IN ({marks(len(dead))})",
                [self.endpoint, *dead],
            )

    def renew(self, record_ids: Sequence[str], owner: str, lease: float) -> set[str]:
        """Extend ``owner``'s lease on these records; returns the ids it still holds."""
        if not record_ids:
            return set()
        with self.store._transaction(durable=False) as tx:
            rows = tx.rows(
                f"UPDATE {_TABLE} SET lease_until = ? WHERE endpoint = ? AND state = 'pending' AND lease_owner = ? "
                f"AND record_id IN ({marks(len(record_ids))}) RETURNING record_id",
                [self.store.clock() + lease, self.endpoint, owner, *record_ids],
            )
        return {str(r[0]) for r in rows}

    def ack(self, record_ids: Sequence[str]) -> int:
        """The endpoint answered 2xx: these records are delivered to it, never sent to it again."""
        if not record_ids:
            return 0
        with self.store._transaction() as tx:
            return tx.run(
                f"UPDATE {_TABLE} SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL, "
                "last_error = NULL WHERE endpoint = ? AND state = 'pending' "
                f"AND record_id IN ({marks(len(record_ids))})",
                [utc_iso(self.store.clock()), self.endpoint, *record_ids],
            )

    def release(self, record_ids: Sequence[str], owner: str) -> None:
        """Give back records claimed and never sent (a stop, or the endpoint failing): their claim did not count."""
        if not record_ids:
            return
        with self.store._transaction() as tx:
            tx.run(
                f"UPDATE {_TABLE} SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 "
                "WHERE endpoint = ? AND state = 'pending' AND lease_owner = ? "
                f"AND record_id IN ({marks(len(record_ids))})",
                [self.endpoint, owner, *record_ids],
            )

    def fail(self, record_id: str, owner: str, error: str, status: int | None = None) -> Released:
        """Note a failed attempt: ``pending`` again after the schedule's wait for this attempt, or ``dead``
        after the last one. ``lost`` if ``owner`` no longer held the record."""
        now = self.store.clock()
        with self.store._transaction() as tx:
            rows = tx.rows(
                f"SELECT attempts FROM {_TABLE} WHERE endpoint = ? AND record_id = ? AND state = 'pending' "
                "AND lease_owner = ?",
                (self.endpoint, record_id, owner),
            )
            if not rows:
                return "lost"
            attempts = int(rows[0][0])
            dead = attempts >= self.max_attempts
            wait = 0.0 if dead else float(self.schedule[attempts - 1])
            tx.run(
                f"UPDATE {_TABLE} SET state = ?, next_at = ?, last_error = ?, last_status = ?, lease_owner = NULL, "
                "lease_until = NULL WHERE endpoint = ? AND record_id = ?",
                ("dead" if dead else "pending", now + wait, error[:500], status, self.endpoint, record_id),
            )
        return "dead" if dead else "pending"

    def next_due(self) -> float | None:
        """When the next pending record of this endpoint is due (store clock), None when none is pending."""
        with self.store._transaction(single=True) as tx:
            (due,) = tx.rows(
                f"SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_at THEN lease_until "
                f"ELSE next_at END) FROM {_TABLE} WHERE endpoint = ? AND state = 'pending'",
                (self.endpoint,),
            )[0]
        return None if due is None else float(due)

    def counts(self) -> dict[str, int]:
        """This endpoint's deliveries per state."""
        with self.store._transaction(single=True) as tx:
            rows = tx.rows(f"SELECT state, COUNT(*) FROM {_TABLE} WHERE endpoint = ? GROUP BY state", (self.endpoint,))
        return {"pending": 0, "done": 0, "dead": 0} | {str(s): int(n) for s, n in rows}


def dead_deliveries(store: Store, limit: int = -1) -> list[DeadDelivery]:
    """Every dead delivery, by endpoint then record, for ``inbox dead``."""
    with store._transaction(single=True) as tx:
        rows = tx.rows(
            f"SELECT endpoint, record_id, attempts, last_error, last_status FROM {_TABLE} WHERE state = 'dead' "
            "ORDER BY record_seq, endpoint LIMIT ?",
            (limit if limit >= 0 else 1 << 62,),
        )
    return [DeadDelivery(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]


def deliveries_of(store: Store, record_id: str) -> list[dict[str, Any]]:
    """One record's delivery to each endpoint (``inbox show``): state, attempts, last error and status."""
    with store._transaction(single=True) as tx:
        rows = tx.rows(
            f"SELECT endpoint, state, attempts, last_error, last_status, done_at FROM {_TABLE} "
            "WHERE record_id = ? ORDER BY endpoint",
            (record_id,),
        )
    names = ("endpoint", "state", "attempts", "last_error", "last_status", "done_at")
    return [dict(zip(names, row, strict=True)) for row in rows]


def retry_deliveries(store: Store, record_ids: Sequence[str] | None, endpoint: str | None = None) -> list[str]:
    """Put dead deliveries (of these records, or all with None; of one endpoint, or all) back in line with a
    fresh schedule; returns the record ids put back."""
    if record_ids is not None and not record_ids:
        raise InputError("id", "name dead records to retry, or --all")
    where = "state = 'dead' AND (CAST(? AS TEXT) IS NULL OR endpoint = ?)"
    params: list[Any] = [endpoint, endpoint]
    if record_ids is not None:
        where += f" AND record_id IN ({marks(len(record_ids))})"
        params += list(record_ids)
    with store._transaction() as tx:
        rows = tx.rows(
            f"UPDATE {_TABLE} SET state = 'pending', attempts = 0, next_at = ?, lease_owner = NULL, "
            f"lease_until = NULL WHERE {where} RETURNING record_id",
            [store.clock(), *params],
        )
    return sorted({str(r[0]) for r in rows})
