"""Every store call ends within ``store_timeout`` as a StoreError: behind a lock another session holds (both
backends), and on a PostgreSQL connection a TCP proxy blackholes; the store works again afterwards. A store
survives a fork on both backends: the child opens its own connection, the parent keeps working."""

from __future__ import annotations

import gc
import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers.pgserver import PgServer
from helpers.shared import cli_env, run_cli
from helpers.tcp_proxy import tcp_proxy

from winic_soap import ConfigurationError, InputError, StoreError
from winic_soap.config import Settings
from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import open_store

TIMEOUT = 1.0
# a bound far above store_timeout that a blocked call (the old behaviour: for ever) never meets
ENDS_WITHIN = 10 * TIMEOUT


def _replies(n: int, tag: str = "r") -> list[Reply]:
    return [Reply(f"1380013{i:04d}", f"{tag} {i}", "", None, f"1380013{i:04d}|{tag} {i}") for i in range(n)]


def _ends_as_store_error(call: Callable[[], object]) -> StoreError:
    start = time.monotonic()
    with pytest.raises(StoreError) as caught:
        call()
    assert time.monotonic() - start < ENDS_WITHIN
    return caught.value


def test_a_claim_behind_a_lock_another_session_holds_ends_as_store_error(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, store_timeout=TIMEOUT) as store:
        store.commit_pulled("GET_SMS_MO", _replies(2))
        if store.backend == "postgresql":
            holder: psycopg.Connection[Any] | sqlite3.Connection = psycopg.connect(store_url, autocommit=True)
            holder.execute("BEGIN")
            holder.execute("LOCK TABLE winic_inbox IN ACCESS EXCLUSIVE MODE")
        else:
            holder = sqlite3.connect(store_url[len("sqlite:///") :], isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        try:
            error = _ends_as_store_error(lambda: store.claim("me"))
            assert "lock" in str(error).lower()  # PostgreSQL: "lock timeout"; SQLite: "database is locked"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert len(store.claim("me", limit=5)) == 2  # the lock is gone: the same store object works on


def test_a_partitioned_postgres_connection_ends_as_store_error_then_recovers(pg_server: PgServer) -> None:
    url = pg_server.create_database("blackholed")
    with tcp_proxy(url) as proxy, open_store(proxy.url, store_timeout=TIMEOUT) as store:
        store.commit_pulled("GET_SMS_MO", _replies(3))
        assert len(store.claim("me", limit=1)) == 1
        proxy.set("blackhole")
        error = _ends_as_store_error(lambda: store.claim("me"))
        assert "store_timeout" in str(error)
        _ends_as_store_error(lambda: store.counts())  # a new connection into the blackhole too
        proxy.restore()
        assert store.counts()["pending"] == 3  # a fresh connection once the network is back


def _in_child(work: Callable[[], object]) -> int:
    """Run ``work`` in a forked child; its exit status (0 when it returned True)."""
    with warnings.catch_warnings():  # 3.12+ warns of forking a threaded process: the case under test
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            code = 0 if work() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_store_opened_before_a_fork_works_in_the_child_and_the_parent(store_url: str) -> None:
    with open_store(store_url, store_timeout=TIMEOUT) as store:
        store.commit_pulled("GET_SMS_MO", _replies(4, "parent"))

        def child_uses_it() -> bool:
            claimed = store.claim("child", limit=2)
            store.ack_many([r.id for r in claimed])
            store.commit_pulled("GET_SMS_MO", _replies(1, "child"))
            store.close()
            return len(claimed) == 2

        def child_only_drops_it() -> bool:
            store.close()
            gc.collect()
            return True

        def child_drops_it_unused() -> bool:
            gc.collect()
            return True

        for work in (child_uses_it, child_only_drops_it, child_drops_it_unused):
            assert _in_child(work) == 0, work.__name__
            counts = store.counts()  # the parent's connection is intact after each child
            assert (counts["done"], counts["pending"]) == (2, 3)
        texts = sorted(r.data["text"] for r in store.claim("parent", limit=10))
        assert texts == ["child 0", "parent 2", "parent 3"]


def test_store_timeout_from_the_url_a_keyword_and_the_settings(store_url: str, tmp_path: Path) -> None:
    joined = "&" if "?" in store_url else "?"
    with open_store(f"{store_url}{joined}store_timeout=2.5") as store:
        assert store.store_timeout == 2.5
        assert store.counts()["records"] == 0
    with open_store(f"{store_url}{joined}store_timeout=2.5", store_timeout=3) as store:
        assert store.store_timeout == 3
    with open_store(store_url) as store:
        assert store.store_timeout == 5
    with pytest.raises(InputError, match="store_timeout"):
        open_store(store_url, store_timeout=0)
    with pytest.raises(ConfigurationError, match="store_timeout"):
        open_store(f"{store_url}{joined}store_timeout=soon")
    assert Settings.load(env={"WINIC_STORE_TIMEOUT": "1.5"}, config=None).store_timeout == 1.5
    with pytest.raises(ConfigurationError, match="store_timeout"):
        Settings.load(env={"WINIC_STORE_TIMEOUT": "-1"})


@pytest.mark.parametrize("where", ["env", "toml"])
def test_the_cli_gives_up_on_a_locked_store_after_its_store_timeout(
    winic_mock: MockService, tmp_path: Path, where: str
) -> None:
    store = tmp_path / "inbox.sqlite3"
    open_store(store).close()
    env = cli_env(winic_mock.url, tmp_path)
    env["WINIC_STORE"] = str(store)
    if where == "env":
        env["WINIC_STORE_TIMEOUT"] = str(TIMEOUT)
    else:
        config = tmp_path / "config" / "winic-soap" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f"store_timeout = {TIMEOUT}\n", encoding="utf-8")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing, and keeps at it
    try:
        started = time.monotonic()
        result = run_cli(env, "inbox", "list")
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 10, result.stderr  # a StoreError
    assert "locked" in result.stderr and took < ENDS_WITHIN + 5  # not the former 30 s busy timeout
