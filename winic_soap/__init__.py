"""winic-soap: a SOAP-first Python client for the winic.org SMS web service."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
