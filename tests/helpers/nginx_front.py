"""A real nginx (Debian's nginx-light) in front of the mock: TLS with ``ssl_verify_client on``, proxying to
the mock over plain HTTP. Started as a child process on a free loopback port, stopped by its pid."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from helpers.tls_front import Certificates

_CONFIG = """
worker_processes 1;
master_process off;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {folder}/server.pem;
        ssl_certificate_key {folder}/server-key.pem;
        ssl_client_certificate {folder}/ca.pem;
        ssl_verify_client on;
        location / {{ proxy_pass http://{upstream}; }}
    }}
}}
"""


def nginx_binary() -> str:
    """nginx on PATH or in /usr/sbin; under CI=true its absence fails the test instead of skipping it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("nginx is not installed (Debian: apt-get install nginx-light); CI must provide it")
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NginxFront:
    """nginx terminating TLS, client certificate required, in front of ``upstream`` (host, port)."""

    def __init__(self, certs: Certificates, upstream: tuple[str, int], folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        certs.server.private_key_pem.write_to_path(str(folder / "server-key.pem"))
        certs.server.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
        certs.ca.cert_pem.write_to_path(str(folder / "ca.pem"))
        config = folder / "nginx.conf"
        host, port = upstream
        config.write_text(_CONFIG.format(folder=folder, port=self.port, upstream=f"{host}:{port}"), encoding="utf-8")
        self._process = subprocess.Popen(
            [nginx_binary(), "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/Service.asmx"

    def _wait_listening(self, limit: float = 30.0) -> None:
        """Poll until nginx accepts connections (or has died, which fails with its error output)."""
        ends = time.monotonic() + limit
        while time.monotonic() < ends:
            if self._process.poll() is not None:
                _, errors = self._process.communicate()
                raise RuntimeError(f"nginx exited {self._process.returncode}: {errors.decode(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("nginx did not listen within 30 s")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()  # nginx's fast shutdown; ours, by pid
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process.stderr is not None:
            self._process.stderr.close()
