"""The ground every concern of the store stands on: settings, the backend's transactions, the clock and
the fork guard. Each concern (inbox, poller leases, the journal's tables, outcome resolution) is a mixin on
:class:`StoreCore`; :class:`~winic_soap.store.base.Store` joins them, and a backend supplies the connection."""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from winic_soap.exceptions import InputError
from winic_soap.store import settle, suppression
from winic_soap.store.schema import Tx
from winic_soap.store.spool import Spool, default_spool_dir

__all__ = ["STORE_TIMEOUT", "StoreCore"]

STORE_TIMEOUT = 5.0  # seconds any one store call may take before it ends as a StoreError


class StoreCore(ABC):
    """What every concern of the store stands on: its settings, the backend's connection and transactions,
    the clock leases are measured by, and the fork guard. The concerns are mixins on this; :class:`Store`
    joins them into the one object users hold.

    Thread-safe (one connection per store object, guarded by a lock); any number of processes and hosts
    may open the same database. Every failure of the database is a :class:`StoreError`.
    """

    backend: str = ""
    #: appended to the sub-selects that pick rows to claim (PostgreSQL: FOR UPDATE SKIP LOCKED)
    _skip_locked: str = ""

    def __init__(
        self,
        url: str,
        *,
        max_handoffs: int = 5,
        lease: float = 60.0,
        resolve_window: float = 3 * 86400.0,
        clock: Any = None,
        store_timeout: float = STORE_TIMEOUT,
        migrate: bool = True,
        opt_out: Iterable[str] | None = None,
        opt_in: Iterable[str] | None = None,
        intermediate: Iterable[str] | None = None,
        spool: str | os.PathLike[str] | None = None,
    ) -> None:
        if max_handoffs < 1:
            raise InputError("max_handoffs", "must be at least 1", max_handoffs)
        if lease <= 0:
            raise InputError("lease", "must be a positive number of seconds", lease)
        if not isinstance(store_timeout, (int, float)) or not 0 < store_timeout <= 3600:
            raise InputError("store_timeout", "must be a number of seconds above 0 and at most 3600", store_timeout)
        self.store_timeout = float(store_timeout)
        self._own_clock = clock is not None  # else lease times come from the database's clock where it has one
        clock = time.time if clock is None else clock
        self._pid = os.getpid()
        self.url = url
        self.max_handoffs = max_handoffs
        self.lease = lease
        self.resolve_window = resolve_window
        self.clock = clock
        self._migrate_on_open = migrate
        self._lock = threading.RLock()
        self.keywords = suppression.Keywords.of(opt_out, opt_in)  # replies that opt out / back in
        self.precedence = settle.Precedence.of(intermediate)  # how reports settle
        self.spool = self._new_spool(spool)
        self.commit_size = 20_000  # rows per transaction when a large answer is committed from the spool

    def _new_spool(self, directory: str | os.PathLike[str] | None) -> Spool:
        """This store's spool: in ``directory`` if given, else :func:`default_spool_dir`."""
        return Spool(directory if directory is not None else default_spool_dir(self.url), self.url)

    # -- the backend's part ----------------------------------------------------------------
    @abstractmethod
    def _transaction(self, *, single: bool = False, durable: bool = True) -> AbstractContextManager[Tx]:
        """A write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL read committed), errors as StoreError.
        ``single``: the block runs one statement, atomic by itself; no BEGIN/COMMIT round trips around it.
        ``durable=False``: the commit need not survive a power loss (no fsync wait); only for writes whose
        loss is harmless, like a claim's lease (the record is simply claimable again)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store object cannot be used afterwards."""

    def _forked(self) -> bool:
        """True, once, in a child process that inherited this store: it must not use the parent's connection
        (nor a lock another thread of the parent held at the fork) and opens its own."""
        if self._pid == os.getpid():
            return False
        self._pid = os.getpid()
        self._lock = threading.RLock()
        return True

    def _now(self, tx: Tx) -> float:
        """The time leases are measured by (epoch seconds): the store's clock; a backend with a clock of its
        own shared by every host (PostgreSQL) overrides this so that hosts' clocks never matter."""
        return float(self.clock())
