"""Helpers shared by the test modules: CLI runs, transports, waits (imported as ``helpers.shared``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from winic_soap import WinicClient

TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")


class MakeClient(Protocol):
    """The ``make_client`` fixture: a :class:`WinicClient` on the test's mock, closed after the test."""

    def __call__(self, transport: str = "soap11", **options: Any) -> WinicClient: ...


class SleepRecorder:
    """Stands in for ``time.sleep`` in retry policies: records the waits, never sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def cli_env(endpoint: str, home: Path, pwd: str = "demo-secret", uid: str = "demo") -> dict[str, str]:
    """The environment for a ``winic-soap`` subprocess: a private HOME/XDG tree, credentials, one attempt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINIC_")}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "WINIC_UID": uid,
            "WINIC_PWD": pwd,
            "WINIC_ENDPOINT": endpoint,
            "WINIC_MAX_ATTEMPTS": "1",
        }
    )
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m winic_soap ARGS`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "winic_soap", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``python -m winic_soap ARGS`` started in its own session (so a test can signal or kill it whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "winic_soap", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` (every 5 ms) until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
