"""Every code block in README.md and docs/*.md runs as written against the mock. The pages are parsed when
the tests are collected, so an edited or added example is tested as it stands.

``python`` blocks are executed; where one says ``from_env(`` the ``WINIC_*`` variables point at a started
mock (nothing else is replaced). ``sh`` blocks are run line by line, in order, in one scratch directory and
home, with ``WINIC_UID``/``WINIC_PWD``/``WINIC_ENDPOINT`` set to the mock; ``[optional]`` parts of a
synopsis line are run without and with each. ``toml`` blocks are loaded as the config file, each profile
too. A line that cannot run here is skipped only when ``SKIPPED`` gives the reason; a whole block only
when the page marks it ``<!-- not run: REASON -->``, and those markers are counted below.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers.markdown import EXAMPLE_PAGES, ROOT, Block, blocks
from helpers.shared import cli_env, run_cli

from winic_soap import Settings
from winic_soap.mock import MockService

PWD = "demo-secret"

# What a sh line may not run here, and why. Anything else must run and exit 0.
SKIPPED: dict[str, str] = {
    r"^pip install|-m pip install": "installs a package: the tests run against the code under test, installed once",
    r"-m tox\b": "runs this very test suite (tox runs these tests)",
    r"^export WINIC_": "placeholder credentials (…): the test sets WINIC_UID/WINIC_PWD/WINIC_ENDPOINT to the mock",
    r"^winic-soap mock\b": "serves until Ctrl-C; `MockService` and the CLI tests start the same server",
    r"^winic-soap watch\b(?!.*--once)": "polls until stopped; tests/watcher/ drives it with --once and kill -9",
    r"^createuser\b|^createdb\b": "administers a real PostgreSQL cluster; tests/helpers/pgserver.py starts one",
}
# Blocks a page exempts with <!-- not run: REASON -->: each reason names the test that checks the block
# instead. A new marker must be added here on purpose, with its page.
NOT_RUN = {"README.md": 1}
# Files a reader has at hand for the examples, made in the scratch directory.
FILES = {
    "numbers.txt": b"13800138000\n13900139000, 13700137000\n# a comment\n",
    "gbk.txt": "# 客户名单\n13800138000\n".encode("gbk"),  # for --encoding gbk
    "msg.txt": "您好，明天见\n".encode("gbk"),
}
ALL = blocks()
RUN = [b for b in ALL if b.not_run is None]


def _id(block: Block) -> str:
    first = next(
        (line for line in block.code.splitlines() if line.strip() and not line.startswith(("#", "from ", "import "))),
        block.language,
    )
    return f"{block.where} " + re.sub(r"\s+", " ", first.strip())[:40]


def _of(language: str) -> list[Block]:
    return [b for b in RUN if b.language == language]


class _MyApp:
    """The mock page's pytest example calls the reader's own ``my_app``: this one sends an alert."""

    @staticmethod
    def send_alert(*, endpoint: str, uid: str, pwd: str) -> None:
        from winic_soap import WinicClient

        with WinicClient(uid, pwd, endpoint=endpoint) as client:
            client.send("13800138000", "disk full on db-1")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working directory and home: no config file or store of the machine's user is read."""
    for name in list(os.environ):
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


# -- which blocks ----------------------------------------------------------------------------------
def test_every_block_is_run_or_marked() -> None:
    """No block escapes: each page's fences are all collected, every language is one these tests run,
    and the blocks a page exempts are exactly the counted ones, each with a reason naming its check."""
    for page in EXAMPLE_PAGES:
        text = page.read_text(encoding="utf-8")
        assert len([b for b in ALL if b.page == page]) * 2 == len(re.findall(r"^```", text, flags=re.M)), page
    assert {b.language for b in RUN} <= {"python", "sh", "toml"}, {b.where: b.language for b in RUN}
    marked: dict[str, int] = {}
    for block in ALL:
        if block.not_run is not None:
            marked[str(block.page.relative_to(ROOT))] = marked.get(str(block.page.relative_to(ROOT)), 0) + 1
            assert re.search(r"tests/\S+\.py", block.not_run), f"{block.where}: say which test checks it instead"
    assert marked == NOT_RUN


def test_every_skip_still_applies() -> None:
    """A SKIPPED pattern no sh line matches any more is stale: remove it."""
    lines = [c for b in _of("sh") for c in _commands(b.code)]
    for pattern in SKIPPED:
        assert any(re.search(pattern, line) for line in lines), pattern


# -- python ----------------------------------------------------------------------------------------
PYTHON = _of("python")


@pytest.mark.parametrize("block", PYTHON, ids=[_id(b) for b in PYTHON])
def test_python_example(block: Block, scratch: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    with MockService() as mock:
        if "from_env(" in block.code:  # the one replacement: the example's environment is the mock's
            monkeypatch.setenv("WINIC_UID", "demo")
            monkeypatch.setenv("WINIC_PWD", PWD)
            monkeypatch.setenv("WINIC_ENDPOINT", mock.url)
        namespace: dict[str, Any] = {"__name__": "docs_example"}
        exec(compile(block.code, block.where, "exec"), namespace)
        tests = {k: v for k, v in namespace.items() if k.startswith("test_") and callable(v)}
        for test in tests.values():  # a pytest example: run it as pytest would, with the plugin's fixture
            namespace["my_app"] = _MyApp
            test(mock)
        assert PWD not in capsys.readouterr().out


# -- toml ------------------------------------------------------------------------------------------
TOML = _of("toml")


@pytest.mark.parametrize("block", TOML, ids=[_id(b) for b in TOML])
def test_toml_example(block: Block, scratch: Path) -> None:
    """The block is a config file the settings accept as written, and so is each profile in it."""
    path = scratch / "config.toml"
    path.write_text(block.code, encoding="utf-8")
    written = tomllib.loads(block.code)
    assert Settings.load(config=path, env={}).uid == written.get("uid", "")
    for name, profile in written.get("profiles", {}).items():  # a profile's values win over the top level
        assert Settings.load(config=path, profile=name, env={}).uid == profile.get("uid", written.get("uid", ""))


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


def _args(command: str, placeholders: dict[str, str]) -> list[str]:
    """The ``winic-soap`` arguments of a documented command line (``python3 -m winic_soap`` is the same)."""
    for name, value in placeholders.items():
        command = re.sub(rf"(?<=\s){name}\b", value, command)
    argv = shlex.split(command, comments=True)
    if argv[0] == "winic-soap":
        return argv[1:]
    if argv[:3] == ["python3", "-m", "winic_soap"]:
        return argv[3:]
    raise AssertionError(f"the docs run something this test does not know: {command}")


SH = _of("sh")


@pytest.mark.parametrize("block", SH, ids=[_id(b) for b in SH])
def test_sh_example(block: Block, scratch: Path) -> None:
    ran, skipped = [], []
    with MockService() as mock:
        env = cli_env(mock.url, scratch, pwd=PWD)
        placeholders = {"PATH": str(ROOT / "wsdl_cache" / "Service.asmx.wsdl"), "URL": f"{mock.url}?WSDL"}
        for command in _commands(block.code):
            reason = next((why for pattern, why in SKIPPED.items() if re.search(pattern, command)), None)
            if reason is not None:
                skipped.append((command, reason))
                continue
            result = run_cli(env, *_args(command, placeholders))  # in the scratch directory
            assert result.returncode == 0, (
                f"{block.where}: {command}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
            )
            assert PWD not in result.stdout + result.stderr
            ran.append(command)
    assert ran or skipped
    print("\n".join([f"ran: {c}" for c in ran] + [f"skipped: {c} ({why})" for c, why in skipped]))


def test_the_cli_tours_run_more_than_they_skip() -> None:
    """The README's and the CLI page's command-line tours must actually be exercised, not skipped away."""
    for page in ("README.md", "docs/cli.md"):
        tour = next(b for b in SH if b.page == ROOT / page and "winic-soap send" in b.code)
        commands = _commands(tour.code)
        skipped = [c for c in commands if any(re.search(p, c) for p in SKIPPED)]
        assert len(commands) - len(skipped) >= 10, (page, skipped)


def test_get_message_record_example_lists_the_send(scratch: Path) -> None:
    """The CLI page's ``call GetMessageRecord`` with plain dates finds a send made on those days."""
    with MockService() as mock:
        env = cli_env(mock.url, scratch, pwd=PWD)
        line = next(c for b in SH for c in _commands(b.code) if "call GetMessageRecord" in c)
        sent = run_cli(env, "send", "13800138000", "-m", "hello")
        assert sent.returncode == 0, sent.stderr
        today = mock.state.sends[0].accepted_at.date().isoformat()
        dated = re.sub(r"StartDate=\S+", f"StartDate={today}", re.sub(r"EndDate=\S+", f"EndDate={today}", line))
        result = run_cli(env, *_args(dated, {}))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(mock.state.sends[0].message_id), result.stdout
