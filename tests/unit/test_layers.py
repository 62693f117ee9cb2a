"""The package's layers, read from its source: no import cycle anywhere, and every arrow points down.

An import counts when it can run: at module level or inside a function (both run), ``importlib.import_module``
of a literal name, and a package's lazy table (the ``{"Name": "winic_soap.module"}`` dict its ``__init__``
hands to ``_lazy.exports``: the package imports that module the first time the name is read, so the
package depends on it). Imports under ``if TYPE_CHECKING:`` never run and do not count. ``from pkg import x``
is an arrow to the submodule ``pkg.x`` when there is one, else to ``pkg`` itself.

The rules, each checked on the package and shown to fail on a planted violation in a synthetic tree:

- **No cycle** in the whole package.
- **core** (sans-I/O protocol) imports nothing above it: of the world only the stdlib and lxml, of the
  package only itself and three leaves that import nothing of the package: ``exceptions`` (what it raises),
  ``models`` (what it returns) and ``resources`` (the packaged contract it reads).
- **The store** keeps and reads what the client produced; it builds no request and holds no connection to the
  service. It may import the leaves every layer shares (``exceptions``, ``models``, ``config`` for its
  settings, ``categories`` for the status table, ``numbering`` and ``recipients`` for the numbers it keeps
  and matches, ``states`` for the states it stores, ``redaction`` to mask its URL's password, ``_lazy``)
  and the one bulk engine, ``bulk`` (the journal runs a stored job through it: one engine, not a second
  one); it imports no client: not ``client``, ``async_client``, ``_base``, ``http``, ``wsdl``, ``retry``,
  ``decoding``, ``core``, ``text``, ``events``, ``webhooks``, nor the package root (whose lazy table leads
  to the clients). A journal is *handed* a client at run time (typed under ``TYPE_CHECKING``), so it never
  imports one.
- A layer's allowance is checked through what it may import: a leaf that reaches a client (``config`` did,
  through ``webhooks`` to ``http``) breaks the rule of every layer that imports it.
- **The CLI** is imported by nothing of the package but ``winic_soap.__main__`` (and itself); the console
  script names ``winic_soap.cli:main`` outside the package. **No entry point** (a ``__main__``) is imported:
  it runs a program, it is no library.
- **The mock** imports nothing of the client (it is a server of its own: it may use ``resources`` for the
  packaged WSDL, ``numbering`` for calling codes and ``_lazy``); within it, ``mock.state`` (accounts, sends,
  the ledger) is the core and imports nothing else of the mock: the routing, the admin API, the wire and
  the in-process transport are shells over it.
- **Every exception** of the client is in ``winic_soap.exceptions`` (a class defined elsewhere is private).
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

import winic_soap

PACKAGE = "winic_soap"
ROOT = Path(winic_soap.__file__).parent

# Arrows that close a cycle today, each with the developer whose change removes it. Once one is gone, the
# strict xfail below fails: delete its line here, and the marker with the last one.
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}  # (httppkg's _version.py ended the last: http -> root)

# What each layer may import of the package beside itself, directly or through these (see the module docstring).
CORE_MAY_IMPORT = {"winic_soap.exceptions", "winic_soap.models", "winic_soap.resources"}
STORE_MAY_IMPORT = {
    "winic_soap._lazy",
    "winic_soap.bulk",
    "winic_soap.categories",
    "winic_soap.config",
    "winic_soap.exceptions",
    "winic_soap.models",
    "winic_soap.numbering",
    "winic_soap.recipients",
    "winic_soap.redaction",  # (httppkg's) the store masks its URL's password in messages
    "winic_soap.states",
}
MOCK_MAY_IMPORT = {"winic_soap._lazy", "winic_soap.numbering", "winic_soap.resources"}


# -- the graph ---------------------------------------------------------------------------------------------------


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package at ``root`` by dotted name (a package by its own name, not ``.__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([package, *parts])] = path
    return found


def _type_only(tree: ast.Module) -> set[int]:
    """The nodes under ``if TYPE_CHECKING:`` (its body, not its else): they never run."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }


def _lazy_targets(tree: ast.Module, known: Iterable[str]) -> set[str]:
    """Modules a package's lazy table names: the string values of a module-level dict that all name modules."""
    names = set(known)
    targets: set[str] = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Dict) and value.values:
            strings = [v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            if len(strings) == len(value.values) and set(strings) <= names:
                targets |= set(strings)
    return targets


def imports_of(root: Path, package: str) -> dict[str, set[str]]:
    """What each module of the package imports when it runs: modules of the package by dotted name, anything
    else by its top-level name (``lxml``, ``json``)."""
    modules = modules_of(root, package)
    result: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_only(tree)
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        found: set[str] = set()
        if is_package:
            found |= _lazy_targets(tree, modules)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, one level up per extra dot
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in {"importlib.import_module", "import_module"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                targets = [node.args[0].value]
            for target in targets:
                found.add(target if _within(target, package) else target.split(".")[0])
        result[name] = found - {name}
    return result


def internal(imports: Mapping[str, set[str]], package: str) -> dict[str, set[str]]:
    """The import graph restricted to the package's own modules."""
    return {m: {t for t in ts if t == package or t.startswith(package + ".")} for m, ts in imports.items()}


def cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle of ``graph``, as ``a -> b -> ... -> a`` in import order, or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))  # graphlib lists predecessors first: an import comes before its importer
    return None


def without(graph: Mapping[str, set[str]], edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    cut = set(edges)
    return {m: {t for t in ts if (m, t) not in cut} for m, ts in graph.items()}


# -- the rules: each returns its violations as (importer, imported) ---------------------------------------------


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def escapes(graph: Mapping[str, set[str]], layer: str, allowed: set[str]) -> set[tuple[str, str]]:
    """The arrows by which ``layer`` (a subpackage) reaches a module of the package that is neither in it nor in
    ``allowed``: directly, or through an allowed module (an allowed leaf that imports a client is no leaf)."""
    inside = {m for m in graph if _within(m, layer) or m in allowed}
    todo = [m for m in graph if _within(m, layer)]
    seen = set(todo)
    while todo:
        for target in graph[todo.pop()] & inside - seen:
            seen.add(target)
            todo.append(target)
    return {(m, t) for m in seen for t in graph[m] if t not in inside}


def foreign(imports: Mapping[str, set[str]], layer: str, package: str, allowed: set[str]) -> set[tuple[str, str]]:
    """Imports of ``layer``'s modules from outside the package that are neither the stdlib nor ``allowed``."""
    return {
        (m, t)
        for m, ts in imports.items()
        if _within(m, layer)
        for t in ts
        if not _within(t, package) and t not in sys.stdlib_module_names and t not in allowed
    }


def cli_violations(graph: Mapping[str, set[str]], package: str) -> set[tuple[str, str]]:
    """Imports of ``package.cli`` from outside it but ``package.__main__``."""
    cli = f"{package}.cli"
    return {
        (m, t)
        for m, ts in graph.items()
        if not _within(m, cli) and m != f"{package}.__main__"
        for t in ts
        if _within(t, cli)
    }


def entry_point_violations(graph: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of a ``__main__`` module: an entry point runs a program, it is no library to import."""
    return {(m, t) for m, ts in graph.items() for t in ts if t.rpartition(".")[2] == "__main__"}


def core_of_the_mock_violations(graph: Mapping[str, set[str]], package: str) -> set[tuple[str, str]]:
    """Imports by the mock's core (``mock.state``) of any other module of the mock: its shells."""
    return {(f"{package}.mock.state", t) for t in graph[f"{package}.mock.state"] if _within(t, f"{package}.mock")}


def stray_exceptions(package: str) -> list[str]:
    """Public classes deriving from Exception defined in ``package`` (imported) outside its ``exceptions``
    module. The mock is left out: a server of its own, whose ``BadRequest`` and ``Fault`` are its protocol's
    signals, never raised to a caller. A ``KeyboardInterrupt`` subclass (the CLI's ``Terminated``) is an
    interrupt, not an error."""
    strays = []
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if (
            info.name.endswith("__main__")
            or _within(info.name, f"{package}.mock")
            or info.name == f"{package}.exceptions"
        ):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            defined_here = inspect.isclass(obj) and obj.__module__ == info.name
            if defined_here and issubclass(obj, Exception) and not name.startswith("_"):
                strays.append(f"{info.name}.{name}")
    return strays


# -- the package ------------------------------------------------------------------------------------------------

IMPORTS = imports_of(ROOT, PACKAGE)
GRAPH = internal(IMPORTS, PACKAGE)


def test_the_graph_sees_the_package() -> None:
    assert {"winic_soap", "winic_soap.client", "winic_soap.core.answer", "winic_soap.mock.state"} <= set(GRAPH)
    assert "winic_soap.exceptions" in GRAPH["winic_soap.client"]
    assert "winic_soap.client" in GRAPH["winic_soap"]  # the root's lazy table
    assert "lxml" in IMPORTS["winic_soap.core.xmlsafe"] and "psycopg" in IMPORTS["winic_soap.store.postgres"]


def test_the_package_has_no_import_cycle() -> None:
    found = cycle(GRAPH)
    assert found is None, " -> ".join(found or ())


def test_no_import_cycle_but_the_known_ones() -> None:
    found = cycle(without(GRAPH, KNOWN_CYCLE_EDGES))
    assert found is None, " -> ".join(found or ())
    for importer, imported in KNOWN_CYCLE_EDGES:
        assert imported in GRAPH[importer], f"{importer} -> {imported} is gone: drop it from KNOWN_CYCLE_EDGES"


def test_the_http_packages_wires_sit_on_top_of_it() -> None:
    """The wires and the webhook client use the package's parts; no part imports them (they are its top)."""
    tops = {"winic_soap.http.wires", "winic_soap.http.webhook"}
    parts = {m for m in GRAPH if _within(m, "winic_soap.http")} - tops
    assert len(parts) >= 8
    assert {(m, t) for m in parts for t in GRAPH[m] if t in tops} == set()


def test_core_imports_only_the_stdlib_lxml_itself_and_the_leaves() -> None:
    assert escapes(GRAPH, "winic_soap.core", CORE_MAY_IMPORT) == set()
    assert foreign(IMPORTS, "winic_soap.core", PACKAGE, {"lxml"}) == set()


def test_the_store_imports_no_client() -> None:
    assert escapes(GRAPH, "winic_soap.store", STORE_MAY_IMPORT) == set()


def test_the_journal_builds_on_the_stores_methods_not_on_base() -> None:
    assert "winic_soap.store.base" not in GRAPH["winic_soap.store.journal"]


def test_nothing_imports_the_cli_but_main() -> None:
    assert cli_violations(GRAPH, PACKAGE) == set()


def test_nothing_imports_an_entry_point() -> None:
    assert entry_point_violations(GRAPH) == set()


def test_the_mock_imports_nothing_of_the_client() -> None:
    assert escapes(GRAPH, "winic_soap.mock", MOCK_MAY_IMPORT) == set()


def test_the_mocks_state_imports_none_of_its_shells() -> None:
    assert core_of_the_mock_violations(GRAPH, PACKAGE) == set()


def test_every_exception_is_in_exceptions() -> None:
    assert stray_exceptions(PACKAGE) == []


# -- the checker, on planted violations --------------------------------------------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    """A package ``pkg`` under ``root`` made of ``files`` (path relative to the package: source)."""
    package = root / "pkg"
    for relative, source in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != package and not (path.parent / "__init__.py").exists():
            (path.parent / "__init__.py").write_text("")
        path.write_text(source)
    return package


def test_the_checker_sees_imports_inside_functions_but_not_type_checking_ones(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
            "b.py": "from pkg import a\n",
        },
    )
    assert cycle(internal(imports_of(package, "pkg"), "pkg")) is None
    (package / "a.py").write_text("def f():\n    from pkg.b import B\n")  # how store/base.py and journal.py met
    assert sorted(set(cycle(internal(imports_of(package, "pkg"), "pkg")) or ())) == ["pkg.a", "pkg.b"]


def test_the_checker_sees_a_cycle_through_a_lazy_table_and_a_relative_import(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "__init__.py": '_EXPORTS = {"Client": "pkg.client"}\n',
            "client.py": "from .sub import http\n",
            "sub/http.py": "import importlib\nimportlib.import_module('pkg.version')\n",
            "version.py": "",
        },
    )
    graph = internal(imports_of(package, "pkg"), "pkg")
    assert graph["pkg"] == {"pkg.client"} and graph["pkg.client"] == {"pkg.sub.http"}
    assert cycle(graph) is None
    (package / "version.py").write_text("from pkg import __version__\n")  # as http.py read it from the root
    found = cycle(internal(imports_of(package, "pkg"), "pkg")) or []
    assert found[0] == found[-1] and sorted(found[1:]) == ["pkg", "pkg.client", "pkg.sub.http", "pkg.version"]
    at = found.index("pkg")  # printed in import order: each module imports the next
    assert (found[at:-1] + found[:at])[:4] == ["pkg", "pkg.client", "pkg.sub.http", "pkg.version"]


def _graphs(package: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    imports = imports_of(package, "pkg")
    return imports, internal(imports, "pkg")


Rule = Callable[[dict[str, set[str]], dict[str, set[str]]], set[tuple[str, str]]]

_CORE = {
    "exceptions.py": "",
    "models.py": "",
    "core/answer.py": "import re\nfrom lxml import etree\nfrom pkg.core import form\nfrom pkg import exceptions\n",
    "core/form.py": "",
}
_STORE = {
    "models.py": "",
    "client.py": "",
    "store/jobs.py": "from pkg.models import X\nfrom pkg.store import ids\n",
    "store/ids.py": "",
}
_CLI = {
    "__main__.py": "from pkg.cli import main\n",
    "cli/__init__.py": "def main(): ...\n",
    "mock/__main__.py": "from pkg.mock import cli\n",
    "mock/cli.py": "",
    "watcher.py": "",
}
_MOCK = {
    "numbering.py": "",
    "client.py": "",
    "mock/state.py": "from pkg.numbering import calling_code\n",
    "mock/routing.py": "from pkg.mock.state import MockState\n",
}


def _core(imports: dict[str, set[str]], graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return escapes(graph, "pkg.core", {"pkg.exceptions"}) | foreign(imports, "pkg.core", "pkg", {"lxml"})


# (rule, a tree that keeps it, what is planted in that tree, the violations the rule must then name)
PLANTED: list[tuple[Rule, dict[str, str], dict[str, str], set[tuple[str, str]]]] = [
    (
        _core,
        _CORE,
        {"core/form.py": "from pkg import models\nimport httpx2\n"},
        {("pkg.core.form", "pkg.models"), ("pkg.core.form", "httpx2")},
    ),
    (_core, _CORE, {"exceptions.py": "def f():\n    from pkg import models\n"}, {("pkg.exceptions", "pkg.models")}),
    (
        lambda i, g: escapes(g, "pkg.store", {"pkg.models"}),
        _STORE,
        {"store/ids.py": "def f():\n    from pkg.client import Client\n"},
        {("pkg.store.ids", "pkg.client")},
    ),
    (
        lambda i, g: cli_violations(g, "pkg"),
        _CLI,
        {"watcher.py": "from pkg.cli import main\n"},
        {("pkg.watcher", "pkg.cli")},
    ),
    (
        lambda i, g: entry_point_violations(g),
        _CLI,
        {"cli/__init__.py": "from pkg.mock.__main__ import main\n"},  # as cli/parser.py imports the mock's
        {("pkg.cli", "pkg.mock.__main__")},
    ),
    (
        lambda i, g: escapes(g, "pkg.mock", {"pkg.numbering"}),
        _MOCK,
        {"mock/routing.py": "from pkg.mock.state import MockState\nfrom pkg import client\n"},
        {("pkg.mock.routing", "pkg.client")},
    ),
    (
        lambda i, g: core_of_the_mock_violations(g, "pkg"),
        _MOCK,
        {"mock/state.py": "def transport():\n    from pkg.mock import routing\n"},  # as httpx_transport() did
        {("pkg.mock.state", "pkg.mock.routing")},
    ),
]


@pytest.mark.parametrize(
    ("rule", "files", "planted", "expected"),
    PLANTED,
    ids=["core-above", "core-via-leaf", "store-client", "cli", "entry-point", "mock-client", "mock-state-shell"],
)
def test_each_rule_fails_on_a_planted_violation(
    tmp_path: Path, rule: Rule, files: dict[str, str], planted: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    assert rule(*_graphs(_tree(tmp_path / "ok", files))) == set()
    assert rule(*_graphs(_tree(tmp_path / "bad", files | planted))) == expected


def test_the_exception_rule_fails_on_a_planted_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "exceptions.py": "class PkgError(Exception):\n    pass\n",
        "watcher.py": "from pkg.exceptions import PkgError\nclass _Private(Exception):\n    pass\n",
        "cli.py": "class Terminated(KeyboardInterrupt):\n    pass\n",
        "mock/protocol.py": "class Fault(Exception):\n    pass\n",
    }
    _tree(tmp_path / "ok", files)
    monkeypatch.syspath_prepend(str(tmp_path / "ok"))
    assert stray_exceptions("pkg") == []
    for name in [m for m in sys.modules if _within(m, "pkg")]:
        monkeypatch.delitem(sys.modules, name)
    _tree(tmp_path / "bad", files | {"webhooks.py": "class VerificationError(ValueError):\n    pass\n"})
    monkeypatch.syspath_prepend(str(tmp_path / "bad"))
    assert stray_exceptions("pkg") == ["pkg.webhooks.VerificationError"]
