"""The sans-I/O core: the operation contract, SOAP envelopes, HTTP GET/POST forms, and the classification
of answers. Pure functions and data over bytes; the clients move them through ``winic_soap.http``."""

from __future__ import annotations

__all__: list[str] = []
