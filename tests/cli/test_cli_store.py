"""The CLI on the store: a send journalled before it goes out (or refused, exit 10), jobs, inbox, and unknown
sends that their reports resolve. Subprocesses against the mock, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers.shared import cli_env, run_cli

from winic_soap.mock import MockService
from winic_soap.store import open_store

PWD = "demo-secret"


class Cli:
    """``winic-soap`` as a subprocess (see ``shared.cli_env``) with a SQLite store of its own at ``store_url``."""

    def __init__(self, endpoint: str, home: Path) -> None:
        self.store_url = f"sqlite:///{home / 'store.sqlite3'}"
        self._env = {**cli_env(endpoint, home, PWD), "WINIC_STORE": self.store_url}

    def __call__(
        self, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = run_cli({**self._env, **(extra_env or {})}, *args, stdin=stdin)
        assert PWD not in result.stdout + result.stderr
        return result


@pytest.fixture
def cli(winic_mock: MockService, tmp_path: Path) -> Cli:
    return Cli(winic_mock.url, tmp_path)


@pytest.mark.parametrize(
    ("store", "why"),
    [
        ("{tmp}/a-file/inbox.sqlite3", "cannot open the store"),  # its folder is a file: root cannot write there either
        ("postgresql://nobody@127.0.0.1:{port}/winic", "store postgresql://nobody@127.0.0.1"),  # nothing listens
    ],
)
def test_send_with_an_unusable_store_sends_nothing(
    cli: Cli, winic_mock: MockService, tmp_path: Path, store: str, why: str
) -> None:
    import socket

    (tmp_path / "a-file").write_text("not a folder")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = store.format(tmp=tmp_path, port=port)
    result = cli("send", "13800138000", "-m", "验证码 1234", "--store", target)
    assert result.returncode == 10, result.stderr
    assert why in result.stderr and "nothing was sent" in result.stderr
    assert winic_mock.ledger == []
    as_json = cli("send", "13800138000", "-m", "x", "--store", target, "--json")
    assert json.loads(as_json.stdout)["error"] == {
        "type": "StoreError",
        "message": json.loads(as_json.stdout)["error"]["message"],
        "exit": 10,
    }
    assert winic_mock.ledger == []


def test_an_unknown_store_scheme_is_a_usage_error(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    result = cli("send", "13800138000", "-m", "x", "--store", "mysql://db/winic")
    assert result.returncode == 2 and "unknown store scheme" in result.stderr
    assert winic_mock.ledger == [] and not (tmp_path / "mysql:").exists()


def test_send_writes_a_job_and_jobs_show_it(cli: Cli, winic_mock: MockService) -> None:
    numbers = "\n".join(f"138{i:08d}" for i in range(150))
    result = cli("send", "-m", "通知", "--job", "promo-1", "--json", stdin=numbers)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["job"] == "promo-1" and len(data["submissions"]) == 2
    assert "job promo-1" in result.stderr.splitlines()[0]  # printed before anything is written
    again = cli("send", "13800138000", "-m", "x", "--job", "promo-1")  # the key names another send
    assert again.returncode == 3 and "already used for another send" in again.stderr
    assert len(winic_mock.calls("SendMessages")) == 2
    [listed] = json.loads(cli("jobs", "list", "--json").stdout)
    assert listed["id"] == "promo-1" and listed["batches"]["accepted"] == 2
    assert cli("reports").returncode == 0  # pulls the reports into the store
    shown = json.loads(cli("jobs", "show", "promo-1", "--json").stdout)
    assert shown["delivery"] == {
        "job": "promo-1",
        "recipients": 150,
        "accepted": 150,
        "delivered": 150,
        "undelivered": {},
        "waiting_for_report": 0,
        "unknown": 0,
        "sending": 0,
        "failed": {},
        "never_attempted": 0,
    }
    assert "delivered 150" in cli("jobs", "show", "promo-1").stdout


def test_a_lost_reply_stops_the_job_resume_sends_only_the_rest_and_reports_resolve_it(
    cli: Cli, winic_mock: MockService
) -> None:
    winic_mock.script_status("13800000150", "UNDELIV")
    numbers = "\n".join(f"138{i:08d}" for i in range(250))
    winic_mock.fail("close_after", operation="SendMessages")  # batch 0: processed, reply lost
    first = cli("send", "-m", "bulk", "--job", "big", "--json", stdin=numbers)
    assert first.returncode == 8, first.stderr
    error = json.loads(first.stdout)["error"]
    assert error["type"] == "BulkSendError" and error["cause"]["type"] == "SendOutcomeUnknown"
    assert len(error["unknown"]) == 100 and len(error["unsent"]) == 150 and error["accepted"] == []
    assert error["failed"] == [] and error["job"] == "big"  # an unknown batch is never called failed
    shown = json.loads(cli("jobs", "show", "big", "--json").stdout)
    assert [b["index"] for b in shown["needs_a_person"]] == [0] and shown["needs_a_person"][0]["state"] == "unknown"
    assert shown["delivery"]["never_attempted"] == 150
    assert "never re-sent automatically" in cli("jobs", "show", "big").stdout

    resumed = cli("jobs", "resume", "big", "--json")  # sends the rest; the job as a whole is still unknown
    assert resumed.returncode == 8, resumed.stderr
    after = json.loads(resumed.stdout)["error"]
    assert len(after["accepted"]) == 2 and len(after["unknown"]) == 100 and after["unsent"] == []
    sent = [(e.params["tos"] or "").split(",")[0] for e in winic_mock.calls("SendMessages")]
    assert sent == ["13800000000", "13800000100", "13800000200"]  # batch 0 once, never again
    assert cli("jobs", "resume", "big").returncode == 8 and len(winic_mock.calls("SendMessages")) == 3

    watched = cli("watch", "--once", "--sources", "reports", "--interval", "5")
    assert watched.returncode == 0, watched.stderr
    shown = json.loads(cli("jobs", "show", "big", "--json", "--batches").stdout)
    batch0 = shown["batches"][0]
    assert batch0["state"] == "accepted" and batch0["source"] == "reports"
    assert batch0["message_id"] == winic_mock.state.sends[0].message_id
    assert shown["needs_a_person"] == []
    assert shown["delivery"]["delivered"] == 249 and shown["delivery"]["undelivered"] == {"UNDELIV": 1}
    assert "accepted  (from reports)" in cli("jobs", "show", "big", "--batches").stdout


def test_two_unknown_batches_sharing_a_number_stay_unknown(cli: Cli, winic_mock: MockService) -> None:
    for job in ("a", "b"):
        winic_mock.fail("close_after", operation="SendMessages")
        assert cli("send", "13800138000", "-m", f"twice {job}", "--job", job).returncode == 8
    assert cli("watch", "--once", "--sources", "reports", "--interval", "5").returncode == 0
    for job in ("a", "b"):
        shown = json.loads(cli("jobs", "show", job, "--json").stdout)
        assert [b["state"] for b in shown["needs_a_person"]] == ["unknown"], job


def test_inbox_list_show_dead_and_retry(cli: Cli, winic_mock: MockService) -> None:
    from datetime import datetime

    from winic_soap.models import Reply

    assert cli("inbox", "retry", "--all").stdout == "no dead records to retry\n"
    with open_store(cli.store_url, max_handoffs=1) as store:
        poison, fine = store.commit_pulled(
            "GET_SMS_MO",
            [
                Reply("13800138000", "bad", "001", datetime(2026, 11, 25, 9, 0), "r1"),
                Reply("13900139000", "ok", "001", None, "r2"),
            ],
        )
        store.claim("me", limit=1)
        assert store.fail(poison, "ValueError: bad record") == "dead"
    pending = json.loads(cli("inbox", "list", "--json").stdout)
    assert [r["id"] for r in pending] == [fine]
    dead = cli("inbox", "dead")
    assert poison in dead.stdout and "ValueError: bad record" in dead.stdout
    shown = json.loads(cli("inbox", "show", poison, "--json").stdout)
    assert shown["state"] == "dead" and shown["attempts"] == 1 and shown["received_at"] == "2026-11-25T09:00:00+08:00"
    assert cli("inbox", "show", "no-such-id").returncode == 3
    assert cli("inbox", "retry", fine).returncode == 3  # not a dead letter
    assert json.loads(cli("inbox", "retry", "--all", "--json").stdout)["retried"] == [poison]
    assert len(json.loads(cli("inbox", "list", "--state", "all", "--json").stdout)) == 2
    assert cli("inbox").returncode == 2 and cli("jobs").returncode == 2


def test_a_scheduled_send_shows_its_time_with_the_service_offset(cli: Cli, winic_mock: MockService) -> None:
    result = cli("send", "13800138000", "-m", "later", "--at", "2099-01-02 03:04", "--json")
    assert json.loads(result.stdout)["scheduled_at"] == "2099-01-02T03:04:00+08:00"
    [job] = json.loads(cli("jobs", "list", "--json").stdout)
    assert job["options"]["at"] == "2099-01-02T03:04:00+08:00" and job["created_at"].endswith("+00:00")


def test_a_replay_or_resume_that_sends_nothing_says_so(cli: Cli, winic_mock: MockService) -> None:
    """The receipt of a job sent before is printed as "sent ..." again: stderr says nothing went out now."""
    from winic_soap.recipients import chunked

    numbers = [f"138{i:08d}" for i in range(150)]
    with open_store(cli.store_url) as store:
        store.create_job("SendMessages", "通知", chunked(numbers[:120]), job_id="k1")  # written, never sent
    resumed = cli("jobs", "resume", "k1")
    assert resumed.returncode == 0 and "nothing sent now" not in resumed.stderr, resumed.stderr
    assert len(winic_mock.calls("SendMessages")) == 2
    again = cli("jobs", "resume", "k1")
    assert again.returncode == 0 and "job k1: every batch was attempted before: nothing sent now" in again.stderr
    assert again.stdout == resumed.stdout  # the same receipt: the job's

    fresh = cli("send", "-m", "通知", "--job", "k2", stdin="\n".join(numbers))
    assert fresh.returncode == 0 and "nothing sent now" not in fresh.stderr, fresh.stderr
    replay = cli("send", "-m", "通知", "--job", "k2", stdin="\n".join(numbers))
    assert replay.returncode == 0 and replay.stdout == fresh.stdout
    assert "job k2: every batch was attempted before: nothing sent now" in replay.stderr
    assert len(winic_mock.calls("SendMessages")) == 4  # neither the replay nor the second resume sent
