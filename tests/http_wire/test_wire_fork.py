"""A client created and used before ``os.fork()`` works in the children and never shares a connection:
the parent and three children send at once, and every receipt carries the id the service gave that send."""

from __future__ import annotations

import os
import select
import signal
import sys

import pytest
from rig import Rig

CHILDREN = 3
OUTER_LIMIT = 60.0

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() exists on POSIX only")


def _child(client: object, start: int, report: int, text: str) -> None:
    """Runs in the forked child: wait for the start signal, send, report the id (or the error), exit."""
    code = 0
    try:
        os.read(start, 1)
        receipt = client.send("13800138000", text)  # type: ignore[attr-defined]
        os.write(report, f"id {receipt.message_id}".encode())
    except BaseException as exc:  # everything goes back to the parent
        os.write(report, f"error {type(exc).__name__}: {exc}".encode()[:4000])
        code = 1
    finally:
        os._exit(code)


def _read_all(fd: int) -> str:
    chunks = []
    for _ in range(1000):  # bounded: the child writes one short line and exits
        ready, _, _ = select.select([fd], [], [], OUTER_LIMIT)
        assert ready, "a child neither answered nor exited"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_parent_and_children_send_at_once_each_with_its_own_id(rig: Rig) -> None:
    client = rig.client("sync", rig.mock.url, max_attempts=1)
    client.account()  # the pool now holds a keep-alive connection the children inherit
    start_read, start_write = os.pipe()
    children: dict[str, tuple[int, int]] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    for n in range(CHILDREN):
        text = f"from child {n}"
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(report_read)
            _child(client, start_read, report_write, text)
        os.close(report_write)
        children[text] = (pid, report_read)
    reports: dict[str, str] = {}
    try:
        os.write(start_write, b"go" * CHILDREN)  # one byte each: all start together, with the parent
        parent_id = client.send("13800138000", "from the parent").message_id
        reports = {text: _read_all(fd) for text, (_, fd) in children.items()}
    finally:
        for text, (pid, fd) in children.items():
            os.close(fd)
            if text not in reports:  # the test failed before this child reported: ours to end, by pid
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(start_read)
        os.close(start_write)
    assert all(r.startswith("id ") for r in reports.values()), reports
    given = {s.text: s.message_id for s in rig.mock.state.sends}
    assert {"from the parent": parent_id, **{t: r.removeprefix("id ") for t, r in reports.items()}} == given
    assert len(set(given.values())) == CHILDREN + 1
