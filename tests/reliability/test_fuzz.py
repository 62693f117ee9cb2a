"""Property tests: the decoder and the input rules take any string and answer with a result or a typed
error, never another exception; the sanitiser never lets a forbidden character through."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winic_soap import InputError, WinicError, decoding
from winic_soap.recipients import domestic_numbers, international_numbers
from winic_soap.text import FORBIDDEN, sanitize, segments

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# answers shaped like the service's, mixed with arbitrary text
piece = st.one_of(
    st.text(max_size=30), st.sampled_from(["/", "|", "000", "null", "-03", " ", "\n", "2015-10-8 12:06:56"])
)
answers = st.one_of(st.none(), st.text(max_size=300), st.lists(piece, max_size=40).map("".join))
DECODERS = [
    decoding.decode_message_id,
    decoding.decode_replies,
    decoding.decode_reports,
    decoding.decode_account,
    decoding.decode_ack,
    decoding.check,
]


@FUZZ
@given(answers)
def test_decoders_answer_or_raise_typed(raw: str | None) -> None:
    for decoder in DECODERS:
        with contextlib.suppress(WinicError):
            decoder("Op", raw)


@FUZZ
@given(answers)
def test_pulled_records_are_never_dropped(raw: str | None) -> None:
    try:
        replies = decoding.decode_replies("GET_SMS_MO", raw)
    except WinicError:
        return
    assert raw is not None or replies == []
    if raw is not None and not decoding.is_empty(raw.strip()):
        # whitespace around the whole answer is padding (the document's samples have it), not content
        stripped = raw.strip().replace("\r", "").replace("\n", "")
        records = [r for r in stripped.split("|") if r and not r.isspace()]
        assert [r.raw for r in replies] == records


@FUZZ
@given(st.text(max_size=200))
def test_service_time_never_raises(text: str) -> None:
    decoding.parse_service_time(text)


@FUZZ
@given(st.text(max_size=200), st.booleans())
def test_sanitiser(text: str, strict: bool) -> None:
    try:
        clean = sanitize(text, strict=strict)
    except InputError as error:
        assert error.field == "text"
        return
    assert not FORBIDDEN & set(clean)
    assert len(clean) == len(text)
    assert not strict or clean == text
    assert segments(clean) >= 1


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=5))
def test_number_rules_answer_or_raise_typed(numbers: list[str]) -> None:
    for rule in (domestic_numbers, international_numbers):
        try:
            result = rule(numbers)
        except InputError as error:
            assert error.field.startswith("recipients")
            continue
        assert result and len(result) == len(set(result))
        assert all(n.isdigit() and n.isascii() for n in result)
