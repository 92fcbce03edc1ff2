"""Home Assistant MQTT conventions: climates with a JSON state read by paths, lights in kelvin, no mode.

Home Assistant's own handling (home-assistant/core, homeassistant/components/mqtt/):
- climate.py reads each state through ``temperature_state_template``, ``mode_state_template``,
  ``current_temperature_template``; a device publishing ``{"temperature": 21.5, "mode": "heat", ...}`` on
  one topic is configured in HA with ``"{{ value_json.temperature }}"`` etc.: here ``temperature_state_path:
  temperature`` (the generic device's dotted paths, ``ambience.devices.codec.at_path``);
- light/schema_json.py ``color_temp_kelvin`` (default false): when true, ``color_temp`` in the command
  (``async_turn_on``) and in the state is kelvin (real-bridges.md §5 row 3, read in homeassistant 2026.11.0).
"""

from __future__ import annotations

import json

import pytest

from ambience.config.devices import HomeAssistantDevice
from ambience.devices.base import ClimateReport, Dropped, LightReport, Message
from ambience.devices.homeassistant import HomeAssistantAdapter
from ambience.model.state import ClimateState, Light

pytestmark = pytest.mark.unit


def thermostat(**paths) -> HomeAssistantAdapter:
    device = HomeAssistantDevice(
        bridge="homeassistant", device="trv", temperature_command_topic="home/trv/set_temp",
        mode_command_topic="home/trv/set_mode", temperature_state_topic="home/trv/state",
        mode_state_topic="home/trv/state", current_temperature_topic="home/trv/state", **paths,
    )  # fmt: skip
    return HomeAssistantAdapter(device, "climate")


def test_a_json_climate_state_is_read_at_its_paths():
    trv = thermostat(temperature_state_path="temperature", mode_state_path="mode",
                     current_temperature_path="sensor.local")  # fmt: skip
    state = {"temperature": 21.5, "mode": "heat", "sensor": {"local": 19.8}, "battery": 80}
    assert trv.decode("home/trv/state", json.dumps(state).encode()) == [ClimateReport(21.5, "heat", 19.8)]


def test_a_json_state_that_leaves_a_value_out_keeps_the_others():
    trv = thermostat(temperature_state_path="temperature", mode_state_path="mode", current_temperature_path="local")
    assert trv.decode("home/trv/state", b'{"temperature": 22}') == [ClimateReport(22.0, None, None)]
    got = trv.decode("home/trv/state", b'{"temperature": 99, "mode": "heat"}')
    assert got[0] == ClimateReport(22.0, "heat", None)
    assert isinstance(got[1], Dropped) and got[1].field == "target at temperature"


def test_without_paths_the_plain_payloads_still_work():
    trv = thermostat(mode_state_path="mode", current_temperature_path="local")  # the setpoint alone is plain
    assert trv.decode("home/trv/state", b"21.5") == [ClimateReport(21.5, None, None)]


def test_no_mode_is_sent_when_none_is_asked():
    assert thermostat().climate(ClimateState(21.0, None)) == [Message("home/trv/set_temp", "21.0")]


def test_a_kelvin_light_is_sent_and_read_in_kelvin():
    device = HomeAssistantDevice(bridge="homeassistant", device="lamp", command_topic="home/lamp/set",
                                 state_topic="home/lamp/state", color_temp_kelvin=True)  # fmt: skip
    lamp = HomeAssistantAdapter(device, "light")
    (sent,) = lamp.light(Light(50.0, 2700.0), 2)
    assert json.loads(sent.payload) == {"state": "ON", "brightness": 128, "color_temp": 2703, "transition": 2}
    # the range is the configured mireds' (153..500 mired = 2000..6536 K)
    assert json.loads(lamp.light(Light(50.0, 1500.0), 0)[0].payload)["color_temp"] == 2000
    state = {"state": "ON", "brightness": 128, "color_mode": "color_temp", "color_temp": 2703}
    assert lamp.decode("home/lamp/state", json.dumps(state).encode()) == [LightReport(Light(50.19607843137255, 2703.0))]
