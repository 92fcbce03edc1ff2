"""The homeassistant_api bridge without a Home Assistant: config errors, service calls, state reading, diffs.

The real thing runs in test_homeassistant_api_live.py (slow, ``./run test-ha``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ambience.config import parse_config
from ambience.config.devices import HomeAssistantApiDevice
from ambience.devices.base import Availability, ClimateReport, LightReport, SensorReport, SwitchReport
from ambience.devices.homeassistant_api import HomeAssistantApiAdapter
from ambience.errors import ConfigError
from ambience.infra.hass import CALL_TOPIC, CONNECTION_TOPIC, merge_event
from ambience.model.state import ClimateState, Light, Switch
from ambience.simulator import Simulator

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_env")]

HASS = {"url": "http://ha.local:8123", "token": "abc"}


def config_errors(room: dict[str, Any], hass: dict[str, Any] | None = HASS, base: Path | None = None) -> list[str]:
    data: dict[str, Any] = {"rooms": {"studio": {"speaker": None, **room}}}
    if hass is not None:
        data["homeassistant_api"] = hass
    try:
        parse_config(yaml.safe_dump(data), "ambience.yaml", base or Path("/nonexistent"))
    except ConfigError as exc:
        return [str(i) for i in exc.issues]
    return []


def test_an_entity_in_the_wrong_place_or_misspelt_is_one_clear_message():
    [wrong] = config_errors({"lights": [{"bridge": "homeassistant_api", "entity_id": "switch.table_warmer"}]})
    assert "lights[0]: 'switch.table_warmer' is a switch entity; a light here is light.<name>" in wrong
    [thermostat] = config_errors({"thermostat": {"bridge": "homeassistant_api", "entity_id": "light.lamp"}})
    assert "thermostat: 'light.lamp' is a light entity; a climate here is climate.<name>" in thermostat
    [bad] = config_errors({"lights": [{"bridge": "homeassistant_api", "entity_id": "Light.Treatment Lamp"}]})
    assert (
        "rooms.studio.lights[0].entity_id" in bad and "'Light.Treatment Lamp' is not a Home Assistant entity id" in bad
    )
    assert config_errors({"switches": [{"bridge": "homeassistant_api", "entity_id": "input_boolean.warmer"}]}) == []


def test_the_bridge_needs_the_section_and_the_section_a_token():
    lamp = {"lights": [{"bridge": "homeassistant_api", "entity_id": "light.lamp"}]}
    [missing] = config_errors(lamp, hass=None)
    assert "rooms.studio" in missing and "no top-level homeassistant_api section" in missing
    [no_token] = config_errors(lamp, hass={"url": "http://ha.local:8123"})
    assert "homeassistant_api" in no_token and "no token" in no_token
    [bad_url] = config_errors(lamp, hass={"url": "ha.local", "token": "x"})
    assert "homeassistant_api.url" in bad_url and "'ha.local' is not Home Assistant's address" in bad_url
    [no_file] = config_errors(lamp, hass={"url": "http://ha.local:8123", "token_file": "ha-token"})
    assert "homeassistant_api.token_file" in no_file and "/nonexistent/ha-token" in no_file


def test_the_websocket_url_and_the_token_file(tmp_path):
    (tmp_path / "ha-token").write_text("  the-token\n")
    data = {"homeassistant_api": {"url": "https://ha.local:8443/", "token_file": "ha-token"}}
    config = parse_config(yaml.safe_dump(data), "ambience.yaml", tmp_path)
    assert config.homeassistant_api is not None
    assert config.homeassistant_api.websocket_url == "wss://ha.local:8443/api/websocket"
    assert config.homeassistant_api.secret() == "the-token"


# ---- the adapter -------------------------------------------------------------------------------


def adapter(entity_id: str, kind: str, **extra: Any) -> HomeAssistantApiAdapter:
    return HomeAssistantApiAdapter(
        HomeAssistantApiDevice(bridge="homeassistant_api", entity_id=entity_id, **extra), kind
    )


def calls(messages: list) -> list[dict[str, Any]]:
    assert all(m.topic == CALL_TOPIC for m in messages)
    return [json.loads(m.payload) for m in messages]


def state(value: str, unit: str = "°C", **attributes: Any) -> bytes:
    return json.dumps({"state": value, "attributes": attributes, "unit": unit}).encode()


def learn(a: HomeAssistantApiAdapter, payload: bytes) -> None:
    caps = a.decode_announcement(a.topic, payload)
    assert caps is not None
    a.learn(caps)


def test_a_light_is_turned_on_with_brightness_colour_temperature_and_transition_and_off():
    lamp = adapter("light.lamp", "light")
    learn(
        lamp, state("off", supported_color_modes=["color_temp"], min_color_temp_kelvin=2200, max_color_temp_kelvin=6500)
    )
    [on] = calls(lamp.light(Light(40, 1800), 3.25))
    assert on == {
        "domain": "light", "service": "turn_on", "target": {"entity_id": "light.lamp"},
        "service_data": {"brightness": 102, "color_temp_kelvin": 2200, "transition": 3.2},  # the warmest it has
    }  # fmt: skip
    assert calls(lamp.light(Light(100, None, "#ff8000"), 0))[0]["service_data"] == {"brightness": 255}  # no colour
    bulb = adapter("light.bulb", "light")
    learn(bulb, state("off", supported_color_modes=["color_temp", "hs"]))
    [colour] = calls(bulb.light(Light(100, None, "#ff8000"), 0))
    assert colour["service_data"] == {"brightness": 255, "rgb_color": [255, 128, 0]}
    [off] = calls(lamp.light(Light(0), 2))
    assert (off["service"], off["service_data"]) == ("turn_off", {"transition": 2})


def test_a_light_state_is_read_and_unavailable_is_offline():
    lamp = adapter("light.lamp", "light")
    on = lamp.decode(lamp.topic, state("on", brightness=102, color_mode="color_temp", color_temp_kelvin=2700))
    assert on == [Availability(True), LightReport(Light(40.0, 2700.0))]
    colour = lamp.decode(lamp.topic, state("on", brightness=255, color_mode="hs", rgb_color=[255, 0, 0]))
    assert colour == [Availability(True), LightReport(Light(100.0, None, "#ff0000"))]
    assert lamp.decode(lamp.topic, state("off")) == [Availability(True), LightReport(Light(0.0))]
    assert lamp.decode(lamp.topic, state("unavailable")) == [Availability(False)]
    assert lamp.decode(CONNECTION_TOPIC, b"offline") == [Availability(False)]
    assert lamp.decode("hass:state/light.other", state("on")) == []
    [dropped] = lamp.decode(lamp.topic, b"not json")
    assert "a state message is a JSON object" in str(dropped)


def test_a_thermostat_is_never_sent_a_mode_it_lacks_and_its_setpoint_stays_in_its_range():
    cooler = adapter("climate.cooler", "climate")
    learn(cooler, state("off", hvac_modes=["cool", "off"], min_temp=7, max_temp=30, target_temp_step=0.5))
    [setpoint] = calls(cooler.climate(ClimateState(23.3, "heat")))
    assert (setpoint["service"], setpoint["service_data"]) == ("set_temperature", {"temperature": 23.5})
    assert cooler.expected(ClimateState(23.3, "heat")) == ClimateState(23.5, None)
    assert cooler.refusals(ClimateState(23.3, "heat")) == [
        "climate.cooler: mode 'heat' is not sent, its hvac_modes are cool, off"
    ]
    [capped, mode] = calls(cooler.climate(ClimateState(40, "off")))
    assert capped["service_data"] == {"temperature": 30} and mode["service_data"] == {"hvac_mode": "off"}
    report = cooler.decode(cooler.topic, state("cool", temperature=24, current_temperature=22.4))
    assert report == [Availability(True), ClimateReport(24.0, "cool", 22.4)]


def test_a_home_assistant_in_fahrenheit_is_sent_and_read_in_fahrenheit():
    heat = adapter("climate.heatpump", "climate")
    learn(heat, state("heat", unit="°F", hvac_modes=["heat", "off"], min_temp=45, max_temp=95, target_temp_step=1))
    [setpoint] = calls(heat.climate(ClimateState(21, "heat"))[:1])
    assert setpoint["service_data"] == {"temperature": 69.8}
    [_, report] = heat.decode(heat.topic, state("heat", unit="°F", temperature=68, current_temperature=77))
    assert report == ClimateReport(20.0, "heat", 25.0)


def test_switches_input_booleans_media_players_and_sensors():
    warmer = adapter("switch.warmer", "switch")
    assert calls(warmer.switch(Switch(True)))[0]["service"] == "turn_on"
    assert warmer.decode(warmer.topic, state("on")) == [Availability(True), SwitchReport(True)]
    boolean = adapter("input_boolean.warmer", "switch")
    assert calls(boolean.switch(Switch(False)))[0]["domain"] == "input_boolean"
    player = adapter("media_player.room", "switch")
    assert calls(player.switch(Switch(True)))[0]["domain"] == "media_player"
    assert player.decode(player.topic, state("playing"))[1] == SwitchReport(True)
    sensor = adapter("sensor.room", "sensor")
    assert sensor.decode(sensor.topic, state("71.6", unit_of_measurement="°F"))[1] == SensorReport(22.0)
    humidity = adapter("sensor.humidity", "sensor")
    assert humidity.decode(humidity.topic, state("55", unit_of_measurement="%"))[1] == SensorReport(None, 55.0)


def test_the_compressed_state_diffs_of_subscribe_entities_are_merged():
    states: dict[str, dict[str, Any]] = {}
    merge_event(states, {"a": {"light.lamp": {"s": "on", "a": {"brightness": 10, "color_temp_kelvin": 2700}}}})
    changed = merge_event(
        states, {"c": {"light.lamp": {"+": {"a": {"brightness": 20}}, "-": {"a": ["color_temp_kelvin"]}}}}
    )
    assert changed == [("light.lamp", {"state": "on", "attributes": {"brightness": 20}})]
    merge_event(states, {"c": {"light.lamp": {"+": {"s": "off"}}}})
    assert states["light.lamp"]["state"] == "off"
    assert merge_event(states, {"r": ["light.lamp"]}) == [("light.lamp", {"state": "unavailable", "attributes": {}})]
    assert states == {}


def test_the_simulator_leaves_home_assistant_entities_to_home_assistant():
    text = yaml.safe_dump(
        {
            "homeassistant_api": HASS,
            "rooms": {"studio": {"speaker": None, "lights": [
                {"bridge": "homeassistant_api", "entity_id": "light.lamp"}, {"bridge": "tasmota", "device": "lamp"},
            ]}},
        }
    )  # fmt: skip
    assert Simulator(parse_config(text, "ambience.yaml", Path("."))).devices() == [("studio", "lamp")]
