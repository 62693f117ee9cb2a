"""docs/layout.md names every module of the package and every folder of tests/, so a module added or
moved without a line saying what it owns fails here (tests/docs/test_links.py checks the other way: every
path the page names exists)."""

from __future__ import annotations

import re

from helpers.markdown import DOCS, ROOT

LAYOUT = DOCS / "layout.md"


def _named() -> set[str]:
    return set(re.findall(r"^- `([\w./-]+)`", LAYOUT.read_text(encoding="utf-8"), flags=re.M))


def test_every_module_has_its_line() -> None:
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "winic_soap").rglob("*.py")}
    assert modules - _named() == set(), "modules docs/layout.md does not describe"


def test_every_test_folder_has_its_line() -> None:
    folders = {
        f"{p.relative_to(ROOT).as_posix()}/"
        for p in (ROOT / "tests").iterdir()
        if p.is_dir() and not p.name.startswith((".", "__"))
    }
    assert folders - _named() == set(), "test folders docs/layout.md does not describe"


def test_it_names_nothing_twice() -> None:
    lines = re.findall(r"^- `([\w./-]+)`", LAYOUT.read_text(encoding="utf-8"), flags=re.M)
    assert len(lines) == len(set(lines))
