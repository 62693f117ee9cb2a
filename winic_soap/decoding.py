"""The one decoder: a raw answer string from any transport -> typed result, or the typed error for its code.

Pure functions, no I/O. Rules (docs/protocol.md, answers and error codes): negative codes are errors;
``null``/``Null``/empty/absent mean no records; record lists are ``|``-terminated and may carry ``/`` inside
a reply's text.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from winic_soap.exceptions import ProtocolError, error_for_code
from winic_soap.models import SERVICE_TZ, AccountInfo, DeliveryReport, Reply

__all__ = [
    "check",
    "decode_account",
    "decode_ack",
    "decode_message_id",
    "decode_replies",
    "decode_reports",
    "is_empty",
    "parse_service_time",
    "stream_records",
]

logger = logging.getLogger("winic_soap.decoding")
_MISSING: Any = object()
_CODE = re.compile(r"-\d{1,4}")
_MESSAGE_ID = re.compile(r"\d{16}")
_EMPTY = frozenset({"", "null", "none", "nil"})


def check(operation: str, raw: str | None, transport: str | None = None) -> str | None:
    """Raise the typed error when ``raw`` is an error code; else return it stripped (None stays None)."""
    if raw is None:
        return None
    answer = raw.strip()
    if _CODE.fullmatch(answer):
        raise error_for_code(answer, operation, raw, transport)
    return answer


def is_empty(answer: str | None) -> bool:
    """``null``, ``Null``, empty or absent: the service's way of saying there is nothing."""
    return answer is None or (len(answer) < 32 and answer.strip().lower() in _EMPTY)


def decode_message_id(operation: str, raw: str | None, transport: str | None = None) -> str | None:
    """A send's answer: the 16-digit id, or None for the legacy ``000`` success."""
    answer = check(operation, raw, transport)
    if answer is not None and _MESSAGE_ID.fullmatch(answer):
        return answer
    if answer == "000":
        return None
    raise ProtocolError(
        f"{operation} answered {_preview(answer)}, not a 16-digit message id",
        processed=None,
        operation=operation,
        transport=transport,
    )


def decode_ack(operation: str, raw: str | None, transport: str | None = None) -> None:
    """Operations that answer ``000`` on success (register, change password)."""
    answer = check(operation, raw, transport)
    if answer != "000":
        raise ProtocolError(
            f"{operation} answered {_preview(answer)}, expected 000",
            processed=None,
            operation=operation,
            transport=transport,
        )


def parse_service_time(text: str) -> datetime | None:
    """``yyyy-M-d H:mm:ss`` (unpadded, service local time) -> aware datetime (+08:00); None if unreadable."""
    if len(text) == 19 and text[10] == " ":  # already zero-padded: the C parser is 7x faster
        try:
            return datetime.fromisoformat(text).replace(tzinfo=SERVICE_TZ)
        except ValueError:
            return None
    try:
        day, clock = text.strip().split(" ", 1)
        hour, minute, second = clock.split(":")
        year, month, date = _day(day)
        return datetime(year, month, date, int(hour), int(minute), int(second), tzinfo=SERVICE_TZ)
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _day(text: str) -> tuple[int, int, int]:
    """A record's date part; a pull's records share a handful of days."""
    year, month, date = text.split("-")
    return int(year), int(month), int(date)


def _records(raw: str) -> list[str]:
    """The ``|``-separated records, empty ones included (callers skip them where a split fails)."""
    if "\n" in raw or "\r" in raw:  # the document's own samples wrap records across lines
        raw = raw.replace("\r", "").replace("\n", "")
    return raw.split("|")


def decode_replies(operation: str, raw: str | None, transport: str | None = None) -> list[Reply]:
    """``phone/content/port/time|…``: phone from the left, port and time from the right (content may hold ``/``)."""
    answer = check(operation, raw, transport)
    if is_empty(answer):
        return []
    assert answer is not None
    stamps: dict[str, datetime | None] = {}  # one pull's records share most timestamps
    return [r for r in (_reply(operation, record, stamps) for record in _records(answer)) if r is not None]


def _reply(operation: str, record: str, stamps: dict[str, datetime | None]) -> Reply | None:
    """One reply record; None for an empty one."""
    fields = record.split("/")
    if len(fields) == 4:  # the common case: no "/" inside the text
        mobile, text, port, when = fields
    else:
        if not record or record.isspace():
            return None
        # phone from the left, port and time from the right: the text may contain "/"
        mobile, _, rest = record.partition("/")
        pieces = rest.rsplit("/", 2)
        if len(pieces) != 3:
            # Pulls are destructive: a record we cannot split is still handed on, whole, in ``raw``.
            _warn_malformed(operation, record)
            pieces = [rest, "", ""]
        text, port, when = pieces
    at = stamps.get(when, _MISSING)
    if at is _MISSING:
        at = stamps[when] = parse_service_time(when)
    return Reply(mobile.strip(), text, port.strip(), at, record)


def decode_reports(operation: str, raw: str | None, transport: str | None = None) -> list[DeliveryReport]:
    """``msgid/uid/phone/status/time|…``."""
    answer = check(operation, raw, transport)
    if is_empty(answer):
        return []
    assert answer is not None
    stamps: dict[str, datetime | None] = {}
    return [r for r in (_report(operation, record, stamps) for record in _records(answer)) if r is not None]


def _report(operation: str, record: str, stamps: dict[str, datetime | None]) -> DeliveryReport | None:
    """One report record; None for an empty one."""
    fields = record.split("/")
    if len(fields) == 5:  # the documented layout
        message_id, uid, mobile, status, when = fields
    else:
        if not record or record.isspace():
            return None
        head = record.split("/", 3)
        if len(head) != 4:
            _warn_malformed(operation, record)  # kept whole in ``raw``, never dropped
            head += [""] * (4 - len(head))
        message_id, uid, mobile, rest = head
        status, sep, when = rest.rpartition("/")
        if not sep:  # a report without its time: keep it, the time is unknown
            status, when = rest, ""
    at = stamps.get(when, _MISSING)
    if at is _MISSING:
        at = stamps[when] = parse_service_time(when)
    return DeliveryReport(message_id.strip(), uid, mobile.strip(), status, at, record)


def stream_records(operation: str, pieces: Iterable[str]) -> Iterator[Reply | DeliveryReport]:
    """A large pull answer's records, one at a time, from its text in pieces (as :class:`ResultText` gives
    it): memory holds one record, whatever the answer's size. The same record rules as the list decoders;
    a short answer (an error code, ``null``) is read by them, so it raises or means nothing just the same."""
    one = _report if operation == "SMS_Reports" else _reply
    stamps: dict[str, datetime | None] = {}
    head: list[str] = []
    size = 0
    iterator = iter(pieces)
    for piece in iterator:  # the first few KB decide: an error code or null is short
        head.append(piece)
        size += len(piece)
        if size > 4096:
            break
    else:
        short = decode_reports if operation == "SMS_Reports" else decode_replies
        yield from short(operation, "".join(head))
        return
    head[0] = head[0].lstrip()
    rest = ""
    for piece in itertools.chain(head, iterator):
        text = rest + piece
        if "\n" in text or "\r" in text:  # the document's own samples wrap records across lines
            text = text.replace("\r", "").replace("\n", "")
        *records, rest = text.split("|")
        for record in records:
            found = one(operation, record, stamps)
            if found is not None:
                yield found
        if len(stamps) > 4096:  # a long answer spans many seconds: keep the cache small
            stamps.clear()
    found = one(operation, rest.strip(), stamps)
    if found is not None:
        yield found


def _decimal(value: str, operation: str, transport: str | None) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ProtocolError(
            f"{operation}: {_preview(value)} is not a number", processed=True, operation=operation, transport=transport
        ) from None


def decode_account(operation: str, raw: str | None, transport: str | None = None) -> AccountInfo:
    """``000/uid/balance/price/chars/signature/voice/fax/mms/agent[/company/contact/phone]``."""
    answer = check(operation, raw, transport)
    fields = (answer or "").split("/")
    if len(fields) < 10 or fields[0] != "000":
        raise ProtocolError(
            f"{operation} answered {_preview(answer)}, not an account record",
            processed=True,
            operation=operation,
            transport=transport,
        )
    personal = len(fields) >= 13
    tail = 7 if personal else 4  # fields after the signature, which may itself contain "/"
    signature = "/".join(fields[5 : len(fields) - tail])
    voice, fax, mms, agent, *details = fields[len(fields) - tail :]
    try:
        chars = int(fields[4])
    except ValueError:
        raise ProtocolError(
            f"{operation}: characters per SMS {_preview(fields[4])} is not a number",
            processed=True,
            operation=operation,
            transport=transport,
        ) from None
    company, contact, phone = details if personal else (None, None, None)
    return AccountInfo(
        uid=fields[1],
        balance=_decimal(fields[2], operation, transport),
        price=_decimal(fields[3], operation, transport),
        chars_per_sms=chars,
        signature=signature,
        voice_price=_decimal(voice, operation, transport),
        fax_price=_decimal(fax, operation, transport),
        mms_price=_decimal(mms, operation, transport),
        agent=agent,
        company=company,
        contact=contact,
        phone=phone,
    )


def _warn_malformed(operation: str, record: str) -> None:
    logger.warning(
        "%s: record %s does not have the documented layout; handed on with its raw text", operation, _preview(record)
    )


def _preview(value: str | None, limit: int = 80) -> str:
    if value is None:
        return "nothing"
    return repr(value if len(value) <= limit else value[:limit] + "…")
