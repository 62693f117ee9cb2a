"""The small things operators trip on, through ``python -m winic_soap`` against the mock: ``wsdl diff``
guards a CI job (exit 11 on drift, 0 without), ``send --dry-run`` says whether the send fits the balance,
and a bulk send's progress bar (rate, time left) ends its line before an error is printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import cli_env, run_cli
from helpers.xpath import elements
from lxml import etree

from winic_soap.mock import Account, MockService

PACKAGED = Path(__file__).resolve().parents[2] / "wsdl_cache" / "Service.asmx.wsdl"
_WSDL = "http://schemas.xmlsoap.org/wsdl/"


def _without(operation: str, target: Path) -> Path:
    """A copy of the packaged WSDL with ``operation`` gone from its port types and bindings."""
    tree = etree.parse(str(PACKAGED))
    gone = elements(tree.getroot(), "//wsdl:operation[@name=$name]", namespaces={"wsdl": _WSDL}, name=operation)
    assert gone
    for element in gone:
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
    tree.write(str(target), xml_declaration=True, encoding="utf-8")
    return target


def _copy(target: Path) -> Path:
    target.write_bytes(PACKAGED.read_bytes())
    return target


DIFF_CASES: dict[str, tuple[Callable[[Path], Path], int, bool]] = {
    "the packaged copy itself": (lambda tmp: PACKAGED, 0, False),
    "a copy": (lambda tmp: _copy(tmp / "same.wsdl"), 0, False),
    "one operation removed": (lambda tmp: _without("TelCall", tmp / "drift.wsdl"), 11, True),
}


@pytest.mark.parametrize(("make", "code", "drift"), DIFF_CASES.values(), ids=DIFF_CASES.keys())
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_wsdl_diff_exit_code(  # noqa: PLR0917
    winic_mock: MockService, tmp_path: Path, make: Callable[[Path], Path], code: int, drift: bool, as_json: bool
) -> None:
    source = make(tmp_path)
    result = run_cli(cli_env(winic_mock.url, tmp_path), "wsdl", "diff", str(source), *(["--json"] if as_json else []))
    assert result.returncode == code, result.stdout + result.stderr
    if as_json:
        data = json.loads(result.stdout)
        assert data["drift"] is drift and data["removed"] == (["TelCall"] if drift else [])
    else:
        assert ("- TelCall" in result.stdout) is drift
        assert ("no differences" in result.stdout) is not drift


def test_wsdl_diff_of_the_live_wsdl(winic_mock: MockService, tmp_path: Path) -> None:
    """Against the mock's ?WSDL (the same operations): no drift, exit 0, fetched through the library."""
    result = run_cli(cli_env(winic_mock.url, tmp_path), "wsdl", "diff", f"{winic_mock.url}?WSDL")
    assert result.returncode == 0, result.stderr


DRY_RUNS = {
    # balance, recipients, text -> fits?   (price 0.1 per part, 70 characters per SMS with the signature)
    "fits": (Decimal("100"), 2, "验证码 123456", True),
    "exactly fits": (Decimal("0.2"), 2, "验证码 123456", True),
    "does not fit": (Decimal("0.05"), 2, "验证码 123456", False),
    "long text, too many parts": (Decimal("0.5"), 2, "字" * 200, False),
}


@pytest.mark.parametrize(("balance", "count", "text", "fits"), DRY_RUNS.values(), ids=DRY_RUNS.keys())
def test_dry_run_says_whether_it_fits(tmp_path: Path, balance: Decimal, count: int, text: str, fits: bool) -> None:
    numbers = [f"1380013800{i}" for i in range(count)]
    with MockService([Account("tiny", "tiny-secret", balance=balance)]) as mock:
        env = cli_env(mock.url, tmp_path, uid="tiny", pwd="tiny-secret")
        as_json = run_cli(env, "send", *numbers, "-m", text, "--dry-run", "--json")
        human = run_cli(env, "send", *numbers, "-m", text, "--dry-run")
        assert [e.operation for e in mock.ledger] == ["GetUserInfo", "GetUserInfo"]  # asked, nothing sent
        assert mock.state.sends == []
    assert as_json.returncode == 0 and human.returncode == 0, as_json.stderr + human.stderr
    data = json.loads(as_json.stdout)
    assert data["fits"] is fits and Decimal(data["balance"]) == balance
    cost = Decimal(data["estimated_cost"])
    assert (cost <= balance) is fits
    line = next(line for line in human.stdout.splitlines() if line.startswith("balance"))
    if fits:
        assert "the send fits" in line and str(balance - cost) in line
    else:
        assert "NOT enough" in line and f"{cost - balance} short" in line


def test_dry_run_with_price_does_not_ask(winic_mock: MockService, tmp_path: Path) -> None:
    result = run_cli(
        cli_env(winic_mock.url, tmp_path), "send", "13800138000", "-m", "hi", "--dry-run", "--price", "0.1"
    )
    assert result.returncode == 0 and "balance      not checked (--price given)" in result.stdout
    assert winic_mock.ledger == []


BULK_FAILURES: dict[str, tuple[dict[str, Any], int]] = {
    "balance runs out (-01)": ({"kind": "code", "code": "-01"}, 5),
    "answer lost (unknown outcome)": ({"kind": "close_after"}, 8),
    "error page (not processed)": (
        {
            "kind": "reply",
            "status": 500,
            "body": "System.InvalidOperationException: Missing parameter: tos.",
            "content_type": "text/plain",
        },
        7,
    ),
}


@pytest.mark.parametrize(("fault", "code"), BULK_FAILURES.values(), ids=BULK_FAILURES.keys())
def test_progress_bar_line_ends_before_the_error(
    winic_mock: MockService, tmp_path: Path, fault: dict[str, Any], code: int
) -> None:
    fault = dict(fault)
    winic_mock.fail(fault.pop("kind"), operation="SendMessages", every=2, times=1, **fault)  # the 2nd request fails
    numbers = "\n".join(f"138{i:08d}" for i in range(350))  # four requests
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", "-m", "bulk", "--progress", stdin=numbers)
    assert result.returncode == code, result.stderr
    bar, sep, after = result.stderr.partition("error: ")
    assert sep, result.stderr
    assert bar.endswith("\n"), repr(bar[-200:])  # the bar's line was ended: "error:" starts a line of its own
    last = bar.rstrip("\n").split("\r")[-1].splitlines()[-1]  # what the terminal shows last of the bar
    assert re.search(r"sending: .*1/4 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(?:req/s|s/req)\]", last), last
    assert "accepted" in after and "never attempted" in after
    assert len(winic_mock.state.sends) == (2 if code == 8 else 1)
