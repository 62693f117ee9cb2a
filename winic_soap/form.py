"""The HTTP GET/POST fallback transport: ``/Service.asmx/{Op}`` with form fields, over the shared pool.

zeep's HTTP bindings are weak (no error pages, no nil), so these ASMX bindings are spoken directly,
with the parameter list taken from the loaded WSDL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from winic_soap.exceptions import HTTPStatusError, ProtocolError, TransportError
from winic_soap.session import HttpSession, RawResponse
from winic_soap.xmlsafe import parse

__all__ = ["FormTransport"]

logger = logging.getLogger("winic_soap.form")
_TEMPURI_STRING = "{http://tempuri.org/}string"
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_FORM = "application/x-www-form-urlencoded"


class FormTransport:
    """Calls operations over ASMX's HTTP POST (form body) or HTTP GET (query string) binding."""

    def __init__(self, session: HttpSession, endpoint: str, *, verb: str) -> None:
        if verb not in ("GET", "POST"):
            raise ValueError("verb must be GET or POST")
        self.name = "http-get" if verb == "GET" else "http-post"
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._verb = verb
        if verb == "GET":
            logger.warning(
                "HTTP GET puts the password in the URL (proxies and server logs keep it); prefer soap11 or http-post"
            )

    def invoke(self, operation: str, params: Mapping[str, str | None]) -> str | None:
        """Call ``operation`` and return its raw answer string (None when the service answered nil)."""
        query = urlencode({k: "" if v is None else v for k, v in params.items()}, encoding="utf-8")
        url = f"{self._endpoint}/{operation}"
        try:
            if self._verb == "GET":
                raw = self._session.request("GET", f"{url}?{query}")
            else:
                raw = self._session.request("POST", url, body=query.encode("ascii"), headers={"Content-Type": _FORM})
            return self._answer(raw)
        except TransportError as exc:
            exc.operation, exc.transport = operation, self.name
            raise

    def _answer(self, raw: RawResponse) -> str | None:
        ctype = raw.content_type.lower()
        if raw.status == 200 and "xml" in ctype:
            root = parse(raw.content)
            if root.tag != _TEMPURI_STRING:
                raise ProtocolError(f"answer element is {root.tag!r}, not tempuri string", processed=None)
            if root.get(_NIL) in ("true", "1"):
                return None
            return root.text or ""
        if raw.status == 500 and ctype.startswith("text/plain"):
            first = raw.content.decode("utf-8", "replace").splitlines()[0][:300] if raw.content else ""
            # ASMX's InvalidOperationException comes from reading the request: nothing was processed.
            if first.startswith("System.InvalidOperationException"):
                raise ProtocolError(f"service refused the request: {first}", processed=False)
            raise HTTPStatusError(500, f"HTTP 500: {first}", processed=None, body=raw.content)
        raw.require_xml()
        # XML, but not a 200 answer: the HTTP bindings have no fault format, so it is an error page
        raise HTTPStatusError(raw.status, f"HTTP {raw.status} ({ctype})", processed=None, body=raw.content)
