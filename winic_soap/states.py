"""The states a stored record, batch or delivery can be in, each a ``Literal`` type defined once here, so that
mypy catches a typo'd state in a signature or a dataclass; the tuples beside them are the same sets at run time
(the store's ``CHECK`` constraints list them too, and a test holds the two equal). Imports nothing."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "BATCH_SOURCES",
    "BATCH_STATES",
    "RECORD_KINDS",
    "RECORD_STATES",
    "SUPPRESSION_SOURCES",
    "BatchSource",
    "BatchState",
    "FailedAs",
    "RecordKind",
    "RecordState",
    "Released",
    "SuppressionSource",
]

#: an inbox record (and one webhook delivery of it): ``pending`` until handed on, then ``done``; ``dead`` after
#: its last failed hand-off (or delivery attempt)
RecordState = Literal["pending", "done", "dead"]
RECORD_STATES: tuple[RecordState, ...] = get_args(RecordState)

#: what an inbox record holds: a delivery report (``SMS_Reports``) or a reply (``GET_SMS_MO``)
RecordKind = Literal["report", "reply"]
RECORD_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)

#: a failed hand-off or delivery released its record: ``pending`` again or ``dead``; ``lost`` when the caller
#: no longer held its lease, ``gone`` when the record is no longer there
Released = Literal["pending", "dead", "lost", "gone"]

#: one request of a journalled job. ``new``: never attempted; ``sending``: written before the request and
#: nothing known since (in flight, or its worker died); ``accepted``: the service answered a message id (or
#: reports proved it did); ``failed``: the service refused it (a code) or it provably never left; ``unknown``:
#: it may have been processed, so it is never sent again
BatchState = Literal["new", "sending", "accepted", "failed", "unknown"]
BATCH_STATES: tuple[BatchState, ...] = get_args(BatchState)

#: how a request that got no message id is journalled: ``failed`` (safe to send again) or ``unknown``
FailedAs = Literal["failed", "unknown"]

#: who said a batch was accepted: the send's answer, or ``reports`` that proved an unknown batch went out
BatchSource = Literal["send", "reports"]
BATCH_SOURCES: tuple[BatchSource, ...] = get_args(BatchSource)

#: how a number got on (or off) the opt-out list: a reply asking to stop, by hand, or imported from a file
SuppressionSource = Literal["reply", "manual", "import"]
SUPPRESSION_SOURCES: tuple[SuppressionSource, ...] = get_args(SuppressionSource)
