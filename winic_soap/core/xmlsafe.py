"""Hardened XML parsing for answers we read ourselves: no DTDs, no entities, no network, bounded size."""

from __future__ import annotations

import threading

from lxml import etree

from winic_soap.exceptions import ProtocolError

__all__ = ["parse"]

_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers are not thread-safe; one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
        )
        _local.parser = parser
    return parser


def parse(content: bytes) -> etree._Element:
    """Parse an answer; a DOCTYPE, an entity declaration or broken XML is a :class:`ProtocolError`."""
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content:
        raise ProtocolError("answer carries a DTD or entity declarations; refused", processed=None)
    try:
        root = etree.fromstring(content, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ProtocolError(f"answer is not well-formed XML ({exc.__class__.__name__})", processed=None) from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise ProtocolError("answer carries a DTD; refused", processed=None)
    return root
