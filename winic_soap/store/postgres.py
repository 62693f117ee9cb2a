"""The shared backend: PostgreSQL through psycopg 3 (the ``winic-soap[postgres]`` extra), for fleets of
watchers and senders on several hosts. The only module that imports psycopg."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from winic_soap.config import redact_url  # one redaction for the store URL, shared with Settings' repr
from winic_soap.exceptions import StoreError
from winic_soap.store.base import Store, Tx

__all__ = ["PostgresStore", "redact_url"]


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @staticmethod
    def _sql(sql: str) -> Any:
        return sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return list(self._cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(self._sql(sql), [tuple(r) for r in rows])


class PostgresStore(Store):
    """The store in a PostgreSQL database (``postgresql://user@host:port/db``); claims use
    ``FOR UPDATE SKIP LOCKED``, so any number of processes on any number of hosts share it."""

    backend = "postgresql"
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conninfo: str, **options: Any) -> None:
        super().__init__(redact_url(conninfo), **options)
        self._conninfo = conninfo
        self._db: psycopg.Connection[Any] | None = None
        self._closed = False
        self._open_schema()

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, made again after it broke (a restarted server, a cut network)."""
        if self._closed:
            raise StoreError(f"store {self.url} is closed")
        if self._db is None or self._db.closed or self._db.broken:
            self._db = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        return self._db

    @contextmanager
    def _transaction(self, *, single: bool = False, durable: bool = True) -> Iterator[Tx]:
        with self._lock:
            try:
                db = self._connection()
                if single:  # the connection is in autocommit: one statement, one transaction, one round trip
                    with db.cursor() as cursor:
                        yield _PgTx(cursor)
                    return
                with db.transaction(), db.cursor() as cursor:
                    if not durable:  # visible to all at commit, on disk a moment later (no WAL flush wait)
                        cursor.execute("SET LOCAL synchronous_commit = off")
                    yield _PgTx(cursor)
            except psycopg.Error as exc:
                detail = " ".join(str(exc).split())  # libpq's messages span lines; ours are read as one
                raise StoreError(f"store {self.url}: {type(exc).__name__}: {detail}".strip()) from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
