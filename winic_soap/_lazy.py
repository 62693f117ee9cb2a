"""Names a package exports on first use (PEP 562): importing the package loads none of the modules
behind them, so tools that need a few names (the CLI's store commands, ``winic-soap --help``) never load
httpx2, zeep or lxml. Neutral: the client's package and the mock's both use it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def exports(namespace: MutableMapping[str, Any], modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``namespace`` (the package's ``globals()``): ``name`` is imported from
    ``modules[name]`` on first access and kept in the namespace, so later accesses cost nothing."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
