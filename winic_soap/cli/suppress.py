"""``winic-soap suppress``: the store's suppression list (numbers that opted out): list, add, remove, import."""

from __future__ import annotations

import argparse

from winic_soap.cli.context import open_cli_store
from winic_soap.cli.files import decoded_lines, input_encoding, open_input
from winic_soap.cli.output import emit
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.models import Problem, Suppressed
from winic_soap.store.suppression import NUMBER_RULE, number_key

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
    emit(args, [e.as_dict() for e in entries], [_line(e) for e in entries] or [f"no {what}"])
    return 0


def _changed(args: argparse.Namespace, verb: str, numbers: list[str]) -> int:
    emit(args, {verb: numbers}, [f"{verb} {n}" for n in numbers])
    return 0


def suppress_add(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        numbers = store.suppression.add(args.numbers, note=args.note)
    return _changed(args, "suppressed", numbers)


def suppress_remove(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        numbers = store.suppression.remove(args.numbers, note=args.note)
    return _changed(args, "cleared", numbers)


def _file_numbers(args: argparse.Namespace) -> list[str]:
    """The numbers of ``suppress import``'s file, read as ``send`` reads one (``--encoding``, a file that
    cannot be opened is exit 2); every invalid one named at once by its line, as the operator sees it."""
    shown = "stdin" if args.file == "-" else args.file
    numbers: list[str] = []
    problems: list[Problem] = []
    encoding = input_encoding(args)  # an unknown one is refused before the file is opened
    for line, text in decoded_lines(args.file, open_input(args.file, "suppress import"), encoding, "file"):
        first = text.split("#", 1)[0].split(",", 1)[0].strip().strip('"')
        if not first or (not numbers and not problems and not any(c.isdigit() for c in first)):
            continue  # a blank line, a comment, a CSV header
        try:
            numbers.append(number_key(first))
        except InputError:
            problems.append(Problem(f"line {line} of {shown}", line, first, NUMBER_RULE))
    if len(problems) == 1:
        raise InputError(problems[0].label, NUMBER_RULE, problems[0].value, problems=problems)
    if problems:
        raise InputError("file", f"{len(problems)} invalid number(s)", problems=problems)
    if not numbers:
        raise InputError("file", "holds no numbers", args.file)
    return numbers


def suppress_import(args: argparse.Namespace) -> int:
    """Numbers from a file (one per line, or the first column of a CSV; ``-`` is stdin; ``#`` comments)."""
    numbers = _file_numbers(args)
    with open_cli_store(args) as store:
        added = store.suppression.add(numbers, note=args.note, source="import")
    return _changed(args, "suppressed", added)
