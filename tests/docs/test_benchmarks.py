"""The benchmark scripts run (tiny sizes) and write their figures; no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.pgserver import PgServer

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, out: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run ``benchmarks/SCRIPT ARGS --json OUT``; its output and the figures it wrote."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_client_benchmark_runs_quick(tmp_path: Path) -> None:
    result, data = _bench("bench_client.py", tmp_path / "bench.json", "--quick")
    assert set(data["1_sync_sequential"]) == {"ours", "bare_httpx2", "zeep_raw"}
    assert set(data["2_async_sequential"]) == {"ours", "bare_httpx2"}
    for section in ("1_sync_sequential", "2_async_sequential"):
        assert all(row["calls_per_s"] > 0 and row["cpu_us_per_call"] > 0 for row in data[section].values())
    for key in ("ours_mock", "ours_canned", "bare_httpx2_mock", "bare_httpx2_canned"):
        assert data["3_async_bulk"][key]["requests"] == 10
    assert data["4_sync_bulk"]["ours_mock"]["requests"] == data["4_sync_bulk"]["ours_canned"]["requests"] == 10
    assert set(data["5_cold_start"]) >= {"ours", "zeep_raw", "bare_httpx2", "import_only", "jobs_list"}
    assert all(data["6_rss"][f"{name}_kb"] > 0 for name in ("ours", "zeep_raw", "bare_httpx2"))
    assert data["7_decode"]["records"] == 500
    assert set(data["targets"]) and "ours/bare" in result.stdout and "targets:" in result.stdout


def test_mock_benchmark_runs_quick(tmp_path: Path) -> None:
    out = tmp_path / "mock.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_mock.py"), "--calls", "50", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(out.read_text(encoding="utf-8"))["mock_soap11_send_calls_per_s"] > 0


def test_store_benchmark_runs_quick(tmp_path: Path, pg_server: PgServer) -> None:
    handoff = ["--handoff-records", "300", "--handoff-batch", "100"]
    args = ("--records", "200", "--repeat", "1", "--backlog", "3000", *handoff)
    result, data = _bench("bench_store.py", tmp_path / "store.json", *args)
    results = data["results"]
    assert [r["backend"] for r in results] == ["sqlite", "postgresql"]
    for r in results:
        assert r["records"] == 200 and r["ratio_to_bare_insert"] > 0 and r["journal"]["per_batch_us"] > 0
    assert "x autocommit" in result.stdout
    backlog = data["backlog"]
    assert [(b["mode"], b["backlog"], b["outcome"]) for b in backlog] == [
        ("stream", 3000, "stored whole"),
        ("list", 3000, "stored whole"),
    ]
    assert all(b["records"] == 3000 and b["peak_rss_mb"] > 0 and b["commit_records_per_s"] > 0 for b in backlog)
    figures = data["handoff"]
    assert figures["batched"]["records"] == 300 and figures["batched"]["batch"] == 100
    assert figures["per_record"]["records"] == 100 and figures["speedup"] > 0


def test_send_benchmark_runs_small(tmp_path: Path) -> None:
    result, data = _bench("bench_send.py", tmp_path / "send.json", "--recipients", "300", "--calls", "3")
    assert [data[k]["recipients"] for k in ("cli_floor", "cli_tenth", "cli_job")] == [1, 30, 300]
    assert all(data[k]["peak_rss_mb"] > 0 for k in ("cli_floor", "cli_tenth", "cli_job"))
    assert "mb_per_100k" in data and data["replay"]["calls"] == 3 and "MB per 100,000 more" in result.stdout


def test_suppression_benchmark_runs_quick(tmp_path: Path) -> None:
    _, data = _bench("bench_suppression.py", tmp_path / "suppression.json", "--numbers", "1000", "--repeat", "1")
    assert data["numbers"] == 1000 and data["check_ms_list_1000"] > 0 and data["check_ms_list_larger_than_send"] > 0
    assert data["send_ms_without_store"] > 0 and data["send_ms_with_store"] > 0


def test_webhook_benchmark_runs_quick(tmp_path: Path) -> None:
    args = ("--records", "50", "--repeat", "1", "--backends", "sqlite")
    result, data = _bench("bench_webhooks.py", tmp_path / "webhooks.json", *args)
    assert data["sqlite"]["ours"]["deliveries"] == data["sqlite"]["bare_httpx2"]["deliveries"] == 50
    assert "ours/bare" in result.stdout


def test_wire_benchmark_runs_quick(tmp_path: Path) -> None:
    result, data = _bench("bench_wire.py", tmp_path / "wire.json", "--quick", timeout=120)
    rows = data["construction"]
    assert all(rows[name]["median_ms"] > 0 for name in ("client_http", "client_https", "ssl_default_context"))
    assert rows["http_over_https"]["ratio"] > 0 and "http / https" in result.stdout


def test_numbers_benchmark_runs_quick(tmp_path: Path) -> None:
    result, data = _bench("bench_numbers.py", tmp_path / "numbers.json", "--count", "2000", "--repeat", "1")
    for name in ("mainland_normalised", "mainland_mixed_forms", "international_gb"):
        assert data[name]["main_ms"] > 0 and data[name]["ours_ms"] > 0, name
    assert data["import_cost"]["phonenumbers_loaded_by_it"] is False
    assert data["import_cost"]["import_phonenumbers_ms"] > 0 and "goal:" in result.stdout


def test_stats_benchmark_runs_quick(tmp_path: Path) -> None:
    result, data = _bench("bench_stats.py", tmp_path / "stats.json", "--reports", "2000", "--repeat", "1")
    assert data["backend"] == "sqlite" and data["reports"] == 2000 and 0.8 < data["delivery_rate"] < 1
    assert data["stats_s"] > 0 and data["import_s"]["winic_soap.store"] > 0 and "goal < 2 s" in result.stdout
