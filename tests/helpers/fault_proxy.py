"""A small TCP proxy for fault tests: sits between the client and the mock and misbehaves on demand."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MODES = ("pass", "stall", "reset_before", "reset_after", "truncate")


def _rst(sock: socket.socket) -> None:
    """Close with a TCP reset rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
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


class FaultProxy:
    """Forwards one request per connection to ``upstream``; the first ``times`` connections get ``mode``."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.times = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.handled: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def script(self, mode: str, times: int = 1) -> None:
        assert mode in MODES
        with self.lock:
            self.mode, self.times = mode, times

    def _next_mode(self) -> str:
        with self.lock:
            if self.times > 0:
                self.times -= 1
                return self.mode
            return "pass"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            while True:  # one connection may carry several keep-alive requests
                request = _read_message(client)
                if not request:
                    client.close()
                    return
                mode = self._next_mode()
                self.handled.append(mode)
                if mode == "stall":
                    self.stop.wait(5)  # hold the request; the client times out
                    client.close()
                    return
                if mode == "reset_before":
                    _rst(client)
                    return
                with socket.create_connection(self.upstream, timeout=10) as upstream:
                    upstream.sendall(request)
                    response = _read_message(upstream)
                if mode == "reset_after":
                    _rst(client)
                    return
                if mode == "truncate":
                    client.sendall(
                        response[: len(response) - max(1, (len(response) - response.find(b"\r\n\r\n")) // 2)]
                    )
                    client.close()
                    return
                client.sendall(response)
        except OSError:
            client.close()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@contextmanager
def fault_proxy(upstream: tuple[str, int]) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
