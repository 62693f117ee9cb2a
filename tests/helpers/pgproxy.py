"""A TCP proxy in front of PostgreSQL that the test controls: pass, refuse new connections, blackhole
(accept and forward nothing), or cut a connection right after a COMMIT reached the server (the server
commits, the client never hears it: a lost acknowledgement)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

MODES = ("pass", "refuse", "blackhole", "cut_after_commit", "refuse_on", "blackhole_on")


class PgProxy:
    """Listens on 127.0.0.1; ``url`` is the database URL through the proxy."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
        self.mode = "pass"
        self.after = b""
        self.cuts = 0  # commits whose acknowledgement was dropped
        self.commits_seen = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def set(self, mode: str, *, cut_live: bool = False, after: bytes = b"") -> None:
        """Switch mode for new traffic; ``cut_live`` also resets every open connection. ``cut_after_commit``
        cuts the first COMMIT of a transaction whose statements contained ``after`` (any, when empty);
        ``refuse_on`` passes until a client sends ``after``, resets that connection and refuses from then on;
        ``blackhole_on`` passes until then, and from then on swallows everything (that statement included)."""
        assert mode in MODES
        self.mode, self.after = mode, after
        if cut_live:
            with self._lock:
                live, self._sockets = self._sockets, []
            for sock in live:
                _reset(sock)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets += [client, upstream]
        link = {"cut": False}  # set by the client side once a COMMIT to cut went out
        threading.Thread(target=self._pipe, args=(upstream, client, False, link), daemon=True).start()
        self._pipe(client, upstream, True, link)

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool, link: dict[str, bool]) -> None:
        armed = False
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not from_client and link["cut"]:  # the server's answer to the COMMIT: the client never sees it
                    with self._lock:
                        self.cuts += 1
                    break
                if self.mode == "blackhole":
                    continue  # swallowed: both sides wait
                armed = armed or (from_client and self.after in data)
                if from_client and armed and self.mode == "refuse_on":
                    self.mode = "refuse"  # the statement never reaches the server; nor does anything after it
                    break
                if from_client and armed and self.mode == "blackhole_on":
                    self.mode = "blackhole"  # the statement and everything after it vanish; nobody hears back
                    continue
                if from_client and b"COMMIT" in data:
                    self.commits_seen += 1
                    if self.mode == "cut_after_commit" and armed:
                        link["cut"] = True  # before the COMMIT leaves, so its answer is dropped
                        self.mode = "pass"  # one lost acknowledgement, then the network is fine again
                        target.sendall(data)
                        return  # the server side resets both once the answer came
                    armed = False
                target.sendall(data)
        except OSError:
            pass
        finally:  # one side ended: end the other too, as a cut network would (unless a cut waits for its answer)
            if not (from_client and link["cut"]):
                _reset(source)
                _reset(target)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self.set(self.mode, cut_live=True)


def _reset(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


@contextmanager
def pg_proxy(database_url: str) -> Iterator[PgProxy]:
    proxy = PgProxy(database_url)
    try:
        yield proxy
    finally:
        proxy.close()
