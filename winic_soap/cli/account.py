"""``winic-soap account``: the balance, price and signature (GetUserInfo)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from winic_soap.cli.context import open_client
from winic_soap.cli.output import emit

__all__ = ["account"]


def account(args: argparse.Namespace) -> int:
    """The account's balance, price and signature (``--personal``: company and contact too)."""
    with open_client(args) as client:
        info = client.account(personal=args.personal)
    data = {k: v for k, v in asdict(info).items() if v is not None}
    emit(args, data, [f"{k:<14}{v}" for k, v in data.items()])
    return 0
