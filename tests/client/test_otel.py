"""OpenTelemetry with the real SDK and an in-memory exporter, as docs/client.md's recipe wires it: what
opentelemetry-instrumentation-httpx ships for httpx2 gives one CLIENT span per HTTP request, under the
span that is current around the call (one per operation), and winic_soap.otel's hook puts each attempt's
outcome on that span. Bulk sends' requests, on worker threads or asyncio tasks, are parented to the
send's span; the request hooks keep HTTP GET's ``pwd=`` out of span URLs."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, StatusCode

from winic_soap import AsyncWinicClient, RetryPolicy, WinicClient
from winic_soap.mock import MockService
from winic_soap.otel import async_url_without_query, record_attempt, url_without_query

NUMBERS = [f"1380013{i:04d}" for i in range(350)]  # four requests of at most 100


class Spans:
    """A tracer provider of our own (the global one is left alone) and what it exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    @property
    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        [span] = [s for s in self.finished if s.name == name]
        return span

    @staticmethod
    def event_values(span: ReadableSpan, key: str) -> list[object]:
        """``key`` on each event of ``span`` (winic_soap.otel adds one event per attempt)."""
        values: list[object] = []
        for event in span.events:
            assert event.attributes is not None, f"event {event.name!r} has no attributes"
            values.append(event.attributes[key])
        return values

    def requests_under(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [
            s
            for s in self.finished
            if s.kind is SpanKind.CLIENT and s.parent is not None and s.parent.span_id == parent.context.span_id
        ]


@pytest.fixture
def spans() -> Iterator[Spans]:
    made = Spans()
    yield made
    made.provider.shutdown()


@pytest.fixture
def instrumented(spans: Spans) -> Iterator[None]:
    """``HTTPX2ClientInstrumentor().instrument()``: every httpx2 client, the one our client builds included."""
    instrumentor = HTTPX2ClientInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def test_one_client_span_per_request_under_each_operation(
    instrumented: None, spans: Spans, winic_mock: MockService
) -> None:
    winic_mock.fail("http503", operation="GetUserInfo")  # a read: retried once, two requests
    retry = RetryPolicy(sleep=lambda _: None)
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[record_attempt], retry=retry) as client:
        with spans.tracer.start_as_current_span("send"):
            receipt = client.send("13800138000", "traced")
        with spans.tracer.start_as_current_span("account"):
            client.account()
    send, account = spans.named("send"), spans.named("account")
    [request] = spans.requests_under(send)
    attributes = dict(request.attributes or {})
    url = str(attributes.get("url.full", attributes.get("http.url")))  # by the semantic conventions chosen
    assert request.name == "POST" and url.endswith("/Service.asmx")
    assert spans.event_values(send, "winic.message_id") == [receipt.message_id]
    assert len(spans.requests_under(account)) == 2  # one CLIENT span per HTTP request, the retry's included
    assert spans.event_values(account, "winic.outcome") == ["HTTPStatusError", "ok"]
    assert account.status.status_code is StatusCode.UNSET
    assert len([s for s in spans.finished if s.kind is SpanKind.CLIENT]) == len(winic_mock.ledger) == 3
    assert "demo-secret" not in repr([(s.attributes, s.events) for s in spans.finished])  # SOAP: no password in a URL


def test_a_failed_call_marks_its_span(instrumented: None, spans: Spans, winic_mock: MockService) -> None:
    from winic_soap import AuthenticationError

    client = WinicClient("demo", "wrong", endpoint=winic_mock.url, hooks=[record_attempt])
    with client, spans.tracer.start_as_current_span("account"), pytest.raises(AuthenticationError):
        client.account()
    account = spans.named("account")
    assert account.status.status_code is StatusCode.ERROR and len(spans.requests_under(account)) == 1


def test_bulk_send_on_threads_is_parented_to_the_send(
    instrumented: None, spans: Spans, winic_mock: MockService
) -> None:
    client = WinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[record_attempt])
    with client, spans.tracer.start_as_current_span("bulk send"):
        receipt = client.send(NUMBERS, "bulk", concurrency=4)
    send = spans.named("bulk send")
    requests = spans.requests_under(send)
    assert len(requests) == len(receipt.submissions) == len(winic_mock.ledger) == 4
    assert {s.context.trace_id for s in spans.finished} == {send.context.trace_id}  # one trace, no orphan
    assert Counter(spans.event_values(send, "winic.message_id")) == Counter(receipt.message_ids)  # in any order


def test_bulk_send_on_tasks_with_a_client_you_hand_in(spans: Spans, winic_mock: MockService) -> None:
    """``HTTPX2ClientInstrumentor.instrument_client`` on your own ``httpx2.AsyncClient``: the async shell's
    batches run as tasks, which carry the send's span."""

    async def main() -> tuple[Any, int]:
        async with httpx2.AsyncClient() as http:
            HTTPX2ClientInstrumentor.instrument_client(
                http, tracer_provider=spans.provider, request_hook=async_url_without_query
            )
            client = AsyncWinicClient(
                "demo", "demo-secret", endpoint=winic_mock.url, http_client=http, hooks=[record_attempt]
            )
            try:
                with spans.tracer.start_as_current_span("bulk send"):
                    receipt = await client.send(NUMBERS, "bulk", concurrency=4)
                with spans.tracer.start_as_current_span("replies"):
                    await client.replies()
            finally:
                await client.aclose()
            return receipt, len(winic_mock.ledger)

    receipt, requests = asyncio.run(main())
    send = spans.named("bulk send")
    assert len(spans.requests_under(send)) == len(receipt.submissions) == 4
    assert len(spans.requests_under(spans.named("replies"))) == 1 and requests == 5
    assert len(send.events) == 4 and {s.context.trace_id for s in spans.requests_under(send)} == {send.context.trace_id}


@pytest.mark.parametrize("hook", [url_without_query, None])
def test_http_get_urls_in_spans(
    hook: Callable[[Span, Any], None] | None, spans: Spans, winic_mock: MockService
) -> None:
    """The instrumentation records the URL it is given: over HTTP GET docs/client.md's hook keeps ``pwd=`` out."""
    with httpx2.Client() as http:
        HTTPX2ClientInstrumentor.instrument_client(http, tracer_provider=spans.provider, request_hook=hook)
        with WinicClient("demo", "demo-secret", endpoint=winic_mock.url, transport="http-get", http_client=http) as c:
            c.account()
    [request] = [s for s in spans.finished if s.kind is SpanKind.CLIENT]
    assert ("demo-secret" in repr(request.attributes)) is (hook is None)


def test_async_http_get_urls_in_spans(spans: Spans, winic_mock: MockService) -> None:
    async def main() -> None:
        async with httpx2.AsyncClient() as http:
            HTTPX2ClientInstrumentor.instrument_client(
                http, tracer_provider=spans.provider, request_hook=async_url_without_query
            )
            url = winic_mock.url
            async with AsyncWinicClient(
                "demo", "demo-secret", endpoint=url, transport="http-get", http_client=http
            ) as c:
                await c.account()

    asyncio.run(main())
    [request] = [s for s in spans.finished if s.kind is SpanKind.CLIENT]
    assert "demo-secret" not in repr(request.attributes) and "GetUserInfo" in repr(request.attributes)


def test_otel_hooks_are_safe_without_a_span(winic_mock: MockService) -> None:
    """No SDK, no current span: the hook records on the non-recording span and the call is unaffected."""
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url, hooks=[record_attempt]) as client:
        assert client.account().uid == "demo"
