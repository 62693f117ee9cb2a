"""The ``--exec`` hand-off of ``winic-soap watch`` as an operator runs it: the command sees none of the
client's secrets, a hung one is killed after ``--exec-timeout`` (a failed hand-off), SIGTERM ends it and the
watcher (giving the poller lease up), and ``--exec-batch`` hands many records to one process."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import InputError
from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import open_store
from winic_soap.watcher import ExecHandOff, Watcher, handoff_env

HANDLER = r"""
import json, os, subprocess, sys, time
mode, out = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in sys.stdin if line.strip()]
with open(out, "a", encoding="utf-8") as f:
    f.write(json.dumps({"pid": os.getpid(), "ids": [r["id"] for r in records], "env": dict(os.environ)}) + "\n")
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(out + ".pids", "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {child.pid}")
    time.sleep(600)
sys.exit(3 if mode == "fail" else 0)
"""


def _handler(tmp: Path, mode: str) -> str:
    (tmp / "handler.py").write_text(HANDLER, encoding="utf-8")
    return f"{sys.executable} {tmp / 'handler.py'} {mode} {tmp / 'calls.jsonl'}"


def _calls(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "calls.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie nobody reaped yet (it runs nothing any more)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text(encoding="utf-8"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text(encoding="utf-8")


@pytest.fixture
def env(winic_mock: MockService, tmp_path: Path) -> dict[str, str]:
    return cli_env(winic_mock.url, tmp_path)


def test_the_exec_command_sees_none_of_the_clients_secrets(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    winic_mock.add_reply("13800138000", "code 4711")
    hook_secret = "whsec_" + base64.b64encode(b"hook-secret-2-is-long-enough").decode()
    env.update(
        WINIC_STORE=str(tmp_path / "inbox.sqlite3"),
        PGPASSWORD="pg-secret-1",
        WINIC_WEBHOOK_SECRET=hook_secret,
        WINIC_CERT_PASSWORD="cert-secret-3",
        HTTPS_PROXY="http://puser:proxy-secret-4@proxy.invalid:3128",
        NO_PROXY="127.0.0.1,localhost",
    )
    result = run_cli(env, "watch", "--once", "--sources", "replies", "--exec", _handler(tmp_path, "ok"))
    assert result.returncode == 0, result.stderr
    (call,) = _calls(tmp_path)
    seen = call["env"]
    for secret in ("demo-secret", "pg-secret-1", hook_secret, "cert-secret-3", "proxy-secret-4", "inbox.sqlite3"):
        assert secret not in json.dumps(seen), secret
    assert {"WINIC_PWD", "WINIC_STORE", "PGPASSWORD", "WINIC_WEBHOOK_SECRET"}.isdisjoint(seen)
    assert seen["HTTPS_PROXY"] == "http://proxy.invalid:3128"  # the proxy stays, its credentials do not
    assert seen["WINIC_ENDPOINT"] == winic_mock.url and seen["PATH"] == env["PATH"]
    with open_store(tmp_path / "inbox.sqlite3") as store:
        assert store.counts()["done"] == 1


def test_handoff_env_drops_secrets_and_unparsable_proxies() -> None:
    env = handoff_env(
        {
            "WINIC_NEWPWD": "x",
            "WINIC_PROXY": "http://u:p@h:1",
            "WINIC_WEBHOOK": "https://hook:pw@app.example/winic?token=t0k",
            "ALL_PROXY": "http://[bad",
            "http_proxy": "http://h:8",
        }
    )
    assert env == {"http_proxy": "http://h:8"}


def test_a_hung_hand_off_is_killed_after_exec_timeout_and_counts_as_failed(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    winic_mock.add_reply("13800138000", "stuck")
    store = tmp_path / "inbox.sqlite3"
    argv = ["watch", "--once", "--store", str(store), "--sources", "replies", "--max-handoffs", "1"]
    result = run_cli(env, *argv, "--exec-timeout", "1", "--exec", _handler(tmp_path, "hang"))
    assert result.returncode == 9, result.stderr  # a failed hand-off
    assert "did not finish within 1 s" in result.stderr
    handler_pid, child_pid = map(int, (tmp_path / "calls.jsonl.pids").read_text(encoding="utf-8").split())
    assert _gone(handler_pid) and _gone(child_pid)  # its whole process group was killed
    with open_store(store) as inbox:
        (dead,) = inbox.records("dead")
        assert "--exec-timeout" in (dead.last_error or "") and dead.attempts == 1


def test_exec_timeout_must_fit_in_the_lease(env: dict[str, str], tmp_path: Path) -> None:
    store = str(tmp_path / "inbox.sqlite3")
    argv = ["watch", "--once", "--store", store, "--lease", "20"]
    result = run_cli(env, *argv, "--exec-timeout", "20", "--exec", "true")
    assert result.returncode == 3 and "--exec-timeout" in result.stderr
    result = run_cli(env, "watch", "--once", "--store", store, "--exec-batch", "5")
    assert result.returncode == 3 and "--exec" in result.stderr


def _watch_hung(
    mock: MockService, env: dict[str, str], tmp: Path, *extra: str
) -> tuple[subprocess.Popen[str], int, int]:
    """A ``watch`` process whose hand-off of one reply hangs; it, the handler's pid and the handler's child's."""
    mock.add_reply("13800138000", "in the hand-off at the stop")
    argv = [sys.executable, "-m", "winic_soap", "watch", "--store", str(tmp / "inbox.sqlite3"), *extra]
    watcher = subprocess.Popen(
        [*argv, "--exec", _handler(tmp, "hang")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    handler_pid, child_pid = map(int, _wait_for(tmp / "calls.jsonl.pids", watcher).split())
    return watcher, handler_pid, child_pid


def test_sigterm_ends_the_hand_off_and_the_watcher_and_gives_the_lease_up(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "inbox.sqlite3"
    watcher, handler_pid, child_pid = _watch_hung(winic_mock, env, tmp_path)
    try:
        with open_store(store) as inbox:
            assert inbox.poller(winic_mock.url, "demo") is not None
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=30)  # not the hand-off's 600 s: it is ended
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert _gone(handler_pid) and _gone(child_pid)
    with open_store(store) as inbox:
        assert inbox.poller(winic_mock.url, "demo") is None  # a stand-by may take over at once
        (record,) = inbox.pending()  # not acknowledged: handed on again by the next watcher
        assert record.data["text"] == "in the hand-off at the stop" and "stopped" in (record.last_error or "")


def test_a_hand_off_the_stop_cut_short_never_counts_towards_the_dead_letters(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    """docs/store.md: SIGTERM "leaves its records pending" -- also a record on its last allowed hand-off."""
    watcher, _, _ = _watch_hung(winic_mock, env, tmp_path, "--max-handoffs", "1")
    try:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    with open_store(tmp_path / "inbox.sqlite3") as inbox:
        assert inbox.counts().get("dead", 0) == 0
        (record,) = inbox.pending()
        assert record.attempts == 0  # the claim's attempt given back: the next watcher has all of them


def test_a_hand_off_does_not_outlive_a_watcher_killed_with_sigkill(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    watcher, handler_pid, child_pid = _watch_hung(winic_mock, env, tmp_path)
    try:
        watcher.kill()  # SIGKILL: no handler of ours runs
        watcher.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(handler_pid):  # the kernel sends it SIGKILL as its parent dies
            assert time.monotonic() < deadline, "the hand-off outlived the watcher"
            time.sleep(0.05)
    finally:
        for pid in (handler_pid, child_pid):  # the handler's own child is its business: end it for the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _watch_in_batches_of_10(
    mock: MockService, env: dict[str, str], tmp: Path, replies: int, mode: str
) -> subprocess.CompletedProcess[str]:
    """``watch --once --exec-batch 10`` over ``replies`` new replies; the CLI's result."""
    for i in range(replies):
        mock.add_reply(f"139{i:08d}", f"reply {i}")
    argv = ["watch", "--once", "--store", str(tmp / "inbox.sqlite3"), "--sources", "replies", "--exec-batch", "10"]
    return run_cli(env, *argv, "--exec", _handler(tmp, mode))


def test_exec_batch_hands_up_to_n_records_to_one_process(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "inbox.sqlite3"
    result = _watch_in_batches_of_10(winic_mock, env, tmp_path, 25, "ok")
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert [len(c["ids"]) for c in calls] == [10, 10, 5]
    ids = [i for c in calls for i in c["ids"]]
    assert len(set(ids)) == 25
    with open_store(store) as inbox:
        assert inbox.counts()["done"] == 25 and not inbox.pending()


def test_a_failed_batch_leaves_every_record_of_it_pending(
    winic_mock: MockService, env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "inbox.sqlite3"
    result = _watch_in_batches_of_10(winic_mock, env, tmp_path, 4, "fail")
    assert result.returncode == 9, result.stderr
    with open_store(store) as inbox:
        pending = inbox.pending()
        assert len(pending) == 4 and inbox.counts()["done"] == 0
        assert all(r.attempts == 1 and "exited 3" in (r.last_error or "") for r in pending)


def test_a_watcher_takes_one_kind_of_handler(make_client: MakeClient, tmp_path: Path) -> None:
    with open_store(tmp_path / "inbox.sqlite3") as store:
        with pytest.raises(InputError, match="handler"):
            Watcher(make_client(), store)
        with pytest.raises(InputError, match="handler"):
            Watcher(make_client(), store, print, batch_handler=print)


SLOW_READER = r"""
import json, sys, time

time.sleep(0.5)  # not reading yet: the records fill the pipe and the rest must wait for it
print(sum(1 for line in sys.stdin if json.loads(line)["id"]), file=open(sys.argv[1], "w"))
"""


def test_a_batch_larger_than_a_pipe_reaches_a_slow_reader_whole(make_client: MakeClient, tmp_path: Path) -> None:
    records = [Reply(f"139{i:08d}", "x" * 200, "", None, f"139{i:08d}|{'x' * 200}") for i in range(3000)]
    with open_store(tmp_path / "inbox.sqlite3") as store:
        store.commit_pulled("GET_SMS_MO", records)
        hand_off = ExecHandOff([sys.executable, "-c", SLOW_READER, str(tmp_path / "count")], timeout=30)
        watcher = Watcher(make_client(), store, batch_handler=hand_off, claim_size=3000)
        assert watcher.deliver_pending() == 3000
        assert (tmp_path / "count").read_text(encoding="utf-8").strip() == "3000"
        assert store.counts()["done"] == 3000


def test_a_batch_of_any_size_is_acknowledged_at_once_on_both_backends(store_url: str) -> None:
    records = [Reply(f"139{i:08d}", f"r{i}", "", None, f"139{i:08d}|r{i}") for i in range(1200)]
    with open_store(store_url) as store:
        store.commit_pulled("GET_SMS_MO", records)
        claimed = store.claim("batch", limit=1200)
        ids = [r.id for r in claimed]
        assert store.ack_many(ids) == 1200  # more ids than one statement binds: one transaction, all of them
        assert store.ack_many(ids) == 0 and store.ack_many([]) == 0  # done is done
        assert store.counts()["done"] == 1200
