"""``winic-soap replies``, ``reports`` and ``watch``: pulling records, once under the poller lease and printed,
or durably and handed on (stdout, ``--exec``, webhooks) until stopped."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING

from winic_soap.cli.context import open_cli_store, open_client
from winic_soap.exceptions import InputError, StoreError
from winic_soap.states import RecordKind
from winic_soap.store import InboxRecord, Store

if TYPE_CHECKING:
    from winic_soap.watcher import Watcher

__all__ = ["replies", "reports", "watch"]


def _pull_and_show(args: argparse.Namespace, source: str, kind: RecordKind) -> int:
    """Pull as a watcher would (under the account's poller lease, never beside a running watcher; spooled,
    then committed, whatever the answer's size); then print every pending record of this kind (earlier ones
    whose printing failed too), marking each done once written: a pulled record is never only in memory."""
    from winic_soap.watcher import MAX_INTERVAL, OPERATIONS, Watcher

    with open_client(args) as client, open_cli_store(args) as store:
        lease = client.settings.deadline + MAX_INTERVAL
        puller = Watcher(
            client, store, _stdout_handler, sources=[source], port=getattr(args, "port", None), lease=lease
        )
        if not puller.hold():
            holder = store.poller(puller.endpoint, puller.uid)
            raise StoreError(
                f"not pulled: the poller lease of {puller.uid} at {puller.endpoint} is held by "
                f"{holder.owner if holder else 'another process'} (a running `winic-soap watch`), which pulls "
                "and hands on this account's records; stop it first, or read what it stored with `inbox list`"
            )
        try:
            puller.pull_once()
        except StoreError as exc:
            unstored = _show_unstored(puller)
            where = "printed above, stored nowhere" if unstored else f"wait in the spool {store.spool.directory}"
            raise StoreError(
                f"{exc}; the pulled records {where} and reach the store with the next pull, watch or store command"
            ) from exc
        finally:
            puller.release()
        _show_pending(args, store, puller.owner, kind, OPERATIONS[source])
    return 0


def _show_unstored(watcher: Watcher) -> bool:
    """Print, in full, the pulled records neither the store nor the spool took (only memory holds them):
    about to exit, this is their last chance. Returns whether there were any."""
    unstored = watcher.unstored
    for record in unstored:
        print(json.dumps({"unstored": asdict(record)}, ensure_ascii=False, default=str), flush=True)
    return bool(unstored)


def _show_pending(args: argparse.Namespace, store: Store, owner: str, kind: RecordKind, operation: str) -> None:
    """Print the pending records of ``kind`` a page at a time (memory bounded by the page), each marked done
    once written: lines one by one; with ``--json`` one JSON array written as it goes, a page at a time."""
    shown = 0
    if args.json:
        print("[", end="", flush=True)
    while rows := store.claim(owner, limit=1000, kind=kind):
        for row in rows:
            if args.json:
                sys.stdout.write((", " if shown else "") + row.as_json())
            else:
                print(_human_record(row), flush=True)  # a closed pipe raises here: the record stays pending
                store.ack(row.id)
            shown += 1
        if args.json:
            sys.stdout.flush()  # a closed pipe raises here: the page stays pending
            store.ack_all([row.id for row in rows])
    if args.json:
        print("]", flush=True)
    elif not shown:
        print(f"{operation}: nothing pending", flush=True)


def _human_record(record: InboxRecord) -> str:
    d = record.data
    if record.kind == "reply":
        return f"{d.get('received_at') or '?'}  {d['mobile']}  port {d['port']}  {d['text']}"
    joined = f"  ({record.send['text'][:30]})" if record.send else ""
    return f"{d.get('at') or '?'}  {d['message_id']}  {d['mobile']}  {d['status']}{joined}"


def replies(args: argparse.Namespace) -> int:
    """Pull replies and print every pending one (``--ext``: through GET_SMS_MO_Ext)."""
    return _pull_and_show(args, "replies_ext" if args.ext else "replies", "reply")


def reports(args: argparse.Namespace) -> int:
    """Pull delivery reports and print every pending one."""
    return _pull_and_show(args, "reports", "report")


def _stdout_handler(record: InboxRecord) -> None:
    sys.stdout.write(record.as_json() + "\n")
    sys.stdout.flush()  # a closed pipe raises here, before the record is marked done


def _webhooks_only(record: InboxRecord) -> None:
    """With webhooks and no --exec the webhook queues (their own table) carry each record from here."""


def watch(args: argparse.Namespace) -> int:
    """Poll durably and hand each record on once (stdout, ``--exec`` or webhooks) until SIGTERM or Ctrl-C."""

    from winic_soap.watcher import ExecHandOff, Watcher
    from winic_soap.webhooks import WebhookDispatcher

    stop = threading.Event()
    if args.exec_batch < 1:
        raise InputError("--exec-batch", "must be at least 1", args.exec_batch)
    if args.exec_command is None and (args.exec_timeout is not None or args.exec_batch > 1):
        raise InputError("--exec", "--exec-timeout and --exec-batch need --exec", None)
    hand_off = None if args.exec_command is None else ExecHandOff(shlex.split(args.exec_command), stop=stop)
    metrics = None
    if args.metrics_port is not None:  # prometheus-client is loaded only when asked for
        from winic_soap.cli.watch_metrics import WatchMetrics

        metrics = WatchMetrics.of(args)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with open_client(args, hooks=metrics.hooks if metrics else ()) as client, open_cli_store(args) as store:
            urls = args.webhook or client.settings.webhooks
            failed = metrics.webhook_failed if metrics else None
            webhooks = (
                WebhookDispatcher(store, client.settings, urls=urls, interval=args.interval, on_failure=failed)
                if urls
                else None
            )
            handler = None if hand_off is not None else _webhooks_only if webhooks is not None else _stdout_handler
            if metrics is not None:
                metrics.start(store)
            watcher = Watcher(
                client,
                store,
                handler if metrics is None or handler is None else metrics.counted(handler),
                interval=args.interval,
                port=args.port,
                sources=[s.strip() for s in args.sources.split(",") if s.strip()],
                lease=args.lease,
                claim_size=args.exec_batch,
                batch_handler=hand_off if metrics is None or hand_off is None else metrics.counted(hand_off),
                retention=args.retention or client.settings.retention,
                webhooks=webhooks,
            )
            if hand_off is not None:
                hand_off.timeout = _exec_timeout(args.exec_timeout, watcher.lease)
            print(
                f"watching {client.settings.endpoint} every {args.interval:g}s; store {store.url}"
                + (f"; webhooks to {len(webhooks.endpoints)} endpoint(s)" if webhooks else ""),
                file=sys.stderr,
                flush=True,
            )
            try:
                watcher.run(stop, once=args.once)
            finally:
                if _show_unstored(watcher):
                    print("pulled records stored nowhere were printed on stdout as 'unstored'", file=sys.stderr)
    finally:
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
        if metrics is not None:
            metrics.stop()
    return 0


def _exec_timeout(given: float | None, lease: float) -> float:
    """``--exec-timeout``, half the lease by default: a hand-off must end inside its claim's lease, or another
    watcher could claim its records and hand them on too."""
    timeout = lease / 2 if given is None else given
    if not 0 < timeout < lease:
        raise InputError("--exec-timeout", f"must be positive and shorter than the lease ({lease:g} s)", timeout)
    return timeout
