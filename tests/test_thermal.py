"""The simulator's thermal model (ambience/simulator/thermal.py): a room's air, its heater plug, its sensors. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_heater import CONFIG as HEATER_ROOM

from ambience.config import parse_config
from ambience.simulator.base import SENSOR, SWITCH
from ambience.simulator.generic import GenericSim
from ambience.simulator.runner import device_specs
from ambience.simulator.thermal import Rates, Thermal

pytestmark = pytest.mark.unit

CONFIG = (
    HEATER_ROOM
    + """
  studio:
    sensors:
      - {bridge: generic, device: studio-air, command_topic: studio/air/set}
"""
)


def linked(rates: dict | None = None, initial: float = 19.0):
    config = parse_config(CONFIG, "ambience.yaml", Path("/tmp"))
    devices = []
    for room_id, room in config.rooms.items():
        for dev, kind, _ in room.devices():
            spec = {"temperature": initial} if kind == SENSOR else None
            devices.append(GenericSim(room_id, dev, kind, initial=spec))  # type: ignore[arg-type]
    thermal = Thermal.link(config, devices, {"visit": rates} if rates else {})
    by_name = {dev.name: dev for dev in devices}
    return thermal, by_name


def test_the_air_rises_while_the_heater_plug_is_on_and_falls_towards_the_ambient_when_off():
    thermal, dev = linked({"heating": 6.0, "cooling": 3.0, "ambient": 16.0})
    assert dev["visit-heater"].kind == SWITCH
    thermal.step(0.0)  # starts the clock
    dev["visit-heater"].switch.set(True, 0.0)
    thermal.step(30.0)
    assert dev["visit-sensor"].sensor.temperature == 22.0  # 19 + 6 °C/min × 0.5 min
    assert dev["visit-air"].sensor.temperature == 22.0  # the room's own sensors read the same air
    dev["visit-heater"].switch.set(False, 30.0)
    thermal.step(90.0)
    assert dev["visit-sensor"].sensor.temperature == 19.0
    thermal.step(600.0)
    assert dev["visit-sensor"].sensor.temperature == 16.0  # no colder than the ambient
    assert dev["studio-air"].sensor.temperature == 19.0  # a room without a heater thermostat is not modelled


def test_a_plug_that_switched_itself_off_stops_heating():
    thermal, dev = linked({"heating": 6.0, "cooling": 0.0})
    plug = dev["visit-heater"].switch
    thermal.step(0.0)
    plug.set(True, 0.0, timer=10.0)  # the firmware's auto-off timer
    plug.expire(10.0)
    thermal.step(60.0)
    assert dev["visit-sensor"].sensor.temperature == 19.0


def test_sensors_read_at_their_resolution_and_a_test_can_set_the_air():
    thermal, dev = linked({"resolution": 0.5, "start": 21.3})
    assert dev["visit-sensor"].sensor.temperature == 21.5
    thermal.set("visit", 30.04)
    assert dev["visit-sensor"].sensor.temperature == 30.0
    with pytest.raises(ValueError, match="room 'studio' has no thermal model .* linked rooms: visit"):
        thermal.set("studio", 20.0)


def test_bad_rates_and_rooms_without_a_heater_thermostat_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"thermal.visit: unknown key 'heat'; allowed: heating, cooling"):
        Rates.parse("visit", {"heat": 1})
    with pytest.raises(ValueError, match=r"thermal.visit.cooling is -1; write a rate of 0 °C/min or more"):
        Rates.parse("visit", {"cooling": -1})
    with pytest.raises(ValueError, match=r"thermal.visit.ambient is 'cold'; write a number"):
        Rates.parse("visit", {"ambient": "cold"})
    config = parse_config(CONFIG, "ambience.yaml", Path("/tmp"))
    with pytest.raises(ValueError, match=r"thermal.studio: no room with a heater thermostat .* linked rooms: visit"):
        Thermal.link(config, [], {"studio": {"heating": 1}})


def test_the_simulator_devices_file_takes_the_rates_per_room(tmp_path):
    path = tmp_path / "devices.yaml"
    path.write_text("devices: {}\nthermal:\n  visit: {heating: 1.5, ambient: 14}\n", encoding="utf-8")
    assert device_specs(path)["thermal"] == {"visit": {"heating": 1.5, "ambient": 14}}
    path.write_text("devices: {}\nthermal: warm\n", encoding="utf-8")
    with pytest.raises(ValueError, match="thermal is 'warm'; write a mapping of room to rates"):
        device_specs(path)
