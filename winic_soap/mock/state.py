"""The fake service's business state: accounts, sends, billing, pending reports and replies, the ledger.

Everything here is protocol-free and thread-safe, and imports nothing else of the mock: it is the core the
shells (``routing`` and ``admin``, then ``wire`` and ``transport``) import, never the reverse.
Rules follow docs/protocol.md (operations, answers, error codes); where the live service is unknown the choice is noted.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from winic_soap.numbering import calling_code

__all__ = [
    "SECRET_PARAMS",
    "Account",
    "LedgerEntry",
    "MockState",
    "PendingReply",
    "PendingReport",
    "SentMessage",
    "segments",
    "service_now",
]

SECRET_PARAMS = frozenset({"pwd", "newpwd"})
_MASK = "***"
_CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991.
_DOMESTIC = re.compile(r"1[3-9]\d{9}")
_INTERNATIONAL = re.compile(r"[1-9]\d{6,14}")
_FORBIDDEN = frozenset("%$&#*")
_EXTNO = re.compile(r"\d{1,10}")
_OTIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
MAX_RECIPIENTS = 100
FOUR_PLACES = Decimal("0.0001")


def service_now() -> datetime:
    """The service's wall clock: naive local time in Asia/Shanghai (UTC+8)."""
    return datetime.now(_CHINA).replace(tzinfo=None)


def segments(text: str, chars_per_sms: int = 70) -> int:
    """Billed parts of a text: one up to ``chars_per_sms`` characters, else parts of ``chars_per_sms - 3``."""
    if len(text) <= chars_per_sms:
        return 1
    return math.ceil(len(text) / (chars_per_sms - 3))


def _service_time(moment: datetime) -> str:
    """``yyyy-M-d H:mm:ss``: the service's unpadded timestamp layout."""
    return f"{moment.year}-{moment.month}-{moment.day} {moment.hour}:{moment.minute:02d}:{moment.second:02d}"


def _money(value: Decimal) -> str:
    return str(value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP))


@dataclass
class Account:
    """A service account. ``allowed_ips`` empty means any client address may use it."""

    uid: str
    pwd: str
    balance: Decimal = Decimal("100")
    price: Decimal = Decimal("0.1")
    chars_per_sms: int = 70
    signature: str = "【中正云通信】"
    voice_price: Decimal = Decimal("0.2")
    fax_price: Decimal = Decimal("0.3")
    mms_price: Decimal = Decimal("0.3")
    agent: str = "winic"
    company: str = ""
    contact: str = ""
    phone: str = ""
    allowed_ips: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.balance = Decimal(self.balance)
        self.price = Decimal(self.price)

    def __repr__(self) -> str:  # the password never shows
        return f"Account(uid={self.uid!r}, balance={_money(self.balance)})"


@dataclass(frozen=True)
class SentMessage:
    """One accepted send, as the service recorded it."""

    message_id: str
    uid: str
    operation: str
    recipients: tuple[str, ...]
    text: str
    extno: str
    scheduled: datetime | None
    accepted_at: datetime
    parts: int
    cost: Decimal


@dataclass(frozen=True)
class PendingReport:
    """A delivery report waiting for ``SMS_Reports``; handed out once ``available_at`` has passed."""

    message_id: str
    uid: str
    mobile: str
    status: str
    available_at: datetime


@dataclass(frozen=True)
class PendingReply:
    """A mobile-originated reply waiting for ``GET_SMS_MO`` / ``GET_SMS_MO_Ext``."""

    uid: str
    mobile: str
    text: str
    port: str
    received_at: datetime


@dataclass(frozen=True)
class LedgerEntry:
    """One request that reached an operation. Secrets are masked; ``processed`` is False when a fault
    answered in place of the service (the operation had no effect)."""

    seq: int
    operation: str
    transport: str
    params: Mapping[str, str | None]
    answer: str | None
    processed: bool
    fault: str | None
    client_ip: str
    started_at: float = 0.0  # time.monotonic() when the request reached the service, before any scripted latency
    finished_at: float = 0.0  # time.monotonic() when its answer was decided

    @property
    def at(self) -> float:
        """When the answer was decided (``finished_at``); kept for code written before the interval existed."""
        return self.finished_at

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "operation": self.operation,
            "transport": self.transport,
            "params": dict(self.params),
            "answer": self.answer,
            "processed": self.processed,
            "fault": self.fault,
            "client_ip": self.client_ip,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "at": self.finished_at,
        }


def mask(params: Mapping[str, str | None]) -> dict[str, str | None]:
    """A copy of request parameters with passwords replaced."""
    return {k: (_MASK if k in SECRET_PARAMS and v else v) for k, v in params.items()}


class _Reject(Exception):
    """Internal: a business rule answered an error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


Handler = Callable[["MockState", dict[str, str | None], str], str | None]


class MockState:
    """All business state of one fake service, guarded by one lock."""

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        *,
        clock: Callable[[], datetime] = service_now,
        pull_limit: int | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.clock = clock
        self.pull_limit = pull_limit
        self._initial = [replace(a) for a in accounts]
        self._seq = itertools.count(1)
        self.reset()

    # -- administration -------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the accounts given at construction; all sends, queues and the ledger cleared."""
        with self._lock:
            self.accounts: dict[str, Account] = {a.uid: replace(a) for a in self._initial}
            self.sends: list[SentMessage] = []
            self.ledger: list[LedgerEntry] = []
            self._reports: list[PendingReport] = []
            self._replies: list[PendingReply] = []
            self._statuses: dict[str, str] = {}
            self._id_counter = itertools.count(1)

    def add_account(self, account: Account) -> None:
        with self._lock:
            self.accounts[account.uid] = account

    def add_reply(self, uid: str, mobile: str, text: str, port: str = "001", at: datetime | None = None) -> None:
        """Queue a reply from ``mobile`` for ``uid``, as if a handset had answered."""
        with self._lock:
            self._replies.append(PendingReply(uid, mobile, text, port, at or self.clock()))

    def add_report(self, uid: str, message_id: str, mobile: str, status: str, at: datetime | None = None) -> None:
        """Queue a delivery report by hand, as an operator's gateway may send one: an in-transit status
        (``ENROUTE``), a late final one, or a repeat of one already handed out."""
        with self._lock:
            self._reports.append(PendingReport(message_id, uid, mobile, status, at or self.clock()))

    def script_status(self, mobile: str, status: str) -> None:
        """Future delivery reports for ``mobile`` carry ``status`` (e.g. ``UNDELIV``) instead of ``DELIVRD``."""
        with self._lock:
            self._statuses[mobile] = status

    def only_uid(self) -> str:
        """The uid of the single account; a ValueError when there are several (the caller must name one)."""
        with self._lock:
            uids = list(self.accounts)
        if len(uids) != 1:
            raise ValueError("several accounts: pass uid=")
        return uids[0]

    def entries(self) -> list[LedgerEntry]:
        """A snapshot of the ledger, safe to read while requests are being served."""
        with self._lock:
            return list(self.ledger)

    def pending_reports(self) -> list[PendingReport]:
        with self._lock:
            return list(self._reports)

    def pending_replies(self) -> list[PendingReply]:
        with self._lock:
            return list(self._replies)

    def record(
        self,
        operation: str,
        transport: str,
        params: Mapping[str, str | None],
        answer: str | None,
        *,
        processed: bool,
        fault: str | None,
        client_ip: str,
        started_at: float | None = None,
    ) -> None:
        """Append a ledger entry; ``started_at`` is when the request arrived (default: now)."""
        finished_at = time.monotonic()
        with self._lock:
            self.ledger.append(
                LedgerEntry(
                    next(self._seq),
                    operation,
                    transport,
                    mask(params),
                    answer,
                    processed,
                    fault,
                    client_ip,
                    finished_at if started_at is None else started_at,
                    finished_at,
                )
            )

    # -- the service ----------------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, str | None], client_ip: str = "127.0.0.1") -> str | None:
        """Run one operation as the service would and return its answer string."""
        handler = _HANDLERS.get(operation, _unsupported)
        values = dict(params)
        with self._lock:
            try:
                return handler(self, values, client_ip)
            except _Reject as rejected:
                return rejected.code

    def _login(self, params: Mapping[str, str | None], client_ip: str) -> Account:
        uid, pwd = params.get("uid") or "", params.get("pwd") or ""
        if not uid or not pwd:
            raise _Reject("-14")
        account = self.accounts.get(uid)
        if account is None:
            raise _Reject("-02")
        if account.pwd != pwd:
            raise _Reject("-03")
        if account.allowed_ips and client_ip not in account.allowed_ips:
            raise _Reject("-110")
        return account

    def _parse_otime(self, raw: str) -> datetime | None:
        if not raw.strip():
            return None
        for layout in _OTIME_FORMATS:
            try:
                return datetime.strptime(raw.strip(), layout)
            except ValueError:
                continue
        raise _Reject("-04")

    def _new_id(self, now: datetime) -> str:
        """``MMddHHmmss`` and a 6-digit sequence: the shape of the service's ids (e.g. 0106120218011881)."""
        stamp = f"{now.month:02d}{now.day:02d}{now.hour:02d}{now.minute:02d}{now.second:02d}"
        return f"{stamp}{next(self._id_counter) % 1_000_000:06d}"

    def _send(self, operation: str, params: dict[str, str | None], client_ip: str, *, international: bool) -> str:
        account = self._login(params, client_ip)
        tos, msg = params.get("tos") or "", params.get("msg") or ""
        extno = params.get("extno") or ""
        if not tos.strip() or not msg:
            raise _Reject("-04")
        if _FORBIDDEN.intersection(msg):
            raise _Reject("-04")
        if operation == "SendMessages_Ext" and not _EXTNO.fullmatch(extno):
            raise _Reject("-04")
        scheduled = self._parse_otime(params.get("otime") or "")
        numbers = [n.strip() for n in tos.split(",") if n.strip()]
        if len(numbers) > MAX_RECIPIENTS:
            raise _Reject("-10")
        if international:
            if any(n.startswith("+") for n in numbers):
                raise _Reject("-08")
            codes = {calling_code(n) if _INTERNATIONAL.fullmatch(n) else None for n in numbers}
            if None in codes:
                raise _Reject("-05")
            if len(codes) > 1:  # one country per request (the document's rule), told by calling code
                raise _Reject("-04")
        elif not all(_DOMESTIC.fullmatch(n) for n in numbers):
            raise _Reject("-05")
        billed = msg if account.signature and account.signature in msg else msg + account.signature
        parts = segments(billed, account.chars_per_sms)
        cost = account.price * len(numbers) * parts
        if cost > account.balance:
            raise _Reject("-01")
        account.balance -= cost
        now = self.clock()
        message_id = self._new_id(now)
        self.sends.append(
            SentMessage(message_id, account.uid, operation, tuple(numbers), msg, extno, scheduled, now, parts, cost)
        )
        ready = max(now, scheduled) if scheduled else now
        for number in numbers:
            status = self._statuses.get(number, "DELIVRD")
            self._reports.append(PendingReport(message_id, account.uid, number, status, ready))
        return message_id

    def _pull_reports(self, params: dict[str, str | None], client_ip: str) -> str:
        account = self._login(params, client_ip)
        now = self.clock()
        taken = [r for r in self._reports if r.uid == account.uid and r.available_at <= now]
        taken = taken[: self.pull_limit] if self.pull_limit else taken
        if not taken:
            return "null"
        ids = {id(r) for r in taken}
        self._reports = [r for r in self._reports if id(r) not in ids]
        return "".join(f"{r.message_id}/{r.uid}/{r.mobile}/{r.status}/{_service_time(r.available_at)}|" for r in taken)

    def _pull_replies(self, params: dict[str, str | None], client_ip: str, port: str) -> str:
        account = self._login(params, client_ip)
        taken = [r for r in self._replies if r.uid == account.uid and (not port or r.port == port)]
        taken = taken[: self.pull_limit] if self.pull_limit else taken
        if not taken:
            return "null"
        ids = {id(r) for r in taken}
        self._replies = [r for r in self._replies if id(r) not in ids]
        return "".join(f"{r.mobile}/{r.text}/{r.port}/{_service_time(r.received_at)}|" for r in taken)

    def _user_info(self, params: dict[str, str | None], client_ip: str, *, personal: bool) -> str:
        a = self._login(params, client_ip)
        fields = [
            "000",
            a.uid,
            _money(a.balance),
            _money(a.price),
            str(a.chars_per_sms),
            a.signature,
            _money(a.voice_price),
            _money(a.fax_price),
            _money(a.mms_price),
            a.agent,
        ]
        if personal:
            fields += [a.company, a.contact, a.phone]
        return "/".join(fields)

    def _register(self, params: dict[str, str | None], client_ip: str) -> str:
        uid, pwd = params.get("uid") or "", params.get("pwd") or ""
        if not uid or not pwd:
            raise _Reject("-14")
        agent = params.get("agent_code") or ""
        if agent and agent not in self.accounts:
            raise _Reject("-02")  # for registration -02 names a missing parent (agent) account
        if uid in self.accounts:
            raise _Reject("-12")  # the document gives no code for a taken name; "other error"
        mob = params.get("mob") or ""
        if mob and not _DOMESTIC.fullmatch(mob):
            raise _Reject("-05")
        self.accounts[uid] = Account(
            uid=uid,
            pwd=pwd,
            balance=Decimal("0"),
            agent=agent or "winic",
            company=params.get("co_name") or "",
            contact=params.get("link_man") or "",
            phone=mob,
        )
        return "000"

    def _edit_pwd(self, params: dict[str, str | None], client_ip: str) -> str:
        account = self._login(params, client_ip)
        new = params.get("newpwd") or ""
        if not new:
            raise _Reject("-04")
        account.pwd = new
        return "000"

    def _message_record(self, params: dict[str, str | None], client_ip: str) -> str:
        """``GetMessageRecord``: the live layout is unknown; the mock lists ``id/numbers/text/time|``."""
        account = self._login(params, client_ip)
        start = self._record_day(params.get("StartDate") or "", end=False) or datetime.min
        end = self._record_day(params.get("EndDate") or "", end=True) or datetime.max
        rows = [s for s in self.sends if s.uid == account.uid and start <= s.accepted_at <= end]
        if not rows:
            return "null"
        return "".join(
            f"{s.message_id}/{','.join(s.recipients)}/{s.text}/{_service_time(s.accepted_at)}|" for s in rows
        )

    def _record_day(self, raw: str, *, end: bool) -> datetime | None:
        """A ``GetMessageRecord`` bound: a date alone is accepted, as .NET's ``DateTime.Parse`` accepts it
        (as ``EndDate`` it covers that whole day); else a time as ``otime`` takes it."""
        for layout in ("%Y-%m-%d", "%Y/%m/%d"):
            try:
                day = datetime.strptime(raw.strip(), layout)
            except ValueError:
                continue
            return day + timedelta(days=1, microseconds=-1) if end else day
        return self._parse_otime(raw)

    def _message_info(self, params: dict[str, str | None], client_ip: str) -> str:
        """``GetMessageInfo(snum)``: status of one send, ``id/uid/count/time`` (layout unknown live)."""
        wanted = params.get("snum") or ""
        if not wanted:
            raise _Reject("-04")
        for s in self.sends:
            if s.message_id == wanted:
                return f"{s.message_id}/{s.uid}/{len(s.recipients)}/{_service_time(s.accepted_at)}"
        return "null"


def _unsupported(state: MockState, params: dict[str, str | None], client_ip: str) -> str:
    """Operations the WSDL declares but the mock does not model (voice calls, MMS tests): ``-12``."""
    return "-12"


_HANDLERS: dict[str, Handler] = {
    "SendMessages": lambda s, p, ip: s._send("SendMessages", p, ip, international=False),
    "SendMessages_Ext": lambda s, p, ip: s._send("SendMessages_Ext", p, ip, international=False),
    "SendInternationalMessages": lambda s, p, ip: s._send("SendInternationalMessages", p, ip, international=True),
    "GET_SMS_MO": lambda s, p, ip: s._pull_replies(p, ip, p.get("IDtype") or ""),
    "GET_MSP_MO": lambda s, p, ip: s._pull_replies(p, ip, p.get("IDtype") or ""),
    "GET_SMS_MO_Ext": lambda s, p, ip: s._pull_replies(p, ip, ""),
    "SMS_Reports": MockState._pull_reports,
    "GetUserInfo": lambda s, p, ip: s._user_info(p, ip, personal=False),
    "GetUserInfo_": lambda s, p, ip: s._user_info(p, ip, personal=True),
    "RegineUser_": MockState._register,
    "RegineUser": MockState._register,
    "EditUserPwd": MockState._edit_pwd,
    "GetMessageRecord": MockState._message_record,
    "GetMessageInfo": MockState._message_info,
}
