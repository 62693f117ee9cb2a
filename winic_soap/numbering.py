"""Numbers as the numbering plans have them: the only module that imports ``phonenumbers`` (phonenumberslite,
Google's libphonenumber metadata), and only when a number needs it, so ``import winic_soap`` stays light.

Mainland mobiles already in ``1XXXXXXXXXX`` form, the bulk case, are checked by :data:`CN_MOBILE`, a copy of
the library's CN mobile pattern (tests/unit/test_numbering.py fails when the metadata and the copy part ways);
the library is asked only to say why a number is refused, and for every international number: its region
(US and Bahamas share +1 but are two countries) or why no region has it. Shared by the client's input
checks and the mock's validation.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["CN_MOBILE", "calling_code", "international_region", "mainland_problem", "region_name"]

# phonenumbers' PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern (9.0.x), verbatim.
# 154, 160-161 (but 1610x), 163-164, 168-169, 174 (but 17400-17405), 179, 140-144, 146, 148-149, 194: unassigned.
CN_MOBILE = re.compile(r"1(?:610\d|740[0-5])\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}", re.ASCII)
_FEW = 4  # a calling code shared by more regions than this is named by its first few


def _regions(code: int) -> str:
    """``+44 (GB, GG, IM, JE)``, or ``+1 (US, AG, AI and 22 more)`` when many regions share the code."""
    import phonenumbers as pn  # here and below: loaded the first time a number needs the numbering plan

    names = [r for r in pn.region_codes_for_country_code(code) if r != "001"]
    if not names:
        return f"+{code} (international service)"
    shown = ", ".join(names[:_FEW]) if len(names) <= _FEW else f"{', '.join(names[:3])} and {len(names) - 3} more"
    return f"+{code} ({shown})"


def calling_code(number: str) -> int | None:
    """The calling code ``number`` (digits, no ``+``) starts with (``44`` for ``447911123456``), or None when
    none does. The mock's coarser rule: it knows codes, not which numbers each plan assigns."""
    import phonenumbers as pn

    try:
        code = pn.parse("+" + number, None).country_code
    except pn.NumberParseException:
        return None
    return code if code and pn.region_codes_for_country_code(code) else None


def region_name(region: str, number: str) -> str:
    """How a region is named in messages: ``US``; ``+800`` for a non-geographic code (region ``001``)."""
    if region != "001":
        return region
    import phonenumbers as pn

    return f"+{pn.parse('+' + number, None).country_code}"


def international_region(number: str) -> tuple[str | None, str | None]:
    """``(region, None)`` for a number with its calling code (digits, no ``+``) that its numbering plan
    assigns: ``("BS", None)`` for ``12425021234``; else ``(None, why)``, naming the rule it breaks."""
    import phonenumbers as pn

    try:
        parsed = pn.parse("+" + number, None)
    except pn.NumberParseException as exc:
        if exc.error_type == pn.NumberParseException.INVALID_COUNTRY_CODE:
            return None, "no country has this calling code"
        return None, "too short or too long for any numbering plan"
    code = parsed.country_code or 0
    why = pn.is_possible_number_with_reason(parsed)
    reasons = pn.ValidationResult
    if why == reasons.INVALID_COUNTRY_CODE:
        return None, f"no country has calling code +{code}"
    digits = f"{len(number) - len(str(code))} digits after +{code}"
    if why == reasons.TOO_SHORT:
        return None, f"too short for the numbering plan of {_regions(code)} ({digits})"
    if why == reasons.TOO_LONG:
        return None, f"too long for the numbering plan of {_regions(code)} ({digits})"
    if why in (reasons.INVALID_LENGTH, reasons.IS_POSSIBLE_LOCAL_ONLY):
        return None, f"a length no number of {_regions(code)} has ({digits})"
    region = pn.region_code_for_number(parsed)
    if region is None or not pn.is_valid_number_for_region(parsed, region):
        return None, f"invalid for the region: {_regions(code)} assigns no number like it (unassigned prefix)"
    return str(region), None


@cache
def _partly_assigned(prefix: str) -> bool:
    """Whether some mainland mobile starts with this 3-digit ``prefix`` (174: only 17400-17405 are)."""
    return any(CN_MOBILE.fullmatch(f"{prefix}{head:04d}0000") for head in range(10_000))


def mainland_problem(number: str) -> str:
    """Why ``number`` (digits, ``+86`` removed) is no mainland mobile: its length, a fixed line, or a prefix
    the numbering plan leaves unassigned (``154``)."""
    if len(number) != 11 or not number.startswith("1"):
        import phonenumbers as pn

        try:
            parsed = pn.parse(number, "CN")
        except pn.NumberParseException:
            parsed = None
        fixed = pn.PhoneNumberType.FIXED_LINE
        if parsed is not None and pn.is_valid_number(parsed) and pn.number_type(parsed) == fixed:
            return "a mainland fixed-line number, not a mobile (mobiles are 1 and 10 more digits)"
        if number.startswith("1") and len(number) < 11:
            return f"too short: {len(number)} digits, a mainland mobile has 11"
        if number.startswith("1"):
            return f"too long: {len(number)} digits, a mainland mobile has 11"
        return "not a mainland China mobile number (1 and 10 more digits)"
    if not _partly_assigned(number[:3]):
        return f"unassigned mainland mobile prefix {number[:3]} (the numbering plan has no such mobile)"
    return f"unassigned mainland mobile range {number[:5]} (only part of {number[:3]} is assigned)"
