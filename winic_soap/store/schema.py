"""The store's schema: numbered migrations (SQL files in :mod:`winic_soap.store.migrations`), the version a
store is at, and applying what it lacks in one transaction under a lock.

A store records each applied migration in ``winic_schema``. One written before numbered migrations has the
tables of migration 1 and no ``winic_schema``: it is recognised as version 1. A store at a version this code
does not know (written by a newer release) is refused: old code must not write to a schema it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

from winic_soap.exceptions import StoreError

__all__ = ["LATEST", "Migration", "Tx", "lock_statement", "marks", "migrate", "migrations", "version_of"]

#: one advisory lock id ("winic") for every process migrating a PostgreSQL store: they run one at a time
_PG_LOCK = 0x77696E6963
_TYPES = {
    "sqlite": {"seq": "INTEGER PRIMARY KEY", "real": "REAL"},
    "postgresql": {"seq": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "real": "DOUBLE PRECISION"},
}
_FILE = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<backend>sqlite|postgresql))?\.sql")


class Tx(Protocol):
    """One transaction of a backend, SQL with ``?`` placeholders."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def marks(count: int) -> str:
    """``count`` placeholders for an ``IN (...)`` list (SQL with ``?`` placeholders, as :class:`Tx` takes)."""
    return ", ".join("?" * count)


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema, as its backend runs it."""

    version: int
    name: str
    statements: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.version:04d}_{self.name}"


@cache
def migrations(backend: str) -> tuple[Migration, ...]:
    """Every migration for ``backend``, in order; numbered 1, 2, 3... without a gap (checked here)."""
    found: dict[int, Migration] = {}
    for entry in resources.files("winic_soap.store.migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match is None or match["backend"] not in (None, backend):
            continue
        version = int(match["version"])
        if version in found:
            raise RuntimeError(f"two migrations numbered {version} for {backend}")
        text = entry.read_text(encoding="utf-8").replace("{seq}", _TYPES[backend]["seq"])
        text = text.replace("{real}", _TYPES[backend]["real"])
        statements = tuple(s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if _is_sql(s))
        found[version] = Migration(version, match["name"], statements)
    if sorted(found) != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations for {backend} are not numbered 1..n: {sorted(found)}")
    return tuple(found[v] for v in sorted(found))


def _is_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


LATEST = len(migrations("sqlite"))


def lock_statement(backend: str) -> str | None:
    """What serialises migrations inside their transaction: PostgreSQL an advisory lock; SQLite needs
    nothing more than the write transaction itself (``BEGIN IMMEDIATE``)."""
    return f"SELECT pg_advisory_xact_lock({_PG_LOCK})" if backend == "postgresql" else None


def _has_table(tx: Tx, backend: str, table: str) -> bool:
    if backend == "sqlite":
        return bool(tx.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))
    return tx.rows("SELECT to_regclass(?) IS NOT NULL", (table,))[0][0] is True


def version_of(tx: Tx, backend: str) -> int:
    """The store's schema version: 0 for an empty database, 1 for one written before numbered migrations."""
    if _has_table(tx, backend, "winic_schema"):
        return int(tx.rows("SELECT COALESCE(MAX(version), 0) FROM winic_schema")[0][0])
    return 1 if _has_table(tx, backend, "winic_inbox") else 0


def migrate(tx: Tx, backend: str, now: str, *, dry_run: bool = False) -> list[Migration]:
    """Apply, in ``tx`` (which must hold the lock of :func:`lock_statement`), the migrations the store lacks;
    return them (with ``dry_run``, return them and apply nothing). A store newer than this code is a
    :class:`StoreError` naming both versions."""
    steps = migrations(backend)
    current = version_of(tx, backend)
    if current > len(steps):
        raise StoreError(
            f"the store is at schema version {current}, newer than this winic-soap knows ({len(steps)}): "
            "upgrade winic-soap before using this store"
        )
    pending = list(steps[current:])
    if dry_run:
        return pending
    # a store recognised as version 1 by its tables gets its row for 1 once migration 2 made the table
    recorded = _has_table(tx, backend, "winic_schema")
    unrecorded = [] if recorded else list(steps[:current])
    for step in pending:
        for statement in step.statements:
            tx.run(statement)
        unrecorded.append(step)
        if _has_table(tx, backend, "winic_schema"):
            tx.many(
                "INSERT INTO winic_schema (version, name, applied_at) VALUES (?, ?, ?)",
                [(m.version, m.name, now) for m in unrecorded],
            )
            unrecorded = []
    return pending
