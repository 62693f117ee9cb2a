"""The one send engine: every way a bulk send stops tells the truth, and a repeated send is a
replay. The mock's ledger is the truth of what reached the service; every test checks what was raised or
printed against it: each accepted id is the one the service gave those numbers, every number the service
saw is accepted or named unknown, and no number reached it twice.
"""

from __future__ import annotations

import _thread
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.ledger import assert_truthful, sent_numbers, settle, wait_for_sends
from helpers.shared import cli_env, wait_until

from winic_soap import (
    AsyncWinicClient,
    BulkSendError,
    CallEvent,
    InputError,
    SendOutcomeUnknown,
    WinicClient,
)
from winic_soap.mock import MockService, protocol
from winic_soap.models import Submission
from winic_soap.recipients import chunked
from winic_soap.store import open_store

NUMBERS = [f"138{i:08d}" for i in range(3000)]  # 30 requests


@pytest.fixture
def winic_mock() -> Iterator[MockService]:
    """The mock with a balance that covers every send here."""
    with MockService([("demo", "demo-secret", "100000")]) as mock:
        yield mock


# -- events ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_attempt_answered_without_an_id_is_unknown_in_its_event(winic_mock: MockService, kind: str) -> None:
    body = protocol.render_soap_result("soap11", "SendMessages", "OK").body
    winic_mock.fail("reply", operation="SendMessages", body=body)
    events: list[CallEvent] = []
    if kind == "sync":
        with (
            WinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[events.append]) as client,
            pytest.raises(SendOutcomeUnknown),
        ):
            client.send("13800138000", "hi")
    else:

        async def run() -> None:
            async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[events.append]) as c:
                with pytest.raises(SendOutcomeUnknown):
                    await c.send("13800138000", "hi")

        asyncio.run(run())
    assert [(e.operation, e.outcome, e.message_id) for e in events] == [("SendMessages", "unknown", None)]


def test_an_accepted_attempt_carries_its_id(winic_mock: MockService) -> None:
    events: list[CallEvent] = []
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[events.append]) as client:
        receipt = client.send("13800138000", "hi")
    assert [(e.outcome, e.message_id) for e in events] == [("ok", receipt.message_id)]


# -- cancellation, timeouts, Ctrl-C ----------------------------------------------------------------------
async def _send_slowly(mock: MockService, stop: str) -> BulkSendError:
    async with AsyncWinicClient("demo", "demo-secret", endpoint=mock.url) as client:
        sending = client.send(NUMBERS, "通知", concurrency=4)
        caught: pytest.ExceptionInfo[BaseException]
        if stop == "wait_for":
            with pytest.raises(TimeoutError) as caught:
                await asyncio.wait_for(sending, 0.4)
        elif stop == "timeout":
            with pytest.raises(TimeoutError) as caught:
                async with asyncio.timeout(0.4):
                    await sending
        else:
            task = asyncio.ensure_future(sending)
            await asyncio.sleep(0.4)
            task.cancel()
            with pytest.raises(asyncio.CancelledError) as caught:
                await task
    bulk = BulkSendError.find(caught.value)
    assert bulk is not None, "nothing in what was raised says what was sent"
    return bulk


@pytest.mark.parametrize("stop", ["wait_for", "timeout", "cancel"])
def test_a_cancelled_async_bulk_send_keeps_every_id(winic_mock: MockService, stop: str) -> None:
    winic_mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")
    bulk = asyncio.run(_send_slowly(winic_mock, stop))
    settle(winic_mock)
    assert isinstance(bulk.error, asyncio.CancelledError)
    assert len(bulk.receipts) >= 4 and bulk.unsent, "the run should have stopped half-way"
    assert_truthful(bulk, winic_mock, NUMBERS)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_ctrl_c_in_a_sync_bulk_send_keeps_every_id(winic_mock: MockService, concurrency: int) -> None:
    """SIGINT in the main thread, as a terminal's Ctrl-C delivers it, while threads send."""
    winic_mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")

    def interrupt_after_four_sends() -> None:
        wait_for_sends(winic_mock, 4)
        _thread.interrupt_main(signal.SIGINT)

    threading.Thread(target=interrupt_after_four_sends).start()
    with (
        WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client,
        pytest.raises(KeyboardInterrupt) as caught,
    ):
        client.send(NUMBERS, "通知", concurrency=concurrency)
    settle(winic_mock)
    bulk = BulkSendError.find(caught.value)
    assert bulk is not None and isinstance(bulk.error, KeyboardInterrupt)
    assert len(bulk.receipts) >= 3 and bulk.unsent  # the 4th may be the one Ctrl-C hit: unknown
    assert_truthful(bulk, winic_mock, NUMBERS)
    if concurrency == 4:  # the batches in flight finished within their deadline: accepted, not unknown
        assert not bulk.unknown


# -- the journal: replays ----------------------------------------------------------------------------------
def test_a_repeated_journalled_send_is_a_replay(store_url: str, winic_mock: MockService) -> None:
    numbers = NUMBERS[:250]
    with open_store(store_url) as store, WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        first = store.journal.send(client, numbers, "验证码 1234", job="task-1", concurrency=2)
        again = store.journal.send(client, numbers, "验证码 1234", job="task-1", concurrency=2)
        assert again.message_ids == first.message_ids and again.recipients == first.recipients
        with pytest.raises(InputError, match="task-1") as other:
            store.journal.send(client, numbers, "another text", job="task-1")
        assert other.value.field == "job"
        with pytest.raises(InputError, match="numbers"):
            store.journal.send(client, numbers[:100], "验证码 1234", job="task-1")
    assert len(winic_mock.state.sends) == 3 and set(sent_numbers(winic_mock).values()) == {1}


def test_the_async_client_journals_and_replays(store_url: str, winic_mock: MockService) -> None:
    async def run() -> tuple[Any, Any]:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            with open_store(store_url) as store:
                first = await store.journal.asend(client, NUMBERS[:450], "通知", job="a-1", concurrency=3)
                again = await store.journal.asend(client, NUMBERS[:450], "通知", job="a-1", concurrency=3)
                return first, again

    first, again = asyncio.run(run())
    assert len(first.submissions) == 5 and again.message_ids == first.message_ids
    assert len(winic_mock.state.sends) == 5


def test_a_replay_of_an_unknown_batch_raises_as_the_first_send_did(store_url: str, winic_mock: MockService) -> None:
    winic_mock.fail("close_after", operation="SendMessages", every=2, times=1)  # batch 1: processed, reply lost
    with open_store(store_url) as store, WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        with pytest.raises(BulkSendError) as first:
            store.journal.send(client, NUMBERS[:300], "x", job="k")
        with pytest.raises(BulkSendError) as again:
            store.journal.send(client, NUMBERS[:300], "x", job="k")
    assert first.value.unknown == again.value.unknown == tuple(NUMBERS[100:200])
    assert first.value.unsent == tuple(NUMBERS[200:300])  # the first run stopped at the unknown batch
    # the repeat sent nothing attempted before; the never-attempted batch went out, as a resume sends it
    assert again.value.message_ids[0] == first.value.message_ids[0] and len(again.value.message_ids) == 2
    assert again.value.unsent == ()
    assert isinstance(again.value.error, SendOutcomeUnknown)
    assert len(winic_mock.state.sends) == 3  # batch 0, the unknown batch 1, and batch 2 once (by the replay)


_RACER = """
import json, sys
from winic_soap import WinicClient
from winic_soap.store import open_store
url, endpoint, key = sys.argv[1:4]
numbers = [f"138{i:08d}" for i in range(1000)]
with open_store(url) as store, WinicClient("demo", "demo-secret", endpoint=endpoint) as client:
    receipt = store.journal.send(client, numbers, "race", job=key, concurrency=2)
print(json.dumps(list(receipt.message_ids)))
"""


def test_two_processes_racing_with_one_key_send_once(store_url: str, winic_mock: MockService) -> None:
    winic_mock.fail("latency", seconds=0.03, times=None, operation="SendMessages")
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, store_url, winic_mock.url, "race-1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [r.returncode for r in racers] == [0, 0], [err for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert first == second and len(first) == 10
    assert sorted(first) == sorted(s.message_id for s in winic_mock.state.sends)
    assert set(sent_numbers(winic_mock).values()) == {1} and len(sent_numbers(winic_mock)) == 1000


@pytest.mark.parametrize("second", ["library", "cli"])
def test_a_replay_that_finds_the_first_send_in_flight_waits_for_it(
    store_url: str, winic_mock: MockService, tmp_path: Path, second: str
) -> None:
    """The second delivery of a key arrives while the first process still has a request at the service (held
    there 4 s): it sends nothing of it again, waits for it, and answers with the same message ids."""
    winic_mock.fail("latency", seconds=4.0, operation="SendMessages", every=2, times=1)
    first = subprocess.Popen(
        [sys.executable, "-c", _RACER, store_url, winic_mock.url, "held-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with open_store(store_url) as store:

            def held() -> bool:  # every batch but the held one sent, the held one still 'sending'
                assert first.poll() is None, first.stderr
                job = store.job("held-1")
                return job is not None and job.batches.get("sending") == 1 and not job.batches.get("new")

            wait_until(held, "the first process to hold one batch at the service")
        if second == "library":
            command = [sys.executable, "-c", _RACER, store_url, winic_mock.url, "held-1"]
        else:
            numbers = tmp_path / "numbers.txt"
            numbers.write_text("\n".join(NUMBERS[:1000]) + "\n")
            command = [sys.executable, "-m", "winic_soap", "send", "-f", str(numbers), "-m", "race"]
            command += ["--job", "held-1", "--concurrency", "2", "--json"]
        env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": store_url}
        again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0 and again.returncode == 0, err + again.stderr
    ids = json.loads(out)
    replayed = json.loads(again.stdout)
    if second == "cli":
        replayed = [s["message_id"] for s in replayed["submissions"]]
    assert replayed == ids and len(ids) == 10
    assert len(winic_mock.state.sends) == 10 and set(sent_numbers(winic_mock).values()) == {1}


# -- the journal: resume and schedules -----------------------------------------------------------------
def test_a_scheduled_job_resumed_after_its_time(store_url: str, winic_mock: MockService) -> None:
    past = (datetime.now() - timedelta(hours=1)).replace(microsecond=0)
    with open_store(store_url) as store, WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        job = store.create_job("SendMessages", "x", chunked(NUMBERS[:200]), options={"at": past.isoformat()})
        with pytest.raises(InputError, match=job) as refused:
            store.journal.resume(client, job)
        assert refused.value.field == "at" and "send_now" in str(refused.value)
        assert not winic_mock.ledger
        receipt = store.journal.resume(client, job, send_now=True)
    assert len(receipt.submissions) == 2 and receipt.scheduled_at is None
    assert {e.params.get("otime") for e in winic_mock.calls("SendMessages")} <= {"", None}


def test_a_future_schedule_goes_out_as_planned_on_resume(store_url: str, winic_mock: MockService) -> None:
    at = (datetime.now() + timedelta(days=1)).replace(microsecond=0)
    with open_store(store_url) as store, WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        job = store.create_job("SendMessages", "x", chunked(NUMBERS[:100]), options={"at": at.isoformat()})
        store.journal.resume(client, job)
    assert [e.params["otime"] for e in winic_mock.calls("SendMessages")] == [at.strftime("%Y-%m-%d %H:%M:%S")]


# -- the CLI: stops, exit codes, summaries ----------------------------------------------------------------
class Cli:
    """``winic-soap ARGS`` started on the test's mock with a SQLite store; ``numbers`` is a file of NUMBERS."""

    def __init__(self, endpoint: str, home: Path) -> None:
        self._env = {**cli_env(endpoint, home), "WINIC_STORE": f"sqlite:///{home / 'store.sqlite3'}"}
        numbers = home / "numbers.txt"
        numbers.write_text("\n".join(NUMBERS) + "\n")
        self.numbers = str(numbers)
        self.started: list[subprocess.Popen[str]] = []

    def __call__(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "winic_soap", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self._env,
        )
        self.started.append(process)
        return process


@pytest.fixture
def cli(tmp_path: Path, winic_mock: MockService) -> Iterator[Cli]:
    made = Cli(winic_mock.url, tmp_path)
    yield made
    for process in made.started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("sig", "code", "concurrency"),
    [(signal.SIGTERM, 143, 4), (signal.SIGINT, 130, 1), (signal.SIGINT, 130, 4), (signal.SIGTERM, 143, 1)],
)
def test_a_stopped_cli_send_prints_every_id_and_exits_true(
    cli: Cli, winic_mock: MockService, sig: int, code: int, concurrency: int
) -> None:
    winic_mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")
    send = cli("send", "-f", cli.numbers, "-m", "通知", "--job", "j1", "--concurrency", str(concurrency), "--json")
    wait_for_sends(winic_mock, 4)
    os.kill(send.pid, sig)
    out, err = send.communicate(timeout=60)
    assert send.returncode == code, err
    assert "Traceback" not in err and len(err.splitlines()) <= 3, err
    error = json.loads(out)["error"]
    assert error["job"] == "j1" and error["exit"] == code
    settle(winic_mock)
    bulk = BulkSendError(
        [_submission(a) for a in error["accepted"]], KeyboardInterrupt(), error["failed"], error["unsent"],
        error["unknown"],
    )  # fmt: skip
    assert_truthful(bulk, winic_mock, NUMBERS)
    show = cli("jobs", "show", "j1", "--json")
    picture = json.loads(show.communicate(timeout=60)[0])
    assert picture["delivery"]["sending"] == 0, "a batch left 'sending' after the run stopped"
    resume = cli("jobs", "resume", "j1", "--json")
    out, err = resume.communicate(timeout=120)
    seen = sent_numbers(winic_mock)
    assert set(seen.values()) == {1}, "a number reached the service twice after the resume"
    assert set(NUMBERS) - set(error["unknown"]) <= set(seen), "a never-attempted number was not sent by the resume"
    if error["unknown"]:
        assert resume.returncode == 8, err
    else:
        assert resume.returncode == 0, err


@pytest.mark.parametrize(("sig", "code", "concurrency"), [(signal.SIGINT, 130, 4), (signal.SIGTERM, 143, 1)])
def test_a_stopped_cli_send_prints_its_ids_and_one_summary_line(
    cli: Cli, winic_mock: MockService, sig: int, code: int, concurrency: int
) -> None:
    """Without --json: the accepted ids on stdout, one summary line on stderr, the rest in `jobs show`."""
    winic_mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")
    send = cli("send", "-f", cli.numbers, "-m", "通知", "--job", "j2", "--concurrency", str(concurrency))
    wait_for_sends(winic_mock, 4)
    os.kill(send.pid, sig)
    out, err = send.communicate(timeout=60)
    assert send.returncode == code, err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    summary = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(summary) == 1 and "jobs show j2" in summary[0] and "failed" not in summary[0], err
    assert summary[0].startswith(
        f"error: send stopped by {'Terminated' if sig == signal.SIGTERM else 'KeyboardInterrupt'}: "
    )
    assert ": :" not in summary[0], err  # an interrupt has no message of its own
    assert len(err.splitlines()) <= 3, err  # "job j2", the summary, at most one warning
    printed = [line.split()[2] for line in out.splitlines() if line.startswith("message id ")]
    assert len(printed) == len(out.splitlines()) >= 3
    settle(winic_mock)
    show = cli("jobs", "show", "j2", "--json", "--batches")
    batches = json.loads(show.communicate(timeout=60)[0])["batches"]
    by_state: dict[str, list[Any]] = {}
    for batch in batches:
        by_state.setdefault(batch["state"], []).append(batch)
    assert set(by_state) <= {"accepted", "unknown", "new"}, "a batch left 'sending' or called failed"
    assert sorted(b["message_id"] for b in by_state["accepted"]) == sorted(printed)
    bulk = BulkSendError(
        [_submission({**b, "recipients": b["numbers"]}) for b in by_state["accepted"]], KeyboardInterrupt(), [],
        [n for b in by_state.get("new", []) for n in b["numbers"]],
        [n for b in by_state.get("unknown", []) for n in b["numbers"]],
    )  # fmt: skip
    assert_truthful(bulk, winic_mock, NUMBERS)
    resume = cli("jobs", "resume", "j2")
    _, err = resume.communicate(timeout=120)
    assert resume.returncode == (8 if bulk.unknown else 0), err
    assert set(sent_numbers(winic_mock).values()) == {1}, "a number reached the service twice after the resume"
    assert set(NUMBERS) - set(bulk.unknown) <= set(sent_numbers(winic_mock)), "the resume left numbers unsent"


def _submission(data: dict[str, Any]) -> Submission:
    return Submission(data["message_id"], tuple(data["recipients"]))


def test_a_rerun_with_the_printed_job_id_is_a_replay(cli: Cli, winic_mock: MockService) -> None:
    first = cli("send", "-f", cli.numbers, "-m", "通知", "--concurrency", "4", "--json")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    job = err.split()[1]  # "job JOB", printed before anything is written
    again = cli("send", "-f", cli.numbers, "-m", "通知", "--job", job, "--json")
    out2, err2 = again.communicate(timeout=120)
    assert again.returncode == 0, err2
    assert json.loads(out2)["submissions"] == json.loads(out)["submissions"]
    assert len(winic_mock.state.sends) == 30


def test_a_store_that_fills_up_mid_send_shows_the_ids_and_exits_12(
    tmp_path: Path, small_disk: Path, winic_mock: MockService
) -> None:
    winic_mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": f"sqlite:///{small_disk / 'store.sqlite3'}"}
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(NUMBERS[:2000]) + "\n")
    send = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "send", "-f", str(numbers), "-m", "通知", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_sends(winic_mock, 3)
        filler = small_disk / "filler"
        with filler.open("wb") as fill:  # every byte left: the journal's next write fails
            try:
                while True:
                    fill.write(b"\0" * 65536)
                    fill.flush()
            except OSError:
                pass
        out, err = send.communicate(timeout=120)
    finally:
        if send.poll() is None:
            send.kill()
    assert send.returncode in (12, 8), err  # 8 when a reply was lost as well: the unknown outranks
    assert "nothing was sent" not in err
    error = json.loads(out)["error"]
    accepted = {a["message_id"] for a in error["accepted"]}
    assert accepted and accepted <= {s.message_id for s in winic_mock.state.sends}
    settle(winic_mock)
    assert set(sent_numbers(winic_mock)) <= {n for a in error["accepted"] for n in a["recipients"]} | set(
        error["unknown"]
    )
