"""The store interface and everything both backends share: the SQL (written once, with ``?`` placeholders),
the records it returns, lease owners, and the rules (claims, dead letters, journal states, unknown outcomes
resolved from reports). The schema and its migrations live in :mod:`winic_soap.store.schema`.
A backend only supplies a connection and its transactions.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import platform
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winic_soap.exceptions import InputError, StoreError
from winic_soap.models import SERVICE_TZ, DeliveryReport, Reply, SendReceipt, service_time
from winic_soap.store import retention, schema, settle, suppression
from winic_soap.store.schema import Migration, Tx
from winic_soap.store.spool import PulledAnswer, Spool, default_spool_dir

if TYPE_CHECKING:
    from winic_soap.categories import Categories
    from winic_soap.store.journal import Journal
    from winic_soap.store.stats import Stats
    from winic_soap.store.suppression import Suppression

__all__ = [
    "BATCH_STATES",
    "RECORD_STATES",
    "SERVICE_TZ",
    "STORE_TIMEOUT",
    "Batch",
    "InboxRecord",
    "JobSummary",
    "PollerLease",
    "Store",
    "Tx",
    "new_id",
    "new_job_id",
    "owner_is_dead",
    "process_owner",
    "utc_iso",
]

logger = logging.getLogger("winic_soap.store")
STORE_TIMEOUT = 5.0  # seconds any one store call may take before it ends as a StoreError
RECORD_STATES = ("pending", "done", "dead")
# new: never attempted; sending: written before the request and nothing known since (in flight, or its
# worker died); accepted: the service answered a message id (or reports proved it did); failed: the
# service refused it (a code) or it provably never left; unknown: it may have been processed.
BATCH_STATES = ("new", "sending", "accepted", "failed", "unknown")

_RECORD_COLUMNS = (
    "id, seq, kind, endpoint, uid, operation, payload, raw, pulled_at, state, attempts, last_error, message_id, "
    "COALESCE(settled, status), repeat_of"  # a report's settled status is its own unless store.settle wrote another
)
_BATCH_COLUMNS = "job_id, idx, numbers, state, message_id, code, error, source, started_at, finished_at, owner"


def utc_iso(epoch: float) -> str:
    """Our own times: ISO 8601 in UTC with its offset."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def new_id(epoch: float | None = None, randbits: Callable[[int], int] = secrets.randbits) -> str:
    """A UUIDv7-layout id: 48 bits of milliseconds then 74 random bits. Unique across hosts and stores
    with no coordination, sortable by time, and (unlike a hash of the record) says nothing of its text.
    ``randbits``: where the 74 random bits come from (a counter from a random start for one large answer)."""
    millis = int((time.time() if epoch is None else epoch) * 1000) & ((1 << 48) - 1)
    rand = randbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _start_ticks(pid: int | str) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]  # field 22: start time, guards against pid reuse
    except (OSError, IndexError):
        return None


def _host() -> str:
    return os.environ.get("WINIC_HOST_ID") or platform.node()


@functools.cache
def _identity() -> str:
    """Where pids mean something: ``<pid namespace inode>.<boot id>``. A pid is only comparable inside
    its own PID namespace (containers with one hostname each have their own) and boot; a process never
    changes either, so this is read once per process."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
        namespace = link[link.index("[") + 1 : link.index("]")]
    except (OSError, ValueError):
        namespace = "-"
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip().replace("-", "")[:16]
    except OSError:
        boot = "-"
    return f"{namespace}.{boot}"


def process_owner() -> str:
    """Who holds a lease: ``host/pid/start-ticks/random/pidns.boot``; the host part is ``$WINIC_HOST_ID`` or
    the hostname, the last part the process's PID namespace and boot id (see :func:`owner_is_dead`)."""
    return f"{_host()}/{os.getpid()}/{_start_ticks('self') or '-'}/{secrets.token_hex(3)}/{_identity()}"


def _proc_is_ours() -> bool:
    """True when /proc shows this process's PID namespace (a container that kept its parent's /proc does not)."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host, in this PID namespace and boot, and its process is gone: a
    dead holder there frees its leases at once. Any other holder (another host, another container with
    the same hostname, an owner written before the identity was part of it) cannot be checked and frees
    them when they expire."""
    parts = owner.split("/")
    if len(parts) != 5 or parts[0] != _host() or parts[4] != _identity() or not parts[1].isdigit():
        return False
    if "-" in parts[4].split(".") or not _proc_is_ours():
        return False  # no namespace or boot id to compare, or a /proc of another namespace: pids prove nothing
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    ticks = _start_ticks(pid)
    if ticks is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return parts[2] != "-"  # alive, but /proc says nothing of it: treat as reused
    return parts[2] != "-" and ticks != parts[2]


def _service_aware(value: Any) -> Any:
    if isinstance(value, datetime):
        return service_time(value).isoformat()
    return value


_PAYLOAD_FIELDS = {cls: tuple(f.name for f in fields(cls) if f.name != "raw") for cls in (Reply, DeliveryReport)}


def _record_of(row: Sequence[Any]) -> Reply | DeliveryReport:
    """The pulled record an inbox row (as :meth:`Store._row` wrote it) was made from: what the opt-out list
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
    kind: str
    endpoint: str
    uid: str
    operation: str
    data: dict[str, Any]
    raw: str
    pulled_at: str
    state: str
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


@dataclass(frozen=True)
class Batch:
    """One request of a job (at most 100 numbers) and what the journal knows of it."""

    job_id: str
    index: int
    numbers: tuple[str, ...]
    state: str
    message_id: str | None = None
    code: str | None = None
    error: str | None = None
    source: str | None = None  # "send", or "reports" when reports proved an unknown batch accepted
    started_at: str | None = None
    finished_at: str | None = None
    owner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["numbers"] = list(self.numbers)
        return data


@dataclass(frozen=True)
class JobSummary:
    """A job of batches: its text and operation, and how many batches (and recipients) are in each state."""

    id: str
    operation: str
    text: str
    created_at: str
    options: dict[str, Any]
    endpoint: str
    uid: str
    batches: dict[str, int] = field(default_factory=dict)
    recipients: dict[str, int] = field(default_factory=dict)
    purged_at: str | None = None  # when retention blanked its text (store purge); batches and counts stay

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PollerLease:
    """Who pulls for one account (endpoint, uid) and until when (epoch seconds)."""

    endpoint: str
    uid: str
    owner: str
    until: float
    since: str


_IDS_PER_STATEMENT = 500  # ids bound in one statement: well under every backend's limit of parameters


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class Store(ABC):
    """The durable inbox, the poller leases and the send journal, on one database.

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
        self._journal: Journal | None = None
        self._suppression: Suppression | None = None
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

    # -- inbox: writes ---------------------------------------------------------------------
    def commit_pulled(
        self, operation: str, records: Sequence[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> list[str]:
        """Keep pulled records durably and return their ids: spooled first, then committed in one transaction.
        Call before handing anything on. On a :class:`StoreError` the records wait in :attr:`spool`."""
        if not records:
            return []
        return self.keep(self.prepare_pulled(operation, records, endpoint=endpoint, uid=uid))

    def prepare_pulled(
        self, operation: str, records: Sequence[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> PulledAnswer:
        """The inbox rows of a pulled answer, their ids made here once: commit it as often as needed."""
        now = self.clock()
        pulled_at = utc_iso(now)
        rows = tuple(
            self._row(new_id(now), r, operation=operation, endpoint=endpoint, uid=uid, pulled_at=pulled_at, now=now)
            for r in records
        )
        return PulledAnswer(new_id(now), operation, rows)

    @staticmethod
    def _row(
        record_id: str,
        record: Reply | DeliveryReport,
        *,
        operation: str,
        endpoint: str,
        uid: str,
        pulled_at: str,
        now: float,
    ) -> tuple[Any, ...]:
        """One inbox row, in the column order of the INSERT in :meth:`_commit_rows`."""
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

    def keep(self, answer: PulledAnswer) -> list[str]:
        """Spool ``answer`` (fsynced) before anything else, commit it, then drop it from the spool. A failed
        commit raises :class:`StoreError` with the answer still spooled (``spool.holds(answer)``); a spool
        that cannot be written (a full disk) is logged and the commit is tried all the same."""
        try:
            self.spool.write(answer)
        except OSError as exc:
            logger.error("%s: cannot spool %d pulled record(s) (%s)", answer.operation, len(answer.rows), exc)
        ids = self.commit_answer(answer)
        self.spool.remove(answer)
        return ids

    def commit_answer(self, answer: PulledAnswer) -> list[str]:
        """Insert the answer's rows in one transaction; rows already stored (same id: a commit whose
        acknowledgement was lost, a replay) are skipped. Returns the ids."""
        self._commit_rows(answer.rows)
        return answer.ids

    def _commit_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._transaction() as tx:
            tx.many(
                "INSERT INTO winic_inbox (id, kind, endpoint, uid, operation, message_id, mobile, status, payload, "
                "raw, pulled_at, pulled_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                rows,
            )
            # opt-outs and settled statuses change in the same transaction: a retried commit (same ids) or a
            # replayed spool file changes nothing twice
            pulled = [(row[0], _record_of(row)) for row in rows if row[1] == "reply" or row[1] == "report"]
            suppression.record_replies(tx, self.keywords, pulled, float(rows[0][11]))
            settle.record_reports(tx, self.precedence, pulled, str(rows[0][10]))
        message_ids = {row[5] for row in rows if row[1] == "report"}
        if message_ids:
            try:
                self.resolve_unknown(message_ids)
            except StoreError as exc:  # the records are safe; resolving can wait for the next reports
                logger.warning("resolving unknown sends from reports failed: %s", exc)

    def keep_stream(
        self, operation: str, records: Iterable[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> int:
        """:meth:`keep` for an answer of any size, read one record at a time: spooled whole first
        (:meth:`spool_stream`), then committed in transactions of ``commit_size`` rows. Memory is bounded by
        ``commit_size``; a failure leaves the answer in the spool, which replays it the same way."""
        path, count = self.spool_stream(operation, records, endpoint=endpoint, uid=uid)
        self.commit_spooled(path)
        return count

    def spool_stream(
        self, operation: str, records: Iterable[Reply | DeliveryReport], *, endpoint: str = "", uid: str = ""
    ) -> tuple[Path, int]:
        """Write an answer's records to the spool only (ids made as each row is written): the store gets them
        at the next :meth:`replay_spool`. Returns the spool file and how many records it holds."""
        now = self.clock()
        pulled_at = utc_iso(now)
        # the random part counts up from a random start (UUIDv7's monotonic counter): as unique, and each row
        # lands at the end of the id index instead of anywhere in it (a million reports commit twice as fast)
        counter = itertools.count(secrets.randbits(73))

        def rows() -> Iterator[tuple[Any, ...]]:
            for record in records:
                yield self._row(
                    new_id(now, lambda bits: next(counter)),
                    record,
                    operation=operation,
                    endpoint=endpoint,
                    uid=uid,
                    pulled_at=pulled_at,
                    now=now,
                )

        try:
            return self.spool.write_rows(new_id(now), operation, rows())
        except OSError as exc:
            raise StoreError(f"{operation}: the pulled answer cannot be spooled ({exc})") from exc

    def replay_spool(self) -> int:
        """Commit every answer left in the spool, oldest first, and return how many records that stored (or
        found stored). Stops at the first :class:`StoreError`, leaving it and the later ones spooled."""
        replayed = 0
        for path, operation in self.spool.entries():
            count = self.commit_spooled(path)
            replayed += count
            logger.info("%s: %d spooled record(s) reached the store", operation, count)
        return replayed

    def commit_spooled(self, path: Path) -> int:
        """Commit one spooled answer (from :meth:`spool_stream`) in bounded transactions, each idempotent,
        then remove it; returns how many records it held. A :class:`StoreError` leaves it spooled."""
        count = 0
        try:
            for rows in self.spool.rows(path, self.commit_size):
                self._commit_rows(rows)
                count += len(rows)
        except FileNotFoundError:  # another process replayed it meanwhile
            return count
        except (ValueError, TypeError) as exc:
            self.spool.set_aside(path, exc)
            return count
        path.unlink(missing_ok=True)
        return count

    def claim(
        self, owner: str, *, limit: int = 100, lease: float | None = None, kind: str | None = None
    ) -> list[InboxRecord]:
        """Lease up to ``limit`` pending records to ``owner``, oldest first. Records whose lease expired (or,
        once nothing else is free, whose holder on this host died) come back; ones claimed ``max_handoffs``
        times without an acknowledgement or a failure (their consumer died each time) go to the dead letters."""
        with self._transaction(durable=False) as tx:  # a lost claim only makes the record claimable again
            now = self._now(tx)
            args = (owner, now + (lease or self.lease), now, self.max_handoffs, kind, kind, limit)
            rows = tx.rows(self._CLAIM.format(skip_locked=self._skip_locked), args)
            if not rows:  # nothing free: look for leases of dead holders and for exhausted records, then again
                self._free_dead_holders(tx, now)
                tx.run(
                    "UPDATE winic_inbox SET state = 'dead', lease_owner = NULL, lease_until = NULL, "
                    "last_error = COALESCE(last_error, 'hand-off never finished') "
                    "WHERE state = 'pending' AND attempts >= ? AND (lease_until IS NULL OR lease_until < ?)",
                    (self.max_handoffs, now),
                )
                rows = tx.rows(self._CLAIM.format(skip_locked=self._skip_locked), args)
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return sorted((self._record(r, sends) for r in rows), key=lambda r: r.seq)

    _CLAIM = (
        "UPDATE winic_inbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
        "WHERE seq IN (SELECT seq FROM winic_inbox WHERE state = 'pending' "
        # "+ 0": walk the (state, seq) index in order; the attempts index would sort every pending row
        "AND (lease_until IS NULL OR lease_until < ?) AND attempts + 0 < ? "
        "AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
        f"ORDER BY seq LIMIT ?{{skip_locked}}) RETURNING {_RECORD_COLUMNS}"
    )

    @staticmethod
    def _free_dead_holders(tx: Tx, now: float) -> None:
        owners = tx.rows(
            "SELECT DISTINCT lease_owner FROM winic_inbox WHERE state = 'pending' AND lease_until >= ?", (now,)
        )
        dead = [o for (o,) in owners if o and owner_is_dead(o)]
        if dead:
            tx.run(
                "UPDATE winic_inbox SET lease_until = NULL "
                f"WHERE state = 'pending' AND lease_owner IN ({_marks(len(dead))})",
                dead,
            )

    def ack(self, record_id: str) -> bool:
        """Mark a record handed on: it is never handed on again. False if it was not pending."""
        return self.ack_many([record_id]) > 0

    def ack_many(self, record_ids: Sequence[str]) -> int:
        """Mark records handed on in one statement (a batch hand-off's acknowledgement); returns how many
        were still pending."""
        if not record_ids:
            return 0
        changed, done_at = 0, utc_iso(self.clock())
        with self._transaction(single=len(record_ids) <= _IDS_PER_STATEMENT) as tx:
            for start in range(0, len(record_ids), _IDS_PER_STATEMENT):
                chunk = list(record_ids[start : start + _IDS_PER_STATEMENT])
                changed += tx.run(
                    "UPDATE winic_inbox SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL "
                    f"WHERE id IN ({_marks(len(chunk))}) AND state = 'pending'",
                    (done_at, *chunk),
                )
        return changed

    def ack_all(self, record_ids: Sequence[str]) -> int:
        """:meth:`ack` for many records handed on together, in one transaction; returns how many were pending."""
        changed = 0
        for start in range(0, len(record_ids), 1000):
            page = list(record_ids[start : start + 1000])
            with self._transaction(single=True) as tx:
                changed += tx.run(
                    "UPDATE winic_inbox SET state = 'done', done_at = ?, lease_owner = NULL, lease_until = NULL "
                    f"WHERE id IN ({_marks(len(page))}) AND state = 'pending'",
                    (utc_iso(self.clock()), *page),
                )
        return changed

    def fail(self, record_id: str, error: str, *, retry_after: float = 0.0, owner: str | None = None) -> str:
        """Note a failed hand-off and release the record, to be claimed again after ``retry_after`` seconds:
        ``pending`` again, or ``dead`` once it was handed off ``max_handoffs`` times. Returns the state.

        With ``owner``, only while that owner still holds the record's lease: a consumer whose lease ran
        out must not put back a record another consumer now holds ("lost" is returned then)."""
        with self._transaction(single=True) as tx:
            until = self._now(tx) + retry_after if retry_after > 0 else None
            rows = tx.rows(
                "UPDATE winic_inbox SET last_error = ?, lease_owner = NULL, lease_until = ?, "
                "state = CASE WHEN attempts >= ? THEN 'dead' ELSE 'pending' END "
                "WHERE id = ? AND state = 'pending' AND (CAST(? AS TEXT) IS NULL OR lease_owner = ?) RETURNING state",
                (error[:500], until, self.max_handoffs, record_id, owner, owner),
            )
        if rows:
            return str(rows[0][0])
        return "lost" if owner is not None and self.get(record_id) is not None else "gone"

    def retry(self, record_id: str) -> bool:
        """Put a dead letter back in line with a fresh count of hand-offs."""
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_inbox SET state = 'pending', attempts = 0, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND state = 'dead'",
                (record_id,),
            )
        return changed > 0

    # -- inbox: reads ----------------------------------------------------------------------
    def records(self, state: str | None = "pending", *, kind: str | None = None, limit: int = -1) -> list[InboxRecord]:
        """Stored records, oldest first; ``state`` None means all."""
        if state is not None and state not in RECORD_STATES:
            raise InputError("state", f"must be one of {', '.join(RECORD_STATES)}", state)
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_RECORD_COLUMNS} FROM winic_inbox "
                "WHERE (CAST(? AS TEXT) IS NULL OR state = ?) AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
                "ORDER BY seq LIMIT ?",
                (state, state, kind, kind, limit if limit >= 0 else 1 << 62),
            )
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return [self._record(r, sends) for r in rows]

    def pending(self, kind: str | None = None, limit: int | None = None) -> list[InboxRecord]:
        """Records not yet handed on, oldest first (claimed or not)."""
        return self.records("pending", kind=kind, limit=-1 if limit is None else limit)

    def get(self, record_id: str) -> InboxRecord | None:
        """One record by its id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(f"SELECT {_RECORD_COLUMNS} FROM winic_inbox WHERE id = ?", (record_id,))
            sends = self._sends_for(tx, {r[12] for r in rows if r[12]})
        return self._record(rows[0], sends) if rows else None

    def by_message_id(self, message_id: str) -> list[InboxRecord]:
        """Every report stored for one message id, whatever its state."""
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_RECORD_COLUMNS} FROM winic_inbox WHERE message_id = ? ORDER BY seq", (message_id,)
            )
            sends = self._sends_for(tx, {message_id})
        return [self._record(r, sends) for r in rows]

    def counts(self) -> dict[str, int]:
        """Records per state, and the batches the journal holds."""
        with self._transaction() as tx:
            by_state = dict(tx.rows("SELECT state, COUNT(*) FROM winic_inbox GROUP BY state"))
            (batches,) = tx.rows("SELECT COUNT(*) FROM winic_batches")[0]
        counts = {state: int(by_state.get(state, 0)) for state in RECORD_STATES}
        counts["records"] = sum(counts.values())
        counts["batches"] = int(batches)
        return counts

    def _sends_for(self, tx: Tx, message_ids: set[str]) -> dict[str, dict[str, Any]]:
        if not message_ids:
            return {}
        ids = sorted(message_ids)
        rows = tx.rows(
            "SELECT b.message_id, j.text, b.started_at, j.operation, b.size, j.id, b.idx, b.source "
            f"FROM winic_batches b JOIN winic_jobs j ON j.id = b.job_id WHERE b.message_id IN ({_marks(len(ids))})",
            ids,
        )
        return {
            r[0]: {"text": r[1], "sent_at": r[2], "operation": r[3], "recipients": r[4], "job": r[5], "batch": r[6]}
            | ({"from": r[7]} if r[7] == "reports" else {})
            for r in rows
        }

    @staticmethod
    def _record(row: Sequence[Any], sends: Mapping[str, dict[str, Any]]) -> InboxRecord:
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

    # -- one poller per account ------------------------------------------------------------
    def hold_poller(self, endpoint: str, uid: str, owner: str, lease: float | None = None) -> bool:
        """Take or renew the right to pull for (endpoint, uid) until now + ``lease``; False while another
        live holder has it. One statement, so two contenders can never both win."""
        current = self.poller(endpoint, uid)
        dead = current.owner if current and current.owner != owner and owner_is_dead(current.owner) else None
        with self._transaction(single=True) as tx:
            now = self._now(tx)
            rows = tx.rows(
                "INSERT INTO winic_pollers (endpoint, uid, owner, lease_until, since) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (endpoint, uid) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until, "
                "since = CASE WHEN winic_pollers.owner = excluded.owner "
                "THEN winic_pollers.since ELSE excluded.since END "
                "WHERE winic_pollers.owner = excluded.owner OR winic_pollers.lease_until < ? "
                "OR winic_pollers.owner = CAST(? AS TEXT) "
                "RETURNING owner",
                (endpoint, uid, owner, now + (lease or self.lease), utc_iso(now), now, dead),
            )
        return bool(rows) and rows[0][0] == owner

    def release_poller(self, endpoint: str, uid: str, owner: str) -> None:
        """Give the poller lease up at once (a clean stop), so a stand-by takes over without waiting."""
        with self._transaction(single=True) as tx:
            tx.run("DELETE FROM winic_pollers WHERE endpoint = ? AND uid = ? AND owner = ?", (endpoint, uid, owner))

    def poller(self, endpoint: str, uid: str) -> PollerLease | None:
        """Who holds the account's poller lease, and until when (it may have expired)."""
        with self._transaction(single=True) as tx:
            rows = tx.rows(
                "SELECT owner, lease_until, since FROM winic_pollers WHERE endpoint = ? AND uid = ?", (endpoint, uid)
            )
        return PollerLease(endpoint, uid, rows[0][0], float(rows[0][1]), rows[0][2]) if rows else None

    # -- the send journal ------------------------------------------------------------------
    def create_job(
        self,
        operation: str,
        text: str,
        batches: Sequence[Sequence[str]],
        *,
        job_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        endpoint: str = "",
        uid: str = "",
    ) -> str:
        """Write a job and its batches (all ``new``) in one transaction, before anything is sent."""
        job_id = job_id or new_job_id()
        now = self.clock()
        with self._transaction() as tx:
            created = tx.rows(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                (job_id, operation, text, json.dumps(dict(options or {}), default=str), endpoint, uid, utc_iso(now)),
            )
            if not created:
                raise InputError(
                    "job", "already exists in the store: resume it (jobs resume) or pick a new name", job_id
                )
            tx.many(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state) VALUES (?, ?, ?, ?, 'new') "
                "ON CONFLICT (job_id, idx) DO NOTHING",
                [(job_id, i, ",".join(numbers), len(numbers)) for i, numbers in enumerate(batches)],
            )
        return job_id

    def begin_batch(
        self,
        job_id: str,
        index: int,
        numbers: Sequence[str],
        text: str,
        operation: str,
        *,
        owner: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Batch:
        """Journal one batch as ``sending`` before its request (the job is created on first use). Refuses,
        with :class:`StoreError`, a batch that was attempted before: it is never sent twice."""
        now = self.clock()
        with self._transaction() as tx:
            tx.run(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, ?, '', '', ?) ON CONFLICT (id) DO NOTHING",
                (job_id, operation, text, json.dumps(dict(options or {}), default=str), utc_iso(now)),
            )
            rows = tx.rows(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state, owner, started_at, started_epoch) "
                "VALUES (?, ?, ?, ?, 'sending', ?, ?, ?) ON CONFLICT (job_id, idx) DO UPDATE SET state = 'sending', "
                "owner = excluded.owner, started_at = excluded.started_at, started_epoch = excluded.started_epoch "
                f"WHERE winic_batches.state = 'new' RETURNING {_BATCH_COLUMNS}",
                (job_id, index, ",".join(numbers), len(numbers), owner or process_owner(), utc_iso(now), now),
            )
        if not rows:
            raise StoreError(f"batch {index} of job {job_id} was attempted before; it is not sent again")
        return self._batch(rows[0])

    def claim_batch(self, job_id: str, owner: str) -> Batch | None:
        """Take the job's next never-attempted batch and journal it ``sending``; None when none is left."""
        now = self.clock()
        with self._transaction(single=True) as tx:
            rows = tx.rows(
                "UPDATE winic_batches SET state = 'sending', owner = ?, started_at = ?, started_epoch = ? "
                "WHERE job_id = ? AND state = 'new' AND idx = (SELECT idx FROM winic_batches "
                f"WHERE job_id = ? AND state = 'new' ORDER BY idx LIMIT 1{self._skip_locked}) "
                f"RETURNING {_BATCH_COLUMNS}",
                (owner, utc_iso(now), now, job_id, job_id),
            )
        return self._batch(rows[0]) if rows else None

    def release_batch(self, job_id: str, index: int, owner: str) -> bool:
        """Put a batch ``owner`` claimed but never sent (interrupted between the claim and the request) back
        to ``new``; False if it is not that owner's ``sending`` batch."""
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_batches SET state = 'new', owner = NULL, started_at = NULL, started_epoch = NULL "
                "WHERE job_id = ? AND idx = ? AND state = 'sending' AND owner = ?",
                (job_id, index, owner),
            )
        return changed > 0

    def mark_accepted(self, job_id: str, index: int, message_id: str | None, *, source: str = "send") -> bool:
        """The service answered ``message_id`` (``source="reports"``: its reports proved it). False if the
        batch was not ``sending``/``unknown`` (already settled)."""
        return self._finish(job_id, index, "accepted", message_id=message_id, source=source)

    def mark_failed(self, job_id: str, index: int, code: str | None, error: str = "") -> bool:
        """The service refused the batch (``code``, e.g. ``-01``) or it provably never left."""
        return self._finish(job_id, index, "failed", code=code, error=error)

    def mark_unknown(self, job_id: str, index: int, error: str = "") -> bool:
        """The batch may have been processed: it is never sent again; its reports may settle it."""
        return self._finish(job_id, index, "unknown", error=error)

    def _finish(
        self,
        job_id: str,
        index: int,
        state: str,
        *,
        message_id: str | None = None,
        code: str | None = None,
        error: str = "",
        source: str | None = None,
    ) -> bool:
        with self._transaction(single=True) as tx:
            changed = tx.run(
                "UPDATE winic_batches SET state = ?, message_id = ?, code = ?, error = ?, source = ?, finished_at = ? "
                "WHERE job_id = ? AND idx = ? AND state IN ('sending', 'unknown')",
                (state, message_id, code, error[:500] or None, source, utc_iso(self.clock()), job_id, index),
            )
        return changed > 0

    def record_send(self, receipt: SendReceipt, *, job_id: str | None = None) -> str:
        """Journal a send made without the journal (already accepted), so its reports join it. Retrying it
        with the same ``job_id`` (after a lost acknowledgement) writes nothing twice."""
        job_id = job_id or new_job_id()
        now = self.clock()
        with self._transaction() as tx:
            tx.run(
                "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
                "VALUES (?, ?, ?, '{}', '', '', ?) ON CONFLICT (id) DO NOTHING",
                (job_id, receipt.operation, receipt.text, utc_iso(now)),
            )
            tx.many(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state, message_id, source, started_at, "
                "started_epoch, finished_at) VALUES (?, ?, ?, ?, 'accepted', ?, 'send', ?, ?, ?) "
                "ON CONFLICT (job_id, idx) DO NOTHING",  # a retry after a lost acknowledgement adds nothing
                [
                    (
                        job_id,
                        i,
                        ",".join(s.recipients),
                        len(s.recipients),
                        s.message_id,
                        utc_iso(now),
                        now,
                        utc_iso(now),
                    )
                    for i, s in enumerate(receipt.submissions)
                ],
            )
        return job_id

    def job(self, job_id: str) -> JobSummary | None:
        """One job with its batches counted per state; None if the store has no such job."""
        found = [j for j in self._job_summaries(job_id) if j.id == job_id]
        return found[0] if found else None

    def jobs(self) -> list[JobSummary]:
        """Every job, newest first, with its batches counted per state."""
        return sorted(self._job_summaries(None), key=lambda j: j.created_at, reverse=True)

    def _job_summaries(self, job_id: str | None) -> list[JobSummary]:
        with self._transaction() as tx:
            jobs = tx.rows(
                "SELECT id, operation, text, created_at, options, endpoint, uid, purged_at FROM winic_jobs "
                "WHERE (CAST(? AS TEXT) IS NULL OR id = ?)",
                (job_id, job_id),
            )
            counts = tx.rows(
                "SELECT job_id, state, COUNT(*), SUM(size) FROM winic_batches "
                "WHERE (CAST(? AS TEXT) IS NULL OR job_id = ?) "
                "GROUP BY job_id, state",
                (job_id, job_id),
            )
        summaries = {
            j[0]: JobSummary(
                j[0],
                j[1],
                j[2],
                j[3],
                json.loads(j[4]),
                j[5],
                j[6],
                dict.fromkeys(BATCH_STATES, 0),
                dict.fromkeys(BATCH_STATES, 0),
                j[7],
            )
            for j in jobs
        }
        for jid, state, batches, recipients in counts:
            if jid in summaries:
                summaries[jid].batches[state] = int(batches)
                summaries[jid].recipients[state] = int(recipients or 0)
        return list(summaries.values())

    def batches(self, job_id: str, states: Sequence[str] | None = None) -> list[Batch]:
        """A job's batches in order, optionally only those in ``states``."""
        only = "" if states is None else f" AND state IN ({_marks(len(states))})"  # not every number read back
        with self._transaction() as tx:
            rows = tx.rows(
                f"SELECT {_BATCH_COLUMNS} FROM winic_batches WHERE job_id = ?{only} ORDER BY idx",
                (job_id, *(states or ())),
            )
        return [self._batch(r) for r in rows]

    @staticmethod
    def _batch(row: Sequence[Any]) -> Batch:
        return Batch(
            job_id=row[0],
            index=int(row[1]),
            numbers=tuple(n for n in row[2].split(",") if n),
            state=row[3],
            message_id=row[4],
            code=row[5],
            error=row[6],
            source=row[7],
            started_at=row[8],
            finished_at=row[9],
            owner=row[10],
        )

    def delivery(self, job_id: str) -> dict[str, Any]:
        """A job's delivery picture from its batches and the reports joined to them (recipients counted)."""
        summary = self.job(job_id)
        if summary is None:
            raise InputError("job", "no such job in the store", job_id)
        with self._transaction() as tx:
            reports = tx.rows(  # one settled status per (message id, mobile): see store.settle
                "SELECT b.idx, s.mobile, s.status FROM winic_settled s "
                "JOIN winic_batches b ON b.message_id = s.message_id WHERE b.job_id = ?",
                (job_id,),
            )
        latest: dict[tuple[int, str], str] = {}
        for idx, mobile, status in reports:
            latest[(int(idx), mobile)] = status
        delivered = sum(1 for s in latest.values() if s == "DELIVRD")
        undelivered: dict[str, int] = {}
        for status in latest.values():
            if status != "DELIVRD":
                undelivered[status] = undelivered.get(status, 0) + 1
        accepted = summary.recipients.get("accepted", 0)
        failed_codes: dict[str, int] = {}
        for batch in self.batches(job_id, ["failed"]):
            failed_codes[batch.code or "not sent"] = failed_codes.get(batch.code or "not sent", 0) + len(batch.numbers)
        return {
            "job": job_id,
            "recipients": sum(summary.recipients.values()),
            "accepted": accepted,
            "delivered": delivered,
            "undelivered": dict(sorted(undelivered.items())),
            "waiting_for_report": max(accepted - len(latest), 0),
            "unknown": summary.recipients.get("unknown", 0),
            "sending": summary.recipients.get("sending", 0),
            "failed": dict(sorted(failed_codes.items())),
            "never_attempted": summary.recipients.get("new", 0),
        }

    def stats(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        job: str | None = None,
        by: str | None = None,
        categories: Categories | None = None,
    ) -> Stats:
        """Delivery statistics of the sends started in ``[since, until)`` (epoch seconds; None: unbounded),
        optionally of one ``job``, ``by`` ``"day"``/``"hour"`` (:mod:`winic_soap.store.stats`). Read without a
        write lock: each aggregate query sees the store as it was when it ran."""
        from winic_soap.store.stats import compute

        with self._transaction(single=True) as tx:
            return compute(tx, self.backend, since=since, until=until, job=job, by=by, categories=categories)

    # -- unknown outcomes, resolved by their reports --------------------------------------
    def resolve_unknown(self, message_ids: set[str] | None = None) -> list[Batch]:
        """Reports carrying a message id the journal does not know, all of whose numbers fall in exactly one
        ``unknown`` (or dead ``sending``) batch started before them: that batch was accepted under this id.
        Two candidate batches (shared numbers) leave both unknown. Returns the batches resolved."""
        now = self.clock()
        with self._transaction() as tx:
            candidates = [
                (self._batch(r[:-1]), float(r[-1]))
                for r in tx.rows(
                    f"SELECT {_BATCH_COLUMNS}, started_epoch FROM winic_batches "
                    "WHERE state IN ('unknown', 'sending') AND started_epoch >= ?",
                    (now - self.resolve_window,),
                )
            ]
            if not candidates:
                return []
            if message_ids is None:
                message_ids = {
                    m
                    for (m,) in tx.rows(
                        "SELECT DISTINCT r.message_id FROM winic_inbox r LEFT JOIN winic_batches b "
                        "ON b.message_id = r.message_id WHERE r.kind = 'report' AND b.message_id IS NULL "
                        "AND r.pulled_epoch >= ?",
                        (now - self.resolve_window,),
                    )
                }
            ids = sorted(message_ids)
            if not ids:
                return []
            known = {
                m
                for (m,) in tx.rows(
                    f"SELECT DISTINCT message_id FROM winic_batches WHERE message_id IN ({_marks(len(ids))})", ids
                )
            }
            reports = tx.rows(
                "SELECT message_id, mobile, pulled_epoch FROM winic_inbox "
                f"WHERE kind = 'report' AND message_id IN ({_marks(len(ids))})",
                ids,
            )
        seen: dict[str, tuple[set[str], float]] = {}
        for message_id, mobile, pulled in reports:
            if message_id in known:
                continue
            mobiles, first = seen.get(message_id, (set(), float("inf")))
            mobiles.add(mobile)
            seen[message_id] = (mobiles, min(first, float(pulled)))
        resolved = []
        for message_id, (mobiles, first) in sorted(seen.items()):
            matches = [b for b, started in candidates if mobiles <= set(b.numbers) and started <= first]
            if len(matches) != 1:
                if matches:
                    logger.info("reports for %s match %d unknown batches; left unknown", message_id, len(matches))
                continue
            batch = matches[0]
            if self.mark_accepted(batch.job_id, batch.index, message_id, source="reports"):
                logger.info("batch %d of job %s: accepted (from reports) as %s", batch.index, batch.job_id, message_id)
                resolved.append(batch)
                candidates = [(b, s) for b, s in candidates if b is not batch]
        return resolved


def new_job_id() -> str:
    """A readable job id: UTC time to the second and 6 random hex digits."""
    return "job-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
