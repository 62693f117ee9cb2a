"""A browser's GET on the service gets ASP.NET's help pages: the operation list and one page per operation."""

from __future__ import annotations

import re

import pytest
from helpers import wire
from lxml import html

from winic_soap.mock import MockService, protocol

OPERATIONS = list(protocol.contract().operations)


def _string(page: html.HtmlElement, path: str) -> str:
    """XPath's ``string(path)`` on ``page``: the text of the first node ``path`` selects."""
    value = page.xpath(f"string({path})")
    assert isinstance(value, str)
    return value


def test_service_page_lists_every_operation_sorted_with_its_description(winic_mock: MockService) -> None:
    reply = wire.request(winic_mock.url, "GET", "/Service.asmx")
    assert (reply.status, reply.content_type) == (200, "text/html; charset=utf-8")
    page = html.fromstring(reply.text)
    links = [(a.text, a.get("href")) for a in page.iterfind(".//li/a")]
    assert links == [(name, f"Service.asmx?op={name}") for name in sorted(OPERATIONS, key=str.casefold)]
    assert page.findtext(".//title", "").strip() == "Service1 Web Service"
    assert page.xpath("//a[@href='Service.asmx?WSDL']")
    assert "国内短信发送接口" in _string(page, "//li[a='SendMessages']")
    assert "This web service is using http://tempuri.org/ as its default namespace." in reply.text


@pytest.mark.parametrize("operation", OPERATIONS)
def test_operation_page_shows_parameters_and_four_samples(winic_mock: MockService, operation: str) -> None:
    reply = wire.request(winic_mock.url, "GET", f"/Service.asmx?op={operation}", headers={"Host": "sms.example"})
    assert (reply.status, reply.content_type) == (200, "text/html; charset=utf-8")
    page = html.fromstring(reply.text)
    assert page.findtext(".//h2") == operation
    params = protocol.contract().operations[operation]
    assert [i.get("name") for i in page.iterfind(".//form//input[@type='text']")] == list(params)
    form = page.find(".//form")
    assert form is not None
    assert form.get("action") == f"http://sms.example/Service.asmx/{operation}"
    assert [h.text for h in page.iterfind(".//span/h3")] == ["Test", "SOAP 1.1", "SOAP 1.2", "HTTP GET", "HTTP POST"]
    samples = [
        pre.text_content() for pre in page.iterfind(".//pre") if isinstance(pre, html.HtmlElement)
    ]  # the parser turns CRLF into LF
    assert len(samples) == 8  # a request and an answer each
    soap11, _, soap12, _, http_get, _, http_post, _ = samples
    assert soap11.startswith("POST /Service.asmx HTTP/1.1\nHost: sms.example\nContent-Type: text/xml")
    assert f'SOAPAction: "http://tempuri.org/{operation}"' in soap11
    assert "Content-Type: application/soap+xml; charset=utf-8" in soap12 and "SOAPAction" not in soap12
    query = "&".join(f"{p}=string" for p in params)
    assert http_get.startswith(f"GET /Service.asmx/{operation}{'?' + query if params else ''} HTTP/1.1")
    assert http_post.endswith(f"\n\n{query}")
    for name in params:
        assert f"<{name}>string</{name}>" in soap11 and f"<{name}>string</{name}>" in soap12
    assert f"<{operation}Result>string</{operation}Result>" in samples[1]
    assert '<string xmlns="http://tempuri.org/">string</string>' in samples[5]


def test_operation_page_shows_its_documentation(winic_mock: MockService) -> None:
    page = html.fromstring(wire.request(winic_mock.url, "GET", "/Service.asmx?op=SMS_Reports").text)
    assert "下行报告获取接口" in _string(page, "//p[@class='intro'][2]")


@pytest.mark.parametrize("query", ["op=Nope", "OP=Nope", "op=%3Cscript%3Ealert(1)%3C/script%3E"])
def test_unknown_operation_page_says_so_and_links_back(winic_mock: MockService, query: str) -> None:
    reply = wire.request(winic_mock.url, "GET", f"/Service.asmx?{query}")
    assert (reply.status, reply.content_type) == (200, "text/html; charset=utf-8")
    assert "<script>" not in reply.text
    page = html.fromstring(reply.text)
    assert re.fullmatch(r"Service1 has no operation named '.+'\.", _string(page, "//p[@class='intro'][2]"))
    assert page.xpath("//a[@href='Service.asmx']")
    assert winic_mock.ledger == []


def test_help_pages_do_not_shadow_the_wsdl_or_soap(winic_mock: MockService) -> None:
    assert wire.request(winic_mock.url, "GET", "/Service.asmx?wsdl").text.startswith("<?xml")
    assert (wire.call("soap11", winic_mock.url, "GetUserInfo", {"uid": "demo", "pwd": "demo-secret"}) or "").startswith(
        "000"
    )
    assert wire.request(winic_mock.url, "PUT", "/Service.asmx").status == 404
