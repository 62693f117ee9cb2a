"""The client side's redaction rules, as tables: what each way of showing a URL keeps and drops, what the
log masking hides, what a child process's environment loses. The end-to-end proofs (no secret in logs,
reprs, errors, CLI output or children) are in tests/client/test_client_redaction.py and
tests/reliability/test_secrets.py; these rows pin the rules themselves."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path

import pytest

import winic_soap
from winic_soap.models import SERVICE_TZ, DeliveryReport, Reply
from winic_soap.redaction import (
    child_environment,
    mask_secrets,
    mask_urls,
    mobile_for_log,
    records_for_log,
    url_for_log,
    url_without_credentials,
    url_without_password,
)

SECRET = "S3cret"

# url: (url_for_log, url_without_password, url_without_credentials)
URLS: dict[str, tuple[str, str, str | None]] = {
    "http://h/Service.asmx/GetUserInfo?uid=u&pwd=S3cret": (
        "http://h/Service.asmx/GetUserInfo",
        "http://h/Service.asmx/GetUserInfo?uid=u&pwd=S3cret",  # not a password *URL*: only the log form drops it
        "http://h/Service.asmx/GetUserInfo?uid=u&pwd=S3cret",
    ),
    "https://user:S3cret@receiver.test:8443/hook?token=S3cret#frag": (
        "https://receiver.test:8443/hook",
        "https://user:***@receiver.test:8443/hook?token=S3cret#frag",
        "https://receiver.test:8443/hook?token=S3cret#frag",
    ),
    "http://user:S3cret@proxy.test:3128": (
        "http://proxy.test:3128",
        "http://user:***@proxy.test:3128",
        "http://proxy.test:3128",
    ),
    "http://user@proxy.test:3128": ("http://proxy.test:3128", "http://user@proxy.test:3128", "http://proxy.test:3128"),
    "postgresql://u:p@S3cret@h/db": ("postgresql://h/db", "postgresql://u:***@h/db", "postgresql://h/db"),
    "postgresql://u@h/db?password=S3cret&sslmode=require": (
        "postgresql://h/db",
        "postgresql://u@h/db?password=***&sslmode=require",
        "postgresql://h/db?password=S3cret&sslmode=require",
    ),
    "postgresql:///winic?host=/run/pg&sslpassword=S3cret": (
        "postgresql:///winic",
        "postgresql:///winic?host=/run/pg&sslpassword=***",
        "postgresql:///winic?host=/run/pg&sslpassword=S3cret",
    ),
    "sqlite:////var/lib/winic/inbox.sqlite3": (
        "sqlite:////var/lib/winic/inbox.sqlite3",  # an absolute path stays absolute
        "sqlite:////var/lib/winic/inbox.sqlite3",
        "sqlite:////var/lib/winic/inbox.sqlite3",
    ),
    "host=db user=u password='S3 cret' dbname=w": (
        "host=db user=u password=*** dbname=w",  # libpq's key=value form
        "host=db user=u password=*** dbname=w",
        "host=db user=u password='S3 cret' dbname=w",
    ),
    "http://[::1:bad": ("", "", None),  # unparsable: url_without_credentials leaves it out
}


@pytest.mark.parametrize(("url", "shown"), URLS.items(), ids=list(URLS))
def test_each_way_of_showing_a_url(url: str, shown: tuple[str, str, str | None]) -> None:
    for_log, without_password, without_credentials = shown
    if without_credentials is None:
        assert url_without_credentials(url) is None
        return
    assert url_for_log(url) == for_log
    assert url_without_password(url) == without_password
    assert url_without_credentials(url) == without_credentials
    assert SECRET not in url_for_log(url)


# text: masked
TEXTS: dict[str, str] = {
    'HTTP Request: GET http://h/Service.asmx/GetUserInfo?uid=u&pwd=S3cret "HTTP/1.1 200 OK"': (
        'HTTP Request: GET http://h/Service.asmx/GetUserInfo?uid=u&pwd=*** "HTTP/1.1 200 OK"'
    ),
    "uid=u&pwd=S3cret&newpwd=S3cret2": "uid=u&pwd=***&newpwd=***",
    "UID=u&PWD=S3cret": "UID=u&PWD=***",
    "WINIC_PWD=S3cret": "WINIC_PWD=***",
    "connect_tcp.started host='proxy' proxy=http://user:S3cret@proxy.test:3128": (
        "connect_tcp.started host='proxy' proxy=http://user:***@proxy.test:3128"
    ),
    "setup_socks5_connection auth=(b'user', b'S3cret')": "setup_socks5_connection auth=(b'user', '***')",
    "nothing secret here: uid=u&mobile=138": "nothing secret here: uid=u&mobile=138",
}


@pytest.mark.parametrize(("text", "masked"), TEXTS.items(), ids=list(TEXTS))
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_mask_urls_shows_every_url_in_a_line_without_query_or_user_info() -> None:
    line = 'POST https://u:S3cret@r.test/hook?token=S3cret "HTTP/1.1 200 OK" then http://r.test/b?k=S3cret.'
    assert mask_urls(line) == 'POST https://r.test/hook "HTTP/1.1 200 OK" then http://r.test/b'


ENVIRONMENT = {
    "WINIC_PWD": SECRET,
    "WINIC_NEWPWD": SECRET,
    "WINIC_STORE": f"postgresql://u:{SECRET}@h/db",
    "WINIC_PROXY": f"http://u:{SECRET}@p:3128",
    "WINIC_WEBHOOK": f"https://r.test/hook?token={SECRET}",
    "WINIC_CERT_PASSWORD": SECRET,
    "WINIC_WEBHOOK_SECRET": SECRET,
    "winic_api_token": SECRET,  # names are compared in upper case
    "PGPASSWORD": SECRET,
    "HTTPS_PROXY": f"http://u:{SECRET}@p:3128",
    "http_proxy": f"http://u:{SECRET}@p:3128",  # lower case, as curl reads it
    "ALL_PROXY": "http://[::1:bad",  # cannot be stripped: left out
    "WINIC_UID": "demo",
    "PATH": "/usr/bin",
}


def test_a_child_environment_keeps_no_secret() -> None:
    assert child_environment(ENVIRONMENT) == {
        "HTTPS_PROXY": "http://p:3128",
        "http_proxy": "http://p:3128",
        "WINIC_UID": "demo",
        "PATH": "/usr/bin",
    }


def test_records_for_a_log_line_mask_numbers_and_drop_reply_texts() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=SERVICE_TZ)
    report = DeliveryReport(message_id="1234567890123456", uid="demo", mobile="13800138000", status="DELIVRD", at=at)
    reply = Reply(mobile="13900139000", text="验证码 424242", port="001", received_at=at)
    shown = records_for_log([report, reply])
    assert shown == (
        "1234567890123456/138****8000/DELIVRD/2026-01-02T03:04:05+08:00"
        " | 139****9000/<10 chars>/001/2026-01-02T03:04:05+08:00"
    )
    assert [mobile_for_log(m) for m in ("1380013", "12345678", "")] == ["*******", "123*5678", ""]


def test_no_module_keeps_redaction_rules_of_its_own() -> None:
    """The names the rules had before they came together stay gone: one module owns them."""
    root = Path(winic_soap.__file__).parent
    retired = {"redact", "redact_url", "display_url", "_without_credentials", "_RedactSecrets", "redacted"}
    found = []
    for path in root.rglob("*.py"):
        if "mock" in path.relative_to(root).parts:
            continue  # the fake service masks its own ledger: it imports nothing of the client
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in retired:
                found.append(f"{path.relative_to(root)}: {node.name}")
    assert found == []
