"""Settings: credentials, endpoint, transport, timeouts and retry budget, from arguments > ``WINIC_*``
environment > a TOML file (with profiles for several accounts). Every value is checked by type and range
when a :class:`Settings` is made; no secret shows in its ``repr``."""

from __future__ import annotations

import base64
import binascii
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from winic_soap.categories import Categories
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.redaction import PASSWORD_URL_SETTINGS, SECRET_SETTINGS, url_without_password

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENV_PREFIX",
    "TRANSPORTS",
    "WEBHOOK_RETRY_SCHEDULE",
    "Settings",
    "default_config_path",
    "default_store_path",
    "default_store_url",
    "default_wsdl_cache_path",
]

DEFAULT_ENDPOINT = "http://service2.winic.org/Service.asmx"
TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")
ENV_PREFIX = "WINIC_"
#: the Standard Webhooks schedule: after a failure wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead
WEBHOOK_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
_WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
_ENV_ALIASES = {"webhook": "webhooks"}  # WINIC_WEBHOOK: one URL, or several separated by spaces


def parse_secret(secret: str | bytes) -> bytes:
    """The key bytes of a webhook secret, ``whsec_<base64>`` (the prefix optional), or raw bytes as given. Never
    echoes it. Here, beside the settings that check it, so that config imports nothing of the webhooks
    (documented, with :func:`new_secret`, as :mod:`winic_soap.webhooks`'s)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.strip().removeprefix(_WEBHOOK_SECRET_PREFIX)
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("webhook_secret must be whsec_ and base64 (as the spec writes it)") from None
    if len(key) < 16:
        raise ConfigurationError("webhook_secret must hold at least 16 bytes (24 base64 characters)")
    return key


def new_secret() -> str:
    """A fresh secret (32 random bytes) written as the spec writes them: ``whsec_<base64>``."""
    return _WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


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


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a client needs, checked by type and range when made (a :class:`ConfigurationError`
    names the key and the rule). ``repr`` and ``str`` show no secret: ``pwd`` and ``cert_password`` as
    ``'***'``, the proxy's and the store's URL without their password."""

    uid: str = ""
    pwd: str = ""
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
    cert_password: str | None = None  # the password of an encrypted ``cert_key``
    proxy: str | None = None  # http(s)://[user:pass@]host:port; None: HTTP(S)_PROXY/NO_PROXY; "": none at all
    trust_env: bool = True  # read proxies and SSL_CERT_FILE/SSL_CERT_DIR from the environment
    strict_text: bool = False  # True: raise on % $ & # * instead of converting them to full width
    max_parts: int = 10  # a longer text (in billed parts per recipient) is refused before it is sent
    max_response_bytes: int = 16 * 1024 * 1024
    store: str | None = None  # the store's URL (sqlite:///path, postgresql://...) or a bare path; None: default
    max_handoffs: int = 5  # failed hand-offs of a stored record before it moves to the dead letters
    store_timeout: float | None = None  # seconds a store call may take (None: the URL's, else 5)
    retention: str = "30d"  # watch purges records handed on (and jobs finished) longer ago; "off" keeps all
    # replies that put their number on the store's suppression list / take it off; None: the defaults
    # (winic_soap.store.suppression); WINIC_OPT_OUT_KEYWORDS="退订,TD,STOP" or a TOML list
    opt_out_keywords: tuple[str, ...] | None = None
    opt_in_keywords: tuple[str, ...] | None = None
    intermediate_statuses: tuple[str, ...] | None = None  # reports in transit (store.settle); None: ENROUTE, ACCEPTD
    # operator codes added to the failure categories of stats and metrics (winic_soap.categories): CODE=category
    status_categories: tuple[str, ...] = ()
    # watch POSTs every stored record to each (winic_soap.webhooks); URLs may carry a token: not in repr
    webhooks: tuple[str, ...] = ()
    webhook_secret: str = ""  # whsec_<base64>: signs each webhook
    webhook_retry_schedule: tuple[float, ...] = WEBHOOK_RETRY_SCHEDULE  # waits after each failed delivery

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_SETTINGS and value:
                shown.append(f"{f.name}='***'")
            elif f.name in PASSWORD_URL_SETTINGS and value:
                shown.append(f"{f.name}={url_without_password(value)!r}")
            elif f.name == "webhooks" and value:  # a receiver's URL may carry its token: only how many
                shown.append(f"webhooks=<{len(value)} URL(s)>")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, str(f.type), getattr(self, f.name))
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
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be a positive, finite number of seconds, not {value!r}")
        if self.store_timeout is not None and not (math.isfinite(self.store_timeout) and self.store_timeout > 0):
            raise ConfigurationError(
                f"store_timeout must be a positive, finite number of seconds, not {self.store_timeout!r}"
            )
        for name in ("max_attempts", "pool_size", "max_handoffs", "max_response_bytes", "max_parts"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be a whole number of at least 1, not {getattr(self, name)!r}")
        self._check_webhooks()
        try:
            Categories.of(self.status_categories)
        except InputError as exc:
            raise ConfigurationError(str(exc)) from None

    def _check_webhooks(self) -> None:
        for url in self.webhooks:  # never echoed: a webhook URL may carry its receiver's token
            parts = _url(url, "webhooks")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError("webhooks: each must be an http(s) URL like https://app.example/winic")
        if any(
            not isinstance(d, int | float) or isinstance(d, bool) or not d >= 0 for d in self.webhook_retry_schedule
        ):
            raise ConfigurationError("webhook_retry_schedule must be a list of waits in seconds (numbers >= 0)")
        if self.webhook_secret:
            parse_secret(self.webhook_secret)

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
        origins: dict[str, str] = {}  # where each value came from, for the error that names it
        path = Path(config).expanduser() if config else default_config_path(env)
        if path.is_file():
            values.update(_from_file(path, profile or env.get("WINIC_PROFILE")))
            origins.update(dict.fromkeys(values, str(path)))
        elif config:
            raise ConfigurationError(f"config file {path} does not exist")
        from_env = _from_env(env)
        values.update(from_env)
        origins.update({name: ENV_PREFIX + name.upper() for name in from_env})
        values.update({k: v for k, v in overrides.items() if v is not None})
        origins.update({k: "arguments" for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: _coerce(k, v) for k, v in values.items()})
        except (TypeError, ValueError) as exc:
            key = str(exc).split(" ", 1)[0]
            origin = f" (from {origins[key]})" if origins.get(key, "arguments") != "arguments" else ""
            raise ConfigurationError(f"{exc}{origin}") from None


_TYPES = {f.name: str(f.type) for f in fields(Settings)}
_RULES = {
    "str": "a string",
    "str | None": "a string",
    "float": "a number of seconds",
    "int": "a whole number",
    "bool": "true or false",
    "bool | str": "true, false or a CA file/folder path",
    "tuple[str, ...] | None": "a list of strings",
}


def _check_type(name: str, kind: str, value: Any) -> None:
    """Refuse a value of the wrong type, naming the key and the rule (never a secret's value).

    A TOML ``pwd = 654321`` is refused rather than turned into a string: TOML reads ``1_000`` as 1000
    and ``0x10`` as 16, so the digits sent would not always be the ones written; quoting says what is meant.
    """
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "bool | str":
        ok = isinstance(value, bool | str)
    elif kind == "str | None":
        ok = value is None or isinstance(value, str)
    elif kind == "float | None":
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    elif kind == "tuple[str, ...] | None":  # keyword and status lists (store.suppression, store.settle)
        ok = value is None or (isinstance(value, tuple) and all(isinstance(item, str) for item in value))
    elif kind.startswith("tuple["):  # the items are checked by _check_webhooks
        ok = isinstance(value, tuple)
    else:
        ok = isinstance(value, str)
    if not ok:
        shown = "" if name in SECRET_SETTINGS or name in PASSWORD_URL_SETTINGS else f", not {value!r}"
        hint = " (quote it in TOML)" if kind.startswith("str") and isinstance(value, int | float) else ""
        raise ConfigurationError(f"{name} must be {_RULES.get(kind, kind)}{hint}{shown}")


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES.get(name)
    if kind == "tuple[str, ...] | None":  # a TOML list, or a comma-separated variable
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigurationError(f"{name} must be a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    if kind in ("tuple[str, ...]", "tuple[float, ...]"):
        return _sequence(name, value, str if kind == "tuple[str, ...]" else float)
    if not isinstance(value, str) or kind in ("str", "str | None"):
        return value
    try:
        if kind in ("float", "float | None"):
            return float(value)
        if kind == "int":
            return int(value)
    except ValueError:
        rule = "a whole number" if kind == "int" else "a number"
        raise ConfigurationError(f"{name} must be {rule}, not {value!r}") from None
    if kind in {"bool", "bool | str"}:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if kind == "bool":
            raise ConfigurationError(f"{name} must be true or false, not {value!r}")
    return value


def _sequence(name: str, value: Any, kind: type[str] | type[float]) -> tuple[Any, ...]:
    """A list from TOML, or from the environment: URLs separated by spaces; numbers by spaces or commas,
    optionally in brackets (``[1, 1, 1]``)."""
    if isinstance(value, str):
        value = value.split() if kind is str else value.strip().strip("[]").replace(",", " ").split()
    if not isinstance(value, list | tuple) or any(isinstance(item, bool) for item in value):
        raise ConfigurationError(f"{name} must be a list")
    try:
        return tuple(kind(item) for item in value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a list of numbers (seconds)") from None


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)}
    values = {}
    for key, value in env.items():
        name = key[len(ENV_PREFIX) :].lower()
        name = _ENV_ALIASES.get(name, name)
        if key.startswith(ENV_PREFIX) and name in names and value != "":
            values[name] = value
    return values


def _from_file(path: Path, profile: str | None) -> dict[str, Any]:
    import tomllib  # only when there is a file: clients and commands without one start faster

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
