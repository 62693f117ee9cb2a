"""The public namespace is what we mean it to be (every module's ``__all__``: tests/unit/test_public_api.py)."""

from __future__ import annotations

import winic_soap
from winic_soap import exceptions


def test_all_is_sorted_and_importable() -> None:
    names = winic_soap.__all__
    assert sorted(names, key=str.lower) == sorted(set(names), key=str.lower)
    for name in names:
        assert hasattr(winic_soap, name), name


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
            where = path.relative_to(root)
            owner = "http/" if where.parts[0] == "http" else str(where)  # the http package counts as one place
            for name in names:
                if name.split(".")[0] in importers:
                    importers[name.split(".")[0]].add(owner)
    assert importers == {
        "zeep": {"wsdl.py"},
        # no module of the client opens sockets or parses HTTP (httpx2 does); the store's watchdog only cuts
        # (shuts down) psycopg's socket under a call that outlived store_timeout, and the http package an
        # attempt's (a webhook POST's when the dispatcher stops)
        "socket": {"http/", "store/postgres.py"},
        "select": set(),
        "http": set(),
        "urllib3": set(),
        "requests": set(),
        "httpx": set(),
        "httpx2": {"http/"},
        "httpcore2": {"http/"},
        "anyio": {"http/"},
        "h11": set(),
        "tenacity": {"retry.py"},
        "psycopg": {"store/postgres.py"},  # the winic-soap[postgres] extra: nothing else may need it
        "sqlite3": {"store/sqlite.py"},
        "opentelemetry": {"otel.py"},  # the winic-soap[otel] extra, imported only by those who import otel.py
        "phonenumbers": {"numbering.py"},  # phonenumberslite, loaded only when a number needs the numbering plan
        "prometheus_client": {"metrics.py"},  # the winic-soap[metrics] extra, imported only when asked for
        "pygal": {"report.py"},  # the winic-soap[report] extra, imported only when a report is written
    }


# the import rules (no cycle, the layers, the mock's) are in tests/unit/test_layers.py


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
