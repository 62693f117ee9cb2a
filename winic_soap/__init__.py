"""winic-soap: a SOAP-first Python client for the winic.org SMS web service.

``WinicClient`` is the entry point; every error is a ``WinicError``; ``winic_soap.mock`` is a local fake
of the service for tests.

The names below are loaded on first use (PEP 562): ``import winic_soap`` costs almost nothing, and
tools that never touch the wire (``winic-soap jobs list``, ``winic_soap.store``) never load httpx2,
zeep or lxml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from winic_soap._lazy import exports
from winic_soap._version import __version__

if TYPE_CHECKING:
    from winic_soap._base import SendPlan
    from winic_soap.async_client import AsyncWinicClient
    from winic_soap.client import WinicClient
    from winic_soap.config import Settings
    from winic_soap.events import CallEvent
    from winic_soap.exceptions import (
        AccessDeniedError,
        AuthenticationError,
        BalanceError,
        BulkSendError,
        ClientClosedError,
        ConfigurationError,
        ConnectError,
        ConnectionLostError,
        HandOffError,
        HTTPStatusError,
        InputError,
        JournalError,
        MaintenanceError,
        OutcomeUnknown,
        ProtocolError,
        ProxyAuthenticationError,
        ReadTimeoutError,
        RejectedRequestError,
        SendOutcomeUnknown,
        ServiceError,
        SoapFaultError,
        StoreError,
        TLSError,
        TransportError,
        UnknownServiceError,
        WebhookVerificationError,
        WinicError,
    )
    from winic_soap.models import (
        AccountInfo,
        CostEstimate,
        DeliveryReport,
        OperationInfo,
        PartsInfo,
        Problem,
        Reply,
        SendReceipt,
        Submission,
        Suppressed,
    )
    from winic_soap.retry import RetryPolicy
    from winic_soap.text import count_parts, estimate_cost, segments

_EXPORTS: dict[str, str] = {
    "AccessDeniedError": "winic_soap.exceptions",
    "AccountInfo": "winic_soap.models",
    "AsyncWinicClient": "winic_soap.async_client",
    "AuthenticationError": "winic_soap.exceptions",
    "BalanceError": "winic_soap.exceptions",
    "BulkSendError": "winic_soap.exceptions",
    "CallEvent": "winic_soap.events",
    "ClientClosedError": "winic_soap.exceptions",
    "ConfigurationError": "winic_soap.exceptions",
    "ConnectError": "winic_soap.exceptions",
    "ConnectionLostError": "winic_soap.exceptions",
    "CostEstimate": "winic_soap.models",
    "count_parts": "winic_soap.text",
    "DeliveryReport": "winic_soap.models",
    "estimate_cost": "winic_soap.text",
    "HandOffError": "winic_soap.exceptions",
    "HTTPStatusError": "winic_soap.exceptions",
    "InputError": "winic_soap.exceptions",
    "JournalError": "winic_soap.exceptions",
    "MaintenanceError": "winic_soap.exceptions",
    "OperationInfo": "winic_soap.models",
    "PartsInfo": "winic_soap.models",
    "Problem": "winic_soap.models",
    "OutcomeUnknown": "winic_soap.exceptions",
    "ProtocolError": "winic_soap.exceptions",
    "ProxyAuthenticationError": "winic_soap.exceptions",
    "ReadTimeoutError": "winic_soap.exceptions",
    "RejectedRequestError": "winic_soap.exceptions",
    "Reply": "winic_soap.models",
    "RetryPolicy": "winic_soap.retry",
    "segments": "winic_soap.text",
    "SendOutcomeUnknown": "winic_soap.exceptions",
    "SendPlan": "winic_soap._base",
    "SendReceipt": "winic_soap.models",
    "ServiceError": "winic_soap.exceptions",
    "Settings": "winic_soap.config",
    "SoapFaultError": "winic_soap.exceptions",
    "StoreError": "winic_soap.exceptions",
    "Submission": "winic_soap.models",
    "Suppressed": "winic_soap.models",
    "TLSError": "winic_soap.exceptions",
    "TransportError": "winic_soap.exceptions",
    "UnknownServiceError": "winic_soap.exceptions",
    "WebhookVerificationError": "winic_soap.exceptions",
    "WinicClient": "winic_soap.client",
    "WinicError": "winic_soap.exceptions",
}


__getattr__ = exports(globals(), _EXPORTS)


def __dir__() -> list[str]:
    """What ``dir()`` and completion offer: the public names, not the imports behind them."""
    return sorted(__all__)


__all__ = [
    "AccessDeniedError",
    "AccountInfo",
    "AsyncWinicClient",
    "AuthenticationError",
    "BalanceError",
    "BulkSendError",
    "CallEvent",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "CostEstimate",
    "DeliveryReport",
    "HTTPStatusError",
    "HandOffError",
    "InputError",
    "JournalError",
    "MaintenanceError",
    "OperationInfo",
    "OutcomeUnknown",
    "PartsInfo",
    "Problem",
    "ProtocolError",
    "ProxyAuthenticationError",
    "ReadTimeoutError",
    "RejectedRequestError",
    "Reply",
    "RetryPolicy",
    "SendOutcomeUnknown",
    "SendPlan",
    "SendReceipt",
    "ServiceError",
    "Settings",
    "SoapFaultError",
    "StoreError",
    "Submission",
    "Suppressed",
    "TLSError",
    "TransportError",
    "UnknownServiceError",
    "WebhookVerificationError",
    "WinicClient",
    "WinicError",
    "__version__",
    "count_parts",
    "estimate_cost",
    "segments",
]
