"""Start servers for benchmarks in their own processes, so they never share a GIL with the client measured.

``python benchmarks/_servers.py --canned SECONDS`` serves the "ideal infrastructure" baseline: a thread
per connection that reads one request, waits ``SECONDS`` and answers a fixed ``SendMessages`` success,
with no parsing and no business logic -- what the mock would be if its own work cost nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import socketserver
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PIDS", "canned_process", "cpu_seconds", "mock_process", "process_printing_url"]

ROOT = Path(__file__).resolve().parent.parent
CANNED_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    b'<soap:Body><SendMessagesResponse xmlns="http://tempuri.org/"><SendMessagesResult>1125201700000001'
    b"</SendMessagesResult></SendMessagesResponse></soap:Body></soap:Envelope>"
)
CANNED_REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: "
    + str(len(CANNED_BODY)).encode()
    + b"\r\n\r\n"
    + CANNED_BODY
)
PIDS: dict[str, int] = {}  # URL -> pid of the server process serving it


def cpu_seconds(url: str) -> float:
    """CPU time (user + system) used so far by the server process behind ``url`` (Linux /proc)."""
    fields = Path(f"/proc/{PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def process_printing_url(argv: Sequence[str]) -> Iterator[str]:
    """Run ``argv``, wait for the URL it prints on its first line, and stop it afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"server did not start: {url!r}")
        PIDS[url] = proc.pid
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def mock_process(*accounts: str, extra: Sequence[str] = ()) -> Iterator[str]:
    """The bundled mock (``python -m winic_soap.mock``) on a free port; yields its service URL."""
    argv = [sys.executable, "-m", "winic_soap.mock", "--port", "0", *extra]
    for account in accounts:
        argv += ["--account", account]
    with process_printing_url(argv) as url:
        yield url


@contextmanager
def canned_process(latency: float = 0.0) -> Iterator[str]:
    """The canned-answer server (see the module docstring) on a free port; yields its service URL."""
    with process_printing_url([sys.executable, __file__, "--canned", str(latency)]) as url:
        yield url


class _Canned(socketserver.StreamRequestHandler):
    """Read one request, wait ``server.latency``, answer the fixed success; keep-alive until the peer closes."""

    server: _CannedServer

    def handle(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            length = 0
            line = self.rfile.readline()
            if not line:
                return
            while line not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                line = self.rfile.readline()
            self.rfile.read(length)
            if self.server.latency:
                time.sleep(self.server.latency)
            self.wfile.write(CANNED_REPLY)


class _CannedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    latency = 0.0


def serve_canned(latency: float) -> None:
    server = _CannedServer(("127.0.0.1", 0), _Canned)
    server.latency = latency
    print(f"http://127.0.0.1:{server.server_address[1]}/Service.asmx", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--canned", type=float, metavar="SECONDS", required=True, help="latency before each answer")
    serve_canned(parser.parse_args().canned)
