"""The phone-page browser tests' harness: the clinic (a real ``ambience serve``, :class:`DaemonProcess`,
with simulated devices), the browser's settings and screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ambience.testing import STUDIO, DaemonProcess

CHROMIUM = os.environ.get("AMBIENCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

FAVOURITES = ["swedish-relaxation-60", "express-30"]
ROOMS = {
    "studio": {**STUDIO, "favourites": FAVOURITES},
    "garden": {
        "name": "Garden room",
        "lights": [
            {"bridge": "zigbee2mqtt", "device": "garden-lamp", "role": "lamp"},
            {"bridge": "tasmota", "device": "garden-spot", "role": "ceiling"},
        ],
        "speaker": None,
    },
}


def idle(clinic: DaemonProcess, room: str = "studio") -> None:
    """End whatever a test left running in the room."""
    if clinic.room(room)["state"] != "idle":
        clinic.api("POST", f"/api/rooms/{room}/stop", expect=None)


def unexpected(text: str) -> bool:
    """A console error that is not a refused or failed request (those are the point of some tests)."""
    return not (
        "Failed to load resource" in text or "net::ERR" in text or "status of 40" in text or "Failed to fetch" in text
    )


def shot(page: Any, name: str, at: Any = None) -> Path:
    """A screenshot of what the phone shows (the 360×740 viewport) in test-artifacts/.

    ``at``: a locator scrolled to the top of the screen first (a room card, say)."""
    if at is not None:
        at.evaluate("element => element.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"phone-{name}.png"
    page.screenshot(path=str(path))
    return path
