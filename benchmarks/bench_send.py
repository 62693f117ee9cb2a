"""What a journalled send costs at scale and on a repeat.

1. A CLI job (`winic-soap send -f FILE --concurrency 8`, journalled on SQLite) of N recipients against the
   mock in its own process: wall time and the CLI's peak RSS, beside the same command sending one number
   (the process's floor: interpreter, httpx2, lxml) and N/10 numbers in the same run -- what a hundred
   thousand more recipients cost is the slope between the two jobs (bounded memory: a few MB).
2. The replay: `store.journal.send(..., job=KEY)` repeated with a key already in the journal (nothing sent),
   beside the first journalled send and a plain `client.send` of the same 100 numbers, on the mock's
   in-process transport (the wire is not the point), per call.

Run: ``python benchmarks/bench_send.py [--recipients 1000000] [--calls 200] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402  (the in-process transport needs a client of its own)

from winic_soap import WinicClient  # noqa: E402
from winic_soap.mock import MockService  # noqa: E402
from winic_soap.store import open_store  # noqa: E402


def _cli_job(recipients: int, workdir: Path) -> dict[str, Any]:
    """The CLI job in a child process, the mock in another; peak RSS of the CLI child alone."""
    numbers = workdir / f"numbers-{recipients}.txt"
    with numbers.open("w") as out:
        for i in range(recipients):
            out.write(f"13{3 + i % 7}{i:08d}\n")
    mock = subprocess.Popen(
        [sys.executable, "-m", "winic_soap.mock", "--port", "0", "--account", "demo:demo-secret:100000000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert mock.stdout is not None
        url = mock.stdout.readline().strip()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WINIC_")},
            "HOME": str(workdir),
            "WINIC_UID": "demo",
            "WINIC_PWD": "demo-secret",
            "WINIC_ENDPOINT": url,
            "WINIC_STORE": f"sqlite:///{workdir / f'store-{recipients}.sqlite3'}",
        }
        command = [sys.executable, "-m", "winic_soap", "send", "-f", str(numbers), "-m", "通知", "--concurrency", "8"]
        began = time.perf_counter()
        with tempfile.TemporaryFile() as err:
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS (KiB), not the mock's
            child.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.perf_counter() - began
            if child.returncode != 0:
                err.seek(0)
                raise SystemExit(f"the CLI job failed ({child.returncode}): {err.read()[-2000:]!r}")
        return {"recipients": recipients, "seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    finally:
        mock.terminate()
        mock.wait(10)


def _per_call(run: Any, calls: int) -> float:
    began = time.perf_counter()
    for i in range(calls):
        run(i)
    return (time.perf_counter() - began) / calls * 1e6


def _replay(calls: int, workdir: Path) -> dict[str, Any]:
    numbers = [f"138{i:08d}" for i in range(100)]
    with MockService([("demo", "demo-secret", "100000000")]) as mock:
        http = httpx2.Client(transport=mock.httpx_transport())
        with (
            WinicClient("demo", "demo-secret", endpoint=mock.url, http_client=http) as client,
            open_store(f"sqlite:///{workdir / 'replay.sqlite3'}") as store,
        ):
            plain = _per_call(lambda i: client.send(numbers, "通知"), calls)
            first = _per_call(lambda i: store.journal.send(client, numbers, "通知", job=f"k{i}"), calls)
            sent = len(mock.state.sends)
            replay = _per_call(lambda i: store.journal.send(client, numbers, "通知", job=f"k{i}"), calls)
            assert len(mock.state.sends) == sent, "a replay sent something"
        http.close()
    return {
        "calls": calls,
        "plain_send_us": round(plain),
        "first_journalled_send_us": round(first),
        "replay_us": round(replay),
        "replay_over_plain": round(replay / plain, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        floor = _cli_job(1, workdir)
        tenth = _cli_job(max(args.recipients // 10, 2), workdir)
        job = _cli_job(args.recipients, workdir)
        replay = _replay(args.calls, workdir)
    grown = job["peak_rss_mb"] - tenth["peak_rss_mb"]
    slope = round(grown / (job["recipients"] - tenth["recipients"]) * 100_000, 2)
    results = {"cli_floor": floor, "cli_tenth": tenth, "cli_job": job, "mb_per_100k": slope, "replay": replay}
    print(
        f"CLI job of {job['recipients']} recipients: {job['seconds']} s, peak RSS {job['peak_rss_mb']} MB "
        f"(one recipient: {floor['peak_rss_mb']} MB, {floor['seconds']} s; {tenth['recipients']}: "
        f"{tenth['peak_rss_mb']} MB, {tenth['seconds']} s; {slope} MB per 100,000 more)"
    )
    print(
        f"replay {replay['replay_us']} us vs first journalled send {replay['first_journalled_send_us']} us vs "
        f"plain send {replay['plain_send_us']} us ({replay['replay_over_plain']}x plain)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
