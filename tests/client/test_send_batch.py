"""``send_batch`` is public: it sends a plan's batch as planned (no second check against the numbering
plan), yet refuses, before the wire, anything that is not a batch: numbers not in their wire form (a comma
would add a recipient the receipt never names), duplicates, more than 100, a lone string. The journal's
batches go through the same door, so a job stored with raw numbers is refused the same way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from winic_soap import AsyncWinicClient, InputError, WinicClient
from winic_soap.mock import MockService
from winic_soap.store import open_store

NOT_BATCHES: dict[str, object] = {
    "two numbers in one (a comma)": ["13800138000,13900139000"],
    "country code prefix": ["+8613800138000"],
    "spaces": ["138 0013 8000"],
    "fullwidth digits": ["１３８００１３８０００"],
    "a number that is not a string": [13800138000],
    "a duplicate": ["13800138000", "13800138000"],
    "more than 100": [f"138{i:08d}" for i in range(101)],
    "none": [],
    "a lone string": "13800138000",
}


@pytest.mark.parametrize("batch", list(NOT_BATCHES.values()), ids=list(NOT_BATCHES))
def test_a_batch_that_is_not_one_is_refused_before_the_wire(winic_mock: MockService, batch: object) -> None:
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        plan = client.plan_send(["13800138000", "13900139000"], "通知")
        with pytest.raises(InputError) as caught:
            client.send_batch(plan, batch)  # type: ignore[arg-type]  # the wrong type is the test
    assert caught.value.field == "numbers" and "one batch of the plan" in caught.value.rule
    assert winic_mock.ledger == []


@pytest.mark.parametrize("batch", list(NOT_BATCHES.values()), ids=list(NOT_BATCHES))
def test_the_async_client_refuses_them_too(winic_mock: MockService, batch: object) -> None:
    async def main() -> None:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            plan = client.plan_send(["13800138000"], "通知")
            with pytest.raises(InputError, match="numbers: must be one batch of the plan"):
                await client.send_batch(plan, batch)  # type: ignore[arg-type]  # the wrong type is the test

    asyncio.run(main())
    assert winic_mock.ledger == []


def test_a_plans_batches_go_out_as_planned(winic_mock: MockService) -> None:
    numbers = [f"138{i:08d}" for i in range(150)] + ["+86 139 0013 9000"]
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        plan = client.plan_send(numbers, "通知")
        submissions = [client.send_batch(plan, batch) for batch in plan.batches]
        receipt = client.receipt_of(plan, submissions)
    assert [len(b) for b in plan.batches] == [100, 51]
    assert receipt.count == 151 and receipt.recipients[-1] == "13900139000"
    assert [e.params["tos"] for e in winic_mock.calls("SendMessages")] == [",".join(b) for b in plan.batches]


def test_a_journalled_batch_of_raw_numbers_is_refused_and_journalled_failed(
    winic_mock: MockService, tmp_path: Path
) -> None:
    with (
        open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as store,
        WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client,
    ):
        job = store.create_job("SendMessages", "通知", [["+86 138 0013 8000"]])
        with pytest.raises(InputError, match="numbers"):
            store.journal.resume(client, job)
        assert [(b.state, b.code) for b in store.batches(job)] == [("failed", "InputError")]
    assert winic_mock.ledger == []
