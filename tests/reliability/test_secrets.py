"""Passwords never reach the operator's screen or logs: every CLI command at -vv, through faults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.rel_secrets import NEW_PWD, PWD, assert_no_secret

from winic_soap.mock import MockService

COMMANDS = [
    ("send", "13800138000", "-m", "secret test"),
    ("send", "13800138000", "-m", "x", "--transport", "http-get"),
    ("send", "13800138000", "-m", "x", "--transport", "soap12", "--json"),
    ("account", "--json"),
    ("account", "--transport", "http-post"),
    ("reports",),
    ("replies", "--transport", "http-get"),
    ("call", "EditUserPwd", f"newpwd={NEW_PWD}"),
    ("call", "GetUserInfo", "--transport", "http-get"),
    ("watch", "--once"),
    ("ops",),
]


@pytest.mark.parametrize("fault", [None, "close_after", "http503", "code"])
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_cli_output_never_shows_a_password(
    rel_mock: MockService, tmp_path: Path, command: tuple[str, ...], fault: str | None
) -> None:
    if fault == "code":
        rel_mock.fail("code", code="-03", times=None)
    elif fault:
        rel_mock.fail(fault, times=None)
    env = {
        **os.environ,
        "WINIC_UID": "rel",
        "WINIC_PWD": PWD,
        "WINIC_ENDPOINT": rel_mock.url,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "WINIC_MAX_ATTEMPTS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "winic_soap", *command, "-vv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_no_secret(result.stdout, result.stderr)
    assert "DEBUG" in result.stderr or command[0] == "ops"
    if command[0] == "call" and command[1] == "EditUserPwd" and fault is None:
        assert result.returncode == 0 and "pwd=***" not in result.stdout  # the new password is never echoed


def test_password_flag_is_not_echoed_in_errors(rel_mock: MockService, tmp_path: Path) -> None:
    env = {**os.environ, "WINIC_ENDPOINT": rel_mock.url, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "winic_soap", "account", "--uid", "rel", "--pwd", PWD + "x", "-vv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 4
    assert_no_secret(result.stdout, result.stderr)
    assert PWD + "x" not in result.stdout + result.stderr
