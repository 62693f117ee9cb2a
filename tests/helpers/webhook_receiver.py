"""A real webhook receiver for tests: a stdlib HTTP server on loopback that verifies every delivery with the
reference ``standardwebhooks`` package and answers what the test tells it to."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    """One POST as received."""

    id: str
    timestamp: str
    signature: str
    body: bytes
    verified: bool
    path: str

    @property
    def event(self) -> dict[str, Any]:
        """The delivery's JSON body (always an object)."""
        loaded = json.loads(self.body)
        assert isinstance(loaded, dict), loaded
        return loaded


@dataclass
class Receiver:
    """What the server received; ``answer(delivery, count_for_its_id) -> status``; overlapping POSTs of one
    id (``overlaps``) are what two watchers must never produce."""

    secret: str
    answer: Callable[[Delivery, int], int] = lambda delivery, count: 200
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    in_flight: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def ids(self) -> list[str]:
        with self.lock:
            return [d.id for d in self.deliveries]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate(self)`` holds (woken by each delivery); fail after ``timeout``."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"receiver never saw what the test waited for: {self.ids()}")


@contextmanager
def receiving(secret: str, answer: Callable[[Delivery, int], int] | None = None) -> Iterator[Receiver]:
    """Run a receiver on 127.0.0.1 for the block; ``receiver.url`` is where to POST."""
    receiver = Receiver(secret)
    if answer is not None:
        receiver.answer = answer
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            delivery = Delivery(
                headers.get("webhook-id", ""),
                headers.get("webhook-timestamp", ""),
                headers.get("webhook-signature", ""),
                body,
                verified,
                self.path,
            )
            with receiver.lock:
                if delivery.id in receiver.in_flight:
                    receiver.overlaps.append(delivery.id)
                receiver.in_flight.add(delivery.id)
                count = sum(1 for d in receiver.deliveries if d.id == delivery.id) + 1
                receiver.deliveries.append(delivery)
            with receiver.arrived:
                receiver.arrived.notify_all()
            try:
                status = receiver.answer(delivery, count)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            finally:
                with receiver.lock:
                    receiver.in_flight.discard(delivery.id)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/winic"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
