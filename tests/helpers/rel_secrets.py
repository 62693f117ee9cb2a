"""The reliability suite's passwords, and the check that none of them shows."""

from __future__ import annotations

from typing import Any

PWD = "Rel-Secret-9137"
NEW_PWD = "Rel-New-5521"
SECRETS = (PWD, NEW_PWD)


def assert_no_secret(*texts: Any) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)
