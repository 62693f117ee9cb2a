"""Bad numbers are named all at once: one :class:`InputError` lists every invalid number with its index
(``.problems`` keeps them all as data, the message shows the first few), or ``skip_invalid=True`` sends
the valid ones and names the rest on the receipt. A receipt's repr stays short however many it carries."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from helpers.shared import TRANSPORTS, MakeClient

from winic_soap import AsyncWinicClient, InputError, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import Problem, Submission

VALID = [f"138{i:08d}" for i in range(250)]


def _nothing_sent(mock: MockService) -> None:
    assert mock.ledger == [] and mock.state.sends == [] and mock.connections_total == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_invalid_number_is_named(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    numbers = ["13800138000", "12345", "+86 139 0013 9000", "010-12345678", 13700137000, "abc", "13600136000"]
    with pytest.raises(InputError) as caught:
        make_client(transport).send(numbers, "hi")  # type: ignore[arg-type]  # the wrong type is the test
    error = caught.value
    assert error.field == "recipients" and "4 of 7 invalid" in error.rule
    assert [(p.label, p.position, p.value) for p in error.problems] == [
        ("recipients[1]", 1, "12345"),
        ("recipients[3]", 3, "010-12345678"),
        ("recipients[4]", 4, "int"),
        ("recipients[5]", 5, "abc"),
    ]
    assert error.problems[2].rule == "must be a string" and "mainland" in error.problems[0].rule
    for problem in error.problems:
        assert problem.label in str(error)
    _nothing_sent(winic_mock)


def test_a_long_list_of_problems_is_capped_in_the_message(make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [*VALID[:5], *(f"99{i}" for i in range(500))]
    with pytest.raises(InputError) as caught:
        make_client().send(numbers, "hi")
    error = caught.value
    assert len(error.problems) == 500 and [p.position for p in error.problems] == list(range(5, 505))
    message = str(error)
    assert "recipients[14]" in message and "recipients[15]" not in message
    assert message.endswith("... and 490 more") and len(message) < 1500
    restored = pickle.loads(pickle.dumps(error))
    assert restored.problems == error.problems and str(restored) == message
    _nothing_sent(winic_mock)


def test_one_invalid_number_keeps_its_own_field(make_client: MakeClient, winic_mock: MockService) -> None:
    with pytest.raises(InputError) as caught:
        make_client().send(["13800138000", "12345"], "hi")
    assert caught.value.field == "recipients[1]" and caught.value.value == "12345"
    assert [p.position for p in caught.value.problems] == [1]
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_skip_invalid_sends_the_valid_ones(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    numbers = ["12345", *VALID[:150], "abc", VALID[0], "１３９００１３９０００"]
    receipt = make_client(transport).send(numbers, "hi", skip_invalid=True, concurrency=2)
    assert receipt.recipients == (*VALID[:150], "13900139000")
    assert [(p.position, p.value) for p in receipt.skipped] == [(0, "12345"), (151, "abc")]
    sent = sorted(n for s in winic_mock.state.sends for n in s.recipients)
    assert sent == sorted((*VALID[:150], "13900139000"))
    assert "skipped=2" in repr(receipt)


def test_skip_invalid_international_and_plan(make_client: MakeClient, winic_mock: MockService) -> None:
    client: WinicClient = make_client()
    plan = client.plan_send(["447911123456", "44", "+44 7911 123457"], "hi", international=True, skip_invalid=True)
    assert list(plan.recipients()) == ["447911123456", "447911123457"] and len(plan.batches) == 1
    assert [p.position for p in plan.skipped] == [1] and "1 skipped" in repr(plan)
    receipt = client.send_international(["447911123456", "44"], "hi", skip_invalid=True)
    assert receipt.recipients == ("447911123456",) and [p.value for p in receipt.skipped] == ["44"]
    assert [s.recipients for s in winic_mock.state.sends] == [("447911123456",)]


def test_skip_invalid_with_nothing_valid_sends_nothing(make_client: MakeClient, winic_mock: MockService) -> None:
    with pytest.raises(InputError, match=r"no valid number \(all 2 invalid\)") as caught:
        make_client().send(["123", "abc"], "hi", skip_invalid=True)
    assert len(caught.value.problems) == 2
    _nothing_sent(winic_mock)


def test_async_client_names_and_skips_the_same(winic_mock: MockService) -> None:
    async def run() -> None:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            with pytest.raises(InputError) as caught:
                await client.send(["123", "13800138000", "abc"], "hi")
            assert [p.position for p in caught.value.problems] == [0, 2]
            assert winic_mock.ledger == []
            receipt = await client.send(["123", "13800138000", "abc"], "hi", skip_invalid=True)
            assert receipt.recipients == ("13800138000",) and len(receipt.skipped) == 2

    asyncio.run(run())
    assert [s.recipients for s in winic_mock.state.sends] == [("13800138000",)]


def test_a_receipt_repr_is_short(make_client: MakeClient, winic_mock: MockService) -> None:
    receipt = make_client().send(VALID, "hi", skip_invalid=True)
    shown = repr(receipt)
    assert "250 recipient(s) in 3 request(s)" in shown and len(shown) < 300
    assert not any(n in shown for n in VALID)
    assert all(s.message_id is not None and s.message_id in shown for s in receipt.submissions)
    assert receipt.count == 250 and len(receipt.recipients) == 250


def test_a_submission_is_a_value() -> None:
    first = Submission("1125120000000001", ["13800138000", "13900139000"])
    assert first.recipients == ("13800138000", "13900139000") and first.count == 2
    assert first == Submission("1125120000000001", ("13800138000", "13900139000")) and hash(first) == hash(
        Submission("1125120000000001", ("13800138000", "13900139000"))
    )
    assert pickle.loads(pickle.dumps(first)) == first
    assert Submission(None, ()).recipients == () and Submission(None, ()).count == 0
    assert Submission("1", "13800138000").recipients == ("13800138000",)
    assert Submission("1", "13800138000,13900139000") == Submission("1", ["13800138000", "13900139000"])
    with pytest.raises(AttributeError):
        first.message_id = "x"
    assert str(Problem("line 3", 3, "12", "not a number")) == "line 3 '12': not a number"


def test_a_bulk_list_is_checked_and_deduplicated_like_a_short_one(
    make_client: MakeClient, winic_mock: MockService
) -> None:
    """Past 50,000 numbers the plan keeps them compact (integers, sorted in slices to find repeats): the
    same numbers, order and skips as the short path."""
    numbers = [f"13{3 + i % 60_000 % 7}{i % 60_000 * 997:08d}" for i in range(120_000)]  # each one twice
    numbers[5], numbers[70_000] = "12345", "＋８６ 138 0000 0001"
    cleaned = [n for n in numbers if n != "12345"]
    cleaned[70_000 - 1] = "13800000001"
    expected = list(dict.fromkeys(cleaned))
    plan = make_client().plan_send(numbers, "hi", skip_invalid=True)
    assert list(plan.recipients()) == expected and 60_000 <= len(expected) < 61_000
    assert [list(b) for b in plan.batches] == [expected[i : i + 100] for i in range(0, len(expected), 100)]
    assert [(p.position, p.value) for p in plan.skipped] == [(5, "12345")]
    short = make_client().plan_send(expected[:300], "hi")
    assert short.recipients() == plan.recipients()[:300] and list(short.recipients()) == expected[:300]
    assert winic_mock.ledger == []
