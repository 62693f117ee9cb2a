"""The store dying during a journalled send, on PostgreSQL: the database sits behind a TCP proxy the test
cuts (tests/helpers/tcp_proxy.py). Cut after the service accepted some requests, every accepted id is shown
(stdout, ``--json``, ``BulkSendError.receipts``) and the CLI exits 12, never 10 ("nothing was sent"). The
answer to the COMMIT that wrote the job lost: the job id was printed before anything was written, and a
re-run with it sends every number once. (SQLite on a full filesystem: tests/client/test_send_engine.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.ledger import assert_truthful, sent_numbers, settle
from helpers.pgserver import PgServer
from helpers.shared import cli_env, wait_until
from helpers.tcp_proxy import TcpProxy, tcp_proxy

from winic_soap import AsyncWinicClient, BulkSendError, JournalError, StoreError, WinicClient
from winic_soap.mock import MockService
from winic_soap.store import open_store

NUMBERS = [f"137{i:08d}" for i in range(2000)]  # 20 requests
_DATABASES = iter(range(1, 1 << 30))


@pytest.fixture
def winic_mock() -> Iterator[MockService]:
    with MockService([("demo", "demo-secret", "100000")]) as mock:
        mock.fail("latency", seconds=0.1, times=None, operation="SendMessages")
        yield mock


@pytest.fixture
def database(pg_server: PgServer) -> str:
    """A fresh database on the test run's PostgreSQL server (its direct URL, not through the proxy)."""
    return pg_server.create_database(f"dies{next(_DATABASES)}")


@pytest.fixture
def proxy(database: str) -> Iterator[TcpProxy]:
    with tcp_proxy(database) as proxy:
        yield proxy


def _cut_in_flight(mock: MockService, proxy: TcpProxy, database: str, job: str, concurrency: int) -> threading.Thread:
    """Cut the database away while ``concurrency`` requests are at the service, after 4 were accepted and
    journalled: the requests after the 4th are held 5 s by the mock, and the cut waits until they are there
    (their hold has fired), so it always lands before their answers (whose acceptance the journal then cannot
    record) and before the next claim; never between a batch marked sending and its request, where the send
    would stop before it. Seen with the tests in parallel on a loaded machine, as was a 1.5 s hold too short."""
    holds = [
        mock.fail("latency", seconds=5.0, operation="SendMessages", every=nth, times=1)
        for nth in range(5, 5 + concurrency)
    ]

    def cut() -> None:
        with open_store(database) as store:  # the test's own connection, not through the proxy

            def in_flight() -> bool:
                if any(hold.times for hold in holds):  # a held request is not at the service yet
                    return False
                summary = store.job(job)
                batches = summary.batches if summary else {}
                return batches.get("accepted", 0) >= 4 and batches.get("sending", 0) == concurrency

            wait_until(in_flight, f"job {job} with {concurrency} batch(es) in flight")
        proxy.cut()

    thread = threading.Thread(target=cut, daemon=True)
    thread.start()
    return thread


def _send(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "winic_soap", "send", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_setup(tmp_path: Path, winic_mock: MockService, proxy: TcpProxy, database: str) -> tuple[dict[str, str], Path]:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(NUMBERS) + "\n")
    return {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": proxy.url}, numbers


# -- the database goes away after the service accepted some requests -----------------------------------------
@pytest.mark.parametrize("concurrency", [1, 3])
def test_the_library_error_carries_every_receipt(
    winic_mock: MockService, proxy: TcpProxy, database: str, concurrency: int
) -> None:
    with open_store(proxy.url) as store, WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as c:
        cutter = _cut_in_flight(winic_mock, proxy, database, "lib-1", concurrency)
        with pytest.raises(BulkSendError) as caught:
            store.journal.send(c, NUMBERS, "通知", job="lib-1", concurrency=concurrency)
        cutter.join()
    settle(winic_mock)
    bulk = caught.value
    assert isinstance(bulk.error, StoreError) and bulk.job == "lib-1"
    assert {s.message_id for s in bulk.receipts} == {s.message_id for s in winic_mock.state.sends}
    assert len(bulk.receipts) >= 4 and bulk.unsent
    assert_truthful(bulk, winic_mock, NUMBERS)
    # what the journal could not record (the requests in flight at the cut) is named, with its ids
    assert isinstance(bulk.error, JournalError), repr(bulk.error)
    with open_store(database) as store:
        journalled = {b.message_id for b in store.batches("lib-1", ["accepted"])}
    lost = {s.message_id for s in bulk.receipts} - journalled
    assert len(lost) == concurrency and all(str(i) in str(bulk.error) for i in lost)


class _Watch(logging.Handler):
    """Sets ``seen`` when the journal logs that an outcome could not be written yet."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "not journalled yet" in record.getMessage():
            self.seen.set()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_store_back_while_the_journal_retries_gets_every_acceptance(
    winic_mock: MockService, proxy: TcpProxy, database: str, kind: str
) -> None:
    """The database comes back as soon as the first acceptance could not be written: the journal's retries
    write it (for the async client, while its event loop goes on: the waits between retries are awaited)."""
    watch = _Watch()
    logging.getLogger("winic_soap.store").addHandler(watch)
    cutter = _cut_in_flight(winic_mock, proxy, database, "back-1", 1)
    try:
        if kind == "sync":

            def restore_when_seen() -> None:
                watch.seen.wait(60)
                proxy.restore()

            threading.Thread(target=restore_when_seen, daemon=True).start()
            with (
                open_store(proxy.url) as store,
                WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client,
                contextlib.suppress(BulkSendError),
            ):
                store.journal.send(client, NUMBERS, "通知", job="back-1")
        else:

            async def restore() -> None:
                while not watch.seen.is_set():
                    await asyncio.sleep(0.01)
                proxy.restore()

            async def run() -> None:
                async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
                    with open_store(proxy.url) as store:
                        restoring = asyncio.ensure_future(restore())
                        with contextlib.suppress(BulkSendError):
                            await store.journal.asend(client, NUMBERS, "通知", job="back-1")
                        await restoring

            asyncio.run(run())
    finally:
        logging.getLogger("winic_soap.store").removeHandler(watch)
        proxy.restore()
    cutter.join()
    assert watch.seen.is_set()
    settle(winic_mock)
    with open_store(database) as store:
        journalled = sorted(b.message_id or "" for b in store.batches("back-1", ["accepted"]))
        assert not store.batches("back-1", ["sending", "unknown"])
    assert journalled == sorted(s.message_id for s in winic_mock.state.sends)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_the_cli_prints_every_accepted_id_and_exits_12(
    cli_setup: tuple[dict[str, str], Path], winic_mock: MockService, proxy: TcpProxy, database: str, as_json: bool
) -> None:
    env, numbers = cli_setup
    cutter = _cut_in_flight(winic_mock, proxy, database, "cli-1", 2)
    sent = _send(env, "-f", str(numbers), "-m", "通知", "--job", "cli-1", "--concurrency", "2", *(["--json"] * as_json))
    cutter.join()
    settle(winic_mock)
    assert sent.returncode == 12, sent.stderr
    assert "nothing was sent" not in sent.stdout + sent.stderr
    given = {s.message_id for s in winic_mock.state.sends}
    assert len(given) >= 4
    if as_json:
        error = json.loads(sent.stdout)["error"]
        assert error["exit"] == 12 and error["job"] == "cli-1"
        assert {a["message_id"] for a in error["accepted"]} == given
        assert not error["unknown"] and not error["failed"] and error["cause"]["type"] == "JournalError"
        listed = [n for a in error["accepted"] for n in a["recipients"]] + error["unsent"]
        assert sorted(listed) == sorted(NUMBERS)
    else:
        printed = {line.split()[2] for line in sent.stdout.splitlines() if line.startswith("message id ")}
        assert printed == given
        summary = [line for line in sent.stderr.splitlines() if line.startswith("error: ")]
        assert len(summary) == 1 and "jobs show cli-1" in summary[0], sent.stderr
        assert "JournalError" in summary[0] and "could not record" in summary[0], summary
    assert "Traceback" not in sent.stderr
    # the database back: a resume sends the never-attempted batches and nothing that went out before
    proxy.restore()
    resumed = subprocess.run(
        [sys.executable, "-m", "winic_soap", "jobs", "resume", "cli-1"], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert set(sent_numbers(winic_mock).values()) == {1}, "a number reached the service twice"
    assert set(sent_numbers(winic_mock)) == set(NUMBERS), resumed.stderr


def test_a_lost_reply_as_well_exits_8_with_the_unknown_numbers(
    cli_setup: tuple[dict[str, str], Path], winic_mock: MockService, proxy: TcpProxy, database: str
) -> None:
    """The request in flight at the cut is processed and its reply lost: the unknown outcome outranks the
    store's error (exit 8, not 12 or 10), its numbers are listed unknown, every accepted id is listed."""
    env, numbers = cli_setup
    winic_mock.fail("close_after", operation="SendMessages", every=5, times=1)
    cutter = _cut_in_flight(winic_mock, proxy, database, "cli-8", 1)
    sent = _send(env, "-f", str(numbers), "-m", "通知", "--job", "cli-8", "--json")
    cutter.join()
    settle(winic_mock)
    assert sent.returncode == 8, sent.stderr
    error = json.loads(sent.stdout)["error"]
    assert error["cause"]["type"] == "SendOutcomeUnknown" and error["job"] == "cli-8"
    assert error["unknown"] == NUMBERS[400:500]
    accepted = {a["message_id"] for a in error["accepted"]}
    assert len(accepted) == 4 and accepted == {s.message_id for s in winic_mock.state.sends[:4]}
    assert len(winic_mock.state.sends) == 5 and set(sent_numbers(winic_mock).values()) == {1}


@pytest.mark.parametrize("stop", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_stop_while_the_journal_retries_still_prints_every_id(
    cli_setup: tuple[dict[str, str], Path],
    winic_mock: MockService,
    proxy: TcpProxy,
    database: str,
    stop: tuple[signal.Signals, int],
) -> None:
    """Ctrl-C or SIGTERM while the journal waits to retry writes the store refused: the wait stops, and the
    ids (the unjournalled one too) are printed with the interrupt's exit code."""
    env, numbers = cli_setup
    cutter = _cut_in_flight(winic_mock, proxy, database, "cli-int", 1)
    send = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "send", "-f", str(numbers), "-m", "通知", "--job", "cli-int", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert send.stderr is not None
        said: list[str] = []
        for line in send.stderr:
            said.append(line)
            if "not journalled yet" in line:
                break
        else:
            raise AssertionError(f"the journal never said it could not write an acceptance: {''.join(said)}")
        wait_until(lambda: proxy.refused >= 2, "the next claim and the journal's first retry")
        send.send_signal(stop[0])
        out, err = send.communicate(timeout=60)
    finally:
        if send.poll() is None:
            send.kill()
            send.wait()
    cutter.join()
    assert send.returncode == stop[1], err
    assert "Traceback" not in err, err
    error = json.loads(out)["error"]
    assert error["job"] == "cli-int" and error["exit"] == stop[1]
    assert {a["message_id"] for a in error["accepted"]} == {s.message_id for s in winic_mock.state.sends}
    assert len(error["accepted"]) == 5


def test_a_cancel_while_the_journal_retries_keeps_every_id(
    winic_mock: MockService, proxy: TcpProxy, database: str
) -> None:
    """The async client cancelled while the journal retries writes the store refused: the CancelledError
    goes on, caused by a BulkSendError with every accepted id (the unjournalled one too)."""
    cutter = _cut_in_flight(winic_mock, proxy, database, "async-int", 1)

    async def run() -> BaseException:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            with open_store(proxy.url) as store:
                task = asyncio.ensure_future(store.journal.asend(client, NUMBERS, "通知", job="async-int"))
                while proxy.refused < 2 and not task.done():  # the next claim, then the first retry
                    await asyncio.sleep(0.005)
                task.cancel()
                with pytest.raises(asyncio.CancelledError) as caught:
                    await task
                return caught.value

    cancelled = asyncio.run(run())
    cutter.join()
    bulk = BulkSendError.find(cancelled)
    assert bulk is not None and bulk.job == "async-int"
    assert {s.message_id for s in bulk.receipts} == {s.message_id for s in winic_mock.state.sends}
    assert len(bulk.receipts) == 5
    assert_truthful(bulk, winic_mock, NUMBERS)


# -- the answer to the job's COMMIT is lost ---------------------------------------------------------------
def test_a_lost_commit_of_the_job_leaves_its_id_and_a_rerun_sends_once(
    cli_setup: tuple[dict[str, str], Path], winic_mock: MockService, proxy: TcpProxy, database: str
) -> None:
    env, numbers = cli_setup
    proxy.lose_commit_ack(b"INSERT INTO winic_jobs", then="refuse")
    first = _send(env, "-f", str(numbers), "-m", "通知", "--json")
    assert proxy.commits_lost == 1, "the proxy never saw the job's COMMIT"
    job = first.stderr.split()[1]  # "job JOB", printed before anything is written
    with open_store(database) as store:  # the job was committed: only the acknowledgement was lost
        assert store.job(job) is not None
    assert first.returncode == 10, first.stderr  # true: nothing went out; the id to re-run with is named
    assert not winic_mock.state.sends
    assert f"--job {job}" in json.loads(first.stdout)["error"]["message"]
    proxy.restore()
    again = _send(env, "-f", str(numbers), "-m", "通知", "--job", job, "--json")
    assert again.returncode == 0, again.stderr
    receipt = json.loads(again.stdout)
    assert receipt["job"] == job
    given = sorted(s.message_id for s in winic_mock.state.sends)
    assert sorted(s["message_id"] for s in receipt["submissions"]) == given
    assert set(sent_numbers(winic_mock).values()) == {1} and set(sent_numbers(winic_mock)) == set(NUMBERS)


def test_a_lost_commit_in_the_library_then_the_same_key_sends_once(
    winic_mock: MockService, proxy: TcpProxy, database: str
) -> None:
    numbers = NUMBERS[:300]
    proxy.lose_commit_ack(b"INSERT INTO winic_jobs", then="refuse")
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
        with open_store(proxy.url) as store:
            with pytest.raises(StoreError):  # the job's write was not acknowledged: nothing is sent
                store.journal.send(client, numbers, "通知", job="task-7")
            assert proxy.commits_lost == 1 and not winic_mock.state.sends
        proxy.restore()
        with open_store(proxy.url) as store:
            again = store.journal.send(client, numbers, "通知", job="task-7")
    assert len(again.submissions) == 3 and len(winic_mock.state.sends) == 3
    assert set(sent_numbers(winic_mock).values()) == {1}
