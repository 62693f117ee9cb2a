"""Prometheus metrics: ``/metrics`` scraped over HTTP from a real ``winic-soap watch --metrics-port`` process
(reports by category with their latency, pulls, hand-off and webhook failures, dead letters, the spool) and
parsed with prometheus-client's text parser; the same collectors from a library client's hooks; and the
extra loaded only when asked for."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from winic_soap import ServiceError, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import DeliveryReport
from winic_soap.store import open_store
from winic_soap.webhooks import new_secret

A, C, E = "13800138000", "13800138002", "13800138004"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("text/plain")
        return samples(answer.read().decode("utf-8"))


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_of_a_running_watch(
    store_url: str, make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    winic_mock.script_status(C, "UNDELIV")
    winic_mock.script_status(E, "BLACK")
    with open_store(store_url) as store:
        store.journal.send(make_client(), [A, C, E], "通知", job="job-1")
    env = cli_env(winic_mock.url, tmp_path) | {
        "WINIC_MAX_HANDOFFS": "1",  # the first failed hand-off makes a dead letter
        "WINIC_WEBHOOK_SECRET": new_secret(),
        "WINIC_STATUS_CATEGORIES": "BLACK=blocked",
    }
    argv = ["watch", "--store", store_url, "--interval", "5", "--sources", "reports", "--metrics-port", "0"]
    hook = f"http://user:tok3n-pass@127.0.0.1:{dead_port()}/hook?token=tok3n-query"  # nothing listens: each fails
    watcher = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", *argv, "--exec", "false", "--webhook", hook],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        url = ""
        while not url:
            line = watcher.stderr.readline()
            assert line, watcher.communicate()
            if match := re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", line):
                url = match[1]
        deadline = time.monotonic() + 60
        while True:
            got = scrape(url)
            failed = got.get(("winic_handoff_failures_total", ())) == 3 and got.get(("winic_dead_letters", ())) == 3
            if failed and any(k[0] == "winic_webhook_failures_total" for k in got):
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    reports = {
        dict(k[1])["status"]: (dict(k[1])["category"], v) for k, v in got.items() if k[0] == "winic_reports_total"
    }
    assert reports == {"DELIVRD": ("delivered", 1), "UNDELIV": ("unreachable", 1), "BLACK": ("blocked", 1)}
    assert got[("winic_report_latency_seconds_count", ())] == 3 and got[("winic_report_latency_seconds_sum", ())] > 0
    assert got[("winic_report_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("winic_pulls_total", (("operation", "SMS_Reports"), ("outcome", "ok")))] >= 1
    assert got[("winic_pull_duration_seconds_count", (("operation", "SMS_Reports"),))] >= 1
    assert got[("winic_inbox_records", (("state", "dead"),))] == 3 and got[("winic_store_up", ())] == 1
    assert got[("winic_spool_answers", ())] == 0
    webhook = {dict(k[1])["endpoint"] for k, v in got.items() if k[0] == "winic_webhook_failures_total" and v >= 1}
    assert webhook == {hook.replace("user:tok3n-pass@", "").split("?")[0]}  # no user info, no query
    assert "demo-secret" not in err and "whsec_" not in str(got) and "tok3n" not in str(got)
    with pytest.raises(OSError):  # the server ended with the watcher
        urllib.request.urlopen(url, timeout=5)


def test_a_library_client_gets_the_same_collectors_from_its_hooks(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    from winic_soap.metrics import Metrics

    metrics = Metrics.private()
    client = make_client(hooks=[metrics.hook])
    client.send([A], "通知")
    winic_mock.fail("code", code="-01", operation="SendMessages")
    with pytest.raises(ServiceError):
        client.send([A], "通知")
    client.reports()
    with open_store(tmp_path / "s.sqlite3") as store:
        metrics.watch_store(store)
        store.commit_pulled("SMS_Reports", winic_mock_reports(winic_mock, client))
        got = samples(generate_latest(metrics.registry).decode("utf-8"))
    assert got[("winic_send_attempts_total", (("operation", "SendMessages"), ("outcome", "ok")))] == 1
    assert got[("winic_send_attempts_total", (("operation", "SendMessages"), ("outcome", "BalanceError")))] == 1
    assert got[("winic_pulls_total", (("operation", "SMS_Reports"), ("outcome", "ok")))] == 2
    assert got[("winic_reports_total", (("category", "unreachable"), ("status", "EXPIRED")))] == 1
    assert got[("winic_report_latency_seconds_count", ())] == 0  # no journalled send: no latency


def winic_mock_reports(winic_mock: MockService, client: WinicClient) -> list[DeliveryReport]:
    """One report the store has no send for: counted by category, without a latency."""
    winic_mock.add_report("999", A, "EXPIRED")
    return list(client.reports())


def test_an_unreadable_store_is_reported_not_raised(tmp_path: Path) -> None:
    from winic_soap.metrics import Metrics

    metrics = Metrics.private()
    store = open_store(tmp_path / "s.sqlite3")
    metrics.watch_store(store)
    store.close()  # every read now fails
    got = samples(generate_latest(metrics.registry).decode("utf-8"))
    assert got[("winic_store_up", ())] == 0 and ("winic_dead_letters", ()) not in got


def test_the_extra_is_loaded_only_when_asked_for(tmp_path: Path) -> None:
    code = (
        "import sys, winic_soap, winic_soap.store, winic_soap.cli.parser, winic_soap.cli.stats\n"
        "assert not {'prometheus_client', 'pygal', 'winic_soap.metrics'} & set(sys.modules), sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_without_prometheus_client_metrics_port_is_a_typed_error(winic_mock: MockService, tmp_path: Path) -> None:
    blocker = tmp_path / "blocked" / "prometheus_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n", encoding="utf-8")
    env = cli_env(winic_mock.url, tmp_path)
    env["PYTHONPATH"] = f"{blocker.parent}:{env.get('PYTHONPATH', '')}"
    argv = ["watch", "--once", "--store", str(tmp_path / "s.db"), "--metrics-port", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "winic_soap", *argv], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "pip install 'winic-soap[metrics]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_report_counters_never_go_back_nor_double_count_after_retention_empties_the_inbox(tmp_path: Path) -> None:
    from datetime import datetime

    from winic_soap.metrics import Metrics
    from winic_soap.models import DeliveryReport

    now = [1_780_000_000.0]
    metrics = Metrics.private()
    key = ("winic_reports_total", (("category", "delivered"), ("status", "DELIVRD")))

    def report(mobile: str) -> list[DeliveryReport]:
        return [DeliveryReport("m1", "u", mobile, "DELIVRD", datetime(2026, 5, 1))]

    def counted() -> float:
        return samples(generate_latest(metrics.registry).decode("utf-8")).get(key, 0.0)

    with open_store(tmp_path / "s.sqlite3", clock=lambda: now[0]) as store:
        metrics.watch_store(store)
        store.commit_pulled("SMS_Reports", report(A) + report(C))
        assert counted() == 2
        store.ack_many([r.id for r in store.pending()])
        now[0] += 2 * 86400
        assert store.purge("1d")["records"] == 2  # the inbox is empty: SQLite numbers the next row 1 again
        store.commit_pulled("SMS_Reports", report(E))
        assert counted() == 2  # below the old end: not known to be new, so not counted (never twice)
        store.commit_pulled("SMS_Reports", report("13800138009"))
        assert counted() == 3
