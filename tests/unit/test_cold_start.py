"""Cold start: imports and commands that never touch the wire load none of its libraries (httpx2,
httpcore2, zeep, lxml), checked in fresh processes through ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.shared import cli_env

# and phonenumbers: numbering.py loads it only when a number needs the numbering plan
WIRE = ("httpx2", "httpcore2", "zeep", "lxml", "opentelemetry", "phonenumbers")

PROBE = """
import json, sys
try:
{body}
finally:
    wire = sorted({{m.split(".")[0] for m in sys.modules}} & set({wire!r}))
    print("\\nLOADED " + json.dumps(wire), flush=True)
"""


def loaded(body: str, home: Path) -> list[str]:
    """The wire libraries a fresh interpreter has loaded after running ``body``."""
    code = PROBE.format(body="\n".join("    " + line for line in body.strip().splitlines()), wire=WIRE)
    env = {**cli_env("http://127.0.0.1:9/Service.asmx", home), "WINIC_STORE": f"sqlite:///{home / 'store.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith("LOADED ")]
    assert marker, result.stderr[-2000:]
    return list(json.loads(marker[-1][len("LOADED ") :]))


@pytest.mark.parametrize(
    "body",
    [
        "import winic_soap",
        'import os, winic_soap.store\nwinic_soap.store.open_store(os.environ["WINIC_STORE"]).close()',
        "from winic_soap import Settings, WinicError, SendReceipt, segments\nSettings(uid='u', pwd='p')",
        "import winic_soap.mock",
    ],
)
def test_imports_that_do_not_touch_the_wire(body: str, tmp_path: Path) -> None:
    assert loaded(body, tmp_path) == []


@pytest.mark.parametrize("argv", [["jobs", "list"], ["inbox", "list"], ["--help"], ["mock", "--help"], ["--version"]])
def test_commands_that_do_not_touch_the_wire(argv: list[str], tmp_path: Path) -> None:
    body = f"from winic_soap.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert loaded(body, tmp_path) == []


def test_the_client_still_loads_what_it_needs(tmp_path: Path) -> None:
    """The probe can fail: a client (and the mock's server) load the wire's libraries on first access."""
    body = "import winic_soap\nwinic_soap.WinicClient('u', 'p', endpoint='http://127.0.0.1:9/Service.asmx').close()"
    wire = loaded(body, tmp_path)
    assert "httpx2" in wire and "opentelemetry" not in wire  # opentelemetry: only through winic_soap.otel
    assert "lxml" in loaded("from winic_soap.mock import MockService", tmp_path)


def test_lazy_names_are_the_real_ones() -> None:
    import winic_soap
    from winic_soap.client import WinicClient
    from winic_soap.exceptions import WinicError

    assert winic_soap.WinicClient is WinicClient and winic_soap.WinicError is WinicError
    assert set(winic_soap.__all__) <= set(dir(winic_soap))
    assert set(winic_soap._EXPORTS) == set(winic_soap.__all__) - {"__version__"}  # each public name, loadable
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        winic_soap.Nope  # noqa: B018
