"""The environment a test runs in: no ``AMBIENCE_*`` variable of the developer's leaks in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PREFIX = "AMBIENCE_"
TEST_STORE = "AMBIENCE_TEST_STORE"
"""``postgres``: the whole suite keeps the daemons' stores on a private PostgreSQL (tests/conftest.py)."""
STORE_URL = "AMBIENCE_STORE_URL"


def _kept(key: str, environ: Mapping[str, str]) -> bool:
    """Not the developer's: the suite's own choice of store (``AMBIENCE_TEST_STORE=postgres``) goes on."""
    return key == TEST_STORE or (key == STORE_URL and environ.get(TEST_STORE) == "postgres")


def without_ambience(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: this process's) without the ``AMBIENCE_*`` variables, for a child."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not k.startswith(PREFIX) or _kept(k, environ)}


def clean_env(monkeypatch: Any) -> None:
    """Remove every ``AMBIENCE_*`` variable for one test (pytest's ``monkeypatch`` puts them back)."""
    for key in [k for k in os.environ if k.startswith(PREFIX) and not _kept(k, os.environ)]:
        monkeypatch.delenv(key)
