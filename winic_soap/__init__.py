"""winic-soap: a SOAP-first Python client for the winic.org SMS web service.

``WinicClient`` is the entry point; every error is a ``WinicError``; ``winic_soap.mock`` is a local fake
of the service for tests.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
    HTTPStatusError,
    InputError,
    JournalError,
    MaintenanceError,
    OutcomeUnknown,
    ProtocolError,
    ReadTimeoutError,
    RejectedRequestError,
    SendOutcomeUnknown,
    ServiceError,
    SoapFaultError,
    StoreError,
    TLSError,
    TransportError,
    UnknownServiceError,
    WinicError,
)
from winic_soap.models import (
    AccountInfo,
    CostEstimate,
    DeliveryReport,
    OperationInfo,
    Reply,
    SendReceipt,
    Submission,
    Suppressed,
)
from winic_soap.retry import RetryPolicy
from winic_soap.text import estimate_cost, segments

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
    "InputError",
    "JournalError",
    "MaintenanceError",
    "OperationInfo",
    "OutcomeUnknown",
    "ProtocolError",
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
    "WinicClient",
    "WinicError",
    "__version__",
    "estimate_cost",
    "segments",
]
