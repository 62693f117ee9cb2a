"""Opening a store: URLs as SQLAlchemy writes them, a private SQLite file, concurrent first opens."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.pgserver import PgServer

from winic_soap import ConfigurationError
from winic_soap.store import open_store, parse_store_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///inbox.sqlite3", ("sqlite", "inbox.sqlite3")),
        ("sqlite:///state/inbox.sqlite3", ("sqlite", "state/inbox.sqlite3")),
        ("sqlite:////var/lib/winic/inbox.sqlite3", ("sqlite", "/var/lib/winic/inbox.sqlite3")),
        ("/var/lib/winic/inbox.sqlite3", ("sqlite", "/var/lib/winic/inbox.sqlite3")),
        ("inbox.sqlite3", ("sqlite", "inbox.sqlite3")),
        ("~/inbox.sqlite3", ("sqlite", "~/inbox.sqlite3")),
        ("postgresql://winic@db:5432/winic", ("postgresql", "postgresql://winic@db:5432/winic")),
        ("postgres://winic@db/winic", ("postgresql", "postgresql://winic@db/winic")),
        ("postgresql+psycopg://winic:pw@db/winic", ("postgresql", "postgresql://winic:pw@db/winic")),
    ],
)
def test_store_urls(url: str, expected: tuple[str, str]) -> None:
    assert parse_store_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://db/winic", "redis://localhost", "sqlite://", "sqlite:///", ""])
def test_unknown_or_incomplete_urls_are_configuration_errors(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError):
        open_store(url)
    assert list(tmp_path.iterdir()) == []  # never a folder named after the scheme


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///state/inbox.sqlite3") as store:
        assert store.backend == "sqlite"
    assert (tmp_path / "state" / "inbox.sqlite3").is_file()


def test_sqlite_store_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "inbox.sqlite3"
    old = os.umask(0o022)
    try:
        with open_store(path) as store:
            store.commit_pulled("GET_SMS_MO", [])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for sibling in path.parent.iterdir():  # WAL and shared-memory files too
        assert stat.S_IMODE(sibling.stat().st_mode) & 0o077 == 0, sibling


OPENER = """
import sys
from winic_soap.store import open_store
with open_store(sys.argv[1]) as store:
    store.create_job("SendMessages", "x", [["13800138000"]], job_id=sys.argv[2])
print("ok")
"""


def _open_at_once(url: str, processes: int) -> None:
    """``processes`` processes open the fresh store at once, each creating a job; every one must succeed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, f"j{i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for i in range(processes)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, [err.decode()[-500:] for _, err in results]


def test_concurrent_first_opens_never_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    _open_at_once(url, 8)
    with open_store(url) as store:
        assert len(store.jobs()) == 8


def test_concurrent_first_opens_on_postgresql(pg_server: PgServer) -> None:
    url = pg_server.create_database("firstopen")
    _open_at_once(url, 8)


def test_the_store_setting_comes_from_the_environment_as_given(tmp_path: Path) -> None:
    from winic_soap.config import Settings, default_store_url

    env = {
        "WINIC_STORE": "postgresql://winic@db:5432/winic",
        "WINIC_MAX_HANDOFFS": "7",
        "WINIC_CONFIG": str(tmp_path / "none"),
    }
    settings = Settings.load(env=env, config=None)
    assert settings.store == "postgresql://winic@db:5432/winic" and settings.max_handoffs == 7
    assert default_store_url(env) == "postgresql://winic@db:5432/winic"  # never turned into a path
    assert default_store_url({"XDG_STATE_HOME": str(tmp_path)}) == str(tmp_path / "winic-soap" / "inbox.sqlite3")
    with pytest.raises(ConfigurationError):
        Settings(max_handoffs=0)


def test_watcher_errors_pickle() -> None:
    import pickle

    from winic_soap import HandOffError

    error = HandOffError("01a2-id", RuntimeError("downstream is down"))
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is HandOffError and again.record_id == "01a2-id" and str(again) == str(error)
