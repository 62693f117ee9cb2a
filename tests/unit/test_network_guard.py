"""The guard in conftest really blocks the internet (a guard that cannot fail would be worthless)."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from helpers.netguard import NetworkBlocked

from winic_soap.mock import MockService


def test_connect_to_public_address_is_blocked() -> None:
    with socket.socket() as sock, pytest.raises(NetworkBlocked):
        sock.connect(("93.184.216.34", 80))


def test_name_resolution_is_blocked() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("service2.winic.org", 80)


def test_urllib_to_the_live_service_is_blocked() -> None:
    with pytest.raises(NetworkBlocked):
        urllib.request.urlopen("http://service2.winic.org/Service.asmx?WSDL", timeout=1)


def test_loopback_is_allowed(winic_mock: MockService) -> None:
    host, port = winic_mock.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=2):
        pass
