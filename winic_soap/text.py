"""Message text rules: the characters the service forbids, and how a text is split and billed."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal

from winic_soap.exceptions import InputError

__all__ = ["FORBIDDEN", "FULL_WIDTH", "estimate_cost", "sanitize", "segments", "unsendable"]

# The document forbids these in ``msg`` and asks for their full-width forms instead.
FULL_WIDTH = {"%": "％", "$": "＄", "&": "＆", "#": "＃", "*": "＊"}
FORBIDDEN = frozenset(FULL_WIDTH)
_TABLE = str.maketrans(FULL_WIDTH)
# What no transport may carry, so none does: lone surrogates (no encoding has them), control characters but
# tab and line breaks (XML 1.0 cannot carry most; a phone shows none), and Unicode's noncharacters.
_UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_INVISIBLE = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))  # spaces, and zero-width and other format characters


def unsendable(value: str, *, secret: bool = False) -> str | None:
    """The rule ``value`` breaks when it holds a character no transport may carry; None when it holds none.
    Which character, and where, is said unless the value is a ``secret`` (a password)."""
    found = _UNSENDABLE.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "contains characters that cannot be encoded (a lone surrogate)"
    kind = "a control character" if unicodedata.category(char) == "Cc" else "a Unicode noncharacter"
    return f"contains {kind}" + ("" if secret else f" (U+{ord(char):04X} at position {found.start()})")


def sanitize(text: str, *, strict: bool = False, field: str = "text", max_parts: int | None = None) -> str:
    """Check a message text and convert ``% $ & # *`` to full width (``strict`` raises instead); a text of
    more than ``max_parts`` billed parts (counted without the signature, unknown here) is refused."""
    if not isinstance(text, str):
        raise InputError(field, "must be a string", type(text).__name__)
    if not text.strip():
        raise InputError(field, "must not be empty")
    broken = unsendable(text)
    if broken:
        raise InputError(field, broken)
    if all(unicodedata.category(c) in _INVISIBLE for c in text):
        raise InputError(field, "has no visible character (only spaces or zero-width characters)")
    found = sorted(FORBIDDEN.intersection(text))
    if found and strict:
        raise InputError(field, f"contains {' '.join(found)}, which the service forbids (strict mode)")
    clean = text.translate(_TABLE) if found else text
    if max_parts is not None and (parts := segments(clean)) > max_parts:
        raise InputError(
            field, f"would be billed as {parts} parts ({len(clean)} characters), more than max_parts={max_parts}"
        )
    return clean


def segments(text: str, *, signature: str = "", chars_per_sms: int = 70) -> int:
    """How many billed parts the service splits a text into: one up to ``chars_per_sms`` characters
    (70), else parts of ``chars_per_sms - 3`` (67). The signature is billed too unless the text has it."""
    billed = len(text) + (0 if not signature or signature in text else len(signature))
    if billed <= chars_per_sms:
        return 1
    return math.ceil(billed / (chars_per_sms - 3))


def estimate_cost(
    text: str, recipients: int, *, price: Decimal, signature: str = "", chars_per_sms: int = 70
) -> Decimal:
    """What a send would cost: unit price x recipients x parts (the service's billing rule)."""
    return price * recipients * segments(text, signature=signature, chars_per_sms=chars_per_sms)
