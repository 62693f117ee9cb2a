"""How ASP.NET ASMX puts this service on the wire: request decoding and byte-exact response rendering
for SOAP 1.1, SOAP 1.2 and the HTTP GET/POST bindings (docs/protocol.md, transports). No sockets, no state."""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import lru_cache
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

from lxml import etree

from winic_soap.resources import packaged_wsdl_bytes

__all__ = [
    "TEMPURI",
    "BadRequest",
    "Contract",
    "Fault",
    "Response",
    "SoapCall",
    "contract",
    "decode_form",
    "decode_soap",
    "headers_for",
    "http_date",
    "parse_form",
    "reason",
    "render_fault",
    "render_form_error",
    "render_form_result",
    "render_html_error",
    "render_soap_result",
    "response_headers",
    "rewrite_wsdl",
    "url_decode",
]

TEMPURI = "http://tempuri.org/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"
_WSDL = "http://schemas.xmlsoap.org/wsdl/"
XML_UTF8 = "text/xml; charset=utf-8"
SOAP12_UTF8 = "application/soap+xml; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"
HTML_UTF8 = "text/html; charset=utf-8"
_TEMPURI_ANY = f"{{{TEMPURI}}}*"
_TEMPURI_CUT = len(TEMPURI) + 2
_XSI_NIL = f"{{{_XSI}}}nil"
_DECL = '<?xml version="1.0" encoding="utf-8"?>'
_ENV_OPEN = {
    "soap11": f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:xsi="{_XSI}" xmlns:xsd="{_XSD}">',
    "soap12": f'<soap:Envelope xmlns:soap="{SOAP12}" xmlns:xsi="{_XSI}" xmlns:xsd="{_XSD}">',
}
# Requests are parsed with no DTDs, no entities and no network: the mock must survive hostile clients.
# lxml parsers must not be shared between threads, so each server thread gets its own.
_PARSERS = threading.local()
_ACTION = re.compile(r'action\s*=\s*"?([^";]*)"?', re.I)
_PERCENT_U = re.compile(rb"%u([0-9a-fA-F]{4})")


@dataclass(frozen=True)
class Response:
    """A complete HTTP answer: the server writes it in one ``sendall``."""

    status: int
    content_type: str | None
    body: bytes


class BadRequest(Exception):
    """The request cannot be read at all (malformed XML): ASMX answers 400 with an empty body."""


@dataclass(frozen=True)
class Fault(Exception):
    """A SOAP fault ASMX would raise: ``client`` True for the caller's fault (soap:Client / Sender)."""

    client: bool
    message: str


@dataclass(frozen=True)
class SoapCall:
    operation: str
    params: dict[str, str | None]


@dataclass(frozen=True)
class Contract:
    """Operations and their parameter names, read from the packaged WSDL: the mock serves exactly those.
    ``documentation`` holds each operation's ``wsdl:documentation`` (the help pages show it)."""

    operations: dict[str, tuple[str, ...]]
    documentation: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def contract() -> Contract:
    tree = etree.fromstring(packaged_wsdl_bytes(), _parser())
    ns = {"s": _XSD, "w": _WSDL}
    ops: dict[str, tuple[str, ...]] = {}
    for message in tree.iterfind("w:message", ns):
        name = message.get("name", "")
        if name.endswith("HttpPostIn"):
            ops[name[: -len("HttpPostIn")]] = tuple(p.get("name", "") for p in message.iterfind("w:part", ns))
    docs: dict[str, str] = {}
    for operation in tree.iterfind("w:portType[@name='Service1Soap']/w:operation", ns):
        text = operation.findtext("w:documentation", "", ns).strip()
        if text:
            docs[operation.get("name", "")] = text
    return Contract(ops, docs)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def reason(status: int) -> str:
    """The reason phrase IIS puts after a status code."""
    return _REASONS.get(status, "Error")


@lru_cache(maxsize=2)
def _http_date_at(second: int) -> str:
    return formatdate(second, usegmt=True)


def http_date() -> str:
    """The Date header, formatted once per second (formatdate costs more than the rest of the answer)."""
    return _http_date_at(int(time.time()))


def response_headers(response: Response) -> list[tuple[str, str]]:
    """The headers IIS and ASP.NET put on ``response``, in their order; the socket server and the in-process
    transport both send exactly these."""
    return headers_for(response.content_type, len(response.body), http_date())


def headers_for(content_type: str | None, length: int, date: str) -> list[tuple[str, str]]:
    """``response_headers`` from its parts (the socket server caches the head by them)."""
    headers = [("Cache-Control", "private, max-age=0")]
    if content_type:
        headers.append(("Content-Type", content_type))
    headers += [
        ("Server", "Microsoft-IIS/7.5"),
        ("X-AspNet-Version", "4.0.30319"),
        ("X-Powered-By", "ASP.NET"),
        ("Date", date),
        ("Content-Length", str(length)),
    ]
    return headers


def rewrite_wsdl(url: str) -> bytes:
    """The packaged WSDL with every port address pointing at ``url`` (what ``?WSDL`` serves)."""
    return re.sub(rb'location="http[^"]*"', f'location="{escape(url)}"'.encode(), packaged_wsdl_bytes())


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        _PARSERS.parser = parser
    return parser


def _stack(*frames: str, newline: str = "\n") -> str:
    """A .NET stack trace tail (faultstrings use LF, the plain-text error pages CRLF)."""
    return "".join(f"{newline}   at {frame}" for frame in frames)


_SOAP_EXC = "System.Web.Services.Protocols.SoapException: "
_PROTOCOLS = "System.Web.Services.Protocols."
_ROUTE_FRAMES = (
    f"{_PROTOCOLS}Soap11ServerProtocolHelper.RouteRequest()",
    f"{_PROTOCOLS}SoapServerProtocol.RouteRequest(SoapServerMessage message)",
    f"{_PROTOCOLS}SoapServerProtocol.Initialize()",
    f"{_PROTOCOLS}ServerProtocolFactory.Create(Type type, HttpContext context, HttpRequest request, "
    "HttpResponse response, Boolean& abortProcessing)",
)
_READ_FRAME = (
    "System.Xml.Serialization.XmlSerializer.Deserialize(XmlReader xmlReader, String encodingStyle, "
    "XmlDeserializationEvents events)"
)


def decode_soap(version: str, body: bytes, action: str | None) -> SoapCall:
    """Read a SOAP request the way ASMX does: route by SOAPAction, else by the body element."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise BadRequest(str(exc)) from exc
    expected_ns = SOAP11 if version == "soap11" else SOAP12
    if root.tag != f"{{{expected_ns}}}Envelope":
        message = "Possible SOAP version mismatch: Envelope namespaces must match the protocol."
        raise Fault(False, _SOAP_EXC + message + _stack(_ROUTE_FRAMES[2]))
    payload = root.find(f"{{{expected_ns}}}Body")
    element = None if payload is None else next((c for c in payload if isinstance(c.tag, str)), None)
    ops = contract().operations
    by_body = None
    if element is not None and element.tag.startswith(f"{{{TEMPURI}}}"):
        by_body = element.tag[len(TEMPURI) + 2 :]
    if action:
        name = action[len(TEMPURI) :] if action.startswith(TEMPURI) else None
        if name not in ops:
            message = f"Server did not recognize the value of HTTP Header SOAPAction: {action}."
            raise Fault(True, _SOAP_EXC + message + _stack(*_ROUTE_FRAMES))
        if by_body != name:
            found = "nothing"
            if element is not None:
                qname = etree.QName(element)
                found = f"<{qname.localname} xmlns='{qname.namespace or ''}'>"
            message = (
                "Server was unable to read request. ---> System.InvalidOperationException: There is an error in "
                f"XML document (1, 1). ---> System.InvalidOperationException: {found} was not expected."
            )
            raise Fault(True, _SOAP_EXC + message + _stack(_READ_FRAME))
    else:
        if by_body not in ops:
            message = "Unable to handle request without a valid action parameter. Please supply a valid soap action."
            raise Fault(True, _SOAP_EXC + message + _stack(_ROUTE_FRAMES[0]))
        name = by_body
    assert element is not None and name is not None
    params: dict[str, str | None] = dict.fromkeys(ops[name])
    # out-of-namespace parameters arrive as null, unknown ones are ignored, the first of a repeat wins
    for child in element.iterchildren(_TEMPURI_ANY):
        local = child.tag[_TEMPURI_CUT:]
        if local in params and params[local] is None:
            params[local] = None if child.get(_XSI_NIL) in ("true", "1") else (child.text or "")
    return SoapCall(name, params)


def soap_action_from_content_type(content_type: str) -> str | None:
    """SOAP 1.2 carries the action as a parameter of the media type."""
    match = _ACTION.search(content_type)
    return match.group(1) if match else None


def render_soap_result(version: str, operation: str, result: str | None) -> Response:
    """200 with the one-line envelope; a null result element is omitted, an empty one self-closes."""
    if result is None:
        inner = ""
    elif result == "":
        inner = f"<{operation}Result />"
    else:
        inner = f"<{operation}Result>{escape(result)}</{operation}Result>"
    body = (
        f'{_DECL}{_ENV_OPEN[version]}<soap:Body><{operation}Response xmlns="{TEMPURI}">{inner}'
        f"</{operation}Response></soap:Body></soap:Envelope>"
    )
    return Response(200, XML_UTF8 if version == "soap11" else SOAP12_UTF8, body.encode())


def render_fault(version: str, fault: Fault) -> Response:
    """HTTP 500 with an ASMX fault envelope (1.1 faultcode/faultstring, 1.2 Code/Reason)."""
    text = escape(fault.message)
    if version == "soap11":
        code = "soap:Client" if fault.client else "soap:Server"
        inner = f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{text}</faultstring><detail /></soap:Fault>"
        ctype = XML_UTF8
    else:
        code = "soap:Sender" if fault.client else "soap:Receiver"
        inner = (
            f"<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>"
            f'<soap:Text xml:lang="en">{text}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>'
        )
        ctype = SOAP12_UTF8
    body = f"{_DECL}{_ENV_OPEN[version]}<soap:Body>{inner}</soap:Body></soap:Envelope>"
    return Response(500, ctype, body.encode())


def server_fault(version: str, exc: BaseException) -> Response:
    """An exception inside the method: soap:Server / soap:Receiver."""
    return render_fault(
        version,
        Fault(
            False,
            "System.Web.Services.Protocols.SoapException: Server was unable to "
            f"process request. ---> System.Exception: {type(exc).__name__}: {exc}",
        ),
    )


def url_decode(data: bytes) -> str:
    """ASP.NET's ``HttpUtility.UrlDecode`` over UTF-8, as it reads form bodies and query strings: ``+`` is a
    space, ``%XX`` a UTF-8 byte, ``%uXXXX`` (lower-case ``u`` only) a UTF-16 code unit, as .NET's wsdl.exe
    HTTP proxies and JavaScript's ``escape()`` send non-ASCII text; a malformed escape stays as written."""
    data = data.replace(b"+", b" ")
    if b"%u" not in data:
        return unquote_to_bytes(data).decode("utf-8", "replace")
    pieces = _PERCENT_U.split(data)  # text, code unit, text, code unit, ..., text
    text = "".join(
        chr(int(piece, 16)) if odd else unquote_to_bytes(piece).decode("utf-8", "replace")
        for odd, piece in zip(itertools.cycle((False, True)), pieces, strict=False)
    )
    # pairs of %u surrogates make one character; a lone one is what .NET writes out as U+FFFD
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_form(data: bytes) -> dict[str, str]:
    """Fields of a form body or query string as ASP.NET's ``HttpValueCollection`` holds them: names match
    without regard to case, a repeated name's values are joined with commas (what ``collection[name]``
    returns), and a segment without ``=`` has no name. Keys are lower-cased."""
    values: dict[str, list[str]] = {}
    for segment in data.split(b"&"):
        name, equals, value = segment.partition(b"=")
        if equals:
            values.setdefault(url_decode(name).lower(), []).append(url_decode(value))
    return {name: ",".join(found) for name, found in values.items()}


def decode_form(operation: str, query: str | bytes, body: bytes | None) -> dict[str, str | None]:
    """Parameters of an HTTP GET (query) or POST (form body) call; a missing declared one is an error.

    ``query`` as it came on the request line (a str is taken as its latin-1 bytes, as the server decoded it).
    """
    if body is None:
        body = query.encode("latin-1", "replace") if isinstance(query, str) else query
    fields = parse_form(body)
    params: dict[str, str | None] = {}
    for name in contract().operations[operation]:
        value = fields.get(name.lower())
        if value is None:
            raise LookupError(name)
        params[name] = value
    return params


def render_form_result(result: str | None) -> Response:
    """The HTTP binding answer: ``<string xmlns="http://tempuri.org/">value</string>``."""
    if result is None:
        body = f'{_DECL}\r\n<string xsi:nil="true" xmlns:xsi="{_XSI}" xmlns="{TEMPURI}" />'
    else:
        body = f'{_DECL}\r\n<string xmlns="{TEMPURI}">{escape(result)}</string>'
    return Response(200, XML_UTF8, body.encode())


def render_form_error(message: str, *frames: str) -> Response:
    """ASMX's plain-text 500 for HTTP binding errors (missing parameter, unknown operation)."""
    return Response(
        500,
        TEXT_UTF8,
        ("System.InvalidOperationException: " + message + _stack(*frames, newline="\r\n") + "\r\n").encode(),
    )


def missing_parameter(name: str) -> Response:
    return render_form_error(
        f"Missing parameter: {name}.",
        "System.Web.Services.Protocols.ValueCollectionParameterReader.Read(NameValueCollection collection)",
        "System.Web.Services.Protocols.UrlParameterReader.Read(HttpRequest request)",
        "System.Web.Services.Protocols.HttpServerProtocol.ReadParameters()",
        "System.Web.Services.Protocols.WebServiceHandler.CoreProcessRequest()",
    )


def unknown_operation(name: str) -> Response:
    return render_form_error(
        f"Request format is unrecognized for URL unexpectedly ending in '/{name}'.",
        "System.Web.Services.Protocols.WebServiceHandlerFactory.CoreGetHandler(Type type, HttpContext context, "
        "HttpRequest request, HttpResponse response)",
        "System.Web.Services.Protocols.WebServiceHandlerFactory.GetHandler(HttpContext context, String verb, "
        "String url, String filePath)",
    )


def render_html_error(status: int) -> Response:
    """An IIS-style HTML error page (what a 500/503 from the front end looks like)."""
    reason = {
        500: "Internal Server Error",
        503: "Service Unavailable",
        404: "Not Found",
        413: "Request Entity Too Large",
    }.get(status, "Error")
    body = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
        f'\r\n<html><head><title>{status} - {reason}</title></head><body><div id="header"><h1>Server Error'
        f'</h1></div><div id="content"><h2>{status} - {reason}.</h2></div></body></html>\r\n'
    )
    return Response(status, HTML_UTF8, body.encode())
