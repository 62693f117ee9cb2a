"""Keep-alive against a server that closes idle connections, as IIS does: a send never goes out on a
connection the server is closing, so it never becomes an unknown outcome."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import helpers.scripted_server as scripts
import pytest
from helpers.drive import FLAVOURS
from helpers.rig import Rig
from helpers.scripted_server import ScriptedServer

from winic_soap import SendOutcomeUnknown


def _idle_closed(count: int) -> Callable[[ScriptedServer], bool]:
    return lambda server: server.idle_closed == count


def _went_stale(count: int) -> Callable[[ScriptedServer], bool]:
    return lambda server: server.went_stale == count


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_server_closing_idle_connections_never_makes_a_send_unknown(flavour: str, rig: Rig) -> None:
    server = rig.scripted(scripts.plain(), idle_close=0.3)
    client = rig.client(flavour, server.url, max_attempts=1)
    receipts = []
    for n in range(5):
        receipts.append(client.send("13800138000", f"after an idle close {n}").message_id)
        assert server.wait_until(_idle_closed(n + 1))  # the FIN is out
    assert receipts == [s.message_id for s in rig.mock.state.sends]
    assert server.connections == 5


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_keepalive_expiry_retires_a_connection_before_the_server_does(flavour: str, rig: Rig) -> None:
    """The server gives up on an idle connection after 0.3 s but its FIN is still "in flight": the
    connection looks alive. Only a keep-alive expiry under the server's keeps the next send off it."""
    server = rig.scripted(scripts.plain(), stale_after=0.3)
    client = rig.client(flavour, server.url, max_attempts=1, keepalive_expiry=0.1)
    receipts = []
    for n in range(4):
        receipts.append(client.send("13800138000", f"after a stale connection {n}").message_id)
        assert server.wait_until(_went_stale(n + 1))
    assert receipts == [s.message_id for s in rig.mock.state.sends]
    assert server.stale_resets == 0 and server.connections == 4


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_keepalive_reuses_a_connection_between_quick_calls(flavour: str, rig: Rig) -> None:
    server = rig.scripted(scripts.plain(), idle_close=30.0)
    client = rig.client(flavour, server.url, max_attempts=1)
    for n in range(3):
        client.send("13800138000", f"quick {n}")
    assert server.connections == 1 and len(rig.mock.state.sends) == 3


def test_keepalive_holds_with_descriptors_above_1024(rig: Rig) -> None:
    """``select()`` cannot watch a descriptor >= 1024; a pool that checks idle sockets with it would fail
    or give up on keep-alive in a process with many files open."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    assert hard == resource.RLIM_INFINITY or hard >= wanted, f"this machine allows only {hard} descriptors"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    filler: list[int] = []
    try:
        with open(os.devnull) as null:
            while len(filler) < 1100 and (not filler or filler[-1] < 1100):
                filler.append(os.dup(null.fileno()))
        server = rig.scripted(scripts.plain(), idle_close=30.0)
        client = rig.client("sync", server.url, max_attempts=1)
        receipts = [client.send("13800138000", f"high descriptor {n}").message_id for n in range(3)]
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert receipts == [s.message_id for s in rig.mock.state.sends]
    assert server.connections == 1  # one keep-alive connection, on a descriptor above 1024


# The 1 s-idle server 50 ms away. The first pause is past what the server allows, so the first reuse
# finds the connection closed and teaches the bound; the later ones straddle the server's timeout, and
# those between 1.00 and 1.05 s would write on a connection whose FIN is on its way.
PAUSES = [1.2, *[0.9, 1.02, 0.97, 1.1, 1.03, 0.95, 1.04, 1.01, 0.92, 1.08] * 2][:19]


@pytest.mark.parametrize(
    ("flavour", "transport"), [("sync", "soap11"), ("async", "soap12"), ("sync", "http-post"), ("async", "http-get")]
)
def test_keepalive_learns_a_short_server_idle_timeout(flavour: str, transport: str, rig: Rig) -> None:
    server = rig.scripted(scripts.plain(), idle_close=1.0, fin_delay=0.05)
    client = rig.client(flavour, server.url, transport=transport, max_attempts=1)
    receipts, failures = [client.send("13800138000", "first").message_id], []
    for n, pause in enumerate(PAUSES):
        time.sleep(pause)  # the test is the passing of real time on a real socket
        try:
            receipts.append(client.send("13800138000", f"after {pause} s idle ({n})").message_id)
        except SendOutcomeUnknown as exc:
            failures.append(f"{pause} s: {exc}")
    assert failures == []
    assert receipts == [s.message_id for s in rig.mock.state.sends]
    assert server.stale_resets == 0  # no request ever met a connection the server was closing


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_send_lost_on_a_closing_connection_teaches_the_bound(flavour: str, rig: Rig) -> None:
    """Nothing known yet, the first reuse lands while the server's FIN is on its way: that send is
    unknown (the server reset it unread, but the client cannot tell). The loss teaches the bound: the
    later sends, as late, open fresh connections instead."""
    server = rig.scripted(scripts.plain(), idle_close=1.0, fin_delay=0.05)
    client = rig.client(flavour, server.url, max_attempts=1)
    client.send("13800138000", "first")
    outcomes = []
    for n, pause in enumerate([1.02, 1.03, 1.01, 1.02, 1.03]):
        time.sleep(pause)
        try:
            client.send("13800138000", f"after {pause} s idle ({n})")
            outcomes.append("sent")
        except SendOutcomeUnknown:
            outcomes.append("unknown")
    assert outcomes == ["unknown", "sent", "sent", "sent", "sent"]
    assert server.stale_resets == 1
    assert len(rig.mock.state.sends) == 5  # the unknown one was never processed
