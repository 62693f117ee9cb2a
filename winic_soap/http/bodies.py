"""An answer's body as the wire reads it: in memory up to ``max_response_bytes`` (a gzip bomb is refused
too), or, for a pull, streamed into a file with no cap (its records were handed out and must not be
refused for their size)."""

from __future__ import annotations

import logging
from typing import BinaryIO

import httpx2

from winic_soap.core.answer import WireRequest, WireResponse
from winic_soap.exceptions import ProtocolError
from winic_soap.redaction import url_for_log

__all__ = ["STREAM_HEAD", "Body", "StreamedBody"]

logger = logging.getLogger("winic_soap.http")
STREAM_HEAD = 1 << 20  # a streamed pull answer up to this size is also returned in memory, read the usual way


class StreamedBody:
    """A pull answer's (decompressed) body written to a file as it comes: memory stays flat whatever its size.
    Its first ``STREAM_HEAD`` bytes are kept too, so a short answer (a code, a fault) is read as usual."""

    __slots__ = ("_head", "_into", "_total")

    def __init__(self, into: BinaryIO) -> None:
        self._into: BinaryIO | None = into
        self._head = bytearray()
        self._total = 0

    def declared(self, headers: httpx2.Headers) -> None:
        """No size is refused: the service handed these records out and will not again."""

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        if self._into is not None:
            try:
                self._into.write(chunk)
            except OSError as exc:
                self._to_memory(exc, len(chunk))
        if self._into is None or self._total <= STREAM_HEAD:
            self._head += chunk
        elif self._head:
            self._head = bytearray()

    def _to_memory(self, exc: OSError, pending: int = 0) -> None:
        """The disk refused the body (full): keep it in memory, the only place left for records handed out;
        possible while all of it so far is in memory too, else the error stands (what was written is lost)."""
        if self._total - pending > len(self._head):
            raise exc
        logger.error("a pull answer cannot be written to disk (%s); it is read into memory", exc)
        self._into = None

    def response(self, request: WireRequest, response: httpx2.Response) -> WireResponse:
        if self._into is not None:
            try:
                self._into.flush()
            except OSError as exc:
                self._to_memory(exc)
        logger.debug(
            "%s %s -> %d (%d bytes, streamed)",
            request.method,
            url_for_log(request.url),
            response.status_code,
            self._total,
        )
        return WireResponse(response.status_code, response.headers, bytes(self._head))


class Body:
    """An answer's (decompressed) body, refused past ``limit`` bytes: a gzip bomb is refused too."""

    __slots__ = ("_limit", "_parts", "_total")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._total = 0

    def declared(self, headers: httpx2.Headers) -> None:
        """Refuse an answer whose declared length is over the limit before reading any of it."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise ProtocolError(f"answer of {declared} bytes is larger than {self._limit}; refused", processed=None)

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        if self._total > self._limit:
            raise ProtocolError(f"answer larger than {self._limit} bytes; refused", processed=None)
        self._parts.append(chunk)

    def response(self, request: WireRequest, response: httpx2.Response) -> WireResponse:
        content = b"".join(self._parts)
        logger.debug(
            "%s %s -> %d (%d bytes)", request.method, url_for_log(request.url), response.status_code, len(content)
        )
        return WireResponse(response.status_code, response.headers, content)  # httpx2.Headers: case-insensitive
