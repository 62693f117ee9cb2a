"""Reports that settle: one current status per (message id, mobile) by the documented precedence
(``winic_soap.store.settle``), repeats stored as repeats and never handed on again, and ``jobs show``
counting settled statuses. Against the mock over real sockets, on both backends."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import InputError, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import DeliveryReport
from winic_soap.store import Store, open_store
from winic_soap.store.owners import process_owner

T0 = datetime(2026, 5, 1, 9, 0)
A, B = "13800138000", "13900139000"


def pull_reports(client: WinicClient, store: Store) -> None:
    store.commit_pulled("SMS_Reports", client.reports(), endpoint=client.settings.endpoint, uid=client.settings.uid)


def test_in_transit_then_final_then_a_repeat_settle_once_and_hand_on_once(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    winic_mock.script_status(A, "ENROUTE")  # the send's own report: in transit
    with open_store(store_url) as store:
        client = make_client()
        receipt = store.journal.send(client, [A, B], "通知", job="job-1")
        message_id = receipt.message_id
        assert message_id is not None
        pull_reports(client, store)
        handed = [(r.data["mobile"], r.data["status"], r.settled) for r in store.claim(process_owner(), limit=100)]
        assert sorted(handed) == [(A, "ENROUTE", "ENROUTE"), (B, "DELIVRD", "DELIVRD")]
        for record in store.records("pending"):
            store.ack(record.id)

        winic_mock.add_report(message_id, A, "DELIVRD", at=T0)
        pull_reports(client, store)
        winic_mock.add_report(message_id, A, "DELIVRD", at=T0)  # the gateway retried: the same report again
        pull_reports(client, store)

        handed_on = store.claim(process_owner(), limit=100)
        assert [(r.data["status"], r.settled) for r in handed_on] == [("DELIVRD", "DELIVRD")]  # once, not twice
        first = handed_on[0]
        assert first.as_dict()["settled"] == "DELIVRD"
        store.ack(first.id)
        assert store.claim(process_owner(), limit=100) == []

        stored = [r for r in store.by_message_id(message_id) if r.data["mobile"] == A]
        assert [(r.data["status"], r.settled, r.repeat_of, r.state) for r in stored] == [
            ("ENROUTE", "DELIVRD", None, "done"),
            ("DELIVRD", "DELIVRD", None, "done"),
            ("DELIVRD", "DELIVRD", first.id, "done"),  # kept, as a repeat of the first
        ]
        picture = store.delivery("job-1")
        assert picture["delivered"] == 2 and picture["undelivered"] == {} and picture["waiting_for_report"] == 0


def test_webhooks_carry_the_settled_status_and_never_a_repeat(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    import threading

    from helpers.webhook_receiver import receiving

    from winic_soap import Settings
    from winic_soap.watcher import Watcher
    from winic_soap.webhooks import WebhookDispatcher, new_secret

    secret = new_secret()
    winic_mock.script_status(A, "ENROUTE")
    client = make_client()
    message_id = client.send([A, B], "通知").message_id
    assert message_id is not None
    winic_mock.add_report(message_id, A, "DELIVRD", at=T0)
    winic_mock.add_report(message_id, A, "DELIVRD", at=T0)  # the same report again, in the same pull
    with receiving(secret) as receiver, open_store(tmp_path / "inbox.sqlite3") as store:
        dispatcher = WebhookDispatcher(store, Settings(webhook_secret=secret, timeout=5.0), urls=[receiver.url])
        Watcher(client, store, lambda record: None, webhooks=dispatcher).run(threading.Event(), once=True)
        repeats = [r.id for r in store.records(None) if r.repeat_of]
    data = sorted((d.event["data"]["mobile"], d.event["data"]["status"], d.event["data"]["settled"])
                  for d in receiver.deliveries)  # fmt: skip
    assert data == [(A, "DELIVRD", "DELIVRD"), (A, "ENROUTE", "DELIVRD"), (B, "DELIVRD", "DELIVRD")]
    assert len(repeats) == 1 and repeats[0] not in receiver.ids() and all(d.verified for d in receiver.deliveries)


# (the reports in arrival order, the settled status): the table in winic_soap/store/settle.py
ORDERS = [
    (["UNDELIV", "DELIVRD"], "DELIVRD"),  # a late DELIVRD outranks a final failure: the operator retried
    (["DELIVRD", "UNDELIV"], "DELIVRD"),  # and a failure after DELIVRD is stale
    (["UNDELIV", "EXPIRED"], "UNDELIV"),  # the first final failure stands
    (["ENROUTE", "ACCEPTD"], "ACCEPTD"),  # in transit: the later one
    (["ACCEPTD", "UNDELIV", "ENROUTE"], "UNDELIV"),  # in transit never overwrites a final status
    (["DELIVRD", "ENROUTE"], "DELIVRD"),
    (["ENROUTE"], "ENROUTE"),
]


@pytest.mark.parametrize(("statuses", "settled"), ORDERS)
def test_the_precedence_table(store_url: str, statuses: list[str], settled: str) -> None:
    with open_store(store_url) as store:
        for minute, status in enumerate(statuses):  # one pull each, a minute apart
            store.commit_pulled("SMS_Reports", [DeliveryReport("m1", "u", A, status, T0 + timedelta(minutes=minute))])
        assert {r.settled for r in store.by_message_id("m1")} == {settled}
        assert len(store.pending()) == len(statuses)  # distinct reports: each handed on once


def test_reports_in_one_pull_settle_in_order_and_a_repeat_in_the_same_pull_is_caught(store_url: str) -> None:
    with open_store(store_url) as store:
        pulled = [
            DeliveryReport("m1", "u", A, "ENROUTE", T0),
            DeliveryReport("m1", "u", A, "UNDELIV", T0 + timedelta(minutes=1)),
            DeliveryReport("m1", "u", A, "UNDELIV", T0 + timedelta(minutes=1)),
            DeliveryReport("m1", "u", B, "DELIVRD", None),
        ]
        ids = store.commit_pulled("SMS_Reports", pulled)
        records = {r.id: r for r in store.records(None)}
        assert [records[i].settled for i in ids] == ["UNDELIV", "UNDELIV", "UNDELIV", "DELIVRD"]
        assert [records[i].repeat_of for i in ids] == [None, None, ids[1], None]
        assert [r.id for r in store.pending()] == [ids[0], ids[1], ids[3]]


def test_the_in_transit_statuses_are_configurable(store_url: str) -> None:
    with open_store(store_url, intermediate=["ENROUTE", "ACCEPTD", "PENDING"]) as store:
        store.commit_pulled("SMS_Reports", [DeliveryReport("m1", "u", A, "PENDING", T0)])
        store.commit_pulled("SMS_Reports", [DeliveryReport("m1", "u", A, "UNDELIV", T0 + timedelta(minutes=1))])
        assert {r.settled for r in store.by_message_id("m1")} == {"UNDELIV"}
    with pytest.raises(InputError, match="DELIVRD is final"):
        open_store(store_url, intermediate=["DELIVRD"])


def test_cli_jobs_show_counts_the_settled_status(winic_mock: MockService, tmp_path: Path) -> None:
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(env, *args)

    winic_mock.script_status(A, "ENROUTE")
    assert cli("send", A, B, "-m", "通知", "--job", "job-9").returncode == 0
    message_id = winic_mock.state.sends[0].message_id
    winic_mock.add_report(message_id, A, "DELIVRD", at=T0)
    winic_mock.add_report(message_id, A, "DELIVRD", at=T0)
    shown = json.loads(cli("reports", "--json").stdout)
    assert sorted((r["mobile"], r["status"], r["settled"]) for r in shown) == [
        (A, "DELIVRD", "DELIVRD"),
        (A, "ENROUTE", "DELIVRD"),  # pulled in the same answer as the DELIVRD that settled it
        (B, "DELIVRD", "DELIVRD"),
    ]
    picture = json.loads(cli("jobs", "show", "job-9", "--json").stdout)["delivery"]
    assert picture["delivered"] == 2 and picture["accepted"] == 2 and picture["undelivered"] == {}
    human = cli("jobs", "show", "job-9").stdout
    assert "delivered 2" in human


def test_retention_forgets_what_settling_kept_of_the_reports_it_deletes(store_url: str) -> None:
    clock = [1_800_000_000.0]
    report = DeliveryReport("m1", "u", A, "DELIVRD", T0)
    with open_store(store_url, clock=lambda: clock[0]) as store:
        [first] = store.commit_pulled("SMS_Reports", [report])
        [repeat] = store.commit_pulled("SMS_Reports", [report])
        assert (record := store.get(repeat)) is not None and record.repeat_of == first
        for record in store.claim(process_owner(), limit=10):
            store.ack(record.id)
        clock[0] += 40 * 86400
        assert store.purge("30d")["records"] == 2
        [again] = store.commit_pulled("SMS_Reports", [report])  # long after: nothing is left to repeat
        stored = store.get(again)
        assert stored is not None and stored.repeat_of is None and stored.settled == "DELIVRD"
        assert [r.id for r in store.pending()] == [again]
