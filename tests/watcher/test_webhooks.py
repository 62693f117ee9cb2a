"""The receiving side (``winic_soap.webhooks.verify``/``sign``) against the reference ``standardwebhooks``
package, and the webhook settings (URLs, secret, schedule) from arguments, environment and TOML."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from winic_soap import ConfigurationError, Settings
from winic_soap.config import WEBHOOK_RETRY_SCHEDULE
from winic_soap.webhooks import WebhookVerificationError, new_secret, parse_secret, sign, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = '{"type":"reply.received","data":{"mobile":"13800138000","text":"退订"}}'.encode()


def _signed_by_reference(
    secret: str, body: bytes, at: int, msg_id: str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body)
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(at), "Webhook-Signature": signature}


def test_verify_accepts_what_the_reference_signs_and_returns_the_body() -> None:
    headers = _signed_by_reference(SECRET, BODY, int(time.time()))
    assert verify(headers, BODY, SECRET) == {
        "type": "reply.received",
        "data": {"mobile": "13800138000", "text": "退订"},
    }


def test_sign_is_what_the_reference_verifies() -> None:
    at = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(at),
        "webhook-signature": sign("msg_1", at, BODY, SECRET),
    }
    assert Webhook(SECRET).verify(BODY, headers)["type"] == "reply.received"


def test_verify_takes_any_of_several_signatures_while_a_secret_rotates() -> None:
    at = int(time.time())
    old = sign("msg_1", at, BODY, new_secret())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(at),
        "webhook-signature": f"{old} v1,AAAA {sign('msg_1', at, BODY, SECRET)}",
    }
    assert verify(headers, BODY, SECRET)["data"]["text"] == "退订"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("body", "no webhook-signature matches"),
        ("secret", "no webhook-signature matches"),
        ("id", "no webhook-signature matches"),
        ("old", "more than 300 s away from now"),
        ("future", "more than 300 s away from now"),
        ("timestamp", "not a Unix time"),
        ("missing", "missing webhook-id"),
    ],
)
def test_verify_refuses(change: str, message: str) -> None:
    now = int(time.time())
    at = {"old": now - 301, "future": now + 301}.get(change, now)
    headers = _signed_by_reference(SECRET, BODY, at)
    body, secret = BODY, SECRET
    if change == "body":
        body = BODY.replace(b"13800138000", b"13800138001")
    elif change == "secret":
        secret = new_secret()
    elif change == "id":
        headers["Webhook-Id"] = "another-id"
    elif change == "timestamp":
        headers["Webhook-Timestamp"] = "yesterday"
    elif change == "missing":
        del headers["Webhook-Signature"]
    with pytest.raises(WebhookVerificationError, match=message):
        verify(headers, body, secret)


def test_verify_tolerance_and_clock_are_the_callers() -> None:
    headers = _signed_by_reference(SECRET, BODY, 1_800_000_000)
    assert verify(headers, BODY, SECRET, now=1_800_000_000 + 60, tolerance=120)["type"] == "reply.received"
    with pytest.raises(WebhookVerificationError):
        verify(headers, BODY, SECRET, now=1_800_000_000 + 60, tolerance=30)


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), "whsec_"])
def test_a_bad_secret_is_a_configuration_error_that_does_not_echo_it(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_secret(bad)
    assert bad.removeprefix("whsec_") not in str(caught.value) or not bad.removeprefix("whsec_")
    assert "webhook_secret" in str(caught.value)


def test_new_secret_is_whsec_base64_of_32_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(parse_secret(secret)) == 32
    assert Webhook(secret)  # the reference reads it too


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {
        "WINIC_WEBHOOK": "https://a.example/hook http://127.0.0.1:9/b?token=t0k3n",
        "WINIC_WEBHOOK_SECRET": SECRET,
        "WINIC_WEBHOOK_RETRY_SCHEDULE": "[1, 1, 1]",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    settings = Settings.load(env=env)
    assert settings.webhooks == ("https://a.example/hook", "http://127.0.0.1:9/b?token=t0k3n")
    assert settings.webhook_retry_schedule == (1.0, 1.0, 1.0)
    assert settings.webhook_secret == SECRET
    shown = repr(settings)
    assert SECRET.removeprefix("whsec_") not in shown and "t0k3n" not in shown


def test_settings_from_toml_and_the_default_schedule(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'webhooks = ["https://a.example/hook"]\nwebhook_secret = "{SECRET}"\nwebhook_retry_schedule = [5, 60]\n',
        encoding="utf-8",
    )
    settings = Settings.load(config=config, env={})
    assert settings.webhooks == ("https://a.example/hook",)
    assert settings.webhook_retry_schedule == (5.0, 60.0)
    assert Settings().webhook_retry_schedule == WEBHOOK_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webhooks": "ftp://a.example/x"}, "webhooks: each must be an http"),
        ({"webhooks": "https://"}, "webhooks: each must be an http"),
        ({"webhook_retry_schedule": "1, soon"}, "webhook_retry_schedule must be a list of numbers"),
        ({"webhook_retry_schedule": "1, -1"}, "webhook_retry_schedule must be a list of waits"),
        ({"webhook_secret": "whsec_%%%%"}, "webhook_secret must be whsec_"),
    ],
)
def test_bad_webhook_settings_name_the_field_and_the_rule(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Settings.load(env={}, config=None, **values)
    assert "%%%%" not in str(caught.value)
