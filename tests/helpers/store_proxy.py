"""A TCP proxy in front of the store's database that a test can cut: every connection through it is closed
at once and new ones are refused until it is restored (the database host gone, as the client sees it),
or only the answer to the COMMIT that follows a chosen statement is lost (committed, never acknowledged).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from urllib.parse import urlsplit, urlunsplit

__all__ = ["StoreProxy", "store_proxy"]


class _Link:
    """One client connection and its upstream twin."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.marked = False  # the armed statement went through this connection
        self.commit_sent = False  # ... and then its COMMIT: the next answer is dropped
        self.tail = b""  # the end of the last chunk sent to the server


class StoreProxy:
    """Forwards bytes both ways between the client and ``upstream`` (host, port) until :meth:`cut`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.commits_lost = 0
        self.refused = 0  # connections closed at once while cut
        self._marker: bytes | None = None
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str) -> str:
        """``database_url`` (postgresql://user@127.0.0.1:PORT/db) through this proxy."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        """Close every connection and refuse new ones: the database is gone."""
        with self._lock:
            self.down = True
            links, self._links = self._links, []
        for link in links:
            for sock in (link.client, link.upstream):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        with self._lock:
            self.down = False

    def lose_commit_ack_after(self, statement: bytes) -> None:
        """The next COMMIT on a connection that sent ``statement`` reaches the database; its answer is
        dropped and the proxy is cut (the client cannot tell whether the transaction committed)."""
        with self._lock:
            self._marker = statement

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                down = self.down
            if down:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            to_server = partial(self._to_server, link)
            to_client = partial(self._to_client, link)
            threading.Thread(target=self._pump, args=(link, client, upstream, to_server), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, upstream, client, to_client), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket, passes: Callable[[bytes], bool]) -> None:
        """Copy ``source`` to ``target`` while ``passes`` lets each chunk through."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                with suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            if not passes(data):
                return
            try:
                target.sendall(data)
            except OSError:
                return

    def _to_server(self, link: _Link, data: bytes) -> bool:
        seen, link.tail = link.tail + data, data[-64:]  # a statement split across two reads is still seen
        with self._lock:
            if self._marker is not None and self._marker in seen:
                link.marked = True
            if link.marked and b"COMMIT" in seen:
                link.commit_sent, self._marker, link.marked = True, None, False
        return True

    def _to_client(self, link: _Link, data: bytes) -> bool:
        if link.commit_sent:  # the database committed; the client never hears it
            self.commits_lost += 1
            self.cut()
            return False
        return True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@contextmanager
def store_proxy(database_url: str) -> Iterator[StoreProxy]:
    """A proxy in front of the database of ``database_url``, always closed."""
    parts = urlsplit(database_url)
    proxy = StoreProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()
