"""The mock speaks ASMX byte for byte: envelopes, content types, faults and error bodies (docs/protocol.md,
transports)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from helpers import wire
from lxml import etree

from winic_soap.mock import MockService

CRED = {"uid": "demo", "pwd": "demo-secret"}
SEND = {**CRED, "tos": "13800138000", "msg": "hello", "otime": ""}


def test_soap11_success_is_the_exact_one_line_envelope(winic_mock: MockService) -> None:
    reply = wire.soap11(winic_mock.url, "GetUserInfo", CRED)
    assert reply.status == 200
    assert reply.content_type == "text/xml; charset=utf-8"
    assert reply.text == (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        '<soap:Body><GetUserInfoResponse xmlns="http://tempuri.org/"><GetUserInfoResult>'
        "000/demo/100.0000/0.1000/70/【中正云通信】/0.2000/0.3000/0.3000/winic"
        "</GetUserInfoResult></GetUserInfoResponse></soap:Body></soap:Envelope>"
    )
    assert reply.headers["server"].startswith("Microsoft-IIS")
    assert int(reply.headers["content-length"]) == len(reply.body)


def test_soap12_success_uses_the_12_namespace_and_media_type(winic_mock: MockService) -> None:
    reply = wire.soap12(winic_mock.url, "SMS_Reports", CRED)
    assert reply.status == 200
    assert reply.content_type == "application/soap+xml; charset=utf-8"
    assert reply.text.startswith(
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
    )
    assert "<SMS_ReportsResult>null</SMS_ReportsResult>" in reply.text


@pytest.mark.parametrize("send", [wire.form_get, wire.form_post])
def test_http_binding_body(winic_mock: MockService, send: Callable[[str, str, dict[str, str]], wire.Answer]) -> None:
    reply = send(winic_mock.url, "GET_SMS_MO", {**CRED, "IDtype": ""})
    assert reply.status == 200
    assert reply.content_type == "text/xml; charset=utf-8"
    assert reply.text == '<?xml version="1.0" encoding="utf-8"?>\r\n<string xmlns="http://tempuri.org/">null</string>'


def test_http_binding_escapes_content(winic_mock: MockService) -> None:
    winic_mock.add_reply("13800138000", "a < b > c")
    reply = wire.form_post(winic_mock.url, "GET_SMS_MO_Ext", CRED)
    assert "a &lt; b &gt; c" in reply.text
    assert (wire.answer_of(reply, "GET_SMS_MO_Ext") or "").startswith("13800138000/a < b > c/001/")


def test_null_result_is_omitted_in_soap_and_nil_in_http(winic_mock: MockService) -> None:
    from winic_soap.mock import protocol

    soap = protocol.render_soap_result("soap11", "GetMessageInfo", None).body.decode()
    assert '<GetMessageInfoResponse xmlns="http://tempuri.org/"></GetMessageInfoResponse>' in soap
    empty = protocol.render_soap_result("soap11", "GetMessageInfo", "").body.decode()
    assert "<GetMessageInfoResult />" in empty
    http = protocol.render_form_result(None).body.decode()
    assert 'xsi:nil="true"' in http


def test_wsdl_is_served_with_the_mock_address(winic_mock: MockService) -> None:
    for query in ("WSDL", "wsdl"):
        reply = wire.request(winic_mock.url, "GET", f"/Service.asmx?{query}")
        assert reply.status == 200 and reply.content_type == "text/xml; charset=utf-8"
        locations = set(re.findall(r'location="(http[^"]*)"', reply.text))
        assert locations == {winic_mock.url}


@pytest.mark.parametrize("path", ["/service.asmx", "/SERVICE.ASMX", "/Service.asmx"])
def test_path_is_case_insensitive(winic_mock: MockService, path: str) -> None:
    reply = wire.request(
        winic_mock.url,
        "POST",
        path,
        wire.envelope("GetUserInfo", CRED),
        {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://tempuri.org/GetUserInfo"'},
    )
    assert reply.status == 200
    reply = wire.request(winic_mock.url, "GET", f"{path}/GetUserInfo?uid=demo&pwd=demo-secret")
    assert (wire.answer_of(reply, "GetUserInfo") or "").startswith("000/")


def test_soap11_without_soapaction_routes_by_body(winic_mock: MockService) -> None:
    reply = wire.soap11(winic_mock.url, "GetUserInfo", CRED, action=None)
    assert reply.status == 200 and "<GetUserInfoResult>000/demo/" in reply.text
    reply = wire.soap11(winic_mock.url, "GetUserInfo", CRED, action='""')
    assert reply.status == 200


def _fault(reply: wire.Answer, version: str) -> tuple[str, str]:
    root = etree.fromstring(reply.body)
    if version == "soap11":
        fault = root.find(f"{{{wire.SOAP11_NS}}}Body/{{{wire.SOAP11_NS}}}Fault")
        assert fault is not None, reply.text
        return fault.findtext("faultcode", ""), fault.findtext("faultstring", "")
    ns = wire.SOAP12_NS
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert fault is not None, reply.text
    return fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value", ""), fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text", "")


def test_unknown_soapaction_is_a_client_fault_with_stack(winic_mock: MockService) -> None:
    reply = wire.soap11(winic_mock.url, "GetUserInfo", CRED, action='"http://tempuri.org/Nope"')
    assert reply.status == 500 and reply.content_type == "text/xml; charset=utf-8"
    code, text = _fault(reply, "soap11")
    assert code == "soap:Client"
    assert "Server did not recognize the value of HTTP Header SOAPAction: http://tempuri.org/Nope." in text
    assert "\n   at System.Web.Services.Protocols." in text


def test_soap12_fault_uses_code_and_reason(winic_mock: MockService) -> None:
    body = wire.envelope("Nope", CRED, "soap12")
    reply = wire.request(
        winic_mock.url,
        "POST",
        "/Service.asmx",
        body,
        {"Content-Type": 'application/soap+xml; charset=utf-8; action="http://tempuri.org/Nope"'},
    )
    assert reply.status == 500 and reply.content_type == "application/soap+xml; charset=utf-8"
    code, text = _fault(reply, "soap12")
    assert code == "soap:Sender" and "did not recognize" in text


def test_body_not_matching_soapaction_is_a_client_fault(winic_mock: MockService) -> None:
    reply = wire.request(
        winic_mock.url,
        "POST",
        "/Service.asmx",
        wire.envelope("GetUserInfo", CRED),
        {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/SMS_Reports"'},
    )
    code, text = _fault(reply, "soap11")
    assert reply.status == 500 and code == "soap:Client" and "was not expected" in text


def test_exception_in_method_is_a_server_fault(winic_mock: MockService, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> str:
        raise ValueError("disk on fire")

    monkeypatch.setattr(winic_mock.state, "call", boom)
    for version, expected in (("soap11", "soap:Server"), ("soap12", "soap:Receiver")):
        reply = (wire.soap11 if version == "soap11" else wire.soap12)(winic_mock.url, "GetUserInfo", CRED)
        code, text = _fault(reply, version)
        assert reply.status == 500 and code == expected
        assert text.startswith("System.Web.Services.Protocols.SoapException: Server was unable to process request.")


@pytest.mark.parametrize("body", [b"<not xml", b"", b"<a><b></a>"])
def test_malformed_xml_is_400_with_empty_body(winic_mock: MockService, body: bytes) -> None:
    reply = wire.request(
        winic_mock.url,
        "POST",
        "/Service.asmx",
        body,
        {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/GetUserInfo"'},
    )
    assert (reply.status, reply.body) == (400, b"")


@pytest.mark.parametrize("send", [wire.form_get, wire.form_post])
def test_missing_parameter_is_500_text(
    winic_mock: MockService, send: Callable[[str, str, dict[str, str]], wire.Answer]
) -> None:
    reply = send(winic_mock.url, "SendMessages", {"uid": "demo", "pwd": "x", "tos": "1", "msg": "m"})
    assert reply.status == 500 and (reply.content_type or "").startswith("text/plain")
    assert reply.text.startswith("System.InvalidOperationException: Missing parameter: otime.\r\n   at ")
    assert winic_mock.ledger == []


def test_unknown_operation_is_500_text(winic_mock: MockService) -> None:
    reply = wire.form_post(winic_mock.url, "SendFax", CRED)
    assert reply.status == 500
    assert "Request format is unrecognized for URL unexpectedly ending in '/SendFax'." in reply.text


def test_extra_fields_are_ignored(winic_mock: MockService) -> None:
    assert (wire.call("http-post", winic_mock.url, "GetUserInfo", {**CRED, "extra": "1"}) or "").startswith("000/")
    assert (wire.call("soap11", winic_mock.url, "GetUserInfo", {**CRED, "extra": "1"}) or "").startswith("000/")


def test_parameter_outside_tempuri_namespace_arrives_as_null(winic_mock: MockService) -> None:
    body = wire.envelope("GetUserInfo", CRED, param_ns="urn:other")
    reply = wire.request(
        winic_mock.url,
        "POST",
        "/Service.asmx",
        body,
        {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/GetUserInfo"'},
    )
    assert wire.answer_of(reply, "GetUserInfo") == "-14"
    assert winic_mock.ledger[-1].params == {"uid": None, "pwd": None}


def test_out_of_order_children_are_accepted(winic_mock: MockService) -> None:
    assert (wire.call("soap11", winic_mock.url, "GetUserInfo", {"pwd": "demo-secret", "uid": "demo"}) or "").startswith(
        "000"
    )


def test_keep_alive_serves_many_requests_on_one_connection(winic_mock: MockService) -> None:
    import http.client

    parts = urlsplit(winic_mock.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    for _ in range(20):
        conn.request("GET", "/Service.asmx/GetUserInfo?uid=demo&pwd=demo-secret")
        assert conn.getresponse().read().startswith(b"<?xml")
    conn.close()
    assert winic_mock.connections_total == 1


def test_unknown_path_is_404_html(winic_mock: MockService) -> None:
    reply = wire.request(winic_mock.url, "GET", "/nothing")
    assert reply.status == 404 and (reply.content_type or "").startswith("text/html")
