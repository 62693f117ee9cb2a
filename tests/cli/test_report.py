"""The HTML report (``winic-soap stats --html DIR``) opened in a real headless Chromium: it renders, every chart
is there with drawn marks, nothing is fetched from the network, and a screenshot is taken (to look at).
Chromium is Debian's ``chromium``; under CI (``CI=true``) a missing browser fails instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env, run_cli
from helpers.xpath import elements, texts
from lxml import html
from store.test_stats import fill

from winic_soap.mock import MockService
from winic_soap.report import LATENCY_BINS, latency_bins, render
from winic_soap.store import open_store

CHARTS = ("funnel", "rate", "failures", "latency")
# what pygal draws for data (not axes, guides or legends): a bar of some height, or a line's dot
MARKS = ".//*[contains(@class, 'tooltip-trigger') and (local-name() = 'circle' or number(@height) > 0)]"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: CI must install Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def headless(page: Path, tmp: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--window-size=1100,3000",
        *flags,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)


def test_the_report_renders_in_chromium_with_every_chart_drawn(
    tmp_path: Path, make_client: MakeClient, winic_mock: MockService
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    fill(url, make_client(), winic_mock)
    done = run_cli(cli_env(winic_mock.url, tmp_path), "stats", "--store", url, "--html", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    page = tmp_path / "report" / "index.html"
    assert f"report       {page}" in done.stdout
    again = run_cli(cli_env(winic_mock.url, tmp_path), "stats", "--store", url, "--json", "--html", str(page.parent))
    assert json.loads(again.stdout)["report"] == str(page) and json.loads(again.stdout)["by"] == "day"
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source.lower() and " src=" not in source and 'href="http' not in source  # nothing fetched

    dom = html.fromstring(headless(page, tmp_path, "--dump-dom").stdout)  # the DOM after rendering
    assert dom.findtext(".//h1") == "Delivery report"
    for name in CHARTS:
        (figure,) = elements(dom, f"//figure[@id='{name}']")
        (svg,) = elements(figure, ".//*[local-name()='svg']")
        marks = elements(svg, MARKS)
        assert len(marks) >= 2, f"chart {name} drew {len(marks)} mark(s)"
        assert not elements(svg, ".//*[contains(@class, 'no_data')]"), f"chart {name} says no data"
    failures = texts(dom, "//figure[@id='failures']//*[local-name()='text']/text()")
    assert {"unreachable", "blocked", "unknown"} <= set(failures)
    jobs = texts(dom, "//figure[@id='funnel']//*[local-name()='text']/text()")
    assert {"job-1", "job-2", "job-3"} <= set(jobs)

    shot = tmp_path / "report.png"
    headless(page, tmp_path, f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_an_empty_store_gives_a_report_that_says_so(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as store:
        page = render(store.stats(by="day"))
    assert page.count("<figure") == 4 and "No data" in page and "sent (recipients)" in page
    assert not elements(html.fromstring(page), MARKS.replace(".//", "//"))  # the check above finds nothing here


def test_latency_bins() -> None:
    counts = latency_bins([(0.0, 2), (4.9, 1), (5.0, 3), (3599.9, 1), (86400.0, 4)])
    assert len(counts) == len(LATENCY_BINS)
    assert (counts[0], counts[1], counts[8], counts[-1], sum(counts)) == (3, 3, 1, 4, 11)


def test_html_errors_are_typed_and_name_the_option(tmp_path: Path, winic_mock: MockService) -> None:
    env = cli_env(winic_mock.url, tmp_path)
    store = f"sqlite:///{tmp_path / 's.db'}"
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    done = run_cli(env, "stats", "--store", store, "--html", str(blocked))
    assert done.returncode != 0 and "--html: cannot write the report there" in done.stderr

    stub = tmp_path / "blocked" / "pygal"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('not installed')\n", encoding="utf-8")
    env["PYTHONPATH"] = f"{stub.parent}{os.pathsep}{env.get('PYTHONPATH', '')}"
    argv = [sys.executable, "-m", "winic_soap", "stats", "--store", store, "--html", str(tmp_path / "r")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "pip install 'winic-soap[report]'" in done.stderr
    assert not (tmp_path / "r").exists() and "Traceback" not in done.stderr
