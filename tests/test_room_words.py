"""The room in words (issue 17, point 5): climate now and wanted, the music's state and problem in
plain English (never "playing" when the output is silent), the devices that need a person by name,
and the whole in a sentence or two. A room on the loop with FakePlayer; no broker, no mpv."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_room import tone

from ambience.app.room import Room, room_words
from ambience.config import parse_config
from ambience.config.library import Library
from ambience.devices.manager import Devices, device_names
from ambience.infra.mqtt import Connection
from ambience.infra.store import Store
from ambience.model.preset import parse_preset
from ambience.music.base import FakePlayer

pytestmark = pytest.mark.unit

ROOM = """\
units: {units}
rooms:
  studio:
    name: Treatment room 1
    thermostat: {{bridge: zigbee2mqtt, device: trv}}
    lights: [{{bridge: zigbee2mqtt, device: ceiling, role: ceiling}}]
    switches:
      - {{bridge: tasmota, device: warmer, role: table_warmer}}
      - {{bridge: tasmota, device: plug2, role: diffuser, name: Lavender diffuser}}
"""
PRESET = """\
name: Swedish, 60 minutes
duration: 60m
climate: {target: 24}
music: {playlist: spa, volume: 25}
"""


def room_with(tmp_path, player: FakePlayer | None, units: str = "metric") -> Room:
    config = parse_config(ROOM.format(units=units), "test", tmp_path)
    swedish = parse_preset(PRESET, "swedish", "swedish.yaml")
    return Room(
        "studio", config.rooms["studio"], config.limits, Devices(Connection(config.mqtt), config), Store(":memory:"),
        Library(presets={"swedish": swedish}), [tmp_path / "music"], player, time.time, units=units,
    )  # fmt: skip


async def started(room: Room) -> dict:
    room.start(room.library.get("swedish"))
    await room.tick()
    return room.status()


def test_a_running_session_in_words(tmp_path):
    tone(tmp_path / "music" / "spa" / "first_light.wav", 5)
    status = asyncio.run(started(room_with(tmp_path, FakePlayer(max_volume=80))))
    assert status["climate"] == {"current": None, "target": 24, "device": "trv"}  # the session's target
    music = status["music"]
    assert (music["state"], music["title"], music["problem"]) == ("playing", "first light", None)
    assert music["words"].startswith("playing 'first light', volume ")
    # one 5 s track for an hour: said, not hidden (issue 18)
    assert music["repeats"] == {"from_s": 5.0, "track": "spa/first_light.wav", "times": 720}
    assert music["words"].endswith("; the playlist repeats from 0:05 (a track plays up to 720 times)")
    assert status["words"].startswith("Swedish, 60 minutes: ")
    assert "Target 24 °C." in status["words"] and "Playing 'first light', volume" in status["words"]


def test_silent_output_is_never_called_playing(tmp_path):
    tone(tmp_path / "music" / "spa" / "a.wav", 5)
    player = FakePlayer(max_volume=80)
    player.fall_back_to_null()
    music = asyncio.run(started(room_with(tmp_path, player)))["music"]
    assert music["state"] == "silent" and music["problem"]["code"] == "no_output"
    assert music["words"] == "no speaker found — playing silently; check the Bluetooth speaker"
    assert "playing '" not in music["words"] and "null" not in music["error"]


def test_a_speaker_that_is_gone_says_so_in_plain_words(tmp_path):
    tone(tmp_path / "music" / "spa" / "a.wav", 5)
    player = FakePlayer(max_volume=80)
    player.fail_output()
    music = asyncio.run(started(room_with(tmp_path, player)))["music"]
    assert music["state"] == "silent" and music["problem"]["code"] == "no_speaker"
    assert music["words"] == music["error"] == "no speaker found — check the Bluetooth speaker"


def test_a_missing_playlist_and_no_speaker(tmp_path):
    (tmp_path / "music").mkdir()
    music = asyncio.run(started(room_with(tmp_path, FakePlayer())))["music"]
    assert music["problem"]["code"] == "no_music" and music["words"].startswith("no music: ")
    off = asyncio.run(started(room_with(tmp_path, None)))["music"]
    assert (off["state"], off["problem"], off["words"]) == ("off", None, "no speaker configured for this room")


def test_devices_needing_a_person_by_name(tmp_path):
    room = room_with(tmp_path, None)
    assert device_names(room.config) == {"trv": "thermostat", "ceiling": "ceiling light", "warmer": "table warmer",
                                         "plug2": "Lavender diffuser"}  # fmt: skip
    devices = [
        {"id": "warmer", "status": "offline"},
        {"id": "plug2", "status": "manual"},
        {"id": "ceiling", "status": "unconfirmed"},
        {"id": "trv", "status": "confirmed"},
    ]
    assert room.attention(devices) == [
        {"device": "warmer", "name": "table warmer", "why": "offline", "words": "Table warmer is offline"},
        {"device": "plug2", "name": "Lavender diffuser", "why": "manual", "words": "Lavender diffuser was changed by hand"},
        {"device": "ceiling", "name": "ceiling light", "why": "unconfirmed",
         "words": "Ceiling light did not confirm — check it by hand"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("units", "said"), [("metric", "23.5 °C, heating to 24 °C."), ("imperial", "74.3 °F, heating to 75.2 °F.")]
)
def test_the_room_in_a_sentence_or_two(units, said):
    status = {
        "state": "running", "preset_name": "Swedish, 60 minutes", "phase": "treatment", "remaining_s": 2530,
        "climate": {"current": 23.5, "target": 24, "device": "trv"},
        "music": {"state": "playing", "words": "playing 'First light', volume 25", "problem": None},
        "attention": [{"words": "Table warmer is offline"}],
    }  # fmt: skip
    assert room_words(status, units) == (
        f"Swedish, 60 minutes: treatment, 42:10 left. {said} Playing 'First light', volume 25. Table warmer is offline."
    )
    idle = {"state": "idle", "climate": {"current": 19.0, "target": 19.0}, "music": {"state": "stopped"}}
    assert room_words(idle) == "No session. 19 °C, target 19 °C."
