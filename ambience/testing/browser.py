"""How the browser tests and the phone benchmark (P9) launch Debian's chromium through Playwright."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("AMBIENCE_CHROMIUM", "/usr/bin/chromium")
"""The browser: Debian's chromium (``AMBIENCE_CHROMIUM`` for another)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless on a machine with no GPU, no sandbox (root in CI) and nothing fetched in the background."""
VIEWPORT = {"width": 360, "height": 740}
"""A phone's screen."""

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "VIEWPORT"]
