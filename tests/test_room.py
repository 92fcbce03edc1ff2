"""Room on the loop with fakes: the session a worker's result was for is the one it is applied to."""

from __future__ import annotations

import asyncio
import threading
import time
import wave
from pathlib import Path

import pytest

from ambience.app import room as room_module
from ambience.app.room import Room
from ambience.config import parse_config
from ambience.config.library import Library
from ambience.devices.manager import Devices
from ambience.infra.mqtt import Connection
from ambience.infra.store import Store
from ambience.model.preset import parse_preset
from ambience.music.base import FakePlayer, Heard

pytestmark = pytest.mark.unit


def tone(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(b"\0\0" * int(8000 * seconds))


def preset(pid: str, playlist: str, duration: str):
    text = (
        f"name: {pid}\nduration: {duration}\nmusic: {{playlist: {playlist}, volume: 30, fade_in: 0s, fade_out: 0s}}\n"
    )
    return parse_preset(text, pid, f"{pid}.yaml")


def test_a_replace_while_the_first_playlist_is_being_fitted_plays_the_second_session_s_music(tmp_path, monkeypatch):
    tone(tmp_path / "music" / "first" / "a.wav", 5)
    tone(tmp_path / "music" / "second" / "b.wav", 5)
    config = parse_config("rooms: {studio: {speaker: null}}\n", "test", tmp_path)
    slow = threading.Event()
    real = room_module.load_playlist

    def load(name, folders):
        if name == "first":
            slow.wait(5)  # the first session's tracks are slow to read
        return real(name, folders)

    monkeypatch.setattr(room_module, "load_playlist", load)
    first, second = preset("first", "first", "60s"), preset("second", "second", "30s")

    async def main() -> FakePlayer:
        player = FakePlayer(max_volume=80)
        devices = Devices(Connection(config.mqtt), config)
        room = Room(
            "studio", config.rooms["studio"], config.limits, devices, Store(":memory:"),
            Library(presets={"first": first, "second": second}), [tmp_path / "music"], player, time.time,
        )  # fmt: skip
        room.start(first)
        tick = asyncio.create_task(room.tick())  # fitting the first playlist in a worker
        await asyncio.sleep(0.2)
        room.start(second, replace=True)  # --replace meanwhile
        slow.set()
        await tick
        await room.tick()
        return player

    player = asyncio.run(main())
    music, fitted, _ = player.followed[-1]
    assert music.playlist == "second"
    assert [e.track.name for e in fitted.entries][0].endswith("b.wav")
    assert fitted.length == 30
    assert all(f is None or f.length == 30 for _, f, _ in player.followed)  # the first fit was never played
    assert player.reloads == 1 and player.status()["track"] == "second/b.wav"


def test_the_room_plays_the_timeline_s_track_place_and_volume_and_holds_them_in_a_pause(tmp_path):
    """What the room asks of its player, heard through FakePlayer: no mpv needed."""
    tone(tmp_path / "music" / "spa" / "a.wav", 20)
    tone(tmp_path / "music" / "spa" / "b.wav", 20)
    config = parse_config("rooms: {studio: {}}\n", "test", tmp_path)
    text = "name: spa\nduration: 30s\nmusic: {playlist: spa, volume: 40, fade_in: 10s, fade_out: 5s, shuffle: false}\n"
    spa = parse_preset(text, "spa", "spa.yaml")
    clock = [1_000_000.0]

    async def main() -> None:
        player = FakePlayer(max_volume=80, clock=lambda: clock[0])
        room = Room(
            "studio", config.rooms["studio"], config.limits, Devices(Connection(config.mqtt), config),
            Store(":memory:"), Library(presets={"spa": spa}), [tmp_path / "music"], player, lambda: clock[0],
        )  # fmt: skip
        room.start(spa)
        await room.tick()
        assert player.heard() == Heard(0, room.fitted.entries[0].track, 0.0, 0.0, False)
        assert player.heard(clock[0] + 5).volume == 20.0  # half-way up the fade-in, as the timeline says
        clock[0] += 22
        await room.tick()  # the second track, 2 s in, at the full volume
        assert player.heard() == Heard(1, room.fitted.entries[1].track, pytest.approx(2.0), 40.0, False)
        room.pause()
        await room.tick()
        clock[0] += 60
        assert player.heard() == Heard(1, room.fitted.entries[1].track, pytest.approx(2.0), 40.0, True)
        assert player.status() == {"playing": False, "track": "spa/b.wav", "title": "b", "volume": 40.0,
                                   "error": None, "problem": None, "silent": False}  # fmt: skip
        room.resume()
        await room.tick()
        clock[0] += 6  # into the fade-out: 30 s session, 5 s fade-out from 25 s
        assert player.heard().volume == pytest.approx(40 * 2 / 5)
        assert player.reloads == 1  # one load; the rest followed the timeline in place

    asyncio.run(main())
