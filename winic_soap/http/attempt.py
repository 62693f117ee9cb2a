"""One attempt's state, shared by every layer under httpx2 through a context variable: which phase it
reached (could the request have reached the server?), when its time runs out, and how another thread
cuts it."""

from __future__ import annotations

import contextlib
import contextvars
import socket
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["Attempt", "current", "left", "mark_new_tls", "mark_sending"]

current: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar("winic_attempt", default=None)


class Attempt:
    """Which phase one attempt reached, and when its time runs out. On our own client the network streams
    below httpx2 report it (a request whose first byte was never written provably did not reach the
    server); on a user's client httpcore's trace events do, and a transport that reports nothing at
    all (a user's mock, say) proves nothing, so its failures count as maybe-sent."""

    __slots__ = ("cut", "deadline", "new_tls", "private_urls", "sending", "socket", "status", "traced")

    def __init__(self, deadline: float | None, *, traced: bool, private_urls: bool = False) -> None:
        self.deadline = deadline
        self.sending = False
        self.traced = traced
        self.new_tls = False
        self.private_urls = private_urls  # a webhook POST: its URLs are redacted in every log line
        self.cut = False  # set from another thread by interrupt(): every later socket operation fails
        self.socket: Any = None  # the socket of the operation under way, for interrupt()
        self.status: int | None = None  # the last answer's status the trace reported (a redirect's)

    def interrupt(self) -> None:
        """From another thread: end the attempt now. Its socket is shut down (which wakes a blocked read
        or write) and every socket operation after this one fails at once."""
        self.cut = True
        sock = self.socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's ``trace`` extension, on a user's client: the events say when sending began."""
        self.traced = True
        if not self.sending and event.endswith("send_request_headers.started"):
            self.sending = True
        elif event.endswith("start_tls.complete"):
            self.new_tls = True
        elif event.endswith("receive_response_headers.complete"):  # (version, status, ...) or (status, headers)
            self.status = next((v for v in info.get("return_value") or () if isinstance(v, int)), None)

    async def async_call(self, event: str, info: Mapping[str, Any]) -> None:
        self(event, info)

    @property
    def may_have_sent(self) -> bool:
        return self.sending or not self.traced


def left(timeout: float | None, error: type[Exception], stream: Any = None) -> float | None:
    """The time a socket operation may take: the smaller of httpx2's per-step timeout and what is left of
    the attempt's deadline. ``stream``'s socket is noted on the attempt first, so :meth:`Attempt.interrupt`
    can shut it down; an interrupted attempt (or one out of time) raises ``error`` before touching it."""
    attempt = current.get()
    if attempt is not None and stream is not None:
        attempt.socket = stream.get_extra_info("socket")
    if attempt is not None and attempt.cut:
        raise error("the attempt was interrupted")
    deadline = attempt.deadline if attempt is not None else None
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the attempt's time ran out")
    return remaining if timeout is None else min(timeout, remaining)


def mark_sending() -> None:
    """The request's first byte is being written: from now on it may have reached the server."""
    attempt = current.get()
    if attempt is not None:
        attempt.sending = True


def mark_new_tls() -> None:
    """This attempt opened a TLS connection (a certificate alert on it can be the front refusing us)."""
    attempt = current.get()
    if attempt is not None:
        attempt.new_tls = True
