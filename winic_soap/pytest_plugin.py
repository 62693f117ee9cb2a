"""pytest plugin (entry point ``pytest11``): the ``winic_mock`` fixture, a fresh fake service per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from winic_soap.mock import MockService

__all__ = ["winic_mock"]


@pytest.fixture
def winic_mock() -> Iterator[MockService]:
    """A started :class:`~winic_soap.mock.MockService` with the default ``demo`` account; stopped after the test."""
    with MockService() as mock:
        yield mock
