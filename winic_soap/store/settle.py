"""Reports that settle: each (message id, mobile) has one current status, chosen by a documented precedence
as reports are committed, and a repeat of a report already stored is kept as a repeat, never handed on.

The precedence (highest wins; the table of in-transit states is configurable):

======================  ====  ==========================================================================
status                  rank  when a report of the same rank arrives
======================  ====  ==========================================================================
``DELIVRD``             3     kept: delivered is final (a later failure for it is a stale or bogus report)
any other (a failure)   2     kept: the first final failure stands (``UNDELIV`` then ``EXPIRED`` stays
                              ``UNDELIV``); a late ``DELIVRD`` outranks it (the operator retried and won)
in transit              1     the later report (by its time; same time: the later arrival) replaces it:
(``ENROUTE``, ``ACCEPTD``)    ``ENROUTE`` then ``ACCEPTD``; never replaces a final status
======================  ====  ==========================================================================

A report is "the same" as another when message id, mobile, status and time all match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winic_soap.models import DeliveryReport
from winic_soap.recipients import chunked
from winic_soap.store.schema import marks

if TYPE_CHECKING:
    from winic_soap.store.schema import Tx

__all__ = ["DEFAULT_INTERMEDIATE", "DELIVERED", "Precedence", "forget", "record_reports"]

DELIVERED = "DELIVRD"
#: SMPP's in-transit states: a report that something is under way, never that it ended
DEFAULT_INTERMEDIATE = ("ENROUTE", "ACCEPTD")
_CHUNK = 400


@dataclass(frozen=True)
class Precedence:
    """The table above: which statuses are in transit (every other one but ``DELIVRD`` is a final failure)."""

    intermediate: frozenset[str]

    @classmethod
    def of(cls, intermediate: Iterable[str] | None = None) -> Precedence:
        states = frozenset(s.strip().upper() for s in (DEFAULT_INTERMEDIATE if intermediate is None else intermediate))
        if DELIVERED in states:
            from winic_soap.exceptions import InputError

            raise InputError("intermediate_statuses", "DELIVRD is final, it cannot be in transit", sorted(states))
        return cls(states)

    def rank(self, status: str) -> int:
        if status == DELIVERED:
            return 3
        return 1 if status.upper() in self.intermediate else 2

    def final(self, status: str) -> bool:
        return self.rank(status) > 1

    def replaces(self, new: tuple[str, str], current: tuple[str, str]) -> bool:
        """Whether report ``new`` (status, time) settles over ``current`` (status, time)."""
        (status, at), (old, old_at) = new, current
        rank, old_rank = self.rank(status), self.rank(old)
        if rank != old_rank:
            return rank > old_rank
        return rank == 1 and at >= old_at and (status, at) != (old, old_at)


def _at(report: DeliveryReport) -> str:
    return report.at.isoformat() if report.at is not None else ""


def record_reports(tx: Tx, precedence: Precedence, pulled: Sequence[tuple[str, object]], now: str) -> int:
    """In the transaction that commits pulled records: mark repeats (stored already handed on, ``repeat_of``
    the first record) and settle each (message id, mobile) by :class:`Precedence`, writing the settled status
    on every stored report of it. Committing the same records again changes nothing. Returns the repeats."""
    reports = [(rid, r) for rid, r in pulled if isinstance(r, DeliveryReport)]
    if not reports:
        return 0
    tx.many(
        "INSERT INTO winic_report_seen (message_id, mobile, status, at, record_id) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (message_id, mobile, status, at) DO NOTHING",
        [(r.message_id, r.mobile, r.status, _at(r), rid) for rid, r in reports],
    )
    message_ids = sorted({r.message_id for _, r in reports})
    first: dict[tuple[str, str, str, str], str] = {}
    current: dict[tuple[str, str], tuple[str, str]] = {}
    for part in chunked(message_ids, _CHUNK):
        placeholders = marks(len(part))
        seen = "SELECT message_id, mobile, status, at, record_id FROM winic_report_seen WHERE message_id IN ({})"
        for mid, mobile, status, at, rid in tx.rows(seen.format(placeholders), part):
            first[(mid, mobile, status, at)] = rid
        for mid, mobile, status, at in tx.rows(
            f"SELECT message_id, mobile, status, at FROM winic_settled WHERE message_id IN ({placeholders})", part
        ):
            current[(mid, mobile)] = (status, at)
    existed = set(current)
    repeats: list[tuple[str, str, str]] = []
    settled: dict[tuple[str, str], tuple[str, str, str]] = {}
    for rid, r in reports:
        key, at = (r.message_id, r.mobile), _at(r)
        original = first.get((r.message_id, r.mobile, r.status, at), rid)
        if original != rid:
            repeats.append((original, now, rid))
            continue
        now_current = current.get(key)
        if now_current is None or precedence.replaces((r.status, at), now_current):
            current[key] = (r.status, at)
            settled[key] = (r.status, at, rid)
    if repeats:
        tx.many(
            "UPDATE winic_inbox SET repeat_of = ?, state = 'done', done_at = ? WHERE id = ? AND state = 'pending'",
            repeats,
        )
    if settled:
        tx.many(
            "INSERT INTO winic_settled (message_id, mobile, status, final, at, record_id, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, mobile) DO UPDATE SET "
            "status = excluded.status, final = excluded.final, at = excluded.at, record_id = excluded.record_id, "
            "updated_at = excluded.updated_at",
            [(m, n, s, int(precedence.final(s)), a, rid, now) for (m, n), (s, a, rid) in settled.items()],
        )
    # a new record whose status is not its pair's settled one gets it by its id (cheap); older records of a pair
    # only when the pair's status changed
    # (a report whose own status is its pair's settled one keeps NULL: the store reads COALESCE(settled, status))
    statuses = [(c[0], rid) for rid, r in reports if (c := current.get((r.message_id, r.mobile))) and c[0] != r.status]
    if statuses:
        tx.many("UPDATE winic_inbox SET settled = ? WHERE id = ?", statuses)
    changed = [(s, m, n) for (m, n), (s, _, _) in settled.items() if (m, n) in existed]
    if changed:
        tx.many("UPDATE winic_inbox SET settled = ? WHERE message_id = ? AND mobile = ? AND kind = 'report'", changed)
    return len(repeats)


def forget(tx: Tx, records: str, params: Sequence[object]) -> None:
    """Retention, before the records selected by ``records`` (a query of inbox ids) are deleted: the report
    keys they first carried and the settled statuses they decided go with them (a status settled by a
    record still stored stays)."""
    tx.run(f"DELETE FROM winic_report_seen WHERE record_id IN ({records})", params)
    tx.run(f"DELETE FROM winic_settled WHERE record_id IN ({records})", params)
