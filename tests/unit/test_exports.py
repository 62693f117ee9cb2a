"""The public namespace is what we mean it to be, and every public module declares ``__all__``."""

from __future__ import annotations

import ast
import graphlib
import importlib
import pkgutil
from pathlib import Path

import winic_soap
from winic_soap import exceptions


def test_all_is_sorted_and_importable() -> None:
    names = winic_soap.__all__
    assert sorted(names, key=str.lower) == sorted(set(names), key=str.lower)
    for name in names:
        assert hasattr(winic_soap, name), name


def test_every_module_declares_all() -> None:
    for module in pkgutil.walk_packages(winic_soap.__path__, "winic_soap."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        assert isinstance(getattr(loaded, "__all__", None), list), module.name


def test_every_error_is_exported_and_rooted() -> None:
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        if isinstance(obj, type):
            assert issubclass(obj, winic_soap.WinicError)
            assert name in winic_soap.__all__, name
            assert obj.__doc__ and obj.__doc__.strip(), name


def test_no_error_shadows_a_builtin() -> None:
    import builtins

    assert not set(exceptions.__all__) & set(dir(builtins))


def test_engines_are_imported_in_one_place_each() -> None:
    import ast
    from pathlib import Path

    root = Path(winic_soap.__file__).parent
    engines = (
        "zeep",
        "socket",
        "select",
        "http",
        "urllib3",
        "requests",
        "httpx",
        "httpx2",
        "httpcore2",
        "anyio",
        "h11",
        "tenacity",
        "psycopg",
        "sqlite3",
        "opentelemetry",
        "phonenumbers",
        "prometheus_client",
        "pygal",
    )
    importers: dict[str, set[str]] = {name: set() for name in engines}
    for path in root.rglob("*.py"):
        if "mock" in path.relative_to(root).parts:
            continue  # the mock is a server of its own
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in importers:
                    importers[name.split(".")[0]].add(str(path.relative_to(root)))
    assert importers == {
        "zeep": {"wsdl.py"},
        # no module of the client opens sockets or parses HTTP (httpx2 does); the store's watchdog only cuts
        # (shuts down) psycopg's socket under a call that outlived store_timeout, and http.py a webhook POST's
        # when the dispatcher stops
        "socket": {"http.py", "store/postgres.py"},
        "select": set(),
        "http": set(),
        "urllib3": set(),
        "requests": set(),
        "httpx": set(),
        "httpx2": {"http.py"},
        "httpcore2": {"http.py"},
        "anyio": {"http.py"},
        "h11": set(),
        "tenacity": {"retry.py"},
        "psycopg": {"store/postgres.py"},  # the winic-soap[postgres] extra: nothing else may need it
        "sqlite3": {"store/sqlite.py"},
        "opentelemetry": {"otel.py"},  # the winic-soap[otel] extra, imported only by those who import otel.py
        "phonenumbers": {"numbering.py"},  # phonenumberslite, loaded only when a number needs the numbering plan
        "prometheus_client": {"metrics.py"},  # the winic-soap[metrics] extra, imported only when asked for
        "pygal": {"report.py"},  # the winic-soap[report] extra, imported only when a report is written
    }


def test_mock_imports_nothing_of_the_client() -> None:
    import ast
    from pathlib import Path

    allowed = {"winic_soap.mock", "winic_soap.resources", "winic_soap.numbering", "winic_soap._lazy"}
    for path in (Path(winic_soap.__file__).parent / "mock").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("winic_soap"):
                assert any(node.module == a or node.module.startswith(a + ".") for a in allowed), (path, node.module)


def _import_graph(package: Path, name: str) -> dict[str, set[str]]:
    """Which modules of ``package`` (imported as ``name``) each of its modules imports, by file stem
    (``__init__`` for the package). Counted: imports at module level and inside functions (both run);
    not counted: imports under ``if TYPE_CHECKING:``, which never run (a helper module names the
    :class:`Store` it is handed in its annotations that way)."""
    modules = {path.stem for path in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for module in modules:
        tree = ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))
        type_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == name:  # `from pkg import x`: the submodule x, else a name of pkg/__init__.py
                    targets = [f"{name}.{a.name}" if a.name in modules else name for a in node.names]
                else:
                    targets = [node.module]
            for target in targets:
                if target == name:
                    edges.add("__init__")
                elif target.startswith(name + "."):
                    edges.add(target[len(name) + 1 :].split(".")[0])
        graph[module] = edges - {module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_store_package_has_no_import_cycle() -> None:
    import winic_soap.store

    package = Path(winic_soap.store.__file__).parent
    graph = _import_graph(package, "winic_soap.store")
    assert {"base", "core", "inbox", "journal", "jobs", "outcomes", "pollers", "records"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or ())
    assert "base" not in graph["journal"]  # the journal builds on the store's methods, not on base.py


def test_the_cycle_check_sees_imports_inside_functions_but_not_type_checking_ones(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    (tmp_path / "b.py").write_text("from pkg import a\n")
    assert _cycle(_import_graph(tmp_path, "pkg")) is None
    (tmp_path / "a.py").write_text("def f():\n    from pkg.b import B\n")  # how base.py and journal.py met
    assert sorted(set(_cycle(_import_graph(tmp_path, "pkg")) or ())) == ["a", "b"]


def test_one_store_object_and_no_second_one_repeating_its_names() -> None:
    from winic_soap.store import Journal, Store

    public = {n for n in dir(Store) if not n.startswith("_")}
    assert not public & {n for n in dir(Journal) if not n.startswith("_")}
    assert {"send", "asend", "resume", "aresume"} <= set(dir(Journal))
    assert {
        "claim",
        "ack",
        "fail",
        "retry",
        "records",
        "counts",
        "hold_poller",
        "create_job",
        "resolve_unknown",
    } <= public
