"""Byte-level HTTP/1.1 helpers shared by the test servers: read one message, relay a tunnel."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024


class PeerClosed(Exception):
    """The other side closed (or broke) the connection before a whole message arrived."""


@dataclass
class Message:
    """One request or response as read off a socket: start line, headers (lower-cased names), body."""

    start: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.start.split(" ")[1]


class Reader:
    """Buffered reads of whole HTTP messages (Content-Length framing: what httpx2 and the mock send)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (OSError, ssl.SSLError) as exc:
            raise PeerClosed(str(exc)) from exc
        if not chunk:
            raise PeerClosed("end of stream")
        self.buffer += chunk

    def message(self) -> Message:
        """The next message; PeerClosed when the stream ends first."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise PeerClosed("head too large")
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        message = Message(lines[0], headers)
        length = int(message.header("content-length") or 0)
        if not 0 <= length <= MAX_BODY:
            raise PeerClosed(f"unusable Content-Length {length}")
        while len(self.buffer) < length:
            self._fill()
        message.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return message


def render(start: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A message back to bytes, headers as given (no Content-Length added)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"{start}\r\n{head}\r\n".encode("latin-1") + body


def readable(socks: list[socket.socket], timeout: float) -> list[socket.socket]:
    """Those of ``socks`` with something to read within ``timeout`` (epoll: no select() limit at fd 1024)."""
    by_fd = {sock.fileno(): sock for sock in socks}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        return [by_fd[key.fd] for key, _ in selector.select(timeout)]


def relay(a: socket.socket, b: socket.socket, stop: threading.Event, idle: float = 30.0) -> None:
    """Copy bytes both ways until either side closes, ``stop`` is set, or nothing moves for ``idle`` s."""
    quiet = 0.0
    while not stop.is_set() and quiet < idle:
        # TLS sockets may hold decrypted bytes that select() cannot see
        ready: list[socket.socket] = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready = readable([a, b], 0.1)
        if not ready:
            quiet += 0.1
            continue
        quiet = 0.0
        for source in ready:
            target = b if source is a else a
            try:
                data = source.recv(65536)
                if not data:
                    return
                target.sendall(data)
            except (OSError, ssl.SSLError):
                return


class LoopbackServer:
    """A listener on 127.0.0.1 (free port) with one thread per connection; ``stop()`` ends them all."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=type(self).__name__, daemon=True)

    def start(self) -> LoopbackServer:
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            conn.settimeout(10)
            with self.lock:
                self.connections += 1
                self._open.add(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ssl.SSLError, PeerClosed):
            pass
        finally:
            with self.lock:
                self._open.discard(conn)
            close_quietly(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def track(self, sock: socket.socket) -> None:
        """Also shut ``sock`` (an upstream connection, a wrapped socket) down on stop()."""
        with self.lock:
            self._open.add(sock)

    def release(self, sock: socket.socket) -> None:
        """Close a tracked socket and forget it."""
        with self.lock:
            self._open.discard(sock)
        close_quietly(sock)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        close_quietly(self.listener)
        with self.lock:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)


def close_quietly(*socks: socket.socket | None) -> None:
    for sock in socks:
        if sock is None:
            continue
        with contextlib.suppress(OSError):
            sock.close()


def exchange(upstream: tuple[str, int], request: Message) -> Message:
    """Send ``request`` to ``upstream`` on a fresh connection and read its (Content-Length framed) answer."""
    headers = [(k, v) for k, v in request.headers if k not in ("connection", "keep-alive")]
    with socket.create_connection(upstream, timeout=10) as sock:
        sock.sendall(render(request.start, [*headers, ("connection", "close")], request.body))
        return Reader(sock).message()
