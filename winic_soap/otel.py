"""OpenTelemetry for the client (``pip install winic-soap[otel]``): the hooks docs/client.md's recipe uses.
The only module that imports opentelemetry, and only when it is imported itself: nothing else loads it.

- :func:`record_attempt`, for ``hooks=``: each attempt's outcome, as an event on the span current where
  the attempt ran (the operation's span: the client carries the context into bulk worker threads and
  tasks), and the error status when the call's last attempt failed.
- :func:`url_without_query` / :func:`async_url_without_query`, for ``HTTPX2ClientInstrumentor``'s
  ``request_hook`` / ``async_request_hook``: the instrumentation records each request's URL, and over
  HTTP GET its query carries ``pwd=``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from winic_soap.events import CallEvent
from winic_soap.redaction import url_for_log

__all__ = ["async_url_without_query", "record_attempt", "url_without_query"]

_URL_ATTRIBUTES = ("url.full", "http.url")  # the stable and the old semantic conventions


def record_attempt(event: CallEvent) -> None:
    """A ``hooks=`` entry: the attempt on the current span (an event named ``winic OPERATION``)."""
    span = trace.get_current_span()
    attributes: dict[str, str | int] = {
        "winic.operation": event.operation,
        "winic.transport": event.transport,
        "winic.attempt": event.attempt,
        "winic.outcome": event.outcome,
    }
    if event.message_id:
        attributes["winic.message_id"] = event.message_id
    span.add_event(f"winic {event.operation}", attributes)
    if event.outcome != "ok" and event.retry_in is None:  # no retry follows: the call fails with this
        span.set_status(trace.StatusCode.ERROR, event.outcome)


def url_without_query(span: trace.Span, request: Any) -> None:
    """``request_hook`` for sync clients: the request's URL on its span without the query string (and
    without user info: a proxy-style ``user:password@`` never reaches a trace backend either)."""
    url = url_for_log(str(request.url))
    for key in _URL_ATTRIBUTES:
        span.set_attribute(key, url)


async def async_url_without_query(span: trace.Span, request: Any) -> None:
    """``async_request_hook`` for async clients (the instrumentation awaits it): the same."""
    url_without_query(span, request)
