"""Kept for code written before :mod:`winic_soap.store`: ``Inbox(path)`` is a SQLite store under its old
method names. New code: ``winic_soap.store.open_store(url)``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from winic_soap.models import DeliveryReport, Reply
from winic_soap.store import InboxRecord
from winic_soap.store.sqlite import SqliteStore

__all__ = ["Inbox", "InboxRecord"]


class Inbox(SqliteStore):
    """A SQLite store; ``store`` is ``commit_pulled`` and ``failed`` is ``fail`` under their old names."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(path, **options)

    def store(self, operation: str, records: Sequence[Reply | DeliveryReport]) -> list[str]:
        return self.commit_pulled(operation, records)

    def failed(self, record_id: str, error: str) -> None:
        self.fail(record_id, error)
