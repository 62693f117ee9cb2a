"""The HTTP layer, the only place that imports httpx2 (and httpcore2, anyio): what the client shells and
the webhook dispatcher use to move bytes. One job per module:

- ``options``: settings as httpx2 options (proxy, pool, timeouts, User-Agent) and the client built from them;
- ``tls``: the TLS context (CAs, client certificate), built lazily;
- ``attempt``: one attempt's phase and deadline, seen by every layer below httpx2;
- ``connection``: what each pooled connection learns (leftover bytes, its host's idle bound);
- ``stack``: the guarded network streams, backends and transports under httpx2's pools, sync and async;
- ``errors``: every httpx2 failure as our typed error, told apart by whether the request reached the server;
- ``probe``: the TLS probe telling a refused client certificate from a lost connection;
- ``bodies``: an answer's body, capped in memory or streamed to a file;
- ``fork``: the fork hook that renews every wire's pool in a child process;
- ``wires``: :class:`~winic_soap.http.wires.SyncWire` and ``AsyncWire``, one bounded attempt each;
- ``webhook``: :class:`~winic_soap.http.webhook.WebhookClient`, webhook POSTs on the same stack;
- ``logs``: the filter that keeps secrets out of httpx2's and httpcore2's log lines (installed here).
"""

from __future__ import annotations

from winic_soap.http import logs as _logs  # the filter is on httpx2's loggers before any request is made

__all__: list[str] = []

del _logs
