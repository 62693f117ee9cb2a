"""Recipient numbers: normalised, checked and de-duplicated before anything goes on the wire."""

from __future__ import annotations

import re
from collections.abc import Iterable

from winic_soap._countries import calling_code
from winic_soap.exceptions import InputError

__all__ = ["MAX_PER_REQUEST", "chunked", "domestic_numbers", "international_numbers"]

MAX_PER_REQUEST = 100
_DOMESTIC = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-().]")
_INTERNATIONAL = re.compile(r"[1-9]\d{6,14}")


def _as_list(numbers: Iterable[str] | str, field: str) -> list[str]:
    items = [numbers] if isinstance(numbers, str) else list(numbers)
    if not items:
        raise InputError(field, "at least one number is required")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"{field}[{index}]", "must be a string", type(item).__name__)
    return items


def _dedupe(numbers: list[str]) -> list[str]:
    return list(dict.fromkeys(numbers))


def domestic_numbers(numbers: Iterable[str] | str, field: str = "recipients") -> list[str]:
    """Mainland China mobiles ``1[3-9]XXXXXXXXX``; ``+86``/``0086``/``86`` prefixes, spaces and dashes are
    accepted and removed; duplicates dropped, order kept."""
    result = []
    for index, raw in enumerate(_as_list(numbers, field)):
        if _DOMESTIC.fullmatch(raw):  # already normalised: the common case, and a bulk send has 100,000 of them
            result.append(raw)
            continue
        number = _SEPARATORS.sub("", raw)
        for prefix in ("+86", "0086"):
            if number.startswith(prefix):
                number = number[len(prefix) :]
                break
        else:
            if len(number) == 13 and number.startswith("86"):
                number = number[2:]
        if not _DOMESTIC.fullmatch(number):
            raise InputError(f"{field}[{index}]", "not a mainland China mobile number (1[3-9] and 9 more digits)", raw)
        result.append(number)
    return _dedupe(result)


def international_numbers(numbers: Iterable[str] | str, field: str = "recipients") -> list[str]:
    """International numbers with their country code, all from one country; ``+``/``00`` prefixes and
    separators are removed (the service rejects ``+``)."""
    result, countries = [], set()
    for index, raw in enumerate(_as_list(numbers, field)):
        number = _SEPARATORS.sub("", raw)
        if number.startswith("+"):
            number = number[1:]
        elif number.startswith("00"):
            number = number[2:]
        code = calling_code(number) if _INTERNATIONAL.fullmatch(number) else None
        if code is None:
            raise InputError(
                f"{field}[{index}]",
                "not an international number with a country code (7-15 digits, e.g. 447911123456)",
                raw,
            )
        countries.add(code)
        result.append(number)
    if len(countries) > 1:
        raise InputError(
            field,
            "all numbers of one international send must be in the same country "
            f"(found country codes {', '.join(sorted(countries))})",
        )
    return _dedupe(result)


def chunked(numbers: list[str], size: int = MAX_PER_REQUEST) -> list[list[str]]:
    """Split recipients into requests of at most ``size`` (the service answers -10 beyond 100)."""
    return [numbers[i : i + size] for i in range(0, len(numbers), size)]
