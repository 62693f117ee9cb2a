"""The version lives in ``winic_soap/_version.py``: the package root re-exports it, the build reads it
there, and no module of the package imports the package root to learn it (that import made cycles)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import winic_soap
from winic_soap import _version

ROOT = Path(winic_soap.__file__).parent
REPO = Path(__file__).resolve().parents[2]


def test_the_root_re_exports_the_version_module_s_value() -> None:
    assert winic_soap.__version__ == _version.__version__
    assert "__version__" in winic_soap.__all__


def test_the_build_reads_the_version_module() -> None:
    # the checkout's pyproject: under tox the package is the installed wheel, with no pyproject beside it
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["hatch"]["version"]["path"] == "winic_soap/_version.py"
    assert (REPO / "winic_soap" / "_version.py").read_text(encoding="utf-8") == Path(_version.__file__).read_text(
        encoding="utf-8"
    )


def test_no_module_imports_the_version_from_the_package_root() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path == ROOT / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module == "winic_soap"):
                continue
            if "__version__" in {alias.name for alias in node.names}:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
