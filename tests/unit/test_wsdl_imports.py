"""What a WSDL may load: ``winic-soap wsdl refresh``/``diff`` and the client apply one set of rules to a
hostile live WSDL served by a test server (imports only over HTTP(S) from its own host, bounded size, no
local path), and to a hostile local one (only regular files beside it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers.shared import cli_env

from winic_soap import ConfigurationError, WinicClient
from winic_soap.resources import packaged_wsdl_path
from winic_soap.wsdl import MAX_DOCUMENT_BYTES, MAX_DOCUMENTS

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
EMPTY = f'<wsdl:definitions xmlns:wsdl="{WSDL_NS}" targetNamespace="urn:extra"/>'.encode()


def with_import(location: str, kind: str = "wsdl") -> bytes:
    """The packaged WSDL with one ``wsdl:import`` (or ``xsd:import`` in its schema) of ``location``."""
    wsdl = packaged_wsdl_path().read_text(encoding="utf-8")
    if kind == "wsdl":
        head, sep, tail = wsdl.partition("<wsdl:types>")
        wsdl = f'{head}<wsdl:import namespace="urn:extra" location="{location}" />\n  {sep}{tail}'
    else:
        head, sep, tail = wsdl.partition('targetNamespace="http://tempuri.org/">')
        wsdl = f'{head}{sep}\n      <s:import namespace="urn:x" schemaLocation="{location}" />{tail}'
    return wsdl.encode()


class Documents:
    """A test server of documents by path, and the paths it was asked for."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.asked: list[str] = []
        documents = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                documents.asked.append(self.path)
                body = documents.pages.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def documents() -> Iterator[Documents]:
    served = Documents()
    try:
        yield served
    finally:
        served.close()


def refresh(url: str, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "winic_soap", "wsdl", *(extra or ("refresh", "--url", url))],
        env=cli_env("http://127.0.0.1:9/Service.asmx", home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


HOSTILE = {
    "file-url": (with_import("file:///etc/passwd"), "only http(s) URLs on 127.0.0.1"),
    "schema-file-url": (with_import("file:///etc/passwd", "xsd"), "only http(s) URLs on 127.0.0.1"),
    "other-host": (with_import("http://example.com/evil.wsdl"), "only http(s) URLs on 127.0.0.1"),
    "other-host-relative": (with_import("//localhost/evil.wsdl"), "only http(s) URLs on 127.0.0.1"),
    # an absolute path is resolved against the WSDL's URL: asked of the same server, never read locally
    "dev-zero": (with_import("/dev/zero"), f"larger than {MAX_DOCUMENT_BYTES} bytes"),
    "loop": (with_import("/loop.wsdl"), f"more than {MAX_DOCUMENTS} documents"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_refresh_refuses_a_hostile_live_wsdl(name: str, documents: Documents, tmp_path: Path) -> None:
    body, rule = HOSTILE[name]
    documents.pages["/Service.asmx"] = body
    documents.pages["/dev/zero"] = b"\0" * (MAX_DOCUMENT_BYTES + 1)
    documents.pages["/loop.wsdl"] = (
        f'<wsdl:definitions xmlns:wsdl="{WSDL_NS}" targetNamespace="urn:extra">'
        '<wsdl:import namespace="urn:more" location="/loop.wsdl" /></wsdl:definitions>'
    ).encode()
    result = refresh(f"{documents.url}/Service.asmx?WSDL", tmp_path)
    assert result.returncode == 2, result.stderr
    assert rule in result.stderr and "Traceback" not in result.stderr
    assert "root:" not in result.stdout + result.stderr  # nothing of /etc/passwd
    assert not list(tmp_path.rglob("*.wsdl")) and not list(tmp_path.rglob("*.partial"))  # nothing written
    if name == "dev-zero":
        assert "/dev/zero" in documents.asked


@pytest.mark.parametrize("name", ["file-url", "other-host", "dev-zero"])
def test_the_client_applies_the_same_rules(name: str, documents: Documents) -> None:
    body, rule = HOSTILE[name]
    documents.pages["/Service.asmx"] = body
    documents.pages["/dev/zero"] = b"\0" * (MAX_DOCUMENT_BYTES + 1)
    url = f"{documents.url}/Service.asmx?WSDL&n={name}"  # a location of its own: parsed WSDLs are cached
    with pytest.raises(ConfigurationError, match=re.escape(rule)):
        WinicClient("demo", "pw", endpoint=f"{documents.url}/Service.asmx", wsdl=url)


def test_refresh_loads_same_host_imports(documents: Documents, tmp_path: Path) -> None:
    documents.pages["/Service.asmx"] = with_import("/extra.wsdl")
    documents.pages["/extra.wsdl"] = EMPTY
    result = refresh(f"{documents.url}/Service.asmx?WSDL", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "/extra.wsdl" in documents.asked and "no differences" in result.stdout
    saved = tmp_path / "cache" / "winic-soap" / "Service.asmx.wsdl"
    assert saved.read_bytes() == documents.pages["/Service.asmx"]


@pytest.mark.parametrize(
    ("location", "rule"),
    [
        ("/etc/passwd", "may import only files in its own folder"),
        ("/dev/zero", "may import only files in its own folder"),
        ("../outside.wsdl", "may import only files in its own folder"),
        ("http://127.0.0.1:9/x.wsdl", "may import only files in its own folder"),
        ("zero.wsdl", "may import only files in its own folder"),  # a link to /dev/zero
        ("fifo.wsdl", "is not a regular file"),  # refused without waiting for a writer
    ],
)
def test_diff_refuses_a_hostile_local_wsdl(location: str, rule: str, tmp_path: Path) -> None:
    folder = tmp_path / "wsdls"
    folder.mkdir()
    (tmp_path / "outside.wsdl").write_bytes(EMPTY)
    (folder / "zero.wsdl").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.wsdl")
    (folder / "hostile.wsdl").write_bytes(with_import(location))
    result = refresh("", tmp_path, "diff", str(folder / "hostile.wsdl"))
    assert result.returncode == 2, result.stderr
    assert rule in result.stderr and "root:" not in result.stderr and "Traceback" not in result.stderr


def test_a_local_wsdl_may_import_files_beside_it(tmp_path: Path) -> None:
    (tmp_path / "extra.wsdl").write_bytes(EMPTY)
    (tmp_path / "main.wsdl").write_bytes(with_import("extra.wsdl"))
    result = refresh("", tmp_path, "diff", str(tmp_path / "main.wsdl"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["file-url", "other-host"])
def test_the_async_client_applies_the_same_rules(name: str, documents: Documents) -> None:
    import asyncio

    from winic_soap import AsyncWinicClient

    body, rule = HOSTILE[name]
    documents.pages["/Service.asmx"] = body
    url = f"{documents.url}/Service.asmx?WSDL&async={name}"

    async def main() -> None:
        async with AsyncWinicClient("demo", "pw", endpoint=f"{documents.url}/Service.asmx", wsdl=url):
            pass

    with pytest.raises(ConfigurationError, match=re.escape(rule)):
        asyncio.run(main())
