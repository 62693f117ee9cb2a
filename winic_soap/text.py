"""Message text rules: the characters the service forbids, and how a text is split and billed."""

from __future__ import annotations

import math
from decimal import Decimal

from winic_soap.exceptions import InputError

__all__ = ["FORBIDDEN", "FULL_WIDTH", "estimate_cost", "sanitize", "segments"]

# The document forbids these in ``msg`` and asks for their full-width forms instead.
FULL_WIDTH = {"%": "％", "$": "＄", "&": "＆", "#": "＃", "*": "＊"}
FORBIDDEN = frozenset(FULL_WIDTH)
_TABLE = str.maketrans(FULL_WIDTH)


def sanitize(text: str, *, strict: bool = False, field: str = "text") -> str:
    """Check a message text and convert ``% $ & # *`` to full width (``strict`` raises instead)."""
    if not isinstance(text, str):
        raise InputError(field, "must be a string", type(text).__name__)
    if not text.strip():
        raise InputError(field, "must not be empty")
    if "\x00" in text:
        raise InputError(field, "must not contain NUL characters")
    found = sorted(FORBIDDEN.intersection(text))
    if found and strict:
        raise InputError(field, f"contains {' '.join(found)}, which the service forbids (strict mode)")
    return text.translate(_TABLE) if found else text


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
