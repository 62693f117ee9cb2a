"""A local, stateful fake of the winic ``service.asmx`` speaking SOAP 1.1/1.2 and HTTP GET/POST.

It imports nothing of the client. Layers, each in its own module: ``state`` (accounts, sends, the ledger:
the core, importing nothing else of the mock), ``protocol`` (ASMX bytes), ``help_pages`` (the HTML a browser
gets), ``faults`` (the scripted plan), ``admin`` (the ``/_mock/`` JSON API), ``routing`` (sans-I/O: request
in, outcome out), and two shells over the same router: ``wire`` (the socket server) and ``transport`` (an
in-process httpx2 transport, :class:`InProcessTransport`, imported only when asked for). ``service`` holds
them together as :class:`MockService`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from winic_soap._lazy import exports

if TYPE_CHECKING:
    from winic_soap.mock.faults import FAULT_KINDS, FaultRule
    from winic_soap.mock.service import DEFAULT_ACCOUNT, MockService, parse_account
    from winic_soap.mock.state import Account, LedgerEntry, MockState, SentMessage, segments
    from winic_soap.mock.transport import InProcessTransport

# loaded on first use (PEP 562): ``winic-soap --help`` imports the package without its server
_EXPORTS: dict[str, str] = {
    "Account": "winic_soap.mock.state",
    "DEFAULT_ACCOUNT": "winic_soap.mock.service",
    "FAULT_KINDS": "winic_soap.mock.faults",
    "FaultRule": "winic_soap.mock.faults",
    "InProcessTransport": "winic_soap.mock.transport",
    "LedgerEntry": "winic_soap.mock.state",
    "MockService": "winic_soap.mock.service",
    "MockState": "winic_soap.mock.state",
    "parse_account": "winic_soap.mock.service",
    "segments": "winic_soap.mock.state",
    "SentMessage": "winic_soap.mock.state",
}


__getattr__ = exports(globals(), _EXPORTS)


__all__ = [
    "DEFAULT_ACCOUNT",
    "FAULT_KINDS",
    "Account",
    "FaultRule",
    "InProcessTransport",
    "LedgerEntry",
    "MockService",
    "MockState",
    "SentMessage",
    "parse_account",
    "segments",
]


def __dir__() -> list[str]:
    """What ``dir()`` and completion offer: the public names, not the imports and submodules behind them."""
    return sorted(__all__)
