"""The public API is what docs/api.md documents, and nothing else: the names of the package namespace,
both clients, ``winic_soap.store`` and its ``Store`` and ``Journal`` are read from that page (not listed a
second time here), with every signature written there. The sync and async clients offer the same API.
Every module but the private ones declares an ``__all__`` of what it defines."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import inspect
import pkgutil
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

import winic_soap
import winic_soap.store
from winic_soap import AsyncWinicClient, WinicClient
from winic_soap.mock import MockService
from winic_soap.store import Journal, Store

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PACKAGE_PATH = [str(Path(winic_soap.__file__).parent)]

# what each ``## `name``` section of docs/api.md documents, and how that object's public names are read
SECTIONS: dict[str, tuple[object, Callable[[Any], set[str]]]] = {
    "winic_soap": (winic_soap, lambda module: set(module.__all__)),
    "WinicClient": (WinicClient, lambda cls: {n for n in dir(cls) if not n.startswith("_")}),
    "AsyncWinicClient": (AsyncWinicClient, lambda cls: {n for n in dir(cls) if not n.startswith("_")}),
    "winic_soap.store": (winic_soap.store, lambda module: set(module.__all__)),
    "Store": (Store, lambda cls: {n for n in dir(cls) if not n.startswith("_")}),
    "Journal": (Journal, lambda cls: {n for n in dir(cls) if not n.startswith("_")}),
}
# a documented entry: ``- **`[async ]name[(parameters)][ -> result]`**``
ENTRY = re.compile(r"^- \*\*`(?P<async>async )?(?P<name>\w+)(?:\((?P<params>.*)\))?(?: -> [^`]+)?`\*\*")
ONLY_ASYNC = {"aclose"}  # the async client's close: a coroutine, so it cannot share the name
ONLY_SYNC = {"close"}
# public modules may re-export a name defined elsewhere only for code written against an older layout
COMPAT_REEXPORTS = {
    "winic_soap.inbox": {"InboxRecord"},  # ``Inbox`` predates the store: its users import both
    # a webhook receiver imports everything it needs from one module (docs: verify, its error, the secrets)
    "winic_soap.webhooks": {"WebhookVerificationError", "new_secret", "parse_secret"},
}


def _documented() -> dict[str, dict[str, re.Match[str]]]:
    """Section name -> {entry name: its match}, from docs/api.md."""
    sections: dict[str, dict[str, re.Match[str]]] = {}
    current: dict[str, re.Match[str]] | None = None
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = re.search(r"`([\w.]+)`", line)
            current = sections.setdefault(heading.group(1), {}) if heading else None
        elif current is not None and (entry := ENTRY.match(line)):
            assert entry["name"] not in current, f"{entry['name']} documented twice"
            current[entry["name"]] = entry
    return sections


def _shape(obj: Callable[..., Any]) -> str:
    """A signature as docs/api.md writes it: names, ``*`` and ``/``, literal defaults (others as ``...``)."""
    params = list(inspect.signature(obj).parameters.values())
    if params and params[0].name in ("self", "cls"):  # a method read from its class
        params = params[1:]
    shown: list[str] = []
    star = False
    for i, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            shown.append(f"*{p.name}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            shown.append(f"**{p.name}")
        else:
            if p.kind is p.KEYWORD_ONLY and not star:
                shown.append("*")
                star = True
            literal = isinstance(p.default, (type(None), bool, int, float, str, tuple))
            shown.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}" if literal else f"{p.name}=...")
            if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY):
                shown.append("/")
    return ", ".join(shown)


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_the_reference_documents_each_namespace() -> None:
    assert set(_documented()) == set(SECTIONS)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_public_names_are_the_documented_ones(section: str) -> None:
    owner, public = SECTIONS[section]
    documented = set(_documented()[section])
    assert public(owner) - documented == set(), f"public in {section} but not in docs/api.md"
    assert documented - public(owner) == set(), f"in docs/api.md under {section} but not public"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_documented_signatures_are_the_real_ones(section: str) -> None:
    owner = SECTIONS[section][0]
    for name, entry in _documented()[section].items():
        obj = getattr(owner, name)
        if entry["params"] is not None:
            assert entry["params"] == _shape(obj), f"{section}.{name}"
        is_async = inspect.iscoroutinefunction(obj)
        assert bool(entry["async"]) == is_async, f"{section}.{name}: documented {'not ' * is_async}async"


# -- the sync and async clients offer one API ---------------------------------------------------------------
def test_both_clients_have_the_same_public_names() -> None:
    assert _public(WinicClient) - ONLY_SYNC == _public(AsyncWinicClient) - ONLY_ASYNC


@pytest.mark.parametrize("name", [*sorted(_public(WinicClient) - ONLY_SYNC), "__init__"])
def test_both_clients_have_the_same_signatures(name: str) -> None:
    sync, both = getattr(WinicClient, name), getattr(AsyncWinicClient, name)
    if isinstance(inspect.getattr_static(WinicClient, name), property):
        assert isinstance(inspect.getattr_static(AsyncWinicClient, name), property)
        return
    params = [(p.name, p.kind, p.default) for p in inspect.signature(sync).parameters.values()]
    assert params == [(p.name, p.kind, p.default) for p in inspect.signature(both).parameters.values()]


@pytest.mark.parametrize("name", sorted(_public(WinicClient) - ONLY_SYNC))
def test_async_methods_that_do_io_are_coroutines(name: str) -> None:
    """A method either is shared (defined once, on the base both inherit: it does no I/O) or, defined in
    each shell, is a coroutine on the async one and a plain function on the sync one."""
    sync, both = inspect.getattr_static(WinicClient, name), inspect.getattr_static(AsyncWinicClient, name)
    if sync is both:
        assert not inspect.iscoroutinefunction(getattr(WinicClient, name)), name
        return
    if isinstance(sync, classmethod):  # from_env: a constructor, made in each shell for its return type
        return
    assert not inspect.iscoroutinefunction(getattr(WinicClient, name)), name
    assert inspect.iscoroutinefunction(getattr(AsyncWinicClient, name)), name


@pytest.mark.parametrize(("sync", "coroutine"), [("send", "asend"), ("resume", "aresume")])
def test_the_journal_has_an_async_twin_of_each_send(sync: str, coroutine: str) -> None:
    """``Journal.asend``/``aresume`` take what ``send``/``resume`` take (the client aside, sync or async)."""
    assert not inspect.iscoroutinefunction(getattr(Journal, sync))
    assert inspect.iscoroutinefunction(getattr(Journal, coroutine))
    shapes = [
        [(p.name, p.kind, p.default) for p in inspect.signature(getattr(Journal, n)).parameters.values()]
        for n in (sync, coroutine)
    ]
    assert shapes[0] == shapes[1]


def test_close_and_aclose() -> None:
    assert not inspect.iscoroutinefunction(WinicClient.close)
    assert inspect.iscoroutinefunction(AsyncWinicClient.aclose)
    assert inspect.iscoroutinefunction(AsyncWinicClient.__aenter__)
    assert inspect.iscoroutinefunction(AsyncWinicClient.__aexit__)


# -- module-level __all__ ------------------------------------------------------------------------------------
def _modules() -> Iterator[tuple[str, Path]]:
    for info in pkgutil.walk_packages(PACKAGE_PATH, "winic_soap."):
        if info.name.endswith("__main__"):  # a script, not a module anyone imports
            continue
        module = importlib.import_module(info.name)
        assert module.__file__ is not None
        yield info.name, Path(module.__file__)


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
            names = ast.literal_eval(node.value)
            assert isinstance(names, list)
            return names
    return None


def _defined(body: list[ast.stmt]) -> set[str]:
    """Names a module binds itself at top level (imports excluded), also under ``if`` and ``try``."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.If, ast.Try)):
            names |= _defined(node.body) | _defined(node.orelse)
            names |= {n for h in getattr(node, "handlers", []) for n in _defined(h.body)}
    return names


def test_private_modules_declare_no_all_and_public_ones_declare_what_they_define() -> None:
    """A private module (``_base``, ``_lazy``) is nobody's API, so it says nothing public. A public module's
    ``__all__`` names what it defines and documents, not what it imported from elsewhere (that name's home
    is the module that defines it); a package's ``__init__`` is a namespace and may gather names."""
    for name, path in _modules():
        private = any(part.startswith("_") for part in name.split(".")[1:])
        declared = _declared_all(ast.parse(path.read_text(encoding="utf-8")))
        if private:
            assert declared is None, f"{name} is private: no __all__"
            continue
        assert declared is not None, f"{name} declares no __all__"
        assert len(set(declared)) == len(declared), f"{name}: a name twice in __all__"
        module = importlib.import_module(name)
        for exported in declared:
            assert hasattr(module, exported), f"{name}.__all__ names {exported}, which it lacks"
        if path.name == "__init__.py":
            continue
        borrowed = set(declared) - _defined(ast.parse(path.read_text(encoding="utf-8")).body)
        assert borrowed == COMPAT_REEXPORTS.get(name, set()), f"{name}.__all__ re-exports {sorted(borrowed)}"


# -- change_password: one at a time on one client ------------------------------------------------------------
FIRST, SECOND = "N3w-Pw-first", "N3w-Pw-second"
OVERLAP_WINDOW = 1.0  # seconds the first request is held, giving an unserialised second one time to start


def _new_password(request: httpx2.Request) -> str:
    """Which change a request makes (the second one carries the first's password as its ``pwd``)."""
    return SECOND if SECOND.encode() in request.content else FIRST


def test_concurrent_password_changes_on_one_client_are_serialised(winic_mock: MockService) -> None:
    """The first request is held in flight (an httpx2 request hook) while the second call starts: the second
    request may only leave once the first is answered, carrying the password the first one set, so both
    succeed and the client ends with the password the service has. Without the lock the second request
    would leave during the hold with the old password, and one of the two would fail with ``-03``."""
    seen: list[tuple[str, str]] = []
    overlap, entered, holding = threading.Event(), threading.Event(), threading.Event()

    def on_request(request: httpx2.Request) -> None:
        if b"EditUserPwd" not in request.content:
            return
        if holding.is_set():  # the second request left while the first was still held: not serialised
            overlap.set()
        seen.append(("sent", _new_password(request)))
        if not entered.is_set():
            holding.set()
            entered.set()
            overlap.wait(OVERLAP_WINDOW)
            holding.clear()

    def on_response(response: httpx2.Response) -> None:
        if b"EditUserPwd" in response.request.content:
            seen.append(("answered", _new_password(response.request)))

    http = httpx2.Client(event_hooks={"request": [on_request], "response": [on_response]}, timeout=10)
    with WinicClient("demo", "demo-secret", endpoint=winic_mock.url, http_client=http) as client:
        errors: list[BaseException] = []

        def change(new: str) -> None:
            try:
                client.change_password(new)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        first = threading.Thread(target=change, args=(FIRST,))
        first.start()
        assert entered.wait(10)
        second = threading.Thread(target=change, args=(SECOND,))
        second.start()
        first.join(30)
        second.join(30)
        assert errors == [] and not overlap.is_set()
        assert seen == [("sent", FIRST), ("answered", FIRST), ("sent", SECOND), ("answered", SECOND)]
        assert [e.processed for e in winic_mock.ledger if e.operation == "EditUserPwd"] == [True, True]
        assert client.settings.pwd == SECOND == winic_mock.account("demo").pwd
        assert client.account().uid == "demo"  # and the client goes on with it
    http.close()


def test_concurrent_password_changes_on_one_async_client_are_serialised(winic_mock: MockService) -> None:
    """The same on the async client: two tasks, one ``asyncio.Lock``."""
    seen: list[tuple[str, str]] = []

    async def main() -> None:
        overlap, entered, holding = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def on_request(request: httpx2.Request) -> None:
            if b"EditUserPwd" not in request.content:
                return
            if holding.is_set():
                overlap.set()
            seen.append(("sent", _new_password(request)))
            if not entered.is_set():
                holding.set()
                entered.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(overlap.wait(), OVERLAP_WINDOW)
                holding.clear()

        async def on_response(response: httpx2.Response) -> None:
            if b"EditUserPwd" in response.request.content:
                seen.append(("answered", _new_password(response.request)))

        async with (
            httpx2.AsyncClient(event_hooks={"request": [on_request], "response": [on_response]}, timeout=10) as http,
            AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, http_client=http) as client,
        ):
            first = asyncio.create_task(client.change_password(FIRST))
            await entered.wait()
            await asyncio.gather(first, client.change_password(SECOND))
            assert not overlap.is_set()
            assert client.settings.pwd == SECOND
            assert (await client.account()).uid == "demo"

    asyncio.run(main())
    assert seen == [("sent", FIRST), ("answered", FIRST), ("sent", SECOND), ("answered", SECOND)]
    assert [e.processed for e in winic_mock.ledger if e.operation == "EditUserPwd"] == [True, True]
    assert winic_mock.account("demo").pwd == SECOND


@pytest.mark.parametrize("module", ["winic_soap", "winic_soap.store", "winic_soap.mock"])
def test_dir_of_a_namespace_offers_its_public_names_only(module: str) -> None:
    """``dir()`` drives completion and help(): it shows what ``__all__`` promises, not imports or submodules."""
    namespace = importlib.import_module(module)
    assert [name for name in dir(namespace) if not name.startswith("__")] == sorted(
        n for n in namespace.__all__ if not n.startswith("__")
    )
