"""The ``winic-soap`` argument parser: one sub-command per job, shared connection options on each."""

from __future__ import annotations

import argparse
from typing import Any

from winic_soap._version import __version__
from winic_soap.cli import account as account_cmd
from winic_soap.cli import demo as demo_cmd
from winic_soap.cli import jobs as jobs_cmd
from winic_soap.cli import operations as operations_cmd
from winic_soap.cli import pull as pull_cmd
from winic_soap.cli import send as send_cmd
from winic_soap.cli import stats as stats_cmd
from winic_soap.cli import store as store_cmd
from winic_soap.cli import suppress as suppress_cmd
from winic_soap.cli.exit_codes import EXIT_HELP
from winic_soap.config import TRANSPORTS
from winic_soap.mock import cli as mock_cli
from winic_soap.watcher import SOURCES

__all__ = ["build_parser"]

DESCRIPTION = """Operator tools for the winic.org SMS service.

Credentials and settings: flags > WINIC_* environment (WINIC_UID, WINIC_PWD, WINIC_ENDPOINT,
WINIC_TRANSPORT, ...) > the TOML config file ($WINIC_CONFIG or ~/.config/winic-soap/config.toml,
[profiles.NAME] tables selected with --profile). When no password is found and stdin is a
terminal, it is asked for. The password is never printed."""


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--config", help="TOML config file (default: $WINIC_CONFIG or ~/.config/winic-soap/config.toml)")
    group.add_argument("--profile", help="profile of the config file ([profiles.NAME])")
    group.add_argument("--uid", help="account name (else WINIC_UID, config)")
    group.add_argument("--pwd", help="password; prefer WINIC_PWD, the config file or the prompt (a flag shows in ps)")
    group.add_argument("--endpoint", help="service URL (default http://service2.winic.org/Service.asmx)")
    group.add_argument("--transport", choices=TRANSPORTS, help="protocol (default soap11)")
    group.add_argument("--timeout", type=float, help="seconds to wait for an answer (default 30)")
    group.add_argument("--wsdl", help="WSDL path or URL instead of the packaged copy")
    group.add_argument("--proxy", help="HTTP(S) proxy URL (default: HTTPS_PROXY/HTTP_PROXY/NO_PROXY; '' for none)")
    group.add_argument(
        "--verify", help="TLS: 'true' (default), 'false', or a CA bundle file or folder (else WINIC_VERIFY)"
    )
    group.add_argument("--cert", help="client certificate (PEM) for mutual TLS (else WINIC_CERT)")
    group.add_argument("--cert-key", help="the client certificate's key, when not in --cert (else WINIC_CERT_KEY)")
    group.add_argument(
        "--store",
        help="store URL for pulled records, leases and the send journal: sqlite:///path, sqlite:////abs/path, "
        "postgresql://user@host:port/db, or a bare path (default: $WINIC_STORE, the config file's store, "
        "else ~/.local/state/winic-soap/inbox.sqlite3)",
    )
    group.add_argument("--json", action="store_true", help="machine-readable output")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log to stderr: -v info (retries, sends), -vv debug (every HTTP exchange; no secrets)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole ``winic-soap`` command tree; each leaf sets ``run``, the function that does its job."""
    parser = argparse.ArgumentParser(
        prog="winic-soap",
        description=DESCRIPTION,
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"winic-soap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _connection_options()

    def command(name: str, help_text: str, run: object, *, connect: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_HELP,
            parents=[common] if connect else [],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(run=run, json=False)
        return p

    send = command("send", "send an SMS to one or more numbers", send_cmd.send)
    send.add_argument("numbers", nargs="*", help="recipients; '-' reads them from stdin")
    text = send.add_mutually_exclusive_group(required=True)
    text.add_argument("-m", "--text", help="message text")
    text.add_argument("--text-file", help="read the message text from this file")
    send.add_argument("-f", "--numbers-file", help="file of numbers (one per line or comma-separated; '-' = stdin)")
    send.add_argument(
        "--encoding",
        default="utf-8",
        help="how --numbers-file, --text-file and stdin are encoded (default utf-8; e.g. gbk, gb18030)",
    )
    send.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send to the valid numbers and list the invalid ones (by line) instead of refusing them all",
    )
    send.add_argument("--ext", help="extension number, 1-10 digits (uses SendMessages_Ext)")
    send.add_argument("--at", help="schedule: 'YYYY-MM-DD HH:MM[:SS]' in Asia/Shanghai time, or ISO 8601 with offset")
    send.add_argument("--international", action="store_true", help="numbers carry a country code, all one country")
    send.add_argument("--dry-run", action="store_true", help="print parts and estimated cost; send nothing")
    send.add_argument("--price", help="unit price for --dry-run without asking the service")
    send.add_argument("--signature", default=None, help="signature for --dry-run with --price")
    send.add_argument("--concurrency", type=int, default=1, help="requests in flight for more than 100 numbers")
    send.add_argument("--strict", action="store_true", help="refuse %% $ & # * instead of converting them")
    send.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    send.add_argument(
        "--job",
        help="the job's key in the store's journal (default: made up and printed before anything is written); "
        "a re-run with a key already there sends nothing twice and prints the first run's receipt",
    )
    send.add_argument(
        "--ignore-suppression",
        action="store_true",
        help="send to numbers on the store's suppression list too (only for a message the person asked for)",
    )
    send.add_argument(
        "--no-record",
        action="store_true",
        help="send without the journal: no job, no resume, no join of reports (not recommended)",
    )

    account = command("account", "show balance, price and signature (GetUserInfo)", account_cmd.account)
    account.add_argument("--personal", action="store_true", help="include company and contact (GetUserInfo_)")

    replies = command("replies", "pull replies (GET_SMS_MO); each is handed out once", pull_cmd.replies)
    replies.add_argument("--port", help="only replies to this port (IDtype)")
    replies.add_argument("--ext", action="store_true", help="use GET_SMS_MO_Ext")

    command("reports", "pull delivery reports (SMS_Reports); each is handed out once", pull_cmd.reports)

    call = command("call", "call any WSDL operation: call OP key=value ...", operations_cmd.call)
    call.add_argument("operation")
    call.add_argument("params", nargs="*", metavar="key=value")

    command("ops", "list the operations and parameters the loaded WSDL offers", operations_cmd.ops)

    wsdl = command("wsdl", "fetch the live WSDL or compare it with the packaged copy", operations_cmd.wsdl_help)
    wsdl_sub = wsdl.add_subparsers(dest="wsdl_command", metavar="ACTION")
    refresh = wsdl_sub.add_parser("refresh", help="fetch ENDPOINT?WSDL into the user cache", parents=[common])
    refresh.add_argument("--url", help="WSDL URL (default: the endpoint + ?WSDL)")
    refresh.add_argument("--output", help="where to write it (default ~/.cache/winic-soap/Service.asmx.wsdl)")
    refresh.set_defaults(run=operations_cmd.wsdl_refresh)
    diff = wsdl_sub.add_parser(
        "diff", help="operations added, removed or changed against the packaged copy", parents=[common]
    )
    diff.add_argument("source", nargs="?", help="WSDL path or URL (default: the user cache)")
    diff.set_defaults(run=operations_cmd.wsdl_diff)

    watch = command("watch", "poll reports and replies durably and hand each on once", pull_cmd.watch)
    watch.add_argument("--interval", type=float, default=10.0, help="seconds between polls, 5-30 (default 10)")
    watch.add_argument(
        "--exec",
        dest="exec_command",
        help="run this command per record, JSON on its stdin; "
        "a record is done when it exits 0 (default: JSON lines on stdout); it runs without the client's secrets",
    )
    watch.add_argument(
        "--exec-timeout",
        type=float,
        help="seconds a hand-off may run before it is killed and counted as failed (default: half the lease)",
    )
    watch.add_argument(
        "--exec-batch",
        type=int,
        default=1,
        metavar="N",
        help="hand up to N records to one --exec process, JSON lines on stdin; exit 0 acknowledges them all",
    )
    watch.add_argument(
        "--webhook",
        action="append",
        metavar="URL",
        help="POST each record, signed (Standard Webhooks), to this URL; repeatable (default: the webhooks "
        "setting, WINIC_WEBHOOK); the secret comes from WINIC_WEBHOOK_SECRET or the config file, never from here; "
        "without --exec, records then go to the webhooks only",
    )
    watch.add_argument("--port", help="only replies to this port (GET_SMS_MO IDtype)")
    watch.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated, of {', '.join(SOURCES)}")
    watch.add_argument("--once", action="store_true", help="hand on pending records, poll once, exit")
    watch.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on /metrics at this port (pip install "
        "'winic-soap[metrics]')",
    )  # fmt: skip
    watch.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    watch.add_argument(
        "--lease",
        type=float,
        help="seconds of the account's poller lease and of each claim of records "
        "(default: the larger of 3 intervals and the client deadline + 1 interval)",
    )
    watch.add_argument(
        "--max-handoffs", type=int, help="failed hand-offs before a record goes to the dead letters (default 5)"
    )
    watch.add_argument(
        "--retention",
        help="purge records handed on (and jobs finished) longer ago than this, hourly: 30d, 12h, off "
        "(default: the retention setting, 30d)",
    )
    _store_commands(sub, common)
    stats = command("stats", "delivery statistics: rates, failure categories, latency", stats_cmd.stats)
    stats_cmd.add_arguments(stats)

    mock = command("mock", "run the bundled fake service on this machine", mock_cli.serve, connect=False)
    mock_cli.add_arguments(mock)

    command("demo", "walk through the main job against the bundled mock (offline)", demo_cmd.demo, connect=False)
    return parser


def _store_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``inbox``, ``jobs`` and ``store``: what is in the store, and the actions a person takes on it."""

    def group(name: str, help_text: str, run: object) -> Any:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_HELP,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(run=run, json=False)
        return p.add_subparsers(dest=f"{name}_command", metavar="ACTION")

    def action(actions: Any, name: str, help_text: str, run: object) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(run=run)
        return p

    inbox = group("inbox", "stored reports and replies: list, show, retry dead letters", store_cmd.inbox_help)
    listing = action(inbox, "list", "records in the store, oldest first", store_cmd.inbox_list)
    listing.add_argument(
        "--state",
        choices=("pending", "done", "dead", "all"),
        default="pending",
        help="pending (default): not yet handed on; done: handed on; dead: failed every hand-off",
    )
    dead = action(inbox, "dead", "records that failed every hand-off (dead letters)", store_cmd.inbox_dead)
    for p in (listing, dead):
        p.add_argument("--kind", choices=("report", "reply"), help="only this kind")
        p.add_argument("--limit", type=int, default=-1, help="at most this many")
    show = action(inbox, "show", "one record with its hand-off history", store_cmd.inbox_show)
    show.add_argument("id")
    retry = action(inbox, "retry", "put dead letters back in line for hand-off", store_cmd.inbox_retry)
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead letter")
    retry.add_argument(
        "--webhook", dest="webhook_endpoint", metavar="URL", help="only the webhook deliveries to this endpoint"
    )

    store = group("store", "the store itself: migrate its schema, purge by age", store_cmd.store_help)
    migrate = action(store, "migrate", "bring the store's schema up to date", store_cmd.store_migrate)
    migrate.add_argument("--dry-run", action="store_true", help="list the migrations that would run; change nothing")
    purge = action(
        store,
        "purge",
        "delete records handed on, and blank the text of jobs finished, longer ago than --older-than",
        store_cmd.store_purge,
    )
    purge.add_argument("--older-than", required=True, metavar="AGE", help="an age: 30d, 12h, 90m, 2w, 45s")
    purge.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")

    suppress = group("suppress", "the suppression list: numbers that opted out", suppress_cmd.suppress_help)
    listed = action(
        suppress, "list", "suppressed numbers with why (the reply, or an operator)", suppress_cmd.suppress_list
    )
    listed.add_argument("--cleared", action="store_true", help="numbers taken off the list instead")
    add = action(suppress, "add", "put numbers on the list by hand", suppress_cmd.suppress_add)
    remove = action(suppress, "remove", "take numbers off the list (they opted back in)", suppress_cmd.suppress_remove)
    for p in (add, remove):
        p.add_argument("numbers", nargs="+", metavar="NUMBER")
    imported = action(suppress, "import", "put every number of a file on the list", suppress_cmd.suppress_import)
    imported.add_argument("file", help="one number per line, or a CSV whose first column is the number; '-' = stdin")
    imported.add_argument("--encoding", default="utf-8", help="how the file is encoded (default utf-8; e.g. gbk)")
    for p in (add, remove, imported):
        p.add_argument("--note", help="why (kept with each number)")

    jobs = group("jobs", "bulk sends in the journal: list, show, resume", jobs_cmd.jobs_help)
    action(jobs, "list", "jobs, newest first, with their batches per state", jobs_cmd.jobs_list)
    show_job = action(jobs, "show", "a job's delivery picture and the batches that need a person", jobs_cmd.jobs_show)
    show_job.add_argument("job")
    show_job.add_argument("--batches", action="store_true", help="list every batch")
    resume = action(
        jobs,
        "resume",
        "send the job's never-attempted batches (sending/unknown ones are never re-sent); "
        "several processes may resume one job together",
        jobs_cmd.jobs_resume,
    )
    resume.add_argument("job")
    resume.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    resume.add_argument(
        "--send-now",
        action="store_true",
        help="a job scheduled (--at) for a time that has passed: send its never-attempted batches now, unscheduled",
    )
    resume.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr"
    )
    resume.add_argument(
        "--ignore-suppression", action="store_true", help="send to numbers put on the suppression list since too"
    )
