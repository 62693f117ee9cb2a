"""Delivery statistics (``store.stats()``, ``winic-soap stats``) against a store filled through the mock over
real sockets: sends through the journal, reports of several categories pulled by the client, a late report,
missing ones, a refused send; on both backends, with the expected figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import InputError, ServiceError, WinicClient
from winic_soap.categories import DEFAULT_TABLE, Categories
from winic_soap.mock import MockService
from winic_soap.store import open_store

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
A, B, C, D, E, F = (f"1380013800{i}" for i in range(6))


class Clock:
    """The store's clock, moved by the test: sends and pulls happen at chosen times."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def fill(store_url: str, client: WinicClient, winic_mock: MockService) -> Clock:
    """Job 1 on day 1 (six numbers: two delivered, one late; three failures; one left in transit), job 2 on
    day 2 (no report pulled yet), job 3 refused by the service."""
    clock = Clock()
    winic_mock.script_status(B, "ENROUTE")  # delivered late, below
    winic_mock.script_status(C, "UNDELIV")
    winic_mock.script_status(D, "XX:0042")  # a code no table knows
    winic_mock.script_status(E, "BLACK")
    winic_mock.script_status(F, "ENROUTE")  # never a final report
    with open_store(store_url, clock=clock) as store:
        message_id = store.journal.send(client, [A, B, C, D, E, F], "通知", job="job-1").message_id
        assert message_id is not None
        clock.now = T0 + 30
        store.commit_pulled("SMS_Reports", client.reports())
        winic_mock.add_report(message_id, B, "DELIVRD")
        clock.now = T0 + 3600
        store.commit_pulled("SMS_Reports", client.reports())

        clock.now = T0 + DAY
        store.journal.send(client, [A, B], "通知", job="job-2")  # its reports are never pulled
        clock.now = T0 + DAY + 60
        winic_mock.fail("code", code="-01", operation="SendMessages")
        with pytest.raises(ServiceError):
            store.journal.send(client, [C], "通知", job="job-3")
    return clock


def test_statistics_from_sends_and_settled_reports(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    clock = fill(store_url, make_client(), winic_mock)
    with open_store(store_url, clock=clock) as store:
        result = store.stats(by="day")
        total = result.total
        assert (total.sent, total.accepted, total.refused, total.unknown, total.sending) == (9, 8, 1, 0, 0)
        assert total.delivered == 2 and total.waiting == 3  # F in transit, job 2's two
        assert total.failed == {"unreachable": 1, "unknown": 1, "blocked": 1}
        assert total.codes == {"unreachable": {"UNDELIV": 1}, "unknown": {"XX:0042": 1}, "blocked": {"BLACK": 1}}
        assert total.delivery_rate == 2 / 8
        latency = result.latency  # A, C, D, E reported after 30 s, B after an hour
        assert (latency.count, latency.p50, latency.p95, latency.max) == (5, 30.0, 3600.0, 3600.0)
        assert latency.histogram == ((30.0, 4), (3600.0, 1))
        assert list(result.buckets) == ["2026-05-01", "2026-05-02"]
        day1, day2 = result.buckets.values()
        assert (day1.sent, day1.delivered, day1.waiting) == (6, 2, 1)
        assert (day2.sent, day2.accepted, day2.refused, day2.waiting, day2.delivery_rate) == (3, 2, 1, 2, 0.0)
        assert sorted(result.jobs) == ["job-1", "job-2", "job-3"]
        assert result.jobs["job-3"].refused == 1 and result.jobs["job-3"].delivery_rate is None

        one = store.stats(job="job-1")
        assert (one.total.sent, one.total.delivered, one.total.waiting, one.buckets) == (6, 2, 1, {})
        day_two = store.stats(since=T0 + DAY / 2, by="hour")
        assert (day_two.total.sent, day_two.latency.count, list(day_two.buckets)) == (3, 0, ["2026-05-02T09:00Z"])
        assert store.stats(until=T0).total.sent == 0  # until is exclusive

        mine = Categories.of(["xx:0042 = invalid_number", "UNDELIV=unreachable"])
        assert store.stats(categories=mine).total.failed == {"unreachable": 1, "invalid_number": 1, "blocked": 1}
        with pytest.raises(InputError, match="by: must be day or hour"):
            store.stats(by="week")
        with pytest.raises(InputError, match="until: must be after since"):
            store.stats(since=T0, until=T0)


def test_the_cli_prints_the_same_figures_as_json_and_text(
    tmp_path: Path, make_client: MakeClient, winic_mock: MockService
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    fill(url, make_client(), winic_mock)
    env = cli_env(winic_mock.url, tmp_path)
    (tmp_path / "config").mkdir(exist_ok=True)
    env["WINIC_STATUS_CATEGORIES"] = "XX:0042=invalid_number"
    done = run_cli(env, "stats", "--store", url, "--json", "--by", "day", "--since", "2026-05-01")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["sent"], data["delivered"], data["failed_total"], data["waiting"]) == (9, 2, 3, 3)
    assert data["failed"] == {"unreachable": 1, "invalid_number": 1, "blocked": 1}
    assert data["latency"] == {"count": 5, "p50": 30.0, "p95": 3600.0, "max": 3600.0}
    assert data["since"] == "2026-05-01T00:00:00Z" and list(data["buckets"]) == ["2026-05-01", "2026-05-02"]
    assert data["jobs"]["job-2"]["waiting"] == 2

    text = run_cli(env, "stats", "--store", url, "--job", "job-1")
    assert text.returncode == 0, text.stderr
    assert "delivered    2 (33.3% of accepted)" in text.stdout
    assert "invalid_number 1 (XX:0042 1)" in text.stdout and "p95 3600 s" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "since: must be an ISO 8601 date"),
        (["--last", "7 days"], "last"),
        (["--last", "7d", "--since", "2026-05-01"], "last: give --last or --since, not both"),
        (["--since", "2026-05-02", "--until", "2026-05-01"], "until: must be after since"),
    ],
)
def test_bad_ranges_are_typed_errors_naming_the_option(
    tmp_path: Path, winic_mock: MockService, args: list[str], message: str
) -> None:
    done = run_cli(cli_env(winic_mock.url, tmp_path), "stats", "--store", f"sqlite:///{tmp_path / 's.db'}", *args)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


def test_a_bad_category_setting_is_refused_naming_it(tmp_path: Path, winic_mock: MockService) -> None:
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STATUS_CATEGORIES": "MK:0004=lost"}
    done = run_cli(env, "stats", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode != 0 and "status_categories: each entry must be CODE=category" in done.stderr


def test_the_category_table() -> None:
    table = Categories()
    assert table.of_status("delivrd") == "delivered" and table.of_status("MK:9999") == "unknown"
    assert table.of_status(" expired ") == "unreachable" and DEFAULT_TABLE["REJECTD"] == "rejected"
    assert Categories.of({"MK:0004": "Invalid_Number"}).of_status("mk:0004") == "invalid_number"
    with pytest.raises(InputError, match="status_categories: each entry must be CODE=category"):
        Categories.of(["MK:0004"])


def test_the_category_table_extends_from_the_toml_file(
    tmp_path: Path, make_client: MakeClient, winic_mock: MockService
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    fill(url, make_client(), winic_mock)
    config = tmp_path / "winic.toml"
    config.write_text('status_categories = ["XX:0042=rejected", "UNDELIV=invalid_number"]\n', encoding="utf-8")
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_CONFIG": str(config)}
    done = run_cli(env, "stats", "--store", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["failed"] == {"invalid_number": 1, "rejected": 1, "blocked": 1}


def test_a_store_that_is_down_is_a_typed_error_without_its_password(tmp_path: Path, winic_mock: MockService) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://winic:s3cret-db-pass@127.0.0.1:{port}/winic?connect_timeout=2"
    done = run_cli(cli_env(winic_mock.url, tmp_path), "stats", "--store", url, "--last", "7d")
    assert done.returncode != 0 and "store" in done.stderr.lower() and "Traceback" not in done.stderr
    assert "s3cret-db-pass" not in done.stderr + done.stdout
