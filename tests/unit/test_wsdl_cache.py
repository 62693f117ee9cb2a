"""The packaged WSDL: generated from its table, described by its provenance note, shipped in the wheel,
and loaded by zeep offline with every port callable."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import warnings
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
import zeep
from lxml import etree

from winic_soap.mock import MockService
from winic_soap.resources import packaged_wsdl_bytes, packaged_wsdl_path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = [
    "SendMessages",
    "SendMessages_Ext",
    "SendInternationalMessages",
    "GET_SMS_MO",
    "GET_SMS_MO_Ext",
    "SMS_Reports",
    "GetUserInfo",
    "RegineUser_",
    "EditUserPwd",
]
EVIDENCED = ["RegineUser", "GetUserInfo_", "GetMessageRecord", "GetMessageInfo", "GET_MSP_MO"]
PORTS = ["Service1Soap", "Service1Soap12", "Service1HttpGet", "Service1HttpPost"]


def _generator() -> ModuleType:
    """tools/build_wsdl.py, the generator of the packaged WSDL, loaded as a module."""
    spec = importlib.util.spec_from_file_location("build_wsdl", ROOT / "tools" / "build_wsdl.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_file_is_the_generator_output() -> None:
    assert packaged_wsdl_bytes() == _generator().render().encode("utf-8")


def test_provenance_note_names_the_sha256() -> None:
    note = (ROOT / "wsdl_cache" / "PROVENANCE.md").read_text(encoding="utf-8")
    assert hashlib.sha256(packaged_wsdl_bytes()).hexdigest() in note
    assert "Reconstructed" in note


def test_asmx_layout() -> None:
    tree = etree.fromstring(packaged_wsdl_bytes())
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "s": "http://www.w3.org/2001/XMLSchema"}
    assert tree.get("targetNamespace") == "http://tempuri.org/"
    assert [p.get("name") for p in tree.iterfind("w:service/w:port", ns)] == PORTS
    service = tree.find("w:service", ns)
    assert service is not None and service.get("name") == "Service1"
    assert [p.get("name") for p in tree.iterfind("w:portType", ns)] == [
        "Service1Soap",
        "Service1HttpGet",
        "Service1HttpPost",
    ]
    schema = tree.find("w:types/s:schema", ns)
    assert schema is not None and schema.get("elementFormDefault") == "qualified"
    string = schema.find("s:element[@name='string']", ns)
    assert string is not None and string.get("nillable") == "true" and string.get("type") == "s:string"
    text = packaged_wsdl_bytes().decode()
    for op in DOCUMENTED + EVIDENCED:
        for suffix in ("SoapIn", "SoapOut", "HttpGetIn", "HttpGetOut", "HttpPostIn", "HttpPostOut"):
            assert f'<wsdl:message name="{op}{suffix}">' in text
        assert f'soapAction="http://tempuri.org/{op}" style="document"' in text
        assert f'<http:operation location="/{op}" />' in text
    assert text.count("<http:urlEncoded />") == text.count('<mime:content type="application/x-www-form-urlencoded" />')
    assert '<mime:mimeXml part="Body" />' in text
    assert re.search(r"<wsdl:part name=\"Body\" element=\"tns:string\" />", text)


@pytest.mark.parametrize("port", PORTS)
def test_zeep_loads_offline_without_warnings(port: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # zeep's, not pygal's: once the HTML report has imported pygal in this process (another test, in
        # any order under pytest-xdist), its import hook warns on every new import made here
        warnings.filterwarnings("ignore", r"PluginImportFixer\.find_spec\(\) not found", ImportWarning)
        client = zeep.Client(str(packaged_wsdl_path()))  # type: ignore[no-untyped-call]  # zeep is untyped
    binding = client.wsdl.services["Service1"].ports[port].binding
    assert set(DOCUMENTED + EVIDENCED) <= set(binding._operations)


@pytest.mark.parametrize("port", PORTS)
def test_zeep_calls_every_port_of_the_mock(winic_mock: MockService, port: str) -> None:
    client = zeep.Client(str(packaged_wsdl_path()))  # type: ignore[no-untyped-call]  # zeep is untyped
    address_service = client.create_service(f"{{http://tempuri.org/}}{port}", winic_mock.url)  # type: ignore[no-untyped-call]  # zeep is untyped
    assert address_service.GetUserInfo(uid="demo", pwd="demo-secret").startswith("000/demo/100.0000/")
    answer = address_service.SendMessages(uid="demo", pwd="demo-secret", tos="13800138000", msg="hi", otime="")
    assert re.fullmatch(r"\d{16}", answer)
    assert (
        winic_mock.ledger[-1].transport
        == {
            "Service1Soap": "soap11",
            "Service1Soap12": "soap12",
            "Service1HttpGet": "http-get",
            "Service1HttpPost": "http-post",
        }[port]
    )


def test_wheel_ships_the_wsdl_and_marker(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "winic_soap/wsdl_cache/Service.asmx.wsdl" in names
        assert "winic_soap/py.typed" in names
        assert archive.read("winic_soap/wsdl_cache/Service.asmx.wsdl") == packaged_wsdl_bytes()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        text = archive.read(entry_points).decode()
    assert "winic-soap = winic_soap.cli:main" in text
    assert "[pytest11]" in text


def test_installed_package_resolves_through_importlib_resources() -> None:
    path = packaged_wsdl_path()
    package_dir = Path(sys.modules["winic_soap"].__file__ or "").parent
    assert path in (package_dir / "wsdl_cache" / path.name, ROOT / "wsdl_cache" / path.name)
