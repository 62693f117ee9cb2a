"""Opt-out: the suppression list in the store. Replies whose text is an opt-out keyword put their number on
it when they are committed (whoever commits them), opt-in keywords take it off, operators add and remove
numbers by hand; sends through a client with a store leave listed numbers out before the wire.

Each number has one row, its latest change: a change applies only when its event (the reply's time, or the
operator's) is at least as recent as the row's, so a replayed or late old reply never undoes a newer one.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from winic_soap.exceptions import InputError
from winic_soap.models import Reply, Suppressed, service_time
from winic_soap.recipients import Numbers, chunked, domestic_numbers, international_numbers
from winic_soap.states import SuppressionSource
from winic_soap.store.ids import utc_iso
from winic_soap.store.schema import marks

if TYPE_CHECKING:
    from winic_soap._base import SendPlan
    from winic_soap.store.base import Store
    from winic_soap.store.schema import Tx

__all__ = [
    "DEFAULT_OPT_IN",
    "DEFAULT_OPT_OUT",
    "NUMBER_RULE",
    "Keywords",
    "Suppression",
    "normalise",
    "number_key",
    "screen",
    "screen_job",
]

#: the mainland conventions (退订 and its traditional form, TD/T/N/R) and the international STOP words
DEFAULT_OPT_OUT = ("退订", "退訂", "TD", "T", "N", "R", "STOP", "UNSUBSCRIBE")
DEFAULT_OPT_IN = ("订阅", "訂閱", "START", "UNSTOP")
_PROBE = 5000  # numbers per indexed lookup (SQLite allows 32766 parameters)
_WHOLE = 10  # a list up to this many times the send is read whole (numbers only, from the index)
_COLUMNS = "mobile, source, event_at, text, record_id"


def normalise(text: str) -> str:
    """How a reply is compared with the keywords: NFKC (full-width Ｔ Ｄ become T D), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


NUMBER_RULE = "not a mainland mobile or an international number"  # what number_key accepts


def number_key(number: str) -> str:
    """A number as sends carry it (mainland: 11 digits; else its country code and digits), so a reply from
    ``+86 138...`` and a send to ``138...`` meet on one key."""
    try:
        return domestic_numbers([number], field="number")[0]
    except InputError:
        return international_numbers([number], field="number")[0]


@dataclass(frozen=True)
class Keywords:
    """The opt-out and opt-in keywords, normalised; one word cannot be both."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def of(cls, opt_out: Iterable[str] | None = None, opt_in: Iterable[str] | None = None) -> Keywords:
        out = frozenset(normalise(w) for w in (DEFAULT_OPT_OUT if opt_out is None else opt_out))
        back = frozenset(normalise(w) for w in (DEFAULT_OPT_IN if opt_in is None else opt_in))
        if "" in out or "" in back:
            raise InputError("opt_out_keywords", "a keyword must not be empty")
        both = out & back
        if both:
            raise InputError("opt_in_keywords", "a keyword cannot both opt out and opt in", sorted(both))
        return cls(out, back)

    def classify(self, text: str) -> bool | None:
        """True for an opt-out, False for an opt-in, None for any other reply."""
        word = normalise(text)
        return True if word in self.opt_out else False if word in self.opt_in else None


def _upsert(tx: Tx, rows: Sequence[tuple[object, ...]], *, operator: bool = False) -> None:
    """A reply changes a number's row only when it is at least as recent as the row's event (the same reply
    committed again changes nothing); an operator's change always applies (their decision, whatever the
    service's clock says) and counts as later than the row's event, so only a newer reply undoes it."""
    if operator:
        condition = ""
        epoch = (
            "CASE WHEN excluded.event_epoch > winic_suppression.event_epoch "
            "THEN excluded.event_epoch ELSE winic_suppression.event_epoch + 0.001 END"
        )
    else:
        condition = " WHERE excluded.event_epoch >= winic_suppression.event_epoch"
        epoch = "excluded.event_epoch"
    tx.many(
        "INSERT INTO winic_suppression (mobile, suppressed, source, record_id, text, event_at, event_epoch, "
        "changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mobile) DO UPDATE SET "
        "suppressed = excluded.suppressed, source = excluded.source, record_id = excluded.record_id, "
        f"text = excluded.text, event_at = excluded.event_at, event_epoch = {epoch}, "
        f"changed_at = excluded.changed_at{condition}",
        rows,
    )


def record_replies(tx: Tx, keywords: Keywords, pulled: Sequence[tuple[str, object]], now: float) -> int:
    """In the transaction that commits pulled records: each opt-out or opt-in reply changes its number's row,
    with the reply (its record id, text and time) as evidence. Returns how many replies changed the list."""
    rows = []
    for record_id, record in pulled:
        if not isinstance(record, Reply):
            continue
        opted_out = keywords.classify(record.text)
        if opted_out is None:
            continue
        try:
            mobile = number_key(record.mobile)
        except InputError:
            continue  # not a number a send could carry: nothing to suppress
        when = record.received_at
        epoch = now if when is None else service_time(when).timestamp()
        at = utc_iso(epoch)
        rows.append((mobile, int(opted_out), "reply", record_id, record.text, at, epoch, utc_iso(now)))
    if rows:
        _upsert(tx, rows)
    return len(rows)


def _entry(row: Sequence[object]) -> Suppressed:
    return Suppressed(str(row[0]), str(row[1]), str(row[2]), None if row[3] is None else str(row[3]),
                      None if row[4] is None else str(row[4]))  # fmt: skip


class Suppression:
    """The suppression list of one store (``store.suppression``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check(self, numbers: Sequence[str]) -> dict[str, Suppressed]:
        """The listed numbers among ``numbers`` (as sends carry them), with why, in no order. A list up to
        ten times the send is read whole, numbers only, from its index and intersected in memory; a longer
        one is probed by key for each number: the cost follows the smaller of the two, then the few hits
        are read in full."""
        if not numbers:
            return {}
        with self.store._transaction() as tx:
            # is the list much longer than the send? walks at most that many index entries, fetches one row
            longer = tx.rows(
                "SELECT 1 FROM winic_suppression WHERE suppressed = 1 LIMIT 1 OFFSET ?", (len(numbers) * _WHOLE,)
            )
            if not longer:
                listed = {m for (m,) in tx.rows("SELECT mobile FROM winic_suppression WHERE suppressed = 1")}
                # the set operation runs in C (on a bulk plan's compact numbers, as integers)
                hits = sorted(numbers.among(listed) if isinstance(numbers, Numbers) else listed.intersection(numbers))
            else:
                probe = "SELECT mobile FROM winic_suppression WHERE suppressed = 1 AND mobile IN ({})"
                hits = [m for part in chunked(numbers, _PROBE) for (m,) in tx.rows(
                    probe.format(marks(len(part))), part
                )]  # fmt: skip
            rows = [
                row
                for part in chunked(hits, _PROBE)
                for row in tx.rows(
                    f"SELECT {_COLUMNS} FROM winic_suppression WHERE mobile IN ({marks(len(part))})", part
                )
            ]
        return {str(r[0]): _entry(r) for r in rows}

    def entries(self, *, cleared: bool = False) -> list[Suppressed]:
        """Every listed number by number; ``cleared``: the numbers taken off instead (opt-in or remove)."""
        with self.store._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_COLUMNS} FROM winic_suppression WHERE suppressed = ? ORDER BY mobile", (int(not cleared),)
            )
        return [_entry(r) for r in rows]

    def add(
        self, numbers: Iterable[str], *, note: str | None = None, source: SuppressionSource = "manual"
    ) -> list[str]:
        """Put numbers on the list by hand (``source`` ``manual`` or ``import``); returns them as keyed."""
        return self._change(numbers, True, note, source)

    def remove(self, numbers: Iterable[str], *, note: str | None = None) -> list[str]:
        """Take numbers off the list (the person asked to receive messages again); returns them as keyed."""
        return self._change(numbers, False, note, "manual")

    def _change(
        self, numbers: Iterable[str], suppressed: bool, note: str | None, source: SuppressionSource
    ) -> list[str]:
        if source not in ("manual", "import"):
            raise InputError("source", "must be manual or import", source)
        keys = []
        for index, number in enumerate(numbers):
            try:
                keys.append(number_key(number))
            except InputError:
                raise InputError(f"numbers[{index}]", NUMBER_RULE, number) from None
        keys = list(dict.fromkeys(keys))
        if not keys:
            raise InputError("numbers", "at least one number is required")
        now = self.store.clock()
        rows = [(k, int(suppressed), source, None, note, utc_iso(now), now, utc_iso(now)) for k in keys]
        with self.store._transaction() as tx:
            _upsert(tx, rows, operator=True)
        return keys


def screen(store: Store, plan: SendPlan) -> None:
    """Leave the listed numbers out of ``plan`` before anything is sent (its batches made again from what is
    left) and name them in ``plan.suppressed``. The store down is a StoreError: nothing is sent unchecked."""
    numbers = plan.recipients()
    found = store.suppression.check(numbers)
    if not found:
        return
    kept = numbers.without(found) if isinstance(numbers, Numbers) else [n for n in numbers if n not in found]
    plan.numbers = kept
    plan.batches = chunked(kept)
    plan.suppressed = tuple(found[n] for n in sorted(found))


def screen_job(store: Store, job_id: str) -> list[Suppressed]:
    """Before a stored job's never-attempted batches go out (``jobs resume``, a replay): leave out numbers
    listed since the job was written. Each ``new`` batch loses them (one left empty is deleted: nothing of
    it would go out), and the job's ``suppressed`` option gains them, so its receipt names them. Batches
    another process took meanwhile are left alone. Returns the numbers left out now."""
    batches = store.batches(job_id, ["new"])
    found = store.suppression.check([n for b in batches for n in b.numbers])
    if not found:
        return []
    left_out: list[Suppressed] = []
    with store._transaction() as tx:
        tx.run("UPDATE winic_jobs SET options = options WHERE id = ?", (job_id,))  # one screening of a job at a time
        for batch in batches:
            left = [n for n in batch.numbers if n not in found]
            if len(left) == len(batch.numbers):
                continue
            where = "WHERE job_id = ? AND idx = ? AND state = 'new' AND numbers = ?"
            key = (job_id, batch.index, ",".join(batch.numbers))
            if left:
                changed = tx.run(
                    f"UPDATE winic_batches SET numbers = ?, size = ? {where}", (",".join(left), len(left), *key)
                )
            else:
                changed = tx.run(f"DELETE FROM winic_batches {where}", key)
            if changed:
                left_out += [found[n] for n in batch.numbers if n in found]
        if left_out:
            options = json.loads(tx.rows("SELECT options FROM winic_jobs WHERE id = ?", (job_id,))[0][0])
            options["suppressed"] = [*(options.get("suppressed") or []), *(s.as_dict() for s in left_out)]
            tx.run("UPDATE winic_jobs SET options = ? WHERE id = ?", (json.dumps(options, default=str), job_id))
    return left_out
