"""Message text rules: the characters the service forbids, and how a text is split and billed.

Domestic sends follow the service's rule (docs/protocol.md, limits: 70 characters in one SMS, 67 per part of a
long text, whatever the characters). International routes count as carriers do (3GPP TS 23.038 / 23.040): a
text of GSM-7 characters takes 160 septets in one SMS and 153 per part (the extension characters below take
two: an escape and the character); any other character makes it UCS-2, 70 UTF-16 code units in one SMS and
67 per part (an emoji outside the BMP is two). A part never splits an escape pair or a surrogate pair."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal

from winic_soap.exceptions import InputError
from winic_soap.models import PartsInfo

__all__ = ["FORBIDDEN", "FULL_WIDTH", "count_parts", "estimate_cost", "sanitize", "segments", "unsendable"]

# The document forbids these in ``msg`` and asks for their full-width forms instead.
FULL_WIDTH = {"%": "％", "$": "＄", "&": "＆", "#": "＃", "*": "＊"}
FORBIDDEN = frozenset(FULL_WIDTH)
_TABLE = str.maketrans(FULL_WIDTH)
# What no transport may carry, so none does: lone surrogates (no encoding has them), control characters but
# tab and line breaks (XML 1.0 cannot carry most; a phone shows none), and Unicode's noncharacters.
_UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_INVISIBLE = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))  # spaces, and zero-width and other format characters
# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet (one septet each; 0x1B, the escape, is not a character
# of its own) and its extension table (an escape and a septet: two each; form feed is the page break).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


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


def _packed(weights: list[int], per_part: int) -> int:
    """Parts of at most ``per_part`` units, each character (its ``weights``) whole in one part."""
    parts, used = 1, 0
    for weight in weights:
        if used + weight > per_part:
            parts, used = parts + 1, 0
        used += weight
    return parts


def count_parts(text: str, *, signature: str = "", chars_per_sms: int = 70, international: bool = False) -> PartsInfo:
    """How a text is counted into billed parts, and why (see the module docstring): the service's
    ``chars_per_sms``/``-3`` characters rule for domestic sends, GSM-7 or UCS-2 for ``international`` ones.
    The signature is billed too unless the text has it."""
    billed = text if not signature or signature in text else text + signature
    if not international:
        units = len(billed)
        per_part = chars_per_sms - 3
        return PartsInfo("chars", 1 if units <= chars_per_sms else math.ceil(units / per_part), units, per_part)
    because = tuple(dict.fromkeys(c for c in billed if c not in _GSM7_BASIC and c not in _GSM7_EXTENSION))
    if because:
        weights = [2 if ord(c) > 0xFFFF else 1 for c in billed]
        encoding, single, per_part = "UCS-2", 70, 67
    else:
        weights = [2 if c in _GSM7_EXTENSION else 1 for c in billed]
        encoding, single, per_part = "GSM-7", 160, 153
    units = sum(weights)
    return PartsInfo(encoding, 1 if units <= single else _packed(weights, per_part), units, per_part, because)


def segments(text: str, *, signature: str = "", chars_per_sms: int = 70, international: bool = False) -> int:
    """How many billed parts a text is split into (:func:`count_parts` says how they were counted): for a
    domestic send one up to ``chars_per_sms`` characters (70), else parts of ``chars_per_sms - 3`` (67)."""
    return count_parts(text, signature=signature, chars_per_sms=chars_per_sms, international=international).parts


def estimate_cost(
    text: str, recipients: int, *, price: Decimal, signature: str = "", chars_per_sms: int = 70,
    international: bool = False,
) -> Decimal:  # fmt: skip
    """What a send would cost: unit price x recipients x parts (the service's billing rule)."""
    parts = segments(text, signature=signature, chars_per_sms=chars_per_sms, international=international)
    return price * recipients * parts
