"""The HTTP client of webhook deliveries: POSTs on the same guarded stack as the service calls, each
bounded as a whole, cut at once from another thread, their URLs (which may carry a token) in no log line."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import httpx2

from winic_soap.config import Settings
from winic_soap.exceptions import ClientClosedError
from winic_soap.http.attempt import Attempt, current
from winic_soap.http.connection import IdleBounds
from winic_soap.http.errors import CAUGHT, map_error
from winic_soap.http.options import build_client, proxy_for
from winic_soap.http.stack import GuardedTransport
from winic_soap.http.tls import LazyTLS, ssl_context
from winic_soap.redaction import url_for_log

__all__ = ["WebhookClient"]


class WebhookClient:
    """POSTs to one webhook endpoint on the guarded network stack the service calls use: each POST bounded as a
    whole by its ``timeout`` (a receiver that trickles or never answers is cut at the deadline), and
    :meth:`interrupt`, from another thread, ends the POST under way at once. The settings' proxy for the URL,
    CA bundle, client certificate and pool apply; no redirect is followed (a 3xx is not an acknowledgement)."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.url = url
        tls = LazyTLS(lambda: ssl_context(settings))
        tls.build_now()  # a bad CA or certificate file fails here, not at the first POST
        self._client: httpx2.Client = build_client(
            httpx2.Client, GuardedTransport, settings, tls=tls, bounds=IdleBounds(), proxy=proxy_for(url, settings)
        )
        self._lock = threading.Lock()
        self._attempt: Attempt | None = None
        self._interrupted = False

    def __repr__(self) -> str:
        return f"WebhookClient({url_for_log(self.url)!r})"

    def post(self, content: bytes, headers: Mapping[str, str], *, timeout: float, keep: int = 65536) -> int:
        """POST ``content`` within ``timeout`` seconds in all and return the answer's status; every failure
        (the deadline, an interruption) raises our typed error. The answer's body is read up to ``keep``
        bytes (so the connection is reused), and a longer one is dropped unread."""
        attempt = Attempt(time.monotonic() + timeout, traced=True, private_urls=True)
        with self._lock:
            if self._interrupted:
                raise ClientClosedError("the webhook client was interrupted; nothing was sent")
            self._attempt = attempt
        token = current.set(attempt)
        try:
            with self._client.stream("POST", self.url, content=content, headers=dict(headers)) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read > keep:
                        break
                return response.status_code
        except CAUGHT as exc:
            raise map_error(exc, sending=attempt.may_have_sent, new_tls=attempt.new_tls) from None
        finally:
            current.reset(token)
            with self._lock:
                self._attempt = None

    def interrupt(self) -> None:
        """From another thread: cut the POST under way (its connection is shut down) and refuse later ones."""
        with self._lock:
            self._interrupted = True
            attempt = self._attempt
        if attempt is not None:
            attempt.interrupt()

    def close(self) -> None:
        """Close the connections (the pool)."""
        self._client.close()
