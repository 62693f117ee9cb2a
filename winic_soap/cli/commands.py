"""What each ``winic-soap`` sub-command does; output is human lines by default, JSON with ``--json``.

The client, the watcher and the demo are imported where a command uses them: commands that never touch
the wire (``jobs list``, ``inbox list``, ``--help``) do not load httpx2, zeep or lxml.
"""

from __future__ import annotations

import argparse
import bisect
import codecs
import contextlib
import getpass
import hashlib
import json
import shlex
import signal
import sys
import threading
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from winic_soap.config import Settings, default_store_url, default_wsdl_cache_path
from winic_soap.exceptions import ConfigurationError, InputError, StoreError
from winic_soap.models import CostEstimate, OperationInfo, PartsInfo, Problem, SendReceipt, service_time
from winic_soap.recipients import Checked, check_numbers
from winic_soap.states import RecordKind
from winic_soap.store import InboxRecord, JobSummary, Store, open_store
from winic_soap.store.ids import new_job_id
from winic_soap.text import count_parts, sanitize

if TYPE_CHECKING:
    from winic_soap.client import WinicClient
    from winic_soap.core.contract import Contract
    from winic_soap.events import Hook
    from winic_soap.watcher import Watcher

__all__ = [
    "account",
    "call",
    "demo",
    "ops",
    "replies",
    "reports",
    "send",
    "watch",
    "wsdl_diff",
    "wsdl_help",
    "wsdl_refresh",
]


def _new_client(settings: Settings, store: Store | None = None, hooks: Sequence[Hook] = ()) -> WinicClient:
    """A client for ``settings`` (sends checked against ``store``'s suppression list); the wire's libraries
    are loaded here, by the commands that use it."""
    from winic_soap.client import WinicClient

    return WinicClient(settings=settings, store=store, hooks=hooks)


def _emit(args: argparse.Namespace, data: Any, human: list[str]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=str), flush=True)
    else:
        for line in human:
            print(line, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load(
        config=args.config,
        profile=args.profile,
        uid=args.uid,
        pwd=args.pwd,
        endpoint=args.endpoint,
        transport=args.transport,
        timeout=args.timeout,
        wsdl=args.wsdl,
        proxy=args.proxy,
        verify=args.verify,
        cert=args.cert,
        cert_key=args.cert_key,
    )
    if settings.uid and not settings.pwd and sys.stdin.isatty():
        settings = settings.with_(pwd=getpass.getpass(f"winic password for {settings.uid}: "))
    return settings


@contextmanager
def _client(
    args: argparse.Namespace, *, store: Store | None = None, hooks: Sequence[Hook] = (), **changes: Any
) -> Iterator[WinicClient]:
    settings = _settings(args).with_(**changes)
    settings.require_credentials()
    with _new_client(settings, store, hooks) as client:
        yield client


def open_cli_store(args: argparse.Namespace, settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """The store named by ``--store``, else ``WINIC_STORE`` / the config file, else the default SQLite file.
    ``migrate=False``: open without bringing the schema up to date (``store migrate`` does that itself)."""
    settings = settings or Settings.load(config=args.config, profile=args.profile)
    max_handoffs = getattr(args, "max_handoffs", None) or settings.max_handoffs
    timeout = {} if settings.store_timeout is None else {"store_timeout": settings.store_timeout}
    url = args.store or settings.store or default_store_url()
    store = open_store(
        url, max_handoffs=max_handoffs, migrate=migrate, opt_out=settings.opt_out_keywords,
        opt_in=settings.opt_in_keywords, intermediate=settings.intermediate_statuses, **timeout,
    )  # fmt: skip
    try:  # pulled records a failed commit left in the spool reach the store as soon as it can take them
        store.replay_spool()
    except StoreError as exc:
        print(f"warning: records wait in the spool {store.spool.directory}: {exc}", file=sys.stderr, flush=True)
    return store


# -- send ---------------------------------------------------------------------------------------
def _decode(data: bytes, encoding: str, what: str, where: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            what,
            f"{where} is not {encoding} (byte 0x{data[exc.start]:02x} at column {exc.start + 1}); "
            "pass --encoding with the file's encoding (e.g. --encoding gbk)",
        ) from None


def _open(path: str, what: str) -> BinaryIO:
    """A file named on the command line; one that cannot be opened is a usage error (exit 2), not a traceback."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise ConfigurationError(f"{what}: cannot open {path}: {exc.strerror or exc}") from None


def _encoding(args: argparse.Namespace) -> str:
    try:
        name = codecs.lookup(args.encoding).name
    except LookupError:
        raise ConfigurationError(f"--encoding: unknown encoding {args.encoding!r}") from None
    return "utf-8-sig" if name == "utf-8" else name  # a byte-order mark is not part of the first line


def decoded_lines(name: str, handle: BinaryIO, encoding: str, what: str) -> Iterator[tuple[int, str]]:
    """A file named on the command line (``-``: stdin, left open), a line at a time with its number; a line
    not in ``encoding`` is an :class:`InputError` naming it and ``--encoding``."""
    shown = "stdin" if name == "-" else name
    with contextlib.nullcontext(handle) if name == "-" else handle:
        for line, data in enumerate(handle, 1):
            yield line, _decode(data, encoding, what, f"line {line} of {shown}")
            encoding = encoding.replace("utf-8-sig", "utf-8")  # a mark only leads the first line


class NumberSource:
    """The numbers given to ``send`` -- arguments, then ``--numbers-file``, then stdin -- read one line at a
    time (a million lines are never in memory at once), each remembering where it came from (its line) so
    an invalid one is named as the operator sees it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._encoding = _encoding(args)
        self._lines = array("I")  # the line (or argument) number of every number read so far
        self._sources: list[tuple[int, str]] = []  # (index of its first number, what it is)
        given = [n for n in args.numbers if n != "-"]
        self._files = [args.numbers_file] if args.numbers_file else []
        if "-" in args.numbers or (not given and not args.numbers_file and not sys.stdin.isatty()):
            self._files.append("-")
        if not given and not self._files:
            raise InputError("numbers", "give numbers as arguments, with --numbers-file, or on stdin")
        self._handles = [(name, _open(name, "--numbers-file")) for name in self._files]  # a missing file: now

    def __iter__(self) -> Iterator[str]:
        given = [n for n in self._args.numbers if n != "-"]
        self._sources.append((0, "argument"))
        for position, number in enumerate(given, 1):
            self._lines.append(position)
            yield number
        for name, handle in self._handles:
            shown = "stdin" if name == "-" else name
            self._sources.append((len(self._lines), f"of {shown}"))
            for line, text in decoded_lines(name, handle, self._encoding, "--numbers-file"):
                for item in text.split("#", 1)[0].split(","):
                    number = item.strip()
                    if number:
                        self._lines.append(line)
                        yield number

    def label(self, index: int) -> tuple[str, int]:
        """How to name the ``index``-th number read: ``argument 2`` or ``line 12 of numbers.txt``."""
        line = self._lines[index]
        source = self._sources[bisect.bisect_right([i for i, _ in self._sources], index) - 1][1]
        return (f"argument {line}" if source == "argument" else f"line {line} {source}"), line


def _read_numbers(args: argparse.Namespace) -> Checked:
    """Every number given, checked and de-duplicated: an invalid one named by its line, all in one error, or
    skipped and listed with ``--skip-invalid``."""
    source = NumberSource(args)
    return check_numbers(
        source, international=args.international, skip_invalid=args.skip_invalid, field="numbers", label=source.label
    )


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None:
        return str(args.text)
    with _open(args.text_file, "--text-file") as handle:
        data = handle.read()
    return _decode(data, _encoding(args), "--text-file", args.text_file).rstrip("\r\n")  # the file's last line break


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError("--at", "must look like 2026-12-01 09:30 (Asia/Shanghai) or ISO 8601", value) from None


class _Progress:
    """A bulk send's progress bar on stderr (tqdm: rate and time left); closed, so its line is ended,
    before anything else is printed -- an error included."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._lock = threading.Lock()  # batches finish on several threads at once
        self.enabled = enabled

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, unit="req", desc="sending", file=sys.stderr, dynamic_ncols=True)
            if done > self._bar.n:
                self._bar.update(done - self._bar.n)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def _aware_service_time(at: datetime | None) -> str | None:
    """A service time as ISO 8601 with its +08:00 offset."""
    return None if at is None else service_time(at).isoformat()


@contextmanager
def progress_bar(args: argparse.Namespace, total: int) -> Iterator[_Progress | None]:
    """The bulk progress bar (on a terminal, or ``--progress``) for ``total`` requests, its line ended
    before anything else is printed; None when it is not shown."""
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = _Progress(show and total > 1)
    try:
        yield progress if progress.enabled else None
    finally:
        progress.close()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so a send stops as on Ctrl-C: nothing new starts, every id is kept."""


@contextmanager
def stops_on_sigterm() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` while a send runs (only the main thread can set a handler)."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _skipped_json(skipped: Sequence[Problem]) -> list[dict[str, Any]]:
    return [{"where": p.label, "line": p.position, "value": p.value, "rule": p.rule} for p in skipped]


def _skipped_lines(skipped: Sequence[Problem]) -> list[str]:
    if not skipped:
        return []
    shown = [f"  {p}" for p in skipped[: InputError.SHOWN]]
    more = len(skipped) - InputError.SHOWN
    return [f"skipped {len(skipped)} invalid number(s):", *shown, *([f"  ... and {more} more"] if more > 0 else [])]


def _print_receipt_json(receipt: SendReceipt, extra: dict[str, Any]) -> None:
    """The receipt as one JSON object on stdout, written a request at a time: a million recipients are never
    all in memory as strings."""
    head = {
        "operation": receipt.operation,
        "transport": receipt.transport,
        "parts": receipt.parts,
        "text": receipt.text,
        "scheduled_at": _aware_service_time(receipt.scheduled_at),
        "suppressed": [s.as_dict() for s in receipt.suppressed],
        **extra,
    }
    out = sys.stdout
    out.write(json.dumps(head, ensure_ascii=False, default=str)[:-1] + ', "submissions": [')
    for i, s in enumerate(receipt.submissions):
        out.write((", " if i else "") + json.dumps({"message_id": s.message_id, "recipients": s.recipients}))
    out.write("]}\n")
    out.flush()


def _counted_line(counted: PartsInfo) -> str:
    """How the dry run's parts were counted: the service's domestic rule, or GSM-7/UCS-2 and what forced UCS-2."""
    if counted.encoding == "chars":
        single, per_part = counted.per_part + 3, counted.per_part
        return f"counted      the service's rule: {single} characters in one SMS, {per_part} per part"
    unit = "septets" if counted.encoding == "GSM-7" else "UTF-16 units"
    line = f"counted      {counted.encoding}: {counted.units} {unit}, {counted.per_part} per part of a long text"
    if counted.ucs2_because:
        line += f"; UCS-2 because of {' '.join(counted.ucs2_because[:10])}"
        line += f" and {len(counted.ucs2_because) - 10} more" if len(counted.ucs2_because) > 10 else ""
    return line


def _dry_run(args: argparse.Namespace, checked: Checked, text: str) -> int:
    """``client.estimate`` (price, signature and balance from the service), or offline with ``--price``."""
    valid = checked.numbers
    clean = sanitize(
        text, strict=args.strict, max_parts=Settings.load(config=args.config, profile=args.profile).max_parts
    )
    if args.price is not None:
        try:
            price = Decimal(args.price)
        except InvalidOperation:
            raise InputError("--price", "must be a number", args.price) from None
        signature = args.signature or ""
        counted = count_parts(clean, signature=signature, international=args.international)
        estimate = CostEstimate(len(valid), counted.parts, price, price * len(valid) * counted.parts, None, counted)
    else:
        with _client(args, strict_text=args.strict) as client:
            info = client.account()
            estimate = client.estimate(len(valid), clean, account=info, international=args.international)
        signature = info.signature
    counted = estimate.counted or count_parts(clean, signature=signature, international=args.international)
    requests = len(valid.batches())
    characters = len(clean) + (0 if not signature or signature in clean else len(signature))
    data = {
        "dry_run": True,
        "recipients": estimate.recipients,
        "requests": requests,
        "parts": estimate.parts,
        "characters": characters,
        "encoding": counted.encoding,
        "units": counted.units,
        "ucs2_because": list(counted.ucs2_because),
        "price": str(estimate.price),
        "estimated_cost": str(estimate.cost),
        "balance": None if estimate.balance is None else str(estimate.balance),
        "fits": estimate.fits,
        "text": clean,
        **({"skipped": _skipped_json(checked.skipped)} if checked.skipped else {}),
    }
    balance = estimate.balance
    if balance is None:
        verdict = "balance      not checked (--price given)"
    elif estimate.fits:
        verdict = f"balance      {balance}: the send fits ({balance - estimate.cost} left after it)"
    else:
        verdict = f"balance      {balance}: NOT enough, {estimate.cost - balance} short (-01)"
    _emit(
        args,
        data,
        [
            "dry run: nothing sent",
            f"recipients   {estimate.recipients} in {requests} request(s)",
            f"parts        {estimate.parts} per recipient ({characters} characters with signature)",
            _counted_line(counted),
            f"cost         {estimate.cost} at {estimate.price} per part",
            verdict,
            *_skipped_lines(checked.skipped),
        ],
    )
    return 0


def send(args: argparse.Namespace) -> int:
    text = _read_text(args)
    checked = _read_numbers(args)  # the numbers stay compact from here on (a plan of them is not copied)
    if args.dry_run:
        return _dry_run(args, checked, text)
    at = _parse_at(args.at)
    ext = None if args.international else args.ext
    numbers = checked.numbers
    if not args.no_record:
        return _send_journalled(args, checked, text, at, ext)
    # without the journal the store still holds the suppression list: it is checked (unless ignored)
    store = None if args.ignore_suppression else open_cli_store(args)
    with _client(args, strict_text=args.strict, store=store) as client, store or nullcontext():
        plan = client.plan_send(numbers, text, at=at, ext=ext, international=args.international)
        skip = args.ignore_suppression
        with stops_on_sigterm(), progress_bar(args, len(plan.batches)) as progress:
            if args.international:
                receipt = client.send_international(numbers, text, at=at, concurrency=args.concurrency,
                                                    on_progress=progress, ignore_suppression=skip)  # fmt: skip
            else:
                receipt = client.send(
                    numbers, text, at=at, ext=ext, concurrency=args.concurrency, on_progress=progress,
                    ignore_suppression=skip,
                )  # fmt: skip
    return show_receipt(args, receipt, skipped=checked.skipped)


def show_receipt(
    args: argparse.Namespace,
    receipt: SendReceipt,
    job: str | None = None,
    *,
    skipped: Sequence[Problem] = (),
    replayed: bool = False,
) -> int:
    """What a send printed: the receipt, human or JSON, with its job when it was journalled and the invalid
    numbers ``--skip-invalid`` left out. ``replayed``: the job had nothing left to send, so "sent" is said on
    stderr to be the job's earlier sends (an operator must not think the SMS went out twice)."""
    if replayed:
        note = f"job {job}: every batch was attempted before: nothing sent now; the receipt is the job's"
        print(note, file=sys.stderr, flush=True)
    skipped = skipped or receipt.skipped
    lines = [
        f"sent {receipt.parts} part(s) each to {receipt.count} recipient(s) "
        f"in {len(receipt.submissions)} request(s) over {receipt.transport}" + (f" (job {job})" if job else "")
    ]
    lines += [f"message id {s.message_id or '(legacy 000)'}  {s.count} recipient(s)" for s in receipt.submissions]
    if args.json:
        extra = {**({"job": job} if job else {}), **({"skipped": _skipped_json(skipped)} if skipped else {})}
        _print_receipt_json(receipt, extra)
        return 0
    if receipt.suppressed:
        lines.append(f"not sent to {len(receipt.suppressed)} number(s) on the suppression list:")
        lines += [f"  {s.mobile}  {s.reason}" for s in receipt.suppressed]
    for line in [*lines, *_skipped_lines(skipped)]:
        print(line, flush=True)
    return 0


# -- send through the journal ---------------------------------------------------------------------
def _send_journalled(
    args: argparse.Namespace, checked: Checked, text: str, at: datetime | None, ext: str | None
) -> int:
    """Check the input (the library's own checks), name the job and print its id, write it to the store, and
    only then send: a store that cannot be written stops the send before anything leaves (exit 10), and
    with the printed id a re-run (``--job ID``) is a replay that sends nothing twice."""
    settings = _settings(args).with_(strict_text=args.strict)
    settings.require_credentials()
    with _new_client(settings) as client:  # built first: a bad setting leaves no job behind
        job_id = args.job or new_job_id()
        print(f"job {job_id}", file=sys.stderr, flush=True)  # before anything is written: a lost commit leaves it
        try:
            store = open_cli_store(args, settings)
        except StoreError as exc:
            raise _nothing_sent(exc, job_id) from exc
        with store, stops_on_sigterm(), progress_bar(args, len(checked.numbers.batches())) as progress:
            try:
                replayed = bool(args.job) and all_attempted(store.job(job_id))
                receipt = store.journal.send(
                    client, checked.numbers, text, job=job_id, at=at, ext=ext, international=args.international,
                    concurrency=args.concurrency, on_progress=progress, ignore_suppression=args.ignore_suppression,
                )  # fmt: skip
            except StoreError as exc:  # raised as itself only when nothing was sent
                raise _nothing_sent(exc, job_id) from exc
    return show_receipt(args, receipt, job_id, skipped=checked.skipped, replayed=replayed)


def all_attempted(job: JobSummary | None) -> bool:
    """Whether a job is in the journal with no never-attempted batch (batches never go back to ``new``): a
    replay or resume of it sends nothing."""
    return job is not None and not job.batches.get("new", 0)


def _nothing_sent(exc: StoreError, job: str) -> StoreError:
    return StoreError(
        f"{exc}; nothing was sent (the send is journalled before it goes out). Job {job} may have been "
        f"written: re-run with --job {job} to send it exactly once"
    )


# -- reads ---------------------------------------------------------------------------------------
def account(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.account(personal=args.personal)
    data = {k: v for k, v in asdict(info).items() if v is not None}
    _emit(args, data, [f"{k:<14}{v}" for k, v in data.items()])
    return 0


def _pull_and_show(args: argparse.Namespace, source: str, kind: RecordKind) -> int:
    """Pull as a watcher would (under the account's poller lease, never beside a running watcher; spooled,
    then committed, whatever the answer's size); then print every pending record of this kind (earlier ones
    whose printing failed too), marking each done once written: a pulled record is never only in memory."""
    from winic_soap.watcher import MAX_INTERVAL, OPERATIONS, Watcher

    with _client(args) as client, open_cli_store(args) as store:
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
    return _pull_and_show(args, "replies_ext" if args.ext else "replies", "reply")


def reports(args: argparse.Namespace) -> int:
    return _pull_and_show(args, "reports", "report")


def call(args: argparse.Namespace) -> int:
    params = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError("params", "each must be key=value", item)
        params[key] = value
    with _client(args) as client:
        answer = client.call(args.operation, **params)
    _emit(args, {"operation": args.operation, "answer": answer}, [answer if answer is not None else "(null)"])
    return 0


def _ops_json(ops: list[OperationInfo]) -> list[dict[str, Any]]:
    return [{"name": o.name, "parameters": list(o.parameters), "documentation": o.documentation} for o in ops]


def _contract(location: str | None, client: WinicClient | None = None) -> Contract:
    """The packaged contract (no zeep), or zeep's introspection of another WSDL (URLs through ``client``)."""
    from winic_soap.core.contract import load_packaged_contract

    contract = load_packaged_contract() if location is None else None
    if contract is None:
        from winic_soap.wsdl import load_contract  # zeep, only for the commands that read other WSDLs

        contract = load_contract(location, fetch=client.fetch_wsdl if client else _local_only)
    return contract


def _local_only(url: str) -> bytes:
    raise ConfigurationError(f"{url}: give --endpoint settings to fetch remote WSDLs")


def ops(args: argparse.Namespace) -> int:
    settings = Settings.load(config=args.config, profile=args.profile, endpoint=args.endpoint, wsdl=args.wsdl)
    if settings.wsdl is None:
        listed = sorted((op.info for op in _contract(None).operations.values()), key=lambda o: o.name)
    else:
        with _new_client(settings) as client:
            listed = client.operations()
    _emit(
        args,
        _ops_json(listed),
        [f"{o.name}({', '.join(o.parameters)})" + (f"  {o.documentation}" if o.documentation else "") for o in listed],
    )
    return 0


# -- wsdl ----------------------------------------------------------------------------------------
def wsdl_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("wsdl needs an action: refresh or diff")


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = [f"+ {name}" for name in diff["added"]] + [f"- {name}" for name in diff["removed"]]
    lines += [
        f"~ {name}: ({', '.join(c['packaged'])}) -> ({', '.join(c['other'])})" for name, c in diff["changed"].items()
    ]
    return lines or ["no differences in operations or parameters"]


def _drift(diff: dict[str, Any]) -> bool:
    return bool(diff["added"] or diff["removed"] or diff["changed"])


def _wsdl_client(args: argparse.Namespace) -> WinicClient:
    """A client for fetching documents only: settings (proxy, TLS) without credentials."""
    settings = _settings(args)
    return _new_client(settings.with_(wsdl=None))


def wsdl_refresh(args: argparse.Namespace) -> int:
    """Fetch the live WSDL and read it as the client would (its imports under the client's rules: same
    host over HTTP(S), bounded size, no local path) before anything is written."""
    from winic_soap.wsdl import diff as wsdl_diff_of
    from winic_soap.wsdl import introspect, load_document

    output = Path(args.output).expanduser() if args.output else default_wsdl_cache_path()
    with _wsdl_client(args) as client:
        url = args.url or f"{client.settings.endpoint}?WSDL"
        document, raw = load_document(url, fetch=client.fetch_wsdl)
        fetched = introspect(document, raw)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    partial.write_bytes(raw)
    partial.replace(output)
    diff = wsdl_diff_of(_contract(None), fetched)
    data = {
        "url": url,
        "path": str(output),
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "operations": len(fetched.operations),
        "diff": diff,
    }
    _emit(
        args,
        data,
        [
            f"saved {url} to {output} ({len(raw)} bytes, {len(fetched.operations)} operations)",
            f"sha256 {data['sha256']}",
            "against the packaged copy:",
            *_diff_lines(diff),
            f"use it with --wsdl {output} or WINIC_WSDL={output}",
        ],
    )
    return 0


def wsdl_diff(args: argparse.Namespace) -> int:
    """Exit 0 when the operations match the packaged copy, ``EXIT_CODES["drift"]`` when they do not (a CI guard)."""
    from winic_soap.cli.errors import EXIT_CODES
    from winic_soap.wsdl import diff as wsdl_diff_of

    source = args.source or str(default_wsdl_cache_path())
    if not args.source and not Path(source).is_file():
        raise ConfigurationError(f"no cached WSDL at {source}: run `winic-soap wsdl refresh` or pass a path/URL")
    if source.startswith(("http://", "https://")):
        with _wsdl_client(args) as client:
            other = _contract(source, client)
    else:
        other = _contract(source)
    diff = wsdl_diff_of(_contract(None), other)
    _emit(args, {"source": source, "drift": _drift(diff), **diff}, [f"packaged copy vs {source}:", *_diff_lines(diff)])
    return EXIT_CODES["drift"] if _drift(diff) else 0


# -- watch ---------------------------------------------------------------------------------------
def _stdout_handler(record: InboxRecord) -> None:
    sys.stdout.write(record.as_json() + "\n")
    sys.stdout.flush()  # a closed pipe raises here, before the record is marked done


def _webhooks_only(record: InboxRecord) -> None:
    """With webhooks and no --exec the webhook queues (their own table) carry each record from here."""


def watch(args: argparse.Namespace) -> int:
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
        with _client(args, hooks=metrics.hooks if metrics else ()) as client, open_cli_store(args) as store:
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


def demo(args: argparse.Namespace) -> int:
    from winic_soap.demo import run_demo

    return run_demo()
