"""Retention: what ``store purge`` and the watcher's ``retention`` setting (default in :mod:`winic_soap.config`)
delete, and how an age is written.

Handed-on (``done``) records older than the age are deleted whole (their payload and raw text carry one-time
codes); finished jobs (every batch ``accepted`` or ``failed``) whose last batch finished before it keep their
row, batches, states, message ids and counts but lose their text. Pending and dead records, and jobs with a
``new``, ``sending`` or ``unknown`` batch, are never touched; nor is a record a webhook endpoint has not
acknowledged yet (pending or dead there).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from winic_soap.exceptions import InputError
from winic_soap.store import settle

if TYPE_CHECKING:
    from winic_soap.store.schema import Tx

__all__ = ["blank_jobs", "count", "delete_records", "parse_age"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")

# a finished job: none of its batches can still change (new, sending, unknown), the last finished before the cutoff
_FINISHED_JOBS = (
    "SELECT j.id FROM winic_jobs j WHERE j.purged_at IS NULL AND j.created_at < ? AND NOT EXISTS ("
    "SELECT 1 FROM winic_batches b WHERE b.job_id = j.id "
    "AND (b.state IN ('new', 'sending', 'unknown') OR b.finished_at >= ?))"
)
# a record a webhook endpoint still owes (pending or dead there) stays until that endpoint has it
_DONE_RECORDS = (
    "FROM winic_inbox WHERE state = 'done' AND done_at < ? AND NOT EXISTS (SELECT 1 FROM winic_webhook_deliveries d "
    "WHERE d.record_id = winic_inbox.id AND d.state <> 'done')"
)


def parse_age(value: str | float, field: str = "older_than") -> float | None:
    """Seconds from ``30d``, ``12h``, ``90m``, ``2w``, ``45s`` (or a number of seconds); None for ``off``
    (keep everything). Anything else is an :class:`InputError` naming ``field``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().lower() in ("off", "never", "none"):
        return None
    elif isinstance(value, str) and (match := _AGE.fullmatch(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise InputError(field, "must be an age like 30d, 12h, 90m, 2w or 45s (or off)", value)
    if not seconds > 0:
        raise InputError(field, "must be a positive age", value)
    return seconds


def count(tx: Tx, cutoff: str) -> dict[str, int]:
    """What a purge with ``cutoff`` (ISO 8601 UTC, as the store writes times) would delete and blank."""
    records = tx.rows(f"SELECT COUNT(*) {_DONE_RECORDS}", (cutoff,))[0][0]
    jobs = tx.rows(f"SELECT COUNT(*) FROM ({_FINISHED_JOBS}) AS finished", (cutoff, cutoff))[0][0]
    return {"records": int(records), "jobs": int(jobs)}


def blank_jobs(tx: Tx, cutoff: str, now: str) -> int:
    """Blank the text of jobs finished before ``cutoff``, stamping ``purged_at``; returns how many."""
    return tx.run(
        f"UPDATE winic_jobs SET text = '', purged_at = ? WHERE id IN ({_FINISHED_JOBS})", (now, cutoff, cutoff)
    )


def delete_records(tx: Tx, cutoff: str, limit: int) -> int:
    """Delete up to ``limit`` records handed on before ``cutoff``, oldest first (with their webhook deliveries,
    all done, and what settling their reports kept of them); returns how many."""
    chosen = f"SELECT seq {_DONE_RECORDS} ORDER BY seq LIMIT ?"
    tx.run(f"DELETE FROM winic_webhook_deliveries WHERE record_seq IN ({chosen})", (cutoff, limit))
    settle.forget(tx, f"SELECT id {_DONE_RECORDS} ORDER BY seq LIMIT ?", (cutoff, limit))
    return tx.run(f"DELETE FROM winic_inbox WHERE seq IN ({chosen})", (cutoff, limit))
