"""Locate the packaged copy of the service's WSDL (``wsdl_cache/``) without touching the network."""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path

__all__ = ["WSDL_FILENAME", "packaged_wsdl_bytes", "packaged_wsdl_path"]

WSDL_FILENAME = "Service.asmx.wsdl"


@lru_cache(maxsize=1)
def packaged_wsdl_path() -> Path:
    """Path of the cached WSDL: inside the installed wheel, else the source checkout's ``wsdl_cache/``."""
    installed = importlib.resources.files("winic_soap").joinpath("wsdl_cache", WSDL_FILENAME)
    if installed.is_file():
        return Path(str(installed))
    # Editable installs and plain checkouts: the folder sits beside the package.
    checkout = Path(__file__).resolve().parent.parent / "wsdl_cache" / WSDL_FILENAME
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"packaged WSDL {WSDL_FILENAME} not found; the installation is incomplete")


def packaged_wsdl_bytes() -> bytes:
    """The cached WSDL document as shipped."""
    return packaged_wsdl_path().read_bytes()
