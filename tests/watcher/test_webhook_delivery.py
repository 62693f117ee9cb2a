"""Webhook delivery through the public API and the CLI, to real receivers started by the test that verify
every POST with the reference ``standardwebhooks`` package: every record signed, retries with one
``webhook-id``, dead letters per endpoint, no endpoint holding up another, two watchers on one PostgreSQL
store, a watcher killed mid-delivery, and no secret in any log line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.pgserver import PgServer
from helpers.shared import MakeClient, cli_env, run_cli, start_cli
from helpers.webhook_receiver import Delivery, receiving

from winic_soap import Settings
from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import InboxRecord, open_store
from winic_soap.store.webhooks import WebhookQueue
from winic_soap.watcher import Watcher
from winic_soap.webhooks import WebhookDispatcher, new_secret

SECRET = new_secret()


class Clock:
    """The store's clock: a schedule's waits pass when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _replies(count: int, start: int = 0) -> list[Reply]:
    return [
        Reply(f"1380013{i:04d}", f"reply {i}", "001", datetime(2026, 1, 1, 12, 0), raw=f"raw{i}")
        for i in range(start, start + count)
    ]


def _settings(**changes: Any) -> Settings:
    return Settings(**{"webhook_secret": SECRET, "timeout": 5.0, **changes})


def test_every_stored_record_reaches_the_endpoint_signed(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    client = make_client()
    client.send(["13800138000", "13900139000"], "your code is 1234")
    winic_mock.add_reply("13800138000", "退订", port="001")
    with receiving(SECRET) as receiver, open_store(tmp_path / "inbox.sqlite3") as store:
        dispatcher = WebhookDispatcher(store, _settings(), urls=[receiver.url])
        watcher = Watcher(client, store, lambda record: None, webhooks=dispatcher)
        watcher.run(threading.Event(), once=True)
        stored = store.records(None)
    assert len(stored) == 3 and len(receiver.deliveries) == 3
    assert all(d.verified for d in receiver.deliveries)
    assert sorted(receiver.ids()) == sorted(r.id for r in stored)
    events = {d.id: d.event for d in receiver.deliveries}
    for record in stored:
        assert events[record.id]["type"] == f"{record.kind}.received"
        assert events[record.id]["data"] == json.loads(record.as_json())
    assert {d.path for d in receiver.deliveries} == {"/hooks/winic"}


def test_a_failing_receiver_gets_the_record_again_with_the_same_id(tmp_path: Path) -> None:
    clock = Clock()

    def three_500s_then_200(delivery: Delivery, count: int) -> int:
        return 500 if count <= 3 else 200

    with receiving(SECRET, three_500s_then_200) as receiver, open_store(tmp_path / "s.sqlite3", clock=clock) as store:
        dispatcher = WebhookDispatcher(store, _settings(webhook_retry_schedule=(1, 1, 1)), urls=[receiver.url])
        [stored] = store.commit_pulled("GET_SMS_MO", _replies(1))
        [endpoint] = dispatcher.endpoints
        for _ in range(3):
            assert dispatcher.deliver_once() == 0
            assert dispatcher.deliver_once() == 0  # not before the schedule's wait
            clock.now += 1
        assert dispatcher.deliver_once() == 1
        assert dispatcher.deliver_once() == 0
        assert endpoint.queue.counts() == {"pending": 0, "done": 1, "dead": 0}
    assert receiver.ids() == [stored] * 4
    assert all(d.verified for d in receiver.deliveries)


def test_a_dead_endpoint_dead_letters_while_another_keeps_receiving(tmp_path: Path) -> None:
    clock = Clock()
    store_path = tmp_path / "s.sqlite3"
    healthy_answer = 503
    with (
        receiving(SECRET, lambda d, n: healthy_answer) as dead,
        receiving(SECRET) as alive,
        open_store(store_path, clock=clock) as store,
    ):
        dispatcher = WebhookDispatcher(store, _settings(webhook_retry_schedule=(1, 1)), urls=[dead.url, alive.url])
        ids = store.commit_pulled("GET_SMS_MO", _replies(3))
        for _ in range(3):
            dispatcher.deliver_once()
            clock.now += 1
        more = store.commit_pulled("GET_SMS_MO", _replies(2, start=3))
        dispatcher.deliver_once()
        counts = [e.queue.counts() for e in dispatcher.endpoints]
        assert counts == [{"pending": 2, "done": 0, "dead": 3}, {"pending": 0, "done": 5, "dead": 0}]
        assert sorted(alive.ids()) == sorted(ids + more)
        assert sorted(dead.ids()) == sorted(ids * 3 + more)  # three attempts each, then dead

        env = cli_env("http://127.0.0.1:9/Service.asmx", tmp_path)
        listed = run_cli(env, "inbox", "dead", "--store", str(store_path), "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert sorted(r["id"] for r in rows) == sorted(ids)
        assert {r["webhook"]["endpoint"] for r in rows} == {dead.url}
        assert {r["webhook"]["last_error"] for r in rows} == {"HTTP 503"}
        shown = run_cli(env, "inbox", "show", ids[0], "--store", str(store_path), "--json")
        assert shown.returncode == 0, shown.stderr
        assert [(w["endpoint"], w["state"], w["attempts"]) for w in json.loads(shown.stdout)["webhooks"]] == sorted(
            [(dead.url, "dead", 3), (alive.url, "done", 1)]
        )

        retried = run_cli(env, "inbox", "retry", "--all", "--store", str(store_path), "--json")
        assert retried.returncode == 0, retried.stderr
        assert sorted(json.loads(retried.stdout)["retried"]) == sorted(ids)
        healthy_answer = 200
        clock.now += 10
        assert dispatcher.deliver_once() == 5
        assert [e.queue.counts() for e in dispatcher.endpoints] == [{"pending": 0, "done": 5, "dead": 0}] * 2


def test_a_hanging_endpoint_holds_up_neither_another_nor_the_pulls(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    release = threading.Event()

    def hang(delivery: Delivery, count: int) -> int:
        release.wait(30)
        return 200

    client = make_client()
    stop = threading.Event()
    with (
        receiving(SECRET, hang) as slow,
        receiving(SECRET) as fast,
        open_store(tmp_path / "s.sqlite3") as store,
    ):
        dispatcher = WebhookDispatcher(store, _settings(timeout=60.0), urls=[slow.url, fast.url], interval=5.0)
        watcher = Watcher(client, store, lambda record: None, webhooks=dispatcher, interval=5.0)
        runner = threading.Thread(target=watcher.run, args=(stop,))
        try:
            winic_mock.add_reply("13800138000", "first")
            runner.start()
            fast.wait_for(lambda r: len(r.deliveries) == 1)
            slow.wait_for(lambda r: len(r.in_flight) == 1)  # stuck on the first record
            for i in range(2):  # the watcher's rounds pull on, and the fast endpoint gets each record
                winic_mock.add_reply("13800138000", f"more {i}")
                fast.wait_for(lambda r: len(r.deliveries) == i + 2)  # noqa: B023 - called before i moves on
            assert len(slow.deliveries) == 1
            release.set()  # the stuck POST answers; the slow endpoint then catches up, one record at a time
            slow.wait_for(lambda r: len(r.deliveries) == 3)  # so the first POST's answer was taken before the stop
        finally:
            release.set()
            stop.set()
            runner.join(60)
        assert not runner.is_alive()
        slow_queue, fast_queue = (e.queue for e in dispatcher.endpoints)
        assert fast_queue.counts()["done"] == 3
        assert slow_queue.counts()["done"] >= 1  # the POST under way finished before the stop
    assert all(d.verified for d in slow.deliveries + fast.deliveries)


def test_two_watchers_on_postgresql_never_deliver_a_record_twice_at_once(pg_server: PgServer) -> None:
    url = str(pg_server.create_database("webhook_fleet"))
    gate = threading.Barrier(2, timeout=30)

    def slow_start(delivery: Delivery, count: int) -> int:
        if len(receiver.deliveries) <= 2:  # the first two POSTs wait for each other: both watchers are busy
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait()
        return 200

    with receiving(SECRET, slow_start) as receiver:
        with open_store(url) as seed:
            ids = seed.commit_pulled("GET_SMS_MO", _replies(300))
        stop = threading.Event()
        stores = [open_store(url) for _ in range(2)]
        dispatchers = [WebhookDispatcher(s, _settings(), urls=[receiver.url], batch=8) for s in stores]
        try:
            for dispatcher in dispatchers:
                dispatcher.start(stop)
            receiver.wait_for(lambda r: len(r.deliveries) >= 300, timeout=120)
        finally:
            stop.set()
            for dispatcher in dispatchers:
                dispatcher.join()
            for store in stores:
                store.close()
    assert not gate.broken  # both watchers were delivering at the same time
    assert receiver.overlaps == []
    assert sorted(receiver.ids()) == sorted(ids)  # each record once: every POST answered 200
    assert all(d.verified for d in receiver.deliveries)


def _watch(env: dict[str, str], store: Path, *extra: str) -> subprocess.Popen[str]:
    return start_cli(env, "watch", "--once", "--store", str(store), *extra)


def test_a_watcher_killed_mid_delivery_delivers_it_again_after_restart(winic_mock: MockService, tmp_path: Path) -> None:
    release = threading.Event()

    def hold_first(delivery: Delivery, count: int) -> int:
        if count == 1:
            release.wait(60)
            return 200  # too late: its watcher is dead and never saw the answer
        return 200

    winic_mock.add_reply("13800138000", "退订")
    store = tmp_path / "inbox.sqlite3"
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_WEBHOOK_SECRET": SECRET}
    with receiving(SECRET, hold_first) as receiver:
        env["WINIC_WEBHOOK"] = receiver.url
        first = _watch(env, store)
        try:
            receiver.wait_for(lambda r: len(r.in_flight) == 1)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(30)
        finally:
            release.set()
        assert first.returncode == -signal.SIGKILL
        second = _watch(env, store)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        receiver.wait_for(lambda r: len(r.deliveries) == 2)
    [record] = open_store(store).records(None)
    assert receiver.ids() == [record.id, record.id]
    assert all(d.verified for d in receiver.deliveries)
    assert out == ""  # webhooks only: nothing handed on to stdout


def test_the_secret_is_in_no_log_line_and_no_child_environment(winic_mock: MockService, tmp_path: Path) -> None:
    winic_mock.add_reply("13800138000", "hello")
    store = tmp_path / "inbox.sqlite3"
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_WEBHOOK_SECRET": SECRET}
    leak = tmp_path / "env.txt"
    dump = f"import os,sys; sys.stdin.read(); open({str(leak)!r},'w').write(repr(dict(os.environ)))"
    exec_command = f'{sys.executable} -c "{dump}"'
    with receiving(SECRET, lambda d, n: 500 if n == 1 else 200) as receiver:
        done = run_cli(
            env, "watch", "--once", "-vv", "--store", str(store), "--webhook", receiver.url, "--exec", exec_command
        )
        assert done.returncode == 0, done.stderr
        again = run_cli(env, "watch", "--once", "-vv", "--store", str(store), "--webhook", receiver.url)
        assert again.returncode == 0, again.stderr
    key = SECRET.removeprefix("whsec_")
    logs = done.stdout + done.stderr + again.stdout + again.stderr
    assert "DEBUG" in logs and "webhook" in logs  # the logs were there to look at
    assert key not in logs and key[:12] not in logs
    assert receiver.ids() and all(d.verified for d in receiver.deliveries)
    child = leak.read_text(encoding="utf-8")
    assert "WINIC_UID" in child and key not in child  # the hand-off ran, without the webhook secret


def test_a_dispatcher_without_secret_or_url_refuses_to_start(tmp_path: Path) -> None:
    from winic_soap import ConfigurationError

    with open_store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(ConfigurationError, match="webhook_secret missing: set WINIC_WEBHOOK_SECRET"):
            WebhookDispatcher(store, Settings(), urls=["http://127.0.0.1:9/x"])
        with pytest.raises(ConfigurationError, match="name at least one endpoint"):
            WebhookDispatcher(store, _settings())
        with pytest.raises(ConfigurationError, match="webhooks: each must be an http"):
            WebhookDispatcher(store, _settings(), urls=["file:///etc/passwd"])
        dispatcher = WebhookDispatcher(store, _settings(), urls=["http://127.0.0.1:9/x?token=t0k3n"])
        assert SECRET[6:] not in repr(dispatcher) and "t0k3n" not in repr(dispatcher)
        dispatcher.join()


def test_a_new_endpoint_gets_what_is_not_handed_on_yet_and_everything_after(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as store:
        old = store.commit_pulled("GET_SMS_MO", _replies(2))
        for record_id in old:
            store.ack(record_id)
        waiting = store.commit_pulled("GET_SMS_MO", _replies(1, start=2))
        queue = WebhookQueue(store, "http://127.0.0.1:9/x", (1,))
        assert queue.enqueue() == 1
        later = store.commit_pulled("GET_SMS_MO", _replies(2, start=3))
        assert queue.enqueue() == 2
        assert queue.enqueue() == 0
        claimed = queue.claim("me", limit=10, lease=60)
        assert [r.id for r, _ in claimed] == waiting + later


def test_retention_keeps_a_record_an_endpoint_still_owes(store_url: str) -> None:
    clock = Clock()
    with (
        receiving(SECRET, lambda d, n: 200 if d.event["data"]["text"] == "reply 0" else 500) as receiver,
        open_store(store_url, clock=clock) as store,
    ):
        dispatcher = WebhookDispatcher(store, _settings(webhook_retry_schedule=()), urls=[receiver.url])
        delivered, dead = store.commit_pulled("GET_SMS_MO", _replies(2))
        for record_id in (delivered, dead):
            store.ack(record_id)
        assert dispatcher.deliver_once() == 1
        [endpoint] = dispatcher.endpoints
        assert endpoint.queue.counts() == {"pending": 0, "done": 1, "dead": 1}
        clock.now += 40 * 86400
        assert store.purge("30d", dry_run=True)["records"] == 1
        assert store.purge("30d")["records"] == 1
        assert [r.id for r in store.records(None)] == [dead]
        assert endpoint.queue.counts() == {"pending": 0, "done": 0, "dead": 1}
        dispatcher.join()


def test_keyboard_interrupt_in_the_watcher_ends_the_delivery_threads(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    client = make_client()
    winic_mock.add_reply("13800138000", "hello")

    def interrupted(record: InboxRecord) -> None:
        raise KeyboardInterrupt

    with receiving(SECRET) as receiver, open_store(tmp_path / "s.sqlite3") as store:
        dispatcher = WebhookDispatcher(store, _settings(), urls=[receiver.url])
        watcher = Watcher(client, store, interrupted, webhooks=dispatcher)
        with pytest.raises(KeyboardInterrupt):
            watcher.run(threading.Event())  # the caller's stop is never set
        assert not [t for t in threading.enumerate() if t.name.startswith("webhook ")]
        assert store.pending()[0].attempts == 1  # the hand-off stays pending, for the next start
        [endpoint] = dispatcher.endpoints
        assert endpoint.queue.enqueue() + endpoint.queue.counts()["done"] == 1  # still owed to the endpoint once


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(tmp_path: Path) -> None:
    release = threading.Event()
    clock = Clock()

    def first_too_slow(delivery: Delivery, count: int) -> int:
        if count == 1:
            release.wait(30)  # answers long after the client's timeout
        return 200

    with (
        receiving(SECRET, first_too_slow) as receiver,
        open_store(tmp_path / "s.sqlite3", clock=clock) as store,
    ):
        dispatcher = WebhookDispatcher(store, _settings(timeout=0.5, webhook_retry_schedule=(1,)), urls=[receiver.url])
        [record_id] = store.commit_pulled("GET_SMS_MO", _replies(1))
        try:
            assert dispatcher.deliver_once() == 0
        finally:
            release.set()
        [endpoint] = dispatcher.endpoints
        assert endpoint.queue.counts() == {"pending": 1, "done": 0, "dead": 0}
        clock.now += 1
        assert dispatcher.deliver_once() == 1
        dispatcher.join()
    assert receiver.ids() == [record_id, record_id]


def test_the_queue_contract_on_both_backends(store_url: str) -> None:
    """Leases: one holder at a time; an expired lease comes back; a holder that lost its lease cannot fail or
    renew the record; a release does not count as an attempt; holders that keep dying exhaust the schedule."""
    clock = Clock()
    with open_store(store_url, clock=clock) as store:
        queue = WebhookQueue(store, "http://127.0.0.1:9/x", (1, 1))
        ids = store.commit_pulled("GET_SMS_MO", _replies(3))
        assert queue.enqueue() == 3 and queue.enqueue() == 0
        first = queue.claim("owner-a", limit=2, lease=10)
        assert [(r.id, n) for r, n in first] == [(ids[0], 1), (ids[1], 1)]
        assert [r.id for r, _ in queue.claim("owner-b", limit=5, lease=10)] == [ids[2]]
        assert queue.claim("owner-b", limit=5, lease=10) == []  # all leased
        queue.release([ids[2]], "owner-b")
        assert [(r.id, n) for r, n in queue.claim("owner-b", limit=5, lease=10)] == [(ids[2], 1)]
        clock.now += 11  # every lease ran out: owner-b takes owner-a's records (and its own again)
        again = queue.claim("owner-b", limit=5, lease=10)
        assert [(r.id, n) for r, n in again] == [(ids[0], 2), (ids[1], 2), (ids[2], 2)]
        assert queue.fail(ids[0], "owner-a", "HTTP 500", 500) == "lost"
        assert queue.renew([ids[0], ids[1]], "owner-a", 10) == set()
        assert queue.renew([ids[0], ids[1]], "owner-b", 10) == {ids[0], ids[1]}
        assert queue.fail(ids[0], "owner-b", "HTTP 500", 500) == "pending"
        assert queue.ack([ids[1], ids[2]]) == 2
        assert queue.next_due() == clock.now + 1  # ids[0] waits its schedule
        clock.now += 11  # ids[0]: attempt 3 claimed, and its holder dies too
        assert [(r.id, n) for r, n in queue.claim("owner-c", limit=5, lease=10)] == [(ids[0], 3)]
        clock.now += 11
        assert queue.claim("owner-d", limit=5, lease=10) == []  # three claims, no answer: dead
        assert queue.counts() == {"pending": 0, "done": 2, "dead": 1}


def test_sigterm_stops_a_watcher_mid_delivery_and_the_record_is_delivered_next_start(
    winic_mock: MockService, tmp_path: Path
) -> None:
    release = threading.Event()

    def hold_first(delivery: Delivery, count: int) -> int:
        if count == 1:
            release.wait(60)
        return 200

    winic_mock.add_reply("13800138000", "hello")
    store = tmp_path / "inbox.sqlite3"
    env = {
        **cli_env(winic_mock.url, tmp_path),
        "WINIC_WEBHOOK_SECRET": SECRET,
        "WINIC_TIMEOUT": "2",
        "WINIC_WEBHOOK_RETRY_SCHEDULE": "0, 0",  # the failed attempt is due again at once
    }
    with receiving(SECRET, hold_first) as receiver:
        watcher = start_cli(env, "watch", "--store", str(store), "--webhook", receiver.url)
        try:
            receiver.wait_for(lambda r: len(r.in_flight) == 1)
            watcher.send_signal(signal.SIGTERM)
            _, err = watcher.communicate(timeout=60)  # ends once the POST under way times out
        finally:
            release.set()
            if watcher.poll() is None:
                os.killpg(watcher.pid, signal.SIGKILL)
        assert watcher.returncode == 0, err
        with open_store(store) as opened:
            queue = WebhookQueue(opened, receiver.url, (0,))
            assert queue.counts() == {"pending": 1, "done": 0, "dead": 0}
        again = run_cli(env, "watch", "--once", "--store", str(store), "--webhook", receiver.url)
        assert again.returncode == 0, again.stderr
    [record] = open_store(store).records(None)
    assert receiver.ids() == [record.id, record.id]


def test_two_watcher_processes_on_postgresql_share_the_queue(
    pg_server: PgServer, winic_mock: MockService, tmp_path: Path
) -> None:
    """Two `watch --webhook` processes: one thread per endpoint each, so two POSTs in flight at once come
    from both; no record is ever in flight twice, and each is delivered once."""
    url = str(pg_server.create_database("webhook_processes"))
    with open_store(url) as seed:
        ids = seed.commit_pulled("GET_SMS_MO", _replies(200))
    gate = threading.Barrier(2, timeout=60)

    def both_at_once(delivery: Delivery, count: int) -> int:
        if len(receiver.deliveries) <= 2:
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait()
        return 200

    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_WEBHOOK_SECRET": SECRET, "WINIC_STORE": url}
    with receiving(SECRET, both_at_once) as receiver:
        env["WINIC_WEBHOOK"] = receiver.url
        watchers = [
            subprocess.Popen(
                [sys.executable, "-m", "winic_soap", "watch", "--interval", "5"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for _ in range(2)
        ]
        try:
            receiver.wait_for(lambda r: len(r.deliveries) >= 200, timeout=120)
        finally:
            for watcher in watchers:
                watcher.send_signal(signal.SIGTERM)
            for watcher in watchers:
                watcher.communicate(timeout=60)
    assert [w.returncode for w in watchers] == [0, 0]
    assert not gate.broken  # two POSTs were in flight together: both processes were delivering
    assert receiver.overlaps == []
    assert sorted(receiver.ids()) == sorted(ids)
    assert all(d.verified for d in receiver.deliveries)
