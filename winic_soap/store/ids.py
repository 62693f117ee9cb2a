"""Ids and times of the store: record ids unique across hosts and stores with no coordination, readable job
ids, and our own timestamps (ISO 8601 in UTC)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["new_id", "new_job_id", "utc_iso"]


def utc_iso(epoch: float) -> str:
    """Our own times: ISO 8601 in UTC with its offset."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def new_id(epoch: float | None = None, randbits: Callable[[int], int] = secrets.randbits) -> str:
    """A UUIDv7-layout id: 48 bits of milliseconds then 74 random bits. Unique across hosts and stores
    with no coordination, sortable by time, and (unlike a hash of the record) says nothing of its text.
    ``randbits``: where the 74 random bits come from (a counter from a random start for one large answer)."""
    millis = int((time.time() if epoch is None else epoch) * 1000) & ((1 << 48) - 1)
    rand = randbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_job_id() -> str:
    """A readable job id: UTC time to the second and 6 random hex digits."""
    return "job-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
