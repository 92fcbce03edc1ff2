"""The environment a test runs in: no ``AMBIENCE_*`` variable of the developer's leaks in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PREFIX = "AMBIENCE_"


def without_ambience(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: this process's) without the ``AMBIENCE_*`` variables, for a child."""
    return {k: v for k, v in (os.environ if environ is None else environ).items() if not k.startswith(PREFIX)}


def clean_env(monkeypatch: Any) -> None:
    """Remove every ``AMBIENCE_*`` variable for one test (pytest's ``monkeypatch`` puts them back)."""
    for key in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(key)
