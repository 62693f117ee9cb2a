"""Every pulled record reaches the store exactly once: ids made before the first commit attempt, a spool on
disk before the commit, replayed by the next round, CLI pull or store command. Real failures only: a
PostgreSQL behind a proxy the test cuts, a SQLite on a filesystem the test fills, processes signalled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, TypeVar

import pytest
from helpers.pgserver import PgServer
from helpers.shared import MakeClient, cli_env, run_cli
from helpers.tcp_proxy import TcpProxy, tcp_proxy

from winic_soap import StoreError, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import DeliveryReport, Reply
from winic_soap.store import InboxRecord, open_store
from winic_soap.store.spool import PulledAnswer
from winic_soap.watcher import Watcher

INSERT = b"INSERT INTO winic_inbox"


def fill(disk: Path) -> Path:
    """Take every byte left on ``disk``; remove the returned file to give them back."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


_Records = TypeVar("_Records", list[Reply], list[DeliveryReport])


class FillsDuringPull:
    """The real client, but the disk fills up while a pull is in flight (after the poller lease was taken,
    before the commit): the moment a full disk costs records."""

    def __init__(self, client: WinicClient, disk: Path) -> None:
        self.client, self.disk, self.settings = client, disk, client.settings
        self.filler: Path | None = None

    def _after(self, records: _Records) -> _Records:
        if records and self.filler is None:
            self.filler = fill(self.disk)
        return records

    def reports(self) -> list[DeliveryReport]:
        return self._after(self.client.reports())

    def replies(self, port: str | None = None) -> list[Reply]:
        return self._after(self.client.replies(port=port))

    def replies_ext(self) -> list[Reply]:
        return self._after(self.client.replies_ext())


def test_a_full_store_disk_leaves_the_answer_in_a_private_spool_until_it_has_room(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path, small_disk: Path
) -> None:
    for i in range(3):
        winic_mock.add_reply("13800138000", f"code {i}")
    store = open_store(small_disk / "store.sqlite3", spool=tmp_path / "spool")
    puller = FillsDuringPull(make_client(), small_disk)
    handed: list[InboxRecord] = []
    watcher = Watcher(puller, store, handed.append, sources=["replies"])
    with pytest.raises(StoreError):
        watcher.poll_once()
    [spooled] = list((tmp_path / "spool").iterdir())
    assert spooled.stat().st_mode & 0o777 == 0o600
    assert len(store.spool) == 1 and handed == []
    pulls = len(winic_mock.calls("GET_SMS_MO"))
    with pytest.raises(StoreError):
        watcher.poll_once()  # the spool cannot be replayed yet: nothing new is pulled meanwhile
    assert len(winic_mock.calls("GET_SMS_MO")) == pulls
    assert puller.filler is not None
    puller.filler.unlink()
    assert watcher.poll_once() == (3, 3)
    assert sorted(r.data["text"] for r in handed) == ["code 0", "code 1", "code 2"]
    assert len(store.spool) == 0 and store.counts()["records"] == 3
    store.close()


def test_when_even_the_spool_is_full_the_records_wait_in_memory(
    make_client: MakeClient, winic_mock: MockService, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    winic_mock.add_reply("13800138000", "must not vanish 424242")
    store = open_store(small_disk / "store.sqlite3")  # the spool beside it, on the same full disk
    puller = FillsDuringPull(make_client(), small_disk)
    handed: list[InboxRecord] = []
    watcher = Watcher(puller, store, handed.append, sources=["replies"])
    with pytest.raises(StoreError):
        watcher.poll_once()
    assert len(store.spool) == 0
    assert "kept in memory" in caplog.text
    assert "138****8000/<22 chars>/001/" in caplog.text and "424242" not in caplog.text  # logged redacted
    assert puller.filler is not None
    puller.filler.unlink()
    assert watcher.poll_once() == (1, 1)
    assert [r.data["text"] for r in handed] == ["must not vanish 424242"]
    store.close()


def test_a_lost_commit_acknowledgement_stores_and_hands_on_nothing_twice(
    make_client: MakeClient, winic_mock: MockService, pg_server: PgServer, tmp_path: Path
) -> None:
    database = pg_server.create_database("lost_ack")
    for i in range(3):
        winic_mock.add_reply("13800138000", f"reply {i}")
    with tcp_proxy(database) as proxy, open_store(proxy.url, spool=tmp_path / "spool") as store:
        handed: list[InboxRecord] = []
        watcher = Watcher(make_client(), store, handed.append, sources=["replies"])
        proxy.lose_commit_ack(INSERT)
        with pytest.raises(StoreError):
            watcher.poll_once()
        assert proxy.commits_lost == 1 and handed == []
        assert watcher.poll_once() == (3, 3)
        assert watcher.poll_once() == (0, 0)
    with open_store(database) as direct:
        rows = direct.records(None)
    assert len(rows) == 3 and len({r.id for r in rows}) == 3
    assert sorted(r.data["text"] for r in handed) == ["reply 0", "reply 1", "reply 2"]
    assert {r.id for r in handed} == {r.id for r in rows}


def test_a_retried_commit_of_one_answer_is_idempotent_on_both_backends(store_url: str, tmp_path: Path) -> None:
    reply = Reply("13800138000", "once", "001", None, "13800138000/once/001/")
    with open_store(store_url, spool=tmp_path / "spool") as store:
        answer = store.prepare_pulled("GET_SMS_MO", [reply, reply])
        first = store.commit_answer(answer)
        assert store.commit_answer(answer) == first  # a retry after a lost acknowledgement
        assert store.keep(answer) == first  # and through the spool
        assert [r.id for r in store.records(None)] == first
        assert len(store.spool) == 0


def test_the_spool_replays_only_into_its_own_store_and_sets_unreadable_files_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    reply = Reply("13800138000", "x", "001", None, "13800138000/x/001/")
    with open_store(tmp_path / "a.sqlite3", spool=spool) as a:
        answer = a.prepare_pulled("GET_SMS_MO", [reply])
        a.spool.write(answer)
    (spool / "0-broken.jsonl").write_text('{"v": 1, "store": ')
    with open_store(tmp_path / "b.sqlite3", spool=spool) as b:
        assert b.replay_spool() == 0
        assert b.counts()["records"] == 0
    assert (spool / "0-broken.jsonl.bad").exists()
    assert "belongs to the store" in caplog.text
    with open_store(tmp_path / "a.sqlite3", spool=spool) as a:
        assert a.replay_spool() == 1 and a.counts()["records"] == 1
        assert repr(answer) == f"PulledAnswer({answer.key!r}, 'GET_SMS_MO', 1 records)"  # no reply text
    assert isinstance(answer, PulledAnswer) and not (spool / f"{answer.key}.jsonl").exists()


# -- the CLI ----------------------------------------------------------------------------------------
def _spooled(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def _watch_until_spooled(env: dict[str, str], spool: Path, proxy: TcpProxy, failing: str) -> subprocess.Popen[str]:
    """Start `watch` and return once its pull is in the spool and the proxy has made its commit fail
    (``failing``: the proxy's mode by then)."""
    watch = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "watch", "--sources", "replies", "--interval", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (_spooled(spool) and proxy.mode == failing):
        if time.monotonic() > deadline or watch.poll() is not None:
            watch.kill()
            raise AssertionError(f"the watcher never spooled: {watch.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return watch


def test_sigterm_while_the_store_is_down_leaves_the_pull_in_the_spool_and_the_next_start_stores_it(
    winic_mock: MockService, pg_server: PgServer, tmp_path: Path
) -> None:
    database = pg_server.create_database("sigterm_spool")
    for i in range(3):
        winic_mock.add_reply("13800138000", f"late {i}")
    spool = tmp_path / "spool"
    with tcp_proxy(database) as proxy:
        env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": proxy.url, "WINIC_SPOOL": str(spool)}
        proxy.on(INSERT, "refuse")  # the database goes away as the pulled records are written
        watch = _watch_until_spooled(env, spool, proxy, "refuse")
        try:
            watch.send_signal(signal.SIGTERM)
            out, err = watch.communicate(timeout=60)
        finally:
            if watch.poll() is None:
                watch.kill()
        assert watch.returncode == 0, err
        assert out == "" and len(_spooled(spool)) == 1
        proxy.restore()
        again = run_cli(env, "watch", "--once", "--sources", "replies")
    assert again.returncode == 0, again.stderr
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert sorted(line["text"] for line in lines) == ["late 0", "late 1", "late 2"]
    assert _spooled(spool) == []
    with open_store(database) as direct:
        assert direct.counts()["records"] == 3 and direct.counts()["done"] == 3


def test_cli_pulls_lose_nothing_when_the_commit_fails(
    winic_mock: MockService, pg_server: PgServer, tmp_path: Path
) -> None:
    database = pg_server.create_database("cli_spool")
    winic_mock.add_reply("13800138000", "kept 7")
    spool = tmp_path / "spool"
    with tcp_proxy(database) as proxy:
        env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": proxy.url, "WINIC_SPOOL": str(spool)}
        proxy.on(INSERT, "refuse")
        failed = run_cli(env, "replies", "--json")
        assert failed.returncode == 10, failed.stderr
        assert f"pulled records wait in the spool {spool}" in json.loads(failed.stdout)["error"]["message"]
        assert len(_spooled(spool)) == 1
        proxy.restore()
        shown = run_cli(env, "replies", "--json")  # the spool is replayed when the store opens
    assert shown.returncode == 0, shown.stderr
    assert [r["text"] for r in json.loads(shown.stdout)] == ["kept 7"]
    assert len(winic_mock.calls("GET_SMS_MO")) == 2 and _spooled(spool) == []


def test_cli_pulls_leave_a_running_watchers_account_alone(winic_mock: MockService, tmp_path: Path) -> None:
    winic_mock.add_reply("13800138000", "for the watcher")
    path = tmp_path / "store.sqlite3"
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": str(path)}
    holder = "other-host/4242/12345/abcdef"  # a watcher elsewhere: its lease is not ours to break
    with open_store(path) as store:
        assert store.hold_poller(winic_mock.url, "demo", holder, 600)
    for command in (["replies"], ["reports"], ["replies", "--ext"]):
        refused = run_cli(env, *command)
        assert refused.returncode == 10
        assert holder in refused.stderr and "winic-soap watch" in refused.stderr
    assert winic_mock.calls("GET_SMS_MO") == [] and winic_mock.calls("SMS_Reports") == []
    with open_store(path) as store:
        lease = store.poller(winic_mock.url, "demo")
        assert lease is not None and lease.owner == holder
        store.release_poller(winic_mock.url, "demo", holder)
    shown = run_cli(env, "replies")
    assert shown.returncode == 0 and "for the watcher" in shown.stdout
    with open_store(path) as store:
        assert store.poller(winic_mock.url, "demo") is None  # the CLI gave its lease back


def test_a_journalled_send_retried_after_a_lost_acknowledgement_is_written_once(
    make_client: MakeClient, pg_server: PgServer, tmp_path: Path
) -> None:
    database = pg_server.create_database("lost_ack_journal")
    receipt = make_client().send([f"138{i:08d}" for i in range(150)], "two batches")
    with tcp_proxy(database) as proxy, open_store(proxy.url, spool=tmp_path / "spool") as store:
        proxy.lose_commit_ack(b"INSERT INTO winic_batches")
        with pytest.raises(StoreError):
            store.record_send(receipt, job_id="job-lost-ack")
        assert proxy.commits_lost == 1
        assert store.record_send(receipt, job_id="job-lost-ack") == "job-lost-ack"
        batches = store.batches("job-lost-ack")
    assert [(b.index, b.message_id, b.state) for b in batches] == [
        (i, s.message_id, "accepted") for i, s in enumerate(receipt.submissions)
    ]


def test_sigkill_while_a_commit_hangs_on_a_blackholed_database_loses_nothing(
    winic_mock: MockService, pg_server: PgServer, tmp_path: Path
) -> None:
    database = pg_server.create_database("blackhole_spool")
    for i in range(3):
        winic_mock.add_reply("13800138000", f"stuck {i}")
    spool = tmp_path / "spool"
    with tcp_proxy(database) as proxy:
        env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": proxy.url, "WINIC_SPOOL": str(spool)}
        proxy.on(INSERT, "blackhole")  # the database stops answering as the records are written
        watch = _watch_until_spooled(env, spool, proxy, "blackhole")  # its commit waits for ever
        watch.kill()
        watch.communicate(timeout=60)
        assert len(_spooled(spool)) == 1
        proxy.set("pass", cut_live=True)
        again = run_cli(env, "watch", "--once", "--sources", "replies")
    assert again.returncode == 0, again.stderr
    assert sorted(json.loads(line)["text"] for line in again.stdout.splitlines()) == ["stuck 0", "stuck 1", "stuck 2"]
    assert _spooled(spool) == []
    with open_store(database) as direct:
        assert direct.counts()["records"] == 3 and direct.counts()["done"] == 3


def test_a_pull_whose_answer_cannot_be_written_to_a_full_disk_is_read_into_memory_and_stored(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    winic_mock.add_reply("13800138000", "on a full disk")
    (small_disk / "spool").mkdir()
    store = open_store(tmp_path / "store.sqlite3", spool=small_disk / "spool")
    fill(small_disk)  # neither the answer's file nor the spool can be written; the store can
    handed: list[InboxRecord] = []
    watcher = Watcher(make_client(), store, handed.append, sources=["replies"])
    assert watcher.poll_once() == (1, 1)
    assert [r.data["text"] for r in handed] == ["on a full disk"]
    assert "cannot be written to disk" in caplog.text and "cannot spool" in caplog.text
    store.close()


class FillsAfterStreaming:
    """The real client's streamed pull; then the disk fills up, before the answer reaches the spool."""

    def __init__(self, client: WinicClient, disk: Path) -> None:
        self.client, self.disk, self.settings = client, disk, client.settings

    def pull_into(
        self, operation: str, into: BinaryIO, *, port: str | None = None
    ) -> list[Reply | DeliveryReport] | Iterable[Reply | DeliveryReport]:
        records = self.client.pull_into(operation, into, port=port)
        fill(self.disk)
        return records

    # what the watcher calls when a client cannot stream; this one always streams
    def reports(self) -> list[DeliveryReport]:
        return self.client.reports()

    def replies(self, port: str | None = None) -> list[Reply]:
        return self.client.replies(port=port)

    def replies_ext(self) -> list[Reply]:
        return self.client.replies_ext()


def test_a_large_answer_the_spool_cannot_take_is_read_into_memory_and_stored(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = [f"reply {i} {'x' * 60}" for i in range(20_000)]  # some 1.6 MB: streamed
    for text in texts:
        winic_mock.add_reply("13800138000", text)
    store = open_store(tmp_path / "store.sqlite3", spool=small_disk / "spool")
    watcher = Watcher(FillsAfterStreaming(make_client(), small_disk), store, lambda r: None, sources=["replies"])
    assert watcher.pull_once() == 20_000
    assert "cannot be spooled" in caplog.text and "read into memory" in caplog.text
    assert sorted(r.data["text"] for r in store.records(None)) == sorted(texts)
    store.close()


def test_sigterm_with_records_only_in_memory_prints_them_before_watch_exits(
    winic_mock: MockService, pg_server: PgServer, tmp_path: Path, small_disk: Path
) -> None:
    """The spool's disk full and the store down: the pull waits in memory; a stop must not drop it silently."""
    database = pg_server.create_database("sigterm_memory")
    winic_mock.add_reply("13800138000", "only in memory 5150")
    spool = small_disk / "spool"
    spool.mkdir()
    fill(small_disk)
    log = tmp_path / "watch.err"
    with tcp_proxy(database) as proxy:
        env = {**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": proxy.url, "WINIC_SPOOL": str(spool)}
        proxy.on(INSERT, "refuse")
        with log.open("w") as err:
            watch = subprocess.Popen(
                [sys.executable, "-m", "winic_soap", "watch", "--sources", "replies", "--interval", "5"],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
            )
            try:
                deadline = time.monotonic() + 60
                while "kept in memory" not in log.read_text(encoding="utf-8"):
                    assert watch.poll() is None and time.monotonic() < deadline, log.read_text(encoding="utf-8")
                    time.sleep(0.05)
                watch.send_signal(signal.SIGTERM)
                out, _ = watch.communicate(timeout=60)
            finally:
                if watch.poll() is None:
                    watch.kill()
                    watch.wait()
    assert watch.returncode == 0, log.read_text(encoding="utf-8")
    [line] = [json.loads(line) for line in out.splitlines()]
    assert line["unstored"]["text"] == "only in memory 5150" and line["unstored"]["mobile"] == "13800138000"
    assert "stored nowhere" in log.read_text(encoding="utf-8")
