"""The one decoder, table-driven: every answer shape and every error code of docs/protocol.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from winic_soap import decoding
from winic_soap.exceptions import (
    AccessDeniedError,
    AuthenticationError,
    BalanceError,
    MaintenanceError,
    ProtocolError,
    RejectedRequestError,
    ServiceError,
    UnknownServiceError,
)
from winic_soap.models import SERVICE_TZ

CODES = [
    ("-01", BalanceError),
    ("-02", AuthenticationError),
    ("-03", AuthenticationError),
    ("-04", RejectedRequestError),
    ("-05", RejectedRequestError),
    ("-06", RejectedRequestError),
    ("-07", RejectedRequestError),
    ("-08", RejectedRequestError),
    ("-09", MaintenanceError),
    ("-10", RejectedRequestError),
    ("-11", RejectedRequestError),
    ("-12", UnknownServiceError),
    ("-13", RejectedRequestError),
    ("-14", AuthenticationError),
    ("-110", AccessDeniedError),
    ("-111", AccessDeniedError),
    ("-99", UnknownServiceError),
    ("-1000", UnknownServiceError),
]


@pytest.mark.parametrize(("code", "kind"), CODES)
@pytest.mark.parametrize(
    "decoder",
    [
        decoding.decode_message_id,
        decoding.decode_replies,
        decoding.decode_reports,
        decoding.decode_account,
        decoding.decode_ack,
        decoding.check,
    ],
)
def test_every_code_is_its_typed_error(
    code: str, kind: type[ServiceError], decoder: Callable[[str, str, str], object]
) -> None:
    with pytest.raises(kind) as caught:
        decoder("SomeOp", f" {code}\n", "soap11")
    assert caught.value.code == code
    assert caught.value.operation == "SomeOp"
    assert caught.value.transport == "soap11"
    assert code in str(caught.value)


def test_message_ids() -> None:
    assert decoding.decode_message_id("SendMessages", "0106120218011881") == "0106120218011881"
    assert decoding.decode_message_id("SendMessages", "\n  0106120218011881 \n") == "0106120218011881"
    assert decoding.decode_message_id("SendMessages", "000") is None  # legacy success
    for bad in (None, "", "12345", "abc", "01061202180118810"):
        with pytest.raises(ProtocolError):
            decoding.decode_message_id("SendMessages", bad)


@pytest.mark.parametrize("empty", [None, "", "null", "Null", " NULL \n", "\n Null \n"])
def test_nothing_pending(empty: str | None) -> None:
    assert decoding.decode_replies("GET_SMS_MO", empty) == []
    assert decoding.decode_reports("SMS_Reports", empty) == []


def test_replies_with_slashes_in_content_and_document_sample() -> None:
    raw = "13580305095/收到短信 谢谢/001/2015-10-8 12:06:56|13580305096/a/b/c//001/2015-10-8 12:06:56|"
    first, second = decoding.decode_replies("GET_SMS_MO", raw)
    assert (first.mobile, first.text, first.port, first.received_at) == (
        "13580305095",
        "收到短信 谢谢",
        "001",
        datetime(2015, 10, 8, 12, 6, 56, tzinfo=SERVICE_TZ),
    )
    assert first.received_at is not None and first.received_at.isoformat() == "2015-10-08T12:06:56+08:00"
    assert (second.mobile, second.text, second.port) == ("13580305096", "a/b/c/", "001")
    assert second.raw == "13580305096/a/b/c//001/2015-10-8 12:06:56"


def test_reply_record_broken_by_a_line_wrap_is_rejoined() -> None:
    # the document's own sample wraps a record across lines
    raw = "13580305095/谢谢/001/2015-10-8 \n12:06:56|"
    [reply] = decoding.decode_replies("GET_SMS_MO", raw)
    assert reply.received_at == datetime(2015, 10, 8, 12, 6, 56, tzinfo=SERVICE_TZ)


def test_reports_document_sample() -> None:
    raw = "0105160556637232/fenglincheng123/13580305095/DELIVRD/2017-1-5 16:08:45|"
    [report] = decoding.decode_reports("SMS_Reports", raw)
    assert report.message_id == "0105160556637232" and report.uid == "fenglincheng123"
    assert report.mobile == "13580305095" and report.status == "DELIVRD" and report.delivered
    assert report.at == datetime(2017, 1, 5, 16, 8, 45, tzinfo=SERVICE_TZ)
    assert report.at.isoformat() == "2017-01-05T16:08:45+08:00"


def test_malformed_records_are_kept_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    replies = decoding.decode_replies("GET_SMS_MO", "garbage|13580305095/ok/001/2015-10-8 12:06:56|")
    assert [r.raw for r in replies] == ["garbage", "13580305095/ok/001/2015-10-8 12:06:56"]
    reports = decoding.decode_reports("SMS_Reports", "1234/x|")
    assert reports[0].raw == "1234/x" and reports[0].at is None
    assert "does not have the documented layout" in caplog.text


def test_unreadable_timestamp_keeps_the_record() -> None:
    [reply] = decoding.decode_replies("GET_SMS_MO", "13580305095/hi/001/yesterday|")
    assert reply.received_at is None and reply.text == "hi"


def test_account_document_sample_10_fields() -> None:
    info = decoding.decode_account(
        "GetUserInfo", "000/fenglincheng123/2.3000/0.1000/63/【中正云通信】/0.2000/0.3000/0.3000/winic"
    )
    assert info.uid == "fenglincheng123" and info.balance == Decimal("2.3000") and info.price == Decimal("0.1")
    assert info.chars_per_sms == 63 and info.signature == "【中正云通信】" and info.agent == "winic"
    assert (info.voice_price, info.fax_price, info.mms_price) == (Decimal("0.2"), Decimal("0.3"), Decimal("0.3"))
    assert info.company is None


def test_account_13_fields_and_signature_with_slash() -> None:
    info = decoding.decode_account("GetUserInfo_", "000/u/1/0.1/70/【A/B】/0.2/0.3/0.3/winic/ACME/Li/13800138000")
    assert info.signature == "【A/B】" and (info.company, info.contact, info.phone) == ("ACME", "Li", "13800138000")


@pytest.mark.parametrize(
    "bad",
    [
        "000/u/1",
        "001/u/1/0.1/70/s/0.2/0.3/0.3/w",
        "000/u/x/0.1/70/s/0.2/0.3/0.3/w",
        "000/u/1/0.1/seventy/s/0.2/0.3/0.3/w",
        None,
    ],
)
def test_account_garbage_is_a_protocol_error(bad: str | None) -> None:
    with pytest.raises(ProtocolError):
        decoding.decode_account("GetUserInfo", bad)


def test_ack() -> None:
    decoding.decode_ack("EditUserPwd", "000")  # accepted: no error (it returns nothing, its type says so)
    with pytest.raises(ProtocolError):
        decoding.decode_ack("EditUserPwd", "ok")


def test_service_time_layouts() -> None:
    for text, expected in [("2017-1-5 6:08:45", datetime(2017, 1, 5, 6, 8, 45)), ("2017-01-05 16:08:45", None)]:
        parsed = decoding.parse_service_time(text)  # both layouts (the padded one has its own fast path)
        assert parsed is not None and parsed.utcoffset() == timedelta(hours=8)
        if expected is not None:
            assert parsed.replace(tzinfo=None) == expected
    assert decoding.parse_service_time("2017-01-05 16:08:45") == datetime(2017, 1, 5, 8, 8, 45, tzinfo=UTC)
    assert decoding.parse_service_time("2017-13-05 16:08:45") is None
    assert decoding.parse_service_time("") is None
