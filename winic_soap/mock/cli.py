"""The mock's command line: ``python -m winic_soap.mock`` and ``winic-soap mock`` serve the fake service until
Ctrl-C or SIGTERM; ``winic-soap``'s parser borrows :func:`add_arguments` and :func:`serve` from here."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from winic_soap.mock.state import Account

__all__ = ["account", "add_arguments", "main", "serve"]

DESCRIPTION = "``python -m winic_soap.mock``: serve the fake service until Ctrl-C or SIGTERM."


def account(spec: str) -> Account:
    """``--account UID:PWD[:BALANCE]``. The mock's modules load here and in :func:`serve`, not when
    ``winic-soap --help`` builds these arguments."""
    from winic_soap.mock.service import parse_account

    return parse_account(spec)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The mock's options, on its own parser or on ``winic-soap mock``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any free one (default 8080)")
    parser.add_argument(
        "--account",
        action="append",
        type=account,
        metavar="UID:PWD[:BALANCE]",
        help="an account the mock knows (repeatable; default demo:demo-secret:100)",
    )
    parser.add_argument("--pull-limit", type=int, default=None, help="most records one pull hands out")


def serve(args: argparse.Namespace) -> int:
    """Start the mock, print its URL as the first line, block until SIGINT/SIGTERM."""
    from winic_soap.mock.service import DEFAULT_ACCOUNT, MockService

    stop = threading.Event()
    mock = MockService(args.account or [DEFAULT_ACCOUNT], host=args.host, port=args.port, pull_limit=args.pull_limit)
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with mock:
            print(mock.url, flush=True)
            for account in mock.state.accounts.values():
                print(f"account {account.uid} balance {account.balance}", flush=True)
            try:
                while not stop.wait(0.2):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("mock stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m winic_soap.mock``: parse ``argv`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m winic_soap.mock", description=DESCRIPTION)
    add_arguments(parser)
    return serve(parser.parse_args(argv))
