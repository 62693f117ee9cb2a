"""The store users hold: :class:`Store` joins the store's concerns into one object, each in a module of its
own: :mod:`~winic_soap.store.records` and :mod:`~winic_soap.store.inbox` (pulled records: commit, claim,
ack, fail, retry, reads), :mod:`~winic_soap.store.pollers` (one poller per account),
:mod:`~winic_soap.store.jobs` (the journal's tables) and :mod:`~winic_soap.store.outcomes` (unknown sends
settled by their reports), on :mod:`~winic_soap.store.core` (settings, transactions, clock, fork guard),
with :mod:`~winic_soap.store.ids` and :mod:`~winic_soap.store.owners` beneath them all. Here: the schema's
upkeep (migrations, retention) and the objects hung on a store (``store.journal``, ``store.suppression``).
The SQL is written once, with ``?`` placeholders; a backend only supplies a connection and its transactions.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from winic_soap.exceptions import InputError
from winic_soap.store import retention, schema, suppression
from winic_soap.store.ids import utc_iso
from winic_soap.store.inbox import InboxMixin
from winic_soap.store.pollers import PollerMixin
from winic_soap.store.schema import Migration

if TYPE_CHECKING:
    from winic_soap.store.journal import Journal
    from winic_soap.store.suppression import Suppression

__all__ = ["Store"]

logger = logging.getLogger("winic_soap.store")


class Store(InboxMixin, PollerMixin):
    """The durable inbox, the poller leases and the send journal, on one database.

    Thread-safe (one connection per store object, guarded by a lock); any number of processes and hosts
    may open the same database. Every failure of the database is a :class:`StoreError`.
    """

    _journal: Journal | None = None  # made on first use: most stores never send
    _suppression: Suppression | None = None

    # -- the schema ------------------------------------------------------------------------
    def _open_schema(self) -> None:
        """On open: bring the schema up to date (unless opened with ``migrate=False``); a store newer than
        this code is refused either way."""
        if self._migrate_on_open:
            self.migrate()
        else:
            self.migrate(dry_run=True)

    def migrate(self, *, dry_run: bool = False) -> list[Migration]:
        """Apply the migrations the store lacks, in one transaction under a lock (concurrent openers wait,
        then find nothing left to do); returns them. ``dry_run``: return them, apply nothing."""
        with self._transaction() as tx:
            lock = schema.lock_statement(self.backend)
            if lock is not None:
                tx.rows(lock)
            applied = schema.migrate(tx, self.backend, utc_iso(self.clock()), dry_run=dry_run)
        if applied and not dry_run:
            logger.info(
                "store %s migrated to schema version %d: %s",
                self.url,
                applied[-1].version,
                ", ".join(map(str, applied)),
            )
        return applied

    def purge(self, older_than: float | str, *, dry_run: bool = False, chunk: int = 5000) -> dict[str, int]:
        """Retention (:mod:`winic_soap.store.retention`): delete handed-on records older than ``older_than``
        (seconds, or an age like ``30d``) and blank the text of jobs finished before then; ``dry_run``
        counts and changes nothing. Returns ``{"records": n, "jobs": n}``. Records go ``chunk`` per
        transaction, so a large purge never holds up the writers that commit pulled records."""
        seconds = retention.parse_age(older_than)
        if seconds is None:
            raise InputError("older_than", "must be an age like 30d (off purges nothing: skip the call)", older_than)
        if chunk < 1:
            raise InputError("chunk", "must be at least 1", chunk)
        now = self.clock()
        cutoff, stamp = utc_iso(now - seconds), utc_iso(now)
        if dry_run:
            with self._transaction() as tx:
                return retention.count(tx, cutoff)
        with self._transaction() as tx:
            jobs = retention.blank_jobs(tx, cutoff, stamp)
        records = 0
        while True:
            with self._transaction() as tx:
                deleted = retention.delete_records(tx, cutoff, chunk)
            records += deleted
            if deleted < chunk:
                return {"records": records, "jobs": jobs}

    def schema_version(self) -> int:
        """The version the store's schema is at (:data:`winic_soap.store.schema.LATEST` once migrated)."""
        with self._transaction() as tx:
            return schema.version_of(tx, self.backend)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def journal(self) -> Journal:
        """The send journal on this store (:class:`winic_soap.store.journal.Journal`)."""
        if self._journal is None:
            from winic_soap.store.journal import Journal

            self._journal = Journal(self)
        return self._journal

    @property
    def suppression(self) -> Suppression:
        """The suppression list on this store (:class:`winic_soap.store.suppression.Suppression`)."""
        if self._suppression is None:
            self._suppression = suppression.Suppression(self)
        return self._suppression
