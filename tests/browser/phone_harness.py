"""The phone-page browser tests' harness: the clinic (a real ``ambience serve``, :class:`DaemonProcess`,
with simulated devices), the browser's settings and screenshots."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ambience.testing import STUDIO, DaemonProcess
from ambience.testing.browser import CHROMIUM, CHROMIUM_ARGS

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
    """End whatever a test left running in the room (nothing once the daemon has gone: a home visit left)."""
    if clinic.running and clinic.room(room)["state"] != "idle":
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


def expect() -> Any:
    """Playwright's ``expect`` (imported late: the package may be missing, and the tests then skip)."""
    from playwright.sync_api import expect as _expect

    return _expect


def room(page: Any, room_id: str = "studio") -> Any:
    return page.locator(f'article.room[data-room="{room_id}"]')


def sign_in(page: Any, clinic: DaemonProcess, room_id: str = "studio") -> None:
    """Open the page and sign in with the admin token (behind "Use a token instead"), until the room shows."""
    page.goto(clinic.url + "/")
    page.locator("#token-details > summary").click()
    page.locator("#token").fill(clinic.token())
    page.locator("#signin-form button[type=submit]").click()
    expect()(room(page, room_id).locator(".state-badge")).to_be_visible()


ENGLISH_SHOWN = """() => {
  const en = self.AMBIENCE_I18N.en, de = self.AMBIENCE_I18N.de;
  const shown = document.body.innerText;
  const pieces = [];
  for (const [key, value] of Object.entries(en)) {
    if (key.startsWith("technique.")) continue; // "Swedish", "Deep tissue": also in the library's preset names
    for (const text of typeof value === "object" ? Object.values(value) : [value]) {
      const german = JSON.stringify(de[key]);
      for (const piece of text.split(/\\{\\w+\\}/).map((p) => p.trim())) {
        if (piece.length >= 6 && !german.includes(piece)) pieces.push(piece);
      }
    }
  }
  return pieces.filter((piece) => shown.includes(piece));
}"""
"""The catalog's English (each piece of it between placeholders, of 6 letters or more) a German page shows."""


def controlled(page: Any) -> None:
    """Until the service worker is active and controls the page (its shell cached for offline use)."""
    page.evaluate("navigator.serviceWorker.ready")
    if not page.evaluate("Boolean(navigator.serviceWorker.controller)"):
        page.reload()  # the first load is not controlled until the worker claims it
    page.wait_for_function("() => Boolean(navigator.serviceWorker.controller)")


@contextlib.contextmanager
def persistent(playwright: Any, profile: Path, args: tuple[str, ...] = ()) -> Iterator[Any]:
    """A page in a chromium with a profile on disk at 1280×800 (an off-the-record context is never installable);
    ``args``: more of chromium's flags."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args], headless=True, viewport=DESKTOP,
        locale="en-GB", timezone_id="UTC",
    )  # fmt: skip
    context.set_default_timeout(8000)
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def installability_errors(page: Any, url: str) -> list[str]:
    """Chromium's own installability check of the page at ``url`` (its manifest read without errors, its start
    URL the page): the errors it finds, none for a page that can go on the home screen."""
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == url + "/static/manifest.webmanifest" and manifest["errors"] == [], manifest
    parsed = manifest.get("manifest") or {}
    if parsed:  # newer chromium: the manifest as it read it
        assert parsed["startUrl"] == url + "/" and parsed["display"].lower().endswith("standalone"), parsed
    return [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
