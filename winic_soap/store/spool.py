"""The spool: pulled answers on disk until the store has them. The service hands each record out once, so an
answer is written here (one file, fsynced, mode 0600) before its commit is tried and removed after it
succeeded; whatever is left (a failed or cut commit, SIGTERM, SIGKILL, a full store disk) is replayed into
the store by the next watcher round, CLI pull or store command. Replays are idempotent: ids are in the file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["PulledAnswer", "Spool", "default_spool_dir"]

logger = logging.getLogger("winic_soap.store")
_VERSION = 1
_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class PulledAnswer:
    """One pulled answer made ready for the store: ``rows`` are the inbox rows with their ids, made once
    before the first commit attempt, so a retried commit or a replay stores nothing twice. ``key`` names it
    (a time-sortable id) in the spool."""

    key: str
    operation: str
    rows: tuple[tuple[Any, ...], ...]

    @property
    def ids(self) -> list[str]:
        return [row[0] for row in self.rows]

    def __repr__(self) -> str:  # rows carry reply texts (one-time codes): never in a repr
        return f"PulledAnswer({self.key!r}, {self.operation!r}, {len(self.rows)} records)"


def default_spool_dir(store_url: str, sqlite_path: Path | None = None) -> Path:
    """``$WINIC_SPOOL`` if set; beside a SQLite file (``inbox.sqlite3.spool``); else a folder per store URL
    under ``$XDG_STATE_HOME/winic-soap/spool`` (a database on another host has no folder of its own)."""
    if os.environ.get("WINIC_SPOOL"):
        return Path(os.environ["WINIC_SPOOL"]).expanduser()
    if sqlite_path is not None:
        return sqlite_path.with_name(sqlite_path.name + ".spool")
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "winic-soap" / "spool" / hashlib.sha256(store_url.encode()).hexdigest()[:16]


class Spool:
    """A folder of pulled answers for one store (``store`` is its URL without secrets, written in each file
    so an answer is only ever replayed into the store it was pulled for)."""

    def __init__(self, directory: str | os.PathLike[str], store: str) -> None:
        self.directory = Path(directory)
        self.store = store

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    def path_of(self, answer: PulledAnswer) -> Path:
        return self.directory / f"{answer.key}{_SUFFIX}"

    def write(self, answer: PulledAnswer) -> Path:
        """Write ``answer`` durably; OSError if it cannot (see :meth:`write_rows`)."""
        return self.write_rows(answer.key, answer.operation, answer.rows)[0]

    def write_rows(self, key: str, operation: str, rows: Iterable[Sequence[Any]]) -> tuple[Path, int]:
        """Write an answer's rows as they come (temporary file, fsync, rename, fsync of the folder), so it
        is in the spool whole or not at all; returns its path and how many rows it holds."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{key}{_SUFFIX}"
        temporary = path.with_name(f".{path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        count = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                header = {"v": _VERSION, "store": self.store, "key": key, "operation": operation}
                f.write(json.dumps(header, ensure_ascii=False) + "\n")
                dumps = json.JSONEncoder(ensure_ascii=False).encode
                for row in rows:
                    f.write(dumps(row) + "\n")
                    count += 1
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
            _fsync_dir(self.directory)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path, count

    @contextmanager
    def incoming(self) -> Iterator[BinaryIO]:
        """A private temporary file in the spool's folder for an answer's body as it streams in; removed
        after (its records are in a spool file by then, or were never handed out)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mode 0600, never linked; closed below, where a full disk may refuse its last bytes
        body = tempfile.TemporaryFile(dir=self.directory, prefix=".incoming-")  # noqa: SIM115
        try:
            yield body
        finally:
            with suppress(OSError):  # a full disk refused its last bytes: the answer was read into memory
                body.close()

    def holds(self, answer: PulledAnswer) -> bool:
        return self.path_of(answer).exists()

    def remove(self, answer: PulledAnswer) -> None:
        """The store has it: forget it (a concurrent replay may have removed it already)."""
        self.path_of(answer).unlink(missing_ok=True)

    def entries(self) -> Iterator[tuple[Path, str]]:
        """This store's spooled answers, oldest first: (path, operation). A file whose first line cannot be
        read is set aside as ``*.bad``; one of another store is left for it."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            try:
                with path.open(encoding="utf-8") as f:
                    header = json.loads(f.readline())
                if header.get("v") != _VERSION:
                    raise ValueError(f"unknown spool format {header.get('v')!r}")
                store, operation = header["store"], str(header["operation"])
            except FileNotFoundError:  # replayed and removed by another process meanwhile
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                self.set_aside(path, exc)
                continue
            if store != self.store:
                logger.warning("spooled answer %s belongs to the store %s; left for it", path, store)
                continue
            yield path, operation

    def rows(self, path: Path, size: int) -> Iterator[list[list[Any]]]:
        """The rows of a spooled answer in lists of at most ``size``: memory bounded by ``size``. A file
        cut short (only a damaged disk does that: files are renamed into place whole) raises ValueError."""
        with path.open(encoding="utf-8") as f:
            f.readline()
            while lines := list(itertools.islice(f, size)):
                # one parse per chunk, not per line: a third of the cost of committing a large answer
                rows = json.loads("[" + ",".join(lines) + "]")
                if not all(type(values) is list for values in rows):
                    raise ValueError("a spooled row must be a JSON list")
                yield rows

    def set_aside(self, path: Path, why: BaseException) -> None:
        """Move a spooled answer that cannot be read out of the way (``*.bad``), for a person to look at."""
        logger.error("spooled answer %s cannot be read (%s); set aside as %s.bad", path, why, path.name)
        with suppress(FileNotFoundError):
            path.replace(path.with_name(path.name + ".bad"))

    def __len__(self) -> int:
        return len(list(self.directory.glob(f"*{_SUFFIX}"))) if self.directory.is_dir() else 0


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: without it a power loss may forget the file's name."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
