"""What goes on the wire and what came back, as plain data, and the one decision about a failed answer:
could the service have acted on the request (``processed``)? The same rules hold for all four transports.

No I/O here: the shells (``client.py``, ``async_client.py``) move these objects through ``winic_soap.http``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from winic_soap.exceptions import HTTPStatusError, ProtocolError, WinicError

__all__ = ["Scrubber", "WireRequest", "WireResponse", "check_answer", "xml_bytes"]

# ASP.NET answers 500 text/plain both when it refused a request before the web method ran and when the
# method itself threw (a database pool timeout is also a System.InvalidOperationException). Only these
# exceptions, as the first line of the page, prove the former: anywhere else (a method's own exception
# quoting the request, an inner exception) the same words prove nothing.
_REFUSED_BEFORE_METHOD = re.compile(
    r"(?:System\.InvalidOperationException: )?(?:Missing parameter|Request format is (?:unrecognized|invalid))"
    r"|(?:System\.Web\.HttpRequestValidationException: )?A potentially dangerous Request\.\w+ value was detected",
)
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding=", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request as the core built it: method, absolute URL, headers, body."""

    method: str
    url: str = field(repr=False)  # HTTP GET carries the password in the query
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = field(default=None, repr=False)  # so does every other body


@dataclass(frozen=True, slots=True)
class WireResponse:
    """A complete answer: status, headers (looked up case-insensitively by the HTTP layer), decoded body."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def first_line(self, limit: int = 300) -> str:
        """The body's first line, for messages (a 500 text page's exception line)."""
        text = self.content[:4096].decode("utf-8", "replace").strip()
        return text.splitlines()[0][:limit] if text else ""


def xml_bytes(response: WireResponse) -> bytes:
    """The body for the XML parser. A charset given only in ``Content-Type`` is honoured (XML parsers
    read only the document's own declaration): such bodies are re-encoded to UTF-8."""
    match = _CHARSET.search(response.content_type)
    if match is None or match.group(1).lower().replace("_", "-") in ("utf-8", "utf8"):
        return response.content
    if _XML_DECLARATION.match(response.content):
        return response.content
    try:
        return response.content.decode(match.group(1)).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        raise ProtocolError(f"answer is not valid {match.group(1)} text", processed=None) from None


def check_answer(response: WireResponse, *, fault_status: bool) -> None:
    """Raise the typed error for an answer that is not the service's own XML answer.

    ``fault_status``: a 500 carrying XML is a SOAP fault (for zeep to read), not an error page.
    What each case proves about the service having acted on the request:

    - 3xx: redirects are not followed (a send re-posted elsewhere is a second send); the service never ran it.
    - 4xx: the front end refused the request: nothing was processed.
    - 500 ``text/plain``: refused before the web method only when the text says so (see above).
    - any other 5xx or non-XML answer: nobody can know.
    """
    ctype = response.content_type.lower()
    status = response.status
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        raise HTTPStatusError(
            status,
            f"HTTP {status} redirect to {location or '(no Location)'}; not followed, the service did not run it",
            processed=False,
            body=response.content,
            location=location,
        )
    if "xml" in ctype and (status == 200 or (fault_status and status == 500)):
        return
    if status == 200:
        raise ProtocolError(f"answer has content type {ctype or 'none'!r}, not XML", processed=None)
    if status == 500 and ctype.startswith("text/plain"):
        first = response.first_line()
        if _REFUSED_BEFORE_METHOD.match(first.lstrip("\ufeff")):
            raise HTTPStatusError(500, f"service refused the request: {first}", processed=False, body=response.content)
        raise HTTPStatusError(500, f"HTTP 500: {first}", processed=None, body=response.content)
    raise HTTPStatusError(
        status,
        f"HTTP {status} ({ctype or 'no content type'})",
        processed=False if 400 <= status < 500 else None,
        body=response.content,
    )


# ASP.NET request validation quotes only a window of the offending value (10 characters before the
# dangerous one, 20 after: ``pwd="...ng-secret-<Zebra-20..."``), which no form of the whole secret
# matches; its error page shows the same HTML-encoded, and IIS's detailed errors the URL with ``pwd=``.
# So whatever follows a secret parameter's name is masked, up to the end of the quote.
_ECHOES = (
    (re.compile(r'((?:new)?pwd=")[^\r\n]*(?="\))', re.IGNORECASE), r"\1***"),
    (re.compile(r"((?:new)?pwd=&quot;)[^\r\n]*(?=&quot;\))", re.IGNORECASE), r"\1***"),
    (re.compile(r"((?:new)?pwd=)[^&\s\"'<]+", re.IGNORECASE), r"\1***"),
)


class Scrubber:
    """Removes the client's secrets from text the server sent back (ASP.NET request validation echoes
    ``pwd="…"``; a fault or error page may quote the request) before it reaches an error or a log."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 2:
                # surrogatepass: a secret that cannot be encoded is refused later, as an InputError, by the
                # check that knows which field it is; building the scrubber must not fail first
                forms.update({secret, quote(secret, safe="", errors="surrogatepass")})
                forms.add(quote_plus(secret, safe="", errors="surrogatepass"))
                forms.update({secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")})
                forms.update({html.escape(secret), html.escape(secret).replace("&#x27;", "&apos;")})
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub("***", value)
        for pattern, replacement in _ECHOES:
            value = pattern.sub(replacement, value)
        return value

    def error(self, exc: WinicError) -> WinicError:
        """The same error with every server-sent text scrubbed (in place; returned for ``raise``)."""
        exc.args = tuple(self.text(a) if isinstance(a, str) else a for a in exc.args)
        for name in ("body", "raw"):
            value = getattr(exc, name, None)
            if isinstance(value, bytes):
                setattr(exc, name, self.text(value.decode("utf-8", "replace")).encode("utf-8"))
            elif isinstance(value, str):
                setattr(exc, name, self.text(value))
        if exc.__suppress_context__:
            # ``raise ... from None`` hides the foreign error we translated (zeep's Fault quoting the server's
            # text) from tracebacks, but it still rides along on ``__context__``: drop it
            exc.__context__ = None
        cause = getattr(exc, "cause", None) or getattr(exc, "error", None)
        if isinstance(cause, WinicError) and cause is not exc:
            self.error(cause)
        return exc
