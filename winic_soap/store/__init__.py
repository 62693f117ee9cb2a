"""The durable store: inbox, poller leases and send journal behind one interface, on SQLite (the default,
embedded) or PostgreSQL (shared by a fleet), chosen by a URL written as SQLAlchemy writes them.

``open_store("sqlite:///inbox.sqlite3")``, ``open_store("sqlite:////var/lib/winic/inbox.sqlite3")``,
``open_store("postgresql://winic@db.internal:5432/winic")``; a bare path means SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from winic_soap.exceptions import ConfigurationError
from winic_soap.states import BATCH_STATES, RECORD_STATES
from winic_soap.store.base import Store
from winic_soap.store.jobs import Batch, JobSummary
from winic_soap.store.journal import Journal
from winic_soap.store.pollers import PollerLease
from winic_soap.store.records import InboxRecord

__all__ = [
    "BATCH_STATES",
    "RECORD_STATES",
    "Batch",
    "InboxRecord",
    "JobSummary",
    "Journal",
    "PollerLease",
    "Store",
    "open_store",
]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


def parse_store_url(url: str | Path) -> tuple[str, str]:
    """``(backend, target)``: ``("sqlite", path)`` or ``("postgresql", libpq URL)``; a bare path is SQLite.
    An unknown scheme is a :class:`ConfigurationError` (it must never become a folder named after it)."""
    text = str(url).strip()
    if not text:
        raise ConfigurationError("store URL is empty")
    if isinstance(url, Path) or "://" not in text:
        return "sqlite", text
    scheme = urlsplit(text).scheme.lower()
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        if not path or path in (":memory:",):
            raise ConfigurationError(
                f"a SQLite store needs a file: sqlite:///relative/path or sqlite:////absolute/path, not {text!r}"
            )
        return "sqlite", path
    if scheme in _POSTGRES_SCHEMES:
        return "postgresql", "postgresql" + text[len(scheme) :]
    raise ConfigurationError(
        f"unknown store scheme {scheme!r}: use sqlite:///path, sqlite:////abs/path, postgresql://user@host/db "
        "or a bare path"
    )


def _url_options(url: str | Path) -> tuple[str | Path, dict[str, Any]]:
    """The URL without our own query parameters (``?store_timeout=3``), and those as options: libpq
    rejects parameters it does not know, and a SQLite path must not end in them."""
    text = str(url)
    if isinstance(url, Path) or "://" not in text or "?" not in text:
        return url, {}
    base, _, query = text.partition("?")
    options: dict[str, Any] = {}
    kept = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "store_timeout":
            try:
                options[key] = float(value)
            except ValueError:
                raise ConfigurationError(f"store_timeout in the store URL must be seconds, not {value!r}") from None
        else:
            kept.append((key, value))
    if not options:
        return url, {}
    return base + ("?" + urlencode(kept) if kept else ""), options  # by hand: urlunsplit drops sqlite:////'s


def open_store(url: str | Path, **options: Any) -> Store:
    """Open (and create on first use) the store at ``url``, migrating its schema to this release's (see
    :mod:`winic_soap.store.schema`). ``options``: ``max_handoffs`` (default 5), ``lease`` (seconds a claim
    lasts, default 60), ``store_timeout`` (seconds any store call may take before it ends as a
    :class:`StoreError`, default 5; also ``?store_timeout=`` in the URL, which a keyword overrides),
    ``resolve_window``, ``clock``, ``migrate`` (default True; False opens without migrating, for
    ``store migrate --dry-run``), ``opt_out`` / ``opt_in`` (reply keywords for the suppression list,
    :mod:`~winic_soap.store.suppression`), ``intermediate`` (in-transit report statuses,
    :mod:`~winic_soap.store.settle`), ``spool`` (the folder where pulled answers wait for the store; default
    :func:`~winic_soap.store.spool.default_spool_dir`)."""
    url, from_url = _url_options(url)
    options = {**from_url, **options}
    backend, target = parse_store_url(url)
    if backend == "sqlite":
        from winic_soap.store.sqlite import SqliteStore

        return SqliteStore(target, **options)
    try:
        from winic_soap.store.postgres import PostgresStore
    except ImportError as exc:
        raise ConfigurationError(
            f"a PostgreSQL store needs psycopg 3: pip install 'winic-soap[postgres]' ({exc})"
        ) from None
    return PostgresStore(target, **options)


def __dir__() -> list[str]:
    """What ``dir()`` and completion offer: the public names, not the imports and submodules behind them."""
    return sorted(__all__)
