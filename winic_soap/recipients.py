"""Recipient numbers: normalised, checked and de-duplicated before anything goes on the wire, and kept
compactly (eight bytes a number) so a send of a million recipients fits in bounded memory."""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import overload

from winic_soap.exceptions import InputError
from winic_soap.models import Problem
from winic_soap.numbering import CN_MOBILE, international_region, mainland_problem, region_name

__all__ = [
    "MAX_PER_REQUEST",
    "Checked",
    "Numbers",
    "ascii_digits",
    "check_numbers",
    "chunked",
    "domestic_numbers",
    "international_numbers",
]

MAX_PER_REQUEST = 100
_SEPARATORS = re.compile(r"[\s\-().]")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{6,14}")
_DOMESTIC_RULE = "not a mainland China mobile number (1 and 10 more digits)"
_INTERNATIONAL_RULE = "not an international number with a country code (7-15 digits, e.g. 447911123456)"
_BUCKETS = 256  # de-duplication sorts this many slices of the numbers, one at a time
_SMALL = 50_000  # up to this many numbers stay strings (de-duplicated by a plain dict)


def ascii_digits(value: str) -> str:
    """``value`` NFKC-normalised with every Unicode decimal digit (fullwidth, Arabic-Indic, ...) made ASCII,
    so ``13８00138000`` and ``13800138000`` are one number; other characters are left for the caller's rule."""
    if value.isascii():
        return value
    value = unicodedata.normalize("NFKC", value)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in value)


class Numbers(Sequence[str]):
    """Checked, de-duplicated numbers in order. Many are stored as integers (every accepted number is digits
    with no leading zero, so the string comes back exactly): a million take 8 MB instead of 70; a few
    thousand stay strings, which is quicker to send."""

    __slots__ = ("_values", "international")

    def __init__(self, values: array[int] | list[str], *, international: bool) -> None:
        self._values = values
        self.international = international

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        values = self._values
        if isinstance(values, list):
            return values[index]
        if isinstance(index, slice):
            return [str(v) for v in values[index]]
        return str(values[index])

    def __iter__(self) -> Iterator[str]:
        return iter(self._values) if isinstance(self._values, list) else map(str, self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Numbers) and type(self._values) is type(other._values):
            return self._values == other._values
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Numbers({len(self)} {'international' if self.international else 'domestic'})"

    def among(self, candidates: Iterable[str]) -> set[str]:
        """Which of ``candidates`` are among these numbers: a set operation in C whatever the storage (a
        suppression list checked against a bulk send costs milliseconds)."""
        values = self._values
        pool = candidates if isinstance(candidates, Collection) else list(candidates)
        if isinstance(values, list) or len(pool) > len(values):  # converting the smaller side is cheaper
            return set(pool).intersection(self)
        wanted = {int(n): n for n in pool if n.isdigit() and str(int(n)) == n}
        return {wanted[v] for v in set(wanted).intersection(values)}

    def without(self, numbers: Collection[str]) -> Numbers:
        """These numbers less ``numbers`` (a suppression list's hits), in order, kept as compactly as they were."""
        values = self._values
        if isinstance(values, list):
            return Numbers([n for n in values if n not in numbers], international=self.international)
        drop = {int(n) for n in numbers if n.isdigit()}
        return Numbers(array(values.typecode, (v for v in values if v not in drop)), international=self.international)

    def batches(self, size: int = MAX_PER_REQUEST) -> Batches:
        """The numbers in requests of at most ``size``, each made when it is asked for."""
        return Batches(self, size)


class Batches(Sequence[list[str]]):
    """A send's requests of at most 100 numbers, built one at a time from :class:`Numbers`."""

    __slots__ = ("_numbers", "_size")

    def __init__(self, numbers: Numbers, size: int) -> None:
        self._numbers, self._size = numbers, size

    def __len__(self) -> int:
        return (len(self._numbers) + self._size - 1) // self._size

    @overload
    def __getitem__(self, index: int) -> list[str]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[str]]: ...
    def __getitem__(self, index: int | slice) -> list[str] | list[list[str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._numbers[index * self._size : (index + 1) * self._size]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Sequence)
            and len(self) == len(other)
            and all(a == b for a, b in zip(self, other, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Batches({len(self)} of at most {self._size})"


class Checked:
    """What checking a list of numbers gave: the valid ones (:class:`Numbers`) and every invalid one skipped."""

    __slots__ = ("numbers", "skipped")

    def __init__(self, numbers: Numbers, skipped: tuple[Problem, ...]) -> None:
        self.numbers, self.skipped = numbers, skipped


def _domestic(raw: str) -> str:
    """``raw`` with separators, Unicode digits and a ``+86``/``0086``/``86`` prefix made plain."""
    number = _SEPARATORS.sub("", ascii_digits(raw))
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix) :]
    if len(number) == 13 and number.startswith("86"):
        return number[2:]
    return number


def _domestic_problem(raw: str) -> tuple[str | None, str]:
    """``(number, "")`` for a mainland mobile in any accepted form, else ``(None, why)``."""
    number = _domestic(raw)
    if CN_MOBILE.fullmatch(number):
        return number, ""
    return None, mainland_problem(number) if number.isdigit() and number.isascii() else _DOMESTIC_RULE


def _international(raw: str) -> str:
    """``raw`` with separators, Unicode digits and a ``+``/``00`` prefix made plain."""
    number = _SEPARATORS.sub("", ascii_digits(raw))
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


def _checked(raw: object, international: bool, regions: dict[str, str]) -> tuple[str | None, str]:
    """``(number, "")`` for a number in any accepted form, else ``(None, why)``; an international number's
    region goes into ``regions`` (with its first number) for the one-country rule."""
    if not isinstance(raw, str):
        return None, "must be a string"
    if not international:
        return _domestic_problem(raw)
    number = raw if _INTERNATIONAL.fullmatch(raw) else _international(raw)
    if not _INTERNATIONAL.fullmatch(number):
        return None, _INTERNATIONAL_RULE
    region, why = international_region(number)
    if region is None:
        return None, why or _INTERNATIONAL_RULE
    regions.setdefault(region, number)
    return number, ""


def _items(numbers: object, field: str) -> Iterable[object]:
    if isinstance(numbers, str):
        return (numbers,)
    if isinstance(numbers, (bytes, bytearray)) or not isinstance(numbers, Iterable):
        raise InputError(field, "must be a string or a list of strings", type(numbers).__name__)
    return numbers


def _first_seen(values: array[int]) -> array[int]:
    """``values`` without repeats, first occurrence kept. Sorting slices of the values one at a time finds
    the repeated ones without a set of every number (a million Python ints would take 60 MB)."""
    buckets = [array("Q") for _ in range(_BUCKETS)]
    for value in values:
        buckets[value % _BUCKETS].append(value)
    repeated: set[int] = set()
    for bucket in buckets:
        ordered = sorted(bucket)
        repeated.update(a for a, b in pairwise(ordered) if a == b)
    del buckets
    if not repeated:
        return values
    seen: set[int] = set()
    kept = array("Q")
    for value in values:
        if value in repeated:
            if value in seen:
                continue
            seen.add(value)
        kept.append(value)
    return kept


def check_numbers(
    numbers: Iterable[str] | str,
    *,
    international: bool = False,
    skip_invalid: bool = False,
    field: str = "recipients",
    label: Callable[[int], tuple[str, int]] | None = None,
) -> Checked:
    """Normalise, check and de-duplicate ``numbers`` (order kept). Every invalid one is named: an
    :class:`InputError` lists them all (``.problems``), or with ``skip_invalid`` they come back in
    :attr:`Checked.skipped`. ``label`` names a position (default ``recipients[i]``; the CLI says the line)."""
    if isinstance(numbers, Numbers) and numbers.international == international:
        return Checked(numbers, ())  # checked before (a plan's numbers sent again): nothing to do twice
    values: list[str] | array[int] = []
    problems: list[Problem] = []
    regions: dict[str, str] = {}  # region -> its first number, for "one country per send"
    count = 0
    fast = None if international else CN_MOBILE.fullmatch
    for index, raw in enumerate(_items(numbers, field)):
        count += 1
        if fast is not None and isinstance(raw, str) and fast(raw):
            number = raw  # already normalised and assigned: the common case, by the million, no library asked
        else:
            checked, problem = _checked(raw, international, regions)
            if checked is None:
                where, position = label(index) if label else (f"{field}[{index}]", index)
                value = raw if isinstance(raw, str) else type(raw).__name__
                problems.append(Problem(where, position, value, problem))
                continue
            number = checked
        if isinstance(values, list):
            values.append(number)
            if len(values) > _SMALL:  # a bulk list: compact from here on
                values = array("Q", map(int, values))
        else:
            values.append(int(number))
    if not count:
        raise InputError(field, "at least one number is required")
    if problems and (not skip_invalid or len(problems) == count):
        if len(problems) == 1:
            only = problems[0]
            raise InputError(only.label, only.rule, only.value, problems=problems)
        why = (
            f"no valid number (all {count} invalid)"
            if len(problems) == count
            else f"{len(problems)} of {count} invalid"
        )
        raise InputError(field, why, problems=problems)
    if len(regions) > 1:  # by region, not calling code: US and Bahamas numbers share +1
        found = sorted(region_name(region, number) for region, number in regions.items())
        raise InputError(
            field, f"all numbers of one international send must be in the same country (found {', '.join(found)})"
        )
    unique = list(dict.fromkeys(values)) if isinstance(values, list) else _first_seen(values)
    return Checked(Numbers(unique, international=international), tuple(problems))


def domestic_numbers(numbers: Iterable[str] | str, field: str = "recipients") -> Numbers:
    """Mainland China mobiles the numbering plan assigns (``1`` and 10 more digits, not ``154``...);
    ``+86``/``0086``/``86`` prefixes, spaces and dashes are accepted and removed, Unicode digits made ASCII;
    duplicates dropped, order kept; any invalid: InputError naming why."""
    return check_numbers(numbers, field=field).numbers


def international_numbers(numbers: Iterable[str] | str, field: str = "recipients") -> Numbers:
    """International numbers with their country code that their numbering plan assigns, all from one
    country (region: US and Bahamas are two); ``+``/``00`` prefixes and separators are removed (the service
    rejects ``+``)."""
    return check_numbers(numbers, international=True, field=field).numbers


def chunked(numbers: Sequence[str], size: int = MAX_PER_REQUEST) -> Sequence[list[str]]:
    """Split recipients into requests of at most ``size`` (the service answers -10 beyond 100)."""
    if isinstance(numbers, Numbers):
        return numbers.batches(size)
    return [list(numbers[i : i + size]) for i in range(0, len(numbers), size)]
