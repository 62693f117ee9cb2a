"""What the suppression check costs a bulk send (the goal: "a few milliseconds" for 100,000 numbers).

1. The check alone: ``store.suppression.check(numbers)`` for a send's N numbers (as its plan holds them),
   against a list of 1,000 numbers and against one of N + 10,000 (both read whole from the index: up to 10
   times the send), and for a send of N / 10 numbers against the latter (probed by key), median of
   ``--repeat`` runs.
2. The same N-number ``client.send`` (concurrency 8, the mock's in-process transport: the wire is not the
   point) without a store and with one (1,000 listed numbers, 10 of them in the send), in the same run:
   the difference is what the check costs a send.

Run: ``python benchmarks/bench_suppression.py [--numbers 100000] [--repeat 3] [--store URL] [--json PATH]``
(default store: a SQLite file in a temporary folder; ``--store postgresql://...`` for PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402  (the in-process transport needs a client of its own)

from winic_soap import WinicClient  # noqa: E402
from winic_soap.mock import MockService  # noqa: E402
from winic_soap.recipients import domestic_numbers  # noqa: E402
from winic_soap.store import Store, open_store  # noqa: E402


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 2)


def _list(store: Store, numbers: list[str]) -> None:
    """The list holds exactly ``numbers`` (a fresh list each time)."""
    with store._transaction() as tx:
        tx.run("DELETE FROM winic_suppression")
    for i in range(0, len(numbers), 50_000):
        store.suppression.add(numbers[i : i + 50_000], note="bench", source="import")


def run(count: int, repeat: int, url: str) -> dict[str, Any]:
    numbers = domestic_numbers([f"13{3 + i % 7}{i:08d}" for i in range(count)])  # as a send's plan holds them
    outside = [f"150{i:08d}" for i in range(1_000 - 10)]
    small = outside + numbers[:: max(count // 10, 1)][:10]  # 1,000 listed, 10 of them in the send
    large = [f"151{i:08d}" for i in range(count + 10_000)] + numbers[:10]
    result: dict[str, Any] = {"numbers": count, "repeat": repeat, "store": url.split("://", maxsplit=1)[0]}
    with open_store(url) as store:
        _list(store, small)
        assert len(store.suppression.check(numbers)) == 10
        result["check_ms_list_1000"] = _median_ms(lambda: store.suppression.check(numbers), repeat)
        _list(store, large)
        assert len(store.suppression.check(numbers)) == 10
        result["check_ms_list_larger_than_send"] = _median_ms(lambda: store.suppression.check(numbers), repeat)
        result["list_larger_than_send"] = len(large)
        tenth = numbers[: max(count // 10, 1)]  # the list is more than 10 times this send: probed by key
        assert len(store.suppression.check(tenth)) == 10
        result["check_ms_probed_send_of_a_tenth"] = _median_ms(lambda: store.suppression.check(tenth), repeat)
        _list(store, small)
        with MockService([("demo", "demo-secret", "1000000000")]) as mock:
            http = httpx2.Client(transport=mock.httpx_transport())
            with (
                WinicClient("demo", "demo-secret", endpoint=mock.url, http_client=http) as bare,
                WinicClient("demo", "demo-secret", endpoint=mock.url, http_client=http, store=store) as checked,
            ):
                plain, screened = [], []
                for _ in range(repeat):  # interleaved, so both see the same machine
                    began = time.perf_counter()
                    bare.send(numbers, "通知", concurrency=8)
                    plain.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    receipt = checked.send(numbers, "通知", concurrency=8)
                    screened.append(time.perf_counter() - began)
                    assert len(receipt.suppressed) == 10
            http.close()
    result["send_ms_without_store"] = round(statistics.median(plain) * 1000, 1)
    result["send_ms_with_store"] = round(statistics.median(screened) * 1000, 1)
    result["send_difference_ms"] = round(result["send_ms_with_store"] - result["send_ms_without_store"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", help="store URL (default: SQLite in a temporary folder)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.numbers, args.repeat, args.store or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
    for key, value in result.items():
        print(f"{key:<34}{value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
