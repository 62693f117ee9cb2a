"""Checking recipient numbers: 100,000 of them through ``check_numbers`` (the numbering plan by phonenumberslite)
beside main's way in the same run (a copy below: a ``1[3-9]`` regex and a hand-written calling-code table),
and what loading phonenumbers costs (only paid when a number needs it).

Run: ``python benchmarks/bench_numbers.py [--count 100000] [--repeat 5] [--json PATH]``. Goal: mainland
numbers within 2x main's way (main measured 30 ms for 100,000 normalised mainland mobiles).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import unicodedata
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from winic_soap.recipients import _first_seen, check_numbers  # noqa: E402

GOAL_RATIO = 2.0

# -- main's way (winic_soap/recipients.py and _countries.py before the numbering plans), kept as the baseline ----------
_OLD_DOMESTIC = re.compile(r"1[3-9][0-9]{9}")
_OLD_INTERNATIONAL = re.compile(r"[1-9][0-9]{6,14}")
_OLD_SEPARATORS = re.compile(r"[\s\-().]")
_OLD_CODES_TEXT = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 "
    "82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 "
    "234 235 236 237 238 239 240 241 242 243 244 245 246 248 249 250 251 252 253 254 255 256 257 258 260 261 262 "
    "263 264 265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 "
    "375 376 377 378 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 591 "
    "592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 "
    "691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 "
    "993 994 995 996 998"
)
_OLD_CODES = frozenset(_OLD_CODES_TEXT.split())


def _old_ascii(value: str) -> str:
    if value.isascii():
        return value
    value = unicodedata.normalize("NFKC", value)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in value)


def _old_domestic(raw: str) -> str | None:
    number = _OLD_SEPARATORS.sub("", _old_ascii(raw))
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
            break
    else:
        if len(number) == 13 and number.startswith("86"):
            number = number[2:]
    return number if _OLD_DOMESTIC.fullmatch(number) else None


def _old_international(raw: str) -> str | None:
    number = _OLD_SEPARATORS.sub("", _old_ascii(raw))
    number = number[1:] if number.startswith("+") else number[2:] if number.startswith("00") else number
    return number if _OLD_INTERNATIONAL.fullmatch(number) else None


def _old_code(number: str) -> str | None:
    for size in (1, 2, 3):
        if number[:size] in _OLD_CODES:
            return number[:size]
    return None


def main_way(numbers: Sequence[str], international: bool = False) -> list[str] | array[int]:
    """main's check_numbers loop as it was (compact values past 50,000, problems named), less raising."""
    fast = _OLD_INTERNATIONAL if international else _OLD_DOMESTIC
    normalise = _old_international if international else _old_domestic
    values: list[str] | array[int] = []
    problems: list[tuple[str, int, str]] = []
    countries: dict[str, int] = {}
    for index, raw in enumerate(numbers):
        number = raw if fast.fullmatch(raw) else normalise(raw)
        if number is not None and international:
            code = _old_code(number)
            if code is None:
                number = None
            else:
                countries.setdefault(code, index)
        if number is None:
            problems.append((f"recipients[{index}]", index, raw))
            continue
        if isinstance(values, list):
            values.append(number)
            if len(values) > 50_000:
                values = array("Q", map(int, values))
        else:
            values.append(int(number))
    return list(dict.fromkeys(values)) if isinstance(values, list) else _first_seen(values)  # unchanged since main


# -- the runs -------------------------------------------------------------------------------------------
def _best_ms(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def _lists(count: int) -> dict[str, tuple[list[str], bool]]:
    mixed = []
    for i in range(count):
        number = f"13{3 + i % 7}{i:08d}"
        form = i % 4
        mixed.append(
            number
            if form == 0
            else f"+86 {number[:3]} {number[3:7]} {number[7:]}"
            if form == 1
            else f"0086-{number}"
            if form == 2
            else number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        )
    return {
        "mainland_normalised": ([f"13{3 + i % 7}{i:08d}" for i in range(count)], False),
        "mainland_mixed_forms": (mixed, False),
        "international_gb": ([f"447400{i:06d}" for i in range(count)], True),
    }


def _fresh(code: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, cwd=ROOT
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


_IMPORT_PROBE = """
import json, sys, time
start = time.perf_counter()
import winic_soap.recipients
recipients_ms = (time.perf_counter() - start) * 1000
loaded_by_recipients = "phonenumbers" in sys.modules
start = time.perf_counter()
import phonenumbers
import_ms = (time.perf_counter() - start) * 1000
start = time.perf_counter()
winic_soap.recipients.check_numbers(["447400123456"], international=True)
first_ms = (time.perf_counter() - start) * 1000
print(json.dumps({"import_recipients_ms": round(recipients_ms, 2), "phonenumbers_loaded_by_it": loaded_by_recipients,
                  "import_phonenumbers_ms": round(import_ms, 2), "first_international_check_ms": round(first_ms, 2)}))
"""


def run(count: int, repeat: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"count": count, "repeat": repeat}
    for name, (numbers, international) in _lists(count).items():
        assert len(check_numbers(numbers, international=international).numbers) == len(main_way(numbers, international))
        main_ms = _best_ms(lambda n=numbers, i=international: main_way(n, i), repeat)
        ours_ms = _best_ms(lambda n=numbers, i=international: check_numbers(n, international=i), repeat)
        figures[name] = {"main_ms": main_ms, "ours_ms": ours_ms, "ratio": round(ours_ms / main_ms, 2)}
    figures["import_cost"] = _fresh("import sys; sys.path.insert(0, '.')\n" + _IMPORT_PROBE)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = run(args.count, args.repeat)
    print(f"{args.count} numbers, best of {args.repeat}:")
    for name in ("mainland_normalised", "mainland_mixed_forms", "international_gb"):
        row = figures[name]
        print(f"  {name:22} main {row['main_ms']:9.2f} ms   ours {row['ours_ms']:9.2f} ms   ours/main {row['ratio']}x")
    cost = figures["import_cost"]
    print(
        f"  import winic_soap.recipients {cost['import_recipients_ms']} ms (phonenumbers loaded: "
        f"{cost['phonenumbers_loaded_by_it']}); import phonenumbers {cost['import_phonenumbers_ms']} ms; "
        f"first international check {cost['first_international_check_ms']} ms"
    )
    mainland = max(figures["mainland_normalised"]["ratio"], figures["mainland_mixed_forms"]["ratio"])
    print(f"goal: mainland within {GOAL_RATIO}x main's way: {'met' if mainland <= GOAL_RATIO else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
