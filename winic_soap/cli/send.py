"""``winic-soap send``: numbers and text from arguments, files or stdin, checked before anything is sent;
a dry run, a send through the store's journal (the default), or without it (``--no-record``)."""

from __future__ import annotations

import argparse
import bisect
import sys
from array import array
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime
from decimal import Decimal, InvalidOperation

from winic_soap.cli.context import load_settings, new_client, open_cli_store, open_client
from winic_soap.cli.files import decode_input, decoded_lines, input_encoding, open_input
from winic_soap.cli.output import emit
from winic_soap.cli.sending import (
    all_attempted,
    progress_bar,
    show_receipt,
    skipped_json,
    skipped_lines,
    stops_on_sigterm,
)
from winic_soap.config import Settings
from winic_soap.exceptions import InputError, StoreError
from winic_soap.models import CostEstimate, PartsInfo
from winic_soap.recipients import Checked, check_numbers
from winic_soap.store.ids import new_job_id
from winic_soap.text import count_parts, sanitize

__all__ = ["NumberSource", "send"]


class NumberSource:
    """The numbers given to ``send`` -- arguments, then ``--numbers-file``, then stdin -- read one line at a
    time (a million lines are never in memory at once), each remembering where it came from (its line) so
    an invalid one is named as the operator sees it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._encoding = input_encoding(args)
        self._lines = array("I")  # the line (or argument) number of every number read so far
        self._sources: list[tuple[int, str]] = []  # (index of its first number, what it is)
        given = [n for n in args.numbers if n != "-"]
        self._files = [args.numbers_file] if args.numbers_file else []
        if "-" in args.numbers or (not given and not args.numbers_file and not sys.stdin.isatty()):
            self._files.append("-")
        if not given and not self._files:
            raise InputError("numbers", "give numbers as arguments, with --numbers-file, or on stdin")
        self._handles = [(name, open_input(name, "--numbers-file")) for name in self._files]  # a missing file: now

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
    with open_input(args.text_file, "--text-file") as handle:
        data = handle.read()
    # the file's last line break is not part of the text
    return decode_input(data, input_encoding(args), "--text-file", args.text_file).rstrip("\r\n")


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError("--at", "must look like 2026-12-01 09:30 (Asia/Shanghai) or ISO 8601", value) from None


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
        with open_client(args, strict_text=args.strict) as client:
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
        **({"skipped": skipped_json(checked.skipped)} if checked.skipped else {}),
    }
    balance = estimate.balance
    if balance is None:
        verdict = "balance      not checked (--price given)"
    elif estimate.fits:
        verdict = f"balance      {balance}: the send fits ({balance - estimate.cost} left after it)"
    else:
        verdict = f"balance      {balance}: NOT enough, {estimate.cost - balance} short (-01)"
    emit(
        args,
        data,
        [
            "dry run: nothing sent",
            f"recipients   {estimate.recipients} in {requests} request(s)",
            f"parts        {estimate.parts} per recipient ({characters} characters with signature)",
            _counted_line(counted),
            f"cost         {estimate.cost} at {estimate.price} per part",
            verdict,
            *skipped_lines(checked.skipped),
        ],
    )
    return 0


def send(args: argparse.Namespace) -> int:
    """Read and check the input, then a dry run, a journalled send (the default) or one without the journal."""
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
    with open_client(args, strict_text=args.strict, store=store) as client, store or nullcontext():
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


def _send_journalled(
    args: argparse.Namespace, checked: Checked, text: str, at: datetime | None, ext: str | None
) -> int:
    """Check the input (the library's own checks), name the job and print its id, write it to the store, and
    only then send: a store that cannot be written stops the send before anything leaves (exit 10), and
    with the printed id a re-run (``--job ID``) is a replay that sends nothing twice."""
    settings = load_settings(args).with_(strict_text=args.strict)
    settings.require_credentials()
    with new_client(settings) as client:  # built first: a bad setting leaves no job behind
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


def _nothing_sent(exc: StoreError, job: str) -> StoreError:
    return StoreError(
        f"{exc}; nothing was sent (the send is journalled before it goes out). Job {job} may have been "
        f"written: re-run with --job {job} to send it exactly once"
    )
