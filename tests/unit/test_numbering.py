"""Numbers as the numbering plans have them (phonenumberslite's metadata): unassigned mainland prefixes and
impossible international numbers are refused before the wire with the reason, one country per international
send is told by region, and the mainland fast path is the library's own CN mobile pattern."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import InputError
from winic_soap.mock import MockService
from winic_soap.numbering import CN_MOBILE
from winic_soap.recipients import check_numbers


def test_the_fast_path_is_what_the_metadata_says_cn_mobiles_are() -> None:
    """A metadata update that adds (or drops) a mainland mobile prefix fails here: every 7-digit prefix
    (deeper than any the plan uses) is matched by both patterns alike."""
    cn = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert cn is not None and cn.mobile is not None and cn.mobile.national_number_pattern is not None
    assert tuple(cn.mobile.possible_length) == (11,)
    metadata = re.compile(cn.mobile.national_number_pattern, re.ASCII)
    for suffix in ("0000", "9999"):
        differ = [p for p in range(1_000_000, 2_000_000) if bool(CN_MOBILE.fullmatch(f"{p}{suffix}")) != bool(
            metadata.fullmatch(f"{p}{suffix}")
        )]  # fmt: skip
        assert differ == [], f"CN_MOBILE and the metadata part ways at {differ[:5]}"


MAINLAND = [  # (number, accepted, the reason's words when refused)
    ("13800138000", True, ""),
    ("14512345678", True, ""),
    ("16212345678", True, ""),
    ("16101234567", True, ""),  # 1610x: the one assigned range of 161
    ("17400123456", True, ""),  # 17400-17405: the assigned part of 174
    ("19912345678", True, ""),
    ("+86 138 0013 8000", True, ""),
    ("15412345678", False, "unassigned mainland mobile prefix 154"),
    ("16012345678", False, "unassigned mainland mobile prefix 160"),
    ("16112345678", False, "unassigned mainland mobile range 16112"),
    ("17406123456", False, "unassigned mainland mobile range 17406"),
    ("19412345678", False, "unassigned mainland mobile prefix 194"),
    ("14012345678", False, "unassigned mainland mobile prefix 140"),
    ("1381234567", False, "too short: 10 digits"),
    ("138001380001", False, "too long: 12 digits"),
    ("01012345678", False, "fixed-line number, not a mobile"),
    ("12345", False, "too short: 5 digits"),
    ("23456789012", False, "not a mainland China mobile number"),
    ("1380013800x", False, "not a mainland China mobile number"),
]


@pytest.mark.parametrize(("number", "accepted", "why"), MAINLAND, ids=[m[0] for m in MAINLAND])
def test_mainland_numbers_by_the_numbering_plan(
    make_client: MakeClient, winic_mock: MockService, number: str, accepted: bool, why: str
) -> None:
    client = make_client()
    if accepted:
        receipt = client.send(["13900139000", number], "x")
        assert receipt.recipients[-1] == re.sub(r"\D", "", number)[-11:]
        return
    with pytest.raises(InputError) as caught:
        client.send(["13900139000", number], "x")
    assert caught.value.field == "recipients[1]" and why in caught.value.rule
    assert [(p.label, p.position, p.value) for p in caught.value.problems] == [("recipients[1]", 1, number)]
    assert winic_mock.ledger == [] and winic_mock.connections_total == 0


INTERNATIONAL = [  # (number, region or None, the reason's words when refused)
    ("447400123456", "GB", ""),
    ("+33 6 12 34 56 78", "FR", ""),
    ("004915123456789", "DE", ""),
    ("819012345678", "JP", ""),
    ("12015550123", "US", ""),
    ("12423591234", "BS", ""),
    ("79123456789", "RU", ""),
    ("24740123", "AC", ""),  # Ascension: code 247, missing from the old hand-written table
    ("8613800138000", "CN", ""),
    ("4479111234", None, "a length no number of +44 (GB, GG, IM, JE) has (8 digits after +44)"),
    ("19999999999", None, "invalid for the region: +1 (US, AG, AI and 22 more) assigns no number like it"),
    ("2476001", None, "too short for the numbering plan of +247 (AC)"),
    ("999123456", None, "no country has this calling code"),
    ("8615412345678", None, "invalid for the region: +86 (CN)"),
    ("0212345678", None, "not an international number with a country code"),
]


@pytest.mark.parametrize(("number", "region", "why"), INTERNATIONAL, ids=[n[0] for n in INTERNATIONAL])
def test_international_numbers_by_region(
    make_client: MakeClient, winic_mock: MockService, number: str, region: str | None, why: str
) -> None:
    client = make_client()
    if region is not None:
        assert (
            phonenumbers.region_code_for_number(phonenumbers.parse("+" + re.sub(r"\D", "", number).lstrip("0")))
            == region
        )
        receipt = client.send_international(number, "x")  # the mock (a real socket) accepts it too
        assert receipt.recipients == (re.sub(r"\D", "", number).removeprefix("00"),)
        return
    with pytest.raises(InputError) as caught:
        client.send_international(number, "x")
    assert caught.value.field == "recipients[0]" and why in caught.value.rule, caught.value.rule
    assert winic_mock.ledger == [] and winic_mock.connections_total == 0


@pytest.mark.parametrize(
    ("numbers", "regions"),
    [
        (["12015550123", "12423591234"], "BS, US"),  # both +1: two countries
        (["12015550123", "15062345678"], "CA, US"),
        (["79123456789", "77710009998"], "KZ, RU"),  # both +7
        (["447400123456", "33612345678", "12015550123"], "FR, GB, US"),
        (["80012345678", "447400123456"], "\\+800, GB"),  # a non-geographic code is named by its code
    ],
)
def test_one_country_per_send_is_told_by_region(
    make_client: MakeClient, winic_mock: MockService, numbers: list[str], regions: str
) -> None:
    with pytest.raises(InputError, match=f"same country \\(found {regions}\\)") as caught:
        make_client().send_international(numbers, "x")
    assert caught.value.field == "recipients"
    assert winic_mock.ledger == [] and winic_mock.connections_total == 0


def test_one_region_of_many_numbers_is_one_country(make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [f"1201555{i:04d}" for i in range(120)]
    receipt = make_client().send_international(numbers, "x")
    assert [len(s.recipients) for s in receipt.submissions] == [100, 20]


def test_every_refused_number_is_named_with_its_reason_and_the_rest_can_go(
    make_client: MakeClient, winic_mock: MockService
) -> None:
    numbers = ["13800138000", "15412345678", "13900139000", "1381234567", "１３８００１３８００１"]
    with pytest.raises(InputError, match="2 of 5 invalid") as caught:
        make_client().send(numbers, "x")
    assert [(p.position, p.rule.split(" (")[0]) for p in caught.value.problems] == [
        (1, "unassigned mainland mobile prefix 154"),
        (3, "too short: 10 digits, a mainland mobile has 11"),
    ]
    receipt = make_client().send(numbers, "x", skip_invalid=True)
    assert receipt.recipients == ("13800138000", "13900139000", "13800138001")  # fullwidth digits made ASCII
    assert [p.position for p in receipt.skipped] == [1, 3]


def test_a_bulk_list_keeps_the_fast_path_and_names_the_odd_one() -> None:
    numbers = [f"13{3 + i % 7}{i:08d}" for i in range(60_000)]
    numbers[55_555] = "17412345678"
    checked = check_numbers(numbers, skip_invalid=True)
    assert len(checked.numbers) == 59_999
    assert [(p.position, p.rule) for p in checked.skipped] == [
        (55_555, "unassigned mainland mobile range 17412 (only part of 174 is assigned)")
    ]


PROBE = """
import json, sys
from winic_soap.recipients import check_numbers
check_numbers({numbers!r}, international={international!r}, skip_invalid=True)
print("LOADED " + json.dumps("phonenumbers" in sys.modules))
"""


@pytest.mark.parametrize(
    ("numbers", "international", "loads"),
    [
        (["13800138000", "+86 139-0013-9000", "１３８００１３８００１"], False, False),  # the fast path only
        (["13800138000", "15412345678"], False, False),  # an unassigned prefix: the pattern (a copy) says so
        (["13800138000", "01012345678"], False, True),  # a landline: the plan is asked what it is
        (["447400123456"], True, True),
    ],
)
def test_the_library_is_loaded_only_when_a_number_needs_it(
    numbers: list[str], international: bool, loads: bool
) -> None:
    code = PROBE.format(numbers=numbers, international=international)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.split("LOADED ")[-1]) is loads


def test_the_cli_names_the_line_and_the_reason(winic_mock: MockService, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("12015550123\n12423591234\n", encoding="utf-8")
    env = cli_env(winic_mock.url, tmp_path)
    mixed = run_cli(env, "send", "--international", "-f", str(numbers), "-m", "hi", "--no-record")
    assert mixed.returncode != 0 and "same country (found BS, US)" in mixed.stderr
    numbers.write_text("13800138000\n16012345678\n", encoding="utf-8")
    refused = run_cli(env, "send", "-f", str(numbers), "-m", "hi", "--no-record")
    assert refused.returncode != 0
    assert "line 2" in refused.stderr and "unassigned mainland mobile prefix 160" in refused.stderr
    assert winic_mock.ledger == []
