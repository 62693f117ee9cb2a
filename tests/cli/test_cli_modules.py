"""The command line's modules: one per command group, sharing only public names, and imported by nothing of the
library (only ``python -m winic_soap`` and the console script start it)."""

from __future__ import annotations

import ast
from pathlib import Path

import winic_soap

PACKAGE = Path(winic_soap.__file__).parent


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for each ``from module import name`` and (module, "") for each ``import module``."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


def test_no_cli_module_imports_another_modules_private_names() -> None:
    for path in [*(PACKAGE / "cli").glob("*.py"), PACKAGE / "mock" / "cli.py"]:
        private = [
            f"{module}.{name}" for module, name in _imports(path) if name.startswith("_") and not name.startswith("__")
        ]
        assert not private, f"{path.name} imports {private}: make the helper public where it is shared"


def test_nothing_of_the_library_imports_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        where = path.relative_to(PACKAGE)
        if where.parts[0] == "cli" or where == Path("__main__.py"):
            continue
        cli = [m for m, name in _imports(path) if m == "winic_soap.cli" or m.startswith("winic_soap.cli.")]
        cli += [name for m, name in _imports(path) if m == "winic_soap" and name == "cli"]
        assert not cli, f"{where} imports the command line ({cli})"


def test_the_mock_entry_point_is_only_an_entry_point() -> None:
    """``python -m winic_soap.mock`` runs :mod:`winic_soap.mock.cli`; nothing imports ``__main__`` as a library."""
    body = ast.parse((PACKAGE / "mock" / "__main__.py").read_text(encoding="utf-8")).body
    code = [node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert len(code) == 2 and _imports(PACKAGE / "mock" / "__main__.py") == [("winic_soap.mock.cli", "main")]
    for path in PACKAGE.rglob("*.py"):
        assert ("winic_soap.mock", "__main__") not in _imports(path) and all(
            m != "winic_soap.mock.__main__" for m, _ in _imports(path)
        ), path
