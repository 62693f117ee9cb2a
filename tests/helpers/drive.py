"""Driving clients from test code: an async client call by call from sync code, and calls bounded in time."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from winic_soap import AsyncWinicClient

T = TypeVar("T")

FLAVOURS = ("sync", "async")
OUTER_LIMIT = 60.0  # proves a call ends; far above any timeout the tests set, never a timing assertion


class LoopThread:
    """One event loop on its own thread, so sync test code can drive an async client call by call."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], limit: float = OUTER_LIMIT) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(limit)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class AsyncDriven:
    """An ``AsyncWinicClient`` behind the sync face the tests use: each coroutine method runs on ``loop``."""

    def __init__(self, loop: LoopThread, client: AsyncWinicClient) -> None:
        self._loop = loop
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self._loop.run(attribute(*args, **kwargs))
        return attribute

    def close(self) -> None:
        self._loop.run(self._client.__aexit__(None, None, None))


def bounded(call: Callable[[], T], limit: float = OUTER_LIMIT) -> T:
    """Run ``call`` on a thread and fail the test if it has not ended within ``limit`` seconds; returns its
    result or raises its exception. Proves a call ends; says nothing about how fast."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed back to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"the call was still running after {limit} s"
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["result"]
    return result
