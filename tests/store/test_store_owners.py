"""Lease owners that stay true across containers and clocks: two watchers in two PID namespaces with one
hostname (``unshare --pid``) never both pull for one account; a holder is declared dead from /proc only in
its own PID namespace and boot; on PostgreSQL a host whose clock is an hour off neither loses nor steals
a lease (lease times are the database's)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import fleet_watch
from helpers.pgserver import PgServer

from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import open_store
from winic_soap.store.owners import owner_is_dead, process_owner

LEASE = 30.0  # far above a renewal's gap (an interval plus a pull) even on a loaded machine: no takeover is legit
WATCH = 20.0  # seconds of watching: four pull rounds, and the stand-by's checks every interval
# the watcher runs as a child of this launcher, after ``skip`` short-lived processes: its pid inside the new
# namespace differs from the other watcher's, as two containers' pids do
LAUNCHER = (
    "import subprocess, sys\n"
    "for _ in range(int(sys.argv[1])): subprocess.run(['true'], check=True)\n"
    "sys.exit(subprocess.call(sys.argv[2:]))\n"
)


def _need_unshare() -> None:
    if os.geteuid() == 0 and shutil.which("unshare"):
        return
    if os.environ.get("CI"):
        pytest.fail("PID namespaces need root and unshare (util-linux)")
    pytest.skip("PID namespaces need root and unshare (util-linux)")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_watchers_in_two_pid_namespaces_with_one_hostname_never_both_pull(
    backend: str, winic_mock: MockService, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _need_unshare()
    if backend == "postgresql":
        url = request.getfixturevalue("pg_server").create_database("namespaces")
    else:
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    out, windows = tmp_path / "out.jsonl", tmp_path / "windows.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "WINIC_HOST_ID"}  # one hostname for both: the node's
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    watcher = fleet_watch.command(url, winic_mock.url, out, windows)
    watchers = [
        subprocess.Popen(
            [*unshare, sys.executable, "-c", LAUNCHER, str(skip), *watcher, str(LEASE)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for skip in (0, 3)
    ]
    owners: list[str] = []
    try:
        for proc in watchers:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with open_store(url) as store:
            watched_until = time.monotonic() + WATCH
            while time.monotonic() < watched_until:
                lease = store.poller(winic_mock.url, "demo")
                if lease is not None and (not owners or owners[-1] != lease.owner):
                    owners.append(lease.owner)
                winic_mock.add_reply("13800138000", "keeps the pulls busy")
                time.sleep(0.2)
    finally:
        for proc in watchers:
            proc.kill()  # --kill-child: the namespace's first process, and with it the whole namespace, ends
            proc.wait(timeout=30)

    assert len(owners) == 1, owners  # nobody took a live watcher's lease
    pulls = [w for w in _lines(windows) if "end" in w]
    assert pulls and len({w["pid"] for w in pulls}) == 1
    spans = sorted((w["start"], w["end"]) for w in pulls)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_a_holder_is_dead_only_when_gone_in_this_namespace_and_boot() -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "from winic_soap.store.owners import process_owner; print(process_owner())"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout.strip()
    host, pid, ticks, rand, identity = ended.split("/")
    namespace, boot = identity.split(".")
    assert owner_is_dead(ended)  # its process is gone, and its pid means the same thing here
    assert not owner_is_dead(f"{host}/{pid}/{ticks}/{rand}/1{namespace}.{boot}")  # another PID namespace
    assert not owner_is_dead(f"{host}/{pid}/{ticks}/{rand}/{namespace}.{'0' * len(boot)}")  # another boot
    assert not owner_is_dead(f"{host}/{pid}/{ticks}/{rand}")  # written without an identity: only expiry counts
    assert not owner_is_dead(f"other-{host}/{pid}/{ticks}/{rand}/{identity}")
    assert not owner_is_dead(process_owner())  # this process is alive


SKEWED = r"""
import sys, time
real = time.time
time.time = lambda: real() - 3600  # this host's clock is an hour behind
from winic_soap.store import open_store
with open_store(sys.argv[1]) as store:
    assert store.hold_poller("e", "u", "slow-host", lease=60)
    assert [r.data["text"] for r in store.claim("slow-host", lease=60)] == ["only one"]
print("held")
"""


def test_on_postgresql_a_skewed_host_clock_neither_loses_nor_steals_a_lease(pg_server: PgServer) -> None:
    url = pg_server.create_database("skewed")
    with open_store(url) as store:
        store.commit_pulled("GET_SMS_MO", [Reply("13800138000", "only one", "", None, "13800138000|only one")])
        held = subprocess.run(
            [sys.executable, "-c", SKEWED, url], capture_output=True, text=True, check=False, timeout=60
        )
        assert held.stdout.strip() == "held", held.stderr
        # by the slow host's own clock its leases ended an hour ago; by the database's they run for a minute
        assert not store.hold_poller("e", "u", "on-time", lease=60)
        assert store.claim("on-time") == []
        lease = store.poller("e", "u")
        assert lease is not None and lease.owner == "slow-host"
