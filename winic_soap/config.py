"""Settings: credentials, endpoint, transport, timeouts and retry budget, from arguments > ``WINIC_*``
environment > a TOML file (with profiles for several accounts)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from winic_soap.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENV_PREFIX",
    "TRANSPORTS",
    "Settings",
    "default_config_path",
    "default_store_path",
    "default_store_url",
    "default_wsdl_cache_path",
]

DEFAULT_ENDPOINT = "http://service2.winic.org/Service.asmx"
TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")
ENV_PREFIX = "WINIC_"


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _url(value: str, name: str) -> SplitResult:
    """``value`` split, its port read: urllib raises ValueError only when asked for a broken host or port,
    which would otherwise surface at the first call (or, out of range, connect somewhere else)."""
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a usable URL: {exc}") from None
    return parts


def default_config_path(env: Mapping[str, str] = os.environ) -> Path:
    """``$WINIC_CONFIG``, else ``$XDG_CONFIG_HOME/winic-soap/config.toml`` (``~/.config`` by default)."""
    if env.get("WINIC_CONFIG"):
        return Path(env["WINIC_CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "winic-soap" / "config.toml"


def default_store_path(env: Mapping[str, str] = os.environ) -> Path:
    """The watcher's and CLI's SQLite inbox: ``$WINIC_STORE``, else ``$XDG_STATE_HOME/winic-soap/inbox.sqlite3``."""
    if env.get("WINIC_STORE"):
        return Path(env["WINIC_STORE"]).expanduser()
    base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "winic-soap" / "inbox.sqlite3"


def default_store_url(env: Mapping[str, str] = os.environ) -> str:
    """The store's URL: ``$WINIC_STORE`` as given (a URL or a bare path), else the default SQLite file."""
    if env.get("WINIC_STORE"):
        return env["WINIC_STORE"]
    base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return str(base / "winic-soap" / "inbox.sqlite3")


def default_wsdl_cache_path(env: Mapping[str, str] = os.environ) -> Path:
    """Where ``winic-soap wsdl refresh`` keeps the live WSDL: ``$XDG_CACHE_HOME/winic-soap/Service.asmx.wsdl``."""
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "winic-soap" / "Service.asmx.wsdl"


@dataclass(frozen=True)
class Settings:
    """Everything a client needs. ``pwd`` never shows in ``repr``."""

    uid: str = ""
    pwd: str = field(default="", repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    transport: str = "soap11"
    wsdl: str | None = None  # None: the packaged copy; else a path or the live ``?WSDL`` URL
    connect_timeout: float = 5.0
    timeout: float = 30.0  # per operation: no call waits longer than this for its answer
    deadline: float = 60.0  # total time a read may spend across retries
    max_attempts: int = 4
    backoff: float = 0.25  # first retry wait (jittered, doubling)
    backoff_max: float = 5.0
    pool_size: int = 10
    keepalive_expiry: float = 5.0  # an idle pooled connection is dropped well before IIS (or a middlebox) may
    verify: bool | str = True  # TLS certificate check, or a CA file/folder (an ssl.SSLContext: client argument)
    cert: str | None = None  # client certificate (PEM) for mutual TLS; its key in it or in ``cert_key``
    cert_key: str | None = None
    proxy: str | None = field(
        default=None, repr=False
    )  # http(s)://[user:pass@]host:port; None: HTTP(S)_PROXY/NO_PROXY; "": none at all
    trust_env: bool = True  # read proxies and SSL_CERT_FILE/SSL_CERT_DIR from the environment
    strict_text: bool = False  # True: raise on % $ & # * instead of converting them to full width
    max_parts: int = 10  # a longer text (in billed parts per recipient) is refused before it is sent
    max_response_bytes: int = 16 * 1024 * 1024
    store: str | None = None  # the store's URL (sqlite:///path, postgresql://...) or a bare path; None: default
    max_handoffs: int = 5  # failed hand-offs of a stored record before it moves to the dead letters
    retention: str = "30d"  # watch purges records handed on (and jobs finished) longer ago; "off" keeps all
    # replies that put their number on the store's suppression list / take it off; None: the defaults
    # (winic_soap.store.suppression); WINIC_OPT_OUT_KEYWORDS="退订,TD,STOP" or a TOML list
    opt_out_keywords: tuple[str, ...] | None = None
    opt_in_keywords: tuple[str, ...] | None = None
    intermediate_statuses: tuple[str, ...] | None = None  # reports in transit (store.settle); None: ENROUTE, ACCEPTD

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ConfigurationError(f"transport must be one of {', '.join(TRANSPORTS)}, not {self.transport!r}")
        if not self.endpoint.isascii():
            raise ConfigurationError("endpoint must be ASCII (IDNA-encode a non-ASCII host name)")
        parts = _url(self.endpoint, "endpoint")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"endpoint must be an http(s) URL like {DEFAULT_ENDPOINT}, not {self.endpoint!r}")
        if parts.username or parts.password:
            raise ConfigurationError("endpoint must not embed credentials; pass uid and pwd")
        if self.proxy:  # never echoed: a proxy URL may carry the proxy's own password
            proxy = _url(self.proxy, "proxy")
            if proxy.scheme not in _PROXY_SCHEMES or not proxy.hostname:
                raise ConfigurationError(
                    f"proxy must be a URL like http://proxy.example:3128 (schemes: {', '.join(_PROXY_SCHEMES)})"
                )
        for name in ("connect_timeout", "timeout", "deadline", "backoff", "backoff_max", "keepalive_expiry"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if self.max_attempts < 1 or self.pool_size < 1 or self.max_handoffs < 1:
            raise ConfigurationError("max_attempts, pool_size and max_handoffs must be at least 1")
        if isinstance(self.max_parts, bool) or not isinstance(self.max_parts, int) or self.max_parts < 1:
            raise ConfigurationError(f"max_parts must be a whole number of parts, at least 1, not {self.max_parts!r}")

    def require_credentials(self) -> None:
        if not self.uid or not self.pwd:
            missing = " and ".join(n for n in ("uid", "pwd") if not getattr(self, n))
            raise ConfigurationError(
                f"{missing} missing: pass them, set WINIC_UID/WINIC_PWD, or put them in {default_config_path()}"
            )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def load(
        cls,
        *,
        config: str | Path | None = None,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Resolve settings: ``overrides`` (None values ignored) > environment > the TOML file's profile."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = Path(config).expanduser() if config else default_config_path(env)
        if path.is_file():
            values.update(_from_file(path, profile or env.get("WINIC_PROFILE")))
        elif config:
            raise ConfigurationError(f"config file {path} does not exist")
        values.update(_from_env(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: _coerce(k, v) for k, v in values.items()})
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(str(exc)) from None


_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES.get(name)
    if kind == "tuple[str, ...] | None":  # a TOML list, or a comma-separated variable
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigurationError(f"{name} must be a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    if not isinstance(value, str) or kind in ("str", "str | None"):
        return value
    try:
        if kind == "float":
            return float(value)
        if kind == "int":
            return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {value!r}") from None
    if kind in {"bool", "bool | str"}:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if kind == "bool":
            raise ConfigurationError(f"{name} must be true or false, not {value!r}")
    return value


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)}
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names and value != ""
    }


def _from_file(path: Path, profile: str | None) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from None
    profiles = data.pop("profiles", {})
    if profile:
        if profile not in profiles:
            raise ConfigurationError(
                f"profile {profile!r} is not in {path} (known: {', '.join(sorted(profiles)) or 'none'})"
            )
        data.update(profiles[profile])
    return data
