"""Settings as httpx2 options: the proxy (setting, else the environment as the standard library reads
it), pool limits, timeouts, the User-Agent, and the client built from them on a guarded transport."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2

from winic_soap._version import __version__
from winic_soap.config import Settings
from winic_soap.exceptions import ConfigurationError

__all__ = ["USER_AGENT", "build_client", "proxy_for"]

USER_AGENT = f"winic-soap/{__version__}"


def proxy_for(endpoint: str, settings: Settings) -> str | None:
    """The proxy for ``endpoint``: the ``proxy`` setting, else (``trust_env``) ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` / ``ALL_PROXY`` unless ``NO_PROXY`` names the host -- as the standard library reads them."""
    if settings.proxy is not None:
        return settings.proxy or None  # "" turns proxies off, also those in the environment
    if not settings.trust_env:
        return None
    parts = urlsplit(endpoint)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


@contextlib.contextmanager
def _proxy_checked() -> Iterator[None]:
    """httpx2 raises a bare ValueError for a proxy it cannot use (one from ``HTTPS_PROXY`` is checked only
    here); its message shows the URL, which may hold the proxy's password: ours does not."""
    try:
        yield
    except ValueError:
        raise ConfigurationError(
            "the proxy (setting or HTTP(S)_PROXY/ALL_PROXY) cannot be used: use http:// or https://"
        ) from None
    except ImportError:  # httpx2 wants the optional socksio package for socks5:// proxies
        raise ConfigurationError(
            "a socks5:// proxy needs the socksio package (pip install socksio); or use an http(s):// proxy"
        ) from None


def build_client(client_class: type[Any], transport_class: type[Any], settings: Settings, **guards: Any) -> Any:
    """A ``client_class`` (httpx2's sync or async client) on a ``transport_class`` (a guarded transport,
    given ``guards``) from ``settings``: its proxy, pool and timeouts; no redirect followed (a send
    re-posted elsewhere is a second send), the environment read once, here, not again by httpx2."""
    limits = httpx2.Limits(
        max_connections=settings.pool_size,
        max_keepalive_connections=settings.pool_size,
        keepalive_expiry=settings.keepalive_expiry,
    )
    with _proxy_checked():
        transport = transport_class(limits=limits, trust_env=settings.trust_env, **guards)
    return client_class(
        transport=transport,
        trust_env=False,  # the environment was read for the transport we built
        follow_redirects=False,
        timeout=httpx2.Timeout(settings.timeout, connect=min(settings.connect_timeout, settings.timeout)),
        headers={"User-Agent": USER_AGENT},
    )
