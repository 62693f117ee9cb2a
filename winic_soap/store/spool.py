"""The spool: pulled answers on disk until the store has them. The service hands each record out once, so an
answer is written here (one file, fsynced, mode 0600) before its commit is tried and removed after it
succeeded; whatever is left (a failed or cut commit, SIGTERM, SIGKILL, a full store disk) is replayed into
the store by the next watcher round, CLI pull or store command. Replays are idempotent: ids are in the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        """Write ``answer`` durably (temporary file, fsync, rename, fsync of the folder); OSError if it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path_of(answer)
        temporary = path.with_name(f".{path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                header = {"v": _VERSION, "store": self.store, "key": answer.key, "operation": answer.operation}
                f.write(json.dumps(header, ensure_ascii=False) + "\n")
                for row in answer.rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
            _fsync_dir(self.directory)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path

    def holds(self, answer: PulledAnswer) -> bool:
        return self.path_of(answer).exists()

    def remove(self, answer: PulledAnswer) -> None:
        """The store has it: forget it (a concurrent replay may have removed it already)."""
        self.path_of(answer).unlink(missing_ok=True)

    def answers(self) -> Iterator[PulledAnswer]:
        """The spooled answers of this store, oldest first; an unreadable file is set aside as ``*.bad``."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            try:
                answer = self._read(path)
            except FileNotFoundError:  # replayed and removed by another process meanwhile
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.error("spooled answer %s cannot be read (%s); set aside as %s.bad", path, exc, path.name)
                path.replace(path.with_name(path.name + ".bad"))
                continue
            if answer is not None:
                yield answer

    def _read(self, path: Path) -> PulledAnswer | None:
        with path.open(encoding="utf-8") as f:
            header = json.loads(next(f))
            if header.get("v") != _VERSION:
                raise ValueError(f"unknown spool format {header.get('v')!r}")
            if header["store"] != self.store:
                logger.warning("spooled answer %s belongs to the store %s; left for it", path, header["store"])
                return None
            rows = tuple(_row(json.loads(line)) for line in f if line.strip())
        return PulledAnswer(header["key"], header["operation"], rows)

    def __len__(self) -> int:
        return len(list(self.directory.glob(f"*{_SUFFIX}"))) if self.directory.is_dir() else 0


def _row(values: Sequence[Any]) -> tuple[Any, ...]:
    if not isinstance(values, list):
        raise ValueError("a spooled row must be a JSON list")
    return tuple(values)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: without it a power loss may forget the file's name."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
