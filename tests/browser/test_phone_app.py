"""The phone page as a home-screen app, in a real chromium against a real ``ambience serve`` with ``units: imperial``.

Chromium's own installability check (manifest, icons, service worker) at 1280×800; a favourite starts in one
tap, the chosen client's last preset first; °F shown; a German browser gets German words and 24-hour times;
the last state and "unreachable" show when the daemon is gone, even across a reload; the screen is kept
awake while a session runs. Screenshots: test-artifacts/phone-app-*.png.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from phone_harness import (
    ENGLISH_SHOWN,
    FAVOURITES,
    controlled,
    expect,
    installability_errors,
    persistent,
    room,
    shot,
    sign_in,
)

from ambience.testing import DaemonProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clinic_sections() -> dict[str, Any]:
    return {"units": "imperial"}


@pytest.fixture
def profile(playwright: Any, clinic: DaemonProcess, tmp_path: Path) -> Iterator[Any]:
    """A page in a chromium with a profile on disk at 1280×800: an off-the-record context is never installable."""
    with persistent(playwright, tmp_path / "profile") as page:
        yield page


def test_chromium_finds_the_page_installable(profile: Any, clinic: DaemonProcess):
    page = profile
    sign_in(page, clinic)
    controlled(page)
    assert installability_errors(page, clinic.url) == []
    assert page.locator('link[rel="apple-touch-icon"]').get_attribute("href") == "/static/apple-touch-icon.png"
    assert page.locator('meta[name="theme-color"]').get_attribute("content") == "#17110d"
    shot(page, "app-01-desktop")


def fahrenheit(celsius: float) -> str:
    """As the page writes it in English: rounded half up to one decimal at most."""
    return f"{math.floor((celsius * 9 / 5 + 32) * 10 + 0.5) / 10:g}"


def test_a_favourite_starts_in_one_tap_with_the_clients_last_preset_first(open_phone: Any, clinic: DaemonProcess):
    clinic.api("POST", "/api/clients", {"label": "D. Park"}, expect=201)
    clinic.api("POST", "/api/rooms/garden/start", {"preset": "deep-tissue-60", "client": "D. Park"})
    clinic.api("POST", "/api/rooms/garden/stop")  # D. Park's last preset: deep tissue
    page = open_phone()
    sign_in(page, clinic)
    studio = room(page)
    buttons = studio.locator(".favourite")
    expect()(buttons).to_have_text(["Swedish relaxation · 60 min", "Express · 30 min"])
    assert [b.get_attribute("data-preset") for b in buttons.all()] == FAVOURITES
    assert studio.locator(".all-presets").evaluate("d => !d.open")  # the full list is behind them
    assert studio.locator("select[name=preset]").input_value() == ""  # no preset picked for anyone
    # °F, as the config says (the valve starts at 19 °C, 66.2 °F; other tests' sessions warm it)
    expect()(studio.locator(".temperature")).to_have_text(re.compile(r"^(6\d|7\d)(\.\d)? °F"))

    studio.locator("select[name=client]").select_option("D. Park")
    expect()(buttons.first).to_have_text("Deep tissue · 60 min · last time")
    expect()(buttons).to_have_count(3)
    shot(page, "app-02-favourites", at=studio.locator(".start-form"))
    buttons.first.click()  # one tap
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    status = clinic.api("GET", "/api/rooms/studio")
    assert (status["preset"], status["client"]) == ("deep-tissue-60", "D. Park")
    expect()(studio.locator(".client-line")).to_have_text("Client: D. Park")
    target = clinic.api("GET", "/api/rooms/studio")["climate"]["target"]  # °C in the API, °F on the page
    expect()(studio.locator(".temperature")).to_contain_text(f"target {fahrenheit(target)} °F")


def test_a_german_browser_reads_german_with_24_hour_times(open_phone: Any, clinic: DaemonProcess):
    page = open_phone(locale="de-DE")
    page.goto(clinic.url + "/")
    assert page.evaluate("document.documentElement.lang") == "de"
    expect()(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    page.get_by_text("Stattdessen ein Token verwenden").click()
    page.get_by_label("API-Token").fill(clinic.token())
    page.get_by_role("button", name="Anmelden").click()
    studio = room(page)
    expect()(studio.locator(".state-badge")).to_have_text("Frei")
    expect()(studio.locator(".temperature")).to_have_text(re.compile(r"^(6\d|7\d)(,\d)? °F"))  # German: a comma
    studio.locator(".favourite").last.click()  # Express · 30 Min.
    expect()(studio.locator(".state-badge")).to_have_text("Läuft")
    expect()(studio.locator(".ends")).to_have_text(re.compile(r"^endet um ([01]?\d|2[0-3]):[0-5]\d$"))
    shot(page, "app-03-german", at=studio)
    english = page.evaluate(ENGLISH_SHOWN)
    assert english == [], english


def test_an_american_browser_reads_12_hour_times(open_phone: Any, clinic: DaemonProcess):
    page = open_phone(locale="en-US")
    sign_in(page, clinic)
    studio = room(page)
    studio.locator(".favourite").last.click()
    expect()(studio.locator(".ends")).to_have_text(re.compile(r"^ends at (1[0-2]|[1-9]):[0-5]\d\s(AM|PM)$"))


def test_the_last_state_shows_with_unreachable_when_the_daemon_is_gone(open_phone: Any, clinic: DaemonProcess):
    page = open_phone()
    sign_in(page, clinic)
    studio = room(page)
    studio.locator(".favourite").last.click()
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    controlled(page)  # (a reload: the page boots again from the saved token)
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    page.wait_for_function("() => JSON.parse(localStorage.getItem('ambience.last') || '{}').rooms?.length === 2")

    clinic.kill()
    page.reload()  # not the browser's error page: the shell from the worker, the state from this phone
    banner = page.locator("#connection")
    expect()(banner).to_have_text(
        re.compile(r"^The daemon is unreachable — showing the state at \d?\d:\d\d; retrying$"), timeout=8000
    )
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    expect()(studio).to_have_class(re.compile(r"\bstale\b"))
    expect()(studio.locator(".preset-name")).to_have_text("Express, 30 minutes")
    assert re.fullmatch(r"(29|30):\d\d", studio.locator(".countdown").inner_text())
    shot(page, "app-04-unreachable", at=studio)

    clinic.start()
    expect()(banner).not_to_contain_text("unreachable", timeout=20000)
    expect()(studio).not_to_have_class(re.compile(r"\bstale\b"))
    expect()(studio.locator(".state-badge")).to_have_text("Running")


def test_the_screen_stays_awake_while_a_session_runs(open_phone: Any, clinic: DaemonProcess):
    page = open_phone()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Browser.setPermission", {"permission": {"name": "screen-wake-lock"}, "setting": "granted",
                                        "origin": clinic.url})  # fmt: skip
    sign_in(page, clinic)
    html = page.locator("html")
    expect()(html).to_have_attribute("data-wake-lock", "none")
    room(page).locator(".favourite").last.click()
    expect()(html).to_have_attribute("data-wake-lock", "held")
    clinic.api("POST", "/api/rooms/studio/stop")
    expect()(html).to_have_attribute("data-wake-lock", "released")


def test_a_did_you_mean_for_a_typed_client_is_one_tap_away(open_phone: Any, clinic: DaemonProcess):
    """The daemon's refusal is shown as it is, and its suggestion offered as a button that starts with it."""
    clinic.api("POST", "/api/clients", {"label": "D. Park"}, expect=201)
    page = open_phone()
    sign_in(page, clinic)
    studio = room(page)
    refusal = "client: unknown client 'D Park'; did you mean 'D. Park'?"
    sent: list[Any] = []

    def typo_refused(route: Any) -> None:  # the daemon's answer to a close-but-unknown label (issue 17)
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fulfill(status=422, content_type="application/json", body=json.dumps({"error": refusal}))
        else:
            route.continue_()

    page.route("**/api/rooms/studio/start", typo_refused)
    studio.locator("select[name=client]").select_option(label="Someone new…")
    studio.get_by_label("New client's label").fill("D Park")
    studio.locator(".favourite").last.click()
    expect()(studio.locator(".room-error")).to_have_text(refusal)
    studio.get_by_role("button", name="Use 'D. Park'").click()
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    assert [body["client"] for body in sent] == ["D Park", "D. Park"]
    assert clinic.api("GET", "/api/rooms/studio")["client"] == "D. Park"
