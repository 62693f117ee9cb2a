"""Inbox records: the rows a pulled report or reply is stored as, and the :class:`InboxRecord` read back from
them (with the journalled send its report belongs to)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from winic_soap.models import DeliveryReport, Reply, service_time
from winic_soap.states import RecordKind, RecordState
from winic_soap.store.schema import Tx, marks

__all__ = ["RECORD_COLUMNS", "InboxRecord", "inbox_record", "inbox_row", "pulled_record", "sends_for"]

RECORD_COLUMNS = (
    "id, seq, kind, endpoint, uid, operation, payload, raw, pulled_at, state, attempts, last_error, message_id, "
    "COALESCE(settled, status), repeat_of"  # a report's settled status is its own unless store.settle wrote another
)


def _service_aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return service_time(value).isoformat()
    return value


_PAYLOAD_FIELDS = {cls: tuple(f.name for f in fields(cls) if f.name != "raw") for cls in (Reply, DeliveryReport)}


def pulled_record(row: Sequence[Any]) -> Reply | DeliveryReport:
    """The pulled record an inbox row (as :func:`inbox_row` wrote it) was made from: what the opt-out list
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
    kind: RecordKind
    endpoint: str
    uid: str
    operation: str
    data: dict[str, Any]
    raw: str
    pulled_at: str
    state: RecordState
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


def inbox_row(
    record_id: str,
    record: Reply | DeliveryReport,
    *,
    operation: str,
    endpoint: str,
    uid: str,
    pulled_at: str,
    now: float,
) -> tuple[Any, ...]:
    """One inbox row, in the column order of the inbox INSERT (:meth:`~winic_soap.store.inbox.InboxMixin.keep`)."""
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


def inbox_record(row: Sequence[Any], sends: Mapping[str, dict[str, Any]]) -> InboxRecord:
    """A stored record from a row of :data:`RECORD_COLUMNS` and the sends of its message id."""
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


def sends_for(tx: Tx, message_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The journalled sends of these message ids (what a report's ``send`` shows), by message id."""
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
