"""States as ``Literal`` types (``winic_soap.states``): the store's schema checks the very sets the types
name, on both backends, and mypy refuses a typo'd state where the store takes or gives one."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path
from typing import get_type_hints

import mypy.api
import psycopg

from winic_soap.states import (
    BATCH_SOURCES,
    BATCH_STATES,
    RECORD_KINDS,
    RECORD_STATES,
    SUPPRESSION_SOURCES,
    BatchSource,
    BatchState,
    RecordKind,
    RecordState,
)
from winic_soap.store import Batch, InboxRecord, Store, open_store

# every CHECK of the schema that lists strings, and the type whose values it lists
CHECKED = {
    "winic_inbox_state": RECORD_STATES,
    "winic_inbox_kind": RECORD_KINDS,
    "winic_batches_state": BATCH_STATES,
    "winic_batches_source": BATCH_SOURCES,
    "winic_webhook_deliveries_state": RECORD_STATES,
    "winic_suppression_source": SUPPRESSION_SOURCES,
}


def _string_checks(definitions: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Constraint name -> the quoted strings its CHECK lists, for those that list any."""
    found = {name: set(re.findall(r"'([^']*)'", text)) for name, text in definitions}
    return {name: values for name, values in found.items() if values}


def _checks(url: str) -> dict[str, set[str]]:
    """The string CHECKs of the schema a store at ``url`` was migrated to, read back from the database."""
    open_store(url).close()
    if url.startswith("sqlite:///"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            tables = [sql for (sql,) in lite.execute("SELECT sql FROM sqlite_master WHERE type = 'table'") if sql]
        finally:
            lite.close()
        found = re.findall(r"CONSTRAINT (\w+) CHECK (\((?:[^()]|\([^()]*\))*\))", "\n".join(tables))
        return _string_checks(found)
    with psycopg.connect(url) as db:  # conrelid 0: a domain's (information_schema's), not a table's
        rows = db.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0"
        )
        return _string_checks([(str(name), str(text)) for name, text in rows])


def test_the_schema_checks_the_states_the_types_name(store_url: str) -> None:
    assert _checks(store_url) == {name: set(values) for name, values in CHECKED.items()}


def test_the_store_speaks_in_the_types() -> None:
    assert get_type_hints(Batch)["state"] == BatchState and get_type_hints(Batch)["source"] == BatchSource | None
    assert get_type_hints(InboxRecord)["state"] == RecordState and get_type_hints(InboxRecord)["kind"] == RecordKind
    assert get_type_hints(Store.records)["state"] == RecordState | None
    assert get_type_hints(Store.records)["kind"] == RecordKind | None


def test_mypy_refuses_a_typod_state(tmp_path: Path) -> None:
    """Each line marked ``# typo`` is an error, and only those: the right states pass."""
    source = textwrap.dedent(
        """\
        from winic_soap.categories import Categories
        from winic_soap.store import Batch, Store


        def uses(store: Store) -> None:
            store.records("done", kind="reply")
            store.records("don")  # typo
            store.records(kind="replies")  # typo
            store.batches("job", ["sending", "unknown"])
            store.batches("job", ["sent"])  # typo
            store.mark_accepted("job", 0, "1125120000000001", source="reports")
            store.mark_accepted("job", 0, "1125120000000001", source="report")  # typo
            store.suppression.add(["13800138000"], source="import")
            store.suppression.add(["13800138000"], source="imported")  # typo
            Batch("job", 0, (), "accepted")
            Batch("job", 0, (), "sent")  # typo
            if store.fail("id", "boom") == "ded":  # typo
                pass
            if Categories().of_status("UNDELIV") == "unreachable":
                pass
            if Categories().of_status("UNDELIV") == "undeliverable":  # typo
                pass
        """
    )
    (tmp_path / "uses.py").write_text(source)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")  # not the project's: this run checks uses.py alone
    out, err, _ = mypy.api.run(
        [
            *("--config-file", str(tmp_path / "mypy.ini"), "--cache-dir", str(tmp_path / "cache")),
            *(
                "--strict",
                "--follow-imports=silent",
                "--show-absolute-path",
                "--no-error-summary",
                str(tmp_path / "uses.py"),
            ),
        ]
    )
    flagged = {int(line.split(":")[1]) for line in out.splitlines() if line.startswith(str(tmp_path / "uses.py"))}
    typos = {n for n, line in enumerate(source.splitlines(), 1) if line.endswith("# typo")}
    assert flagged == typos, out + err
