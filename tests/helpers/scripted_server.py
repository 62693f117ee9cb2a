"""A raw HTTP/1.1 server on loopback that frames the mock's real answers the way IIS front ends and
middleboxes do: trickled, behind endless ``100 Continue``, gzip, chunked, recoded, folded, redirected,
with bytes glued after the answer, with negative lengths, and closing idle keep-alive connections.

Each request is read whole, handed to a *script* (a generator of byte strings to write, ``Pause``\\s and
``CLOSE``) that may forward it to the mock first, so the mock's ledger says what was processed.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from helpers.rawhttp import LoopbackServer, Message, Reader, close_quietly, exchange, readable, render

__all__ = [
    "CLOSE",
    "Exchange",
    "Pause",
    "ScriptedServer",
    "chunked",
    "custom",
    "double_length",
    "endless_continue",
    "folded",
    "glued",
    "gzipped",
    "negative_chunk",
    "negative_length",
    "one_continue",
    "oversized_chunked",
    "plain",
    "recoded",
    "redirect",
    "trickle",
]

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
IIS = [("cache-control", "private, max-age=0"), ("server", "Microsoft-IIS/8.5"), ("x-powered-by", "ASP.NET")]


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next write (ends early when the server stops)."""

    seconds: float


CLOSE = object()  # a script step: close the connection now (FIN) without reading further requests

Step = bytes | Pause | object
Script = Callable[["Exchange"], Iterator[Step]]


@dataclass
class Exchange:
    """One request on the scripted server; ``forward()`` runs it on the mock and returns the mock's answer."""

    request: Message
    upstream: tuple[str, int] | None
    number: int  # 1-based, across all connections

    def forward(self) -> Message:
        assert self.upstream is not None, "this scripted server has no mock behind it"
        return exchange(self.upstream, self.request)


class ScriptedServer(LoopbackServer):
    """Answers every request with ``script(exchange)``; counts what happened for the test to check.

    ``idle_close``: close a keep-alive connection (FIN) after that many idle seconds, as IIS does.
    ``fin_delay``: with ``idle_close``, the server is that far away: for so long after it gave up on the
    connection its FIN is still on the way, and a request that arrives meanwhile is reset unread.
    ``stale_after``: after that many idle seconds, stop serving the connection *without* closing it (the
    FIN still "in flight"); a request that then arrives on it is reset unread, never processed.
    """

    def __init__(
        self,
        script: Script,
        upstream: tuple[str, int] | None = None,
        *,
        idle_close: float | None = None,
        stale_after: float | None = None,
        fin_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.script = script
        self.upstream = upstream
        self.idle_close = idle_close
        self.stale_after = stale_after
        self.fin_delay = fin_delay
        self.changed = threading.Condition(self.lock)
        self.requests: list[Message] = []
        self.answered = 0  # scripts run to their end
        self.hangups = 0  # connections the client closed while we were still writing an answer
        self.interim_sent = 0  # 100 Continue heads written
        self.bytes_written = 0
        self.idle_closed = 0  # connections closed by the idle timer
        self.went_stale = 0  # connections whose idle timer fired in stale_after mode
        self.stale_resets = 0  # requests that arrived on a stale connection and were reset unread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/Service.asmx"

    def wait_until(self, predicate: Callable[[ScriptedServer], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(self)`` holds (re-checked whenever a counter changes)."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    def _count(self, name: str, delta: int = 1) -> None:
        with self.changed:
            setattr(self, name, getattr(self, name) + delta)
            self.changed.notify_all()

    def _idle(self, conn: socket.socket, reader: Reader, limit: float) -> bool:
        """True when no byte of a next request arrives within ``limit`` seconds."""
        if reader.buffer:
            return False
        return not readable([conn], limit)

    def handle(self, conn: socket.socket) -> None:
        reader = Reader(conn)
        for served in range(1000):  # keep-alive requests on one connection, bounded
            if served and self.idle_close is not None and self._idle(conn, reader, self.idle_close):
                if self.fin_delay and not self._idle(conn, reader, self.fin_delay) and _peek(conn):
                    self._count("stale_resets")  # met our FIN on its way: reset, never read
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                close_quietly(conn)  # closed before anyone hears of it: a test waiting on the count
                self._count("idle_closed")  # then finds the FIN already sent
                return
            if served and self.stale_after is not None and self._idle(conn, reader, self.stale_after):
                self._count("went_stale")
                if not self._idle(conn, reader, 30.0) and conn.recv(1, socket.MSG_PEEK):
                    self._count("stale_resets")  # a request met a closing socket: reset, never read
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            request = reader.message()
            with self.changed:
                self.requests.append(request)
                number = len(self.requests)
                self.changed.notify_all()
            if not self._play(conn, Exchange(request, self.upstream, number)):
                return
            self._count("answered")

    def _play(self, conn: socket.socket, exchange_: Exchange) -> bool:
        """Run the script; False when the connection is done (closed by the script or by the client)."""
        for step in self.script(exchange_):
            if step is CLOSE:
                return False
            if isinstance(step, Pause):
                if self.stopping.wait(step.seconds):
                    return False
                continue
            assert isinstance(step, bytes)
            try:
                conn.sendall(step)
            except OSError:
                self._count("hangups")
                return False
            self._count("bytes_written", len(step))
            if step == CONTINUE:
                self._count("interim_sent")
        return True


def _peek(conn: socket.socket) -> bool:
    """Whether bytes of a request wait on ``conn`` (not just the client's own close)."""
    try:
        return bool(conn.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


# -- scripts --------------------------------------------------------------------------------------------------


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    return render(status, headers, b"")


def _typed(answer: Message) -> list[tuple[str, str]]:
    ctype = answer.header("content-type")
    return [*IIS, ("content-type", ctype)] if ctype else list(IIS)


def _whole(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    return render(status, [*headers, ("content-length", str(len(body)))], body)


def plain() -> Script:
    """The mock's answer as IIS frames it: Content-Length, keep-alive."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        yield _whole(answer.start, _typed(answer), answer.body)

    return script


def gzipped() -> Script:
    """``Content-Encoding: gzip`` (IIS dynamic compression, or a compressing middlebox)."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        body = gzip.compress(answer.body)
        yield _whole(answer.start, [*_typed(answer), ("content-encoding", "gzip"), ("vary", "Accept-Encoding")], body)

    return script


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        extension = ";name=value" if start == 0 else ""  # chunk extensions are legal and must be ignored
        yield f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\nX-Trailer: done\r\n\r\n"


def chunked(*, size: int = 37, compress: bool = False) -> Script:
    """``Transfer-Encoding: chunked`` in small chunks, each in its own write, with an extension and a trailer."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        body = gzip.compress(answer.body) if compress else answer.body
        headers = [*_typed(answer), ("transfer-encoding", "chunked")]
        if compress:
            headers.append(("content-encoding", "gzip"))
        yield _head(answer.start, headers)
        yield from _chunks(body, size)

    return script


def folded() -> Script:
    """Headers continued on the next line (obs-fold, RFC 7230 §3.2.4), as old middleboxes still send."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        ctype = answer.header("content-type") or "text/xml; charset=utf-8"
        kind, _, params = ctype.partition(";")
        head = (
            f"{answer.start}\r\nServer: Microsoft-IIS/8.5\r\nContent-Type: {kind};\r\n {params.strip()}\r\n"
            f"X-Note: first part\r\n\tsecond part\r\nContent-Length: {len(answer.body)}\r\n\r\n"
        )
        yield head.encode("latin-1") + answer.body

    return script


def double_length() -> Script:
    """Two identical ``Content-Length`` headers (a proxy that adds its own): legal, one length."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        length = ("content-length", str(len(answer.body)))
        yield render(answer.start, [*_typed(answer), length, length], answer.body)

    return script


def recoded(charset: str) -> Script:
    """The answer re-encoded in ``charset``, named only in ``Content-Type`` (the XML declaration dropped)."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        text = answer.body.decode("utf-8")
        if text.startswith("<?xml"):
            text = text[text.index("?>") + 2 :].lstrip()
        ctype = (answer.header("content-type") or "text/xml").split(";")[0]
        yield _whole(answer.start, [*IIS, ("content-type", f"{ctype}; charset={charset}")], text.encode(charset))

    return script


def one_continue() -> Script:
    """One interim ``100 Continue`` before the answer (legal: a client must skip it)."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        yield CONTINUE
        yield _whole(answer.start, _typed(answer), answer.body)

    return script


def redirect(status: int, location: str) -> Script:
    """A 3xx from the front end; the request never reaches the service (nothing forwarded)."""
    reason = {301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect"}.get(status, "")

    def script(ex: Exchange) -> Iterator[Step]:
        body = f'<html><head><title>Object moved</title></head><body><h2>Object moved to <a href="{location}">here</a>'
        body += ".</h2></body></html>"
        headers = [*IIS, ("content-type", "text/html; charset=utf-8"), ("location", location)]
        yield _whole(f"HTTP/1.1 {status} {reason}", headers, body.encode())

    return script


def glued(bogus: Callable[[Message], bytes]) -> Script:
    """The real answer with a second, complete, bogus answer glued behind it in the same write."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        extra = bogus(answer)
        yield _whole(answer.start, _typed(answer), answer.body) + _whole(answer.start, _typed(answer), extra)

    return script


def negative_length() -> Script:
    """``Content-Length: -1`` followed by the body."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        yield render(answer.start, [*_typed(answer), ("content-length", "-1")], answer.body)
        yield CLOSE

    return script


def negative_chunk() -> Script:
    """A chunked answer whose chunk size is negative."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        yield _head(answer.start, [*_typed(answer), ("transfer-encoding", "chunked")])
        yield b"-10\r\n" + answer.body + b"\r\n0\r\n\r\n"
        yield CLOSE

    return script


def oversized_chunked(size: int) -> Script:
    """A chunked answer of ``size`` bytes: no Content-Length for a client to refuse it by."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        padding = b" " * max(0, size - len(answer.body))
        yield _head(answer.start, [*_typed(answer), ("transfer-encoding", "chunked")])
        for start in range(0, len(padding), 65536):
            piece = padding[start : start + 65536]
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        yield f"{len(answer.body):x}\r\n".encode() + answer.body + b"\r\n0\r\n\r\n"

    return script


def custom(build: Callable[[Message], bytes], *, close: bool = True) -> Script:
    """Forwards, then writes ``build(answer)`` verbatim (and closes: for answers framed by the close)."""

    def script(ex: Exchange) -> Iterator[Step]:
        yield build(ex.forward())
        if close:
            yield CLOSE

    return script


def trickle(interval: float = 0.2) -> Script:
    """The whole answer, one byte every ``interval`` seconds (each read is quick; the answer never ends)."""

    def script(ex: Exchange) -> Iterator[Step]:
        answer = ex.forward()
        for byte in _whole(answer.start, _typed(answer), answer.body):
            yield bytes([byte])
            yield Pause(interval)

    return script


def endless_continue(interval: float = 0.2, limit: int = 10_000) -> Script:
    """Processes the request, then sends ``100 Continue`` every ``interval`` seconds and never the answer."""

    def script(ex: Exchange) -> Iterator[Step]:
        ex.forward()
        for _ in range(limit):
            yield CONTINUE
            yield Pause(interval)
        yield CLOSE

    return script
