"""Files named on the command line (``-``: stdin): opened as a usage error when they cannot be, read a line
at a time and decoded by ``--encoding`` with an :class:`InputError` naming the line that is not."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from winic_soap.exceptions import ConfigurationError, InputError

__all__ = ["decode_input", "decoded_lines", "input_encoding", "open_input"]


def decode_input(data: bytes, encoding: str, what: str, where: str) -> str:
    """``data`` as text, or an :class:`InputError` on ``what`` naming ``where`` the first bad byte is."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            what,
            f"{where} is not {encoding} (byte 0x{data[exc.start]:02x} at column {exc.start + 1}); "
            "pass --encoding with the file's encoding (e.g. --encoding gbk)",
        ) from None


def open_input(path: str, what: str) -> BinaryIO:
    """A file named on the command line; one that cannot be opened is a usage error (exit 2), not a traceback."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise ConfigurationError(f"{what}: cannot open {path}: {exc.strerror or exc}") from None


def input_encoding(args: argparse.Namespace) -> str:
    """``--encoding`` as a codec name; an unknown one is a usage error before any file is opened."""
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
            yield line, decode_input(data, encoding, what, f"line {line} of {shown}")
            encoding = encoding.replace("utf-8-sig", "utf-8")  # a mark only leads the first line
