"""Passwords never appear in a log record, an exception, a traceback or a repr, at DEBUG, on every path."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest
from helpers.shared import TRANSPORTS

from winic_soap import RetryPolicy, WinicClient, WinicError
from winic_soap.mock import Account, MockService

PWD = "S3cret-Pw-7781"
NEW = "N3w-Pw-4410"


def _exercise(client: WinicClient, mock: MockService) -> list[BaseException]:
    errors: list[BaseException] = []

    def attempt(action: Callable[[], object]) -> None:
        try:
            action()
        except WinicError as exc:
            errors.append(exc)

    attempt(lambda: client.send("13800138000", "hello"))
    attempt(lambda: client.send_international("447911123456", "hi"))
    mock.add_reply("13800138000", "hey", uid="acct")
    attempt(client.replies)
    attempt(client.reports)
    attempt(client.account)
    for fault in ("close_after", "truncate", "malformed", "http503", "close_before"):
        mock.fail(fault, times=1)
        attempt(lambda: client.send("13800138000", "x"))
        mock.fail(fault, times=1)
        attempt(client.account)
    mock.fail("code", code="-03")
    attempt(client.account)
    attempt(lambda: client.change_password(NEW))
    attempt(lambda: client.call("GetUserInfo"))
    attempt(lambda: client.send("12", "bad number"))
    return errors


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_secret_anywhere(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # root: zeep, the HTTP layer and ours
    with MockService([Account("acct", PWD)]) as mock:
        client = WinicClient(
            "acct",
            PWD,
            endpoint=mock.url,
            transport=transport,
            retry=RetryPolicy(max_attempts=2, sleep=lambda _s: None),
        )
        errors = _exercise(client, mock)
        texts = [repr(client), repr(client.settings), str(client.settings)]
        client.close()
        ledger = repr(mock.ledger)
    assert errors, "the exercise must produce errors to inspect"
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [r.getMessage() for r in caplog.records]
    texts += [caplog.text, ledger]
    for text in texts:
        assert PWD not in text and NEW not in text
    assert any(r.name == "winic_soap.http" for r in caplog.records), "DEBUG capture must include the HTTP layer"
    if transport == "http-get":
        assert any("pwd=***" in r.getMessage() for r in caplog.records)


def test_requests_and_store_urls_never_show_a_password() -> None:
    from winic_soap.core.answer import WireRequest
    from winic_soap.redaction import url_without_password

    request = WireRequest("GET", "http://h/Service.asmx/GetUserInfo?uid=u&pwd=S3cret", {}, b"pwd=S3cret")
    assert "S3cret" not in repr(request)
    for url in ("postgresql://u:S3cret@h/db", "postgresql://u@h/db?password=S3cret", "postgresql://u:p@S3cret@h/db"):
        assert "S3cret" not in url_without_password(url), url


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/winic/inbox.sqlite3",
        "sqlite:///relative.sqlite3",
        "postgresql:///winic?host=/var/run/postgresql",
        "postgresql://h/db?application_name=a%26b",
    ],
)
def test_a_store_url_without_a_password_is_shown_as_written(url: str) -> None:
    """The repr's URL is one to copy: an empty host kept its '//' (an absolute SQLite path was shown relative)."""
    from winic_soap.config import Settings

    assert f"store={url!r}" in repr(Settings(store=url))


def test_a_redacted_store_url_keeps_everything_but_the_password() -> None:
    from winic_soap.config import Settings

    shown = repr(Settings(store="postgresql:///winic?host=/run/pg&password=S3cret&sslmode=require"))
    assert "store='postgresql:///winic?host=/run/pg&password=***&sslmode=require'" in shown
