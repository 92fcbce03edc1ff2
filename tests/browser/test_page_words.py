"""What the room is doing, in words on the phone page (issue 17.5), in a real chromium against a real
``ambience serve``: the current and target temperature, the music's state from ``music.state``/``music.problem``
in the catalog's words (a speaker whose output falls back to mpv's null output: silent; a room with no speaker),
and a device needing attention by its name — in English and in German. Screenshots: test-artifacts/phone-words-*.
"""

from __future__ import annotations

import re
import wave
from typing import Any

import pytest
from phone_harness import ENGLISH_SHOWN, ROOMS, expect, room, shot, sign_in

from ambience.testing import DaemonProcess
from ambience.testing.waiting import eventually

pytestmark = pytest.mark.browser

PRESET = "express-30"  # plays the playlist "calm"
SPOT = "Garden spotlight"


@pytest.fixture(scope="module")
def clinic_rooms() -> dict[str, Any]:
    """The studio with a speaker nobody hears (its output falls back to null); the garden spot named."""
    garden = ROOMS["garden"]
    lights = [{**light, "name": SPOT} if light["device"] == "garden-spot" else light for light in garden["lights"]]
    return {
        "studio": {**ROOMS["studio"], "speaker": {"ao": "nonexistent,null"}},
        "garden": {**garden, "lights": lights},
    }


@pytest.fixture(scope="module")
def clinic_sections(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A music folder with the playlist ``calm``: one quiet minute of a track."""
    music = tmp_path_factory.mktemp("music")
    (music / "calm").mkdir()
    with wave.open(str(music / "calm" / "first_light.wav"), "wb") as track:
        track.setnchannels(1)
        track.setsampwidth(2)
        track.setframerate(8000)
        track.writeframes(b"\0\0" * 8000 * 60)
    return {"music": [str(music)]}


@pytest.fixture
def sessions(clinic: DaemonProcess) -> dict[str, dict[str, Any]]:
    """A session in each room (a test's page stops the studio's at its end), once the studio's player has
    found nobody hears it: each room's status."""
    for room_id in ("studio", "garden"):
        clinic.api("POST", f"/api/rooms/{room_id}/start", {"preset": PRESET, "replace": True})
    eventually(lambda: clinic.room("studio")["music"]["state"] == "silent", 8)
    return {room_id: clinic.room(room_id) for room_id in ("studio", "garden")}


def number(value: float, comma: bool = False) -> str:
    """A temperature as the page writes it: rounded half up to one decimal at most."""
    text = f"{int(value * 10 + 0.5) / 10:g}"
    return text.replace(".", ",") if comma else text


def test_the_room_in_words_in_english(phone: Any, clinic: DaemonProcess, sessions: dict[str, dict[str, Any]]):
    studio_status, garden_status = sessions["studio"], sessions["garden"]
    music = studio_status["music"]  # what the API says, and the page must say in its own words
    assert (music["state"], music["problem"]["code"]) == ("silent", "no_output"), music
    assert garden_status["music"]["state"] == "off"
    assert [(a["name"], a["why"]) for a in garden_status["attention"]] == [(SPOT, "offline")]

    page = phone
    sign_in(page, clinic)
    studio, garden = room(page), room(page, "garden")
    expect()(studio.locator(".state-badge")).to_have_text("Running")
    target = number(studio_status["climate"]["target"])
    expect()(studio.locator(".temperature")).to_have_text(re.compile(rf"^\d\d(\.\d)? °C · target {target} °C$"))
    expect()(studio.locator(".music")).to_have_text("no sound output — check the speaker and the sound settings")
    expect()(studio.locator(".music")).to_have_class(re.compile(r"\bmusic-off\b"))
    expect()(studio.locator(".attention-row")).to_be_hidden()

    # nothing measures the garden: its target alone; no speaker there; the spot offline, by its name
    expect()(garden.locator(".temperature")).to_have_text(f"target {number(garden_status['climate']['target'])} °C")
    expect()(garden.locator(".music")).to_have_text("no speaker in this room")
    expect()(garden.locator(".attention-row")).to_be_visible()
    expect()(garden.locator(".attention")).to_have_text(f"{SPOT}: offline")
    shot(page, "words-01-studio", at=studio)
    shot(page, "words-02-garden", at=garden)


def test_the_room_in_words_in_german(open_phone: Any, clinic: DaemonProcess, sessions: dict[str, dict[str, Any]]):
    page = open_phone(locale="de-DE")
    sign_in(page, clinic)
    studio, garden = room(page), room(page, "garden")
    expect()(studio.locator(".state-badge")).to_have_text("Läuft")
    target = number(sessions["studio"]["climate"]["target"], comma=True)
    expect()(studio.locator(".temperature")).to_have_text(re.compile(rf"^\d\d(,\d)? °C · Ziel {target} °C$"))
    expect()(studio.locator(".music")).to_have_text(
        "keine Tonausgabe — prüfen Sie den Lautsprecher und die Toneinstellungen"
    )
    expect()(garden.locator(".music")).to_have_text("kein Lautsprecher in diesem Raum")
    expect()(garden.locator(".attention")).to_have_text(f"{SPOT}: offline")
    expect()(garden.locator(".attention-row dt")).to_have_text("Zu prüfen")
    shot(page, "words-03-german", at=studio)
    english = page.evaluate(ENGLISH_SHOWN)
    assert english == [], english
