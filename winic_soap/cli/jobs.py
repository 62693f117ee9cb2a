"""``winic-soap jobs``: bulk sends in the store's journal: list them, show one's delivery picture and the batches
that need a person, resume its never-attempted batches."""

from __future__ import annotations

import argparse

from winic_soap.cli.context import open_cli_store, open_client
from winic_soap.cli.output import emit
from winic_soap.cli.sending import all_attempted, progress_bar, show_receipt, stops_on_sigterm
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.store import BATCH_STATES, Batch, JobSummary

__all__ = ["jobs_help", "jobs_list", "jobs_resume", "jobs_show"]


def jobs_help(args: argparse.Namespace) -> int:
    """``jobs`` without an action is a usage error naming the actions."""
    raise ConfigurationError("jobs needs an action: list, show or resume")


def _job_line(job: JobSummary) -> str:
    counts = ", ".join(f"{state} {job.batches.get(state, 0)}" for state in BATCH_STATES if job.batches.get(state))
    return f"{job.id}  {job.created_at}  {job.operation}  {sum(job.recipients.values())} recipient(s): {counts}"


def jobs_list(args: argparse.Namespace) -> int:
    """Every job in the journal, newest first, with its batches per state."""
    with open_cli_store(args) as store:
        jobs = store.jobs()
    emit(args, [j.as_dict() for j in jobs], [_job_line(j) for j in jobs] or ["no jobs"])
    return 0


def _batch_line(batch: Batch) -> str:
    detail = batch.message_id or batch.code or batch.error or ""
    source = " (from reports)" if batch.source == "reports" else ""
    started = batch.started_at or ""
    return f"  #{batch.index:<5} {batch.state:<9}{source} {len(batch.numbers):>3} number(s)  {started}  {detail}"


def jobs_show(args: argparse.Namespace) -> int:
    """A job's delivery picture, and the batches a person must decide on (never re-sent by themselves)."""
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
    emit(args, data, lines)
    return 0


def jobs_resume(args: argparse.Namespace) -> int:
    """Send the job's never-attempted batches (several processes may resume one job at once), then print the
    job's receipt as ``send`` does, or what stopped it."""
    with open_cli_store(args) as store:
        job = store.job(args.job)
        if job is None:
            raise InputError("job", "no such job in the store", args.job)
        with open_client(args) as client, stops_on_sigterm(), progress_bar(args, job.batches.get("new", 0)) as progress:
            receipt = store.journal.resume(
                client, args.job, concurrency=args.concurrency, on_progress=progress, send_now=args.send_now,
                ignore_suppression=args.ignore_suppression,
            )  # fmt: skip
    return show_receipt(args, receipt, args.job, replayed=all_attempted(job))
