"""A switch's daily schedule in a room (issue 15): the towel cabinet on at opening and off at
closing, in the clinic's local time; a session that names its role wins while it runs, and the
schedule has it again after the end. The room on the loop, with a clock the test moves."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ambience.app.room import Room
from ambience.config import parse_config
from ambience.config.library import Library
from ambience.devices.manager import Devices
from ambience.infra.mqtt import Connection
from ambience.infra.store import Store
from ambience.model.preset import parse_preset

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
CONFIG = """
rooms:
  studio:
    speaker: null
    switches:
      - {bridge: tasmota, device: towels, role: towel_warmer, daily: {on: "08:00", off: "19:00", days: [mon, tue, wed, thu, fri]}}
      - {bridge: tasmota, device: diffuser, role: diffuser}
"""


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def room_on(clock: Clock, tmp_path, presets: dict) -> Room:
    config = parse_config(CONFIG, "test", tmp_path)
    devices = Devices(Connection(config.mqtt), config, clock=clock)
    return Room(
        "studio", config.rooms["studio"], config.limits, devices, Store(":memory:"), Library(presets=presets),
        [], None, clock, zone=LONDON,
    )  # fmt: skip


def towels(room: Room):
    return room.devices.rooms["studio"]["towels"].switch


def test_the_towel_cabinet_follows_the_working_day_and_a_session_that_names_it_wins_while_it_runs(tmp_path):
    closing = parse_preset(
        "name: Cabinet off\nduration: 10m\nswitches: {towel_warmer: off, diffuser: on}\n", "closing", "closing.yaml"
    )
    plain = parse_preset("name: Plain\nduration: 10m\nlights: {brightness: 20}\n", "plain", "plain.yaml")
    clock = Clock(at("2026-12-01T07:59:00"))  # a Tuesday

    async def main() -> None:
        room = room_on(clock, tmp_path, {"closing": closing, "plain": plain})
        wake = await room.tick()
        assert towels(room).on is False
        assert wake == at("2026-12-01T08:00:00")
        clock.now = wake
        await room.tick()
        assert towels(room).on is True

        clock.now = at("2026-12-01T10:00:00")
        room.start(plain)
        await room.tick()
        assert towels(room).on is True  # a session that does not name it leaves it on its schedule
        room.stop()
        await room.tick()

        room.start(closing)
        await room.tick()
        assert towels(room).on is False  # the session names it: the session wins
        clock.now += 11 * 60
        await room.tick()  # the session is over: the working day again, not "as found"
        assert room.record is None
        assert towels(room).on is True
        assert "towels" not in room.owed or room.owed["towels"].state == {"on": True}

        clock.now = at("2026-12-01T18:59:59")
        wake = await room.tick()
        assert wake == at("2026-12-01T19:00:00")
        clock.now = wake
        await room.tick()
        assert towels(room).on is False
        assert "towels" not in room.owed  # the schedule drives it; nothing is owed against it

        clock.now = at("2026-12-05T09:00:00")  # a Saturday: not a working day
        await room.tick()
        assert towels(room).on is False

    asyncio.run(main())
