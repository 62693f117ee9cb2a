"""TLS from settings: the context (``verify``: system CAs, a CA file or folder, or a context), the client
certificate for mutual TLS (an encrypted key never prompts), and the lazy build that spares an
``http://`` endpoint the CA bundle's load."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from winic_soap.config import Settings
from winic_soap.exceptions import ConfigurationError

__all__ = ["LazyTLS", "ssl_context", "tls_configured"]


def ssl_context(settings: Settings, verify: bool | str | ssl.SSLContext | None = None) -> ssl.SSLContext:
    """TLS settings as one context: ``verify`` (True, False, a CA file or folder, or a context) and the
    client certificate ``cert`` (+ ``cert_key``) for services behind mutual TLS."""
    verify = settings.verify if verify is None else verify
    try:
        if isinstance(verify, ssl.SSLContext):
            context = verify
        elif isinstance(verify, str):
            folder = Path(verify).is_dir()
            context = ssl.create_default_context(cafile=None if folder else verify, capath=verify if folder else None)
        else:
            context = httpx2.create_ssl_context(verify=verify, trust_env=settings.trust_env)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"verify: the CA bundle {verify!r} cannot be read ({type(exc).__name__}: {exc.strerror or exc})"
        ) from None
    if settings.cert:
        _load_client_certificate(context, settings)
    return context


def tls_configured(settings: Settings, verify: Any) -> bool:
    """Whether TLS was configured on purpose (a CA file, a client certificate): then its files are
    checked at construction even for an ``http://`` endpoint, which otherwise never builds a context."""
    return bool(settings.cert) or isinstance(settings.verify, str) or not isinstance(verify, bool | None)


class _NoPassword(Exception):
    """OpenSSL asked for the key's password and none was set (instead of prompting on the terminal)."""


def _no_password() -> bytes:
    raise _NoPassword


def _encrypted(path: str) -> bool:
    """Whether a PEM file holds an encrypted private key (PKCS#8 or the older Proc-Type header)."""
    try:
        with open(path, "rb") as file:
            head = file.read(1 << 20)
    except OSError:
        return False
    return b"ENCRYPTED" in head


def _load_client_certificate(context: ssl.SSLContext, settings: Settings) -> None:
    """``cert`` (+ ``cert_key``) into ``context``; an encrypted key is opened with ``cert_password``. A
    password is always handed to OpenSSL (a callable refusing when none is set), so it never prompts."""
    assert settings.cert is not None
    named = f"{settings.cert!r}" + (f" with key {settings.cert_key!r}" if settings.cert_key else "")
    try:
        context.load_cert_chain(settings.cert, settings.cert_key or None, settings.cert_password or _no_password)
    except _NoPassword:
        raise ConfigurationError(
            f"cert: the private key of {named} is encrypted: set cert_password (or WINIC_CERT_PASSWORD)"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        if settings.cert_password and _encrypted(settings.cert_key or settings.cert):
            raise ConfigurationError(f"cert: cert_password does not open the private key of {named}") from None
        raise ConfigurationError(
            f"cert: the client certificate {named} cannot be loaded: it must be PEM with its key "
            f"(or the key in cert_key) ({type(exc).__name__}: {exc.strerror or exc})"
        ) from None


class LazyTLS:
    """One wire's TLS context, built at its first TLS handshake: ``ssl.create_default_context`` loads the CA
    bundle (tens of ms), which an ``http://`` endpoint never needs. httpx2 gets a bare placeholder context;
    the guarded streams swap it for the real one in ``start_tls``."""

    __slots__ = ("_build", "_context", "_lock", "placeholder")

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self.placeholder = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies against no CA: useless alone
        self._build = build
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def resolve(self, context: ssl.SSLContext) -> ssl.SSLContext:
        """The context to use instead of ``context``: ours for the placeholder, else ``context`` itself."""
        if context is not self.placeholder:
            return context  # a proxy's own context, or one httpcore2 made
        with self._lock:
            if self._context is None:
                built = self._build()
                built.set_alpn_protocols(["http/1.1"])  # what httpcore2 sets on the context it was given
                self._context = built
            return self._context

    def build_now(self) -> None:
        """Build the context at once: a bad CA or certificate file fails at construction, not at a send."""
        self.resolve(self.placeholder)

    def forked(self) -> None:
        self._lock = threading.Lock()  # a parent's thread may have held it at fork()
