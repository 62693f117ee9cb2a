"""SOAP 1.1/1.2 without I/O. Requests are rendered from the contract zeep introspected, exactly as zeep
renders them; well-formed success answers are read directly with hardened lxml. Anything else (faults,
unexpected shapes) goes to zeep's own reader (``wsdl.py``), only imported when that first happens. The
tests hold both paths to the same bytes and results."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from winic_soap.core.answer import WireRequest, WireResponse, check_answer, xml_bytes
from winic_soap.core.contract import OperationContract
from winic_soap.core.xmlsafe import parse
from winic_soap.exceptions import InputError

__all__ = ["ENVELOPE_NS", "ZeepReader", "read_answer", "render_request", "soap_request"]

ZeepReader = Callable[[str, WireResponse], "str | None"]

ENVELOPE_NS = {
    "soap11": "http://schemas.xmlsoap.org/soap/envelope/",
    "soap12": "http://www.w3.org/2003/05/soap-envelope",
}
_ENV = {version: f"{{{ns}}}" for version, ns in ENVELOPE_NS.items()}
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# As lxml (and so zeep) escapes text: a raw carriage return would reach the service as a line feed.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# Characters XML 1.0 cannot carry at all; lxml (and so zeep) refuses them too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_request(
    op: OperationContract, version: str, params: Mapping[str, str | None]
) -> tuple[bytes, dict[str, str]]:
    """The envelope and headers zeep would send for ``op``; None-valued parameters are omitted."""
    parts = []
    for name in op.parameters:
        value = params.get(name)
        if value is None:
            continue
        if _NOT_XML.search(value):
            raise InputError(name, "contains characters XML cannot carry (control characters)")
        parts.append(f"<ns0:{name}>{value.translate(_ESCAPES)}</ns0:{name}>")
    # lxml writes an element without children self-closed; so do we, to the byte
    wrapper = f'ns0:{op.request_element} xmlns:ns0="{op.namespace}"'
    inner = f"<{wrapper}>{''.join(parts)}</ns0:{op.request_element}>" if parts else f"<{wrapper}/>"
    body = (
        f"<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\"{ENVELOPE_NS[version]}\">"
        f"<soap-env:Body>{inner}</soap-env:Body></soap-env:Envelope>"
    )
    action = op.actions.get(version, "")
    if version == "soap11":
        headers = {"SOAPAction": f'"{action}"', "Content-Type": "text/xml; charset=utf-8"}
    else:  # zeep sends the SOAP 1.1 header as well; so do we
        headers = {
            "SOAPAction": f'"{action}"',
            "Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"',
        }
    return body.encode("utf-8"), headers


def soap_request(endpoint: str, op: OperationContract, version: str, params: Mapping[str, str | None]) -> WireRequest:
    """The POST that carries ``op`` over SOAP ``version`` to ``endpoint``."""
    body, headers = render_request(op, version, params)
    return WireRequest("POST", endpoint, headers, body)


def read_answer(op: OperationContract, version: str, response: WireResponse, fallback: ZeepReader) -> str | None:
    """The answer string of a well-formed success answer, read directly; anything else (faults above
    all) is read by zeep through ``fallback``, which does no I/O either."""
    check_answer(response, fault_status=True)
    if response.status != 200:
        return fallback(op.name, response)
    env = _ENV[version]
    root = parse(xml_bytes(response))
    body = root[0] if len(root) and root.tag == f"{env}Envelope" else None
    if body is not None and body.tag != f"{env}Body":
        body = root.find(f"{env}Body")
    wrapper = body[0] if body is not None and len(body) else None
    ns = f"{{{op.namespace}}}"
    if wrapper is None or wrapper.tag != f"{ns}{op.response_element}":
        return fallback(op.name, response)
    result = wrapper.find(f"{ns}{op.result_element}")
    if result is None or result.get(_XSI_NIL) in ("true", "1"):
        return None
    return result.text or ""
