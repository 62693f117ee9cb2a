"""``winic-soap stats``: delivery statistics from the store (:mod:`winic_soap.store.stats`) as text, JSON, or a
self-contained HTML report (``--html DIR``, :mod:`winic_soap.report`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from winic_soap.categories import Categories
from winic_soap.cli.context import open_cli_store
from winic_soap.cli.output import emit
from winic_soap.config import Settings
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.store.retention import parse_age
from winic_soap.store.stats import Figures, Stats

__all__ = ["add_arguments", "parse_moment", "stats"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's options (registered by :mod:`winic_soap.cli.parser`)."""
    p.add_argument("--since", help="sends started at or after: 2026-12-01, 2026-12-01T08:00 (UTC unless an offset)")
    p.add_argument("--until", help="sends started before this (same forms as --since)")
    p.add_argument("--last", metavar="AGE", help="sends of the last AGE: 7d, 24h, 90m (instead of --since)")
    p.add_argument("--job", help="only this job")
    p.add_argument("--by", choices=("day", "hour"), help="also per UTC day or hour (--html: day unless given)")
    p.add_argument(
        "--html", metavar="DIR", help="also write a self-contained HTML report, DIR/index.html (the report extra)"
    )


def parse_moment(value: str, field: str) -> float:
    """An ISO 8601 date or date-time (naive: UTC) as epoch seconds; a typed error naming ``field`` else."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(field, "must be an ISO 8601 date or date-time like 2026-12-01T08:00", value) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _range(args: argparse.Namespace, now: float) -> tuple[float | None, float | None]:
    if args.last and args.since:
        raise InputError("last", "give --last or --since, not both", args.last)
    until = parse_moment(args.until, "until") if args.until else None
    if args.last:
        age = parse_age(args.last, "last")
        if age is None:
            raise InputError("last", "must be an age like 7d, 24h or 90m", args.last)
        return (until or now) - age, until
    return (parse_moment(args.since, "since") if args.since else None), until


def stats(args: argparse.Namespace) -> int:
    settings = Settings.load(config=args.config, profile=args.profile)
    categories = Categories.of(settings.status_categories)
    write_report = _reporter() if args.html else None
    with open_cli_store(args, settings) as store:
        since, until = _range(args, store.clock())
        by = args.by or ("day" if args.html else None)
        result = store.stats(since=since, until=until, job=args.job, by=by, categories=categories)
    lines, data = _lines(result), result.as_dict()
    if write_report is not None:
        try:
            path = write_report(result, args.html)
        except OSError as exc:
            raise InputError("--html", f"cannot write the report there: {exc.strerror or exc}", args.html) from None
        lines.append(f"report       {path}")
        data["report"] = str(path)
    emit(args, data, lines)
    return 0


def _reporter() -> Callable[[Stats, str], Path]:
    """The report writer, checked before the store is read: pygal comes with the report extra."""
    try:
        from winic_soap.report import write_report
    except ImportError:
        raise ConfigurationError("--html needs pygal: pip install 'winic-soap[report]'") from None
    return write_report


def _rate(figures: Figures) -> str:
    rate = figures.delivery_rate
    return "-" if rate is None else f"{rate:.1%}"


def _lines(result: Stats) -> list[str]:
    t = result.total
    since, until = result.as_dict()["since"] or "the start", result.as_dict()["until"] or "now"
    failed = ", ".join(f"{c} {n} ({_codes(t, c)})" for c, n in sorted(t.failed.items(), key=lambda x: -x[1]))
    lat = result.latency
    lines = [
        f"sends        from {since} to {until}" + (f", job {result.job}" if result.job else ""),
        f"sent         {t.sent} recipient(s): accepted {t.accepted}, refused {t.refused}, unknown {t.unknown}, "
        f"sending {t.sending}",
        f"delivered    {t.delivered} ({_rate(t)} of accepted)",
        "failed       " + (f"{sum(t.failed.values())}: {failed}" if t.failed else "none"),
        f"waiting      {t.waiting} (no final report yet)",
        "latency      "
        + (f"p50 {lat.p50:g} s, p95 {lat.p95:g} s, max {lat.max:g} s over {lat.count} report(s)" if lat.count else "-"),
    ]
    for label, figures in result.buckets.items():
        lines.append(
            f"  {label:<17} sent {figures.sent:>7}  delivered {figures.delivered:>7}  "
            f"failed {sum(figures.failed.values()):>6}  waiting {figures.waiting:>6}  rate {_rate(figures)}"
        )
    return lines


def _codes(figures: Figures, category: str) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(figures.codes.get(category, {}).items()))
