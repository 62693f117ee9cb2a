"""Rebuild ``wsdl_cache/Service.asmx.wsdl`` from the operation table below.

The live WSDL is not public: this table is what the evidence in ``shared/spec/README.md`` shows
(documented operations, then the ones public clients of the live service call). The output is
laid out exactly as ASP.NET ASMX 2.0 emits a WSDL, so zeep sees what it would see live.

Run ``python tools/build_wsdl.py`` after editing the table; ``tests/unit/test_wsdl_cache.py`` checks the
shipped files are this script's output. Beside the WSDL it writes zeep's introspection of it
(``Service.asmx.wsdl.contract.json``), which clients read at start-up instead of importing zeep.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "wsdl_cache" / "Service.asmx.wsdl"
ADDRESS = "http://service2.winic.org/Service.asmx"

CRED = ("uid", "pwd")
# (operation, parameters in order, documentation or "")
OPERATIONS: list[tuple[str, tuple[str, ...], str]] = [
    ("SendMessages", (*CRED, "tos", "msg", "otime"), "国内短信发送接口"),
    ("SendMessages_Ext", (*CRED, "tos", "msg", "otime", "extno"), "国内短信发送接口（支持扩展）"),
    ("SendInternationalMessages", (*CRED, "tos", "msg", "otime"), "国际短信发送接口"),
    ("GET_SMS_MO", (*CRED, "IDtype"), "上行回复获取接口"),
    ("GET_SMS_MO_Ext", CRED, "上行回复获取接口（带扩展）"),
    ("SMS_Reports", CRED, "下行报告获取接口"),
    ("GetUserInfo", CRED, "用户信息查询接口"),
    ("GetUserInfo_", CRED, "用户信息查询接口（带个人资料）"),
    ("RegineUser_", (*CRED, "agent_code", "co_name", "link_man", "mob"), "用户信息注册接口"),
    ("RegineUser", (*CRED, "agent_code", "co_name", "link_man", "mob"), ""),
    ("EditUserPwd", (*CRED, "newpwd"), "用户密码修改接口"),
    ("GetMessageRecord", (*CRED, "num", "StartDate", "EndDate", "isday"), ""),
    ("GetMessageInfo", ("snum",), ""),
    ("GET_MSP_MO", (*CRED, "IDtype"), ""),
    ("TelCall", (*CRED, "host_call", "caller"), ""),
    ("SendMMsTest", (), ""),
]

HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
    'xmlns:tm="http://microsoft.com/wsdl/mime/textMatching/" '
    'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:mime="http://schemas.xmlsoap.org/wsdl/mime/" xmlns:tns="http://tempuri.org/" '
    'xmlns:s="http://www.w3.org/2001/XMLSchema" '
    'xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" '
    'xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" targetNamespace="http://tempuri.org/" '
    'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">\n'
)


def _types() -> list[str]:
    out = ["  <wsdl:types>", '    <s:schema elementFormDefault="qualified" targetNamespace="http://tempuri.org/">']
    for name, params, _doc in OPERATIONS:
        out.append(f'      <s:element name="{name}">')
        if params:
            out += ["        <s:complexType>", "          <s:sequence>"]
            out += [f'            <s:element minOccurs="0" maxOccurs="1" name="{p}" type="s:string" />' for p in params]
            out += ["          </s:sequence>", "        </s:complexType>"]
        else:
            out.append("        <s:complexType />")
        out += [
            "      </s:element>",
            f'      <s:element name="{name}Response">',
            "        <s:complexType>",
            "          <s:sequence>",
            f'            <s:element minOccurs="0" maxOccurs="1" name="{name}Result" type="s:string" />',
            "          </s:sequence>",
            "        </s:complexType>",
            "      </s:element>",
        ]
    out += ['      <s:element name="string" nillable="true" type="s:string" />', "    </s:schema>", "  </wsdl:types>"]
    return out


def _messages() -> list[str]:
    out: list[str] = []
    for name, _params, _doc in OPERATIONS:
        out += [
            f'  <wsdl:message name="{name}SoapIn">',
            f'    <wsdl:part name="parameters" element="tns:{name}" />',
            "  </wsdl:message>",
            f'  <wsdl:message name="{name}SoapOut">',
            f'    <wsdl:part name="parameters" element="tns:{name}Response" />',
            "  </wsdl:message>",
        ]
    for verb in ("HttpGet", "HttpPost"):
        for name, params, _doc in OPERATIONS:
            out.append(f'  <wsdl:message name="{name}{verb}In">')
            out += [f'    <wsdl:part name="{p}" type="s:string" />' for p in params]
            out += [
                "  </wsdl:message>",
                f'  <wsdl:message name="{name}{verb}Out">',
                '    <wsdl:part name="Body" element="tns:string" />',
                "  </wsdl:message>",
            ]
    return out


def _port_types() -> list[str]:
    out: list[str] = []
    for port, suffix in (("Service1Soap", "Soap"), ("Service1HttpGet", "HttpGet"), ("Service1HttpPost", "HttpPost")):
        out.append(f'  <wsdl:portType name="{port}">')
        for name, _params, doc in OPERATIONS:
            out.append(f'    <wsdl:operation name="{name}">')
            if doc:
                out.append(
                    f'      <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">{doc}</wsdl:documentation>'
                )
            out += [
                f'      <wsdl:input message="tns:{name}{suffix}In" />',
                f'      <wsdl:output message="tns:{name}{suffix}Out" />',
                "    </wsdl:operation>",
            ]
        out.append("  </wsdl:portType>")
    return out


def _bindings() -> list[str]:
    out: list[str] = []
    for binding, prefix in (("Service1Soap", "soap"), ("Service1Soap12", "soap12")):
        out += [
            f'  <wsdl:binding name="{binding}" type="tns:Service1Soap">',
            f'    <{prefix}:binding transport="http://schemas.xmlsoap.org/soap/http" />',
        ]
        for name, _params, _doc in OPERATIONS:
            out += [
                f'    <wsdl:operation name="{name}">',
                f'      <{prefix}:operation soapAction="http://tempuri.org/{name}" style="document" />',
                "      <wsdl:input>",
                f'        <{prefix}:body use="literal" />',
                "      </wsdl:input>",
                "      <wsdl:output>",
                f'        <{prefix}:body use="literal" />',
                "      </wsdl:output>",
                "    </wsdl:operation>",
            ]
        out.append("  </wsdl:binding>")
    for binding, verb, body_in in (
        ("Service1HttpGet", "GET", "<http:urlEncoded />"),
        ("Service1HttpPost", "POST", '<mime:content type="application/x-www-form-urlencoded" />'),
    ):
        out += [f'  <wsdl:binding name="{binding}" type="tns:{binding}">', f'    <http:binding verb="{verb}" />']
        for name, _params, _doc in OPERATIONS:
            out += [
                f'    <wsdl:operation name="{name}">',
                f'      <http:operation location="/{name}" />',
                "      <wsdl:input>",
                f"        {body_in}",
                "      </wsdl:input>",
                "      <wsdl:output>",
                '        <mime:mimeXml part="Body" />',
                "      </wsdl:output>",
                "    </wsdl:operation>",
            ]
        out.append("  </wsdl:binding>")
    return out


def _service() -> list[str]:
    out = ['  <wsdl:service name="Service1">']
    for port, prefix in (
        ("Service1Soap", "soap"),
        ("Service1Soap12", "soap12"),
        ("Service1HttpGet", "http"),
        ("Service1HttpPost", "http"),
    ):
        out += [
            f'    <wsdl:port name="{port}" binding="tns:{port}">',
            f'      <{prefix}:address location="{ADDRESS}" />',
            "    </wsdl:port>",
        ]
    out.append("  </wsdl:service>")
    return out


def render() -> str:
    """The whole WSDL document, CRLF line ends as IIS serves it."""
    lines = _types() + _messages() + _port_types() + _bindings() + _service() + ["</wsdl:definitions>"]
    return (HEAD + "\n".join(lines)).replace("\n", "\r\n")


def contract_json(path: Path) -> str:
    """zeep's introspection of the WSDL at ``path``, as stored beside it for zeep-free start-up."""
    sys.path.insert(0, str(ROOT))
    from winic_soap.wsdl import load_contract

    return load_contract(str(path)).to_json()


def main() -> int:
    data = render().encode("utf-8")
    OUT.write_bytes(data)
    print(f"{OUT.relative_to(ROOT)}  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()}")
    contract = OUT.with_name(OUT.name + ".contract.json")
    contract.write_text(contract_json(OUT), encoding="utf-8")
    print(f"{contract.relative_to(ROOT)}  (zeep's introspection, read at client start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
