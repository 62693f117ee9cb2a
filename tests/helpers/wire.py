"""Plain-HTTP helpers for tests that check bytes on the wire (no client library in between)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"


@dataclass
class Answer:
    status: int
    content_type: str | None
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, resp.getheader("Content-Type"), data, {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def envelope(
    operation: str, params: dict[str, str], version: str = "soap11", param_ns: str = "http://tempuri.org/"
) -> bytes:
    ns = SOAP11_NS if version == "soap11" else SOAP12_NS
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in params.items())
    if param_ns != "http://tempuri.org/":
        inner = "".join(f'<p:{k} xmlns:p="{param_ns}">{escape(v)}</p:{k}>' for k, v in params.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>'
        f'<{operation} xmlns="http://tempuri.org/">{inner}</{operation}></soap:Body></soap:Envelope>'
    ).encode()


def soap11(url: str, operation: str, params: dict[str, str], action: str | None = "default") -> Answer:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action == "default":
        headers["SOAPAction"] = f'"http://tempuri.org/{operation}"'
    elif action is not None:
        headers["SOAPAction"] = action
    return request(url, "POST", urlsplit(url).path, envelope(operation, params), headers)


def soap12(url: str, operation: str, params: dict[str, str]) -> Answer:
    ctype = f'application/soap+xml; charset=utf-8; action="http://tempuri.org/{operation}"'
    return request(url, "POST", urlsplit(url).path, envelope(operation, params, "soap12"), {"Content-Type": ctype})


def form_post(url: str, operation: str, params: dict[str, str]) -> Answer:
    return request(
        url,
        "POST",
        f"{urlsplit(url).path}/{operation}",
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def form_get(url: str, operation: str, params: dict[str, str]) -> Answer:
    return request(url, "GET", f"{urlsplit(url).path}/{operation}?{urlencode(params)}")


def answer_of(reply: Answer, operation: str) -> str | None:
    """The result string out of any of the four protocols' success bodies."""
    from lxml import etree

    root = etree.fromstring(reply.body)
    if root.tag == "{http://tempuri.org/}string":
        return None if root.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true" else (root.text or "")
    node = root.find(f".//{{http://tempuri.org/}}{operation}Result")
    return None if node is None else (node.text or "")


PROTOCOLS = {"soap11": soap11, "soap12": soap12, "http-post": form_post, "http-get": form_get}


def call(protocol: str, url: str, operation: str, params: dict[str, str]) -> str | None:
    """Call ``operation`` over ``protocol`` and return its decoded answer (asserting a 200)."""
    reply = PROTOCOLS[protocol](url, operation, params)
    assert reply.status == 200, (reply.status, reply.body[:300])
    return answer_of(reply, operation)
