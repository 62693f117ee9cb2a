"""A client created and used before ``os.fork()`` works in the children and never shares a connection:
the parent and the children send at once (the children with many threads, or a bulk send, or asyncio
tasks as their first call), and every receipt carries the id the service gave that very send."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from helpers.rig import Rig

from winic_soap import AsyncWinicClient, WinicClient

CHILDREN = 3
THREADS = 8
ROUNDS = 3  # the old race broke every round here, but races are races: more than one chance to show
OUTER_LIMIT = 60.0

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() exists on POSIX only")

Work = Callable[[str], list[dict[str, Any]]]  # (the child's name) -> what it sent: text, recipients, id or error


def _child(work: Work, name: str, start: int, report: int) -> None:
    """Runs in the forked child: wait for the start signal, do the work, report it as JSON, exit."""
    code = 0
    sys.setswitchinterval(1e-6)  # threads interleave as often as they can: a race shows up, if there is one
    try:
        os.read(start, 1)
        outcome: Any = work(name)
    except BaseException as exc:  # everything goes back to the parent
        outcome, code = [{"error": f"{type(exc).__name__}: {exc}"[:2000]}], 1
    try:
        os.write(report, json.dumps(outcome).encode())
    finally:
        os._exit(code)


def _read_all(fd: int) -> str:
    chunks = []
    for _ in range(100_000):  # bounded: the child writes one report and exits
        ready, _, _ = select.select([fd], [], [], OUTER_LIMIT)
        assert ready, "a child neither answered nor exited"
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def _fork_and_run(work: Work, in_parent: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Fork the children, start them together with ``in_parent()``, and collect every report."""
    start_read, start_write = os.pipe()
    children: dict[str, tuple[int, int]] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    for n in range(CHILDREN):
        name = f"child {n}"
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(report_read)
            _child(work, name, start_read, report_write)
        os.close(report_write)
        children[name] = (pid, report_read)
    reports: dict[str, str] = {}
    try:
        os.write(start_write, b"g" * CHILDREN)  # one byte each: all start together, with the parent
        sent = in_parent()
        reports = {name: _read_all(fd) for name, (_, fd) in children.items()}
    finally:
        for name, (pid, fd) in children.items():
            os.close(fd)
            if name not in reports:  # the test failed before this child reported: ours to end, by pid
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(start_read)
        os.close(start_write)
    for report in reports.values():
        sent.extend(json.loads(report))
    return sent


def _matches_the_ledger(rig: Rig, sent: list[dict[str, Any]], expected: int) -> None:
    """Every send succeeded, and each id is the one the service gave that text and those recipients."""
    failures = [s for s in sent if "error" in s]
    assert failures == [], failures[:5]
    assert len(sent) == expected
    given = {(s.text, s.recipients): s.message_id for s in rig.mock.state.sends}
    got = {(s["text"], tuple(s["recipients"])): s["id"] for s in sent}
    assert got == given
    assert len(set(given.values())) == expected


def _threads(client: WinicClient, name: str) -> list[dict[str, Any]]:
    """THREADS threads whose first call is a send, all released at once."""
    barrier = threading.Barrier(THREADS)
    results: list[dict[str, Any]] = []

    def one(n: int) -> None:
        text = f"from {name}, thread {n}"
        barrier.wait(OUTER_LIMIT)
        try:
            receipt = client.send("13800138000", text)
            results.append({"text": text, "recipients": ["13800138000"], "id": receipt.message_id})
        except Exception as exc:
            results.append({"error": f"{text}: {type(exc).__name__}: {exc}"})

    workers = [threading.Thread(target=one, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(OUTER_LIMIT)
    return results


def _warm(client: WinicClient) -> None:
    """Calls at once, so the pool holds several keep-alive connections for the children to inherit."""
    barrier = threading.Barrier(THREADS)

    def one() -> None:
        barrier.wait(OUTER_LIMIT)
        client.account()

    workers = [threading.Thread(target=one) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(OUTER_LIMIT)


def test_parent_and_children_send_at_once_each_with_its_own_id(rig: Rig) -> None:
    client = rig.client("sync", rig.mock.url, max_attempts=1)
    client.account()  # the pool now holds a keep-alive connection the children inherit

    def work(name: str) -> list[dict[str, Any]]:
        text = f"from {name}"
        sent = [{"text": text, "recipients": ["13800138000"], "id": client.send("13800138000", text).message_id}]
        gc.collect()  # the inherited pool, dropped in the child, is collected: the parent's sockets stay open
        return sent

    def parent() -> list[dict[str, Any]]:
        receipt = client.send("13800138000", "from the parent")
        return [{"text": "from the parent", "recipients": ["13800138000"], "id": receipt.message_id}]

    sent = _fork_and_run(work, parent)
    again = client.send("13800138000", "from the parent, after the children")
    sent.append({"text": "from the parent, after the children", "recipients": ["13800138000"], "id": again.message_id})
    _matches_the_ledger(rig, sent, CHILDREN + 2)
    assert rig.mock.connections_total == 1 + CHILDREN  # the parent kept its one keep-alive connection


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_children_with_threads_whose_first_calls_go_together(rig: Rig, round_: int) -> None:
    """gunicorn ``--preload -k gthread``: used in the parent, then 3 children x 8 threads send at once.
    The race it guards against (a thread of the child on the parent's pool) shows in some rounds only."""
    client = rig.client("sync", rig.mock.url, max_attempts=1)
    _warm(client)
    sent = _fork_and_run(lambda name: _threads(client, name), lambda: _threads(client, "the parent"))
    _matches_the_ledger(rig, sent, (CHILDREN + 1) * THREADS)


def _numbers(first: int, count: int) -> list[str]:
    return [f"1380{first + n:07d}" for n in range(count)]


def test_bulk_send_as_the_childs_first_call(rig: Rig) -> None:
    """The Celery-prefork shape: the worker child's first call is a bulk send with 4 requests in flight."""
    rig.mock.state.accounts["demo"].balance = Decimal(100_000)  # 4 x 400 SMS
    client = rig.client("sync", rig.mock.url, max_attempts=1)
    _warm(client)

    def work(name: str) -> list[dict[str, Any]]:
        first = 100_000 * (1 + int(name.rsplit(maxsplit=1)[-1]))
        receipt = client.send(_numbers(first, 400), f"bulk from {name}", concurrency=4)
        return [
            {"text": f"bulk from {name}", "recipients": list(s.recipients), "id": s.message_id}
            for s in receipt.submissions
        ]

    def parent() -> list[dict[str, Any]]:
        receipt = client.send(_numbers(0, 400), "bulk from the parent", concurrency=4)
        return [
            {"text": "bulk from the parent", "recipients": list(s.recipients), "id": s.message_id}
            for s in receipt.submissions
        ]

    _matches_the_ledger(rig, _fork_and_run(work, parent), (CHILDREN + 1) * 4)


def test_async_client_used_before_fork_sends_from_the_children(rig: Rig) -> None:
    """An async client warmed up in the parent: each child runs its own loop with 8 sends at once."""
    client = AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1)

    async def tasks(name: str) -> list[dict[str, Any]]:
        async def one(n: int) -> dict[str, Any]:
            text = f"from {name}, task {n}"
            try:
                receipt = await client.send("13800138000", text)
            except Exception as exc:
                return {"error": f"{text}: {type(exc).__name__}: {exc}"}
            return {"text": text, "recipients": ["13800138000"], "id": receipt.message_id}

        return list(await asyncio.gather(*(one(n) for n in range(THREADS))))

    async def warm() -> None:
        await asyncio.gather(*(client.account() for _ in range(4)))

    asyncio.run(warm())
    try:
        sent = _fork_and_run(lambda name: asyncio.run(tasks(name)), lambda: asyncio.run(tasks("the parent")))
    finally:
        asyncio.run(client.aclose())
    _matches_the_ledger(rig, sent, (CHILDREN + 1) * THREADS)
