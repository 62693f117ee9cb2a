"""The FastAPI and Django receivers of docs/store.md, as written there, given what a watcher sends (signed by the
reference ``standardwebhooks`` package): a delivery is accepted, its repeat (same ``webhook-id``) is
acknowledged as a duplicate, and a tampered, stale or wrongly signed one is refused with 400."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers.markdown import DOCS, block_with
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the store guide's example secret
BODY = (
    b'{"type":"reply.received","timestamp":"2026-12-06T10:00:00.000+00:00",'
    b'"data":{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","kind":"reply","mobile":"13800138000","text":"TD"}}'
)
Post = Callable[[dict[str, str], bytes], tuple[int, bytes]]


def _block(marker: str) -> dict[str, Any]:
    block = block_with(DOCS / "store.md", marker)
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(block, "docs/store.md receiver", "exec"), namespace)
    return namespace


def _fastapi() -> Post:
    app = _block("FastAPI()")["app"]

    def post(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/hooks/winic",
            "raw_path": b"/hooks/winic",
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            + [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        asyncio.run(app(scope, receive, send))
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    return post


def _django() -> Post:
    view = _block("csrf_exempt")["winic_webhook"]
    from django.core.cache import cache
    from django.test import RequestFactory

    cache.clear()

    def post(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        request = RequestFactory().post("/hooks/winic", data=body, content_type="application/json", headers=headers)
        response = view(request)
        return response.status_code, response.content

    return post


def _signed(
    body: bytes, *, msg_id: str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", at: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(at), "webhook-signature": signature}


@pytest.fixture(params=["fastapi", "django"])
def post(request: pytest.FixtureRequest) -> Post:
    return _fastapi() if request.param == "fastapi" else _django()


def test_a_delivery_is_accepted_once_and_its_repeat_is_a_duplicate(
    post: Post, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = _signed(BODY)
    first = post(headers, BODY)
    assert first[0] == 200 and b"duplicate" not in first[1]
    again = post(_signed(BODY), BODY)  # the same webhook-id, a new attempt's timestamp
    assert again[0] == 200 and b"duplicate" in again[1]
    other = post(_signed(BODY, msg_id="another-record"), BODY)
    assert other[0] == 200 and b"duplicate" not in other[1]


@pytest.mark.parametrize("attack", ["tampered", "stale", "wrong secret", "unsigned"])
def test_a_bad_delivery_is_refused_with_400(post: Post, attack: str) -> None:
    headers = _signed(BODY, at=int(time.time()) - 3600 if attack == "stale" else None)
    body = BODY
    if attack == "tampered":
        body = BODY.replace(b"TD", b"OK")
    elif attack == "wrong secret":
        headers = _signed(BODY, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    elif attack == "unsigned":
        del headers["webhook-signature"]
    status, _ = post(headers, body)
    assert status == 400
