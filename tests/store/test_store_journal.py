"""The send journal from Python: ``journal.send`` / ``journal.resume`` with the real client against the mock,
the ``batch`` context manager, and how each error is journalled. On both backends."""

from __future__ import annotations

import pytest
from helpers.shared import MakeClient

from winic_soap import (
    BalanceError,
    BulkSendError,
    ConnectError,
    InputError,
    ProtocolError,
    SendOutcomeUnknown,
    StoreError,
)
from winic_soap.mock import MockService
from winic_soap.recipients import chunked
from winic_soap.store import open_store
from winic_soap.store.journal import outcome_of


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (BalanceError("-01", "SendMessages"), ("failed", "-01")),
        (ConnectError("refused"), ("failed", "ConnectError")),
        (InputError("recipients", "bad"), ("failed", "InputError")),
        (SendOutcomeUnknown("SendMessages", OSError("reset"), recipients=["13800138000"], text="x"), ("unknown", None)),
        (ProtocolError("garbled"), ("unknown", None)),
        (ProtocolError("refused before the method ran", processed=False), ("failed", "ProtocolError")),
        (RuntimeError("anything else"), ("unknown", None)),
    ],
)
def test_what_each_error_proves(error: BaseException, outcome: tuple[str, str | None]) -> None:
    assert outcome_of(error) == outcome


def test_resume_sends_each_batch_once_with_concurrency(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    numbers = [f"138{i:08d}" for i in range(450)]
    with open_store(store_url) as store:
        job = store.create_job("SendMessages_Ext", "通知", chunked(numbers), options={"ext": "12"})
        receipt = store.journal.resume(make_client(), job, concurrency=3)
        assert [s.recipients[0] for s in receipt.submissions] == [numbers[i] for i in range(0, 450, 100)]
        assert (summary := store.job(job)) is not None and summary.batches["accepted"] == 5
        again = store.journal.resume(make_client(), job)  # nothing left: nothing sent again, the same receipt
        assert again.message_ids == receipt.message_ids
    sends = winic_mock.calls("SendMessages_Ext")
    assert len(sends) == 5 and {s.params["extno"] for s in sends} == {"12"}
    assert sorted(m or "" for m in receipt.message_ids) == sorted(s.message_id for s in winic_mock.state.sends)


def test_resume_stops_at_a_refusal_and_keeps_the_rest(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    numbers = [f"138{i:08d}" for i in range(300)]
    winic_mock.fail("code", code="-01", every=2, times=1, operation="SendMessages")
    with open_store(store_url) as store:
        job = store.create_job("SendMessages", "x", chunked(numbers))
        with pytest.raises(BulkSendError) as caught:
            store.journal.resume(make_client(), job)
        assert isinstance(caught.value.error, BalanceError) and caught.value.failed == tuple(numbers[100:200])
        assert caught.value.unsent == tuple(numbers[200:]) and caught.value.job == job
        assert [b.state for b in store.batches(job)] == ["accepted", "failed", "new"]
        assert store.batches(job)[1].code == "-01"
        with pytest.raises(BulkSendError) as again:  # the resume sends batch 2 only; batch 1 stays refused
            store.journal.resume(make_client(), job)
        assert isinstance(again.value.error, BalanceError) and again.value.unsent == ()
        assert [b.state for b in store.batches(job)] == ["accepted", "failed", "accepted"]
    assert len(winic_mock.calls("SendMessages")) == 2  # processed: batches 0 and 2; batch 1 was refused


def test_the_journal_wraps_a_send_the_caller_makes(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:

    client = make_client()
    with open_store(store_url) as store:
        with store.journal.batch("mine", 0, ["13800138000"], "hi", "SendMessages") as batch:
            batch.accepted(client.send(["13800138000"], "hi").message_id)
        winic_mock.fail("close_after", operation="SendMessages")
        with (
            pytest.raises(SendOutcomeUnknown),
            store.journal.batch("mine", 1, ["13900139000"], "hi", "SendMessages"),
        ):
            client.send(["13900139000"], "hi")
        with pytest.raises(StoreError, match="attempted before"):  # never twice, whoever asks
            store.begin_batch("mine", 1, ["13900139000"], "hi", "SendMessages")
        assert [(b.state, b.message_id is not None) for b in store.batches("mine")] == [
            ("accepted", True),
            ("unknown", False),
        ]


def test_journal_send_reads_like_client_send(store_url: str, make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [f"+86 138{i:08d}" for i in range(150)]
    with open_store(store_url) as store:
        receipt = store.journal.send(make_client(), numbers, "促销 100%", job="promo", concurrency=2)
        assert len(receipt.submissions) == 2 and receipt.text == "促销 100％" and receipt.transport == "soap11"
        assert (summary := store.job("promo")) is not None and summary.batches["accepted"] == 2
        winic_mock.fail("close_after", operation="SendMessages")
        with pytest.raises(SendOutcomeUnknown):
            store.journal.send(make_client(), ["13800138000"], "x", job="single")
        assert (summary := store.job("single")) is not None and summary.batches["unknown"] == 1
        with pytest.raises(SendOutcomeUnknown):  # a replay: nothing sent again, the first call's error again
            store.journal.send(make_client(), ["13800138000"], "x", job="single")
        with pytest.raises(InputError, match=r"'single' is already used for another send \(text not the same\)"):
            store.journal.send(make_client(), ["13800138000"], "another text", job="single")
    assert len(winic_mock.calls("SendMessages")) == 3
