"""The shared backend: PostgreSQL through psycopg 3 (the ``winic-soap[postgres]`` extra), for fleets of
watchers and senders on several hosts. The only module that imports psycopg."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from winic_soap.exceptions import StoreError
from winic_soap.redaction import url_without_password  # the store URL as Settings' repr shows it
from winic_soap.store.base import Store
from winic_soap.store.schema import Tx

__all__ = ["PostgresStore"]

# the server cancels a statement, a lock wait or an idle transaction at this share of store_timeout, before
# the watchdog cuts the connection at the whole of it: a clean error that keeps the connection usable
_SERVER_SHARE = 0.8
# a session in these states cannot take a command: one is still running (no call nests inside a command), or
# libpq has lost the connection; a transaction open (INTRANS) is fine: calls nest under the store's RLock
_UNUSABLE = (psycopg.pq.TransactionStatus.ACTIVE, psycopg.pq.TransactionStatus.UNKNOWN)


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[Any], watched: Callable[[], None]) -> None:
        self._cursor = cursor
        self._watched = watched  # re-arms the watchdog: each statement gets the whole store_timeout

    @staticmethod
    def _sql(sql: str) -> Any:
        return sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._watched()
        self._cursor.execute(self._sql(sql), tuple(params))
        return list(self._cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._watched()
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._watched()
        self._cursor.executemany(self._sql(sql), [tuple(r) for r in rows])


class _Watchdog:
    """Cuts the connection under a store call whose statement (or the commit) got no answer within the store
    timeout. A partitioned network (no answer, no reset; or a proxy that accepts and forwards nothing)
    leaves psycopg waiting on a socket no server-side timeout or keepalive reaches; shutting the socket
    down ends that wait with an error. Each statement re-arms it: a long transaction that makes progress
    is the server's statement timeout's business, not this.

    One thread per store, asleep while no call runs: arming a call only wakes it when it was idle."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.fired = False
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._fd = -1
        self._idle = False
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="winic-store-watchdog", daemon=True)
        self._thread.start()

    def arm(self, fd: int) -> None:
        with self._cond:
            self._deadline, self._fd, self.fired = time.monotonic() + self.timeout, fd, False
            if self._idle:
                self._cond.notify()

    def disarm(self) -> bool:
        """End the watch of the current call; True if it was cut (its connection is unusable now)."""
        with self._cond:
            self._deadline, self._fd = None, -1
            return self.fired

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)  # a later call's deadline is later still: no need to wake earlier
                    continue
                # on a dup, so the fd psycopg owns is never closed under it
                with suppress(OSError), socket.socket(fileno=os.dup(self._fd)) as cut:
                    cut.shutdown(socket.SHUT_RDWR)
                self.fired, self._deadline = True, None


class PostgresStore(Store):
    """The store in a PostgreSQL database (``postgresql://user@host:port/db``); claims use
    ``FOR UPDATE SKIP LOCKED``, so any number of processes on any number of hosts share it."""

    backend = "postgresql"
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conninfo: str, **options: Any) -> None:
        super().__init__(url_without_password(conninfo), **options)
        self._conninfo = conninfo
        self._db: psycopg.Connection[Any] | None = None
        self._closed = False
        self._configured = False
        self._watchdog = _Watchdog(self.store_timeout)
        try:
            self._open_schema()
        except BaseException:
            self.close()
            raise

    def _connect_options(self) -> dict[str, Any]:
        """libpq parameters bounding a connection by ``store_timeout``, where the URL does not set its own:
        the connect timeout, and keepalives with a TCP user timeout (a dead peer is noticed while idle too)."""
        given = conninfo_to_dict(self._conninfo)
        seconds = max(1, math.ceil(self.store_timeout))
        wanted = {
            "connect_timeout": max(2, seconds),  # libpq's floor
            "keepalives": 1,
            "keepalives_idle": seconds,
            "keepalives_interval": max(1, seconds // 3),
            "keepalives_count": 3,
            "tcp_user_timeout": int(self.store_timeout * 1000),
        }
        return {k: v for k, v in wanted.items() if k not in given}

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, made again after it broke (a restarted server, a cut network)."""
        if self._closed:
            raise StoreError(f"store {self.url} is closed")
        if self._db is not None and not self._db.closed and self._db.pgconn.transaction_status in _UNUSABLE:
            # a failure (a reset, an interrupt) in the middle of a command left the session busy without
            # psycopg marking it broken: every later command would fail with "another command is already in
            # progress", so it is never reused
            with suppress(psycopg.Error):
                self._db.close()
        if self._db is None or self._db.closed or self._db.broken:
            self._db = psycopg.connect(self._conninfo, autocommit=True, **self._connect_options())
            self._configured = False
        return self._db

    def _configure(self, db: psycopg.Connection[Any]) -> None:
        """The server's statement, lock and idle-transaction timeouts, once per connection."""
        ms = max(1, int(self.store_timeout * 1000 * _SERVER_SHARE))
        lock_ms = max(1, ms * 3 // 4)  # before the statement's own: the error then names the lock wait
        db.execute(
            "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false), "
            "set_config('idle_in_transaction_session_timeout', %s, false)",
            (str(ms), str(lock_ms), str(ms)),
        )
        self._configured = True

    def _now(self, tx: Tx) -> float:
        """The database's clock: one for every host, so a skewed host clock can neither steal a live lease
        nor keep a dead one (a clock given to the store, as tests do, still wins)."""
        if self._own_clock:
            return super()._now(tx)
        return float(tx.rows("SELECT EXTRACT(EPOCH FROM clock_timestamp())")[0][0])

    @contextmanager
    def _transaction(self, *, single: bool = False, durable: bool = True) -> Iterator[Tx]:
        self._after_fork()
        with self._lock:
            try:
                db = self._connection()
                fd = db.fileno()
                watched = partial(self._watchdog.arm, fd)
                watched()
                try:
                    if not self._configured:
                        self._configure(db)
                    if single:  # the connection is in autocommit: one statement, one transaction, one round trip
                        with db.cursor() as cursor:
                            yield _PgTx(cursor, watched)
                        return
                    with db.transaction(), db.cursor() as cursor:
                        if not durable:  # visible to all at commit, on disk a moment later (no WAL flush wait)
                            cursor.execute("SET LOCAL synchronous_commit = off")
                        yield _PgTx(cursor, watched)
                        watched()  # the COMMIT gets the whole store_timeout too
                finally:
                    if self._watchdog.disarm():  # cut (even if the call then finished): never use it again
                        with suppress(psycopg.Error):
                            db.close()
            except psycopg.Error as exc:
                if self._watchdog.fired:
                    raise StoreError(
                        f"store {self.url}: no answer within store_timeout ({self.store_timeout:g} s); "
                        "the connection was cut"
                    ) from exc
                detail = " ".join(str(exc).split())  # libpq's messages span lines; ours are read as one
                raise StoreError(f"store {self.url}: {type(exc).__name__}: {detail}".strip()) from exc

    def _after_fork(self) -> None:
        """In a child that inherited the store: its own connection and watchdog, never the parent's."""
        if self._forked():
            self._db = None  # abandoned, not closed: closing would end the parent's session (psycopg finishes
            self._watchdog = _Watchdog(self.store_timeout)  # a connection only in the process that opened it)

    def close(self) -> None:
        self._after_fork()
        with self._lock:
            self._closed = True
            self._watchdog.close()
            if self._db is not None:
                self._db.close()
