"""The README's commands and examples stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_quick_start_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    code = next(b for b in _blocks("python") if "WinicClient" in b)
    exec(compile(code, "README quick start", "exec"), {})
    out = capsys.readouterr().out
    assert "not retried: ('13800138000',)" in out
    assert re.search(r"^\d{16} \('13800138000', '13900139000'\)$", out, flags=re.M)


def test_first_two_commands_are_demo_and_tests() -> None:
    commands = [line for line in _blocks("sh")[0].splitlines() if line.strip()]
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


def test_store_example_runs(capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks("python") if "open_store" in b)
    exec(compile(code, "README store example", "exec"), {})
    out = capsys.readouterr().out
    assert "'accepted': 250, 'delivered': 250" in out and out.rstrip().endswith("[]")
    assert (tmp_path / "winic-example.sqlite3").is_file()
