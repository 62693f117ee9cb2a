"""The ``winic-soap`` command: operator tools for the winic SMS service and its local mock."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from winic_soap import __version__
from winic_soap.demo import run_demo
from winic_soap.mock import __main__ as mock_main

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winic-soap", description=__doc__)
    parser.add_argument("--version", action="version", version=f"winic-soap {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    mock = commands.add_parser(
        "mock",
        help="run the bundled fake service on this machine",
        description="Serve the fake winic service; prints its URL first, stops on Ctrl-C.",
    )
    mock_main.add_arguments(mock)
    mock.set_defaults(run=mock_main.serve)
    demo = commands.add_parser("demo", help="walk through the main job against the bundled mock (offline)")
    demo.set_defaults(run=lambda _args: run_demo())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
