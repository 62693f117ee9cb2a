"""Input is the same on all four transports: Unicode digits become ASCII before numbers are checked and
de-duplicated, characters no transport may carry (control characters, noncharacters) and texts with
nothing visible are refused before the wire, a carriage return arrives as written, ``max_parts`` caps a
text's length, and a value of the wrong type is an :class:`InputError`, never a ``TypeError``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import TRANSPORTS, MakeClient

from winic_soap import AsyncWinicClient, InputError, Settings, WinicClient
from winic_soap.mock import MockService

SENDS: dict[str, tuple[Callable[[WinicClient], Any], tuple[str, ...]]] = {
    # what the caller wrote, and what the service must receive
    "fullwidth digits": (lambda c: c.send("13８00１38000", "hi"), ("13800138000",)),
    "fullwidth plus and digits": (lambda c: c.send("＋８６ 138-0013-8000", "hi"), ("13800138000",)),
    "Arabic-Indic digits": (lambda c: c.send("١٣٨٠٠١٣٨٠٠٠", "hi"), ("13800138000",)),
    "one number written twice": (
        lambda c: c.send(["13800138000", "13８00138000", "１３９００１３９０００"], "hi"),
        ("13800138000", "13900139000"),
    ),
    "international fullwidth": (
        lambda c: c.send_international(["＋４４ 7911 123456", "447911123456"], "hi"),
        ("447911123456",),
    ),
}
REFUSED_TEXTS = {
    "escape": "color \x1b[31mred",
    "bell": "ding \x07",
    "NUL": "a\x00b",
    "C1 next line": "a\x85b",
    "noncharacter FFFE": "a\ufffeb",
    "noncharacter FDD0": "a\ufdd0b",
    "zero-width only": "\u200b\u200c\u200d",
    "word joiner and spaces": " \u2060 \ufeff ",
    "ideographic space only": "\u3000\u3000",
}
REFUSED_NUMBERS: dict[str, Callable[[WinicClient], Any]] = {
    "Chinese numeral": lambda c: c.send("1380013800零", "hi"),
    "non-ASCII letter": lambda c: c.send("13800138000ß", "hi"),
    "Roman numeral": lambda c: c.send("138001380Ⅻ", "hi"),  # NFKC makes it XII: letters
    "an int": lambda c: c.send(13800138000, "hi"),  # type: ignore[arg-type]  # the wrong type is the test
    "a list of ints": lambda c: c.send([13800138000, 13900139000], "hi"),  # type: ignore[list-item]  # the wrong type is the test
    "bytes": lambda c: c.send(b"13800138000", "hi"),  # type: ignore[arg-type]  # the wrong type is the test
    "international letters": lambda c: c.send_international("44791112345Ｘ", "hi"),
}


def _nothing_sent(mock: MockService) -> None:
    assert mock.ledger == [] and mock.state.sends == []
    assert mock.connections_total == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", SENDS, ids=SENDS.keys())
def test_unicode_digits_reach_the_service_as_ascii(
    make_client: MakeClient, winic_mock: MockService, transport: str, case: str
) -> None:
    send, expected = SENDS[case]
    receipt = send(make_client(transport))
    assert receipt.recipients == expected
    assert [s.recipients for s in winic_mock.state.sends] == [expected]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("text", REFUSED_TEXTS.values(), ids=REFUSED_TEXTS.keys())
def test_texts_no_transport_may_carry(
    make_client: MakeClient, winic_mock: MockService, transport: str, text: str
) -> None:
    client: WinicClient = make_client(transport)
    with pytest.raises(InputError) as caught:
        client.send("13800138000", text)
    assert caught.value.field == "text" and caught.value.rule
    with pytest.raises(InputError):
        client.send_international("447911123456", text)
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", REFUSED_NUMBERS, ids=REFUSED_NUMBERS.keys())
def test_numbers_that_are_not_digits(
    make_client: MakeClient, winic_mock: MockService, transport: str, case: str
) -> None:
    with pytest.raises(InputError) as caught:
        REFUSED_NUMBERS[case](make_client(transport))
    assert caught.value.field.startswith("recipients")
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_control_characters_in_any_value(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    client: WinicClient = make_client(transport)
    calls: list[tuple[str, Callable[[], object]]] = [
        ("newpwd", lambda: client.change_password("new\x1bpw")),
        ("StartDate", lambda: client.call("GetMessageRecord", num="1", StartDate="2026\x07")),
        ("co_name", lambda: client.register("u2", "pw", company="AC\x00ME", contact="Li", mobile="13800138000")),
    ]
    for field, call in calls:
        with pytest.raises(InputError) as caught:
            call()
        assert caught.value.field == field and "control character" in caught.value.rule
        assert ("U+" in caught.value.rule) == (field != "newpwd")  # nothing of a password is told
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_carriage_return_arrives_as_written(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    text = "第一行\r\n第二行\r第三行\n\tend"
    make_client(transport).send("13800138000", text)
    assert [s.text for s in winic_mock.state.sends] == [text]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_port_digits_are_made_ascii(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    client: WinicClient = make_client(transport)
    winic_mock.add_reply("13800138000", "好的", port="001")
    replies = client.replies(port="００１")
    assert [r.port for r in replies] == ["001"]
    assert winic_mock.calls("GET_SMS_MO")[-1].params["IDtype"] == "001"
    with pytest.raises(InputError) as caught:
        client.replies(port="00一")
    assert caught.value.field == "port"
    assert len(winic_mock.calls("GET_SMS_MO")) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_max_parts(make_client: MakeClient, winic_mock: MockService, transport: str) -> None:
    eleven_parts = "字" * (67 * 10 + 1)
    with pytest.raises(InputError) as caught:
        make_client(transport).send("13800138000", eleven_parts)
    assert caught.value.field == "text" and "11 parts" in caught.value.rule and "max_parts=10" in caught.value.rule
    with pytest.raises(InputError, match="100000 characters"):
        make_client(transport).send("13800138000", "x" * 100_000)
    _nothing_sent(winic_mock)
    with pytest.raises(InputError, match="3 parts"):
        make_client(transport, max_parts=2).send("13800138000", "字" * 140)
    make_client(transport, max_parts=11).send("13800138000", eleven_parts)
    assert [s.parts for s in winic_mock.state.sends] == [11]


def test_max_parts_from_the_environment_and_the_file(winic_mock: MockService, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_parts = 1\n", encoding="utf-8")
    env = {"HOME": str(tmp_path), "WINIC_MAX_PARTS": "2"}
    assert Settings.load(config=config, env=env).max_parts == 2
    assert Settings.load(config=config, env={"HOME": str(tmp_path)}).max_parts == 1
    settings = Settings.load(config=config, env={"HOME": str(tmp_path)}, uid="demo", pwd="demo-secret")
    with (
        WinicClient(settings=settings, endpoint=winic_mock.url) as client,
        pytest.raises(InputError, match="more than max_parts=1"),
    ):
        client.send("13800138000", "x" * 71)
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "ten"])
def test_max_parts_must_be_a_whole_number(bad: object, tmp_path: Path) -> None:
    from winic_soap import ConfigurationError

    with pytest.raises(ConfigurationError, match="max_parts"):
        Settings(max_parts=bad)  # type: ignore[arg-type]  # the wrong type is the test
    with pytest.raises(ConfigurationError, match="max_parts"):
        Settings.load(config=None, env={"HOME": str(tmp_path), "WINIC_MAX_PARTS": str(bad)})


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_async_client_applies_the_same_rules(winic_mock: MockService, transport: str) -> None:
    async def run() -> None:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, transport=transport) as client:
            for text in ("a\x1bb", "\u200b", "字" * 700):
                with pytest.raises(InputError):
                    await client.send("13800138000", text)
            with pytest.raises(InputError):
                await client.send(13800138000, "hi")  # type: ignore[arg-type]  # the wrong type is the test
            assert winic_mock.ledger == []
            receipt = await client.send(["13８00138000", "13800138000"], "a\r\nb")
            assert receipt.recipients == ("13800138000",)

    asyncio.run(run())
    assert [(s.recipients, s.text) for s in winic_mock.state.sends] == [(("13800138000",), "a\r\nb")]
