"""Start servers for benchmarks in their own processes, so they never share a GIL with the client measured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["mock_process", "process_printing_url"]


@contextmanager
def process_printing_url(argv: Sequence[str]) -> Iterator[str]:
    """Run ``argv``, wait for the URL it prints on its first line, and stop it afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"server did not start: {url!r}")
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


ROOT = Path(__file__).resolve().parent.parent
