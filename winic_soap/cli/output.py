"""What a command prints: human lines by default, one JSON document with ``--json``."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["emit"]


def emit(args: argparse.Namespace, data: Any, human: list[str]) -> None:
    """``data`` as one JSON line with ``--json``, else the ``human`` lines; each flushed as written."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=str), flush=True)
    else:
        for line in human:
            print(line, flush=True)
