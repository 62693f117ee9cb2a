"""What a ready client costs to build, for an ``http://`` and an ``https://`` endpoint, in one run.

    PYTHONPATH=. python benchmarks/bench_wire.py            # a few seconds; --quick for a smoke run

The TLS context (``ssl.create_default_context``: the CA bundle loaded and parsed) is built only for
``https://`` endpoints (or when TLS is configured on purpose); an ``http://`` client pays nothing for it.
Contenders, interleaved round by round so drift hits all alike: ``WinicClient`` for an ``http://``
endpoint, the same for ``https://`` (the baseline that still loads the bundle), and
``ssl.create_default_context()`` alone. Nothing is sent: no server is needed. Figures are medians;
the machine is shared and noisy, so compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _client(endpoint: str) -> Callable[[], None]:
    from winic_soap import WinicClient

    def build() -> None:
        WinicClient("bench", "bench-pwd", endpoint=endpoint).close()

    return build


def _default_context() -> None:
    ssl.create_default_context()


def construction(rounds: int) -> dict[str, Any]:
    """Median milliseconds to build each contender, interleaved over ``rounds`` rounds."""
    contenders: dict[str, Callable[[], None]] = {
        "client_http": _client("http://127.0.0.1:9/Service.asmx"),
        "client_https": _client("https://127.0.0.1:9/Service.asmx"),
        "ssl_default_context": _default_context,
    }
    for build in contenders.values():
        build()  # imports and first-use caches out of the way
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, build in contenders.items():
            started = time.perf_counter()
            build()
            times[name].append(time.perf_counter() - started)
    figures = {name: {"median_ms": statistics.median(t) * 1e3, "rounds": len(t)} for name, t in times.items()}
    figures["http_over_https"] = {"ratio": figures["client_http"]["median_ms"] / figures["client_https"]["median_ms"]}
    return figures


def report(rows: dict[str, Any], quick: bool) -> None:
    print("ready client, median of interleaved rounds (ms)")
    for name in ("client_http", "client_https", "ssl_default_context"):
        print(f"  {name:<22}{rows[name]['median_ms']:9.2f}")
    print(f"  http / https          {rows['http_over_https']['ratio']:9.3f}x")
    print("\n--quick: too few rounds for these figures to mean anything" if quick else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds: checks the script runs (no figures)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "wire.json")
    args = parser.parse_args()
    results = {"python": sys.version.split()[0], "construction": construction(3 if args.quick else 30)}
    report(results["construction"], args.quick)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
