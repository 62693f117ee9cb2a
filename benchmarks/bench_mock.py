"""How many SOAP 1.1 ``SendMessages`` calls per second the bundled mock serves to one keep-alive client.

Run: ``python benchmarks/bench_mock.py [--calls N]``. The raw baseline is the same client against a
bare ``socketserver`` answering a canned reply, in the same run; each server runs in its own process, so
the ratio shows what the mock's own work costs. The mock must not be the bottleneck of client benchmarks
(aim: >= 2000 calls/s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

from _servers import canned_process, mock_process

ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soap:Body><SendMessages xmlns="http://tempuri.org/"><uid>bench</uid><pwd>bench-pwd</pwd>'
    "<tos>13800138000</tos><msg>benchmark 测试</msg><otime></otime></SendMessages></soap:Body></soap:Envelope>"
).encode()
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://tempuri.org/SendMessages"'}


def drive(host: str, port: int, calls: int) -> float:
    conn = http.client.HTTPConnection(host, port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    for _ in range(calls):
        conn.request("POST", "/Service.asmx", ENVELOPE, HEADERS)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"unexpected {response.status}: {body[:200]!r}")
    elapsed = time.perf_counter() - start
    conn.close()
    return calls / elapsed


def measure(url: str, calls: int) -> float:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    drive(parts.hostname, parts.port, min(200, calls))  # warm-up
    return drive(parts.hostname, parts.port, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    with canned_process() as url:  # the same canned-answer server as the client benchmark's baseline
        baseline = measure(url, args.calls)
    with mock_process("bench:bench-pwd:1000000000") as url:
        mock_rate = measure(url, args.calls)
    figures = {
        "calls": args.calls,
        "canned_server_calls_per_s": round(baseline),
        "mock_soap11_send_calls_per_s": round(mock_rate),
        "ratio_mock_vs_canned": round(mock_rate / baseline, 3),
    }
    print(f"{'what':<40}{'calls/s':>12}")
    print(f"{'canned-reply server (raw baseline)':<40}{baseline:>12.0f}")
    print(f"{'mock, SOAP 1.1 SendMessages':<40}{mock_rate:>12.0f}")
    print(f"ratio mock / baseline: {mock_rate / baseline:.2f}   (aim: mock >= 2000 calls/s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
