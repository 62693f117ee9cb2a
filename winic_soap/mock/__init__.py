"""A local, stateful fake of the winic ``service.asmx`` speaking SOAP 1.1/1.2 and HTTP GET/POST.

It imports nothing of the client: it is a server, and tests drive it over real sockets.
"""

from __future__ import annotations

from winic_soap.mock.faults import FAULT_KINDS, FaultRule
from winic_soap.mock.server import DEFAULT_ACCOUNT, MockService, parse_account
from winic_soap.mock.state import Account, LedgerEntry, SentMessage, segments

__all__ = [
    "DEFAULT_ACCOUNT",
    "FAULT_KINDS",
    "Account",
    "FaultRule",
    "LedgerEntry",
    "MockService",
    "SentMessage",
    "parse_account",
    "segments",
]
