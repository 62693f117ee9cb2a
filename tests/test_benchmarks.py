"""The benchmark scripts run (tiny sizes) and write their figures; no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_client_benchmark_runs_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_client.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["1_sync_sequential"]) == {"ours", "bare_httpx2", "zeep_raw"}
    assert set(data["2_async_sequential"]) == {"ours", "bare_httpx2"}
    for section in ("1_sync_sequential", "2_async_sequential"):
        assert all(row["calls_per_s"] > 0 and row["cpu_us_per_call"] > 0 for row in data[section].values())
    for key in ("ours_mock", "ours_canned", "bare_httpx2_mock", "bare_httpx2_canned"):
        assert data["3_async_bulk"][key]["requests"] == 10
    assert data["4_sync_bulk"]["ours_mock"]["requests"] == data["4_sync_bulk"]["ours_canned"]["requests"] == 10
    assert set(data["5_cold_start"]) >= {"ours", "zeep_raw", "bare_httpx2"}
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


def test_store_benchmark_runs_quick(tmp_path: Path, pg_server) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "store.json"
    script = str(ROOT / "benchmarks" / "bench_store.py")
    result = subprocess.run(
        [sys.executable, script, "--records", "200", "--repeat", "1", "--backlog", "3000", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert [r["backend"] for r in results] == ["sqlite", "postgresql"]
    for r in results:
        assert r["records"] == 200 and r["ratio_to_bare_insert"] > 0 and r["journal"]["per_batch_us"] > 0
    assert "x autocommit" in result.stdout
    backlog = json.loads(out.read_text(encoding="utf-8"))["backlog"]
    assert [(b["mode"], b["backlog"], b["outcome"]) for b in backlog] == [
        ("stream", 3000, "stored whole"),
        ("list", 3000, "stored whole"),
    ]
    assert all(b["records"] == 3000 and b["peak_rss_mb"] > 0 and b["commit_records_per_s"] > 0 for b in backlog)
