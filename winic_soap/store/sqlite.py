"""The embedded backend: one SQLite file in WAL mode, created private (mode 0600), shared by the threads and
processes of one host. Writers queue on SQLite's own lock (``BEGIN IMMEDIATE``) for at most ``store_timeout``
(its busy timeout), then fail as a StoreError."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from winic_soap.exceptions import StoreError
from winic_soap.store.base import Store
from winic_soap.store.schema import Tx
from winic_soap.store.spool import Spool, default_spool_dir

__all__ = ["SqliteStore"]

# connections a forked child inherited: never used nor closed there (closing could checkpoint or unlock
# under the parent), kept referenced so that the garbage collector does not close them either
_INHERITED: list[sqlite3.Connection] = []


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, tuple(params)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)


class SqliteStore(Store):
    """The store in one SQLite file (``sqlite:///relative/path`` or ``sqlite:////absolute/path``)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, **options: Any) -> None:
        self.path = Path(path).expanduser()
        super().__init__(f"sqlite:///{self.path}", **options)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # created private before SQLite opens it: stored texts carry one-time codes (WAL files inherit it)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot open the store {self.url}: {exc}") from exc
        self._db = self._connect()
        try:
            self._switch_to_wal()
            self._db.execute("PRAGMA synchronous = FULL")  # a committed record survives power loss, not just kill -9
            # 32 MB of page cache (default 2 MB): a large answer's rows update six indexes; with the default cache
            # their pages are read again and again, and a million reports commit at half the speed
            self._db.execute("PRAGMA cache_size = -32768")
            self._open_schema()
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self.store_timeout, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.url}: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.store_timeout * 1000)}")
            db.execute("PRAGMA synchronous = FULL")  # a committed record survives power loss, not just kill -9
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"cannot open the store {self.url}: {exc}") from exc
        return db

    def _after_fork(self) -> None:
        """In a child that inherited the store: a connection of its own (SQLite forbids using one across a
        fork), the parent's left untouched."""
        if self._forked():
            _INHERITED.append(self._db)
            self._db = self._connect()

    def _switch_to_wal(self) -> None:
        """Concurrent first opens race for the WAL switch, which SQLite may refuse at once with
        'database is locked' whatever the busy timeout: retry it for as long as the busy timeout."""
        deadline = time.monotonic() + self.store_timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise StoreError(f"cannot open the store {self.url}: {exc}") from exc
                time.sleep(0.01)

    def _new_spool(self, directory: str | os.PathLike[str] | None) -> Spool:
        """Beside the file by default; answers are matched to the file by its absolute path."""
        found = directory if directory is not None else default_spool_dir(self.url, self.path)
        return Spool(found, f"sqlite:///{self.path.resolve()}")

    @contextmanager
    def _transaction(self, *, single: bool = False, durable: bool = True) -> Iterator[Tx]:
        self._after_fork()
        if single:  # autocommit: the one statement is its own transaction
            with self._lock:
                try:
                    yield _SqliteTx(self._db)
                except (sqlite3.Error, OSError) as exc:
                    raise StoreError(f"store {self.url}: {exc}") from exc
            return
        with self._lock:
            try:
                if not durable:  # WAL + NORMAL: committed for every reader, synced at the next durable commit
                    self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute("BEGIN IMMEDIATE")
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"store {self.url}: {exc}") from exc
            try:
                yield _SqliteTx(self._db)
                self._db.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, (sqlite3.Error, OSError)):
                    raise StoreError(f"store {self.url}: {exc}") from exc
                raise
            finally:
                if not durable:
                    with suppress(sqlite3.Error):
                        self._db.execute("PRAGMA synchronous = FULL")

    def close(self) -> None:
        if self._pid != os.getpid():  # a child that never used the store: nothing of its own to close
            _INHERITED.append(self._db)
            return
        with self._lock:
            self._db.close()
