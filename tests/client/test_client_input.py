"""Bad input: a typed error naming the field and the rule, raised before anything goes on the wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from helpers.shared import MakeClient

from winic_soap import ConfigurationError, InputError, WinicClient
from winic_soap.mock import MockService

NOW = datetime.now()
BAD_SENDS: list[tuple[str, Callable[[WinicClient], object], str]] = [
    ("not a number", lambda c: c.send("12345", "x"), "recipients[0]"),
    ("no numbers", lambda c: c.send([], "x"), "recipients"),
    ("landline", lambda c: c.send(["13800138000", "010-12345678"], "x"), "recipients[1]"),
    ("not a string", lambda c: c.send(["13800138000", 13900139000], "x"), "recipients[1]"),  # type: ignore[list-item]  # the wrong type is the test
    ("foreign in domestic", lambda c: c.send("+44 7911 123456", "x"), "recipients[0]"),
    ("empty text", lambda c: c.send("13800138000", ""), "text"),
    ("blank text", lambda c: c.send("13800138000", "  \n "), "text"),
    ("text not str", lambda c: c.send("13800138000", None), "text"),  # type: ignore[arg-type]  # the wrong type is the test
    ("ext letters", lambda c: c.send("13800138000", "x", ext="12a"), "ext"),
    ("ext too long", lambda c: c.send("13800138000", "x", ext="12345678901"), "ext"),
    ("ext empty", lambda c: c.send("13800138000", "x", ext=""), "ext"),
    ("ext unicode digits", lambda c: c.send("13800138000", "x", ext="１２"), "ext"),
    ("at in the past", lambda c: c.send("13800138000", "x", at=NOW - timedelta(minutes=1)), "at"),
    ("at not datetime", lambda c: c.send("13800138000", "x", at="2030-01-01"), "at"),  # type: ignore[arg-type]  # the wrong type is the test
    ("concurrency zero", lambda c: c.send("13800138000", "x", concurrency=0), "concurrency"),
    ("intl mixed countries", lambda c: c.send_international(["447911123456", "33612345678"], "x"), "recipients"),
    ("intl too short", lambda c: c.send_international("4412", "x"), "recipients[0]"),
    ("intl no country", lambda c: c.send_international("0212345678", "x"), "recipients[0]"),
    ("port letters", lambda c: c.replies(port="abc"), "port"),
    (
        "register empty company",
        lambda c: c.register("u", "p", company="", contact="l", mobile="13800138000"),
        "company",
    ),
    ("register bad mobile", lambda c: c.register("u", "p", company="c", contact="l", mobile="123"), "mobile[0]"),
    ("empty new password", lambda c: c.change_password(""), "new"),
    ("call unknown op", lambda c: c.call("SendFax"), "operation"),
    ("call unknown param", lambda c: c.call("GetUserInfo", bogus="1"), "bogus"),
]


@pytest.mark.parametrize(("why", "action", "field"), BAD_SENDS, ids=[b[0] for b in BAD_SENDS])
def test_bad_input_never_reaches_the_wire(
    make_client: MakeClient, winic_mock: MockService, why: str, action: Callable[[WinicClient], object], field: str
) -> None:
    client = make_client()
    with pytest.raises(InputError) as caught:
        action(client)
    assert caught.value.field == field
    assert caught.value.rule and field in str(caught.value)
    assert winic_mock.ledger == [] and winic_mock.connections_total == 0


def test_strict_mode_refuses_forbidden_characters(make_client: MakeClient, winic_mock: MockService) -> None:
    with pytest.raises(InputError, match="forbids") as caught:
        make_client(strict_text=True).send("13800138000", "100% sure")
    assert caught.value.field == "text" and winic_mock.ledger == []


@pytest.mark.parametrize(("uid", "pwd"), [("", "pw"), ("demo", ""), ("", "")])
def test_empty_credentials(make_client: MakeClient, winic_mock: MockService, uid: str, pwd: str) -> None:
    client = make_client(uid=uid, pwd=pwd)
    for action in (lambda: client.send("13800138000", "x"), client.reports, client.account):
        with pytest.raises(InputError, match="credentials"):
            action()
    assert winic_mock.ledger == []


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"transport": "soap13"}, "transport must be one of"),
        ({"endpoint": "ftp://example/Service.asmx"}, "endpoint must be an http"),
        ({"endpoint": "not a url"}, "endpoint must be an http"),
        ({"endpoint": "http://user:pw@127.0.0.1/Service.asmx"}, "must not embed credentials"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"no_such_option": 1}, "no_such_option"),
        ({"wsdl": "/nonexistent/service.wsdl"}, "cannot load WSDL"),
    ],
)
def test_configuration_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        WinicClient("demo", "pw", **options)


def test_input_error_is_a_value_error() -> None:
    assert issubclass(InputError, ValueError) and issubclass(ConfigurationError, ValueError)
