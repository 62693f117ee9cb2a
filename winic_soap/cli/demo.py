"""``winic-soap demo``: the main job walked through against the bundled mock, offline."""

from __future__ import annotations

import argparse

__all__ = ["demo"]


def demo(args: argparse.Namespace) -> int:
    """The walk-through of :mod:`winic_soap.demo`, against a mock it starts and stops itself."""

    from winic_soap.demo import run_demo

    return run_demo()
