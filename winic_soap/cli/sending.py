"""How a send runs and reports at the terminal, for ``send`` and ``jobs resume``: the progress bar, SIGTERM
stopping it as Ctrl-C does, and the receipt (human or JSON, a request at a time)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from winic_soap.exceptions import InputError
from winic_soap.models import Problem, SendReceipt, service_time
from winic_soap.store import JobSummary

__all__ = [
    "Terminated",
    "all_attempted",
    "progress_bar",
    "show_receipt",
    "skipped_json",
    "skipped_lines",
    "stops_on_sigterm",
]


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


def skipped_json(skipped: Sequence[Problem]) -> list[dict[str, Any]]:
    """The numbers ``--skip-invalid`` left out, for ``--json``: where, line, value and rule."""
    return [{"where": p.label, "line": p.position, "value": p.value, "rule": p.rule} for p in skipped]


def skipped_lines(skipped: Sequence[Problem]) -> list[str]:
    """The numbers ``--skip-invalid`` left out, as lines: the first few, then how many more."""
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
        extra = {**({"job": job} if job else {}), **({"skipped": skipped_json(skipped)} if skipped else {})}
        _print_receipt_json(receipt, extra)
        return 0
    if receipt.suppressed:
        lines.append(f"not sent to {len(receipt.suppressed)} number(s) on the suppression list:")
        lines += [f"  {s.mobile}  {s.reason}" for s in receipt.suppressed]
    for line in [*lines, *skipped_lines(skipped)]:
        print(line, flush=True)
    return 0


def all_attempted(job: JobSummary | None) -> bool:
    """Whether a job is in the journal with no never-attempted batch (batches never go back to ``new``): a
    replay or resume of it sends nothing."""
    return job is not None and not job.batches.get("new", 0)
