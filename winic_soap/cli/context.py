"""Settings, the client and the store as a command gets them from its flags, the environment and the config
file (a password asked for on a terminal; the wire's libraries loaded only by commands that use it)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from winic_soap.config import Settings, default_store_url
from winic_soap.exceptions import StoreError
from winic_soap.store import Store, open_store

if TYPE_CHECKING:
    from winic_soap.client import WinicClient
    from winic_soap.events import Hook

__all__ = ["load_settings", "new_client", "open_cli_store", "open_client"]


def new_client(settings: Settings, store: Store | None = None, hooks: Sequence[Hook] = ()) -> WinicClient:
    """A client for ``settings`` (sends checked against ``store``'s suppression list); the wire's libraries
    are loaded here, by the commands that use it."""
    from winic_soap.client import WinicClient

    return WinicClient(settings=settings, store=store, hooks=hooks)


def load_settings(args: argparse.Namespace) -> Settings:
    """Flags over ``WINIC_*`` over the config file; a missing password is asked for on a terminal, never echoed."""
    settings = Settings.load(
        config=args.config,
        profile=args.profile,
        uid=args.uid,
        pwd=args.pwd,
        endpoint=args.endpoint,
        transport=args.transport,
        timeout=args.timeout,
        wsdl=args.wsdl,
        proxy=args.proxy,
        verify=args.verify,
        cert=args.cert,
        cert_key=args.cert_key,
    )
    if settings.uid and not settings.pwd and sys.stdin.isatty():
        settings = settings.with_(pwd=getpass.getpass(f"winic password for {settings.uid}: "))
    return settings


@contextmanager
def open_client(
    args: argparse.Namespace, *, store: Store | None = None, hooks: Sequence[Hook] = (), **changes: Any
) -> Iterator[WinicClient]:
    """A client from the command's settings (with ``changes``), refused before the wire without credentials."""
    settings = load_settings(args).with_(**changes)
    settings.require_credentials()
    with new_client(settings, store, hooks) as client:
        yield client


def open_cli_store(args: argparse.Namespace, settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """The store named by ``--store``, else ``WINIC_STORE`` / the config file, else the default SQLite file.
    ``migrate=False``: open without bringing the schema up to date (``store migrate`` does that itself)."""
    settings = settings or Settings.load(config=args.config, profile=args.profile)
    max_handoffs = getattr(args, "max_handoffs", None) or settings.max_handoffs
    timeout = {} if settings.store_timeout is None else {"store_timeout": settings.store_timeout}
    url = args.store or settings.store or default_store_url()
    store = open_store(
        url, max_handoffs=max_handoffs, migrate=migrate, opt_out=settings.opt_out_keywords,
        opt_in=settings.opt_in_keywords, intermediate=settings.intermediate_statuses, **timeout,
    )  # fmt: skip
    try:  # pulled records a failed commit left in the spool reach the store as soon as it can take them
        store.replay_spool()
    except StoreError as exc:
        print(f"warning: records wait in the spool {store.spool.directory}: {exc}", file=sys.stderr, flush=True)
    return store
