"""A pull answer is never refused after the service handed it out: pulls stream to disk and are decoded one
record at a time, on every transport; the size cap stays for every other operation. Real sockets to the
mock; the backlog is made by real sends (through the mock's in-process transport, which is only quicker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryFile
from typing import Any

import httpx2
import pytest
from helpers.shared import TRANSPORTS, cli_env, run_cli
from helpers.tcp_proxy import tcp_proxy

from winic_soap import AuthenticationError, ProtocolError, StoreError, WinicClient
from winic_soap.decoding import decode_replies, decode_reports, stream_records
from winic_soap.mock import Account, MockService
from winic_soap.models import DeliveryReport, Reply
from winic_soap.store import open_store
from winic_soap.watcher import Watcher

RECORD = b"2611251030001234567/demo/13800138000/DELIVRD/2026-11-25 10:30:00|"


@pytest.fixture
def rich_mock() -> Iterator[MockService]:
    """The fake service with an account that can pay for a campaign of 300,000 recipients."""
    with MockService([Account("demo", "demo-secret", balance=Decimal(10**7))]) as mock:
        yield mock


def campaign(mock: MockService, recipients: int) -> None:
    """Send ``recipients`` messages so that as many delivery reports wait in the mock."""
    with WinicClient(
        "demo", "demo-secret", endpoint=mock.url, http_client=httpx2.Client(transport=mock.httpx_transport())
    ) as sender:
        sender.send([f"138{i:08d}" for i in range(recipients)], "通知", concurrency=8)
    assert len(mock.state.pending_reports()) == recipients


def test_a_backlog_of_300000_reports_is_stored_whole(rich_mock: MockService, tmp_path: Path) -> None:
    campaign(rich_mock, 300_000)
    with (
        WinicClient("demo", "demo-secret", endpoint=rich_mock.url) as client,
        open_store(tmp_path / "s.sqlite3") as store,
    ):
        watcher = Watcher(client, store, lambda record: None, sources=["reports"])
        assert watcher.pull_once() == 300_000
        assert rich_mock.state.pending_reports() == []  # handed out: nothing could be pulled again
        assert store.counts()["records"] == 300_000 and len(store.spool) == 0
        numbers = {r.data["mobile"] for r in store.records(None, kind="report")}
    assert numbers == {f"138{i:08d}" for i in range(300_000)}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_large_reply_answers_stream_on_every_transport(rich_mock: MockService, transport: str) -> None:
    texts = [f"回复 {i} a/b/{'x' * (i % 40)}" for i in range(20_000)]  # "/" inside texts, Chinese, ~1.3 MB
    for text in texts:
        rich_mock.add_reply("13800138000", text, port="001")
    with (
        WinicClient("demo", "demo-secret", endpoint=rich_mock.url, transport=transport) as client,
        TemporaryFile() as body,
    ):
        records = client.pull_into("GET_SMS_MO", body)
        assert not isinstance(records, list)  # larger than the part kept in memory: read from the file
        replies = list(records)
    assert all(isinstance(r, Reply) and r.port == "001" and r.mobile == "13800138000" for r in replies)
    assert [r.text for r in replies if isinstance(r, Reply)] == texts


def test_a_small_answer_is_a_list_and_an_error_code_is_its_typed_error(rich_mock: MockService) -> None:
    campaign(rich_mock, 3)
    with WinicClient("demo", "demo-secret", endpoint=rich_mock.url) as client, TemporaryFile() as body:
        reports = client.pull_into("SMS_Reports", body)
        assert isinstance(reports, list) and len(reports) == 3
        assert all(isinstance(r, DeliveryReport) for r in reports)
        assert client.pull_into("SMS_Reports", body) == []  # null: nothing pending
        rich_mock.fail("code", code="-02", operation="SMS_Reports")
        with pytest.raises(AuthenticationError):
            client.pull_into("SMS_Reports", body)
        with pytest.raises(ValueError, match="operation"):
            client.pull_into("GetUserInfo", body)


def test_the_size_cap_stays_for_other_operations_and_is_lifted_for_pulls(rich_mock: MockService) -> None:
    record = RECORD.decode()
    big = record * (17 * 1024 * 1024 // len(record) + 1)  # over the 16 MB cap
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><string xmlns="http://tempuri.org/">' + big + "</string>"
    ).encode()
    with WinicClient("demo", "demo-secret", endpoint=rich_mock.url, transport="http-post", max_attempts=1) as client:
        rich_mock.fail("reply", operation="GetUserInfo", body=envelope)
        with pytest.raises(ProtocolError, match="larger than"):
            client.account()
        rich_mock.fail("reply", operation="SMS_Reports", body=envelope)
        with TemporaryFile() as body:
            count = sum(1 for _ in client.pull_into("SMS_Reports", body))
    assert count == big.count("|")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>" + b"x" * (2 << 20) + b"</body></html>", "text/html"),  # an error page, 200
        (b'<?xml version="1.0"?><string xmlns="http://tempuri.org/">' + RECORD * 30_000, "text/xml"),  # cut short
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><string xmlns="http://tempuri.org/">&a;'
            + b"a|" * (1 << 20)
            + b"</string>",
            "text/xml",
        ),
    ],
    ids=["not-xml", "truncated", "dtd"],
)
def test_a_large_hostile_answer_is_a_protocol_error(rich_mock: MockService, body: bytes, content_type: str) -> None:
    rich_mock.fail("reply", operation="SMS_Reports", body=body, content_type=content_type)
    with (
        WinicClient("demo", "demo-secret", endpoint=rich_mock.url, transport="http-post", max_attempts=1) as client,
        TemporaryFile() as spooled,
        pytest.raises(ProtocolError),
    ):
        list(client.pull_into("SMS_Reports", spooled))


def test_the_cli_shows_a_large_backlog_whole_and_marks_it_done(rich_mock: MockService, tmp_path: Path) -> None:
    campaign(rich_mock, 30_000)  # some 2 MB of answer: streamed
    env = {**cli_env(rich_mock.url, tmp_path), "WINIC_STORE": str(tmp_path / "s.sqlite3")}
    shown = run_cli(env, "reports", "--json")
    assert shown.returncode == 0, shown.stderr
    reports = json.loads(shown.stdout)
    assert sorted(r["mobile"] for r in reports) == [f"138{i:08d}" for i in range(30_000)]
    with open_store(tmp_path / "s.sqlite3") as store:
        assert store.counts()["done"] == 30_000 and store.counts()["pending"] == 0


@pytest.mark.parametrize("operation", ["SMS_Reports", "GET_SMS_MO"])
def test_streamed_decoding_equals_the_list_decoder_wherever_the_text_is_cut(operation: str) -> None:
    if operation == "SMS_Reports":
        records = [
            f"26112510300{i:08d}/demo/138{i:08d}/{'DELIVRD' if i % 3 else 'UNDELIV'}/2026-11-25 10:{i % 60:02d}:00"
            for i in range(5000)
        ]
        records[7] = "broken record without its fields"
    else:
        records = [f"138{i:08d}/回复 {i} a/b/00{i % 3}/2026-11-25 10:{i % 60:02d}:00" for i in range(5000)]
    text = "  " + "|".join(records[:2500]) + "|\r\n" + "|".join(records[2500:]) + "||"  # wrapped, empty records
    decode = decode_reports if operation == "SMS_Reports" else decode_replies
    expected = decode(operation, text)
    assert len(expected) == 5000
    for step in (1, 7, 4096, 4097, 65536, len(text)):
        pieces = [text[i : i + step] for i in range(0, len(text), step)]
        assert list(stream_records(operation, pieces)) == expected, step
    assert list(stream_records(operation, ["nu", "ll"])) == []
    with pytest.raises(AuthenticationError):
        list(stream_records(operation, ["-0", "2"]))


def test_a_large_answer_whose_commit_acknowledgement_is_lost_is_stored_once_from_the_spool(
    rich_mock: MockService, pg_server: Any, tmp_path: Path
) -> None:
    campaign(rich_mock, 30_000)
    database = pg_server.create_database("big_lost_ack")
    with (
        tcp_proxy(database) as proxy,
        open_store(proxy.url, spool=tmp_path / "spool") as store,
        WinicClient("demo", "demo-secret", endpoint=rich_mock.url) as client,
    ):
        store.commit_size = 10_000  # three transactions; the first one's acknowledgement is lost
        watcher = Watcher(client, store, lambda record: None, sources=["reports"])
        proxy.lose_commit_ack(b"INSERT INTO winic_inbox")
        with pytest.raises(StoreError):
            watcher.pull_once()
        assert proxy.commits_lost == 1 and len(store.spool) == 1
        assert watcher.pull_once() == 30_000  # replayed whole: the first 10,000 are found stored
        assert len(store.spool) == 0
    with open_store(database) as direct:
        assert direct.counts()["records"] == 30_000


@pytest.mark.parametrize("transport", ["soap12", "http-get"])
def test_the_async_client_streams_a_large_pull_too(rich_mock: MockService, transport: str) -> None:
    import anyio

    from winic_soap import AsyncWinicClient

    campaign(rich_mock, 30_000)  # some 2 MB of answer

    async def pull() -> list[Reply | DeliveryReport]:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=rich_mock.url, transport=transport) as client:
            with TemporaryFile() as body:
                records = await client.pull_into("SMS_Reports", body)
                assert not isinstance(records, list)
                return await anyio.to_thread.run_sync(lambda: list(records))

    reports = anyio.run(pull)
    assert sorted(r.mobile for r in reports) == [f"138{i:08d}" for i in range(30_000)]
    assert all(isinstance(r, DeliveryReport) and r.status == "DELIVRD" for r in reports)
