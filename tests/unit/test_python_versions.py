"""The supported Pythons are stated once and kept in step: ``requires-python``, the classifiers and tox's
environments; and tox never lets a missing Python 3.11 (the floor, CI's) pass as skipped."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ("3.11", "3.12", "3.13", "3.14")


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


def test_a_missing_floor_python_fails_tox() -> None:
    tox = _tox()
    if tox["tox"].get("skip_missing_interpreters", "false").strip().lower() == "true":
        env_list = tox["tox"]["env_list"]
        assert "floor" in env_list and "python3.11" in tox["testenv:floor"]["commands"]
