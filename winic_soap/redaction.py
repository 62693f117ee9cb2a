"""Which secrets the client side hides, and how: the one place for the rules (the form and query fields
that carry the password, the URL user info, the database URL's password, the environment a child gets).
Logs, reprs, error messages, the CLI and child processes call these; none keeps rules of its own.

Three ways to show a URL, by what the reader needs:

- :func:`url_for_log`: scheme, host and path only (a webhook receiver's token may be in the query or the
  user info, an HTTP GET's query carries ``pwd=``);
- :func:`url_without_password`: everything but the password (a store or proxy URL in a repr: the user,
  database and options are what an operator checks);
- :func:`url_without_credentials`: no ``user:password@``, the rest kept (a proxy URL handed to a child).

Text the service sends back (ASP.NET echoing ``pwd="…"``) is scrubbed by ``core.answer.Scrubber``, which
knows the actual secret values; this module masks by field name and URL shape, without knowing them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from winic_soap.models import DeliveryReport, Reply

__all__ = [
    "PASSWORD_URL_SETTINGS",
    "SECRET_FIELDS",
    "SECRET_SETTINGS",
    "child_environment",
    "mask_secrets",
    "mask_urls",
    "mobile_for_log",
    "records_for_log",
    "url_for_log",
    "url_without_credentials",
    "url_without_password",
]

SECRET_FIELDS = ("pwd", "newpwd")  # the service's form/query fields that carry a password
SECRET_SETTINGS = frozenset({"pwd", "cert_password", "webhook_secret"})  # Settings fields shown as '***'
PASSWORD_URL_SETTINGS = frozenset({"proxy", "store"})  # Settings fields shown by url_without_password
_FIELD_VALUE = re.compile(rf"((?:{'|'.join(SECRET_FIELDS)})=)[^&\s\"']*", re.IGNORECASE)  # in a query or form
_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")  # a proxy URL's password
_SOCKS_AUTH = re.compile(r"(auth=\(b?'[^']*', )b?'[^']*'\)")  # httpcore2's SOCKS trace: auth=(b'user', b'pass')
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)
_CONNINFO_PASSWORD = re.compile(r"\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)", re.IGNORECASE)  # libpq key=value
_QUERY_PASSWORDS = ("password", "passfile", "sslpassword")  # a database URL's query parameters

# a child process (a hand-off command) gets none of these, nor any WINIC_* naming one of _SECRET_WORDS
_SECRET_ENV = frozenset({"WINIC_PWD", "WINIC_NEWPWD", "WINIC_STORE", "WINIC_PROXY", "WINIC_WEBHOOK", "PGPASSWORD"})
_SECRET_WORDS = ("PASSWORD", "SECRET", "PWD", "TOKEN")
_PROXY_ENV = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "FTP_PROXY"})  # kept without user info


def url_for_log(url: str) -> str:
    """A URL fit for a log line: the query string (``pwd=…`` on HTTP GET, a webhook receiver's token), the
    fragment and the user info (``user:password@``) are dropped (a libpq ``key=value`` string: its password)."""
    if "://" not in url:
        return url_without_password(url)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # an empty host keeps its '//'


def url_without_password(url: str) -> str:
    """The URL without its password (in the user part or as ``?password=``; a libpq ``key=value``
    string's ``password=``), fit for reprs, messages and logs."""
    if "://" not in url:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = (user.split(":", 1)[0] + ":***" if ":" in user else user) + "@" + host
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = parts.query  # as written (parse_qsl would decode it) unless a password is in it
    if any(k.lower() in _QUERY_PASSWORDS for k, _ in pairs):
        query = "&".join(f"{k}=***" if k.lower() in _QUERY_PASSWORDS else f"{k}={v}" for k, v in pairs)
    # written out, not urlunsplit: it drops an empty host's '//' (sqlite:////abs, postgresql:///db?host=/run)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def url_without_credentials(url: str) -> str | None:
    """A proxy URL without its ``user:password@``; None when it cannot be parsed (then it is left out)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.username is None and parts.password is None:
        return url
    netloc = (host or "") + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_secrets(text: str) -> str:
    """``text`` (a log line, an exception's message) with the values of :data:`SECRET_FIELDS`, a URL's
    password and a SOCKS proxy's password replaced by ``***``."""
    text = _USERINFO_PASSWORD.sub(r"\1:***@", _FIELD_VALUE.sub(r"\1***", text))
    return _SOCKS_AUTH.sub(r"\1'***')", text)


def mask_urls(text: str) -> str:
    """``text`` with every URL in it shown as :func:`url_for_log` shows it (for lines about a webhook
    POST, whose receiver's URL may carry its token anywhere)."""
    return _URL.sub(lambda match: url_for_log(match.group()), text)


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the client's secrets (``WINIC_PWD``, ``WINIC_STORE`` with its database password,
    ``WINIC_PROXY``, ``WINIC_WEBHOOK``, ``PGPASSWORD``, any ``WINIC_*`` naming a password, secret or token),
    and with proxy URLs stripped of their credentials (one that cannot be parsed is left out)."""
    env: dict[str, str] = {}
    for key, value in environ.items():
        name = key.upper()
        if name in _SECRET_ENV or (name.startswith("WINIC_") and any(w in name for w in _SECRET_WORDS)):
            continue
        kept = url_without_credentials(value) if name in _PROXY_ENV else value
        if kept is not None:
            env[key] = kept
    return env


def mobile_for_log(mobile: str) -> str:
    """A phone number for a log line: its first three and last four digits (``138****8000``)."""
    return mobile[:3] + "*" * max(len(mobile) - 7, 0) + mobile[-4:] if len(mobile) > 7 else "*" * len(mobile)


def records_for_log(records: Sequence[Reply | DeliveryReport]) -> str:
    """Records for a log line: numbers masked, reply texts (one-time codes) replaced by their length."""
    parts = []
    for r in records:
        if isinstance(r, DeliveryReport):
            parts.append(f"{r.message_id}/{mobile_for_log(r.mobile)}/{r.status}/{r.at and r.at.isoformat()}")
        else:
            received = r.received_at and r.received_at.isoformat()
            parts.append(f"{mobile_for_log(r.mobile)}/<{len(r.text)} chars>/{r.port}/{received}")
    return " | ".join(parts)
