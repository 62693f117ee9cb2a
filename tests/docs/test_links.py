"""Every relative link in the README, docs/, the reliability evidence and the benchmark figures resolves (the
file, and the heading a ``#fragment`` names), and every repository path the pages name in backticks exists:
a moved test or module shows up here, not in a reader's 404."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.markdown import EXAMPLE_PAGES, PAGES, ROOT, anchors

_LINK = re.compile(r"\]\(([^)\s]+)\)")
# Paths into the repository as the pages write them: `tests/x/test_y.py`, `benchmarks/bench_x.py`, ...
_PATH = re.compile(r"`((?:tests|benchmarks|winic_soap|tools|wsdl_cache|docs)/[\w./-]*\w)`")


def _prose(page: Path) -> str:
    """The page without its code blocks (a link or path inside an example is the example's business)."""
    return re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_prose(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ... not ours to check offline
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{target}: no heading #{fragment} in {file.relative_to(ROOT)}")
    assert not broken, broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_named_paths_exist(page: Path) -> None:
    missing = [path for path in _PATH.findall(_prose(page)) if not (ROOT / path).exists()]
    assert not missing, missing


def test_every_page_has_links_checked() -> None:
    """The checks above see the pages' links at all (a changed link syntax would make them pass vacuously)."""
    assert all(_LINK.search(_prose(page)) for page in EXAMPLE_PAGES if page.name != "api.md")  # a reference
    assert sum(len(_PATH.findall(_prose(page))) for page in PAGES) >= 20


def test_benchmark_commands_are_real() -> None:
    """Each ``python benchmarks/SCRIPT --option`` the figures cite names a script there and an option it takes."""
    cited = re.findall(r"python (benchmarks/\w+\.py)([^`]*)`", "".join(_prose(page) for page in PAGES))
    assert len({script for script, _ in cited}) >= 9, cited
    for script, options in cited:
        assert (ROOT / script).is_file(), script
        usage = subprocess.run(
            [sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        for option in re.findall(r"--[\w-]+", options):
            assert option in usage, f"{script} has no {option}"
