"""The Celery recipe of docs/store.md, run as written in a real Celery worker (prefork pool) on a real Redis broker
(Debian's ``redis-server``, started here), sending to the mock over a real socket through a journal store.
The worker is SIGKILLed right after the service accepted the send and before the task returned (so the
broker never heard it finished): the redelivered task must send nothing and return the first receipt.

The one addition to the recipe is a pause: in the worker, ``Journal.send`` returns only once the test
releases it, after writing a marker with the process id, so the kill lands after the send, every time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.ledger import sent_numbers
from helpers.markdown import DOCS, block_with
from helpers.pgserver import PgServer
from helpers.shared import cli_env, wait_until
from helpers.tcp_proxy import tcp_proxy

from winic_soap.mock import MockService

NUMBERS = [f"139{i:08d}" for i in range(150)]  # two requests
TEXT = "您的订单已发货"

# Appended to the recipe in the worker: hold each journalled send's answer until the test releases it.
_HOLD = """
import pathlib as _pathlib
import time as _time

from winic_soap.store.journal import Journal as _Journal

_journal_send = _Journal.send


def _send_then_wait(self, *args, **kwargs):
    receipt = _journal_send(self, *args, **kwargs)
    hold = _pathlib.Path(os.environ["RECIPE_HOLD"])
    name = f"sent-{os.getpid()}-{_time.monotonic_ns()}"
    (hold / f".{name}").write_text(str(os.getpid()))
    os.replace(hold / f".{name}", hold / name)  # whole or absent: the test reads the pid as soon as it sees it
    while not (hold / "release").exists():
        _time.sleep(0.01)
    return receipt


_Journal.send = _send_then_wait
# The test's broker: a dead worker's task comes back within a second or two, not an hour.
app.conf.broker_transport_options = {
    "visibility_timeout": 1, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
}
"""


def recipe() -> str:
    """The store guide's Celery block, as a reader copies it."""
    return block_with(DOCS / "store.md", "from celery import Celery")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throw-away Redis on a free loopback port, in a temporary folder, always stopped."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server not found: .ci/run installs Debian's redis-server")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    import redis

    folder = Path(tempfile.mkdtemp(prefix="winic-redis-"))
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)

        def answers() -> bool:
            assert server.poll() is None, "redis-server exited at start"
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, "redis-server to answer", 20)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


class Workers:
    """Celery workers on the recipe module, each in its own process group, all SIGKILLed at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.store = ""  # the journal store's URL (WINIC_STORE), set by the test
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "notices", "worker", "--pool=prefork", "--concurrency=1"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"]
        worker = subprocess.Popen(
            [*command, f"--hostname=w{len(self.started)}@%h"],
            cwd=self.folder,
            env={**self.env, "WINIC_STORE": self.store},
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"worker-{len(self.started)}.log").open("wb"),
            start_new_session=True,  # its own process group: the main process and its pool die together
        )
        self.started.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("worker-*.log")))


@pytest.fixture
def celery_recipe(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Workers, Path, MockService]]:
    """The recipe module (worker side and caller side), its workers, the hold folder and the mock."""
    hold = tmp_path / "hold"
    hold.mkdir()
    (tmp_path / "notices.py").write_text(recipe() + _HOLD, encoding="utf-8")
    # each test gets its own Redis databases: a task left in a queue never reaches another test's worker
    db = next(_REDIS_DBS)
    broker, backend = f"{redis_url}/{db}", f"{redis_url}/{db + 1}"
    with MockService([("demo", "demo-secret", "1000")]) as mock:
        env = {
            **cli_env(mock.url, tmp_path),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": backend,
            "RECIPE_HOLD": str(hold),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        }
        monkeypatch.setenv("CELERY_BROKER_URL", broker)
        monkeypatch.setenv("CELERY_RESULT_BACKEND", backend)
        namespace: dict[str, Any] = {"__name__": "notices"}
        exec(compile(recipe(), "docs/store.md Celery recipe", "exec"), namespace)  # the caller's side of the app
        workers = Workers(tmp_path, env)
        try:
            yield namespace["send_notice"], workers, hold, mock
        finally:
            for worker in workers.started:
                workers.kill(worker)
            namespace["app"].close()


_REDIS_DBS = iter(range(0, 16, 2))


@pytest.mark.parametrize("killed", ["worker", "pool-process"])
def test_a_task_redelivered_after_the_send_returns_the_first_receipt(
    celery_recipe: tuple[Any, Workers, Path, MockService], store_url: str, killed: str
) -> None:
    """``worker``: the whole worker dies (SIGKILL to its process group); Redis hands the unacknowledged
    task to a fresh worker after the visibility timeout. ``pool-process``: only the pool process running
    the task dies; the worker puts the task back at once (``task_reject_on_worker_lost``)."""
    send_notice, workers, hold, mock = celery_recipe
    workers.store = store_url
    first = workers.start()
    result = send_notice.delay(NUMBERS, TEXT)

    wait_until(lambda: list(hold.glob("sent-*")), "the first delivery's send")
    (marker,) = hold.glob("sent-*")
    assert len(mock.state.sends) == 2, "the send went out before the kill"
    accepted = [s.message_id for s in mock.state.sends]
    if killed == "worker":
        workers.kill(first)
        workers.start()
    else:
        os.kill(int(marker.read_text()), signal.SIGKILL)
    (hold / "release").touch()

    answer = result.get(timeout=60)
    assert answer == {"job": result.id, "message_ids": accepted}, workers.logs()
    # delivered again (more than once, when the 1 s visibility timeout also ran out while the task was held)
    assert len(list(hold.glob("sent-*"))) >= 2, "the task was not delivered again"
    assert len(mock.state.sends) == 2 and set(sent_numbers(mock).values()) == {1}, "an SMS went out twice"
    assert sorted(sent_numbers(mock)) == sorted(NUMBERS)


def test_a_store_down_before_the_send_is_retried_and_sends_once(
    celery_recipe: tuple[Any, Workers, Path, MockService], pg_server: PgServer
) -> None:
    """The recipe's retry: the store cannot be reached (PostgreSQL behind a proxy the test cut), so the task
    raises StoreError before anything is sent; Celery retries it (same task id, same key) once the store
    is back, and the SMS goes out once."""
    send_notice, workers, hold, mock = celery_recipe
    (hold / "release").touch()  # no pause after the send here
    database = str(pg_server.create_database(f"celery_{uuid.uuid4().hex[:12]}"))
    with tcp_proxy(database) as proxy:
        proxy.cut()
        workers.store = proxy.url
        workers.start()
        result = send_notice.delay(NUMBERS, TEXT)
        wait_until(lambda: proxy.refused, "the task's first try at the store")
        assert not mock.ledger
        proxy.restore()
        answer = result.get(timeout=60)
    assert answer == {"job": result.id, "message_ids": [s.message_id for s in mock.state.sends]}, workers.logs()
    assert len(mock.state.sends) == 2 and set(sent_numbers(mock).values()) == {1}
