"""What each pooled connection learns, for the sync and async network streams alike: whether bytes came
after a complete answer (then it is never reused), and how long its host keeps an idle connection (then
it is not reused past half of that)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx2

from winic_soap.http.attempt import mark_sending

__all__ = ["IdleBounds", "Watch", "check_framing"]

logger = logging.getLogger("winic_soap.http")


class Framing:
    """What one connection received for its current answer. httpcore2 reuses a connection whose parser
    still holds bytes that came after a complete answer (a middlebox gluing a second answer on), and
    would read them as the next answer: the next send would get another send's id. Once an answer is
    read, :meth:`check` compares the bytes received with the answer's own framing; a connection with
    leftovers reports itself readable, which makes the pool drop it instead of reusing it."""

    __slots__ = ("_count", "_fresh", "_head", "_tail", "dirty")

    _KEEP = 64 * 1024  # enough for any header block; past it only the count and the last bytes are kept

    def __init__(self) -> None:
        self._head = b""
        self._tail = b""
        self._count = 0
        self._fresh = True
        self.dirty = False

    def wrote(self) -> bool:
        """Count a write; True when it is the first of a new request (a new answer will follow)."""
        fresh = self._fresh
        if fresh:
            self._head, self._tail, self._count, self._fresh = b"", b"", 0, False
        return fresh

    @property
    def started(self) -> bool:
        """Whether any byte of the current answer has arrived."""
        return self._count > 0

    def read(self, data: bytes) -> None:
        self._count += len(data)
        self._tail = data
        if len(self._head) < self._KEEP:
            self._head += data

    def check(self, status: int, length: str | None, chunked: bool) -> None:
        """The answer is complete: were more bytes received than it is made of?"""
        self._fresh = True
        if status in (204, 304) or not self._count:
            return
        head, start = self._head, 0
        while True:  # skip interim 1xx answers to the final header block
            end = head.find(b"\r\n\r\n", start)
            if end < 0:
                return  # a header block we did not keep, or bare-LF lines: nothing to tell
            if head[start + 9 : start + 10] != b"1":
                break
            start = end + 4
        if chunked:
            self.dirty = self.dirty or not self._tail.endswith(b"\r\n\r\n")
        elif length is not None and length.isdigit():
            self.dirty = self.dirty or end + 4 + int(length) != self._count


class IdleBounds:
    """What each host taught us about how long it keeps an idle connection: when a pooled connection
    turns out closed by the server after ``t`` idle seconds, connections to that host are not reused past
    ``FRACTION * t`` any more. Without it a send racing the server's close (its FIN still on the way)
    goes out on a dying connection, and its outcome is unknown although the server never read it."""

    FRACTION = 0.5

    def __init__(self) -> None:
        self._bounds: dict[tuple[str, int], float] = {}

    def bound(self, key: tuple[str, int]) -> float | None:
        return self._bounds.get(key)

    def closed_after(self, key: tuple[str, int], idle: float) -> None:
        learned = idle * self.FRACTION
        known = self._bounds.get(key)
        if known is None or learned < known:
            self._bounds[key] = learned
            logger.debug("%s:%d closed a connection idle for %.2fs: reused for at most %.2fs now", *key, idle, learned)


class Reuse:
    """One connection's idle time, judged against its host's learned bound (``is_readable`` is what the
    pool asks before reusing an idle connection: True makes it drop the connection and open another)."""

    __slots__ = ("_answers", "_bounds", "_idle_at_write", "_key", "_last")

    def __init__(self, bounds: IdleBounds, key: tuple[str, int]) -> None:
        self._bounds, self._key = bounds, key
        self._last = time.monotonic()
        self._answers = 0  # answers read on this connection: above 0, a write reuses it
        self._idle_at_write = 0.0

    def wrote(self, fresh: bool) -> None:
        now = time.monotonic()
        if fresh:
            self._idle_at_write = now - self._last
        self._last = now

    def read(self, data: bytes, answer_started: bool) -> None:
        self._last = time.monotonic()
        if not data and not answer_started and self._answers:
            # a reused connection closed before any byte of the answer: the server had dropped it
            self._bounds.closed_after(self._key, self._idle_at_write)

    def answered(self) -> None:
        self._answers += 1

    def retire(self, readable: bool) -> bool:
        """Whether the pool should drop this idle connection instead of writing a request on it."""
        idle = time.monotonic() - self._last
        if readable:  # the server closed it while it sat in the pool
            self._bounds.closed_after(self._key, idle)
            return True
        bound = self._bounds.bound(self._key)
        return bound is not None and idle > bound


class Watch:
    """One connection's :class:`Framing` and :class:`Reuse`, fed by its stream (sync or async, the same
    calls), and asked by the pool through ``get_extra_info``."""

    __slots__ = ("_framing", "_reuse")

    def __init__(self, reuse: Reuse) -> None:
        self._framing = Framing()
        self._reuse = reuse

    @classmethod
    def new(cls, bounds: IdleBounds, key: tuple[str, int]) -> Watch:
        """The watch of a connection just opened to ``key``."""
        return cls(Reuse(bounds, key))

    def after_tls(self) -> Watch:
        """The watch of the TLS stream started on this one: the same connection's idle time, but framing of
        its own (bytes read before, a proxy's CONNECT answer, are no part of the answers that follow)."""
        return Watch(self._reuse)

    def received(self, data: bytes) -> None:
        self._reuse.read(data, self._framing.started)
        self._framing.read(data)

    def lost(self) -> None:
        """A read failed (the connection was reset)."""
        self._reuse.read(b"", self._framing.started)

    def writing(self) -> None:
        """A write is about to go out: the request may reach the server from now on."""
        self._reuse.wrote(self._framing.wrote())
        mark_sending()

    def extra_info(self, info: str, inner: Callable[[str], Any]) -> Any:
        """A stream's ``get_extra_info``: a connection with leftovers, or idle past its host's learned
        bound, is "readable" (the pool then drops it), and the watch itself is how :func:`check_framing`
        reaches it; anything else is the inner stream's."""
        if info == "is_readable":
            return self._framing.dirty or self._reuse.retire(bool(inner(info)))
        if info == "winic_watch":
            return self
        return inner(info)

    def answered(self, status: int, length: str | None, chunked: bool) -> None:
        self._framing.check(status, length, chunked)
        self._reuse.answered()


def check_framing(response: httpx2.Response) -> None:
    """Tell the connection under ``response`` (when it is one of ours) that its answer is complete."""
    stream = response.extensions.get("network_stream")
    watch = stream.get_extra_info("winic_watch") if stream is not None else None
    if isinstance(watch, Watch):
        headers = response.headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        watch.answered(response.status_code, headers.get("content-length"), chunked)
