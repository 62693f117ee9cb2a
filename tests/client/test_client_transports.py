"""Every operation through the public API on all four transports, with the same decoded results from the
sync client and the async client, over real sockets and over the mock's in-process httpx2 transport."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict, cast

import httpx2
import pytest
from helpers.shared import TRANSPORTS, MakeClient, SleepRecorder

from winic_soap import AccountInfo, AsyncWinicClient, DeliveryReport, Reply, Submission, WinicClient
from winic_soap.mock import Account, MockService
from winic_soap.models import SERVICE_TZ

FIXED = datetime(2026, 5, 6, 7, 8, 9)
SHELLS = ("sync", "async", "sync-in-process", "async-in-process")


class _Blocking:
    """The async client driven from sync code, one event loop for its whole life: the same scenario
    runs on both shells, so any difference in results is the shells' own."""

    def __init__(self, client: AsyncWinicClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client, self._loop = client, loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._loop.run_until_complete(method(*args, **kwargs))


@contextmanager
def client_for(shell: str, mock: MockService, transport: str, **options: Any) -> Iterator[WinicClient]:
    """A client of ``shell`` on ``mock``: over its socket, or in process (no port) through ``http_client``;
    the async one behind ``_Blocking``, whose face is the sync client's (so it is typed as one)."""
    in_process = shell.endswith("in-process")
    if shell.startswith("sync"):
        http = httpx2.Client(transport=mock.httpx_transport()) if in_process else None
        with WinicClient(
            "demo", "demo-secret", endpoint=mock.url, transport=transport, http_client=http, **options
        ) as c:
            yield c
        if http is not None:
            http.close()
        return
    loop = asyncio.new_event_loop()
    try:
        ahttp = httpx2.AsyncClient(transport=mock.httpx_transport()) if in_process else None
        aclient = AsyncWinicClient(
            "demo", "demo-secret", endpoint=mock.url, transport=transport, http_client=ahttp, **options
        )
        yield cast("WinicClient", _Blocking(aclient, loop))
        loop.run_until_complete(aclient.aclose())
        if ahttp is not None:
            loop.run_until_complete(ahttp.aclose())
    finally:
        loop.close()


class Results(TypedDict, total=False):
    """What one pass over every operation gave, compared whole between shells and transports."""

    send: tuple[Submission, ...]
    send_ext: tuple[Submission, ...]
    send_at: tuple[Submission, ...]
    intl: tuple[Submission, ...]
    replies_port: list[Reply]
    replies_ext: list[Reply]
    reports: list[DeliveryReport]
    account: AccountInfo
    account_personal: AccountInfo
    after_change: str
    record: str | None
    ledger: list[tuple[str, str]]


def scenario(transport: str, shell: str = "sync") -> Results:
    """One pass over every operation against a fresh mock with a fixed clock."""
    with (
        MockService(
            [Account("demo", "demo-secret", balance=Decimal("50"), company="ACME")], clock=lambda: FIXED
        ) as mock,
        client_for(shell, mock, transport, clock=lambda: FIXED) as client,
    ):
        out: Results = {}
        out["send"] = client.send(["13800138000", "13900139000"], "验证码 123456").submissions
        out["send_ext"] = client.send("13700137000", "ext", ext="123").submissions
        out["send_at"] = client.send("13700137000", "later", at=FIXED + timedelta(hours=1)).submissions
        out["intl"] = client.send_international(["+44 7911 123456"], "hello").submissions
        mock.script_status("13900139000", "UNDELIV")
        mock.add_reply("13800138000", "好/的", port="001", at=FIXED)
        mock.add_reply("13900139000", "ext reply", port="0012", at=FIXED)
        out["replies_port"] = client.replies(port="001")
        out["replies_ext"] = client.replies_ext()
        out["reports"] = client.reports()
        out["account"] = client.account()
        out["account_personal"] = client.account(personal=True)
        client.register("newbie", "pw", company="NewCo", contact="Wang", mobile="13600136000")
        client.change_password("n3w-secret")
        out["after_change"] = client.account().uid
        out["record"] = client.call("GetMessageRecord", num="", StartDate="", EndDate="", isday="")
        out["ledger"] = [(e.operation, e.transport) for e in mock.ledger]
        return out


@pytest.fixture(scope="module")
def results() -> dict[str, Results]:
    return {t: scenario(t) for t in TRANSPORTS}


@pytest.mark.parametrize("shell", SHELLS[1:])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_shell_gives_identical_results(results: dict[str, Results], shell: str, transport: str) -> None:
    """Sync, async, and both over the in-process mock transport: same results, same ledger, per transport."""
    assert scenario(transport, shell) == results[transport]


def test_same_results_on_every_transport(results: dict[str, Results]) -> None:
    reference = {k: v for k, v in results["soap11"].items() if k != "ledger"}
    for transport in TRANSPORTS[1:]:
        assert {k: v for k, v in results[transport].items() if k != "ledger"} == reference, transport


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_transport_really_used_its_protocol(results: dict[str, Results], transport: str) -> None:
    assert {t for _, t in results[transport]["ledger"]} == {transport}


def test_decoded_values(results: dict[str, Results]) -> None:
    r = results["soap11"]
    [submission] = r["send"]
    assert submission.message_id is not None and re.fullmatch(r"0506070809\d{6}", submission.message_id)
    assert submission.recipients == ("13800138000", "13900139000")
    aware = FIXED.replace(tzinfo=SERVICE_TZ)  # the service's times are Asia/Shanghai, +08:00
    assert r["replies_port"] == [Reply("13800138000", "好/的", "001", aware)]
    assert r["replies_ext"] == [Reply("13900139000", "ext reply", "0012", aware)]
    received_at = r["replies_port"][0].received_at
    assert received_at is not None and received_at.isoformat() == "2026-05-06T07:08:09+08:00"
    reports = r["reports"]
    assert all(isinstance(x, DeliveryReport) for x in reports)
    assert {x.at.utcoffset() if x.at else None for x in reports} == {timedelta(hours=8)}
    assert [(x.mobile, x.status) for x in reports if x.message_id == submission.message_id] == [
        ("13800138000", "DELIVRD"),
        ("13900139000", "DELIVRD"),
    ]
    account = r["account"]
    assert isinstance(account, AccountInfo) and account.balance == Decimal("49.5")  # five recipients, one part each
    assert r["account_personal"].company == "ACME"
    assert r["after_change"] == "demo"
    assert str(r["record"]).startswith(submission.message_id)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ledger_shows_each_documented_operation(results: dict[str, Results], transport: str) -> None:
    operations = [op for op, _ in results[transport]["ledger"]]
    assert operations == [
        "SendMessages",
        "SendMessages_Ext",
        "SendMessages",
        "SendInternationalMessages",
        "GET_SMS_MO",
        "GET_SMS_MO_Ext",
        "SMS_Reports",
        "GetUserInfo",
        "GetUserInfo_",
        "RegineUser_",
        "EditUserPwd",
        "GetUserInfo",
        "GetMessageRecord",
    ]


def test_scheduled_send_carries_otime(make_client: MakeClient, winic_mock: MockService) -> None:
    client = make_client()
    at = datetime.now() + timedelta(days=2)
    receipt = client.send("13800138000", "later", at=at.replace(microsecond=0))
    assert receipt.scheduled_at == at.replace(microsecond=0, tzinfo=SERVICE_TZ)  # naive means Asia/Shanghai
    assert receipt.scheduled_at.utcoffset() == timedelta(hours=8)
    assert winic_mock.ledger[-1].params["otime"] == receipt.scheduled_at.strftime("%Y-%m-%d %H:%M:%S")


def test_aware_datetime_is_converted_to_service_time(make_client: MakeClient, winic_mock: MockService) -> None:

    client = make_client()
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    receipt = client.send("13800138000", "later", at=at)
    sent = winic_mock.ledger[-1].params["otime"]
    assert sent == (at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert receipt.scheduled_at == at and receipt.scheduled_at.utcoffset() == timedelta(hours=8)  # same instant
    assert receipt.scheduled_at.strftime("%Y-%m-%d %H:%M:%S") == sent


def test_forbidden_characters_go_full_width(make_client: MakeClient, winic_mock: MockService) -> None:
    receipt = make_client().send("13800138000", "50% off & more #1 *now* $5")
    assert receipt.text == "50％ off ＆ more ＃1 ＊now＊ ＄5"
    assert winic_mock.state.sends[-1].text == receipt.text


def test_more_than_100_numbers_are_split(make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [f"138{i:08d}" for i in range(250)]
    progress: list[tuple[int, int]] = []
    receipt = make_client("http-post").send(
        numbers + numbers[:5], "bulk", on_progress=lambda d, t: progress.append((d, t))
    )
    assert [len(s.recipients) for s in receipt.submissions] == [100, 100, 50]
    assert receipt.recipients == tuple(numbers) and len(set(receipt.message_ids)) == 3
    assert [len(s.recipients) for s in winic_mock.state.sends] == [100, 100, 50]
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_bulk_in_parallel(make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [f"139{i:08d}" for i in range(1000)]
    receipt = make_client().send(numbers, "bulk", concurrency=4)
    assert len(receipt.submissions) == 10 and receipt.recipients == tuple(numbers)
    assert sorted(n for s in winic_mock.state.sends for n in s.recipients) == sorted(numbers)


def test_operations_are_introspected(make_client: MakeClient) -> None:
    ops = {op.name: op for op in make_client().operations()}
    assert ops["SendMessages_Ext"].parameters == ("uid", "pwd", "tos", "msg", "otime", "extno")
    assert ops["GetMessageRecord"].parameters == ("uid", "pwd", "num", "StartDate", "EndDate", "isday")
    assert ops["SendMessages"].documentation == "国内短信发送接口"
    assert {"RegineUser", "GetUserInfo_", "GetMessageInfo", "GET_MSP_MO", "TelCall"} <= set(ops)


def test_call_any_operation(make_client: MakeClient, winic_mock: MockService) -> None:
    client = make_client("soap12")
    message_id = client.send("13800138000", "x").message_id
    assert message_id is not None
    assert str(client.call("GetMessageInfo", snum=message_id)).startswith(message_id)
    winic_mock.add_reply("13800138000", "via msp", port="9")
    assert str(client.call("GET_MSP_MO", IDtype="9")).startswith("13800138000/via msp/9/")


def test_estimate_matches_what_the_mock_charges(make_client: MakeClient, winic_mock: MockService) -> None:
    client = make_client()
    text = "字" * 150
    estimate = client.estimate(["13800138000", "13900139000"], text)
    before = client.account().balance
    client.send(["13800138000", "13900139000"], text)
    assert before - client.account().balance == estimate.cost
    assert estimate.parts == winic_mock.state.sends[-1].parts == 3


def test_register_falls_back_to_regineuser_when_wsdl_lacks_the_underscore(
    tmp_path: Path, winic_mock: MockService, sleeps: SleepRecorder
) -> None:
    from winic_soap import RetryPolicy
    from winic_soap.resources import packaged_wsdl_bytes

    text = packaged_wsdl_bytes().decode()
    for tag in (
        "RegineUser_SoapIn",
        "RegineUser_SoapOut",
        "RegineUser_HttpGetIn",
        "RegineUser_HttpGetOut",
        "RegineUser_HttpPostIn",
        "RegineUser_HttpPostOut",
    ):
        assert tag in text
    stripped = re.sub(r'<wsdl:operation name="RegineUser_">.*?</wsdl:operation>', "", text, flags=re.S)
    wsdl = tmp_path / "old.wsdl"
    wsdl.write_text(stripped, encoding="utf-8")
    with WinicClient(
        "demo", "demo-secret", endpoint=winic_mock.url, wsdl=str(wsdl), retry=RetryPolicy(sleep=sleeps)
    ) as client:
        assert not client.has_operation("RegineUser_")
        client.register("old", "pw", company="c", contact="l", mobile="13800138000")
    assert winic_mock.ledger[-1].operation == "RegineUser"


def test_wsdl_can_be_loaded_from_the_live_url_shape(winic_mock: MockService, sleeps: SleepRecorder) -> None:
    from winic_soap import RetryPolicy

    with WinicClient(
        "demo", "demo-secret", endpoint=winic_mock.url, wsdl=f"{winic_mock.url}?WSDL", retry=RetryPolicy(sleep=sleeps)
    ) as client:
        assert client.account().uid == "demo"


def test_client_is_shareable_across_threads(make_client: MakeClient, winic_mock: MockService) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = make_client()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: client.send(f"138{i:08d}", "t").message_id, range(200)))
    assert len(set(ids)) == 200
    assert winic_mock.account("demo").balance == Decimal("100") - Decimal("0.1") * 200
    assert winic_mock.connections_total <= 10  # the pool bounds the sockets
