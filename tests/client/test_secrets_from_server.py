"""Text the server sends back can quote the request: ASP.NET request validation echoes a window of the
offending value (``pwd="...<Zebra-2026..."``), its yellow error page HTML-encodes the same, an IIS
detailed error shows the URL with ``pwd=``, a fault or exception may quote the whole password. None of
it reaches an exception (str, repr, args, body, causes, traceback), a log record at DEBUG, or the CLI's
output at ``-vv``: neither the password nor, for ``change_password``, the new one.
"""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from helpers.shared import TRANSPORTS, cli_env, run_cli

from winic_soap import RetryPolicy, WinicClient, WinicError
from winic_soap.mock import Account, MockService, protocol

PWD = "Tq9-long-secret-<Zebra-2026-xyz-tail"  # "<Z" is what request validation calls dangerous
NEW = 'N3w"pw&-another-<Quite-long-value-77'


def validation_window(value: str) -> str:
    """The part of ``value`` ASP.NET quotes: from 10 characters before the dangerous ``<`` to 20 after,
    with ``...`` where it cut (System.Web ``HttpRequest.ValidateString``)."""
    at = value.index("<")
    start, end = max(0, at - 10), min(len(value), at + 20)
    return ("..." if start else "") + value[start:end] + ("..." if end < len(value) else "")


def secrets_shown(secret: str) -> list[str]:
    """Every form of ``secret`` a server may send back, each of which must be gone."""
    window = validation_window(secret)
    return [secret, window, window.strip("."), html.escape(secret), quote_plus(secret), html.escape(window)]


def _validation(key: str, value: str) -> str:
    return (
        "System.Web.HttpRequestValidationException: A potentially dangerous Request.Form value was detected "
        f'from the client ({key}="{validation_window(value)}").\r\n'
        "   at System.Web.HttpRequest.ValidateString(String value, String collectionKey, "
        "RequestValidationSource requestCollection)\r\n"
    )


def _yellow_page(key: str, value: str) -> str:
    message = html.escape(_validation(key, value).splitlines()[0])
    return (
        f"<html><head><title>{message}</title></head><body><h1>Server Error in '/' Application.</h1>"
        f"<h2><i>{message}</i></h2><b>Description:</b> ASP.NET has detected data in the request that is "
        f"potentially dangerous.<pre>[HttpRequestValidationException (0x80004005): {message}]</pre></body></html>"
    )


def _iis_detailed(key: str, value: str) -> str:
    return (
        "<html><body><h3>HTTP Error 500.0 - Internal Server Error</h3><table><tr><th>Requested URL</th>"
        f"<td>http://service2.winic.org:80/Service.asmx/SendMessages?uid=demo&amp;{key}={quote_plus(value)}"
        "&amp;tos=13800138000</td></tr></table></body></html>"
    )


def _quoting_whole(key: str, value: str) -> str:
    return f"System.Data.SqlClient.SqlException: Login failed for user 'demo' with {key} '{value}'.\r\n"


PAGES: dict[str, tuple[str, Callable[[str, str], str]]] = {
    "request validation, text/plain": ("text/plain; charset=utf-8", _validation),
    "ASP.NET yellow page, text/html": ("text/html; charset=utf-8", _yellow_page),
    "IIS detailed error with the URL": ("text/html; charset=utf-8", _iis_detailed),
    "an exception quoting the value": ("text/plain; charset=utf-8", _quoting_whole),
}
WRITES: dict[str, tuple[str, str, str, Callable[[WinicClient], Any]]] = {
    # operation, echoed key, echoed value, action
    "send": ("SendMessages", "pwd", PWD, lambda c: c.send("13800138000", "hello")),
    "change_password, old": ("EditUserPwd", "pwd", PWD, lambda c: c.change_password(NEW)),
    "change_password, new": ("EditUserPwd", "newpwd", NEW, lambda c: c.change_password(NEW)),
}


def _fault(version: str, key: str, value: str) -> dict[str, Any]:
    message = (
        "System.Web.Services.Protocols.SoapException: Server was unable to process request. ---> "
        f'System.ArgumentException: bad {key} {value!r} ({key}="{validation_window(value)}")'
    )
    response = protocol.render_fault(version, protocol.Fault(False, message))
    return {"status": 500, "body": response.body, "content_type": response.content_type}


def _everything_in(exc: BaseException) -> str:
    """Every text an error carries, through its causes."""
    parts: list[str] = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        parts += [str(error), repr(error), repr(error.args)]
        for name in ("body", "raw", "location", "text"):
            value = getattr(error, name, None)
            parts.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
        stack += [error.__cause__, error.__context__, getattr(error, "cause", None), getattr(error, "error", None)]
    return "\n".join(parts)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) + repr(r.__dict__) for r in caplog.records)


def _assert_clean(text: str) -> None:
    for secret in (PWD, NEW):
        for shown in secrets_shown(secret):
            assert shown not in text, f"{shown!r} leaked"


def _run(mock: MockService, transport: str, action: Callable[[WinicClient], Any]) -> WinicError:
    with WinicClient(
        "demo", PWD, endpoint=mock.url, transport=transport, retry=RetryPolicy(sleep=lambda _s: None)
    ) as c:
        with pytest.raises(WinicError) as caught:
            action(c)
        _assert_clean(repr(c) + repr(c.settings))
    return caught.value


@pytest.fixture
def mock() -> Iterator[MockService]:
    with MockService([Account("demo", PWD)]) as service:
        yield service


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("page", PAGES, ids=PAGES.keys())
@pytest.mark.parametrize("write", WRITES, ids=WRITES.keys())
def test_error_pages_echoing_a_secret(
    mock: MockService, caplog: pytest.LogCaptureFixture, transport: str, page: str, write: str
) -> None:
    caplog.set_level(logging.DEBUG)
    operation, key, value, action = WRITES[write]
    content_type, render = PAGES[page]
    mock.fail("reply", operation=operation, status=500, body=render(key, value), content_type=content_type)
    error = _run(mock, transport, action)
    _assert_clean(_everything_in(error))
    _assert_clean(_logged(caplog))
    assert "***" in _everything_in(error)  # the page is still there to read, minus the secret


@pytest.mark.parametrize("transport", ["soap11", "soap12"])
@pytest.mark.parametrize("write", WRITES, ids=WRITES.keys())
def test_soap_fault_echoing_a_secret(
    mock: MockService, caplog: pytest.LogCaptureFixture, transport: str, write: str
) -> None:
    caplog.set_level(logging.DEBUG)
    operation, key, value, action = WRITES[write]
    mock.fail("reply", operation=operation, **_fault(transport, key, value))
    error = _run(mock, transport, action)
    assert "SoapFaultError" in _everything_in(error)
    _assert_clean(_everything_in(error))
    _assert_clean(_logged(caplog))


@pytest.mark.parametrize("transport", ["soap11", "http-post"])
def test_a_read_retried_after_an_echoing_page(
    mock: MockService, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    """A read is retried: the retry's warning quotes the error, and must be as clean as the error."""
    caplog.set_level(logging.DEBUG)
    body = _quoting_whole("pwd", PWD)
    mock.fail("reply", operation="GetUserInfo", status=503, body=body, content_type="text/plain", times=2)
    with WinicClient(
        "demo", PWD, endpoint=mock.url, transport=transport, retry=RetryPolicy(sleep=lambda _s: None)
    ) as c:
        assert c.account().uid == "demo"
    assert any("retrying" in r.getMessage() for r in caplog.records)
    _assert_clean(_logged(caplog))


CLI_CASES = {
    "send, request validation": (
        ["send", "13800138000", "-m", "hi"],
        "SendMessages",
        "text/plain; charset=utf-8",
        _validation("pwd", PWD),
    ),
    "send, yellow page": (
        ["send", "13800138000", "-m", "hi"],
        "SendMessages",
        "text/html; charset=utf-8",
        _yellow_page("pwd", PWD),
    ),
    "send, exception quoting it": (
        ["send", "13800138000", "-m", "hi"],
        "SendMessages",
        "text/plain; charset=utf-8",
        _quoting_whole("pwd", PWD),
    ),
    "new password, request validation": (
        ["call", "EditUserPwd", f"newpwd={NEW}"],
        "EditUserPwd",
        "text/plain; charset=utf-8",
        _validation("newpwd", NEW),
    ),
    "new password, exception quoting it": (
        ["call", "EditUserPwd", f"newpwd={NEW}"],
        "EditUserPwd",
        "text/plain; charset=utf-8",
        _quoting_whole("newpwd", NEW),
    ),
}


@pytest.mark.parametrize("transport", ["soap11", "http-post"])
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
@pytest.mark.parametrize(("args", "operation", "ctype", "body"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_at_debug(  # noqa: PLR0917
    mock: MockService,
    tmp_path: Path,
    transport: str,
    as_json: bool,
    args: list[str],
    operation: str,
    ctype: str,
    body: str,
) -> None:
    mock.fail("reply", operation=operation, status=500, body=body, content_type=ctype)
    env = cli_env(mock.url, tmp_path, pwd=PWD)
    result = run_cli(env, *args, "-vv", "--transport", transport, *(["--json"] if as_json else []))
    assert result.returncode in (7, 8), result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "DEBUG" in output  # -vv did log
    for secret in (PWD,) + ((NEW,) if operation == "EditUserPwd" else ()):
        for shown in secrets_shown(secret):
            assert shown not in output, f"{shown!r} leaked:\n{output}"
