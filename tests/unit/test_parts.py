"""Parts as carriers count them: GSM-7 (160 septets in one SMS, 153 per part, extension characters two) and
UCS-2 (70/67 UTF-16 code units, an emoji two) for international sends, the service's 70/67 characters for
domestic ones, and which characters forced UCS-2; through ``count_parts``, ``estimate`` and the CLI dry run."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import CostEstimate, PartsInfo, count_parts, estimate_cost, segments
from winic_soap.mock import MockService

# 3GPP TS 23.038 §6.2.1, "GSM 7 bit Default Alphabet", column by column (0x00-0x0F, 0x10-0x1F, ...); ESC
# (0x1B) is the escape to the extension table, not a character of its own. The same grid is printed in
# modem manuals (Siemens MC55 / AC75 AT command sets, "Figure 1.1: Main character table of GSM 03.38
# alphabet") and in Unicode's mapping file GSM0338.TXT.
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# §6.2.1.1, the extension table: form feed (page break), ^ { } \ [ ~ ] | and the euro sign, two septets each
# (Moxa OnCell G3111 manual, appendix F: "the following characters count as two characters: { } [ ] ~ | \
# and the Euro symbol ... prefaced by the escape code (0x1B)").
EXTENSION = "\f^{}\\[~]|€"


def test_the_alphabet_is_the_published_one() -> None:
    assert len(DEFAULT_ALPHABET) == 127 and len(set(DEFAULT_ALPHABET)) == 127
    for code in range(0x20, 0x3100):
        char = chr(code)
        counted = count_parts(char, international=True)
        if char in DEFAULT_ALPHABET:
            assert (counted.encoding, counted.units) == ("GSM-7", 1), repr(char)
        elif char in EXTENSION:
            assert (counted.encoding, counted.units) == ("GSM-7", 2), repr(char)
        else:
            assert (counted.encoding, counted.units, counted.ucs2_because) == ("UCS-2", 1, (char,)), repr(char)
    assert count_parts("\n\r\f", international=True) == PartsInfo("GSM-7", 1, 4, 153)


EMOJI = "\N{GRINNING FACE}"
# (text, encoding, units, parts, what forced UCS-2). Sources: Twilio's glossary "What is the SMS character
# limit?" (160 GSM-7 in one, 153 per part; 70 UCS-2 in one, 67 per part) and its segment calculator's rule
# that a 161-character GSM-7 text is two segments; Telnyx's "Message encoding" docs (an emoji takes 4 bytes
# and counts as 2 characters of UTF-16); Messangi's send reference (a 150-character text with an emoji is 3
# segments); Twilio's docs on escape characters (a part never splits the escape from its character).
TABLE = [
    ("a" * 160, "GSM-7", 160, 1, ()),
    ("a" * 161, "GSM-7", 161, 2, ()),  # Twilio: one over the single-segment limit is two segments
    ("a" * 306, "GSM-7", 306, 2, ()),
    ("a" * 307, "GSM-7", 307, 3, ()),
    ("€" * 80, "GSM-7", 160, 1, ()),  # each extension character is two septets
    ("€" * 81, "GSM-7", 162, 2, ()),
    ("a" * 159 + "^", "GSM-7", 161, 2, ()),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, ()),  # the escape pair moves whole to part two
    ("Ca coute 5 €", "GSM-7", 13, 1, ()),
    ("Ça coûte 5 €", "UCS-2", 12, 1, ("û",)),  # û is not in the alphabet (ù and ü are)
    ("你好" * 35, "UCS-2", 70, 1, ("你", "好")),
    ("你好" * 35 + "!", "UCS-2", 71, 2, ("你", "好")),
    (EMOJI * 35, "UCS-2", 70, 1, (EMOJI,)),  # Telnyx: an emoji counts as 2
    (EMOJI * 36, "UCS-2", 72, 2, (EMOJI,)),
    ("a" * 66 + EMOJI + "a" * 66, "UCS-2", 134, 3, (EMOJI,)),  # a surrogate pair is never split
    ("a" * 149 + EMOJI, "UCS-2", 151, 3, (EMOJI,)),  # Messangi: 150 characters with an emoji, 3 segments
    ("Hello \u201cworld\u201d \u2014 see you", "UCS-2", 23, 1, ("\u201c", "\u201d", "\u2014")),  # curly quotes
]


@pytest.mark.parametrize(("text", "encoding", "units", "parts", "because"), TABLE, ids=range(len(TABLE)))
def test_international_parts_as_carriers_count_them(
    text: str, encoding: str, units: int, parts: int, because: tuple[str, ...]
) -> None:
    counted = count_parts(text, international=True)
    assert (counted.encoding, counted.units, counted.parts, counted.ucs2_because) == (encoding, units, parts, because)
    assert counted.per_part == (153 if encoding == "GSM-7" else 67)
    assert segments(text, international=True) == parts


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 70, 1), ("a" * 71, 2), ("字" * 134, 2), ("字" * 135, 3), (EMOJI * 70, 1), ("€" * 71, 2)],
)
def test_domestic_parts_keep_the_service_rule(text: str, parts: int) -> None:
    """docs/protocol.md, limits: 70 characters in one SMS, 67 per part, whatever the characters (the service's
    documented rule, not the carriers')."""
    counted = count_parts(text)
    assert (counted.encoding, counted.units, counted.parts, counted.ucs2_because) == ("chars", len(text), parts, ())
    assert segments(text) == parts


def test_the_signature_is_billed_and_can_force_ucs2() -> None:
    counted = count_parts("a" * 150, signature="【中正云通信】", international=True)
    assert (counted.encoding, counted.units, counted.parts) == ("UCS-2", 157, 3)
    assert counted.ucs2_because == ("【", "中", "正", "云", "通", "信", "】")
    assert count_parts("Hi [Acme]", signature="[Acme]", international=True).units == 11  # already in the text
    price = Decimal("0.05")
    assert estimate_cost("a" * 161, 10, price=price, international=True) == Decimal("1.00")
    assert estimate_cost("a" * 161, 10, price=price) == Decimal("1.50")


def test_estimate_counts_international_parts_with_the_accounts_signature(
    make_client: MakeClient, winic_mock: MockService
) -> None:
    winic_mock.state.accounts["demo"].signature = "[Acme]"
    client = make_client()
    estimate = client.estimate(["447400123456"], "Your code is $123 " + "x" * 130, international=True)
    # the service's own rule converts $ to full width first, and that character forces UCS-2
    assert estimate.counted == PartsInfo("UCS-2", 3, 154, 67, ("＄",))
    assert (estimate.recipients, estimate.parts, estimate.cost) == (1, 3, estimate.price * 3)
    plain = client.estimate(2, "Your code is 123 " + "x" * 130, international=True)
    assert plain.counted == PartsInfo("GSM-7", 1, 155, 153) and plain.messages == 2  # [ and ] count 2
    domestic = client.estimate(["13800138000"], "Your code is 123 " + "x" * 130)
    assert domestic.counted == PartsInfo("chars", 3, 153, 67) and domestic.parts == 3
    assert [e.operation for e in winic_mock.ledger] == ["GetUserInfo"] * 3  # nothing sent


def test_the_cli_dry_run_says_how_parts_were_counted(winic_mock: MockService, tmp_path: Path) -> None:
    env = cli_env(winic_mock.url, tmp_path)
    text = "See you at 5 " + EMOJI + " " + "x" * 60
    shown = run_cli(env, "send", "--international", "447400123456", "-m", text, "--dry-run", "--price", "0.1")
    assert shown.returncode == 0, shown.stderr
    assert "parts        2 per recipient" in shown.stdout
    assert f"counted      UCS-2: 76 UTF-16 units, 67 per part of a long text; UCS-2 because of {EMOJI}" in shown.stdout
    data = json.loads(
        run_cli(
            env, "send", "--international", "447400123456", "-m", "a" * 161, "--dry-run", "--price", "1", "--json"
        ).stdout
    )
    assert (data["encoding"], data["units"], data["parts"], data["ucs2_because"], data["estimated_cost"]) == (
        "GSM-7", 161, 2, [], "2"
    )  # fmt: skip
    asked = run_cli(env, "send", "13800138000", "-m", "字" * 100, "--dry-run")  # price and signature asked
    assert "counted      the service's rule: 70 characters in one SMS, 67 per part" in asked.stdout
    assert winic_mock.ledger and {e.operation for e in winic_mock.ledger} == {"GetUserInfo"}


def test_the_async_client_estimates_the_same(winic_mock: MockService) -> None:
    from winic_soap import AsyncWinicClient

    async def run() -> tuple[CostEstimate, CostEstimate]:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            info = await client.account()
            return (
                await client.estimate(["12015550123"], "a" * 161, account=info, international=True),
                await client.estimate(3, "a" * 161, account=info),
            )

    international, domestic = asyncio.run(run())
    assert international.counted is not None and international.counted.encoding == "UCS-2"  # the signature's 【
    assert (international.parts, domestic.parts) == (3, 3)  # 161 + the 7 characters of 【中正云通信】
    assert domestic.counted == PartsInfo("chars", 3, 168, 67)
