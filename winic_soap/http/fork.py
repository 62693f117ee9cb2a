"""``os.fork()``: every live wire is told in the child, before any thread of it can send, so it drops the
parent's pooled connections (whose sockets the parent still uses)."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

__all__ = ["Forkable", "register"]


class Forkable(Protocol):
    def forked(self) -> None:
        """Called in the child (one thread); must not raise."""


_LIVE: weakref.WeakSet[Forkable] = weakref.WeakSet()
_LOCK = threading.Lock()  # held across fork(): the set is never copied half-changed


def register(wire: Forkable) -> None:
    """Tell ``wire`` about every fork from now on, for as long as it lives."""
    with _LOCK:
        _LIVE.add(wire)


def _renew_after_fork() -> None:
    _LOCK.release()  # taken by the forking thread just before fork()
    for wire in list(_LIVE):
        wire.forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_LOCK.acquire, after_in_parent=_LOCK.release, after_in_child=_renew_after_fork)
