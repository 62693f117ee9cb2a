"""Fixtures for the wire tests: the mock, and the real servers put between it and the client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.rig import Rig
from helpers.tls_front import Certificates

from winic_soap.mock import MockService

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set proxy variables themselves; none may leak in from the machine running them."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.make(Path(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def rig(certs: Certificates) -> Iterator[Rig]:
    with MockService() as mock:
        made = Rig(mock, certs)
        try:
            yield made
        finally:
            made.close()
