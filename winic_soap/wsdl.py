"""The only module that imports zeep, the engine of the SOAP contract. It parses WSDLs (hardened: no
DTDs, entities or external resources), introspects them into a :class:`~winic_soap.core.contract.Contract`,
compares two of them, renders the envelopes of operations the fast path cannot carry, and reads every
answer the fast path does not recognise (faults above all). It does no I/O of its own: remote WSDLs
come through a ``fetch`` callable (the client's HTTP client, so proxies and certificates apply), and
every document a WSDL imports passes :class:`_Loader`'s rules (same host over HTTP(S), bounded size).

Imported lazily: a client on the packaged WSDL that never meets a fault never loads zeep.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import zeep
import zeep.exceptions
from lxml import etree
from zeep import xsd

from winic_soap.core.answer import WireRequest, WireResponse
from winic_soap.core.contract import Contract, OperationContract
from winic_soap.exceptions import ConfigurationError, HTTPStatusError, ProtocolError, SoapFaultError, WinicError
from winic_soap.models import OperationInfo
from winic_soap.resources import packaged_wsdl_path

__all__ = ["BINDINGS", "Fetch", "ZeepEngine", "diff", "introspect", "load_contract", "load_document"]

Fetch = Callable[[str], bytes]
TEMPURI = "http://tempuri.org/"
BINDINGS = {"soap11": f"{{{TEMPURI}}}Service1Soap", "soap12": f"{{{TEMPURI}}}Service1Soap12"}
_HTTP_BINDINGS = (f"{{{TEMPURI}}}Service1HttpPost", f"{{{TEMPURI}}}Service1HttpGet")
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_SETTINGS = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)
# Loading a WSDL, zeep's blanket ban on HTTP imports is replaced by _Loader's narrower rules (same host),
# which also cover what zeep lets through: local paths and file:// URLs.
_DOCUMENT_SETTINGS = zeep.Settings(
    strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=False
)
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # the service's WSDL is about 60 KB
MAX_DOCUMENTS = 32  # a WSDL and everything it imports, each counted every time zeep asks for it


class _Headers(dict[str, str]):
    """Case-insensitive ``get`` for zeep, which asks for ``Content-Type``."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _ZeepResponse:
    """The slice of ``requests.Response`` that zeep's bindings read."""

    __slots__ = ("content", "encoding", "headers", "status_code")

    def __init__(self, response: WireResponse) -> None:
        self.status_code = response.status
        self.content = response.content
        self.headers = _Headers({k.lower(): v for k, v in response.headers.items()})
        self.encoding = "utf-8"


def _no_fetch(url: str) -> bytes:
    raise ConfigurationError(f"{url} is remote and no HTTP client was given to fetch it")


class _Loader(zeep.Transport):
    """zeep's seam for loading documents; zeep itself never posts. The rules for what a WSDL at ``root``
    may load (itself and its imports), whoever asks (the client or ``winic-soap wsdl refresh``/``diff``):

    - a remote WSDL: only ``http(s)://`` URLs on its own host, through ``fetch`` (no local path, no
      ``file://``, no other host);
    - a local WSDL (a path): only regular files in its own folder or below (no ``/dev/zero``, no
      ``/etc/passwd``), and nothing remote;
    - each document at most :data:`MAX_DOCUMENT_BYTES`, at most :data:`MAX_DOCUMENTS` loads in all.
    """

    def __init__(self, fetch: Fetch, root: str | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._fetch = fetch
        self._root = root
        self._loads = 0

    def load(self, url: str) -> bytes:
        self._loads += 1
        if self._loads > MAX_DOCUMENTS:
            raise ConfigurationError(f"the WSDL imports more than {MAX_DOCUMENTS} documents; refused")
        root = self._root or url
        remote = urlsplit(root).scheme in ("http", "https")
        content = self._remote(url, root) if remote else self._local(url, root)
        if len(content) > MAX_DOCUMENT_BYTES:
            raise ConfigurationError(f"WSDL document {_shown(url)} is larger than {MAX_DOCUMENT_BYTES} bytes; refused")
        return content

    def _remote(self, url: str, root: str) -> bytes:
        parts, home = urlsplit(url), urlsplit(root)
        if parts.scheme not in ("http", "https") or (parts.hostname or "") != (home.hostname or ""):
            raise ConfigurationError(
                f"the WSDL at {_shown(root)} imports {_shown(url)}: only http(s) URLs on {home.hostname} are loaded"
            )
        return self._fetch(url)

    def _local(self, url: str, root: str) -> bytes:
        folder = os.path.dirname(os.path.realpath(root))
        path = os.path.realpath(os.path.expanduser(url))
        if urlsplit(url).scheme or (url != root and os.path.commonpath([folder, path]) != folder):
            raise ConfigurationError(
                f"the WSDL at {root} imports {_shown(url)}: a local WSDL may import only files in its own folder"
            )
        try:  # non-blocking: opening a FIFO must not wait for a writer before it can be refused
            with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    raise ConfigurationError(f"{url} is not a regular file; a WSDL must be one")
                return handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(f"cannot load WSDL {url}: {exc.strerror or exc}") from None

    def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> Any:
        raise ConfigurationError("zeep does not post here: the client's HTTP layer carries every call")

    def get(self, address: str, params: Mapping[str, str], headers: Mapping[str, str]) -> Any:
        raise ConfigurationError("zeep's HTTP GET binding is not used; choose transport 'http-get'")


def _shown(url: str) -> str:
    """A location fit for a message: no query string (it could carry a password), at most 200 characters."""
    return url.split("?", 1)[0][:200]


_documents: dict[str, tuple[Any, bytes]] = {}
_documents_lock = threading.Lock()


def load_document(location: str | None = None, *, fetch: Fetch = _no_fetch) -> tuple[Any, bytes]:
    """Parse a WSDL with zeep once per process (the packaged copy when ``location`` is None)."""
    location = location or str(packaged_wsdl_path())
    with _documents_lock:
        found = _documents.get(location)
        if found is None:
            loader = _Loader(fetch, location)
            try:
                raw = loader.load(location)
                document = zeep.wsdl.Document(location, loader, settings=_DOCUMENT_SETTINGS)  # type: ignore[arg-type]
            except WinicError:
                raise
            except (OSError, etree.XMLSyntaxError, zeep.exceptions.Error, ValueError) as exc:
                raise ConfigurationError(f"cannot load WSDL {location}: {type(exc).__name__}: {exc}") from None
            found = _documents[location] = (document, raw)
        return found


def _is_string(element: Any) -> bool:
    return isinstance(element.type, xsd.String) and element.max_occurs == 1


def introspect(document: Any, wsdl_bytes: bytes) -> Contract:
    """Every operation the WSDL offers, as zeep reads it."""
    docs: dict[str, str] = {}
    root = etree.fromstring(wsdl_bytes, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    for node in root.iterfind(f"{{{_WSDL_NS}}}portType/{{{_WSDL_NS}}}operation"):
        text = node.findtext(f"{{{_WSDL_NS}}}documentation")
        if text and text.strip():
            docs.setdefault(node.get("name", ""), text.strip())
    operations: dict[str, OperationContract] = {}
    for version, qname in BINDINGS.items():
        binding = document.bindings.get(qname)
        if binding is None:
            continue
        for name, op in binding._operations.items():
            body, out = getattr(op.input, "body", None), getattr(op.output, "body", None)
            if body is None or out is None:
                continue
            inputs = list(getattr(body.type, "elements", []))
            outputs = list(getattr(out.type, "elements", []))
            known = operations.get(name)
            actions = dict(known.actions) if known else {}
            actions[version] = op.soapaction or ""
            simple = (
                op.style == "document"
                and all(_is_string(e) for _, e in inputs)
                and len(outputs) == 1
                and _is_string(outputs[0][1])
                and body.qname.namespace == out.qname.namespace
            )
            operations[name] = OperationContract(
                name=name,
                parameters=tuple(n for n, _ in inputs),
                documentation=docs.get(name, ""),
                namespace=body.qname.namespace or "",
                request_element=body.qname.localname,
                response_element=out.qname.localname,
                result_element=outputs[0][0] if outputs else "",
                actions=actions,
                simple=simple and (known.simple if known else True),
            )
    for qname in _HTTP_BINDINGS:  # operations offered only over HTTP GET/POST
        binding = document.bindings.get(qname)
        for name, op in binding._operations.items() if binding is not None else []:
            if name not in operations:
                params = tuple(op.input.abstract.parts) if getattr(op.input, "abstract", None) else ()
                operations[name] = OperationContract(
                    name, params, docs.get(name, ""), TEMPURI, name, f"{name}Response", f"{name}Result", {}, False
                )
    return Contract(hashlib.sha256(wsdl_bytes).hexdigest(), operations)


def load_contract(location: str | None = None, *, fetch: Fetch = _no_fetch) -> Contract:
    """zeep's introspection of the WSDL at ``location`` (a path or URL; None: the packaged copy)."""
    document, raw = load_document(location, fetch=fetch)
    return introspect(document, raw)


def diff(old: Contract, new: Contract) -> dict[str, Any]:
    """Operations added, removed, and changed (parameters) from ``old`` to ``new``."""
    before: dict[str, OperationInfo] = {n: op.info for n, op in old.operations.items()}
    after: dict[str, OperationInfo] = {n: op.info for n, op in new.operations.items()}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": {
            name: {"packaged": list(before[name].parameters), "other": list(after[name].parameters)}
            for name in sorted(set(before) & set(after))
            if before[name].parameters != after[name].parameters
        },
    }


@contextmanager
def _zeep_errors(operation: str, transport: str) -> Iterator[None]:
    """Translate everything zeep (or lxml under it) raises into our tree, in this one place."""
    try:
        yield
    except WinicError:
        raise
    except zeep.exceptions.Fault as fault:
        message = (fault.message or "").strip().splitlines()
        raise SoapFaultError(
            str(fault.code or "soap:Server"),
            message[0][:300] if message else "(no message)",
            operation=operation,
            transport=transport,
        ) from None
    except (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden) as exc:
        raise ProtocolError(
            f"answer refused: {type(exc).__name__}", processed=None, operation=operation, transport=transport
        ) from None
    except zeep.exceptions.TransportError as exc:
        if exc.status_code == 200:
            raise ProtocolError(
                "answer is not well-formed XML", processed=None, operation=operation, transport=transport
            ) from None
        raise HTTPStatusError(
            exc.status_code or 0,
            f"HTTP {exc.status_code}: unreadable answer",
            processed=None,
            operation=operation,
            transport=transport,
        ) from None
    except (zeep.exceptions.Error, etree.LxmlError, ValueError, TypeError) as exc:
        raise ProtocolError(
            f"answer could not be read ({type(exc).__name__})", processed=None, operation=operation, transport=transport
        ) from None


class ZeepEngine:
    """zeep bound to one endpoint and SOAP version, without I/O: it renders the envelopes of operations
    the fast path cannot carry and reads the answers the fast path does not recognise."""

    def __init__(self, location: str | None, endpoint: str, *, version: str, fetch: Fetch = _no_fetch) -> None:
        self.version = version
        self._endpoint = endpoint
        document, _ = load_document(location, fetch=fetch)
        if BINDINGS.get(version) not in document.bindings:
            raise ConfigurationError(f"the WSDL has no {version} binding ({BINDINGS.get(version)})")
        root = location or str(packaged_wsdl_path())
        self._client = zeep.Client(document, transport=_Loader(fetch, root), settings=_SETTINGS)  # type: ignore[no-untyped-call]
        self._binding = document.bindings[BINDINGS[version]]

    def request(self, operation: str, params: Mapping[str, str | None]) -> WireRequest:
        """The request zeep would post for ``operation`` (zeep's serialiser; nothing is sent here)."""
        with _zeep_errors(operation, self.version):
            envelope, headers = self._binding._create(
                operation, (), dict(params), client=self._client, options={"address": self._endpoint}
            )
            body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
            return WireRequest("POST", self._endpoint, dict(headers), body)

    def process_reply(self, operation: str, response: WireResponse) -> str | None:
        """zeep's reading of an answer the fast path did not recognise (faults above all)."""
        with _zeep_errors(operation, self.version):
            result = self._binding.process_reply(self._client, self._binding.get(operation), _ZeepResponse(response))
            return _as_answer(result, operation, self.version)


def _as_answer(result: Any, operation: str, transport: str) -> str | None:
    if result is not None and not isinstance(result, str):
        raise ProtocolError(
            f"answer is {type(result).__name__}, not a string", processed=None, operation=operation, transport=transport
        )
    return result
