"""The demo itself: the main job end to end against the bundled mock, in one run, offline. The
``winic-soap demo`` command (:mod:`winic_soap.cli.demo`) only calls :func:`run_demo`: the CLI imports the
library, never the reverse."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from winic_soap.client import WinicClient
from winic_soap.exceptions import SendOutcomeUnknown
from winic_soap.mock import Account, MockService
from winic_soap.retry import RetryPolicy

__all__ = ["run_demo"]

UID, PWD = "demo", "demo-secret"


def run_demo(out: Callable[[str], None] = print) -> int:
    """Walk through send, account, reports, replies, HTTP POST and a lost reply; return the exit code."""
    with MockService([Account(UID, PWD, balance=Decimal("10"))]) as mock:
        out(f"mock service      {mock.url}  (account {UID}, balance 10)")
        with WinicClient(UID, PWD, endpoint=mock.url, transport="soap11") as client:
            out("\n== SOAP 1.1 ==")
            receipt = client.send(["13800138000", "+86 139-0013-9000"], "验证码 123456，5 分钟内有效")
            out(
                f"send              message id {receipt.message_id} to {', '.join(receipt.recipients)}"
                f" ({receipt.parts} part each)"
            )
            info = client.account()
            out(f"account           balance {info.balance} at {info.price} per part, signature {info.signature}")
            for report in client.reports():
                out(f"report            {report.message_id} {report.mobile} {report.status} at {report.at}")
            mock.add_reply("13800138000", "收到，谢谢/OK", port="001")
            for reply in client.replies():
                out(f"reply             from {reply.mobile} on port {reply.port}: {reply.text}")
            out(
                f"pull again        {len(client.reports())} reports, {len(client.replies())} replies "
                "(pulls are destructive: each record is handed out once)"
            )

        with WinicClient(UID, PWD, endpoint=mock.url, transport="http-post") as client:
            out("\n== HTTP POST (same client API, one setting changed) ==")
            receipt = client.send("13700137000", "订单 42 已发货")
            out(f"send              message id {receipt.message_id}")
            out(f"account           balance {client.account().balance}")
            out(f"reports           {[(r.mobile, r.status) for r in client.reports()]}")

        with WinicClient(UID, PWD, endpoint=mock.url, retry=RetryPolicy(sleep=lambda _s: None)) as client:
            out("\n== a reply lost after the service processed the send ==")
            mock.fail("close_after", operation="SendMessages")
            try:
                client.send("13600136000", "告警：磁盘将满")
            except SendOutcomeUnknown as unknown:
                sends = len(mock.calls("SendMessages"))
                out(f"outcome unknown   {unknown}")
                out(f"mock ledger       {sends} SendMessages processed in all; the lost one was not repeated")
            else:
                out("unexpected: the send did not report an unknown outcome")
                return 1
        out("\ndemo finished: no account, no network needed")
    return 0
