"""ESPHome: two-point climates, capabilities from its Home Assistant discovery configs, modes it lacks.

The discovery configs are built as ESPHome writes them (esphome/esphome, esphome/components/mqtt/):
``MQTTClimateComponent::send_discovery`` (mqtt_climate.cpp: ``curr_temp_t``, ``mode_cmd_t``, ``mode_stat_t``,
``modes``, ``temp_lo_cmd_t``/``temp_hi_cmd_t`` for a two-point climate else ``temp_cmd_t``, ``min_temp``,
``max_temp``, ``temp_step``), ``MQTTJSONLightComponent::send_discovery`` (mqtt_light.cpp: ``schema: json``,
``supported_color_modes``, ``min_mireds``/``max_mireds`` abbreviated ``min_mirs``/``max_mirs`` by mqtt_const.h),
and the common keys of ``MQTTComponent::send_discovery_`` (``name``, ``uniq_id``, ``avty_t``, ``dev``).
The two-point topics ``target_temperature_low/command`` etc. are ``MQTT_COMPONENT_CUSTOM_TOPIC`` in mqtt_climate.h.
"""

from __future__ import annotations

import json

import pytest

from ambience.config.devices import EsphomeDevice
from ambience.devices.base import ClimateReport, Message
from ambience.devices.esphome import EsphomeAdapter, esphome_capabilities
from ambience.model.state import ClimateState

pytestmark = pytest.mark.unit

DEV = {"ids": "a4cf12abc123", "name": "node1", "sw": "esphome v2024.10.0 Oct 25 2024", "mdl": "esp32dev",
       "mf": "espressif"}  # fmt: skip


def climate_config(object_id: str, modes: list[str], *, two_point: bool, step: float = 0.5) -> dict:
    base = f"node1/climate/{object_id}"
    config = {
        "curr_temp_t": f"{base}/current_temperature/state", "mode_cmd_t": f"{base}/mode/command",
        "mode_stat_t": f"{base}/mode/state", "modes": modes, "min_temp": 7.0, "max_temp": 35.0, "temp_step": step,
        "act_t": f"{base}/action/state", "name": "Heat pump", "avty_t": "node1/status", "uniq_id": f"ESPclimate{object_id}",
        "dev": DEV,
    }  # fmt: skip
    if two_point:
        config |= {"temp_lo_cmd_t": f"{base}/target_temperature_low/command",
                   "temp_lo_stat_t": f"{base}/target_temperature_low/state",
                   "temp_hi_cmd_t": f"{base}/target_temperature_high/command",
                   "temp_hi_stat_t": f"{base}/target_temperature_high/state"}  # fmt: skip
    else:
        config |= {
            "temp_cmd_t": f"{base}/target_temperature/command",
            "temp_stat_t": f"{base}/target_temperature/state",
        }
    return config


def light_config(modes: list[str], lo: int | None = None, hi: int | None = None) -> dict:
    config = {"schema": "json", "clrm": True, "sup_clrm": modes, "brightness": "brightness" in modes or None,
              "name": "Ceiling", "stat_t": "node1/light/ceiling/state", "cmd_t": "node1/light/ceiling/command",
              "avty_t": "node1/status", "uniq_id": "ESPlightceiling", "dev": DEV}  # fmt: skip
    if lo is not None:
        config |= {"min_mirs": lo, "max_mirs": hi}
    return config


def adapter(kind: str = "climate", object_id: str = "hp", **config) -> EsphomeAdapter:
    return EsphomeAdapter(EsphomeDevice(bridge="esphome", device="node1", object_id=object_id, **config), kind)


def learned(a: EsphomeAdapter, config: dict) -> EsphomeAdapter:
    topic = f"homeassistant/{a.kind}/node1/{a.device.object_id}/config"
    assert a.announcement_topics == [f"homeassistant/{a.kind}/+/{a.device.object_id}/config"]
    caps = a.decode_announcement(topic, json.dumps(config).encode())
    assert caps is not None
    a.learn(caps)
    return a


def test_a_two_point_climate_is_set_through_its_low_and_high_setpoints():
    hp = learned(adapter(), climate_config("hp", ["heat_cool", "off", "cool", "heat"], two_point=True))
    assert hp.capabilities.two_point and hp.capabilities.setpoint == "target_temperature_low"
    assert hp.climate(ClimateState(22.0, "heat")) == [
        Message("node1/climate/hp/target_temperature_low/command", "22.0"),
        Message("node1/climate/hp/target_temperature_high/command", "24.0"),
        Message("node1/climate/hp/mode/command", "heat"),
    ]
    # publish_state_(): the low and high setpoints on their own state topics; the low one confirms
    assert hp.decode("node1/climate/hp/target_temperature_low/state", b"22.0") == [ClimateReport(22.0)]
    assert hp.decode("node1/climate/hp/target_temperature/state", b"30.0") == []


def test_two_point_can_be_configured():
    hp = adapter(two_point=True, two_point_gap=3)
    assert hp.climate(ClimateState(21.0, None))[1] == Message(
        "node1/climate/hp/target_temperature_high/command", "24.0"
    )
    single = adapter()
    assert single.climate(ClimateState(21.0, None)) == [Message("node1/climate/hp/target_temperature/command", "21.0")]
    # the configured value wins over the announcement
    forced = learned(adapter(two_point=False), climate_config("hp", ["off", "heat"], two_point=True))
    assert not forced.two_point


def test_a_mode_the_node_lacks_is_not_sent_and_said_once():
    heater = learned(adapter(object_id="rad"), climate_config("rad", ["off", "heat"], two_point=False))
    assert heater.climate(ClimateState(21.0, "auto")) == [
        Message("node1/climate/rad/target_temperature/command", "21.0")
    ]
    assert heater.refuses(ClimateState(21.0, "auto")) == (
        "esphome thermostat node1/rad: mode 'auto' is not sent, the node's modes are off, heat"
    )
    assert heater.refuses(ClimateState(21.0, "heat")) is None
    assert heater.climate(ClimateState(21.0, "heat"))[-1] == Message("node1/climate/rad/mode/command", "heat")


def test_no_mode_is_sent_when_none_is_asked():
    heater = adapter(object_id="rad")
    assert heater.climate(ClimateState(21.0, None)) == [Message("node1/climate/rad/target_temperature/command", "21.0")]


def test_the_announced_temperature_step_rounds_the_setpoint():
    heater = learned(adapter(object_id="rad"), climate_config("rad", ["off", "heat"], two_point=False, step=1.0))
    caps = heater.capabilities
    assert (caps.setpoint_range, caps.setpoint_step, caps.modes) == ((7.0, 35.0), 1.0, ("off", "heat"))
    assert heater.climate(ClimateState(21.4, None)) == [Message("node1/climate/rad/target_temperature/command", "21.0")]
    configured = learned(
        adapter(object_id="rad", temperature_step=0.5), climate_config("rad", ["heat"], two_point=False)
    )
    assert configured.climate(ClimateState(21.4, None))[0].payload == "21.5"


@pytest.mark.parametrize(
    "modes, lo, hi, brightness, color_temp, color",
    [
        (["color_temp"], 153, 454, True, (153, 454), False),  # a CT bulb with its own range
        (["brightness"], None, None, True, None, False),
        (["onoff"], None, None, False, None, False),  # a relay as a light
        (["rgbww"], None, None, True, None, True),
        (["color_temp", "rgb"], 250, 454, True, (250, 454), True),
    ],
)
def test_light_capabilities_from_the_discovery_config(modes, lo, hi, brightness, color_temp, color):
    caps = esphome_capabilities(light_config(modes, lo, hi))
    assert (caps.kind, caps.brightness, caps.color_temp, caps.color) == ("light", brightness, color_temp, color)
    assert (caps.source, caps.model) == ("esphome discovery", "esp32dev")


def test_an_announcement_is_the_entitys_own_only():
    lamp = adapter("light", object_id="ceiling")
    assert lamp.decode_announcement(
        "homeassistant/light/node1/ceiling/config", json.dumps(light_config(["rgb"])).encode()
    )
    other = light_config(["rgb"]) | {"cmd_t": "node2/light/ceiling/command"}
    assert lamp.decode_announcement("homeassistant/light/node2/ceiling/config", json.dumps(other).encode()) is None
    assert lamp.decode_announcement("homeassistant/light/node1/ceiling/config", b"") is None
