"""A large pull answer read as it streams: the text of its result element in pieces, never whole in memory
(a backlog of a million reports is some 80 MB of text in one element). Hardened as ``xmlsafe.parse``: no
DTD, no entity, no network. No I/O: the caller feeds the bytes it read."""

from __future__ import annotations

from typing import Any, cast

from lxml import etree

from winic_soap.exceptions import ProtocolError

__all__ = ["ResultText"]

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class _Target:
    """lxml parser target: keeps only the character data directly inside the first ``result`` element."""

    def __init__(self, result: str, root: str | None) -> None:
        self.result, self.root = result, root
        self.depth = 0
        self.inside = 0  # depth of the result element while in it
        self.found = False
        self.nil = False
        self.pieces: list[str] = []

    def start(self, tag: str, attrib: Any) -> None:
        self.depth += 1
        if self.depth == 1 and self.root is not None and tag != self.root:
            raise ProtocolError(f"answer element is {tag!r}, not {self.root!r}", processed=None)
        if not self.found and not self.inside and tag == self.result:
            self.inside = self.depth
            self.nil = attrib.get(_XSI_NIL) in ("true", "1")

    def end(self, tag: str) -> None:
        if self.inside == self.depth:
            self.inside, self.found = 0, True
        self.depth -= 1

    def data(self, text: str) -> None:
        if self.inside and self.inside == self.depth:
            self.pieces.append(text)

    def doctype(self, *args: Any) -> None:
        raise ProtocolError("answer carries a DTD or entity declarations; refused", processed=None)

    def close(self) -> None:
        return None


class ResultText:
    """Feed an answer's bytes; get the result element's text in pieces. ``result`` is the element's
    ``{namespace}name`` (SOAP: ``{ns}SMS_ReportsResult``), ``root`` the required document element (the
    HTTP transports' ``{http://tempuri.org/}string``), ``None`` for any. Malformed XML, a DTD or a missing
    result element is a :class:`ProtocolError`."""

    def __init__(self, result: str, *, root: str | None = None) -> None:
        self._target = _Target(result, root)
        self._parser = etree.XMLParser(
            target=cast(Any, self._target), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )

    @property
    def nil(self) -> bool:
        """The service answered nil (no records)."""
        return self._target.nil

    def feed(self, chunk: bytes) -> list[str]:
        """The result's text found in ``chunk`` (possibly none, or a piece of a record)."""
        try:
            self._parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            raise ProtocolError(f"answer is not well-formed XML ({type(exc).__name__})", processed=None) from None
        return self._taken()

    def close(self) -> list[str]:
        """The rest of the text, once the whole answer was fed."""
        try:
            self._parser.close()
        except etree.XMLSyntaxError as exc:
            raise ProtocolError(f"answer is not well-formed XML ({type(exc).__name__})", processed=None) from None
        if not self._target.found:
            raise ProtocolError(f"answer has no {self._target.result} element", processed=None)
        return self._taken()

    def _taken(self) -> list[str]:
        pieces, self._target.pieces = self._target.pieces, []
        return pieces
