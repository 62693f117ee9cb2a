"""Webhook delivery bounded in time, through the public API and ``watch`` as a subprocess: a receiver that
trickles its answer or never answers is cut at one deadline shorter than the claim's lease, SIGTERM cuts
the POST under way at once (the record stays pending, delivered later with the same ``webhook-id``), a
webhook URL's token never reaches a log line, and a store that fails mid-delivery leaves no record claimed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import cli_env, run_cli, start_cli
from helpers.webhook_receiver import Delivery, receiving

from winic_soap import Settings
from winic_soap.mock import MockService
from winic_soap.models import Reply
from winic_soap.store import open_store
from winic_soap.store.webhooks import WebhookQueue
from winic_soap.webhooks import WebhookDispatcher, new_secret

SECRET = new_secret()


@dataclass
class RawReceiver:
    """A stdlib socket server: the first ``bad`` connections read the request and then trickle an answer
    (one byte every ``every`` s, ``mode="trickle"``) or say nothing (``mode="silent"``) until the client
    hangs up; later ones answer 200. ``ids`` are the webhook-ids received, ``overlap`` how many requests
    were ever open at once."""

    mode: str
    every: float = 1.0
    bad: int = 1
    url: str = ""
    ids: list[str] = field(default_factory=list)
    open_now: int = 0
    overlap: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    closing: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.ids) >= count, timeout), self.ids

    def serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
            lowered = {k.lower(): v for k, v in headers.items()}
            while len(body) < int(lowered.get("content-length", "0")):
                body += conn.recv(65536)
            with self.lock:
                self.ids.append(lowered.get("webhook-id", ""))
                bad = len(self.ids) <= self.bad
                self.open_now += 1
                self.overlap = max(self.overlap, self.open_now)
            with self.arrived:
                self.arrived.notify_all()
            try:
                if not bad:
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    return
                answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 100000
                for byte in answer if self.mode == "trickle" else b"":
                    if self.closing.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
                conn.settimeout(60)
                with contextlib.suppress(OSError):
                    while conn.recv(65536):  # silent: until the client hangs up
                        pass
            except OSError:
                return  # the client hung up mid-trickle
            finally:
                with self.lock:
                    self.open_now -= 1


@contextlib.contextmanager
def raw_receiver(mode: str, **options: Any) -> Iterator[RawReceiver]:
    receiver = RawReceiver(mode, **options)
    server = socket.create_server(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{server.getsockname()[1]}/hooks/winic"

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=receiver.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield receiver
    finally:
        receiver.closing.set()
        server.close()


def _replies(count: int) -> list[Reply]:
    return [Reply(f"1380013{i:04d}", f"reply {i}", "001", datetime(2026, 1, 1, 12, 0)) for i in range(count)]


@pytest.mark.parametrize("mode", ["trickle", "silent"])
def test_sigterm_cuts_a_slow_post_and_the_record_is_delivered_later_with_its_id(
    mode: str, winic_mock: MockService, tmp_path: Path
) -> None:
    winic_mock.add_reply("13800138000", "hello")
    store = tmp_path / "inbox.sqlite3"
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_WEBHOOK_SECRET": SECRET, "WINIC_TIMEOUT": "30"}
    with raw_receiver(mode, every=2.0) as receiver:
        watcher = start_cli(env, "watch", "--store", str(store), "--webhook", receiver.url)
        try:
            receiver.wait_for(1)
            time.sleep(0.5)  # the POST is under way: the answer has started trickling (or not)
            sent = time.monotonic()
            watcher.send_signal(signal.SIGTERM)
            _, err = watcher.communicate(timeout=60)
            took = time.monotonic() - sent
        finally:
            if watcher.poll() is None:
                os.killpg(watcher.pid, signal.SIGKILL)
        assert watcher.returncode == 0, err
        assert took < 10, f"watch took {took:.1f} s to end after SIGTERM"
        with open_store(store) as opened:
            assert WebhookQueue(opened, receiver.url, (0,)).counts() == {"pending": 1, "done": 0, "dead": 0}
        again = run_cli(env, "watch", "--once", "--store", str(store), "--webhook", receiver.url)
        assert again.returncode == 0, again.stderr
    [record] = open_store(store).records(None)
    assert receiver.ids == [record.id, record.id]


def test_a_post_slower_than_its_deadline_fails_before_the_lease_can_run_out(tmp_path: Path) -> None:
    failures: list[str] = []
    settings = Settings(webhook_secret=SECRET, timeout=30.0, webhook_retry_schedule=(600,))
    with (
        raw_receiver("trickle", every=0.5, bad=10) as receiver,
        open_store(tmp_path / "s.sqlite3") as store,
    ):
        first = WebhookDispatcher(
            store, settings, urls=[receiver.url], owner="first", lease=4, on_failure=lambda e, s: failures.append(s)
        )
        second = WebhookDispatcher(store, settings, urls=[receiver.url], owner="second", lease=4)
        [record_id] = store.commit_pulled("GET_SMS_MO", _replies(1))
        counts: list[int] = []
        thread = threading.Thread(target=lambda: counts.append(first.deliver_once()))
        thread.start()
        receiver.wait_for(1)
        give_up = time.monotonic() + 30  # unbounded, the trickle would last 100000 half-seconds
        while thread.is_alive() and time.monotonic() < give_up:  # the second tries while the first's POST trickles
            assert second.deliver_once() == 0
            thread.join(0.2)
        unbounded = thread.is_alive()
        receiver.closing.set()  # ends a trickle that was never cut, so a failing run ends too
        thread.join(30)
        assert not unbounded
        first.join()
        second.join()
        [endpoint] = first.endpoints
        assert counts == [0] and failures == ["pending"]  # cut at the deadline: a failed attempt
        assert endpoint.queue.counts() == {"pending": 1, "done": 0, "dead": 0}
    assert receiver.ids == [record_id]  # the second watcher never got the record while the lease held it
    assert receiver.overlap == 1


def test_a_webhook_urls_token_is_in_no_log_line(winic_mock: MockService, tmp_path: Path) -> None:
    winic_mock.add_reply("13800138000", "hello")
    store = tmp_path / "inbox.sqlite3"
    env = {**cli_env(winic_mock.url, tmp_path), "WINIC_WEBHOOK_SECRET": SECRET}
    with receiving(SECRET) as receiver:
        url = receiver.url.replace("http://", "http://hookuser:H00KPASS@") + "?token=T0KEN123"
        done = run_cli(env, "watch", "--once", "-vv", "--store", str(store), "--webhook", url)
        assert done.returncode == 0, done.stderr
    logs = done.stdout + done.stderr
    assert "HTTP Request: POST" in logs and receiver.url in logs  # httpx2's own line is there, redacted
    assert "T0KEN123" not in logs and "H00KPASS" not in logs and "hookuser" not in logs
    assert len(receiver.deliveries) == 1 and receiver.deliveries[0].path == "/hooks/winic?token=T0KEN123"


@pytest.mark.parametrize("status", [200, 500])
def test_a_store_that_fails_mid_delivery_leaves_no_record_claimed(status: int, tmp_path: Path) -> None:
    """The store is locked by another process's writer while the POST is under way: the acknowledgement (or
    the failed attempt) cannot be recorded. Once the store is back the next round records the outcome at
    once (the 200 as delivered; the 500's record given back and sent again), without waiting out a lease."""
    path = tmp_path / "s.sqlite3"
    lock = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def lock_store_then_answer(delivery: Delivery, count: int) -> int:
        if count == 1:
            lock.execute("BEGIN EXCLUSIVE")
            return status
        return 200

    settings = Settings(webhook_secret=SECRET, timeout=5.0, webhook_retry_schedule=(600,))
    with (
        receiving(SECRET, lock_store_then_answer) as receiver,
        open_store(f"sqlite:///{path}?store_timeout=0.3") as store,
    ):
        dispatcher = WebhookDispatcher(store, settings, urls=[receiver.url])
        [record_id] = store.commit_pulled("GET_SMS_MO", _replies(1))
        dispatcher.deliver_once()  # the store fails under it: logged, the outcome kept
        lock.execute("ROLLBACK")
        dispatcher.deliver_once()
        [endpoint] = dispatcher.endpoints
        assert endpoint.queue.counts() == {"pending": 0, "done": 1, "dead": 0}
        dispatcher.join()
    lock.close()
    assert receiver.ids() == ([record_id] if status == 200 else [record_id, record_id])
