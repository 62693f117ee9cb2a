"""``winic-soap inbox`` and ``store``: look into the store and act on it (retry dead letters, migrate its schema,
purge by age)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from winic_soap.cli.context import open_cli_store
from winic_soap.cli.exit_codes import ExitCode
from winic_soap.cli.output import emit
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.redaction import url_for_log
from winic_soap.states import RecordState
from winic_soap.store import InboxRecord
from winic_soap.store.retention import parse_age
from winic_soap.store.webhooks import dead_deliveries, deliveries_of, retry_deliveries

__all__ = [
    "inbox_dead",
    "inbox_help",
    "inbox_list",
    "inbox_retry",
    "inbox_show",
    "store_help",
    "store_migrate",
    "store_purge",
]


def inbox_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("inbox needs an action: list, show, retry or dead")


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
    emit(
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
        shown = url_for_log(delivery.endpoint)
        data.append({**_record_json(record), "webhook": {**asdict(delivery), "endpoint": shown}})
        human.append(f"{_record_line(record)}  webhook {shown}: {delivery.attempts}x, {delivery.last_error}")
    emit(args, data, human or ["no dead records"])
    return 0


def inbox_show(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        record = store.get(args.id)
        webhooks = deliveries_of(store, args.id)
    if record is None:
        raise InputError("id", "no such record in the store", args.id)
    data = _record_json(record)
    if webhooks:
        data["webhooks"] = [{**d, "endpoint": url_for_log(d["endpoint"])} for d in webhooks]
    emit(args, data, [f"{k:<12}{v}" for k, v in data.items()])
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
    emit(
        args,
        {"retried": retried, "not_dead": missing},
        [f"back in line: {i}" for i in retried] + [f"not a dead letter: {i}" for i in missing]
        or ["no dead records to retry"],  # --all with none: said, not silence
    )
    return ExitCode.OK if retried or not missing else ExitCode.INPUT  # named only records that are not dead


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
    emit(args, {"from": version, "to": target, "applied": names, "dry_run": args.dry_run}, human)
    return 0


def store_purge(args: argparse.Namespace) -> int:
    """Retention by hand: what the watcher's ``retention`` setting does every hour."""
    if parse_age(args.older_than) is None:
        raise InputError("older_than", "must be an age like 30d (off purges nothing)", args.older_than)
    with open_cli_store(args) as store:
        counts = store.purge(args.older_than, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    blank = "would blank" if args.dry_run else "blanked"
    emit(
        args,
        {**counts, "older_than": args.older_than, "dry_run": args.dry_run},
        [f"{verb} {counts['records']} handed-on record(s); {blank} the text of {counts['jobs']} finished job(s)"],
    )
    return 0
