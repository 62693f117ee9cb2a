"""Shared test set-up: no test may reach beyond this machine's loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers.netguard import _guarded_connect, _guarded_connect_ex, _guarded_getaddrinfo
from helpers.shared import MakeClient, SleepRecorder

if TYPE_CHECKING:
    from helpers.pgserver import PgServer

    from winic_soap.mock import MockService


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """zeep's own suite does the same: any socket to a non-loopback address fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Clients fall back to ``WINIC_*`` and the user's TOML file: neither may leak into a test. State the
    library keeps under ``$XDG_STATE_HOME`` (a PostgreSQL store's spool, the default store) stays in the
    test's own folder, never in the home directory of whoever runs the suite."""
    import os

    for name in [n for n in os.environ if n.startswith("WINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent/winic-soap-tests")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(winic_mock: MockService, sleeps: SleepRecorder) -> Iterator[MakeClient]:
    """Build clients against the test's mock (no real retry sleeps); all closed after the test."""
    from winic_soap import RetryPolicy, WinicClient

    made: list[WinicClient] = []

    def factory(transport: str = "soap11", **options: Any) -> WinicClient:
        options.setdefault("retry", RetryPolicy(sleep=sleeps))
        client = WinicClient(
            options.pop("uid", "demo"),
            options.pop("pwd", "demo-secret"),
            endpoint=options.pop("endpoint", winic_mock.url),
            transport=transport,
            **options,
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole run, started from the Debian binaries and always stopped."""
    import os

    from helpers.pgserver import PgServer, find_pg_bin

    if find_pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("pg_ctl not found: .ci/run installs postgresql")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql)")
    server = PgServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB filesystem of its own (tmpfs), for a store to fill up."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False)
    assert result.returncode == 0, "tmpfs mount needs root (CI runs as root)"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


_DATABASES = iter(range(1, 1 << 30))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend: the contract holds on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(f"t{next(_DATABASES)}")
