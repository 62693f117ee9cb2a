"""Typed results of the service's operations: values, safe to log (they carry no secrets). Their times
(``SendReceipt.scheduled_at``, ``Reply.received_at``, ``DeliveryReport.at``) are aware, in the service's
zone (:data:`SERVICE_TZ`, +08:00)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

__all__ = [
    "SERVICE_TZ",
    "AccountInfo",
    "CostEstimate",
    "DeliveryReport",
    "OperationInfo",
    "PartsInfo",
    "Problem",
    "Reply",
    "SendReceipt",
    "Submission",
    "Suppressed",
    "service_time",
]

# The service's clock is Asia/Shanghai, +08:00 without DST since 1991: a fixed offset needs no tzdata
# (absent on Windows and slim images), and it is exact for every time the service can send.
SERVICE_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def service_time(at: datetime) -> datetime:
    """``at`` as an aware service time: a naive ``at`` means Asia/Shanghai, an aware one is converted."""
    return at.replace(tzinfo=SERVICE_TZ) if at.tzinfo is None else at.astimezone(SERVICE_TZ)


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad item of a list: where it is (``label``: ``recipients[3]``, or ``line 12`` of a file), its
    position (the index, or the line number), the value as given and the rule it breaks."""

    label: str
    position: int
    value: object
    rule: str

    def __str__(self) -> str:
        return f"{self.label} {self.value!r}: {self.rule}"


class Submission:
    """One request the service accepted: its 16-digit ``message_id`` (None when an old service answered
    the legacy ``000``) and the recipients it carried (at most 100). The numbers are kept as one string, as
    they went on the wire: a receipt of a million recipients holds 10,000 of these, not a million objects."""

    __slots__ = ("_numbers", "message_id")
    message_id: str | None
    _numbers: str

    def __init__(self, message_id: str | None, recipients: Iterable[str] | str) -> None:
        """``recipients``: the numbers, or as the wire carried them (one string, comma-separated)."""
        object.__setattr__(self, "message_id", message_id)
        object.__setattr__(self, "_numbers", recipients if isinstance(recipients, str) else ",".join(recipients))

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(self._numbers.split(",")) if self._numbers else ()

    @property
    def count(self) -> int:
        """How many recipients the request carried (without building their list)."""
        return self._numbers.count(",") + 1 if self._numbers else 0

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Submission is read-only: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Submission):
            return NotImplemented
        return (self.message_id, self._numbers) == (other.message_id, other._numbers)

    def __hash__(self) -> int:
        return hash((self.message_id, self._numbers))

    def __reduce__(self) -> tuple[object, ...]:
        return (Submission, (self.message_id, self.recipients))

    def __repr__(self) -> str:
        return f"Submission(message_id={self.message_id!r}, recipients={self.count})"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A number on the store's suppression list, and why: ``source`` is ``reply`` (the person replied an
    opt-out keyword: ``text``, ``record_id`` of the stored reply, ``at`` when they replied), ``manual`` or
    ``import`` (an operator; ``text`` is their note, ``at`` when they listed it)."""

    mobile: str
    source: str
    at: str
    text: str | None = None
    record_id: str | None = None

    @property
    def reason(self) -> str:
        """One line for people: why the number is not sent to."""
        if self.source == "reply":
            return f"replied {self.text!r} at {self.at} (record {self.record_id})"
        note = f": {self.text}" if self.text else ""
        return f"listed by an operator ({self.source}) at {self.at}{note}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "mobile": self.mobile,
            "source": self.source,
            "at": self.at,
            "text": self.text,
            "record_id": self.record_id,
        }


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What a send produced. Up to 100 recipients make one request; more are split into requests of at
    most 100, each with its own :class:`Submission` (and message id) in ``submissions``. ``skipped`` names
    the invalid numbers a ``skip_invalid=True`` send left out (position, value, rule); ``suppressed`` the
    numbers on the store's suppression list it left out, with why."""

    submissions: tuple[Submission, ...]
    operation: str
    transport: str
    text: str
    parts: int
    scheduled_at: datetime | None = None
    skipped: tuple[Problem, ...] = ()
    #: recipients left out because they are on the store's suppression list (opted out), with why
    suppressed: tuple[Suppressed, ...] = ()

    @property
    def message_id(self) -> str | None:
        """The id of the first (for up to 100 recipients, the only) request."""
        return self.submissions[0].message_id if self.submissions else None

    @property
    def message_ids(self) -> tuple[str | None, ...]:
        return tuple(s.message_id for s in self.submissions)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(n for s in self.submissions for n in s.recipients)

    @property
    def count(self) -> int:
        """How many recipients were sent to (without building their list)."""
        return sum(s.count for s in self.submissions)

    def __repr__(self) -> str:
        ids = [s.message_id for s in self.submissions[:3]]
        more = f" and {len(self.submissions) - 3} more" if len(self.submissions) > 3 else ""
        skipped = f", skipped={len(self.skipped)}" if self.skipped else ""
        skipped += f", suppressed={len(self.suppressed)}" if self.suppressed else ""
        at = f", scheduled_at={self.scheduled_at.isoformat()}" if self.scheduled_at else ""
        return (
            f"SendReceipt({self.operation} over {self.transport}: {self.count} recipient(s) in "
            f"{len(self.submissions)} request(s), message_ids={ids}{more}{skipped}{at})"
        )


# Reply and DeliveryReport come by the thousand from one pull: plain slotted dataclasses build about
# four times faster than frozen ones. Treat them as read-only values.
@dataclass(slots=True)
class Reply:
    """A mobile-originated reply from ``GET_SMS_MO`` / ``GET_SMS_MO_Ext``.

    ``received_at`` is aware service time (+08:00, Asia/Shanghai), None when the service's timestamp could not be
    read; ``raw`` is the record exactly as the service sent it, so nothing is ever lost to parsing.
    """

    mobile: str
    text: str
    port: str
    received_at: datetime | None
    raw: str = field(default="", compare=False)


@dataclass(slots=True)
class DeliveryReport:
    """A delivery report from ``SMS_Reports``: ``status`` is ``DELIVRD`` when delivered, else an operator code;
    ``at`` is aware service time (+08:00), None when unreadable."""

    message_id: str
    uid: str
    mobile: str
    status: str
    at: datetime | None
    raw: str = field(default="", compare=False)

    @property
    def delivered(self) -> bool:
        return self.status == "DELIVRD"


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """``GetUserInfo`` (10 fields) or ``GetUserInfo_`` (13 fields, with the personal details)."""

    uid: str
    balance: Decimal
    price: Decimal
    chars_per_sms: int
    signature: str
    voice_price: Decimal
    fax_price: Decimal
    mms_price: Decimal
    agent: str
    company: str | None = None
    contact: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class OperationInfo:
    """An operation the loaded WSDL offers, with its parameters in order."""

    name: str
    parameters: tuple[str, ...]
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class PartsInfo:
    """How a text is counted into billed parts: ``encoding`` (``GSM-7`` or ``UCS-2`` on international routes,
    ``chars`` for the service's domestic 70/67-characters rule), the ``units`` counted (septets, UTF-16 code
    units or characters), ``per_part`` of them in each part of a long text, and the characters that forced
    UCS-2 (each once, in order)."""

    encoding: str
    parts: int
    units: int
    per_part: int
    ucs2_because: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """What a send would cost before it is made: parts per recipient, billed messages, money."""

    recipients: int
    parts: int
    price: Decimal
    cost: Decimal
    balance: Decimal | None = None  # the account's balance when the estimate was made
    counted: PartsInfo | None = None  # how the parts were counted (encoding, units, what forced UCS-2)

    @property
    def messages(self) -> int:
        return self.recipients * self.parts

    @property
    def fits(self) -> bool | None:
        """Whether the balance covers the cost (None when the balance is unknown)."""
        return None if self.balance is None else self.cost <= self.balance
