"""Form bodies and query strings are read as ASP.NET reads them: ``%uXXXX`` escapes, ``+``, UTF-8 ``%XX``,
names without case, repeated names joined with commas; a C# wsdl.exe proxy's Chinese text gets a message id."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import pytest
from helpers import wire

from winic_soap.mock import MockService, protocol

CRED = {"uid": "demo", "pwd": "demo-secret"}

URL_DECODE = [
    ("percent-u escapes and plus", b"%u9A8C%u8BC1%u7801+123456", "验证码 123456"),
    ("utf-8 escapes", b"%E9%AA%8C%E8%AF%81%E7%A0%81", "验证码"),
    ("mixed in one value", b"%E9%AA%8C%u8BC1%E7%A0%81+%u0031%32", "验证码 12"),
    ("upper and lower hex", b"%u9a8c%u9A8C", "验验"),
    ("surrogate pair", b"%uD83D%uDE00", "😀"),
    ("lone surrogate becomes U+FFFD", b"%uD83D+x", "\ufffd x"),
    ("escaped plus stays plus", b"1%2B1", "1+1"),
    ("short percent-u stays as written", b"%u12", "%u12"),
    ("upper-case U is not an escape", b"%U9A8C", "%U9A8C"),
    ("malformed percent stays", b"100%+%zz", "100% %zz"),
    ("raw utf-8 bytes", "短信".encode(), "短信"),
    ("invalid utf-8 is replaced", b"%FF", "\ufffd"),
    ("empty", b"", ""),
]


@pytest.mark.parametrize(("why", "raw", "text"), URL_DECODE, ids=[c[0] for c in URL_DECODE])
def test_url_decode_as_aspnet(why: str, raw: bytes, text: str) -> None:
    assert protocol.url_decode(raw) == text


FORMS = [
    ("plain", b"uid=demo&pwd=x", {"uid": "demo", "pwd": "x"}),
    ("names without case", b"UID=demo&Pwd=x", {"uid": "demo", "pwd": "x"}),
    ("repeated names joined", b"tos=1&tos=2&TOS=3", {"tos": "1,2,3"}),
    ("segment without = has no name", b"WSDL&uid=a", {"uid": "a"}),
    ("empty value", b"otime=", {"otime": ""}),
    ("escaped name", b"%75id=a", {"uid": "a"}),
    ("empty segments", b"&&uid=a&", {"uid": "a"}),
]


@pytest.mark.parametrize(("why", "raw", "fields"), FORMS, ids=[c[0] for c in FORMS])
def test_parse_form_as_aspnet(why: str, raw: bytes, fields: dict[str, str]) -> None:
    assert protocol.parse_form(raw) == fields


def _raw_exchange(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


WSDL_EXE_HEADERS = (
    b"User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client Protocol 4.0.30319.42000)\r\n"
    b"Host: service2.winic.org\r\n"
)
MESSAGE = b"msg=%u9A8C%u8BC1%u7801+123456%uFF0C5%u5206%u949F%u5185%u6709%u6548"


def test_wsdl_exe_http_post_proxy_with_chinese_text_gets_a_message_id(winic_mock: MockService) -> None:
    body = b"uid=demo&pwd=demo-secret&tos=13800138000&" + MESSAGE + b"&otime="
    request = (
        b"POST /Service.asmx/SendMessages HTTP/1.1\r\n" + WSDL_EXE_HEADERS + b"Content-Type: application/x-www-form-"
        b"urlencoded\r\nContent-Length: " + str(len(body)).encode() + b"\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\n\r\n" + body
    )
    answer = _raw_exchange(winic_mock.url, request)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert re.search(rb'<string xmlns="http://tempuri.org/">\d{16}</string>$', answer)
    assert winic_mock.state.sends[0].text == "验证码 123456，5分钟内有效"


def test_wsdl_exe_http_get_proxy_with_chinese_text_gets_a_message_id(winic_mock: MockService) -> None:
    query = b"uid=demo&pwd=demo-secret&tos=13800138000&" + MESSAGE + b"&otime="
    request = (
        b"GET /Service.asmx/SendMessages?" + query + b" HTTP/1.1\r\n" + WSDL_EXE_HEADERS + b"Connection: close\r\n\r\n"
    )
    answer = _raw_exchange(winic_mock.url, request)
    assert re.search(rb'<string xmlns="http://tempuri.org/">\d{16}</string>$', answer)
    assert winic_mock.state.sends[0].text == "验证码 123456，5分钟内有效"


def test_parameter_names_match_without_case_over_http_get(winic_mock: MockService) -> None:
    reply = wire.request(winic_mock.url, "GET", "/Service.asmx/GetUserInfo?UID=demo&PWD=demo-secret")
    assert (wire.answer_of(reply, "GetUserInfo") or "").startswith("000/demo/")


def test_repeated_recipients_are_joined_as_aspnet_does() -> None:
    with MockService() as mock:
        fields = "uid=demo&pwd=demo-secret&tos=13800138000&tos=13900139000&msg=hi&otime="
        reply = wire.request(mock.url, "GET", f"/Service.asmx/SendMessages?{fields}")
        assert re.fullmatch(r"\d{16}", wire.answer_of(reply, "SendMessages") or "")
        assert mock.state.sends[0].recipients == ("13800138000", "13900139000")


def test_expect_continue_is_not_sent_for_a_refused_body() -> None:
    with MockService(max_body=10) as mock:
        answer = _raw_exchange(
            mock.url,
            b"POST /Service.asmx/GetUserInfo HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413 ")
