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

pytestmark = pytest.mark.unit


class RecordingPlayer:
    """Stands in for mpv: remembers what it was asked to follow."""

    def __init__(self) -> None:
        self.followed: list = []

    async def follow(self, music, fitted, at=None) -> None:
        self.followed.append((music, fitted))

    def status(self) -> dict:
        return {"playing": False, "track": None, "volume": 0, "error": None}

    async def close(self) -> None:
        pass


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

    async def main() -> RecordingPlayer:
        player = RecordingPlayer()
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
    music, fitted = player.followed[-1]
    assert music.playlist == "second"
    assert [e.track.name for e in fitted.entries][0].endswith("b.wav")
    assert fitted.length == 30
    assert all(f is None or f.length == 30 for _, f in player.followed)  # the first fit was never played
