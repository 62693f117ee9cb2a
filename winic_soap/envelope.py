"""The SOAP 1.1/1.2 transport. Requests are rendered from the contract zeep introspected, exactly as
zeep renders them; well-formed success answers are read directly with hardened lxml. Anything else
(faults, unexpected shapes, non-string operations) goes to zeep itself (``soap.ZeepEngine``), which is
only imported when that first happens. The tests hold both paths to the same bytes and results."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from winic_soap.contract import Contract, OperationContract
from winic_soap.exceptions import ConfigurationError, InputError, TransportError
from winic_soap.session import HttpSession, RawResponse
from winic_soap.xmlsafe import parse

if TYPE_CHECKING:
    from winic_soap.soap import ZeepEngine

__all__ = ["SoapTransport", "render_request"]

ENVELOPE_NS = {
    "soap11": "http://schemas.xmlsoap.org/soap/envelope/",
    "soap12": "http://www.w3.org/2003/05/soap-envelope",
}
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# Characters XML 1.0 cannot carry at all; lxml (and so zeep) refuses them too.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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
    body = (
        f"<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\"{ENVELOPE_NS[version]}\">"
        f'<soap-env:Body><ns0:{op.request_element} xmlns:ns0="{op.namespace}">{"".join(parts)}'
        f"</ns0:{op.request_element}></soap-env:Body></soap-env:Envelope>"
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


class SoapTransport:
    """Calls operations over SOAP 1.1 or 1.2 at ``endpoint``."""

    def __init__(
        self, session: HttpSession, contract: Contract, endpoint: str, *, version: str, wsdl: str | None, timeout: float
    ) -> None:
        if version not in ENVELOPE_NS:
            raise ConfigurationError(f"not a SOAP version: {version}")
        self.name = version
        self._session, self._contract, self._endpoint = session, contract, endpoint
        self._wsdl, self._timeout = wsdl, timeout
        self._engine: ZeepEngine | None = None
        self._engine_lock = threading.Lock()
        self._env = f"{{{ENVELOPE_NS[version]}}}"

    def engine(self) -> ZeepEngine:
        """zeep, bound to the same endpoint and version, created on first need."""
        with self._engine_lock:
            if self._engine is None:
                from winic_soap.soap import ZeepEngine

                self._engine = ZeepEngine(
                    self._session, self._wsdl, self._endpoint, version=self.name, timeout=self._timeout
                )
            return self._engine

    def invoke(self, operation: str, params: Mapping[str, str | None]) -> str | None:
        """Call ``operation`` and return its raw answer string (None when the result is absent or nil)."""
        op = self._contract.operations.get(operation)
        if op is None or not op.simple or self.name not in op.actions:
            return self.engine().invoke(operation, params)
        body, headers = render_request(op, self.name, params)
        try:
            raw = self._session.request("POST", self._endpoint, body=body, headers=headers)
            return self._read(op, raw)
        except TransportError as exc:
            exc.operation, exc.transport = operation, self.name
            raise

    def _read(self, op: OperationContract, raw: RawResponse) -> str | None:
        """A well-formed success answer, read directly; anything else (faults above all) read by zeep."""
        raw.require_xml()
        if raw.status != 200:
            return self.engine().process_reply(op.name, raw)
        root = parse(raw.content)
        body = root[0] if len(root) and root.tag == f"{self._env}Envelope" else None
        if body is not None and body.tag != f"{self._env}Body":
            body = root.find(f"{self._env}Body")
        wrapper = body[0] if body is not None and len(body) else None
        ns = f"{{{op.namespace}}}"
        if wrapper is None or wrapper.tag != f"{ns}{op.response_element}":
            return self.engine().process_reply(op.name, raw)
        result = wrapper.find(f"{ns}{op.result_element}")
        if result is None or result.get(_XSI_NIL) in ("true", "1"):
            return None
        return result.text or ""
