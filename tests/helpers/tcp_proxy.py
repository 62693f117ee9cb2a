"""One TCP proxy on 127.0.0.1 in front of one upstream (the mock, PostgreSQL) that a test turns faulty.

Byte framing (the default) pumps bytes both ways and obeys :attr:`TcpProxy.mode`: ``pass``; ``refuse``
(new connections reset at the door); ``blackhole`` (connections kept open, nothing forwarded either way:
a partitioned network). :meth:`TcpProxy.on` switches mode when a client sends a chosen statement;
:meth:`TcpProxy.lose_commit_ack` lets a COMMIT reach the database and drops its answer (committed, never
acknowledged). HTTP framing (``http=True``) reads whole requests and answers and applies one scripted
fault per request (:meth:`TcpProxy.script`): ``stall``, ``reset_before``, ``reset_after``, ``truncate``.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal, get_args
from urllib.parse import urlsplit, urlunsplit

__all__ = ["HttpFault", "Mode", "TcpProxy", "tcp_proxy"]

Mode = Literal["pass", "refuse", "blackhole"]
HttpFault = Literal["pass", "stall", "reset_before", "reset_after", "truncate"]
HTTP_FAULTS: tuple[HttpFault, ...] = get_args(HttpFault)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset rather than a FIN."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP request or response with a Content-Length body (what the client and the mock send)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class _Link:
    """One client connection and its upstream twin (byte framing)."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.armed = False  # the trigger statement went out on this connection
        self.commit_sent = False  # ... and then its COMMIT: the answer to it is dropped
        self.tail = b""  # the end of the last chunk sent to the server: a statement split in two is seen


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to the host and port of ``upstream_url``; ``url`` is that URL through it."""

    def __init__(self, upstream_url: str, *, http: bool = False) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.http = http
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        userinfo, at, _ = parts.netloc.rpartition("@")
        self.url = urlunsplit(parts._replace(netloc=f"{userinfo}{at}127.0.0.1:{self.port}"))
        self.mode: Mode = "pass"
        self.refused = 0  # connections reset at the door
        self.commits_lost = 0  # COMMITs that reached the server and whose answer was dropped
        self.handled: list[HttpFault] = []  # HTTP framing: what each request met
        self._trigger: bytes | None = None  # a statement that switches mode (on) or arms a lost COMMIT
        self._then: Mode = "pass"
        self._lose_commit = False
        self._fault: HttpFault = "pass"
        self._times = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    # -- what a test does --------------------------------------------------------------------------------
    def set(self, mode: Mode, *, cut_live: bool = False) -> None:
        """``mode`` for the traffic from now on; ``cut_live`` also resets every open connection."""
        with self._lock:
            self.mode, self._trigger, self._lose_commit = mode, None, False
            live: list[socket.socket] = []
            if cut_live:
                live, self._sockets = self._sockets, []
        for sock in live:
            _reset(sock)

    def cut(self) -> None:
        """The database host gone: every connection reset, new ones refused until :meth:`restore`."""
        self.set("refuse", cut_live=True)

    def restore(self) -> None:
        """The network fine again: traffic passes (connections already cut stay cut)."""
        self.set("pass")

    def on(self, statement: bytes, mode: Mode) -> None:
        """Pass until a client sends ``statement``, then ``mode`` from then on, that statement included:
        ``refuse`` resets that connection (the statement never reaches the server), ``blackhole`` swallows
        it and everything after it (nobody hears back)."""
        with self._lock:
            self.mode, self._trigger, self._then, self._lose_commit = "pass", statement, mode, False

    def lose_commit_ack(self, after: bytes = b"", *, then: Mode = "pass") -> None:
        """The next COMMIT on a connection that sent ``after`` (any, when empty) reaches the server; its
        answer is dropped and that connection reset (the client cannot tell whether it committed). Then
        ``then``: ``pass`` (one lost acknowledgement, the network fine again) or ``refuse`` (every
        connection reset and new ones refused until :meth:`restore`)."""
        with self._lock:
            self.mode, self._trigger, self._then, self._lose_commit = "pass", after, then, True

    def script(self, fault: HttpFault, times: int = 1) -> None:
        """HTTP framing: the next ``times`` requests meet ``fault`` (``stall``: held until the client gives
        up; ``reset_before``: reset unforwarded; ``reset_after``: forwarded, the answer replaced by a reset;
        ``truncate``: half the answer's body, then closed)."""
        assert self.http and fault in HTTP_FAULTS
        with self._lock:
            self._fault, self._times = fault, times

    def close(self) -> None:
        """Stop listening and reset every connection still open."""
        self._stop.set()
        self.listener.close()
        self.set(self.mode, cut_live=True)

    # -- the machinery -----------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                with self._lock:
                    self.refused += 1
                _reset(client)
                continue
            target = self._serve_http if self.http else self._connect
            threading.Thread(target=target, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        link = _Link(client, upstream)
        with self._lock:
            # cut (or set to refuse) while this connection was being linked: it never got through, so it is
            # refused like one that came after (left open, it would outlive the cut and carry traffic)
            refused = self.mode == "refuse"
            if refused:
                self.refused += 1
            else:
                self._sockets += [client, upstream]
        if refused:
            _reset(client)
            _reset(upstream)
            return
        threading.Thread(target=self._pipe, args=(link, False), daemon=True).start()
        self._pipe(link, True)

    def _pipe(self, link: _Link, from_client: bool) -> None:
        source, target = (link.client, link.upstream) if from_client else (link.upstream, link.client)
        try:
            while data := source.recv(65536):
                if not from_client and link.commit_sent:  # the answer to the COMMIT: the client never sees it
                    self._commit_lost()
                    break
                if self.mode == "blackhole":
                    continue  # swallowed: both sides wait
                verdict = self._client_sent(link, data) if from_client else "on"
                if verdict == "end":  # the statement never reaches the server; nor does anything after it
                    break
                if verdict == "swallow":  # the trigger statement and everything after it vanish
                    continue
                target.sendall(data)
                if verdict == "commit":
                    return  # the server side resets both once the answer came
        except OSError:
            pass
        finally:  # one side ended: end the other too, as a cut network would (unless a COMMIT awaits its answer)
            if not (from_client and link.commit_sent):
                _reset(source)
                _reset(target)

    def _client_sent(self, link: _Link, data: bytes) -> Literal["on", "end", "swallow", "commit"]:
        """What becomes of a chunk from the client: switches mode or arms the link on the trigger."""
        seen, link.tail = link.tail + data, data[-64:]
        with self._lock:
            if self._trigger is not None and self._trigger in seen:
                link.armed = True
                if not self._lose_commit:
                    self.mode, self._trigger = self._then, None
                    if self.mode != "pass":
                        return "end" if self.mode == "refuse" else "swallow"
            if b"COMMIT" in data:
                if self._lose_commit and link.armed:
                    link.commit_sent = True  # set before the COMMIT leaves, so its answer is dropped
                    self._trigger, self._lose_commit = None, False
                    return "commit"
                link.armed = False  # armed per transaction
        return "on"

    def _commit_lost(self) -> None:
        """The answer to an armed COMMIT was dropped: count it, then pass again or cut everything."""
        with self._lock:
            self.commits_lost += 1
            then = self._then
        if then == "refuse":
            self.cut()
        else:
            self.set("pass")

    def _next_fault(self) -> HttpFault:
        with self._lock:
            if self._times > 0:
                self._times -= 1
                return self._fault
            return "pass"

    def _serve_http(self, client: socket.socket) -> None:
        """One client connection (it may carry several keep-alive requests); each request goes upstream
        on a connection of its own."""
        try:
            client.settimeout(10)
            while request := _read_message(client):
                fault = self._next_fault()
                self.handled.append(fault)
                if fault == "stall":
                    self._stop.wait(5)  # hold the request; the client times out
                    break
                if fault == "reset_before":
                    _reset(client)
                    return
                with socket.create_connection(self.upstream, timeout=10) as upstream:
                    upstream.sendall(request)
                    response = _read_message(upstream)
                if fault == "reset_after":
                    _reset(client)
                    return
                if fault == "truncate":
                    body = len(response) - response.find(b"\r\n\r\n")
                    client.sendall(response[: len(response) - max(1, body // 2)])
                    break
                client.sendall(response)
        except OSError:
            pass
        client.close()


@contextmanager
def tcp_proxy(upstream_url: str, *, http: bool = False) -> Iterator[TcpProxy]:
    """A proxy in front of the host and port of ``upstream_url``, always closed."""
    proxy = TcpProxy(upstream_url, http=http)
    try:
        yield proxy
    finally:
        proxy.close()
