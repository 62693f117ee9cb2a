"""``winic-soap suppress``: the store's suppression list (numbers that opted out): list, add, remove, import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from winic_soap.cli.commands import _emit, open_cli_store
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.models import Suppressed

__all__ = ["suppress_add", "suppress_help", "suppress_import", "suppress_list", "suppress_remove"]


def suppress_help(args: argparse.Namespace) -> int:
    raise ConfigurationError("suppress needs an action: list, add, remove or import")


def _line(entry: Suppressed) -> str:
    return f"{entry.mobile:<15} {entry.reason}"


def suppress_list(args: argparse.Namespace) -> int:
    """The listed numbers (``--cleared``: those taken off), each with why."""
    with open_cli_store(args) as store:
        entries = store.suppression.entries(cleared=args.cleared)
    what = "numbers taken off the list" if args.cleared else "suppressed numbers"
    _emit(args, [e.as_dict() for e in entries], [_line(e) for e in entries] or [f"no {what}"])
    return 0


def _changed(args: argparse.Namespace, verb: str, numbers: list[str]) -> int:
    _emit(args, {verb: numbers}, [f"{verb} {n}" for n in numbers])
    return 0


def suppress_add(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        numbers = store.suppression.add(args.numbers, note=args.note)
    return _changed(args, "suppressed", numbers)


def suppress_remove(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        numbers = store.suppression.remove(args.numbers, note=args.note)
    return _changed(args, "cleared", numbers)


def suppress_import(args: argparse.Namespace) -> int:
    """Numbers from a file (one per line, or the first column of a CSV; ``-`` is stdin; ``#`` comments)."""
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("file", f"cannot be read: {exc.strerror}", args.file) from None
    numbers: list[str] = []
    for line in text.splitlines():
        first = line.split("#", 1)[0].split(",", 1)[0].strip().strip('"')
        if first and not (not numbers and not any(c.isdigit() for c in first)):  # a CSV header is skipped
            numbers.append(first)
    if not numbers:
        raise InputError("file", "holds no numbers", args.file)
    with open_cli_store(args) as store:
        added = store.suppression.add(numbers, note=args.note, source="import")
    return _changed(args, "suppressed", added)
