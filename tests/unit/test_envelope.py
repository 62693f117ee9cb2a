"""The SOAP fast path is zeep, only quicker: the same request bytes and headers zeep produces, the same
reading of answers, zeep itself for faults, and no zeep import until one is met."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import zeep
from helpers.shared import MakeClient
from lxml import etree
from zeep.wsdl.utils import etree_to_string

from winic_soap import ProtocolError, SoapFaultError
from winic_soap.core.contract import load_packaged_contract, packaged_contract_path
from winic_soap.core.envelope import render_request
from winic_soap.mock import MockService, protocol
from winic_soap.resources import packaged_wsdl_path

ROOT = Path(__file__).resolve().parents[2]
VALUES = [
    "plain",
    "",
    "a & b < c > d 'q' \"dq\"",
    "验证码 123456【公司】",
    "line\nbreak\ttab",
    "  spaced  ",
    "windows\r\nlines\rand a lone CR",
]


def _c14n(data: bytes) -> bytes:
    return etree.tostring(etree.fromstring(data), method="c14n")


@pytest.fixture(scope="module")
def zeep_client() -> zeep.Client:
    return zeep.Client(str(packaged_wsdl_path()))  # type: ignore[no-untyped-call]  # zeep is untyped


def test_stored_contract_is_zeeps_introspection() -> None:
    spec = importlib.util.spec_from_file_location("build_wsdl", ROOT / "tools" / "build_wsdl.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert packaged_contract_path().read_text(encoding="utf-8") == module.contract_json(packaged_wsdl_path())
    contract = load_packaged_contract()
    assert contract is not None and all(op.simple for op in contract.operations.values())


@pytest.mark.parametrize("version", ["soap11", "soap12"])
def test_requests_are_zeeps_bytes_and_headers(zeep_client: zeep.Client, version: str) -> None:
    contract = load_packaged_contract()
    assert contract is not None
    qname = "{http://tempuri.org/}Service1Soap" + ("12" if version == "soap12" else "")
    binding = zeep_client.wsdl.bindings[qname]
    service = zeep_client.create_service(qname, "http://127.0.0.1:9/Service.asmx")  # type: ignore[no-untyped-call]  # zeep is untyped
    for op in contract.operations.values():
        for index, value in enumerate(VALUES):
            params = {name: (None if (i + index) % 4 == 3 else value) for i, name in enumerate(op.parameters)}
            ours, headers = render_request(op, version, params)
            theirs = zeep_client.create_message(service, op.name, **params)  # type: ignore[no-untyped-call]  # zeep is untyped
            assert _c14n(ours) == etree.tostring(theirs, method="c14n"), (op.name, params)
            # the very bytes zeep puts on the wire
            assert ours == etree_to_string(theirs), (op.name, params)  # type: ignore[no-untyped-call]  # zeep is untyped
            # zeep's own (private) request builder: the headers it would send
            _, zeep_headers = binding._create(  # type: ignore[attr-defined]  # not in zeep's Binding base class
                op.name, (), params, client=zeep_client, options={"address": "http://127.0.0.1:9/Service.asmx"}
            )
            assert headers == dict(zeep_headers), op.name


def test_control_characters_are_refused_before_the_wire(make_client: MakeClient, winic_mock: MockService) -> None:
    from winic_soap import InputError

    with pytest.raises(InputError, match="control character") as caught:
        make_client().send("13800138000", "bell \x07")
    assert caught.value.field == "text" and winic_mock.ledger == []


ANSWERS = [
    ("text", "0106120218011881"),
    ("escaped", "a &amp; b &lt;c&gt;"),
    ("unicode", "13580305095/收到/001/2015-10-8 12:06:56|"),
    ("empty", None),
    ("nil", "nil"),
    ("absent", "absent"),
]


@pytest.mark.parametrize("version", ["soap11", "soap12"])
@pytest.mark.parametrize(("why", "inner"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_answers_read_like_zeep(  # noqa: PLR0917
    make_client: MakeClient,
    winic_mock: MockService,
    zeep_client: zeep.Client,
    version: str,
    why: str,
    inner: str | None,
) -> None:
    env = (
        "http://schemas.xmlsoap.org/soap/envelope/"
        if version == "soap11"
        else "http://www.w3.org/2003/05/soap-envelope"
    )
    if inner == "nil":
        result = '<GetMessageInfoResult xsi:nil="true" />'
    elif inner == "absent":
        result = ""
    elif inner is None:
        result = "<GetMessageInfoResult />"
    else:
        result = f"<GetMessageInfoResult>{inner}</GetMessageInfoResult>"
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        f'<GetMessageInfoResponse xmlns="http://tempuri.org/">{result}</GetMessageInfoResponse>'
        "</soap:Body></soap:Envelope>"
    )
    ctype = "text/xml; charset=utf-8" if version == "soap11" else "application/soap+xml; charset=utf-8"
    winic_mock.fail("reply", body=body, content_type=ctype, times=2)
    ours = make_client(version).call("GetMessageInfo", snum="1")
    qname = "{http://tempuri.org/}Service1Soap" + ("12" if version == "soap12" else "")
    theirs = zeep_client.create_service(qname, winic_mock.url).GetMessageInfo(snum="1")  # type: ignore[no-untyped-call]  # zeep is untyped
    assert ours == theirs or (ours in ("", None) and theirs in ("", None))


@pytest.mark.parametrize("version", ["soap11", "soap12"])
def test_faults_go_through_zeep(make_client: MakeClient, winic_mock: MockService, version: str) -> None:
    fault = protocol.render_fault(version, protocol.Fault(True, "Server did not recognize the value\n   at X.Y()"))
    winic_mock.fail("reply", status=500, body=fault.body, content_type=fault.content_type or "")
    with pytest.raises(SoapFaultError) as caught:
        make_client(version).account()
    assert caught.value.fault_code.endswith(("Client", "Sender")) and caught.value.processed is False
    assert "at X.Y" not in str(caught.value)  # the .NET stack trace is not carried into our message


def test_unexpected_element_is_a_protocol_error(make_client: MakeClient, winic_mock: MockService) -> None:
    body = (
        '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soap:Body><Other xmlns='urn:x'/></soap:Body></soap:Envelope>"
    )
    winic_mock.fail("reply", body=body, times=None)
    with pytest.raises(ProtocolError):
        make_client().account()


def _imports_after(url: str, fault: str | None) -> dict[str, bool]:
    code = f"""
import json, sys
from winic_soap import WinicClient, WinicError
from winic_soap.mock import MockService
c = WinicClient("demo", "demo-secret", endpoint={url!r})
c.send("13800138000", "x"); c.account(); c.reports()
print(json.dumps({{m: m in sys.modules for m in ("zeep", "tenacity", "requests", "sqlite3")}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded: dict[str, bool] = json.loads(result.stdout)
    return loaded


def test_zeep_is_not_loaded_on_the_happy_path(winic_mock: MockService) -> None:
    # tenacity wraps every call to the wire, so it is loaded; zeep (90 ms) is not.
    assert _imports_after(winic_mock.url, None) == {
        "zeep": False,
        "tenacity": True,
        "requests": False,
        "sqlite3": False,
    }


def test_a_custom_wsdl_is_introspected_by_zeep(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.wsdl"
    copy.write_bytes(packaged_wsdl_path().read_bytes())
    client = make_client(wsdl=str(copy))
    assert client.account().uid == "demo"
    assert "zeep" in sys.modules
