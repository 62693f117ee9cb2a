"""Retention: ``Store.purge``, ``winic-soap store purge`` and the watcher's ``retention`` delete handed-on
records and blank finished jobs' texts once they are older than the age; a dry run counts and changes
nothing; pending and dead records and unfinished jobs are never touched; ids, states and counts stay."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import InputError
from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import Store, open_store
from winic_soap.store.ids import utc_iso
from winic_soap.watcher import Watcher

DAY = 86400.0
T0 = 1_790_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _replies(n: int, tag: str) -> list[Reply]:
    return [Reply(f"1380013800{i}", f"{tag} code {i}", "1", datetime(2026, 9, 21), raw=f"{tag}-{i}") for i in range(n)]


def _fill(store: Store, clock: Clock) -> dict[str, Any]:
    """Now: two records handed on, one pending, one dead; a finished job, a job with an unknown batch, one
    never sent; 29.5 days later: one more record handed on and one more job finished (both young); then the
    clock goes to 31 days after the start."""
    start = clock.now
    old_done = store.commit_pulled("GET_SMS_MO", _replies(2, "old"))
    pending = store.commit_pulled("GET_SMS_MO", _replies(1, "pending"))
    dead = store.commit_pulled("GET_SMS_MO", _replies(1, "dead"))
    for record_id in old_done:
        assert store.ack(record_id)
    for _ in range(store.max_handoffs):
        store.claim("someone", limit=10)
        store.fail(dead[0], "handler exit 1")
    store.create_job("Send_SMS", "finished 111111", [["13800000001"], ["13800000002"]], job_id="finished")
    store.begin_batch("finished", 0, ["13800000001"], "finished 111111", "Send_SMS")
    store.mark_accepted("finished", 0, "1000000000000001")
    store.begin_batch("finished", 1, ["13800000002"], "finished 111111", "Send_SMS")
    store.mark_failed("finished", 1, "-02", "refused")
    store.create_job("Send_SMS", "unknown 222222", [["13800000003"]], job_id="unknown")
    store.begin_batch("unknown", 0, ["13800000003"], "unknown 222222", "Send_SMS")
    store.mark_unknown("unknown", 0, "read timeout")
    store.create_job("Send_SMS", "never sent 333333", [["13800000004"]], job_id="never-sent")
    clock.now = start + 29.5 * DAY
    young_done = store.commit_pulled("GET_SMS_MO", _replies(1, "young"))
    assert store.ack(young_done[0])
    store.create_job("Send_SMS", "young 444444", [["13800000005"]], job_id="young")
    store.begin_batch("young", 0, ["13800000005"], "young 444444", "Send_SMS")
    store.mark_accepted("young", 0, "1000000000000005")
    clock.now = start + 31 * DAY
    return {"old_done": old_done, "kept": [*pending, *dead, *young_done]}


def _snapshot(store: Store) -> dict[str, Any]:
    jobs = store.jobs()
    return {
        "records": {r.id: (r.state, r.attempts, r.data) for r in store.records(None)},
        "jobs": {j.id: j.as_dict() for j in jobs},
        "batches": {j.id: [b.as_dict() for b in store.batches(j.id)] for j in jobs},
    }


def test_purge_deletes_handed_on_records_and_blanks_finished_jobs_and_nothing_else(store_url: str) -> None:
    clock = Clock(T0)
    with open_store(store_url, clock=clock, max_handoffs=2) as store:
        ids = _fill(store, clock)
        before = _snapshot(store)
        assert store.purge("30d", dry_run=True) == {"records": 2, "jobs": 1}
        assert _snapshot(store) == before  # the dry run changed nothing

        assert store.purge(30 * DAY, chunk=1) == {"records": 2, "jobs": 1}  # one record per transaction
        after = _snapshot(store)
        assert sorted(after["records"]) == sorted(ids["kept"])
        assert all(store.get(i) is None for i in ids["old_done"])
        for record_id in ids["kept"]:  # pending, dead and young done records untouched
            assert after["records"][record_id] == before["records"][record_id]
        assert store.counts() == {"pending": 1, "done": 1, "dead": 1, "records": 3, "batches": 5}

        finished = after["jobs"]["finished"]
        assert finished["text"] == "" and finished["purged_at"] == utc_iso(T0 + 31 * DAY)
        assert {k: v for k, v in finished.items() if k not in ("text", "purged_at")} == {
            k: v for k, v in before["jobs"]["finished"].items() if k not in ("text", "purged_at")
        }  # id, operation, options, counts per state stay
        assert after["batches"] == before["batches"]  # states, message ids, codes, numbers
        assert store.delivery("finished")["accepted"] == 1
        for job in ("unknown", "never-sent", "young"):
            assert after["jobs"][job] == before["jobs"][job]

        assert store.purge("30d") == {"records": 0, "jobs": 0}  # nothing twice
        clock.now = T0 + 60 * DAY  # the young ones come of age; the unfinished jobs still never go
        assert store.purge("30d") == {"records": 1, "jobs": 1}
        assert (summary := store.job("unknown")) is not None and summary.text == "unknown 222222"
        assert (summary := store.job("never-sent")) is not None and summary.text == "never sent 333333"
        assert store.counts() == {"pending": 1, "done": 0, "dead": 1, "records": 2, "batches": 5}


@pytest.mark.parametrize("age", ["", "30", "30x", "-1d", "0d", "d", "off"])
def test_a_bad_age_is_an_input_error_naming_the_field(tmp_path: Path, age: str) -> None:
    with open_store(tmp_path / "s.sqlite3") as store, pytest.raises(InputError) as caught:
        store.purge(age)
    assert caught.value.field == "older_than"


def test_cli_store_purge_dry_run_then_purge(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    clock = Clock(time.time() - 31 * DAY - 9 * DAY)  # written 40 days ago; the CLI purges by today's clock
    with open_store(url, clock=clock, max_handoffs=2) as store:
        _fill(store, clock)
        before = _snapshot(store)
    env = {**cli_env("http://127.0.0.1:9/", tmp_path), "WINIC_STORE": url}
    dry = run_cli(env, "store", "purge", "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "would delete 2 handed-on record(s); would blank the text of 1 finished job(s)"
    with open_store(url) as store:
        assert _snapshot(store) == before
    done = run_cli(env, "store", "purge", "--older-than", "30d", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"records": 2, "jobs": 1, "older_than": "30d", "dry_run": False}
    shown = run_cli(env, "jobs", "show", "finished")
    assert shown.returncode == 0 and "(purged 20" in shown.stdout and "111111" not in shown.stdout
    bad = run_cli(env, "store", "purge", "--older-than", "soon")
    assert bad.returncode == 3 and "older_than" in bad.stderr


def test_the_watcher_applies_its_retention(make_client: MakeClient, tmp_path: Path) -> None:
    clock = Clock(T0)
    with open_store(tmp_path / "s.sqlite3", clock=clock, max_handoffs=2) as store:
        ids = _fill(store, clock)
        client = make_client()
        keep_all = Watcher(client, store, lambda record: None, sources=["reports"])
        keep_all.run(threading.Event(), once=True)
        assert all(store.get(i) is not None for i in ids["old_done"])  # no retention: nothing deleted
        watcher = Watcher(client, store, lambda record: None, sources=["reports"], retention="30d")
        watcher.run(threading.Event(), once=True)
        assert all(store.get(i) is None for i in ids["old_done"])
        assert (summary := store.job("finished")) is not None and summary.purged_at is not None
        assert store.counts()["dead"] == 1
        # the pending record was handed on by this round: younger than 30 days, it stays
        assert store.counts()["done"] == 2
        with pytest.raises(InputError) as caught:
            Watcher(client, store, lambda record: None, retention="a month")
        assert caught.value.field == "retention"


def test_cli_watch_refuses_a_bad_retention_before_the_network(winic_mock: MockService, tmp_path: Path) -> None:
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": f"sqlite:///{tmp_path / 's.sqlite3'}"}
    result = run_cli(env, "watch", "--once", "--interval", "5", "--retention", "a month")
    assert result.returncode == 3 and "retention" in result.stderr
    assert winic_mock.ledger == []
    env["WINIC_RETENTION"] = "forever"
    assert run_cli(env, "watch", "--once", "--interval", "5").returncode == 3
    assert winic_mock.ledger == []


def test_a_failed_purge_is_logged_and_tried_again_next_round(
    make_client: MakeClient, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The store refuses the purge (its jobs table renamed away behind its back): the watcher logs it, goes on
    polling, and purges at the next round once the store is whole again."""
    from store.test_store_migrations import _sql

    clock = Clock(T0)
    with open_store(store_url, clock=clock, max_handoffs=2) as store:
        ids = _fill(store, clock)
        watcher = Watcher(make_client(), store, lambda record: None, sources=["reports"], retention="30d")
        _sql(store_url, "ALTER TABLE winic_jobs RENAME TO winic_jobs_away")
        watcher.run(threading.Event(), once=True)
        assert "retention: purge failed" in caplog.text
        assert all(store.get(i) is not None for i in ids["old_done"])
        _sql(store_url, "ALTER TABLE winic_jobs_away RENAME TO winic_jobs")
        assert watcher.apply_retention() == {"records": 2, "jobs": 1}
        assert watcher.apply_retention() is None  # done for this hour
