"""The only module that imports zeep: loads the WSDL (the packaged copy by default, no network), binds
SOAP 1.1 or 1.2 to the configured endpoint, introspects the operations, and sends every byte through
our :class:`~winic_soap.session.HttpSession` instead of zeep's ``requests`` session."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import zeep
import zeep.exceptions
from lxml import etree

from winic_soap.exceptions import ConfigurationError, HTTPStatusError, ProtocolError, SoapFaultError, TransportError
from winic_soap.models import OperationInfo
from winic_soap.resources import packaged_wsdl_path
from winic_soap.session import HttpSession, RawResponse

__all__ = ["BINDINGS", "LoadedWsdl", "SoapTransport", "load_wsdl"]

TEMPURI = "http://tempuri.org/"
BINDINGS = {"soap11": f"{{{TEMPURI}}}Service1Soap", "soap12": f"{{{TEMPURI}}}Service1Soap12"}
_CATALOG_BINDINGS = (*BINDINGS.values(), f"{{{TEMPURI}}}Service1HttpPost", f"{{{TEMPURI}}}Service1HttpGet")
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
# Hardened: no DTDs, no entities, no external resources in anything zeep parses (WSDL or answers).
_SETTINGS = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)


class _Headers(dict[str, str]):
    """Case-insensitive ``get`` for zeep, which asks for ``Content-Type``."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _ZeepResponse:
    """The slice of ``requests.Response`` that zeep's bindings read."""

    __slots__ = ("content", "encoding", "headers", "status_code")

    def __init__(self, raw: RawResponse) -> None:
        self.status_code = raw.status
        self.content = raw.content
        self.headers = _Headers(raw.headers)
        self.encoding = "utf-8"


class _Transport(zeep.Transport):
    """zeep's seam: every request goes through our pooled session; zeep never logs envelopes here."""

    def __init__(self, session: HttpSession, timeout: float) -> None:
        super().__init__(timeout=timeout, operation_timeout=timeout)  # type: ignore[no-untyped-call]
        self._http = session

    def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> _ZeepResponse:
        raw = self._http.request("POST", address, body=message, headers=headers)
        ctype = raw.content_type.lower()
        if raw.status != 200 and "xml" not in ctype:
            # An IIS/ASP.NET error page, not a SOAP answer: report it as such, don't let zeep parse HTML.
            raise HTTPStatusError(
                raw.status,
                f"HTTP {raw.status} ({ctype or 'no content type'})",
                processed=False if 400 <= raw.status < 500 else None,
                body=raw.content,
            )
        if raw.status == 200 and "xml" not in ctype:
            raise ProtocolError(f"answer has content type {ctype or 'none'!r}, not XML", processed=None)
        return _ZeepResponse(raw)

    def get(self, address: str, params: Mapping[str, str], headers: Mapping[str, str]) -> _ZeepResponse:
        raise ConfigurationError("zeep's HTTP GET binding is not used; choose transport 'http-get'")

    def _load_remote_data(self, url: str) -> bytes:
        raw = self._http.request("GET", url)
        if raw.status != 200:
            raise HTTPStatusError(raw.status, f"fetching the WSDL answered HTTP {raw.status}", processed=False)
        return raw.content


class LoadedWsdl:
    """A parsed WSDL (shared, read-only) and the operations it offers."""

    def __init__(self, location: str, document: Any, catalog: dict[str, OperationInfo]) -> None:
        self.location = location
        self.document = document
        self.catalog = catalog


_loaded: dict[str, LoadedWsdl] = {}
_loaded_lock = threading.Lock()


def load_wsdl(session: HttpSession, location: str | None = None, *, timeout: float = 30.0) -> LoadedWsdl:
    """Parse a WSDL once per process (the packaged copy when ``location`` is None); clients share it."""
    location = location or str(packaged_wsdl_path())
    with _loaded_lock:
        loaded = _loaded.get(location)
        if loaded is None:
            transport = _Transport(session, timeout)
            try:
                raw = transport.load(location)  # type: ignore[no-untyped-call]
                document = zeep.wsdl.Document(location, transport, settings=_SETTINGS)  # type: ignore[arg-type]
            except TransportError:
                raise
            except (OSError, etree.XMLSyntaxError, zeep.exceptions.Error) as exc:
                raise ConfigurationError(f"cannot load WSDL {location}: {type(exc).__name__}: {exc}") from None
            loaded = LoadedWsdl(location, document, load_catalog(document, raw))
            _loaded[location] = loaded
        return loaded


def load_catalog(document: Any, wsdl_bytes: bytes | None = None) -> dict[str, OperationInfo]:
    """Every operation the WSDL offers on any port, with parameters in order and documentation."""
    docs: dict[str, str] = {}
    if wsdl_bytes:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(wsdl_bytes, parser)
        for op in root.iterfind(f"{{{_WSDL_NS}}}portType/{{{_WSDL_NS}}}operation"):
            text = op.findtext(f"{{{_WSDL_NS}}}documentation")
            if text:
                docs.setdefault(op.get("name", ""), text.strip())
    catalog: dict[str, OperationInfo] = {}
    for qname in _CATALOG_BINDINGS:
        binding = document.bindings.get(qname)
        if binding is None:
            continue
        for name, operation in binding._operations.items():
            if name in catalog:
                continue
            body = getattr(operation.input, "body", None)
            elements = body.type.elements if body is not None and hasattr(body.type, "elements") else []
            catalog[name] = OperationInfo(name, tuple(n for n, _ in elements), docs.get(name, ""))
    return catalog


class SoapTransport:
    """Calls operations over SOAP 1.1 or 1.2 with zeep, bound to ``endpoint``."""

    def __init__(self, session: HttpSession, wsdl: LoadedWsdl, endpoint: str, *, version: str, timeout: float) -> None:
        self.name = version
        self.wsdl = wsdl
        if BINDINGS.get(version) not in wsdl.document.bindings:
            raise ConfigurationError(f"the WSDL has no {version} binding ({BINDINGS.get(version)})")
        transport = _Transport(session, timeout)
        client = zeep.Client(wsdl.document, transport=transport, settings=_SETTINGS)  # type: ignore[no-untyped-call]
        self._service = client.create_service(BINDINGS[version], endpoint)  # type: ignore[no-untyped-call]

    def operation_names(self) -> set[str]:
        return set(self.wsdl.document.bindings[BINDINGS[self.name]]._operations)

    def invoke(self, operation: str, params: Mapping[str, str | None]) -> str | None:
        """Call ``operation`` and return its raw answer string (None when the result element is absent)."""
        try:
            result = self._service[operation](**params)
        except TransportError as exc:
            exc.operation, exc.transport = operation, self.name
            raise
        except zeep.exceptions.Fault as fault:
            raise SoapFaultError(
                str(fault.code or "soap:Server"), _first_line(fault.message), operation=operation, transport=self.name
            ) from None
        except (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden) as exc:
            raise ProtocolError(
                f"answer refused: {type(exc).__name__}", processed=None, operation=operation, transport=self.name
            ) from None
        except zeep.exceptions.TransportError as exc:
            if exc.status_code == 200:
                raise ProtocolError(
                    "answer is not well-formed XML", processed=None, operation=operation, transport=self.name
                ) from None
            raise HTTPStatusError(
                exc.status_code or 0,
                f"HTTP {exc.status_code}: unreadable answer",
                processed=None,
                operation=operation,
                transport=self.name,
            ) from None
        except (zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
            raise ProtocolError(
                f"answer could not be read ({type(exc).__name__})",
                processed=None,
                operation=operation,
                transport=self.name,
            ) from None
        if result is not None and not isinstance(result, str):
            raise ProtocolError(
                f"answer is {type(result).__name__}, not a string",
                processed=None,
                operation=operation,
                transport=self.name,
            )
        return result


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:300] if text and text.strip() else "(no message)"
