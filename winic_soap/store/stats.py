"""Delivery statistics from the store (``store.stats()``, ``winic-soap stats``): what was sent in a time range,
what the service accepted, what the settled reports (:mod:`winic_soap.store.settle`) say became of it, and
how long reports took.

Every figure is aggregated in SQL on both backends (three grouped queries, whatever the number of reports);
Python only adds up the groups. Counts are recipients. A send belongs to the range (and the day or hour) in
which its batch started. From the batches: ``sent`` (every attempted recipient), ``accepted``, ``refused`` (the
service refused the batch, or it provably never left), ``unknown`` (the outcome is unknown), ``sending`` (in
flight, or its worker died). From the settled reports of accepted recipients: ``delivered``, ``failed`` by
category (:mod:`winic_soap.categories`, raw codes kept), and ``waiting`` (accepted with no final report yet:
none, or one in transit). The delivery rate is delivered / accepted. The report latency runs from the
batch's start to the arrival in the store (the pull) of the report that settled the recipient; it is counted
in 0.1 s steps, so its percentiles (nearest rank) are exact to 0.1 s. Records purged by retention are no
longer counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from winic_soap.categories import FAILURES, Categories
from winic_soap.exceptions import InputError
from winic_soap.states import BatchState

if TYPE_CHECKING:
    from winic_soap.store.schema import Tx

__all__ = ["BUCKETS", "Figures", "Latency", "Seen", "Stats", "compute", "last_seq", "reports_after"]

#: the width in seconds of each ``by`` bucket (UTC days and hours)
BUCKETS = {"day": 86400, "hour": 3600}
_STEP = 10  # latency steps per second
_WHERE = (
    "b.state <> 'new' AND b.started_epoch >= ? AND b.started_epoch < ? AND (CAST(? AS TEXT) IS NULL OR b.job_id = ?)"
)


@dataclass
class Figures:
    """The counts of one slice (the whole range, a job, a day or an hour), in recipients."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    unknown: int = 0
    sending: int = 0
    delivered: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # category -> recipients
    codes: dict[str, dict[str, int]] = field(default_factory=dict)  # category -> raw code -> recipients
    waiting: int = 0

    @property
    def delivery_rate(self) -> float | None:
        """Delivered / accepted; None when nothing was accepted."""
        return self.delivered / self.accepted if self.accepted else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed_total": sum(self.failed.values()), "delivery_rate": self.delivery_rate}


@dataclass(frozen=True)
class Latency:
    """Send-to-report latency of the settling reports, seconds (None with no report)."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    histogram: tuple[tuple[float, int], ...] = ()  # (seconds at the step's start, reports), ascending


@dataclass(frozen=True)
class Stats:
    """Statistics over ``[since, until)`` (epoch seconds), optionally for one ``job``."""

    since: float
    until: float
    job: str | None
    by: str | None
    total: Figures
    latency: Latency
    jobs: dict[str, Figures]
    buckets: dict[str, Figures]  # "2026-12-06" / "2026-12-06T15:00Z" -> figures, in time order; {} without ``by``

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "job": self.job,
            "by": self.by,
            **self.total.as_dict(),
            "latency": {k: v for k, v in asdict(self.latency).items() if k != "histogram"},
            "jobs": {j: f.as_dict() for j, f in self.jobs.items()},
            "buckets": {b: f.as_dict() for b, f in self.buckets.items()},
        }


def _iso(epoch: float) -> str | None:
    if epoch <= 0 or epoch >= 1e11:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _label(key: int, by: str) -> str:
    moment = datetime.fromtimestamp(key * BUCKETS[by], UTC)
    return moment.strftime("%Y-%m-%d") if by == "day" else moment.strftime("%Y-%m-%dT%H:00Z")


def _floor(backend: str, expr: str) -> str:
    # SQLite's CAST truncates (its FLOOR needs the optional math functions); PostgreSQL's CAST would round
    return f"CAST({expr} AS INTEGER)" if backend == "sqlite" else f"CAST(FLOOR({expr}) AS BIGINT)"


def compute(
    tx: Tx,
    backend: str,
    *,
    since: float | None = None,
    until: float | None = None,
    job: str | None = None,
    by: str | None = None,
    categories: Categories | None = None,
) -> Stats:
    """The statistics, in ``tx``; ``by`` is ``"day"``, ``"hour"`` or None (no buckets)."""
    if by is not None and by not in BUCKETS:
        raise InputError("by", "must be day or hour", by)
    low, high = (0.0 if since is None else float(since)), (1e12 if until is None else float(until))
    if high <= low:
        raise InputError("until", "must be after since", _iso(high))
    table = categories or Categories()
    bucket = _floor(backend, f"b.started_epoch / {BUCKETS[by]}") if by else "0"
    params = (low, high, job, job)
    sends = tx.rows(
        f"SELECT b.job_id, {bucket}, b.state, SUM(b.size) FROM winic_batches b WHERE {_WHERE} GROUP BY 1, 2, 3",
        params,
    )
    reports = tx.rows(
        f"SELECT b.job_id, {bucket}, s.status, s.final, COUNT(*) FROM winic_batches b "
        f"JOIN winic_settled s ON s.message_id = b.message_id WHERE {_WHERE} GROUP BY 1, 2, 3, 4",
        params,
    )
    steps = tx.rows(  # the settling report's pull time minus the batch's start, in 0.1 s steps
        f"SELECT {_floor(backend, f'(i.pulled_epoch - b.started_epoch) * {_STEP}')}, COUNT(*), "
        "MAX(i.pulled_epoch - b.started_epoch) FROM winic_batches b "
        "JOIN winic_settled s ON s.message_id = b.message_id JOIN winic_inbox i ON i.id = s.record_id "
        f"WHERE {_WHERE} AND s.final = 1 GROUP BY 1 ORDER BY 1",
        params,
    )
    total, jobs, buckets = Figures(), dict[str, Figures](), dict[int, Figures]()

    def slices(job_id: str, key: int) -> tuple[Figures, ...]:
        found = (total, jobs.setdefault(job_id, Figures()))
        return (*found, buckets.setdefault(int(key), Figures())) if by else found

    for job_id, key, state, recipients in sends:
        for figures in slices(job_id, key):
            _add_send(figures, state, int(recipients or 0))
    for job_id, key, status, final, count in reports:
        for figures in slices(job_id, key):
            _add_report(figures, table, status, bool(final), int(count))
    for figures in (total, *jobs.values(), *buckets.values()):
        figures.waiting = max(figures.accepted - figures.delivered - sum(figures.failed.values()), 0)
    return Stats(
        since=low,
        until=high,
        job=job,
        by=by,
        total=total,
        latency=_latency(steps),
        jobs=dict(sorted(jobs.items())),
        buckets={_label(k, by): buckets[k] for k in sorted(buckets)} if by else {},
    )


def _add_send(figures: Figures, state: BatchState, recipients: int) -> None:
    figures.sent += recipients
    name = {"accepted": "accepted", "failed": "refused", "unknown": "unknown", "sending": "sending"}.get(state)
    if name is not None:
        setattr(figures, name, getattr(figures, name) + recipients)


def _add_report(figures: Figures, table: Categories, status: str, final: bool, count: int) -> None:
    category = table.of_status(status)
    if category == "delivered":
        figures.delivered += count
        return
    if not final:  # in transit: still waiting for the final report
        return
    category = category if category in FAILURES else "unknown"  # a final status the table calls in transit
    figures.failed[category] = figures.failed.get(category, 0) + count
    codes = figures.codes.setdefault(category, {})
    codes[status] = codes.get(status, 0) + count


def _latency(steps: Sequence[tuple[Any, ...]]) -> Latency:
    """Nearest-rank percentiles from the grouped steps: the value reported is the step's largest latency."""
    rows = [(int(step), int(count), float(top)) for step, count, top in steps]
    count = sum(n for _, n, _ in rows)
    if not count:
        return Latency()

    def rank(share: float) -> float:
        wanted, seen = max(1, -(-count * share // 1)), 0
        for _, n, top in rows:
            seen += n
            if seen >= wanted:
                return round(top, 3)
        return round(rows[-1][2], 3)

    return Latency(
        count=count,
        p50=rank(0.5),
        p95=rank(0.95),
        max=round(rows[-1][2], 3),
        histogram=tuple((step / _STEP, n) for step, n, _ in rows),
    )


# -- for metrics: what arrived after a point in the inbox's sequence -------------------------------------
@dataclass(frozen=True)
class Seen:
    """Distinct reports stored in ``(after, until]`` of the inbox's sequence: ``statuses`` (raw status,
    count), ``latency`` (bucket index, count, sum of seconds), and the inbox's and webhook queues' records
    per state now."""

    until: int
    statuses: list[tuple[str, int]]
    latency: list[tuple[int, int, float]]
    inbox: dict[str, int]
    webhooks: dict[str, int]


def last_seq(tx: Tx) -> int:
    """The inbox's latest sequence number (0 when empty)."""
    return int(tx.rows("SELECT COALESCE(MAX(seq), 0) FROM winic_inbox")[0][0])


def reports_after(tx: Tx, after: int, bounds: Sequence[float]) -> Seen:
    """For metrics: the reports stored after ``after`` (repeats left out), their latency counted per bucket
    of ``bounds`` (upper bounds, ascending; one more bucket above the last), in grouped queries. The next call
    starts from ``until``: SQLite numbers rows again from the end retention left, so rows below an old end are
    not known to be new and go uncounted, never counted twice."""
    until = last_seq(tx)
    cases = " ".join(f"WHEN lat <= {float(bound)!r} THEN {i}" for i, bound in enumerate(bounds))
    span = (after, until)
    new = "i.seq > ? AND i.seq <= ? AND i.kind = 'report' AND i.repeat_of IS NULL"
    statuses = tx.rows(
        f"SELECT i.status, COUNT(*) FROM winic_inbox i WHERE {new} AND i.status IS NOT NULL GROUP BY i.status", span
    )
    latency = tx.rows(
        f"SELECT CASE {cases} ELSE {len(bounds)} END, COUNT(*), SUM(lat) FROM (SELECT i.pulled_epoch - "
        "b.started_epoch AS lat FROM winic_inbox i JOIN winic_batches b ON b.message_id = i.message_id "
        f"WHERE {new} AND b.started_epoch IS NOT NULL) l GROUP BY 1",
        span,
    )
    inbox = tx.rows("SELECT state, COUNT(*) FROM winic_inbox GROUP BY state")
    webhooks = tx.rows("SELECT state, COUNT(*) FROM winic_webhook_deliveries GROUP BY state")
    return Seen(
        until=until,
        statuses=[(str(s), int(n)) for s, n in statuses],
        latency=[(int(b), int(n), float(t or 0)) for b, n, t in latency],
        inbox={str(s): int(n) for s, n in inbox},
        webhooks={str(s): int(n) for s, n in webhooks},
    )
