"""16 threads x 500 mixed calls on one shared client: no error, bounded connections, exact balance."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from helpers.rel_secrets import PWD

from winic_soap import WinicClient
from winic_soap.mock import MockService

THREADS, CALLS = 16, 500


def test_sixteen_threads_share_one_client(rel_mock: MockService) -> None:
    errors: list[BaseException] = []
    sent = [0] * THREADS
    pulled = [0] * THREADS
    for i in range(200):
        rel_mock.add_reply(f"1380013{i:04d}", f"reply {i}", uid="rel")
    with WinicClient("rel", PWD, endpoint=rel_mock.url, pool_size=10) as client:

        def worker(index: int) -> None:
            rng = random.Random(index)
            try:
                for n in range(CALLS):
                    kind = rng.random()
                    if kind < 0.5:
                        client.send(f"139{index:02d}{n:06d}", f"load {index}/{n}")
                        sent[index] += 1
                    elif kind < 0.7:
                        assert client.account().uid == "rel"
                    elif kind < 0.85:
                        pulled[index] += len(client.reports())
                    else:
                        pulled[index] += len(client.replies())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pulled_total = sum(pulled) + len(client.reports()) + len(client.replies())
    assert errors == []
    total_sent = sum(sent)
    assert len(rel_mock.state.sends) == total_sent
    assert rel_mock.account("rel").balance == Decimal("100000") - Decimal("0.1") * total_sent
    assert pulled_total == total_sent + 200  # every report and reply handed out exactly once
    assert rel_mock.connections_total <= 10  # the pool bounds the sockets: none leaked, none churned
    deadline = time.monotonic() + 5
    while rel_mock.connections_open and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rel_mock.connections_open == 0  # closing the client released every connection
    assert len(rel_mock.ledger) == THREADS * CALLS + 2
