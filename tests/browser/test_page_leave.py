"""A home visit's Leave button (issue 17.7) in a real chromium against a real ``ambience serve`` whose one room
is a home visit (``home_visit: true``): it asks first, Stay changes nothing; Leave ends the session, the page
lists what was put back as the daemon said it, the daemon exits 0, and the page then says it has stopped
and asks the gone daemon nothing more. Screenshot: test-artifacts/phone-leave-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from phone_harness import ROOMS, expect, room, shot, sign_in

from ambience.testing import DaemonProcess

pytestmark = pytest.mark.browser

QUIET_MS = 1500
"""How long the page is watched after leaving for a request: its first reconnection would be after 1 s."""


@pytest.fixture(scope="module")
def clinic_rooms() -> dict[str, Any]:
    """The client's living room: a valve and two lights on Tasmota (put back within a second)."""
    studio = ROOMS["studio"]
    lights = [{**light, "bridge": "tasmota"} for light in studio["lights"]]
    return {"studio": {**studio, "name": "Living room", "home_visit": True, "lights": lights}}


@pytest.fixture(scope="module")
def clinic_faults() -> dict[str, Any]:
    return {}


def test_leave_asks_first_lists_what_was_put_back_and_the_daemon_exits_0(phone: Any, clinic: DaemonProcess):
    clinic.api("POST", "/api/rooms/studio/start", {"preset": "express-30"})
    page = phone
    sign_in(page, clinic)
    studio = room(page)
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    leave = page.locator("#leave")
    expect()(leave).to_have_text("Leave")
    dialog = page.locator("#confirm-leave")

    leave.click()  # asks first; Stay changes nothing
    expect()(dialog).to_be_visible()
    expect()(dialog.get_by_role("heading")).to_have_text("Leave the home visit?")
    dialog.get_by_role("button", name="Stay").click()
    expect()(dialog).to_be_hidden()
    assert clinic.running and clinic.room("studio")["state"] == "running"

    leave.click()
    with page.expect_response("**/api/visit/leave", timeout=15000) as answered:
        dialog.get_by_role("button", name="Leave").click()
    report = answered.value.json()
    said = [d["words"] for r in report["rooms"] for d in r["devices"]]
    assert report["ended"] == ["studio"] and said, report
    assert any(re.fullmatch(r"Thermostat: .* as found, confirmed", words) for words in said), said

    assert clinic.proc is not None and clinic.proc.wait(10) == 0, clinic.log_tail()
    left = page.locator("#left")
    expect()(left).to_be_visible()
    expect()(left.get_by_role("heading")).to_have_text("Left: the home is put back")
    expect()(page.locator("#put-back li")).to_have_text(said)
    expect()(page.locator("#app")).to_be_hidden()
    expect()(leave).to_be_hidden()
    banner = page.locator("#connection")
    expect()(banner).to_have_text("The daemon has stopped after the visit.")
    shot(page, "leave-01-left")

    asked: list[str] = []  # the daemon is gone on purpose: no reconnecting, no "unreachable", no error loop
    page.on("request", lambda request: asked.append(request.url))
    page.wait_for_timeout(QUIET_MS)
    assert asked == []
    expect()(banner).not_to_have_class(re.compile(r"\blost\b"))
    expect()(banner).to_have_text("The daemon has stopped after the visit.")
