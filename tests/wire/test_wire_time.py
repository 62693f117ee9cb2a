"""A server that trickles its answer, or sends interim ``100 Continue`` forever: ``timeout`` bounds each
attempt as a whole and ``deadline`` the whole call. No timing assertions: the calls run under a generous
outer bound that only proves they end; the servers' counters say what happened."""

from __future__ import annotations

import helpers.scripted_server as scripts
import pytest
from helpers.drive import FLAVOURS, bounded
from helpers.rig import Rig

from winic_soap import ReadTimeoutError, SendOutcomeUnknown

SLOW = {"trickle": scripts.trickle, "endless-100-continue": scripts.endless_continue}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("slow", list(SLOW))
def test_slow_answer_to_a_read_times_out_each_attempt(flavour: str, slow: str, rig: Rig) -> None:
    server = rig.scripted(SLOW[slow]())
    client = rig.client(flavour, server.url, timeout=1.0, deadline=30.0, max_attempts=2)
    with pytest.raises(ReadTimeoutError) as caught:
        bounded(client.account)
    assert caught.value.reached is True and caught.value.processed is None
    assert len(server.requests) == 2 and len(rig.mock.calls("GetUserInfo")) == 2  # both attempts ran
    assert server.wait_until(lambda s: s.hangups == 2)  # and the client hung up on each


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("slow", list(SLOW))
def test_slow_answer_to_a_send_is_an_unknown_outcome_never_repeated(flavour: str, slow: str, rig: Rig) -> None:
    server = rig.scripted(SLOW[slow]())
    client = rig.client(flavour, server.url, timeout=1.0, deadline=30.0, max_attempts=3)
    with pytest.raises(SendOutcomeUnknown) as caught:
        bounded(lambda: client.send("13800138000", "slow answer"))
    assert isinstance(caught.value.cause, ReadTimeoutError)
    assert len(server.requests) == 1 and len(rig.mock.state.sends) == 1  # processed once, asked once
    assert server.wait_until(lambda s: s.hangups == 1)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("slow", list(SLOW))
def test_deadline_stops_the_retries(flavour: str, slow: str, rig: Rig) -> None:
    server = rig.scripted(SLOW[slow]())
    client = rig.client(flavour, server.url, timeout=1.0, deadline=1.5, max_attempts=10)
    with pytest.raises(ReadTimeoutError):
        bounded(client.account)
    assert 1 <= len(server.requests) <= 3  # the deadline, not max_attempts, ended the call
