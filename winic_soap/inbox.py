"""The durable inbox: every pulled delivery report and reply is committed to SQLite (WAL) before it is
handed on, and marked done only after its handler succeeded. Sends recorded here are joined to reports.

Pulls are destructive at the service, so this store is the only copy once a pull has answered.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from winic_soap.models import DeliveryReport, Reply, SendReceipt

__all__ = ["Inbox", "InboxRecord"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'reply')),
    operation TEXT NOT NULL,
    message_id TEXT,
    mobile TEXT,
    payload TEXT NOT NULL,
    raw TEXT NOT NULL,
    pulled_at TEXT NOT NULL,
    done_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS records_pending ON records (done_at, id);
CREATE INDEX IF NOT EXISTS records_message ON records (message_id);
CREATE TABLE IF NOT EXISTS sends (
    message_id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    recipients TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
"""


_SELECT_WITH_SEND = (
    "SELECT r.*, s.text AS send_text, s.sent_at AS send_at, s.operation AS send_operation, "
    "s.recipients AS send_recipients FROM records r LEFT JOIN sends s ON s.message_id = r.message_id WHERE "
)


@dataclass(frozen=True)
class InboxRecord:
    """A stored report or reply. ``id`` is stable: consumers can use it to drop a re-delivered record."""

    id: int
    kind: str
    operation: str
    data: dict[str, Any]
    raw: str
    pulled_at: str
    done: bool
    attempts: int
    send: dict[str, Any] | None = None  # for reports: the send the store knows for its message id

    def as_json(self) -> str:
        body = {
            "id": self.id,
            "kind": self.kind,
            "operation": self.operation,
            **self.data,
            "raw": self.raw,
            "pulled_at": self.pulled_at,
        }
        if self.send is not None:
            body["send"] = self.send
        return json.dumps(body, ensure_ascii=False, default=str)


def _jsonable(record: Reply | DeliveryReport) -> dict[str, Any]:
    data = asdict(record)
    data.pop("raw", None)
    return {k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v) for k, v in data.items()}


class Inbox:
    """A SQLite file (WAL, synchronous=FULL) shared safely by threads of one process and by processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives power loss, not just kill -9
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -------------------------------------------------------------------------------
    def store(self, operation: str, records: Sequence[Reply | DeliveryReport]) -> list[int]:
        """Commit pulled records in one transaction; returns their ids. Call before handing anything on."""
        now = datetime.now().isoformat(sep=" ", timespec="seconds")
        ids = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    kind = "report" if isinstance(record, DeliveryReport) else "reply"
                    message_id = record.message_id if isinstance(record, DeliveryReport) else None
                    cursor = self._db.execute(
                        "INSERT INTO records (kind, operation, message_id, mobile, payload, raw, pulled_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            kind,
                            operation,
                            message_id,
                            record.mobile,
                            json.dumps(_jsonable(record), ensure_ascii=False),
                            record.raw,
                            now,
                        ),
                    )
                    ids.append(int(cursor.lastrowid or 0))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return ids

    def ack(self, record_id: int) -> None:
        """Mark a record handed on; it will never be handed on again."""
        with self._lock:
            self._db.execute(
                "UPDATE records SET done_at = ? WHERE id = ? AND done_at IS NULL",
                (datetime.now().isoformat(sep=" ", timespec="seconds"), record_id),
            )

    def failed(self, record_id: int, error: str) -> None:
        """Note a failed hand-off; the record stays pending."""
        with self._lock:
            self._db.execute(
                "UPDATE records SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], record_id)
            )

    def record_send(self, receipt: SendReceipt) -> None:
        """Remember a send so later reports for its message ids carry its text and time."""
        now = datetime.now().isoformat(sep=" ", timespec="seconds")
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO sends (message_id, operation, recipients, text, sent_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (s.message_id, receipt.operation, ",".join(s.recipients), receipt.text, now)
                    for s in receipt.submissions
                    if s.message_id
                ],
            )

    # -- reads --------------------------------------------------------------------------------
    def pending(self, kind: str | None = None, limit: int | None = None) -> list[InboxRecord]:
        """Records not yet handed on, oldest first."""
        where = "r.done_at IS NULL AND (? IS NULL OR r.kind = ?) ORDER BY r.id LIMIT ?"
        return self._select(where, (kind, kind, -1 if limit is None else int(limit)))

    def __iter__(self) -> Iterator[InboxRecord]:
        return iter(self.pending())

    def get(self, record_id: int) -> InboxRecord | None:
        rows = self._select("r.id = ?", (record_id,))
        return rows[0] if rows else None

    def by_message_id(self, message_id: str) -> list[InboxRecord]:
        """Every report stored for one message id (done or not)."""
        return self._select("r.message_id = ? ORDER BY r.id", (message_id,))

    def counts(self) -> dict[str, int]:
        with self._lock:
            total, pending = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(done_at IS NULL), 0) FROM records"
            ).fetchone()
            sends = self._db.execute("SELECT COUNT(*) FROM sends").fetchone()[0]
        return {"records": int(total), "pending": int(pending), "done": int(total) - int(pending), "sends": int(sends)}

    def _select(self, where: str, args: tuple[Any, ...]) -> list[InboxRecord]:
        """Records matching ``where``, each with the send the store knows for its message id."""
        query = _SELECT_WITH_SEND + where  # ``where`` is one of this class's constant fragments; values are bound
        with self._lock:
            self._db.row_factory = sqlite3.Row
            try:
                rows = self._db.execute(query, args).fetchall()
            finally:
                self._db.row_factory = None
        return [
            InboxRecord(
                r["id"],
                r["kind"],
                r["operation"],
                json.loads(r["payload"]),
                r["raw"],
                r["pulled_at"],
                r["done_at"] is not None,
                r["attempts"],
                None
                if r["send_text"] is None
                else {
                    "text": r["send_text"],
                    "sent_at": r["send_at"],
                    "operation": r["send_operation"],
                    "recipients": len(r["send_recipients"].split(",")),
                },
            )
            for r in rows
        ]
