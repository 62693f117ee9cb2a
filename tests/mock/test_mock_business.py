"""The mock's business rules: every error code's trigger, billing, reports, destructive pulls, accounts."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from helpers import wire

from winic_soap.mock import Account, MockService

TRANSPORTS = list(wire.PROTOCOLS)
CRED = {"uid": "demo", "pwd": "demo-secret"}
DOMESTIC = "13800138000"


def send(url: str, transport: str = "soap11", op: str = "SendMessages", **fields: str) -> str | None:
    params = {**CRED, "tos": DOMESTIC, "msg": "hello", "otime": "", **fields}
    if op == "SendMessages_Ext":
        params.setdefault("extno", "12")
    return wire.call(transport, url, op, params)


def answered(protocol: str, url: str, operation: str, params: dict[str, str]) -> str:
    """``wire.call`` where the test reads the answer as a string: a null answer fails here, named."""
    answer = wire.call(protocol, url, operation, params)
    assert answer is not None, f"{operation} answered null"
    return answer


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_send_answers_a_16_digit_id_and_charges(winic_mock: MockService, transport: str) -> None:
    answer = send(winic_mock.url, transport, tos=f"{DOMESTIC},13900139000")
    assert re.fullmatch(r"\d{16}", answer or "")
    assert winic_mock.account("demo").balance == Decimal("99.8")
    assert winic_mock.state.sends[0].recipients == (DOMESTIC, "13900139000")


SEND_CODES = [
    ("empty uid", {"uid": ""}, "-14"),
    ("empty pwd", {"pwd": ""}, "-14"),
    ("unknown account", {"uid": "ghost"}, "-02"),
    ("wrong password", {"pwd": "nope"}, "-03"),
    ("empty tos", {"tos": ""}, "-04"),
    ("empty msg", {"msg": ""}, "-04"),
    ("percent in msg", {"msg": "100% sure"}, "-04"),
    ("dollar in msg", {"msg": "$5"}, "-04"),
    ("ampersand in msg", {"msg": "a&b"}, "-04"),
    ("hash in msg", {"msg": "#1"}, "-04"),
    ("star in msg", {"msg": "a*b"}, "-04"),
    ("unparsable otime", {"otime": "tomorrow"}, "-04"),
    ("bad number", {"tos": "12345"}, "-05"),
    ("one bad among good", {"tos": f"{DOMESTIC},2380013800"}, "-05"),
    ("101 numbers", {"tos": ",".join(f"138{i:08d}" for i in range(101))}, "-10"),
]


@pytest.mark.parametrize(("why", "fields", "code"), SEND_CODES, ids=[c[0] for c in SEND_CODES])
@pytest.mark.parametrize("transport", ["soap11", "http-post"])
def test_send_error_codes(winic_mock: MockService, transport: str, why: str, fields: dict[str, str], code: str) -> None:
    assert send(winic_mock.url, transport, **fields) == code
    assert winic_mock.state.sends == []
    assert winic_mock.account("demo").balance == Decimal("100")


def test_balance_insufficient() -> None:
    with MockService([Account("poor", "pw", balance=Decimal("0.15"))]) as mock:
        params = {"uid": "poor", "pwd": "pw", "tos": f"{DOMESTIC},13900139000", "msg": "x", "otime": ""}
        assert wire.call("soap11", mock.url, "SendMessages", params) == "-01"
        assert wire.call("soap11", mock.url, "SendMessages", {**params, "tos": DOMESTIC}) is not None
        assert mock.account("poor").balance == Decimal("0.05")


def test_ip_restriction() -> None:
    with MockService([Account("locked", "pw", allowed_ips=("10.1.2.3",)), Account("open", "pw")]) as mock:
        for op in ("SendMessages", "GetUserInfo", "SMS_Reports"):
            params = {"uid": "locked", "pwd": "pw", "tos": DOMESTIC, "msg": "x", "otime": "", "IDtype": ""}
            wanted = {
                k: v for k, v in params.items() if k in ("uid", "pwd") or (op == "SendMessages" and k != "IDtype")
            }
            assert wire.call("http-post", mock.url, op, wanted) == "-110"
        assert answered("http-post", mock.url, "GetUserInfo", {"uid": "open", "pwd": "pw"}).startswith("000")


def test_send_ext_requires_1_to_10_digit_extno(winic_mock: MockService) -> None:
    assert re.fullmatch(r"\d{16}", send(winic_mock.url, op="SendMessages_Ext", extno="1234567890") or "")
    for bad in ("", "12345678901", "12a"):
        assert send(winic_mock.url, op="SendMessages_Ext", extno=bad) == "-04"
    assert winic_mock.state.sends[0].extno == "1234567890"


INTERNATIONAL = [
    ("one country", "447911123456,447700900123", None),
    ("plus sign", "+447911123456", "-08"),
    ("mixed countries", "447911123456,33612345678", "-04"),
    ("not digits", "44791112345x", "-05"),
    ("too short", "44123", "-05"),
]


@pytest.mark.parametrize(("why", "tos", "code"), INTERNATIONAL, ids=[c[0] for c in INTERNATIONAL])
def test_international_rules(winic_mock: MockService, why: str, tos: str, code: str | None) -> None:
    answer = send(winic_mock.url, op="SendInternationalMessages", tos=tos)
    if code is None:
        assert re.fullmatch(r"\d{16}", answer or "")
    else:
        assert answer == code


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (70 - 7, 1), (70 - 6, 2), (67 * 2 - 7, 2), (67 * 2 - 6, 3)])
def test_billing_counts_parts_with_signature(winic_mock: MockService, length: int, parts: int) -> None:
    # the default signature 【中正云通信】 is 7 characters and is billed with the text
    send(winic_mock.url, msg="字" * length, tos=f"{DOMESTIC},13900139000")
    assert winic_mock.state.sends[-1].parts == parts
    assert winic_mock.account("demo").balance == Decimal("100") - Decimal("0.1") * 2 * parts


def test_signature_in_text_is_not_billed_twice(winic_mock: MockService) -> None:
    send(winic_mock.url, msg="字" * 63 + "【中正云通信】")
    assert winic_mock.state.sends[-1].parts == 1


def test_reports_one_per_recipient_destructive(winic_mock: MockService) -> None:
    winic_mock.script_status("13900139000", "UNDELIV")
    message_id = send(winic_mock.url, tos=f"{DOMESTIC},13900139000")
    answer = answered("soap11", winic_mock.url, "SMS_Reports", CRED)
    records = answer.split("|")
    assert records[-1] == ""
    fields = [r.split("/") for r in records[:-1]]
    assert [(f[0], f[1], f[2], f[3]) for f in fields] == [
        (message_id, "demo", DOMESTIC, "DELIVRD"),
        (message_id, "demo", "13900139000", "UNDELIV"),
    ]
    assert re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}", fields[0][4])
    assert wire.call("http-get", winic_mock.url, "SMS_Reports", CRED) == "null"


def test_scheduled_send_holds_reports_until_otime() -> None:
    clock = Clock(datetime(2026, 3, 4, 5, 6, 7))
    with MockService(clock=clock) as mock:
        message_id = send(mock.url, otime="2026-03-04 06:00:00")
        assert message_id and message_id.startswith("0304050607")
        assert wire.call("soap11", mock.url, "SMS_Reports", CRED) == "null"
        clock.now += timedelta(hours=1)
        assert (
            wire.call("soap11", mock.url, "SMS_Reports", CRED)
            == f"{message_id}/demo/{DOMESTIC}/DELIVRD/2026-3-4 6:00:00|"
        )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_replies_are_pulled_once_with_port_filter(winic_mock: MockService, transport: str) -> None:
    at = datetime(2015, 10, 8, 12, 6, 56)
    winic_mock.add_reply("13580305095", "收到短信/谢谢", port="001", at=at)
    winic_mock.add_reply("13580305096", "other port", port="002", at=at)
    first = wire.call(transport, winic_mock.url, "GET_SMS_MO", {**CRED, "IDtype": "001"})
    assert first == "13580305095/收到短信/谢谢/001/2015-10-8 12:06:56|"
    assert wire.call(transport, winic_mock.url, "GET_SMS_MO", {**CRED, "IDtype": "001"}) == "null"
    assert (
        wire.call(transport, winic_mock.url, "GET_SMS_MO_Ext", CRED) == "13580305096/other port/002/2015-10-8 12:06:56|"
    )
    assert wire.call(transport, winic_mock.url, "GET_SMS_MO", {**CRED, "IDtype": ""}) == "null"


def test_replies_are_per_account() -> None:
    with MockService([Account("a", "pa"), Account("b", "pb")]) as mock:
        mock.add_reply(DOMESTIC, "for a", uid="a")
        assert wire.call("soap11", mock.url, "GET_SMS_MO_Ext", {"uid": "b", "pwd": "pb"}) == "null"
        assert answered("soap11", mock.url, "GET_SMS_MO_Ext", {"uid": "a", "pwd": "pa"}).startswith(DOMESTIC)


def test_pull_limit_hands_out_in_batches() -> None:
    with MockService(pull_limit=2) as mock:
        for i in range(5):
            mock.add_reply(f"1380013800{i}", f"r{i}")
        sizes = [len(answered("soap11", mock.url, "GET_SMS_MO_Ext", CRED).split("|")) - 1 for _ in range(3)]
        assert sizes == [2, 2, 1]


def test_user_info_layouts(winic_mock: MockService) -> None:
    plain = answered("soap11", winic_mock.url, "GetUserInfo", CRED).split("/")
    assert len(plain) == 10 and plain[0] == "000" and plain[2] == "100.0000"
    personal = answered("soap11", winic_mock.url, "GetUserInfo_", CRED).split("/")
    assert len(personal) == 13


@pytest.mark.parametrize("op", ["RegineUser_", "RegineUser"])
def test_register_then_use(winic_mock: MockService, op: str) -> None:
    fields = {"uid": "newbie", "pwd": "pw1", "agent_code": "", "co_name": "ACME", "link_man": "Li", "mob": DOMESTIC}
    assert wire.call("http-post", winic_mock.url, op, fields) == "000"
    assert wire.call("http-post", winic_mock.url, op, fields) == "-12"
    assert wire.call("http-post", winic_mock.url, op, {**fields, "uid": "x", "agent_code": "nobody"}) == "-02"
    assert wire.call("http-post", winic_mock.url, op, {**fields, "uid": "y", "mob": "123"}) == "-05"
    assert wire.call("http-post", winic_mock.url, op, {**fields, "uid": ""}) == "-14"
    info = answered("soap11", winic_mock.url, "GetUserInfo_", {"uid": "newbie", "pwd": "pw1"}).split("/")
    assert info[2] == "0.0000" and info[10:] == ["ACME", "Li", DOMESTIC]


def test_change_password(winic_mock: MockService) -> None:
    assert wire.call("soap12", winic_mock.url, "EditUserPwd", {**CRED, "newpwd": ""}) == "-04"
    assert wire.call("soap12", winic_mock.url, "EditUserPwd", {**CRED, "newpwd": "n3w"}) == "000"
    assert wire.call("soap12", winic_mock.url, "GetUserInfo", CRED) == "-03"
    assert answered("soap12", winic_mock.url, "GetUserInfo", {"uid": "demo", "pwd": "n3w"}).startswith("000")
    assert winic_mock.ledger[1].params["newpwd"] == "***"


def test_message_record_and_info(winic_mock: MockService) -> None:
    message_id = send(winic_mock.url)
    assert message_id is not None
    record = answered(
        "soap11", winic_mock.url, "GetMessageRecord", {**CRED, "num": "", "StartDate": "", "EndDate": "", "isday": ""}
    )
    assert record.startswith(f"{message_id}/{DOMESTIC}/hello/")
    assert answered("soap11", winic_mock.url, "GetMessageInfo", {"snum": message_id}).startswith(message_id)
    assert wire.call("soap11", winic_mock.url, "GetMessageInfo", {"snum": "0"}) == "null"
    assert wire.call("soap11", winic_mock.url, "TelCall", {**CRED, "host_call": "1", "caller": "2"}) == "-12"


def test_ledger_masks_passwords_and_records_transport(winic_mock: MockService) -> None:
    send(winic_mock.url, "http-get")
    entry = winic_mock.ledger[0]
    assert (entry.operation, entry.transport, entry.processed) == ("SendMessages", "http-get", True)
    assert entry.params["pwd"] == "***" and "demo-secret" not in repr(winic_mock.ledger)
    assert "demo-secret" not in repr(winic_mock.account("demo"))


def test_reset_restores_initial_accounts(winic_mock: MockService) -> None:
    send(winic_mock.url)
    winic_mock.reset()
    assert winic_mock.ledger == [] and winic_mock.state.sends == []
    assert winic_mock.account("demo").balance == Decimal("100")


def test_concurrent_sends_leave_the_exact_balance() -> None:
    with MockService([Account("load", "pw", balance=Decimal("1000"))]) as mock:
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(100):
                    answer = wire.call(
                        "soap11",
                        mock.url,
                        "SendMessages",
                        {"uid": "load", "pwd": "pw", "tos": DOMESTIC, "msg": "m", "otime": ""},
                    )
                    assert answer and len(answer) == 16
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert mock.account("load").balance == Decimal("1000") - Decimal("0.1") * 800
        assert len({s.message_id for s in mock.state.sends}) == 800
        assert len(mock.state.pending_reports()) == 800
