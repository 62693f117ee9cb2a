"""XPath results with types: lxml types ``xpath()`` as any XPath value (a list, a string, a number, a bool),
so a test that selects elements or texts says which, and fails if the path selects something else."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

__all__ = ["elements", "texts"]


def _selected(
    node: etree._Element, path: str, namespaces: Mapping[str, str] | None, variables: dict[str, str]
) -> list[object]:
    found = node.xpath(path, namespaces=namespaces, extensions=None, smart_strings=True, **variables)
    assert isinstance(found, list), f"{path!r} selects {found!r}, not a node set"
    return list(found)


def elements(
    node: etree._Element, path: str, namespaces: Mapping[str, str] | None = None, **variables: str
) -> list[etree._Element]:
    """The elements ``path`` selects from ``node`` (``$name`` variables given as keywords)."""
    selected = _selected(node, path, namespaces, variables)
    assert all(isinstance(item, etree._Element) for item in selected), f"{path!r} selects more than elements"
    return [item for item in selected if isinstance(item, etree._Element)]


def texts(node: etree._Element, path: str, namespaces: Mapping[str, str] | None = None, **variables: str) -> list[str]:
    """The strings (``text()``, ``@attribute``) ``path`` selects from ``node``."""
    selected = _selected(node, path, namespaces, variables)
    assert all(isinstance(item, str) for item in selected), f"{path!r} selects more than strings"
    return [str(item) for item in selected]
