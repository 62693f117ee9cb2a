"""The reliability suite (marker ``reliability``): attacks on the client, the watcher and the mock.

Every test here runs with all logging at DEBUG; afterwards no record may contain a password.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.rel_secrets import PWD, SECRETS

from winic_soap.mock import Account, MockService


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(autouse=True)
def _no_secret_in_any_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in SECRETS:
            assert secret not in text, f"password in a log record from {record.name}"


@pytest.fixture
def rel_mock() -> Iterator[MockService]:
    with MockService([Account("rel", PWD, balance=Decimal("100000"))]) as mock:
        yield mock
