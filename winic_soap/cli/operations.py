"""``winic-soap ops``, ``call`` and ``wsdl``: the service's operations as the WSDL describes them, one called
by name, and the live WSDL fetched or compared with the packaged copy."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winic_soap.cli.context import load_settings, new_client, open_client
from winic_soap.cli.exit_codes import ExitCode
from winic_soap.cli.output import emit
from winic_soap.config import Settings, default_wsdl_cache_path
from winic_soap.exceptions import ConfigurationError, InputError
from winic_soap.models import OperationInfo

if TYPE_CHECKING:
    from winic_soap.client import WinicClient
    from winic_soap.core.contract import Contract

__all__ = ["call", "ops", "wsdl_diff", "wsdl_help", "wsdl_refresh"]


def call(args: argparse.Namespace) -> int:
    """Call any operation of the WSDL by name with ``key=value`` parameters; print its raw answer."""
    params = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError("params", "each must be key=value", item)
        params[key] = value
    with open_client(args) as client:
        answer = client.call(args.operation, **params)
    emit(args, {"operation": args.operation, "answer": answer}, [answer if answer is not None else "(null)"])
    return 0


def _ops_json(ops: list[OperationInfo]) -> list[dict[str, Any]]:
    return [{"name": o.name, "parameters": list(o.parameters), "documentation": o.documentation} for o in ops]


def _contract(location: str | None, client: WinicClient | None = None) -> Contract:
    """The packaged contract (no zeep), or zeep's introspection of another WSDL (URLs through ``client``)."""
    from winic_soap.core.contract import load_packaged_contract

    contract = load_packaged_contract() if location is None else None
    if contract is None:
        from winic_soap.wsdl import load_contract  # zeep, only for the commands that read other WSDLs

        contract = load_contract(location, fetch=client.fetch_wsdl if client else _local_only)
    return contract


def _local_only(url: str) -> bytes:
    raise ConfigurationError(f"{url}: give --endpoint settings to fetch remote WSDLs")


def ops(args: argparse.Namespace) -> int:
    """The operations and their parameters: of the packaged contract (no zeep), or of ``--wsdl``."""
    settings = Settings.load(config=args.config, profile=args.profile, endpoint=args.endpoint, wsdl=args.wsdl)
    if settings.wsdl is None:
        listed = sorted((op.info for op in _contract(None).operations.values()), key=lambda o: o.name)
    else:
        with new_client(settings) as client:
            listed = client.operations()
    emit(
        args,
        _ops_json(listed),
        [f"{o.name}({', '.join(o.parameters)})" + (f"  {o.documentation}" if o.documentation else "") for o in listed],
    )
    return 0


def wsdl_help(args: argparse.Namespace) -> int:
    """``wsdl`` without an action is a usage error naming the actions."""
    raise ConfigurationError("wsdl needs an action: refresh or diff")


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = [f"+ {name}" for name in diff["added"]] + [f"- {name}" for name in diff["removed"]]
    lines += [
        f"~ {name}: ({', '.join(c['packaged'])}) -> ({', '.join(c['other'])})" for name, c in diff["changed"].items()
    ]
    return lines or ["no differences in operations or parameters"]


def _drift(diff: dict[str, Any]) -> bool:
    return bool(diff["added"] or diff["removed"] or diff["changed"])


def _wsdl_client(args: argparse.Namespace) -> WinicClient:
    """A client for fetching documents only: settings (proxy, TLS) without credentials."""
    settings = load_settings(args)
    return new_client(settings.with_(wsdl=None))


def wsdl_refresh(args: argparse.Namespace) -> int:
    """Fetch the live WSDL and read it as the client would (its imports under the client's rules: same
    host over HTTP(S), bounded size, no local path) before anything is written."""
    from winic_soap.wsdl import diff as wsdl_diff_of
    from winic_soap.wsdl import introspect, load_document

    output = Path(args.output).expanduser() if args.output else default_wsdl_cache_path()
    with _wsdl_client(args) as client:
        url = args.url or f"{client.settings.endpoint}?WSDL"
        document, raw = load_document(url, fetch=client.fetch_wsdl)
        fetched = introspect(document, raw)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    partial.write_bytes(raw)
    partial.replace(output)
    diff = wsdl_diff_of(_contract(None), fetched)
    data = {
        "url": url,
        "path": str(output),
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "operations": len(fetched.operations),
        "diff": diff,
    }
    emit(
        args,
        data,
        [
            f"saved {url} to {output} ({len(raw)} bytes, {len(fetched.operations)} operations)",
            f"sha256 {data['sha256']}",
            "against the packaged copy:",
            *_diff_lines(diff),
            f"use it with --wsdl {output} or WINIC_WSDL={output}",
        ],
    )
    return 0


def wsdl_diff(args: argparse.Namespace) -> int:
    """Exit 0 when the operations match the packaged copy, ``ExitCode.DRIFT`` (11) when they do not (a CI guard)."""
    from winic_soap.wsdl import diff as wsdl_diff_of

    source = args.source or str(default_wsdl_cache_path())
    if not args.source and not Path(source).is_file():
        raise ConfigurationError(f"no cached WSDL at {source}: run `winic-soap wsdl refresh` or pass a path/URL")
    if source.startswith(("http://", "https://")):
        with _wsdl_client(args) as client:
            other = _contract(source, client)
    else:
        other = _contract(source)
    diff = wsdl_diff_of(_contract(None), other)
    emit(args, {"source": source, "drift": _drift(diff), **diff}, [f"packaged copy vs {source}:", *_diff_lines(diff)])
    return ExitCode.DRIFT if _drift(diff) else ExitCode.OK
