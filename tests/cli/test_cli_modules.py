"""The command line's modules: one per command group, sharing only public names (that nothing of the library
imports them is tests/unit/test_layers.py's)."""

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


def test_the_mock_entry_point_is_only_an_entry_point() -> None:
    """``python -m winic_soap.mock`` runs :mod:`winic_soap.mock.cli` and holds nothing else (that nothing imports an
    entry point is tests/unit/test_layers.py's)."""
    body = ast.parse((PACKAGE / "mock" / "__main__.py").read_text(encoding="utf-8")).body
    code = [node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert len(code) == 2 and _imports(PACKAGE / "mock" / "__main__.py") == [("winic_soap.mock.cli", "main")]
