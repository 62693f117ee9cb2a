"""Every example in README.md runs as written against the mock. README.md is parsed when the tests are
collected, so an edited or added example is tested as it stands.

``python`` blocks are executed; where one says ``WinicClient.from_env()`` the ``WINIC_*`` variables point
at a started mock (nothing else is replaced). ``sh`` blocks are run line by line, in order, in one
scratch directory and home, with ``WINIC_UID``/``WINIC_PWD``/``WINIC_ENDPOINT`` set to the mock;
``[optional]`` parts of a synopsis line are run without and with each. Lines that cannot run here are
skipped only when ``SKIPPED`` gives the reason.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import cli_env

from winic_soap.mock import MockService

README = Path(__file__).resolve().parents[2] / "README.md"
PWD = "demo-secret"

# What a sh line may not run here, and why. Anything else must run and exit 0.
SKIPPED: dict[str, str] = {
    r"^pip install|-m pip install": "installs a package: the tests run against the code under test, installed once",
    r"-m tox\b": "runs this very test suite (tox runs the README test)",
    r"^export WINIC_": "placeholder credentials (…): the test sets WINIC_UID/WINIC_PWD/WINIC_ENDPOINT to the mock",
    r"^winic-soap mock\b": "serves until Ctrl-C; `MockService` and the CLI tests start the same server",
    r"^winic-soap watch\b(?!.*--once)": "polls until stopped; tests/test_watcher*.py drive it with --once and kill -9",
    r"^createuser\b|^createdb\b": "administers a real PostgreSQL cluster; tests/pgserver.py starts one for the tests",
}
# Files a reader of the README has at hand for the examples, made in the scratch directory.
FILES = {
    "numbers.txt": b"13800138000\n13900139000, 13700137000\n# a comment\n",
    "gbk.txt": "# 客户名单\n13800138000\n".encode("gbk"),  # for --encoding gbk
    "msg.txt": "您好，明天见\n".encode("gbk"),
}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _name(block: str) -> str:
    first = next(line for line in block.splitlines() if line.strip() and not line.startswith(("#", "from ", "import ")))
    return re.sub(r"\s+", " ", first.strip())[:50]


# -- python ----------------------------------------------------------------------------------------
class _MyApp:
    """The README's pytest example calls the reader's own ``my_app``: this one sends an alert with the library."""

    @staticmethod
    def send_alert(*, endpoint: str, uid: str, pwd: str) -> None:
        from winic_soap import WinicClient

        with WinicClient(uid, pwd, endpoint=endpoint) as client:
            client.send("13800138000", "disk full on db-1")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working directory and home: no config file or store of the machine's user is read."""
    for name in list(__import__("os").environ):
        if name.startswith("WINIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for name, text in FILES.items():
        (tmp_path / name).write_bytes(text)
    return tmp_path


PYTHON = _blocks("python")


@pytest.mark.parametrize("block", PYTHON, ids=[_name(b) for b in PYTHON])
def test_python_example(block: str, scratch: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    with MockService() as mock:
        if "from_env(" in block:  # the one replacement: the example's environment is the mock's
            monkeypatch.setenv("WINIC_UID", "demo")
            monkeypatch.setenv("WINIC_PWD", PWD)
            monkeypatch.setenv("WINIC_ENDPOINT", mock.url)
        namespace: dict[str, Any] = {"__name__": "readme_example"}
        exec(compile(block, "README.md example", "exec"), namespace)
        tests = {k: v for k, v in namespace.items() if k.startswith("test_") and callable(v)}
        for test in tests.values():  # a pytest example: run it as pytest would, with the plugin's fixture
            namespace["my_app"] = _MyApp
            test(mock)
        assert PWD not in capsys.readouterr().out


def test_every_python_block_was_collected() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(PYTHON) == text.count("```python") and PYTHON


# -- sh --------------------------------------------------------------------------------------------
def _without_options(line: str) -> str:
    return re.sub(r"\s*\[[^\]]+\]", "", line)


def _expand(line: str) -> list[str]:
    """A synopsis line with ``[optional]`` parts: without them, then with each in turn; each of ``A|B``
    placeholders inside a part is tried (``PATH|URL``: a WSDL file, a WSDL URL)."""
    lines = [_without_options(line)]
    for part in re.findall(r"\[([^\]]+)\]", line):
        choices = part.split("|") if re.fullmatch(r"[A-Z]+(?:\|[A-Z]+)+", part) else [part]
        lines += [_without_options(line.replace(f"[{part}]", choice, 1)) for choice in choices]
    return lines


def _commands(block: str) -> list[str]:
    """The block's commands in order: comments dropped, ``&&`` chains split, synopses expanded."""
    commands: list[str] = []
    for raw in block.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            for command in line.split("&&"):
                commands += _expand(command.strip())
    return commands


def _argv(command: str, placeholders: dict[str, str]) -> list[str]:
    for name, value in placeholders.items():
        command = re.sub(rf"(?<=\s){name}\b", value, command)
    argv = shlex.split(command, comments=True)
    if argv[0] == "winic-soap":
        return [sys.executable, "-m", "winic_soap", *argv[1:]]
    if argv[:3] == ["python3", "-m", "winic_soap"]:
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"the README runs something this test does not know: {command}")


SH = _blocks("sh")


@pytest.mark.parametrize("block", SH, ids=[_name(b) for b in SH])
def test_sh_example(block: str, scratch: Path) -> None:
    ran, skipped = [], []
    with MockService() as mock:
        env = cli_env(mock.url, scratch, pwd=PWD)
        placeholders = {"PATH": str(README.parent / "wsdl_cache" / "Service.asmx.wsdl"), "URL": f"{mock.url}?WSDL"}
        for command in _commands(block):
            reason = next((why for pattern, why in SKIPPED.items() if re.search(pattern, command)), None)
            if reason is not None:
                skipped.append((command, reason))
                continue
            result = subprocess.run(
                _argv(command, placeholders),
                capture_output=True,
                text=True,
                env=env,
                cwd=scratch,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, (
                f"README: {command}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
            )
            assert PWD not in result.stdout + result.stderr
            ran.append(command)
    assert ran or skipped
    print("\n".join([f"ran: {c}" for c in ran] + [f"skipped: {c} ({why})" for c, why in skipped]))


def test_the_cli_block_runs_more_than_it_skips(scratch: Path) -> None:
    """The README's command-line tour must actually be exercised, not skipped away."""
    tour = next(b for b in SH if "winic-soap send" in b)
    commands = _commands(tour)
    skipped = [c for c in commands if any(re.search(p, c) for p in SKIPPED)]
    assert len(commands) - len(skipped) >= 10, skipped


def test_get_message_record_example_lists_the_send(scratch: Path) -> None:
    """The README's ``call GetMessageRecord`` with plain dates finds a send made on those days."""
    with MockService() as mock:
        env = cli_env(mock.url, scratch, pwd=PWD)
        line = next(c for b in SH for c in _commands(b) if "call GetMessageRecord" in c)
        sent = subprocess.run(
            _argv("winic-soap send 13800138000 -m hello", {}), capture_output=True, text=True, env=env, check=False
        )
        assert sent.returncode == 0, sent.stderr
        today = mock.state.sends[0].accepted_at.date().isoformat()
        dated = re.sub(r"StartDate=\S+", f"StartDate={today}", re.sub(r"EndDate=\S+", f"EndDate={today}", line))
        result = subprocess.run(_argv(dated, {}), capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(mock.state.sends[0].message_id), result.stdout
