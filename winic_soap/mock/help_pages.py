"""The HTML help pages ASP.NET serves for an ``.asmx`` on a browser's GET: the operation list
(``GET /Service.asmx``) and one operation's page (``GET /Service.asmx?op=NAME``) with its parameters, a test
form and sample SOAP 1.1, SOAP 1.2, HTTP GET and HTTP POST requests and answers, as ASP.NET lays them out.

An unknown ``op`` is answered 200 with a page saying the service has no such operation and linking back to
the list: the mock's choice, since no public trace shows what the live service sends (the spec is silent).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from winic_soap.mock import protocol

__all__ = ["render"]

SERVICE_NAME = "Service1"
_VALUE = '<font class="value">{}</font>'
_STYLE = (
    '<style type="text/css">BODY { color: #000000; background-color: white; font-family: Verdana; '
    "margin-left: 0px; margin-top: 0px; } #content { margin-left: 30px; font-size: .70em; padding-bottom: 2em; } "
    "A:link, A:visited { color: #336699; font-weight: bold; text-decoration: underline; } "
    ".heading1 { color: #ffffff; font-family: Tahoma; font-size: 26px; font-weight: normal; background-color: "
    "#003366; margin-top: 0px; margin-bottom: 0px; margin-left: -30px; padding-top: 10px; padding-bottom: 3px; "
    "padding-left: 15px; width: 105%; } pre { background-color: #e5e5cc; padding: 5px; font-family: Courier New; "
    "font-size: x-small; margin-top: -5px; border: 1px #f0f0e0 solid; white-space: pre-wrap; } "
    ".value { color: blue; font-weight: bold; } .intro { margin-left: -15px; }</style>"
)


def render(url: str, query: str) -> protocol.Response:
    """The help page a GET on the service path with ``query`` (not ``WSDL``) gets; ``url`` is the service
    address the request named (``http://host/Service.asmx``)."""
    operation = protocol.parse_form(query.encode("latin-1", "replace")).get("op")
    if operation is None:
        body = _service_page(url)
    elif operation in protocol.contract().operations:
        body = _operation_page(url, operation)
    else:
        body = _unknown_operation_page(url, operation)
    return protocol.Response(200, protocol.HTML_UTF8, body.encode("utf-8"))


def _split(url: str) -> tuple[str, str, str]:
    """Host, path and the page's own file name (links on the pages are relative to it)."""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    path = "/" + path
    return host, path, path.rsplit("/", 1)[-1]


def _page(path: str, content: str) -> str:
    title, disco = SERVICE_NAME, escape(f"{path}?disco")
    return (
        f'<html>\r\n\r\n    <head><link rel="alternate" type="text/xml" href="{disco}" />\r\n\r\n    {_STYLE}\r\n'
        f"\r\n    <title>\r\n\t{escape(title)} Web Service\r\n</title></head>\r\n\r\n  <body>\r\n\r\n"
        f'    <div id="content">\r\n\r\n      <p class="heading1">{escape(title)}</p><br>\r\n\r\n{content}'
        "\r\n    </div>\r\n\r\n  </body>\r\n</html>\r\n"
    )


@lru_cache(maxsize=16)
def _service_page(url: str) -> str:
    _host, path, page = _split(url)
    docs = protocol.contract().documentation
    items = []
    for name in sorted(protocol.contract().operations, key=str.casefold):
        doc = ""
        if name in docs:  # ASP.NET shows the wsdl:documentation under the link, when there is one
            doc = f"\r\n                <span>\r\n                  <br>{escape(docs[name])}\r\n                </span>"
        items.append(
            f'              <li>\r\n                <a href="{escape(page)}?op={escape(name)}">{escape(name)}</a>'
            f"{doc}\r\n              </li>\r\n              <p>\r\n"
        )
    content = (
        '      <span>\r\n          <p class="intro">The following operations are supported.  For a formal '
        f'definition, please review the <a href="{escape(page)}?WSDL">Service Description</a>. </p>\r\n'
        f"              <ul>\r\n{''.join(items)}              </ul>\r\n      </span>\r\n\r\n"
        f"      <span>\r\n      <hr>\r\n      <h3>This web service is using {protocol.TEMPURI} as its default "
        "namespace.</h3>\r\n      <h3>Recommendation: Change the default namespace before the XML Web service is "
        "made public.</h3>\r\n      </span>\r\n"
    )
    return _page(path, content)


@lru_cache(maxsize=64)
def _operation_page(url: str, operation: str) -> str:
    host, path, page = _split(url)
    params = protocol.contract().operations[operation]
    doc = protocol.contract().documentation.get(operation, "")
    rows = "".join(
        f'<tr>\r\n\t<td class="frmText" style="color: #000000; font-weight: normal;">{escape(p)}:</td>\r\n'
        f'\t<td><input class="frmInput" type="text" size="50" name="{escape(p)}"></td>\r\n</tr>\r\n'
        for p in params
    )
    form = (
        "          <h3>Test</h3>\r\n          To test the operation using the HTTP POST protocol, click the "
        f"'Invoke' button.\r\n          <form target=\"_blank\" action='{escape(url)}/{escape(operation)}' "
        'method="POST">\r\n            <table cellspacing="0" cellpadding="4" frame="box" bordercolor="#dcdcdc" '
        'rules="none" style="border-collapse: collapse;">\r\n<tr>\r\n\t<td class="frmHeader" background="#dcdcdc" '
        'style="border-right: 2px solid white;">Parameter</td>\r\n\t<td class="frmHeader" background="#dcdcdc">'
        f"Value</td>\r\n</tr>\r\n{rows}"
        '<tr>\r\n\t<td></td>\r\n\t<td align="right"> <input type="submit" value="Invoke" class="button"></td>\r\n'
        "</tr>\r\n            </table>\r\n          </form>\r\n"
    )
    samples = "".join(
        f"        <span>\r\n          <h3>{title}</h3>\r\n          <p>{intro}</p>\r\n"
        f"<pre>{request}</pre>\r\n\r\n<pre>{answer}</pre>\r\n        </span>\r\n"
        for title, intro, request, answer in _samples(host, path, operation, params)
    )
    content = (
        f'      <span>\r\n          <p class="intro">Click <a href="{escape(page)}">here</a> for a complete list '
        f"of operations.</p>\r\n          <h2>{escape(operation)}</h2>\r\n"
        f'          <p class="intro">{escape(doc)}</p>\r\n{form}\r\n{samples}      </span>\r\n'
    )
    return _page(path, content)


def _unknown_operation_page(url: str, operation: str) -> str:
    _host, path, page = _split(url)
    content = (
        f'      <span>\r\n          <p class="intro">Click <a href="{escape(page)}">here</a> for a complete list '
        f'of operations.</p>\r\n          <h2>{escape(operation)}</h2>\r\n          <p class="intro">'
        f"{SERVICE_NAME} has no operation named '{escape(operation)}'.</p>\r\n      </span>\r\n"
    )
    return _page(path, content)


def _samples(host: str, path: str, operation: str, params: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(title, intro, request, answer) per protocol; HTML-escaped, with placeholders in ``value`` fonts."""
    string, length = _VALUE.format("string"), _VALUE.format("length")
    placeholders = _VALUE.format("placeholders")
    intro = "The following is a sample {} request and response.  The {} shown need to be replaced with actual values."
    fields = "".join(f"      &lt;{p}&gt;{string}&lt;/{p}&gt;\r\n" for p in params)
    result = f"      &lt;{operation}Result&gt;{string}&lt;/{operation}Result&gt;\r\n"

    def envelope(prefix: str, ns: str, element: str, inner: str) -> str:
        return (
            '&lt;?xml version="1.0" encoding="utf-8"?&gt;\r\n'
            f'&lt;{prefix}:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:{prefix}="{ns}"&gt;\r\n'
            f'  &lt;{prefix}:Body&gt;\r\n    &lt;{element} xmlns="{protocol.TEMPURI}"&gt;\r\n{inner}'
            f"    &lt;/{element}&gt;\r\n  &lt;/{prefix}:Body&gt;\r\n&lt;/{prefix}:Envelope&gt;"
        )

    def answer(ctype: str, body: str) -> str:
        return f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n{body}"

    escaped_host, escaped_path = escape(host), escape(path)
    soap11 = (
        f"POST {escaped_path} HTTP/1.1\r\nHost: {escaped_host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f'Content-Length: {length}\r\nSOAPAction: "{protocol.TEMPURI}{operation}"\r\n\r\n'
        + envelope("soap", protocol.SOAP11, operation, fields)
    )
    soap12 = (
        f"POST {escaped_path} HTTP/1.1\r\nHost: {escaped_host}\r\nContent-Type: application/soap+xml; "
        f"charset=utf-8\r\nContent-Length: {length}\r\n\r\n" + envelope("soap12", protocol.SOAP12, operation, fields)
    )
    string_answer = (
        f'&lt;?xml version="1.0" encoding="utf-8"?&gt;\r\n&lt;string xmlns="{protocol.TEMPURI}"&gt;{string}'
        "&lt;/string&gt;"
    )
    query = "&amp;".join(f"{p}={string}" for p in params)
    http_get = f"GET {escaped_path}/{operation}{'?' + query if query else ''} HTTP/1.1\r\nHost: {escaped_host}\r\n"
    http_post = (
        f"POST {escaped_path}/{operation} HTTP/1.1\r\nHost: {escaped_host}\r\nContent-Type: "
        f"application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n{query}"
    )
    return [
        (
            "SOAP 1.1",
            intro.format("SOAP 1.1", placeholders),
            soap11,
            answer(protocol.XML_UTF8, envelope("soap", protocol.SOAP11, f"{operation}Response", result)),
        ),
        (
            "SOAP 1.2",
            intro.format("SOAP 1.2", placeholders),
            soap12,
            answer(protocol.SOAP12_UTF8, envelope("soap12", protocol.SOAP12, f"{operation}Response", result)),
        ),
        ("HTTP GET", intro.format("HTTP GET", placeholders), http_get, answer(protocol.XML_UTF8, string_answer)),
        ("HTTP POST", intro.format("HTTP POST", placeholders), http_post, answer(protocol.XML_UTF8, string_answer)),
    ]
