"""kill -9 a real watcher process after a pull and before the hand-off: after a restart every record
the mock handed out is handed on exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.shared import MakeClient

from winic_soap.mock import MockService

HANDLER = r"""
import json, os, sys, time

record = json.loads(sys.stdin.read())
block, out = sys.argv[1], sys.argv[2]
if os.path.exists(block):
    open(block + ".reached", "w").close()
    time.sleep(600)  # stuck in the hand-off until killed
with open(out, "a", encoding="utf-8") as f:
    f.write(json.dumps({"id": record["id"], "raw": record["raw"]}) + "\n")
"""


def _watch(url: str, tmp: Path, store: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "WINIC_UID": "demo",
        "WINIC_PWD": "demo-secret",
        "WINIC_ENDPOINT": url,
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp),
    }
    handler = f"{sys.executable} {tmp / 'handler.py'} {tmp / 'block'} {tmp / 'out.jsonl'}"
    return subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "watch", "--once", "--store", str(store), "--exec", handler],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _handed_out(mock: MockService) -> list[str]:
    raws = []
    for entry in mock.ledger:
        if entry.operation in ("SMS_Reports", "GET_SMS_MO", "GET_SMS_MO_Ext") and entry.answer not in (None, "null"):
            raws += [r for r in entry.answer.split("|") if r]
    return raws


def test_sigkill_between_pull_and_hand_off_loses_and_duplicates_nothing(
    winic_mock: MockService, make_client: MakeClient, tmp_path: Path
) -> None:
    (tmp_path / "handler.py").write_text(HANDLER, encoding="utf-8")
    (tmp_path / "block").touch()
    store = tmp_path / "inbox.sqlite3"
    client = make_client()
    client.send(["13800138000", "13900139000", "13700137000"], "first")
    client.send("13600136000", "second")
    for i in range(3):
        winic_mock.add_reply(f"1350013500{i}", f"reply {i}/with slash", port="001")

    first = _watch(winic_mock.url, tmp_path, store)
    deadline = time.monotonic() + 60
    while not (tmp_path / "block.reached").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "watcher never reached the hand-off"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL

    handed_out = _handed_out(winic_mock)
    assert len(handed_out) == 7  # 4 reports + 3 replies left the service, once each
    assert not (tmp_path / "out.jsonl").exists()  # nothing was handed on before the kill

    (tmp_path / "block").unlink()
    second = _watch(winic_mock.url, tmp_path, store)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    third = _watch(winic_mock.url, tmp_path, store)  # nothing new, nothing again
    third.communicate(timeout=120)
    assert third.returncode == 0

    delivered = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(d["raw"] for d in delivered) == sorted(handed_out)
    assert len({d["id"] for d in delivered}) == len(delivered) == 7
    assert _handed_out(winic_mock) == handed_out  # the restarts pulled nothing more
