"""The ``/_mock/`` JSON API: how a test written in another language (PHP, Java, a shell script) scripts
faults and replies, reads the ledger and resets the fake service over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from winic_soap.mock import protocol
from winic_soap.mock.faults import FaultPlan
from winic_soap.mock.state import MockState

__all__ = ["AdminAPI"]

_JSON = "application/json"


class AdminAPI:
    """``GET ledger|stats``, ``POST fail|reply|status|reset`` with a JSON object body; 400 on bad input."""

    def __init__(self, state: MockState, faults: FaultPlan, stats: Callable[[], dict[str, int]]) -> None:
        self.state = state
        self.faults = faults
        self.stats = stats

    def handle(self, method: str, action: str, body: bytes) -> protocol.Response:
        """Answer one admin request; ``action`` is the lower-cased path after ``/_mock/``."""
        try:
            data = json.loads(body or b"{}") if method == "POST" else {}
            if method == "GET" and action == "ledger":
                result: Any = [e.as_dict() for e in self.state.entries()]
            elif method == "GET" and action == "stats":
                result = {**self.stats(), "sends": len(self.state.sends)}
            elif method == "POST" and action == "fail":
                result = {"kind": self.faults.script(**data).kind}
            elif method == "POST" and action == "reply":
                uid = data.pop("uid", None) or self.state.only_uid()
                self.state.add_reply(uid, data.pop("mobile"), data.pop("text"), **data)
                result = {"queued": 1}
            elif method == "POST" and action == "status":
                self.state.script_status(data["mobile"], data["status"])
                result = {"ok": True}
            elif method == "POST" and action == "reset":
                self.faults.clear()
                self.state.reset()
                result = {"ok": True}
            else:
                return protocol.render_html_error(404)
        except (ValueError, KeyError, TypeError) as exc:
            return protocol.Response(400, _JSON, json.dumps({"error": str(exc)}).encode())
        return protocol.Response(200, _JSON, json.dumps(result, default=str).encode())
