"""``winic-soap mock`` as an operator runs it: URL on the first line, serves, stops cleanly on SIGTERM/Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from helpers import wire


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_mock_command_serves_and_stops(stop_with: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "winic_soap",
            "mock",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--account",
            "alice:s3cret:7.5",
            "--account",
            "bob:pw",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/Service.asmx")
        assert (wire.call("http-post", url, "GetUserInfo", {"uid": "alice", "pwd": "s3cret"}) or "").startswith(
            "000/alice/7.5000/"
        )
        assert (wire.call("http-post", url, "GetUserInfo", {"uid": "bob", "pwd": "pw"}) or "").startswith(
            "000/bob/100.0000/"
        )
    finally:
        proc.send_signal(stop_with)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "s3cret" not in out + err


def test_mock_command_rejects_a_bad_account() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "winic_soap", "mock", "--account", "nopassword"],
        capture_output=True,
        check=False,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2 and "UID:PWD" in result.stderr
