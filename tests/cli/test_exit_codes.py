"""Every exit code ``winic-soap`` documents (:class:`winic_soap.cli.exit_codes.ExitCode`) is produced by the
situation it names, and ``--help`` lists them all.

Each code has a situation run here through ``python -m winic_soap`` against the mock, or, where one already proves
it with more around it (a store cut mid-send, a signal mid-send, a hand-off that hangs), a pointer to that test;
a code with neither fails :func:`test_every_code_is_proved`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import cli_env, run_cli

import winic_soap.cli.exit_codes
from winic_soap.cli.exit_codes import EXIT_HELP, ExitCode
from winic_soap.mock import MockService

PWD = "demo-secret"
SEND = ("send", "13800138000", "-m", "x")

# (exit code, the command, the mock's scripted fault); ids name the situation
SITUATIONS: dict[str, tuple[ExitCode, tuple[str, ...], dict[str, Any] | None]] = {
    "success": (ExitCode.OK, ("account",), None),
    "unknown command": (ExitCode.USAGE, ("nonsense",), None),
    "unknown transport": (ExitCode.USAGE, (*SEND, "--transport", "soap13"), None),
    "endpoint not http(s)": (ExitCode.USAGE, ("account", "--endpoint", "ftp://x"), None),
    "a group without its action": (ExitCode.USAGE, ("wsdl",), None),
    "invalid number": (ExitCode.INPUT, ("send", "123", "-m", "x"), None),
    "--at in the past": (ExitCode.INPUT, (*SEND, "--at", "2001-01-01"), None),
    "wrong password (-02)": (ExitCode.AUTHENTICATION, (*SEND, "--pwd", "wrong"), None),
    "IP not allowed (-110)": (ExitCode.AUTHENTICATION, ("account",), {"kind": "code", "code": "-110"}),
    "balance insufficient (-01)": (ExitCode.BALANCE, SEND, {"kind": "code", "code": "-01"}),
    "another service code (-07)": (ExitCode.SERVICE, SEND, {"kind": "code", "code": "-07"}),
    "the reply to a send lost": (ExitCode.OUTCOME_UNKNOWN, SEND, {"kind": "close_after"}),
}

# codes proved where more is checked around them: "tests/<folder>/<module>.py::<test function>"
PROVED_ELSEWHERE: dict[ExitCode, str] = {
    ExitCode.TRANSPORT: "tests/cli/test_cli.py::test_transport_failure_exit_code",
    ExitCode.HAND_OFF: "tests/watcher/test_watch_handoff.py::"
    "test_a_hung_hand_off_is_killed_after_exec_timeout_and_counts_as_failed",
    ExitCode.STORE: "tests/cli/test_cli_store.py::test_send_with_an_unusable_store_sends_nothing",
    ExitCode.DRIFT: "tests/cli/test_cli_small.py::test_wsdl_diff_exit_code",
    ExitCode.JOURNAL: "tests/store/test_send_store_dies.py::test_the_cli_prints_every_accepted_id_and_exits_12",
    ExitCode.INTERRUPTED: "tests/client/test_send_engine.py::test_a_stopped_cli_send_prints_every_id_and_exits_true",
    ExitCode.TERMINATED: "tests/client/test_send_engine.py::test_a_stopped_cli_send_prints_every_id_and_exits_true",
}


def test_every_code_is_proved() -> None:
    here = {code for code, _, _ in SITUATIONS.values()} | {ExitCode.FAILURE}  # 1: the closed pipe test below
    assert here | set(PROVED_ELSEWHERE) == set(ExitCode)
    assert not here & set(PROVED_ELSEWHERE), "a code proved twice: keep one"


@pytest.mark.parametrize(("code", "argv", "fault"), SITUATIONS.values(), ids=SITUATIONS.keys())
def test_the_situation_gives_its_code(
    winic_mock: MockService, tmp_path: Path, code: ExitCode, argv: tuple[str, ...], fault: dict[str, Any] | None
) -> None:
    if fault:
        winic_mock.fail(**fault)
    result = run_cli(cli_env(winic_mock.url, tmp_path, PWD), *argv)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and PWD not in result.stdout + result.stderr


@pytest.mark.parametrize("code", PROVED_ELSEWHERE, ids=lambda code: code.name)
def test_the_test_that_proves_it_is_there(code: ExitCode) -> None:
    """A renamed or moved test leaves no code unproved: its module imports, has it, and names the code."""
    path, _, name = PROVED_ELSEWHERE[code].partition("::")
    module = importlib.import_module(path.removeprefix("tests/").removesuffix(".py").replace("/", "."))
    assert inspect.isfunction(getattr(module, name, None)), PROVED_ELSEWHERE[code]
    assert str(code.value) in inspect.getsource(module)


def test_stdout_closed_before_everything_was_printed_is_a_failure(tmp_path: Path) -> None:
    """1: the reader went away (``| head`` that stopped reading): no traceback, nothing more written."""
    read, write = os.pipe()
    os.close(read)  # every write to the pipe now fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "winic_soap", "ops"],  # the packaged contract: no service needed
            stdout=write,
            stderr=subprocess.PIPE,
            env=cli_env("http://127.0.0.1:9/Service.asmx", tmp_path),
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == ExitCode.FAILURE, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [("--help",), ("send", "--help"), ("jobs", "--help")], ids=" ".join)
def test_help_lists_every_code(tmp_path: Path, argv: tuple[str, ...]) -> None:
    shown = run_cli(cli_env("http://127.0.0.1:9/Service.asmx", tmp_path), *argv)
    assert shown.returncode == ExitCode.OK
    lines = shown.stdout.splitlines()
    for code in ExitCode:
        assert f"{code.value:>3}  {code.meaning}" in lines, code


def test_the_module_docstring_holds_the_table_help_shows() -> None:
    """docs/cli.md copies the table from the docstring: it cannot drift from what ``--help`` prints."""
    doc = inspect.getdoc(winic_soap.cli.exit_codes) or ""
    assert "\n".join(f"    {line}" for line in EXIT_HELP.splitlines()) in doc


def test_codes_are_distinct_and_fit_a_process_status() -> None:
    assert len({code.value for code in ExitCode}) == len(ExitCode)
    assert all(0 <= code <= 255 and code.meaning for code in ExitCode)
