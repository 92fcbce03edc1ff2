"""The heater thermostat's controller (ambience/devices/heater.py) and its wiring in the manager. Pure.

The rules are Home Assistant's generic_thermostat where they fit a treatment room
(homeassistant/components/generic_thermostat/climate.py at 0087f75: hysteresis 574-575, the minimum
cycle 580-596) and stricter where they do not: HA keeps the heater as it is when the sensor is
unavailable (569-572); here it is switched off, at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest
from rich.console import Console

from ambience.cli.client_cmds import room_table
from ambience.config import parse_config
from ambience.devices.base import Availability, Dropped, Message, Report, SensorReport, SwitchReport
from ambience.devices.heater import HeaterLoop, HeaterSettings, decide
from ambience.devices.manager import Devices
from ambience.infra.mqtt import Connection, Received
from ambience.model.state import ClimateState, RoomState, Switch
from ambience.testing import eventually_async

pytestmark = pytest.mark.unit

RULES = HeaterSettings(hysteresis=0.3, min_cycle=60.0, sensor_timeout=600.0, max_temperature=27.0)
WARM = ClimateState(22.0, "heat")


def on_at(temperature: float, heating: bool, *, changed_at: float | None = None, now: float = 1000.0) -> bool:
    return decide(WARM, temperature, now - 1, heating, changed_at, RULES, now).on


def test_hysteresis_on_below_the_band_off_above_it_held_in_between():
    assert on_at(21.6, heating=False) is True  # below 22 - 0.3
    assert on_at(22.4, heating=True) is False  # above 22 + 0.3
    for inside in (21.7, 22.0, 22.3):
        assert on_at(inside, heating=False) is False  # not yet cold enough to switch on
        assert on_at(inside, heating=True) is True  # not yet warm enough to switch off


def test_the_minimum_cycle_holds_a_switch_and_says_when_to_look_again():
    held = decide(WARM, 22.6, 1009.0, True, 1000.0, RULES, 1010.0)  # on since 10 s, too warm
    assert held.on is True and "minimum cycle" in held.reason
    assert held.check_at == 1060.0  # when the 60 s are up
    assert decide(WARM, 22.6, 1059.0, True, 1000.0, RULES, 1060.0).on is False
    # the off-time is held too: off 10 s ago and now too cold
    assert decide(WARM, 21.0, 1009.0, False, 1000.0, RULES, 1010.0).on is False
    assert decide(WARM, 21.0, 1059.0, False, 1000.0, RULES, 1060.0).on is True
    # never switched yet: nothing to hold
    assert decide(WARM, 21.0, 9.0, False, None, RULES, 10.0).on is True


def test_a_silent_sensor_switches_the_heater_off_at_once_even_inside_the_minimum_cycle():
    # on 10 s ago; the last reading (cold) came 600 s ago
    silent = decide(WARM, 18.0, 410.0, True, 1000.0, RULES, 1010.0)
    assert silent.on is False and silent.safety and "said nothing for 10m" in silent.reason
    # while the sensor speaks, the decision says when it would be silent too long
    assert decide(WARM, 18.0, 1000.0, True, 1000.0, RULES, 1010.0).check_at == 1600.0


def test_a_reading_above_the_room_maximum_switches_off_at_once_even_inside_the_minimum_cycle():
    hot = ClimateState(27.0, "heat")  # the target itself at the maximum: the band would still say on
    d = decide(hot, 27.1, 1009.0, True, 1000.0, RULES, 1010.0)
    assert d.on is False and d.safety and "above the room's maximum 27" in d.reason


def test_readings_that_are_no_room_temperature_and_an_offline_sensor_switch_it_off():
    for nonsense in (math.nan, math.inf, -60.0, 120.0):
        assert decide(WARM, nonsense, 1009.0, True, 1000.0, RULES, 1010.0).on is False
    assert decide(WARM, 18.0, 1009.0, True, 1000.0, RULES, 1010.0, sensor_offline=True).on is False
    assert decide(WARM, None, None, False, None, RULES, 1010.0).on is False  # nothing heard yet


def test_no_session_or_no_heating_asked_is_off_at_once():
    for climate in (None, ClimateState(22.0, "off"), ClimateState(None, "heat"), ClimateState(22.0, "cool")):
        d = decide(climate, 18.0, 1009.0, True, 1000.0, RULES, 1010.0)
        assert d.on is False, climate
    assert decide(ClimateState(22.0), 18.0, 1009.0, False, None, RULES, 1010.0).on is True  # no mode named: heats


def test_the_loop_counts_the_minimum_cycle_from_its_own_last_switch():
    loop = HeaterLoop(HeaterSettings(0.2, 30.0, 600.0, 27.0))
    loop.want(WARM)
    loop.reading(20.0, 0.0)
    assert loop.step(0.0).on is True and loop.changed_at == 0.0
    loop.reading(23.0, 10.0)
    assert loop.step(10.0).on is True and loop.check_at == 30.0
    assert loop.step(30.0).on is False and loop.changed_at == 30.0
    assert loop.shown() == {"target": 22.0, "current": 23.0, "heating": False, "reason": "23 °C is above 22.2 °C"}


# ---- the manager: a room's climate to the controller, its on/off to the heater switch --------------------


class Plug:
    """A heater plug's adapter that records what it is asked; reports are given by the test."""

    kind = "switch"
    max_transition = 0.0

    def __init__(self) -> None:
        self.asked: list[bool] = []

    def subscriptions(self) -> list[str]:
        return ["visit/heater/state"]

    def switch(self, switch: Switch) -> list[Message]:
        self.asked.append(switch.on)
        return [Message("visit/heater/set", "ON" if switch.on else "OFF")]

    def auto_off_range(self) -> tuple[float, float] | None:
        return None

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        return [SwitchReport(payload == b"ON")]


class Sensor:
    kind = "sensor"
    max_transition = 0.0

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def subscriptions(self) -> list[str]:
        return [self.topic]

    def query(self) -> list[Message]:
        return []

    def auto_off_range(self) -> tuple[float, float] | None:
        return None

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if payload == b"offline":
            return [Availability(False)]
        return [SensorReport(json.loads(payload)["temperature"])]


CONFIG = """
mqtt: {url: "mqtt://127.0.0.1:1"}
rooms:
  visit:
    thermostat:
      bridge: heater
      switch: {bridge: generic, device: visit-heater, command_topic: visit/heater/set}
      sensor: {bridge: generic, device: visit-sensor, command_topic: visit/sensor/unused}
      hysteresis: 0.2
      min_cycle: 30s
      sensor_timeout: 2m
    sensors:
      - {bridge: generic, device: visit-air, command_topic: visit/air/unused}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.running_since: float | None = None
        """Set: the clock runs in real time from ``now``."""

    def __call__(self) -> float:
        return self.now + (0.0 if self.running_since is None else time.monotonic() - self.running_since)


def room() -> tuple[Devices, Plug, Clock]:
    config = parse_config(CONFIG, "ambience.yaml", Path("/tmp"))
    clock = Clock()
    devices = Devices(Connection(config.mqtt), config, clock=clock)
    tracked = devices.rooms["visit"]
    plug = Plug()
    tracked["visit-heater"].adapter = plug  # type: ignore[assignment]
    tracked["visit-sensor"].adapter = Sensor("visit/sensor")  # type: ignore[assignment]
    tracked["visit-air"].adapter = Sensor("visit/air")  # type: ignore[assignment]
    devices._routes = {
        "visit/heater/state": [tracked["visit-heater"]],
        "visit/sensor": [tracked["visit-sensor"]],
        "visit/air": [tracked["visit-air"]],
    }
    return devices, plug, clock


def session(target: float | None) -> RoomState:
    climate = None if target is None else ClimateState(target, "heat")
    return RoomState("running", None, 0.0, 3600.0, 3600.0, 4600.0, climate=climate)


def hear(devices: Devices, topic: str, temperature: float | str) -> None:
    payload = (
        temperature.encode() if isinstance(temperature, str) else json.dumps({"temperature": temperature}).encode()
    )
    devices._on_message(Received(topic, payload, False))


def heater_shown(devices: Devices) -> dict:
    return next(d for d in devices.status("visit") if d["id"] == "visit-heater")


def test_the_rooms_climate_runs_the_heater_switch_and_sensor_reports_run_it_again():
    devices, plug, clock = room()
    hear(devices, "visit/sensor", 19.0)
    assert plug.asked == []  # no session has asked anything of the heater: left alone
    devices.apply("visit", session(22.0))
    assert plug.asked == [True]
    shown = heater_shown(devices)
    assert shown["desired"] == {"on": True}
    assert shown["thermostat"] == {"target": 22.0, "current": 19.0, "heating": True, "reason": "19 °C is below 21.8 °C"}
    clock.now += 40
    hear(devices, "visit/sensor", 22.3)
    assert plug.asked == [True, False]
    devices.apply("visit", session(22.0))  # the room's next tick asks the same: nothing new is sent
    assert plug.asked == [True, False]


def test_the_wake_up_loop_runs_the_controller_when_a_minimum_cycle_ends():
    devices, plug, clock = room()
    hear(devices, "visit/sensor", 19.0)
    devices.apply("visit", session(22.0))
    clock.now += 5
    hear(devices, "visit/sensor", 22.5)  # warm, but on for only 5 s
    assert plug.asked == [True]
    hear(devices, "visit/heater/state", "ON")  # confirmed: no retry due
    check_at = devices.heaters["visit"].loop.check_at
    assert check_at == 1030.0

    async def wake_up() -> None:
        clock.now, clock.running_since = check_at - 0.3, time.monotonic()  # 0.3 s before, and running
        task = asyncio.create_task(devices.run())
        try:
            await eventually_async(lambda: plug.asked == [True, False], 2)  # nothing but its own timer wakes it
        finally:
            task.cancel()

    asyncio.run(wake_up())


def test_a_hold_begun_by_a_new_target_wakes_the_sleeping_loop_when_it_ends():
    devices, plug, clock = room()
    hear(devices, "visit/sensor", 19.0)
    devices.apply("visit", session(22.0))  # on at 1000: held on until 1030
    hear(devices, "visit/heater/state", "ON")

    async def scenario() -> None:
        clock.now, clock.running_since = 1029.7, time.monotonic()
        task = asyncio.create_task(devices.run())
        try:
            await eventually_async(lambda: not devices._wake.is_set(), 2)  # asleep (until the sensor's timeout)
            devices.apply("visit", session(18.0))  # 19 °C is too warm now, but it is held on: nothing is sent
            assert plug.asked == [True]
            await eventually_async(lambda: plug.asked == [True, False], 2)
        finally:
            task.cancel()

    asyncio.run(scenario())


def test_a_silent_or_offline_sensor_switches_the_heater_off():
    devices, plug, clock = room()
    hear(devices, "visit/sensor", 19.0)
    devices.apply("visit", session(22.0))
    clock.now += 121
    devices._heat(devices.heaters["visit"], clock.now)
    assert plug.asked == [True, False]
    assert "said nothing" in heater_shown(devices)["thermostat"]["reason"]
    clock.now += 60
    hear(devices, "visit/sensor", 19.0)
    assert plug.asked == [True, False, True]
    hear(devices, "visit/sensor", "offline")
    assert plug.asked == [True, False, True, False]


def test_no_session_after_an_after_state_keeps_the_heater_off_whatever_the_sensor_says():
    devices, plug, clock = room()
    hear(devices, "visit/sensor", 19.0)
    devices.apply("visit", session(22.0))
    clock.now += 60
    devices.want("visit", "visit-heater", Switch(False))  # the after state (core/after.py)
    assert plug.asked == [True, False]
    clock.now += 60
    hear(devices, "visit/sensor", 15.0)
    assert plug.asked == [True, False]
    assert heater_shown(devices)["thermostat"]["heating"] is False
    # a session without climate: the heater is off too
    devices.apply("visit", session(None))
    assert plug.asked == [True, False]


def test_the_rooms_measured_temperature_is_the_first_room_sensor_that_reported_else_the_thermostats():
    devices, _, _ = room()
    assert devices.temperature("visit") is None
    hear(devices, "visit/sensor", 19.5)
    assert devices.temperature("visit") == {"current": 19.5, "device": "visit-sensor"}
    hear(devices, "visit/air", 20.25)
    assert devices.temperature("visit") == {"current": 20.25, "device": "visit-air"}


def test_ambience_status_shows_the_measured_temperature_and_what_the_heater_does():
    devices, _, _ = room()
    hear(devices, "visit/sensor", 19.0)
    hear(devices, "visit/air", 19.5)
    devices.apply("visit", session(22.0))
    status = {
        "room": "visit",
        "state": "idle",
        "devices": devices.status("visit"),
        "temperature": devices.temperature("visit"),
    }
    console = Console(width=120, record=True)
    console.print(room_table(status))
    text = console.export_text()
    assert "temperature  19.5 °C (visit-air)" in text
    assert "heater       heating, target 22 °C: 19 °C is below 21.8 °C" in text
