"""ASMX's HTTP GET/POST bindings without I/O: ``/Service.asmx/{Op}`` with form fields, and the reading of
their ``<string>`` answers. zeep's HTTP bindings are weak (no error pages, no nil), so these are spoken
directly, with the parameter list taken from the loaded WSDL."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from winic_soap.core.answer import WireRequest, WireResponse, check_answer, xml_bytes
from winic_soap.core.xmlsafe import parse
from winic_soap.exceptions import ProtocolError

__all__ = ["FORM_CONTENT_TYPE", "read_answer", "render_request"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_TEMPURI_STRING = "{http://tempuri.org/}string"
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_FORM_HEADERS = {"Content-Type": FORM_CONTENT_TYPE}


def render_request(endpoint: str, operation: str, params: Mapping[str, str | None], *, verb: str) -> WireRequest:
    """The request ASMX expects: GET with a query string, POST with a form body (UTF-8, ``+`` for spaces)."""
    query = urlencode({k: "" if v is None else v for k, v in params.items()}, encoding="utf-8")
    url = f"{endpoint.rstrip('/')}/{operation}"
    if verb == "GET":
        return WireRequest("GET", f"{url}?{query}")
    return WireRequest("POST", url, _FORM_HEADERS, query.encode("ascii"))


def read_answer(response: WireResponse) -> str | None:
    """The answer string (None when the service answered nil); error pages raise the typed error."""
    check_answer(response, fault_status=False)
    root = parse(xml_bytes(response))
    if root.tag != _TEMPURI_STRING:
        raise ProtocolError(f"answer element is {root.tag!r}, not tempuri string", processed=None)
    if root.get(_NIL) in ("true", "1"):
        return None
    return root.text or ""
