"""``winic-soap inbox``, ``jobs`` and ``store``: look into the store and act on it (retry dead letters,
resume a job's never-attempted batches, migrate its schema, purge by age)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from winic_soap.cli.commands import (
    _client,
    _emit,
    all_attempted,
    open_cli_store,
    progress_bar,
    show_receipt,
    stops_on_sigterm,
)
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.states import RecordState
from winic_soap.store import BATCH_STATES, Batch, InboxRecord, JobSummary
from winic_soap.store.retention import parse_age
from winic_soap.store.webhooks import dead_deliveries, deliveries_of, retry_deliveries
from winic_soap.webhooks import display_url

__all__ = [
    "inbox_dead",
    "inbox_help",
    "inbox_list",
    "inbox_retry",
    "inbox_show",
    "jobs_help",
    "jobs_list",
    "jobs_resume",
    "jobs_show",
    "store_help",
    "store_migrate",
    "store_purge",
]


def inbox_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("inbox needs an action: list, show, retry or dead")


def jobs_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("jobs needs an action: list, show or resume")


def _record_json(record: InboxRecord) -> dict[str, Any]:
    return {**record.as_dict(), "state": record.state, "attempts": record.attempts, "last_error": record.last_error}


def _record_line(record: InboxRecord) -> str:
    d = record.data
    what = (
        f"{d.get('mobile')} port {d.get('port')} {d.get('text')!r}"
        if record.kind == "reply"
        else f"{d.get('message_id')} {d.get('mobile')} {d.get('status')}"
    )
    error = f"  last error: {record.last_error}" if record.last_error and record.state != "done" else ""
    return f"{record.id}  {record.state:<7} {record.kind:<6} {record.attempts}x  {record.pulled_at}  {what}{error}"


def _list(args: argparse.Namespace, state: RecordState | None) -> int:
    with open_cli_store(args) as store:
        rows = store.records(state, kind=args.kind, limit=args.limit)
    _emit(
        args,
        [_record_json(r) for r in rows],
        [_record_line(r) for r in rows] or [f"no {state or ''} records".replace("  ", " ")],
    )
    return 0


def inbox_list(args: argparse.Namespace) -> int:
    return _list(args, None if args.state == "all" else args.state)


def inbox_dead(args: argparse.Namespace) -> int:
    """Dead letters: records no hand-off took, and records a webhook endpoint never acknowledged."""
    with open_cli_store(args) as store:
        rows = store.records("dead", kind=args.kind, limit=args.limit)
        webhooks = [(d, store.get(d.record_id)) for d in dead_deliveries(store, args.limit)]
    data = [_record_json(r) for r in rows]
    human = [_record_line(r) for r in rows]
    for delivery, record in webhooks:
        if record is None or (args.kind and record.kind != args.kind):
            continue
        shown = display_url(delivery.endpoint)
        data.append({**_record_json(record), "webhook": {**asdict(delivery), "endpoint": shown}})
        human.append(f"{_record_line(record)}  webhook {shown}: {delivery.attempts}x, {delivery.last_error}")
    _emit(args, data, human or ["no dead records"])
    return 0


def inbox_show(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        record = store.get(args.id)
        webhooks = deliveries_of(store, args.id)
    if record is None:
        raise InputError("id", "no such record in the store", args.id)
    data = _record_json(record)
    if webhooks:
        data["webhooks"] = [{**d, "endpoint": display_url(d["endpoint"])} for d in webhooks]
    _emit(args, data, [f"{k:<12}{v}" for k, v in data.items()])
    return 0


def inbox_retry(args: argparse.Namespace) -> int:
    """Dead letters back in line: for their hand-off, and for each webhook endpoint (or ``--endpoint``) they died at."""
    with open_cli_store(args) as store:
        ids = [r.id for r in store.records("dead")] if args.all else list(args.ids)
        if not ids and not args.all:
            raise InputError("id", "name dead records to retry, or --all")
        retried = [i for i in ids if store.retry(i)] if not args.webhook_endpoint else []
        redelivered = retry_deliveries(store, None if args.all else ids, args.webhook_endpoint)
        retried = sorted(set(retried) | set(redelivered))
        ids = sorted(set(ids) | set(redelivered))
    missing = sorted(set(ids) - set(retried))
    _emit(
        args,
        {"retried": retried, "not_dead": missing},
        [f"back in line: {i}" for i in retried] + [f"not a dead letter: {i}" for i in missing]
        or ["no dead records to retry"],  # --all with none: said, not silence
    )
    return 0 if retried or not missing else 3


def _job_line(job: JobSummary) -> str:
    counts = ", ".join(f"{state} {job.batches.get(state, 0)}" for state in BATCH_STATES if job.batches.get(state))
    return f"{job.id}  {job.created_at}  {job.operation}  {sum(job.recipients.values())} recipient(s): {counts}"


def jobs_list(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        jobs = store.jobs()
    _emit(args, [j.as_dict() for j in jobs], [_job_line(j) for j in jobs] or ["no jobs"])
    return 0


def _batch_line(batch: Batch) -> str:
    detail = batch.message_id or batch.code or batch.error or ""
    source = " (from reports)" if batch.source == "reports" else ""
    started = batch.started_at or ""
    return f"  #{batch.index:<5} {batch.state:<9}{source} {len(batch.numbers):>3} number(s)  {started}  {detail}"


def jobs_show(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        job = store.job(args.job)
        if job is None:
            raise InputError("job", "no such job in the store", args.job)
        picture = store.delivery(args.job)
        batches = store.batches(args.job)
    attention = [b for b in batches if b.state in ("sending", "unknown")]
    data = {
        "job": job.as_dict(),
        "delivery": picture,
        "needs_a_person": [b.as_dict() for b in attention],
        "failed": [b.as_dict() for b in batches if b.state == "failed"],
    }
    if args.batches:
        data["batches"] = [b.as_dict() for b in batches]
    lines = [
        _job_line(job),
        f"text         {job.text}" if job.purged_at is None else f"text         (purged {job.purged_at})",
        f"accepted     {picture['accepted']} recipient(s): delivered {picture['delivered']}, "
        f"waiting for a report {picture['waiting_for_report']}",
        "undelivered  " + (", ".join(f"{k} {v}" for k, v in picture["undelivered"].items()) or "none"),
        f"unknown      {picture['unknown']} recipient(s); sending (in flight or its worker died) {picture['sending']}",
        "failed       " + (", ".join(f"{k} {v}" for k, v in picture["failed"].items()) or "none"),
        f"never sent   {picture['never_attempted']} recipient(s)"
        + (" (jobs resume sends them)" if picture["never_attempted"] else ""),
    ]
    suppressed = [entry["mobile"] for entry in job.options.get("suppressed") or ()]
    if suppressed:  # left out before the wire: on the suppression list (see `suppress list`)
        shown = ", ".join(suppressed[:10]) + (f" and {len(suppressed) - 10} more" if len(suppressed) > 10 else "")
        lines.append(f"suppressed   {len(suppressed)} number(s) not sent to (opted out): {shown}")
    if attention:
        lines.append("never re-sent automatically; check `winic-soap reports` and decide:")
        lines += [_batch_line(b) for b in attention]
    if args.batches:
        lines += [_batch_line(b) for b in batches]
    _emit(args, data, lines)
    return 0


def jobs_resume(args: argparse.Namespace) -> int:
    """Send the job's never-attempted batches (several processes may resume one job at once), then print the
    job's receipt as ``send`` does, or what stopped it."""
    with open_cli_store(args) as store:
        job = store.job(args.job)
        if job is None:
            raise InputError("job", "no such job in the store", args.job)
        with _client(args) as client, stops_on_sigterm(), progress_bar(args, job.batches.get("new", 0)) as progress:
            receipt = store.journal.resume(
                client, args.job, concurrency=args.concurrency, on_progress=progress, send_now=args.send_now,
                ignore_suppression=args.ignore_suppression,
            )  # fmt: skip
    return show_receipt(args, receipt, args.job, replayed=all_attempted(job))


def store_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("store needs an action: migrate or purge")


def store_migrate(args: argparse.Namespace) -> int:
    """Apply the migrations the store lacks (opening any store does it too), or list them with --dry-run."""
    with open_cli_store(args, migrate=False) as store:
        version = store.schema_version()
        steps = store.migrate(dry_run=args.dry_run)
    names = [str(m) for m in steps]
    target = steps[-1].version if steps else version
    if not steps:
        human = [f"schema version {version}: up to date"]
    elif args.dry_run:
        human = [f"schema version {version}; would apply {len(steps)} migration(s):", *(f"  {n}" for n in names)]
    else:
        human = [
            f"schema version {version} -> {target}: applied {len(steps)} migration(s):",
            *(f"  {n}" for n in names),
        ]
    _emit(args, {"from": version, "to": target, "applied": names, "dry_run": args.dry_run}, human)
    return 0


def store_purge(args: argparse.Namespace) -> int:
    """Retention by hand: what the watcher's ``retention`` setting does every hour."""
    if parse_age(args.older_than) is None:
        raise InputError("older_than", "must be an age like 30d (off purges nothing)", args.older_than)
    with open_cli_store(args) as store:
        counts = store.purge(args.older_than, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    blank = "would blank" if args.dry_run else "blanked"
    _emit(
        args,
        {**counts, "older_than": args.older_than, "dry_run": args.dry_run},
        [f"{verb} {counts['records']} handed-on record(s); {blank} the text of {counts['jobs']} finished job(s)"],
    )
    return 0
