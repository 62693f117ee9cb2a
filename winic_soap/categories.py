"""Operator status codes grouped into failure categories: the one table statistics and metrics read.

Pure (no I/O). A report's raw status is always kept; its category is looked up here. The defaults are SMPP's
message states and the few mainland gateway codes whose meaning is settled (the service documents only
``DELIVRD``; every other status is an operator's code); a provider's own codes are added with the
``status_categories`` setting (``["MK:0004=invalid_number", "DB:0141=blocked"]``, a TOML list or a
comma-separated variable), which overrides a default for the same code.

==================  ===================================================  ====================================
category            what it means                                        default codes
==================  ===================================================  ====================================
``delivered``       the handset has it                                   ``DELIVRD``
``blocked``         blocked or blacklisted (by the operator, the user)   ``BLACK``, ``BLACKLIST``, ``MBBLACK``,
                                                                         ``DB:0141``
``invalid_number``  number invalid, unassigned or out of service         ``MN:0001`` (empty number)
``unreachable``     expired or unreachable: off, out of coverage, full   ``EXPIRED``, ``UNDELIV``, ``DELETED``
``rejected``        rejected for its content (keywords, signature)       ``REJECTD``
``in_transit``      not final yet (the store's intermediate statuses)    ``ENROUTE``, ``ACCEPTD``
``unknown``         any other code (its raw code is still counted)       ``UNKNOWN`` and every unlisted one
==================  ===================================================  ====================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeGuard, get_args

from winic_soap.exceptions import InputError

__all__ = ["CATEGORIES", "DEFAULT_TABLE", "FAILURES", "Categories", "Category"]

#: a report's category (the table above); a Literal, so that mypy refuses a typo'd one
Category = Literal["delivered", "blocked", "invalid_number", "unreachable", "rejected", "in_transit", "unknown"]
#: every category, in the order reports show them
CATEGORIES: tuple[Category, ...] = get_args(Category)
#: the categories of a final failure
FAILURES: tuple[Category, ...] = ("blocked", "invalid_number", "unreachable", "rejected", "unknown")

DEFAULT_TABLE: Mapping[str, Category] = MappingProxyType(
    {
        "DELIVRD": "delivered",
        **dict.fromkeys(("BLACK", "BLACKLIST", "MBBLACK", "DB:0141"), "blocked"),
        "MN:0001": "invalid_number",
        **dict.fromkeys(("EXPIRED", "UNDELIV", "DELETED"), "unreachable"),
        "REJECTD": "rejected",
        **dict.fromkeys(("ENROUTE", "ACCEPTD"), "in_transit"),
        "UNKNOWN": "unknown",
    }
)


@dataclass(frozen=True)
class Categories:
    """A status -> category table: the defaults, then the setting's entries over them."""

    table: Mapping[str, Category] = field(default_factory=lambda: DEFAULT_TABLE)

    @classmethod
    def of(cls, extra: Iterable[str] | Mapping[str, str] | None = None) -> Categories:
        """The defaults with ``extra`` over them: ``"CODE=category"`` strings (the setting) or a mapping.
        A bad entry is an :class:`InputError` naming ``status_categories`` and the rule."""
        table: dict[str, Category] = dict(DEFAULT_TABLE)
        pairs = extra.items() if isinstance(extra, Mapping) else (_split(e) for e in extra or ())
        for raw_code, raw_category in pairs:
            code, category = raw_code.strip().upper(), raw_category.strip().lower()
            if not code or not _is_category(category):
                raise InputError(
                    "status_categories",
                    f"each entry must be CODE=category with a category of {', '.join(CATEGORIES)}",
                    f"{code}={category}",
                )
            table[code] = category
        return cls(MappingProxyType(table))

    def of_status(self, status: str) -> Category:
        """The category of a raw status (case-insensitive); ``unknown`` for a code not in the table."""
        return self.table.get(status.strip().upper(), "unknown")


def _is_category(name: str) -> TypeGuard[Category]:
    return name in CATEGORIES


def _split(entry: str) -> tuple[str, str]:
    code, sep, category = entry.partition("=")
    if not sep:
        raise InputError("status_categories", "each entry must be CODE=category, like MK:0004=invalid_number", entry)
    return code, category
