"""The README's facts stay true: its size, its first two commands, the quick start's output, the extras it
lists, the exit codes and the exception tree it draws; and the store guide's journal example."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers.markdown import DOCS, README, ROOT, block_with, blocks

import winic_soap

TEXT = README.read_text(encoding="utf-8")


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after ``heading``."""
    after = text[text.index(heading) :]
    rows = re.search(r"^\|.*?(?=^[^|])", after, flags=re.S | re.M)
    assert rows is not None, heading
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in rows[0].splitlines()[2:]]


def test_readme_is_short() -> None:
    """The README introduces; the depth is in docs/ (about 250-300 lines)."""
    assert len(TEXT.splitlines()) <= 300


def test_quick_start_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = next(b.code for b in blocks((README,), "python") if "WinicClient" in b.code)
    exec(compile(code, "README quick start", "exec"), {})
    out = capsys.readouterr().out
    assert "not retried: ('13800138000',)" in out
    assert re.search(r"^\d{16} \('13800138000', '13900139000'\)$", out, flags=re.M)


def test_first_two_commands_are_demo_and_tests() -> None:
    commands = [line for line in blocks((README,), "sh")[0].code.splitlines() if line.strip()]
    assert "winic_soap demo" in commands[0]
    assert "tox" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].split("#")[0].strip() in ci


def test_demo_command_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "winic_soap", "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "outcome unknown" in result.stdout and "demo-secret" not in result.stdout + result.stderr


def test_install_lists_every_extra() -> None:
    """The install table names each user-facing extra of pyproject.toml, and nothing else."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    listed = {row[0].strip("`") for row in _table(TEXT, "## Install")}
    assert listed == set(declared) - {"test", "lint"}
    assert f"winic-soap[{','.join(sorted(listed, key=list(declared).index))}]" in TEXT


def _help_codes() -> dict[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "winic_soap", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    epilog = result.stdout[result.stdout.index("exit codes:") :]
    codes = {int(c): line for c, line in re.findall(r"^\s*(\d+)\s+(.*)$", epilog, flags=re.M)}
    codes.update({int(c): "" for c in re.findall(r"\b(1[34]\d)\b", epilog)})  # "130 ...; 143: ..."
    return codes


@pytest.mark.parametrize("page", [README, DOCS / "cli.md"], ids=["README", "docs/cli.md"])
def test_exit_code_tables_match_the_cli(page: Path) -> None:
    """Every exit code the CLI's --help lists is in the page's table, and no other."""
    rows = _table(page.read_text(encoding="utf-8"), "| code | meaning |")
    documented = {int(code) for row in rows for code in re.findall(r"\d+", row[0])}
    assert documented == set(_help_codes())


def test_exception_tree_is_the_real_one() -> None:
    """Each class drawn in the README's tree exists in winic_soap, under the parent drawn above it."""
    tree = next(b.code for b in blocks((README,), "text") if b.code.startswith("WinicError"))
    parents: list[tuple[int, type[Any]]] = []
    for line in tree.splitlines():
        name = re.search(r"[A-Za-z]+", line)
        assert name is not None, line
        cls = getattr(winic_soap, name[0])
        depth = name.start() // 4
        while parents and parents[-1][0] >= depth:
            parents.pop()
        if parents:
            assert cls.__bases__[0] is parents[-1][1], f"{cls.__name__} is not drawn under its parent"
        else:
            assert cls is winic_soap.WinicError
        parents.append((depth, cls))
    assert len(parents) >= 2


def test_store_guide_example_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    code = block_with(DOCS / "store.md", "store.create_job(")
    exec(compile(code, "docs/store.md journal example", "exec"), {})
    out = capsys.readouterr().out
    assert "'accepted': 250, 'delivered': 250" in out and out.rstrip().endswith("[]")
    assert (tmp_path / "winic-example.sqlite3").is_file()


def test_cli_page_lists_every_command() -> None:
    """docs/cli.md's table names each command ``winic-soap --help`` lists, and no other."""
    usage = subprocess.run(
        [sys.executable, "-m", "winic_soap", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    commands = set(re.findall(r"^    (\w+)  ", usage, flags=re.M))
    rows = _table((DOCS / "cli.md").read_text(encoding="utf-8"), "| command | what it does |")
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row[0])}
    assert commands and documented == commands


def test_api_table_names_public_methods_of_both_clients() -> None:
    """Each call in the README's API table is a public method of WinicClient and of AsyncWinicClient."""
    rows = _table(TEXT, "| call | operation | returns |")
    names = {name for row in rows for name in re.findall(r"`(\w+)\(", row[0])}
    assert len(names) >= 12
    for client in (winic_soap.WinicClient, winic_soap.AsyncWinicClient):
        assert all(callable(getattr(client, name, None)) for name in names), names - set(dir(client))
