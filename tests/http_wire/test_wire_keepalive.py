"""Keep-alive against a server that closes idle connections, as IIS does: a send never goes out on a
connection the server is closing, so it never becomes an unknown outcome."""

from __future__ import annotations

import os

import pytest
import scripted_server as scripts
from drive import FLAVOURS
from rig import Rig


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_server_closing_idle_connections_never_makes_a_send_unknown(flavour: str, rig: Rig) -> None:
    server = rig.scripted(scripts.plain(), idle_close=0.3)
    client = rig.client(flavour, server.url, max_attempts=1)
    receipts = []
    for n in range(5):
        receipts.append(client.send("13800138000", f"after an idle close {n}").message_id)
        assert server.wait_until(lambda s, closed=n + 1: s.idle_closed == closed)  # the FIN is out
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
        assert server.wait_until(lambda s, stale=n + 1: s.went_stale == stale)
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
    filler = []
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
