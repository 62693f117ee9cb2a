"""Answers framed the way IIS front ends and middleboxes frame them: decoded when legal, typed when not.

Every success body is the mock's own ASMX answer, forwarded through the scripted server, so the mock's
ledger says what the service processed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import helpers.scripted_server as scripts
import pytest
from helpers.drive import FLAVOURS
from helpers.rawhttp import Message
from helpers.rig import Rig

from winic_soap import ConnectionLostError, HTTPStatusError, OutcomeUnknown, ProtocolError, SendOutcomeUnknown

TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")
LEGAL = {
    "gzip": scripts.gzipped,
    "chunked": scripts.chunked,
    "chunked-gzip": lambda: scripts.chunked(compress=True),
    "folded-headers": scripts.folded,
    "two-equal-content-lengths": scripts.double_length,
    "one-100-continue": scripts.one_continue,
}
REPLY_TEXT = "好/的，验证码 123456"


def _sent_ids(rig: Rig) -> list[str]:
    return [s.message_id for s in rig.mock.state.sends]


@pytest.mark.parametrize("framing", list(LEGAL))
def test_send_answer_is_decoded_whatever_the_framing(framing: str, rig: Rig) -> None:
    server = rig.scripted(LEGAL[framing]())
    client = rig.client("sync", server.url, max_attempts=1)
    receipt = client.send(["13800138000", "13900139000"], "framed")
    assert _sent_ids(rig) == [receipt.message_id]


@pytest.mark.parametrize("framing", list(LEGAL))
def test_replies_are_decoded_whatever_the_framing(framing: str, rig: Rig) -> None:
    rig.mock.add_reply("13800138000", REPLY_TEXT)
    server = rig.scripted(LEGAL[framing]())
    client = rig.client("sync", server.url, max_attempts=1)
    assert [(r.mobile, r.text) for r in client.replies()] == [("13800138000", REPLY_TEXT)]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("charset", ["gb18030", "utf-16", "big5"])
def test_charset_named_only_in_content_type_is_honoured(charset: str, transport: str, rig: Rig) -> None:
    """RFC 7303: for XML over HTTP the ``charset`` parameter is authoritative; the body has no declaration."""
    text = "好的，验证码 123456" if charset != "big5" else "好的，驗證碼 123456"
    rig.mock.add_reply("13800138000", text)
    server = rig.scripted(scripts.recoded(charset))
    client = rig.client("sync", server.url, transport=transport, max_attempts=1)
    assert [(r.mobile, r.text) for r in client.replies()] == [("13800138000", text)]
    assert client.send("13800138000", "recoded").message_id == _sent_ids(rig)[-1]


def _forged_id(answer: Message) -> bytes:
    return re.sub(rb">(\d{16})<", b">1111111111111111<", answer.body)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bytes_after_a_send_answer_are_never_read_as_the_next_answer(transport: str, rig: Rig) -> None:
    server = rig.scripted(scripts.glued(_forged_id))
    client = rig.client("sync", server.url, transport=transport, max_attempts=1)
    receipts = [client.send("13800138000", f"send {n}").message_id for n in range(3)]
    assert "1111111111111111" not in receipts
    assert receipts == _sent_ids(rig)  # each send got its own id, in order


def test_bytes_after_a_pull_answer_never_replay_its_records(rig: Rig) -> None:
    rig.mock.add_reply("13800138000", REPLY_TEXT)
    server = rig.scripted(scripts.glued(lambda answer: answer.body))  # the same records once more
    client = rig.client("sync", server.url, max_attempts=1)
    assert len(client.replies()) == 1
    rig.mock.add_reply("13900139000", "second")
    assert [(r.mobile, r.text) for r in client.replies()] == [("13900139000", "second")]
    assert client.replies() == []


@pytest.mark.parametrize("script", [scripts.negative_length, scripts.negative_chunk], ids=["content-length", "chunk"])
def test_negative_length_is_a_protocol_error(script: Callable[[], scripts.Script], rig: Rig) -> None:
    server = rig.scripted(script())
    client = rig.client("sync", server.url, max_attempts=1)
    with pytest.raises(ProtocolError):
        client.account()
    with pytest.raises(SendOutcomeUnknown) as caught:  # the service did process it: not a plain error
        client.send("13800138000", "processed, answer unreadable")
    assert isinstance(caught.value.cause, ProtocolError)
    assert len(rig.mock.state.sends) == 1 and len(server.requests) == 2


def test_chunked_answer_over_the_size_cap_is_refused(rig: Rig) -> None:
    server = rig.scripted(scripts.oversized_chunked(2 * 1024 * 1024))  # no Content-Length to refuse it by
    client = rig.client("sync", server.url, max_attempts=1, max_response_bytes=256 * 1024)
    with pytest.raises(ProtocolError):
        client.account()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirect_is_refused_as_not_processed(flavour: str, status: int, rig: Rig) -> None:
    location = "https://sms.winic.example/webservice/Service.asmx"  # never followed: netguard would block it
    server = rig.scripted(scripts.redirect(status, location))
    client = rig.client(flavour, server.url, max_attempts=3)
    with pytest.raises(HTTPStatusError) as caught:
        client.send("13800138000", "redirected")
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert error.status == status and error.processed is False
    assert error.location == location and location in str(error)
    assert len(server.requests) == 1  # neither followed nor repeated
    assert rig.mock.ledger == []


def _head(answer: Message, *lines: str) -> bytes:
    return ("\r\n".join([answer.start, *lines]) + "\r\n\r\n").encode("latin-1")


CTYPE = "Content-Type: text/xml; charset=utf-8"
# each: how the answer is framed, from the mock's real answer; all are closed by the server afterwards
FRAMED_BY_CLOSE = {
    "HTTP/1.0 without length": lambda a: _head(a, CTYPE).replace(b"HTTP/1.1", b"HTTP/1.0", 1) + a.body,
    "HTTP/1.1 Connection: close": lambda a: (
        _head(a, CTYPE, f"Content-Length: {len(a.body)}", "Connection: close") + a.body
    ),
}
BROKEN = {
    "not HTTP at all": lambda a: b"220 smtp.example ESMTP ready\r\n\r\n",
    "header line without a colon": lambda a: (
        _head(a, CTYPE, "no colon here", f"Content-Length: {len(a.body)}") + a.body
    ),
    "Content-Length not a number": lambda a: _head(a, CTYPE, "Content-Length: x") + a.body,
    "two different Content-Lengths": lambda a: (
        _head(a, CTYPE, f"Content-Length: {len(a.body)}", "Content-Length: 5") + a.body
    ),
    "body shorter than its length": lambda a: _head(a, CTYPE, f"Content-Length: {len(a.body) + 10}") + a.body,
    "chunked, cut before the last chunk": lambda a: (
        _head(a, CTYPE, "Transfer-Encoding: chunked") + f"{len(a.body):x}\r\n".encode() + a.body + b"\r\n"
    ),
    "gzip that is not gzip": lambda a: (
        _head(a, CTYPE, "Content-Encoding: gzip", f"Content-Length: {len(a.body)}") + a.body
    ),
}


@pytest.mark.parametrize("framing", list(FRAMED_BY_CLOSE))
def test_answers_framed_by_the_close_are_read_and_the_next_call_reconnects(framing: str, rig: Rig) -> None:
    server = rig.scripted(scripts.custom(FRAMED_BY_CLOSE[framing]))
    client = rig.client("sync", server.url, max_attempts=1)
    receipts = [client.send("13800138000", f"closed after {n}").message_id for n in range(2)]
    assert receipts == _sent_ids(rig)
    assert server.connections == 2


@pytest.mark.parametrize("framing", list(BROKEN))
def test_broken_answers_are_typed_errors_and_a_send_stays_unknown(framing: str, rig: Rig) -> None:
    server = rig.scripted(scripts.custom(BROKEN[framing]))
    client = rig.client("sync", server.url, max_attempts=1)
    with pytest.raises((ProtocolError, ConnectionLostError)) as read:
        client.account()
    assert read.value.reached is True and read.value.processed is None
    with pytest.raises(SendOutcomeUnknown):  # the service processed it; only the answer is broken
        client.send("13800138000", "processed, answer broken")
    assert len(rig.mock.state.sends) == 1 and len(server.requests) == 2


def test_answer_framed_by_the_close_over_the_size_cap_is_refused(rig: Rig) -> None:
    server = rig.scripted(scripts.custom(lambda a: _head(a, CTYPE).replace(b"HTTP/1.1", b"HTTP/1.0", 1) + a.body * 50))
    client = rig.client("sync", server.url, max_attempts=1, max_response_bytes=4096)
    with pytest.raises(ProtocolError):
        client.account()
