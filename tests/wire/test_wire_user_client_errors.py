"""What a user's own ``http_client=`` raises on its own is still our typed error with the right verdict:
a ``raise_for_status`` response hook gives the error (and the retry, and the unknown outcome of a send) the
same answer gives without the hook; a client following redirects round a loop gives an HTTPStatusError
saying nobody knows what ran, never a generic failure, and a send is never repeated."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from helpers.rig import Rig

from winic_soap import AsyncWinicClient, HTTPStatusError, SendOutcomeUnknown, WinicClient, WinicError


def _raise_for_status(response: httpx2.Response) -> None:
    response.raise_for_status()


async def _araise_for_status(response: httpx2.Response) -> None:
    response.raise_for_status()


def _failure(rig: Rig, http: httpx2.Client, call: str) -> WinicError:
    client = WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1)
    with client, pytest.raises(WinicError) as caught:
        client.send("13800138000", "hooked") if call == "send" else client.account()
    return caught.value


def _facts(error: WinicError) -> tuple[Any, ...]:
    """What a caller can act on: the class, and the answer's status and verdict (of the cause, for an
    unknown outcome)."""
    cause = error.cause if isinstance(error, SendOutcomeUnknown) else error
    return type(error), type(cause), getattr(cause, "status", None), getattr(cause, "processed", "-")


FAULTS = {
    "503 page": {"kind": "http503"},
    "500 page": {"kind": "http500"},
    "404 page": {"kind": "reply", "status": 404, "content_type": "text/html", "body": b"<h1>Not Found</h1>"},
}


@pytest.mark.parametrize("call", ["account", "send"])
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_raise_for_status_hook_changes_nothing_about_the_error(rig: Rig, fault: dict[str, Any], call: str) -> None:
    seen = []
    for hooks in ({}, {"response": [_raise_for_status]}):
        rig.mock.fail(**fault, times=None)
        with httpx2.Client(event_hooks=hooks) as http:
            seen.append(_facts(_failure(rig, http, call)))
        rig.mock.faults.clear()
    plain, hooked = seen
    assert hooked == plain
    assert hooked[1] is HTTPStatusError  # not a generic TransportError
    assert rig.mock.state.sends == []  # the fault answered instead of the service


def test_a_raise_for_status_hook_on_an_async_client_gives_the_same_error(rig: Rig) -> None:
    rig.mock.fail("http503", times=None)

    async def scenario() -> WinicError:
        async with (
            httpx2.AsyncClient(event_hooks={"response": [_araise_for_status]}) as http,
            AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1) as c,
        ):
            with pytest.raises(WinicError) as caught:
                await c.send("13800138000", "hooked")
            return caught.value

    error = asyncio.run(scenario())
    assert _facts(error) == (SendOutcomeUnknown, HTTPStatusError, 503, None)


class _Loop(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 307 to itself: a redirect loop (a misconfigured front, say)."""

    hits: list[str]

    def _redirect(self) -> None:
        self.hits.append(self.command)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(307)
        self.send_header("Location", f"http://{self.headers['host']}/Service.asmx")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def loop_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Loop", (_Loop,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/Service.asmx", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_loop_on_a_users_client_is_an_unknown_outcome_sent_once(loop_server: tuple[str, list[str]]) -> None:
    url, hits = loop_server
    with (
        httpx2.Client(follow_redirects=True, max_redirects=3) as http,
        WinicClient("demo", "demo-secret", endpoint=url, http_client=http) as client,
    ):
        with pytest.raises(SendOutcomeUnknown) as caught:
            client.send("13800138000", "round and round")
        cause = caught.value.cause
        assert isinstance(cause, HTTPStatusError)
        assert (cause.status, cause.processed, cause.location) == (307, None, url)
        assert hits == ["POST"] * 4  # the first and three redirects (307 re-posts), and no retry of the send
        hits.clear()
        with pytest.raises(HTTPStatusError) as read:
            client.account()
        assert read.value.status == 307 and hits == ["POST"] * 4  # a read is not retried on a 3xx either


def test_a_redirect_loop_on_a_users_async_client_is_the_same(loop_server: tuple[str, list[str]]) -> None:
    url, hits = loop_server

    async def scenario() -> WinicError:
        async with (
            httpx2.AsyncClient(follow_redirects=True, max_redirects=2) as http,
            AsyncWinicClient("demo", "demo-secret", endpoint=url, http_client=http) as client,
        ):
            with pytest.raises(WinicError) as caught:
                await client.send("13800138000", "round and round")
            return caught.value

    error = asyncio.run(scenario())
    assert _facts(error) == (SendOutcomeUnknown, HTTPStatusError, 307, None)
    assert hits == ["POST"] * 3
