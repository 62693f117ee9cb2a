"""The supported Pythons are stated once and kept in step: ``requires-python``, the classifiers and tox's
environments; tox never lets a missing one pass as skipped, and CI's script looks for each declared one."""

from __future__ import annotations

import configparser
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ("3.11", "3.12", "3.13")


def _tox() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    return parser


def test_classifiers_and_requires_python() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={SUPPORTED[0]}"
    listed = {c.rsplit(" :: ", 1)[-1] for c in project["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)}
    assert listed == set(SUPPORTED)


def test_tox_runs_every_supported_python() -> None:
    env_list = [e.strip() for e in re.split(r"[,\s]+", _tox()["tox"]["env_list"]) if e.strip()]
    assert [e for e in env_list if re.fullmatch(r"py3\d+", e)] == [f"py{v.replace('.', '')}" for v in SUPPORTED]
    assert {"lint", "type"} <= set(env_list)


def test_a_missing_python_fails_tox() -> None:
    assert _tox()["tox"]["skip_missing_interpreters"].strip().lower() == "false"


def test_ci_links_every_declared_python_for_tox(tmp_path: Path) -> None:
    """CI's .ci/pythons finds each declared Python on this machine (pyenv's shims hide all but one)."""
    folder = tmp_path / "bin"
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "pythons"), str(folder), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [f"python{v}" for v in SUPPORTED]
    for version in SUPPORTED:
        ran = subprocess.run(
            [str(folder / f"python{version}"), "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert ran.stdout.strip() == version


def test_ci_stops_naming_a_declared_python_it_cannot_find(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nclassifiers = ["Programming Language :: Python :: 3.11", '
        '"Programming Language :: Python :: 3.99"]\n',
        encoding="utf-8",
    )
    folder = tmp_path / "bin"
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "pythons"), str(folder), str(pyproject)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Python 3.99" in result.stderr and "3.11" not in result.stderr
    assert [p.name for p in folder.iterdir()] == ["python3.11"]
