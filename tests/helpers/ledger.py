"""What reached the mock, read from its ledger: the truth every stopped-send test checks what was raised or
printed against (each accepted id the one the service gave those numbers, nothing sent twice)."""

from __future__ import annotations

import time
from collections import Counter

from helpers.shared import wait_until
from winic_soap import BulkSendError
from winic_soap.mock import MockService

__all__ = ["assert_truthful", "sent_numbers", "settle", "wait_for_sends"]


def sent_numbers(mock: MockService) -> Counter[str]:
    """How often each number reached the service in a send request (processed or not)."""
    return Counter(
        n for e in mock.ledger if e.operation.startswith("Send") for n in (e.params.get("tos") or "").split(",") if n
    )


def assert_truthful(bulk: BulkSendError, mock: MockService, numbers: list[str]) -> None:
    """What a stopped send says matches the ledger: each number in exactly one of accepted / unknown /
    failed / unsent, ids the service gave those very numbers, nothing sent twice, nothing unsent sent."""
    accepted = [n for s in bulk.receipts for n in s.recipients]
    listed = Counter(accepted + list(bulk.unknown) + list(bulk.failed) + list(bulk.unsent))
    assert sorted(listed) == sorted(numbers) and set(listed.values()) == {1}
    seen = sent_numbers(mock)
    assert set(seen.values()) <= {1}, "a number reached the service twice"
    assert set(seen) <= set(accepted) | set(bulk.unknown), "the service saw a number called failed or unsent"
    by_id = {s.message_id: s.recipients for s in mock.state.sends}
    for submission in bulk.receipts:
        assert submission.message_id is not None and by_id[submission.message_id] == submission.recipients


def settle(mock: MockService) -> None:
    """Let requests already at the service finish (the mock's latency), so the ledger is final."""
    time.sleep(0.4)


def wait_for_sends(mock: MockService, count: int, timeout: float = 20.0) -> None:
    wait_until(lambda: len(mock.state.sends) >= count, f"the service to see {count} sends", timeout)
