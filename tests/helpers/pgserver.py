"""A throw-away PostgreSQL server for the tests and the store benchmark: initdb + pg_ctl from the Debian
``postgresql`` package into a temporary folder, on a free loopback port, stopped at the end.

Why our own and not pytest-postgresql's process fixture: ``initdb`` refuses to run as root (CI and these
machines are root), so the server must run as the ``postgres`` system user with a data folder that user
owns; and ``benchmarks/bench_store.py`` needs the same server outside pytest. Both fit in this module.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PgServer", "find_pg_bin", "running_postgres"]

_PORT_TRIES = 5


def find_pg_bin() -> Path | None:
    """The folder holding ``pg_ctl`` and ``initdb``: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in a temporary folder; ``url`` is a SQLAlchemy-style URL for ``open_store``."""

    def __init__(self, bin_dir: Path | None = None, *, fsync: bool = False) -> None:
        found = bin_dir or find_pg_bin()
        if found is None:
            raise RuntimeError("pg_ctl not found: apt-get install postgresql")
        self.bin_dir = found
        self.root = Path(tempfile.mkdtemp(prefix="winic-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run as the package's postgres user, in a folder it owns
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False
        self.fsync = fsync  # off for the tests (speed); on for the benchmark (a durable commit, as in production)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as_user, *argv], check=True, capture_output=True, timeout=120)

    def start(self) -> PgServer:
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        # The free port is only free until someone binds it: with the tests in parallel (pytest-xdist), another
        # worker's server or socket can take it between _free_port() and pg_ctl. That failure says so in the
        # server's log; a new port then is the whole fix. Any other failure is raised as it is.
        for _ in range(_PORT_TRIES - 1):
            try:
                return self._start_on_port()
            except subprocess.CalledProcessError:
                if not self._port_was_taken():
                    raise
                self.port = _free_port()
        return self._start_on_port()

    def _start_on_port(self) -> PgServer:
        log = self.root / "log"
        with contextlib.suppress(FileNotFoundError):
            log.unlink()  # a retry reads only its own attempt's log
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'} "
            "-c synchronous_commit=on -c max_connections=200"
        )
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")
        self.started = True
        return self

    def _port_was_taken(self) -> bool:
        try:
            text = (self.root / "log").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return False
        return "Address already in use" in text or "could not bind" in text

    def create_database(self, name: str) -> str:
        """A fresh database on this server; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(subprocess.SubprocessError):
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(*, fsync: bool = False) -> Iterator[PgServer]:
    """Start a server, yield it, always stop it."""
    server = PgServer(fsync=fsync)
    try:
        yield server.start()
    finally:
        server.stop()
