"""The versioned schema: a store written by the release before numbered migrations (tests/data/store_v1,
built with that release's code) migrates on open to one equal to a fresh store, its records and jobs intact;
concurrent openers migrate it once; a store newer than the code is refused; ``store migrate`` on the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers.pgserver import PgServer
from helpers.shared import cli_env, run_cli

from winic_soap import StoreError
from winic_soap.store import open_store, parse_store_url
from winic_soap.store.schema import LATEST, migrations

DATA = Path(__file__).resolve().parents[1] / "data" / "store_v1"
_NAMES = iter(range(1, 1 << 30))


def _old_store(backend: str, tmp_path: Path, pg_server: PgServer | None = None) -> str:
    """A copy of the release-1 store of ``backend``; returns its URL."""
    if backend == "sqlite":
        path = tmp_path / f"old{next(_NAMES)}.sqlite3"
        path.write_bytes((DATA / "store_v1.sqlite3").read_bytes())
        return f"sqlite:///{path}"
    assert pg_server is not None
    url = pg_server.create_database(f"old{next(_NAMES)}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((DATA / "store_v1.postgresql.sql").read_text(encoding="utf-8").encode())
    return url


def _empty_store(backend: str, tmp_path: Path, pg_server: PgServer | None = None) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'fresh{next(_NAMES)}.sqlite3'}"
    assert pg_server is not None
    return pg_server.create_database(f"fresh{next(_NAMES)}")


Backend = tuple[str, PgServer | None]  # the backend's name and, for PostgreSQL, the test run's server


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    server: PgServer | None = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    yield request.param, server


def _sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read or write the database behind the store's back (what an operator's SQL client does)."""
    kind, target = parse_store_url(url)
    if kind == "sqlite":
        db = sqlite3.connect(target)
        try:
            with db:
                return db.execute(statement, params).fetchall()
        finally:
            db.close()
    with psycopg.connect(target, autocommit=True) as conn:
        cur = conn.execute(statement.replace("?", "%s"), params)
        return list(cur.fetchall()) if cur.description else []


def catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Tables, columns (types, nullability, defaults), indexes and constraints, as the database describes them."""
    kind, _ = parse_store_url(url)
    if kind == "sqlite":
        rows = _sql(url, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        # SQLite keeps each CREATE as it was typed: compare it with its layout (whitespace) folded
        return {"objects": [(*row[:3], row[3] and " ".join(row[3].split())) for row in rows]}
    return {
        "columns": _sql(
            url,
            "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, is_identity "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
        ),
        "indexes": _sql(
            url, "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 2"
        ),
        "constraints": _sql(
            url,
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
        ),
    }


def _contents(url: str) -> dict[str, Any]:
    """What the store holds, read through the public API, as tests/data/store_v1/build.py wrote it down."""
    with open_store(url) as store:
        jobs = store.jobs()
        return {
            "records": [
                r.as_dict() | {"state": r.state, "attempts": r.attempts, "last_error": r.last_error}
                for r in store.records(None)
            ],
            "jobs": [{k: v for k, v in j.as_dict().items() if k != "purged_at"} for j in jobs],
            "batches": {j.id: [b.as_dict() for b in store.batches(j.id)] for j in jobs},
            "counts": store.counts(),
        }


def test_an_old_store_migrates_on_open_to_a_fresh_stores_schema_with_its_contents_intact(
    backend: Backend, tmp_path: Path
) -> None:
    kind, server = backend
    old, fresh = _old_store(kind, tmp_path, server), _empty_store(kind, tmp_path, server)
    before = catalog(old)
    with open_store(fresh) as store:
        assert store.schema_version() == LATEST
    with open_store(old) as store:
        assert store.schema_version() == LATEST
        assert store.migrate() == []  # nothing left
    assert catalog(old) == catalog(fresh) != before
    expected = json.loads((DATA / f"expected_{kind}.json").read_text())
    got = json.loads(json.dumps(_contents(old), default=str))
    # migration 4 settles the reports the old release stored (each its only report: settled as itself)
    settled = [(r["status"], r.pop("settled")) for r in got["records"] if r["kind"] == "report"]
    assert settled == [("DELIVRD", "DELIVRD")] * 3
    assert got == {k: v for k, v in expected.items() if k != "ids"}
    assert [r["id"] for r in got["records"]] == expected["ids"]
    with open_store(old) as store:  # the poller lease the old release held is still there
        lease = store.poller("https://svc/", "u1")
        assert lease is not None and lease.owner == "host/1/-/abc"
    rows = _sql(old, "SELECT version, name FROM winic_schema ORDER BY version")
    assert rows == [(m.version, m.name) for m in migrations(kind)]


def test_migration_1_is_exactly_the_schema_the_old_release_created(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    old, empty = _old_store(kind, tmp_path, server), _empty_store(kind, tmp_path, server)
    if kind == "sqlite":
        sqlite3.connect(parse_store_url(empty)[1]).close()
    for statement in migrations(kind)[0].statements:
        _sql(empty, statement)
    assert catalog(empty) == catalog(old)


def test_dry_run_lists_what_would_run_and_changes_nothing(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    old = _old_store(kind, tmp_path, server)
    before = catalog(old)
    with open_store(old, migrate=False) as store:
        assert store.schema_version() == 1
        pending = store.migrate(dry_run=True)
        assert [m.version for m in pending] == list(range(2, LATEST + 1))
        assert store.schema_version() == 1
    assert catalog(old) == before


def test_a_store_newer_than_the_code_is_refused(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    url = _empty_store(kind, tmp_path, server)
    open_store(url).close()
    _sql(url, "INSERT INTO winic_schema (version, name, applied_at) VALUES (?, 'from_the_future', 'x')", (LATEST + 1,))
    for migrate in (True, False):
        with pytest.raises(StoreError, match=f"schema version {LATEST + 1}, newer than .* knows \\({LATEST}\\)"):
            open_store(url, migrate=migrate)


def test_a_failing_migration_leaves_the_old_store_as_it_was(backend: Backend, tmp_path: Path) -> None:
    """A state the CHECK of migration 2 refuses (written by hand into an old store): opening is a StoreError
    naming the constraint, and the whole migration is rolled back: still version 1, same tables, same rows."""
    kind, server = backend
    old = _old_store(kind, tmp_path, server)
    _sql(old, "UPDATE winic_batches SET state = 'paused' WHERE job_id = 'job-v1-a' AND idx = 4")
    before = catalog(old)
    with pytest.raises(StoreError, match="winic_batches_state"):
        open_store(old)
    assert catalog(old) == before
    assert _sql(old, "SELECT COUNT(*) FROM winic_inbox") == [(7,)]
    with open_store(old, migrate=False) as store:
        assert store.schema_version() == 1


def test_states_outside_the_known_sets_are_refused_by_the_database(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    url = _empty_store(kind, tmp_path, server)
    with open_store(url) as store:
        store.create_job("Send_SMS", "hi", [["13800000001"]], job_id="j1")
    error = sqlite3.IntegrityError if kind == "sqlite" else psycopg.errors.CheckViolation
    with pytest.raises(error, match="winic_batches_state"):
        _sql(url, "UPDATE winic_batches SET state = 'paused'")
    with pytest.raises(error, match="winic_batches_source"):
        _sql(url, "UPDATE winic_batches SET source = 'guess'")
    insert = (
        "INSERT INTO winic_inbox (id, kind, endpoint, uid, operation, payload, raw, pulled_at, pulled_epoch, state) "
        "VALUES ('x', ?, '', '', 'GET_SMS_MO', '{}', '', '', 0, ?)"
    )
    with pytest.raises(error, match="winic_inbox_state"):
        _sql(url, insert, ("reply", "handed"))
    with pytest.raises(error, match="winic_inbox_kind"):
        _sql(url, insert, ("mail", "pending"))


_OPENER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from winic_soap.store import open_store
sys.stdin.readline()  # the starting gun: both children open at the same moment
with open_store(sys.argv[1]) as store:
    print(store.schema_version(), len(store.records(None)))
"""


def test_two_processes_opening_an_old_store_at_once_migrate_it_once(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    old = _old_store(kind, tmp_path, server)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, old],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    assert [out for out, _ in results] == [f"{LATEST} 7\n"] * 2
    assert sum(err.count("migrated to schema version") for _, err in results) == 1
    assert _sql(old, "SELECT version FROM winic_schema ORDER BY version") == [(v,) for v in range(1, LATEST + 1)]


def test_cli_store_migrate_dry_run_then_migrate(backend: Backend, tmp_path: Path) -> None:
    kind, server = backend
    old = _old_store(kind, tmp_path, server)
    env = {**cli_env("http://127.0.0.1:9/", tmp_path), "WINIC_STORE": old}
    before = catalog(old)
    dry = run_cli(env, "store", "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    names = [str(m) for m in migrations(kind)[1:]]
    assert dry.stdout.splitlines() == [
        f"schema version 1; would apply {LATEST - 1} migration(s):",
        *(f"  {n}" for n in names),
    ]
    assert catalog(old) == before
    done = run_cli(env, "store", "migrate", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": 1, "to": LATEST, "applied": names, "dry_run": False}
    again = run_cli(env, "store", "migrate")
    assert again.returncode == 0 and again.stdout.strip() == f"schema version {LATEST}: up to date"
    _sql(old, "INSERT INTO winic_schema (version, name, applied_at) VALUES (?, 'from_the_future', 'x')", (LATEST + 1,))
    newer = run_cli(env, "store", "migrate", "--dry-run")
    assert newer.returncode == 10 and "upgrade winic-soap" in newer.stderr
