"""The bridge adapters: exact topics and payloads out, reports in, and no crash on garbage."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambience.config.devices import (
    EsphomeDevice,
    GenericDevice,
    HomeAssistantDevice,
    ShellyDevice,
    TasmotaDevice,
    Zigbee2MqttDevice,
)
from ambience.devices.base import (
    Availability,
    ClimateReport,
    Dropped,
    LightReport,
    Message,
    kelvin_to_mired,
    mired_to_kelvin,
    pct_to_scale,
    scale_to_pct,
    step_temperature,
)
from ambience.devices.esphome import EsphomeAdapter
from ambience.devices.generic import GenericAdapter
from ambience.devices.homeassistant import HomeAssistantAdapter
from ambience.devices.registry import make_adapter
from ambience.devices.shelly import ShellyAdapter
from ambience.devices.tasmota import TasmotaAdapter, distance, speed
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light
from ambience.testing.properties import draws

pytestmark = pytest.mark.unit

WARM_30 = Light(30, 2700)
OFF = Light(0)
AMBER = Light(50, None, "#ff9a40")
CLIENT = "ambience-room1"


def z2m(kind: str = "light", **kw) -> Zigbee2MqttAdapter:
    kw.setdefault("device", "lamp")
    return Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", **kw), kind)


def tasmota(**kw) -> TasmotaAdapter:
    return TasmotaAdapter(TasmotaDevice(bridge="tasmota", device="lamp", **kw), "light")


HA_LIGHT = {
    "command_topic": "home/lamp/set",
    "state_topic": "home/lamp/state",
    "availability_topic": "home/lamp/availability",
}
HA_CLIMATE = {
    "temperature_command_topic": "home/trv/target/set",
    "temperature_state_topic": "home/trv/target",
    "mode_command_topic": "home/trv/mode/set",
    "mode_state_topic": "home/trv/mode",
    "current_temperature_topic": "home/trv/current",
    "availability_topic": "home/trv/availability",
}


def ha(kind: str = "light", **kw) -> HomeAssistantAdapter:
    topics = HA_LIGHT if kind == "light" else HA_CLIMATE
    return HomeAssistantAdapter(HomeAssistantDevice(bridge="homeassistant", device="lamp", **{**topics, **kw}), kind)


def esphome(kind: str = "light", **kw) -> EsphomeAdapter:
    object_id = "ceiling" if kind == "light" else "trv"
    return EsphomeAdapter(EsphomeDevice(bridge="esphome", device="node1", object_id=object_id, **kw), kind)


def shelly(**kw) -> ShellyAdapter:
    return ShellyAdapter(ShellyDevice(bridge="shelly", device="shellyprodm1pm-abc", **kw), "light", CLIENT)


def generic(kind: str = "light", **kw) -> GenericAdapter:
    kw.setdefault("command_topic", "x/set")
    return GenericAdapter(GenericDevice(bridge="generic", device="x", **kw), kind)


def as_json(messages: list[Message]) -> list[tuple[str, object]]:
    return [(m.topic, json.loads(m.payload)) for m in messages]


def as_text(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.topic, m.payload) for m in messages]


def one_light(reports) -> Light:
    assert len(reports) == 1 and isinstance(reports[0], LightReport), reports
    return reports[0].light


def reports_in(decoded: list) -> list:
    """What a decode says, less the values it dropped."""
    return [r for r in decoded if not isinstance(r, Dropped)]


def dropped_in(decoded: list) -> list[str]:
    """The fields a decode dropped."""
    return [r.field for r in decoded if isinstance(r, Dropped)]


# ---- commands -----------------------------------------------------------------------------------

JSON_LIGHT_CASES = [
    # Zigbee2MQTT
    (z2m, WARM_30, 30, "zigbee2mqtt/lamp/set", {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 30}),
    (z2m, OFF, 5, "zigbee2mqtt/lamp/set", {"state": "OFF", "transition": 5}),
    (z2m, OFF, 0, "zigbee2mqtt/lamp/set", {"state": "OFF", "transition": 0}),
    (
        z2m,
        AMBER,
        2,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 127, "color": {"hex": "#ff9a40"}, "transition": 2},
    ),
    (
        z2m,
        Light(100, 2700, "#FF9A40"),
        1.5,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 254, "color": {"hex": "#ff9a40"}, "transition": 1.5},
    ),
    (z2m, Light(0.1), 0, "zigbee2mqtt/lamp/set", {"state": "ON", "brightness": 1, "transition": 0}),
    (
        z2m,
        WARM_30,
        1000,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 600},
    ),
    (
        lambda: z2m(max_transition=20),
        WARM_30,
        30,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 20},
    ),
    (
        lambda: z2m(mired_min=200, mired_max=454),
        Light(80, 6500),
        0,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 203, "color_temp": 200, "transition": 0},
    ),
    (
        lambda: z2m(mired_min=200, mired_max=454),
        Light(80, 2000),
        0,
        "zigbee2mqtt/lamp/set",
        {"state": "ON", "brightness": 203, "color_temp": 454, "transition": 0},
    ),
    (
        lambda: z2m(base_topic="z2m/", device="Room 1/Ceiling"),
        WARM_30,
        3,
        "z2m/Room 1/Ceiling/set",
        {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 3},
    ),
    # Home Assistant, JSON schema
    (ha, WARM_30, 30, "home/lamp/set", {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 30}),
    (ha, OFF, 4, "home/lamp/set", {"state": "OFF", "transition": 4}),
    (
        ha,
        AMBER,
        2,
        "home/lamp/set",
        {"state": "ON", "brightness": 128, "color": {"r": 255, "g": 154, "b": 64}, "transition": 2},
    ),
    (
        lambda: ha(brightness_scale=100),
        WARM_30,
        30,
        "home/lamp/set",
        {"state": "ON", "brightness": 30, "color_temp": 370, "transition": 30},
    ),
    (ha, WARM_30, 90, "home/lamp/set", {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 60}),
    # ESPHome: whole-second transitions
    (
        esphome,
        WARM_30,
        30,
        "node1/light/ceiling/command",
        {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 30},
    ),
    (
        esphome,
        WARM_30,
        2.6,
        "node1/light/ceiling/command",
        {"state": "ON", "brightness": 76, "color_temp": 370, "transition": 3},
    ),
    (esphome, OFF, 0.4, "node1/light/ceiling/command", {"state": "OFF", "transition": 0}),
    (
        esphome,
        AMBER,
        2,
        "node1/light/ceiling/command",
        {"state": "ON", "brightness": 128, "color": {"r": 255, "g": 154, "b": 64}, "transition": 2},
    ),
]


@pytest.mark.parametrize(("make", "light", "transition", "topic", "payload"), JSON_LIGHT_CASES)
def test_json_light_commands(make, light, transition, topic, payload):
    assert as_json(make().light(light, transition)) == [(topic, payload)]


TASMOTA_CASES = [
    # Nothing known of the light yet: the fade is sized for a full 0->100 % change.
    (tasmota, WARM_30, 30, "cmnd/lamp/Backlog", "Speed2 40; Dimmer 30; Speed2 40; CT 370"),
    (tasmota, WARM_30, 5, "cmnd/lamp/Backlog", "Speed2 10; Dimmer 30; Speed2 10; CT 370"),
    (tasmota, WARM_30, 0, "cmnd/lamp/Backlog", "Speed2 0; Dimmer 30; Speed2 0; CT 370"),
    (tasmota, OFF, 0, "cmnd/lamp/Backlog", "Speed2 0; Power OFF"),
    (tasmota, OFF, 3, "cmnd/lamp/Backlog", "Speed2 6; Power OFF"),
    (tasmota, AMBER, 2, "cmnd/lamp/Backlog", "Speed2 4; Dimmer 50; Speed2 4; Color2 #ff9a40"),
    (tasmota, Light(0.2), 0, "cmnd/lamp/Backlog", "Speed2 0; Dimmer 1"),
    (tasmota, Light(80, 9000), 0, "cmnd/lamp/Backlog", "Speed2 0; Dimmer 80; Speed2 0; CT 153"),
    (
        lambda: tasmota(full_topic="tasmota/%topic%/%prefix%/"),
        WARM_30,
        0,
        "tasmota/lamp/cmnd/Backlog",
        "Speed2 0; Dimmer 30; Speed2 0; CT 370",
    ),
    (lambda: tasmota(full_topic="%prefix%/%topic%"), OFF, 0, "cmnd/lamp/Backlog", "Speed2 0; Power OFF"),
]


@pytest.mark.parametrize(("make", "light", "transition", "topic", "payload"), TASMOTA_CASES)
def test_tasmota_commands(make, light, transition, topic, payload):
    assert as_text(make().light(light, transition)) == [(topic, payload)]


def test_tasmota_fade_speed_follows_the_known_state():
    adapter = tasmota()
    adapter.decode("stat/lamp/RESULT", b'{"POWER":"ON","Dimmer":30,"CT":370}')
    change = distance(Light(30, 2703), Light(60, 2700))
    assert 0.2 < change < 0.3
    [message] = adapter.light(Light(60, 2700), 3)
    n = round(2 * 3 / change)
    assert message.payload == f"Speed2 {n}; Dimmer 60; Speed2 {n}; CT 370"
    # its own command is what it assumes next: 60 % -> off over 6 s is a 0.6 change of the warm channel
    [message] = adapter.light(OFF, 6)
    assert message.payload == f"Speed2 {round(12 / distance(Light(60, 2700), OFF))}; Power OFF"


@pytest.mark.parametrize(
    ("transition", "change", "n"),
    [(0, 1, 0), (20, 1, 40), (5, 0.5, 20), (100, 0.1, 40), (0.1, 1, 1), (3, 0, 40)],
)
def test_tasmota_speed(transition, change, n):
    assert speed(transition, change) == n


def test_tasmota_distance():
    assert distance(None, WARM_30) == 1
    assert distance(Light(30), Light(80)) == pytest.approx(0.5)
    assert distance(Light(50, None, "#ff0000"), Light(50, None, "#00ff00")) == pytest.approx(0.5)
    assert distance(WARM_30, WARM_30) == 0


def test_tasmota_max_transition():
    assert tasmota().max_transition == 20
    assert tasmota(max_transition=8).max_transition == 8
    assert tasmota(max_transition=600).max_transition == 20


def test_shelly_commands_count_ids_from_one():
    adapter = shelly()
    rpc = "shellyprodm1pm-abc/rpc"
    on = {
        "id": 1,
        "src": CLIENT,
        "method": "Light.Set",
        "params": {"id": 0, "on": True, "brightness": 30, "transition_duration": 30},
    }
    assert as_json(adapter.light(WARM_30, 30)) == [(rpc, on)]
    off = {"id": 2, "src": CLIENT, "method": "Light.Set", "params": {"id": 0, "on": False, "transition_duration": 0.5}}
    assert as_json(adapter.light(OFF, 0)) == [(rpc, off)]
    get = {"id": 3, "src": CLIENT, "method": "Light.GetStatus", "params": {"id": 0}}
    # and what the device is (its components): Shelly.GetDeviceInfo and Shelly.GetConfig
    info = {"id": 4, "src": CLIENT, "method": "Shelly.GetDeviceInfo", "params": {}}
    config = {"id": 5, "src": CLIENT, "method": "Shelly.GetConfig", "params": {}}
    assert as_json(adapter.query()) == [(rpc, get), (rpc, info), (rpc, config)]
    # colour temperature and colour are not in Light.Set; a long fade is clamped
    [(_, frame)] = as_json(adapter.light(Light(30, 6500, "#ff0000"), 10_000))
    assert frame["params"] == {"id": 0, "on": True, "brightness": 30, "transition_duration": 600}
    # another adapter counts on its own
    assert json.loads(shelly(component=2).light(WARM_30, 1)[0].payload)["id"] == 1
    assert json.loads(shelly(component=2).light(WARM_30, 1)[0].payload)["params"]["id"] == 2


GENERIC_CASES = [
    ({}, WARM_30, 3, '{"state": "on", "brightness": 30}'),
    ({}, OFF, 3, '{"state": "off", "brightness": 0}'),
    ({"payload": "{STATE}"}, WARM_30, 0, "ON"),
    ({"payload": "{brightness}", "brightness_scale": 254}, WARM_30, 0, "76"),
    (
        {"payload": '{"s":"{STATE}","on":{on},"b":{brightness255},"k":{color_temp},"m":{mired},"t":{transition}}'},
        WARM_30,
        30,
        '{"s":"ON","on":true,"b":76,"k":2700,"m":370,"t":30}',
    ),
    ({"payload": '{"c":"{color}","k":{color_temp}}'}, AMBER, 0, '{"c":"#ff9a40","k":null}'),
    ({"payload": "dim {brightness} {unknown} {{x}}"}, WARM_30, 0, "dim 30 {unknown} {{x}}"),
]


@pytest.mark.parametrize(("config", "light", "transition", "payload"), GENERIC_CASES)
def test_generic_light_commands(config, light, transition, payload):
    assert as_text(generic(**config).light(light, transition)) == [("x/set", payload)]


def test_generic_max_transition():
    assert generic().max_transition == 0
    assert generic(payload='{"t": {transition}}').max_transition == 60
    assert generic(payload='{"t": {transition}}').light(WARM_30, 90)[0].payload == '{"t": 60}'
    assert generic(max_transition=5).max_transition == 5


# ---- thermostats ----------------------------------------------------------------------------------

HEAT_24_3 = ClimateState(24.3, "heat")

CLIMATE_CASES = [
    (
        lambda: z2m("climate"),
        HEAT_24_3,
        [("zigbee2mqtt/lamp/set", {"occupied_heating_setpoint": 24.5, "system_mode": "heat"})],
    ),
    (
        lambda: z2m("climate", setpoint="current_heating_setpoint", temperature_step=1),
        HEAT_24_3,
        [("zigbee2mqtt/lamp/set", {"current_heating_setpoint": 24.0, "system_mode": "heat"})],
    ),
    (lambda: z2m("climate"), ClimateState(None, "off"), [("zigbee2mqtt/lamp/set", {"system_mode": "off"})]),
    (
        lambda: z2m("climate"),
        ClimateState(21.26, "auto"),
        [("zigbee2mqtt/lamp/set", {"occupied_heating_setpoint": 21.5, "system_mode": "auto"})],
    ),
]


@pytest.mark.parametrize(("make", "climate", "expected"), CLIMATE_CASES)
def test_json_climate_commands(make, climate, expected):
    assert as_json(make().climate(climate)) == expected


PLAIN_CLIMATE_CASES = [
    (lambda: ha("climate"), HEAT_24_3, [("home/trv/target/set", "24.5"), ("home/trv/mode/set", "heat")]),
    (lambda: ha("climate"), ClimateState(None, "off"), [("home/trv/mode/set", "off")]),
    (lambda: ha("climate", mode_command_topic=None), HEAT_24_3, [("home/trv/target/set", "24.5")]),
    (
        lambda: ha("climate", temperature_step=0.1),
        HEAT_24_3,
        [("home/trv/target/set", "24.3"), ("home/trv/mode/set", "heat")],
    ),
    (
        lambda: esphome("climate"),
        HEAT_24_3,
        [("node1/climate/trv/target_temperature/command", "24.5"), ("node1/climate/trv/mode/command", "heat")],
    ),
    (
        lambda: generic("climate", payload='{"target": {target}, "mode": "{mode}", "on": {on}}'),
        HEAT_24_3,
        [("x/set", '{"target": 24.3, "mode": "heat", "on": true}')],
    ),
    (
        lambda: generic("climate", payload='{"target": {target}, "mode": "{mode}", "on": {on}}'),
        ClimateState(None, "off"),
        [("x/set", '{"target": null, "mode": "off", "on": false}')],
    ),
]


@pytest.mark.parametrize(("make", "climate", "expected"), PLAIN_CLIMATE_CASES)
def test_plain_climate_commands(make, climate, expected):
    assert as_text(make().climate(climate)) == expected


# ---- queries --------------------------------------------------------------------------------------


def test_queries():
    assert as_json(z2m().query()) == [("zigbee2mqtt/lamp/get", {"state": "", "brightness": ""})]
    assert as_json(z2m("climate").query()) == [
        ("zigbee2mqtt/lamp/get", {"occupied_heating_setpoint": "", "system_mode": "", "local_temperature": ""})
    ]
    assert as_json(z2m("climate", setpoint="current_heating_setpoint").query())[0][1]["current_heating_setpoint"] == ""
    assert as_text(tasmota().query()) == [("cmnd/lamp/State", "")]
    assert ha().query() == [] and ha("climate").query() == []
    assert esphome().query() == [] and generic().query() == []


def test_subscriptions():
    assert z2m().subscriptions() == ["zigbee2mqtt/lamp", "zigbee2mqtt/lamp/availability"]
    assert set(tasmota().subscriptions()) == {
        "stat/lamp/RESULT",
        "stat/lamp/STATE",
        "stat/lamp/POWER",
        "tele/lamp/STATE",
        "tele/lamp/LWT",
        # SetOption4 1 answers on stat/<topic>/<COMMAND> (MqttPublishPayloadPrefixTopic_P, tasmota_support/
        # support_command.ino CommandHandler strips the index: Dimmer2 -> DIMMER), relays on POWER<n>
        "stat/lamp/DIMMER",
        "stat/lamp/CT",
        "stat/lamp/COLOR",
        *(f"stat/lamp/POWER{n}" for n in range(1, 9)),
    }
    assert ha().subscriptions() == ["home/lamp/state", "home/lamp/availability"]
    assert ha("climate").subscriptions() == [
        "home/trv/target",
        "home/trv/mode",
        "home/trv/current",
        "home/trv/availability",
    ]
    assert esphome().subscriptions() == ["node1/light/ceiling/state", "node1/status"]
    assert esphome("climate").subscriptions() == [
        "node1/climate/trv/target_temperature/state",
        "node1/climate/trv/target_temperature_low/state",  # a two-point climate's (mqtt_climate.cpp)
        "node1/climate/trv/mode/state",
        "node1/climate/trv/current_temperature/state",
        "node1/status",
    ]
    assert shelly().subscriptions() == [
        f"{CLIENT}/rpc",
        "shellyprodm1pm-abc/events/rpc",
        "shellyprodm1pm-abc/status/light:0",
        "shellyprodm1pm-abc/status/switch:0",  # a plug's (the Switch component)
        "shellyprodm1pm-abc/online",
    ]
    assert generic(state_topic="x/state", availability_topic="x/avail").subscriptions() == ["x/state", "x/avail"]
    assert generic().subscriptions() == []


# ---- decoding -----------------------------------------------------------------------------------------


def close(light: Light, brightness: float, color_temp: float | None = None, color: str | None = None) -> bool:
    ct_ok = (
        light.color_temp == color_temp if color_temp is None else light.color_temp == pytest.approx(color_temp, abs=1)
    )
    return light.brightness == pytest.approx(brightness, abs=0.5) and ct_ok and light.color == color


LIGHT_STATE_CASES = [
    (z2m, "zigbee2mqtt/lamp", b'{"state":"ON","brightness":76,"color_temp":370}', 30, 2703, None),
    (z2m, "zigbee2mqtt/lamp", b'{"state":"OFF","brightness":76,"color_temp":370,"linkquality":87}', 0, 2703, None),
    (
        z2m,
        "zigbee2mqtt/lamp",
        b'{"state":"ON","brightness":254,"color_mode":"color_temp","color_temp":250,"color":{"x":0.33,"y":0.34}}',
        100,
        4000,
        None,
    ),
    (
        z2m,
        "zigbee2mqtt/lamp",
        b'{"state":"ON","brightness":127,"color_mode":"xy","color_temp":370,"color":{"x":0.3127,"y":0.329}}',
        50,
        None,
        "#ffffff",
    ),
    (
        z2m,
        "zigbee2mqtt/lamp",
        b'{"state":"ON","brightness":127,"color_mode":"hs","color":{"hue":24,"saturation":75,"x":0.5,"y":0.4}}',
        50,
        None,
        "#ff8c40",
    ),
    (z2m, "zigbee2mqtt/lamp", b'{"state":"ON"}', 100, None, None),
    (
        ha,
        "home/lamp/state",
        b'{"state":"ON","brightness":77,"color_mode":"color_temp","color_temp":370}',
        30,
        2703,
        None,
    ),
    (
        ha,
        "home/lamp/state",
        b'{"state":"ON","brightness":255,"color_mode":"hs","color":{"h":24,"s":75}}',
        100,
        None,
        "#ff8c40",
    ),
    (
        ha,
        "home/lamp/state",
        b'{"state":"ON","brightness":128,"color_mode":"rgb","color":{"r":200,"g":120,"b":40}}',
        50,
        None,
        "#ff9933",
    ),
    (ha, "home/lamp/state", b'{"state":"OFF","color_mode":null,"brightness":null}', 0, None, None),
    (lambda: ha(brightness_scale=100), "home/lamp/state", b'{"state":"ON","brightness":30}', 30, None, None),
    (
        ha,
        "home/lamp/state",
        b'{"state":"ON","brightness":77,"color_mode":"color_temp","color_temp":2700}',
        30,
        2700,
        None,
    ),
    (
        esphome,
        "node1/light/ceiling/state",
        b'{"state":"ON","color_mode":"color_temp","brightness":77,"color_temp":370}',
        30,
        2703,
        None,
    ),
    (
        esphome,
        "node1/light/ceiling/state",
        b'{"state":"ON","color_mode":"rgb","brightness":128,"color":{"r":255,"g":154,"b":64}}',
        50,
        None,
        "#ff9a40",
    ),
    (
        esphome,
        "node1/light/ceiling/state",
        b'{"state":"ON","color_mode":"rgbww","brightness":77,"color":{"r":0,"g":0,"b":0},"color_temp":370}',
        30,
        2703,
        None,
    ),
    (esphome, "node1/light/ceiling/state", b'{"state":"OFF","color_mode":"brightness","brightness":77}', 0, None, None),
    (tasmota, "stat/lamp/RESULT", b'{"POWER":"ON","Dimmer":30,"CT":370}', 30, 2703, None),
    (
        tasmota,
        "tele/lamp/STATE",
        b'{"Time":"2026-11-02T10:00:00","Uptime":"0T01:00:00","POWER":"ON","Dimmer":30,"Color":"0000004C8A",'
        b'"White":30,"CT":370,"Channel":[0,0,0,30,54],"Scheme":0,"Fade":"ON","Speed":1,"LedTable":"ON",'
        b'"Wifi":{"AP":1,"SSId":"x","RSSI":70}}',
        30,
        2703,
        None,
    ),
    (tasmota, "stat/lamp/STATE", b'{"POWER1":"OFF","Dimmer":30,"CT":370}', 0, 2703, None),
    (
        tasmota,
        "stat/lamp/RESULT",
        b'{"POWER":"ON","Dimmer":100,"Color":"FF9A40","HSBColor":"28,75,100"}',
        100,
        None,
        "#ff9a40",
    ),
    (tasmota, "stat/lamp/RESULT", b'{"POWER":"ON","Dimmer":50,"Color":"200,120,40"}', 50, None, "#ff9933"),
    (tasmota, "stat/lamp/RESULT", b'{"POWER":"ON","Dimmer":40}', 40, None, None),
    (
        lambda: generic(
            state_topic="x/state", values={"state": "light.on", "brightness": "light.dim", "color_temp": "light.k"}
        ),
        "x/state",
        b'{"light":{"on":true,"dim":30,"k":2700}}',
        30,
        2700,
        None,
    ),
    (
        lambda: generic(state_topic="x/state", brightness_scale=254, values={"brightness": "levels.1", "mired": "ct"}),
        "x/state",
        b'{"levels":[0,76],"ct":370}',
        30,
        2703,
        None,
    ),
    (lambda: generic(state_topic="x/state", values={"state": "."}), "x/state", b"ON", 100, None, None),
    (lambda: generic(state_topic="x/state", values={"state": "."}), "x/state", b"off", 0, None, None),
    (lambda: generic(state_topic="x/state", values={"brightness": "."}), "x/state", b"42", 42, None, None),
    (
        lambda: generic(state_topic="x/state", values={"state": "s", "color": "c"}),
        "x/state",
        b'{"s":"ON","c":"#FF9A40"}',
        100,
        None,
        "#ff9a40",
    ),
]


@pytest.mark.parametrize(("make", "topic", "payload", "brightness", "color_temp", "color"), LIGHT_STATE_CASES)
def test_light_states(make, topic, payload, brightness, color_temp, color):
    light = one_light(make().decode(topic, payload))
    assert close(light, brightness, color_temp, color), light


def test_z2m_state_from_the_brief():
    light = one_light(z2m().decode("zigbee2mqtt/lamp", b'{"state":"ON","brightness":76,"color_temp":370}'))
    assert light.brightness == pytest.approx(29.92, abs=0.01)
    assert light.color_temp == pytest.approx(2703, abs=1)
    assert light.on


def test_tasmota_partial_messages_add_up():
    adapter = tasmota()
    assert adapter.decode("stat/lamp/POWER", b"ON") == []  # the level is not known yet
    assert one_light(adapter.decode("stat/lamp/RESULT", b'{"Dimmer":30}')) == Light(30.0)
    assert one_light(adapter.decode("stat/lamp/RESULT", b'{"CT":370}')) == Light(30.0, 2703.0)
    assert one_light(adapter.decode("stat/lamp/POWER", b"OFF")) == Light(0.0, 2703.0)
    assert adapter.decode("stat/lamp/RESULT", b'{"Speed2":40}') == []
    assert adapter.decode("stat/lamp/RESULT", b'{"Fade":"ON"}') == []


def test_shelly_state():
    adapter = shelly()
    adapter.light(WARM_30, 30)  # id 1
    adapter.light(OFF, 1)  # id 2
    adapter.query()  # id 3
    reply = b'{"id":1,"src":"shellyprodm1pm-abc","dst":"ambience-room1","result":null}'
    assert adapter.decode(f"{CLIENT}/rpc", reply) == [LightReport(Light(30.0))]
    assert adapter.decode(f"{CLIENT}/rpc", reply) == []  # answered already (QoS 1 duplicate)
    error = b'{"id":2,"src":"shellyprodm1pm-abc","dst":"ambience-room1","error":{"code":-103,"message":"Bad"}}'
    assert adapter.decode(f"{CLIENT}/rpc", error) == []
    assert adapter.decode(f"{CLIENT}/rpc", b'{"id":99,"src":"shellyprodm1pm-abc","result":null}') == []
    status = b'{"id":3,"src":"shellyprodm1pm-abc","dst":"ambience-room1","result":{"id":0,"source":"init","output":true,"brightness":42}}'
    assert adapter.decode(f"{CLIENT}/rpc", status) == [LightReport(Light(42.0))]
    event = (
        b'{"src":"shellyprodm1pm-abc","dst":"shellyprodm1pm-abc/events","method":"NotifyStatus",'
        b'"params":{"ts":1730000000.5,"light:0":{"id":0,"output":true,"brightness":40,"source":"WS_in"}}}'
    )
    assert adapter.decode("shellyprodm1pm-abc/events/rpc", event) == [LightReport(Light(40.0))]
    partial = (
        b'{"src":"shellyprodm1pm-abc","method":"NotifyStatus","params":{"ts":1.0,"light:0":{"id":0,"brightness":55}}}'
    )
    assert adapter.decode("shellyprodm1pm-abc/events/rpc", partial) == [LightReport(Light(55.0))]
    other = (
        b'{"src":"shellyprodm1pm-abc","method":"NotifyStatus","params":{"ts":1.0,"switch:0":{"id":0,"output":true}}}'
    )
    assert adapter.decode("shellyprodm1pm-abc/events/rpc", other) == []
    full = b'{"id":0,"source":"button","output":false,"brightness":55,"temperature":{"tC":41.2}}'
    assert adapter.decode("shellyprodm1pm-abc/status/light:0", full) == [LightReport(Light(0.0))]
    assert adapter.decode("shellyprodm1pm-abc/online", b"true") == [Availability(True)]
    assert adapter.decode("shellyprodm1pm-abc/online", b"false") == [Availability(False)]


def test_shelly_ignores_replies_from_another_shelly_on_the_shared_reply_topic():
    adapter = shelly()
    adapter.query()  # id 1
    adapter.decode(
        "shellyprodm1pm-abc/events/rpc",
        b'{"src":"shellyprodm1pm-abc","method":"NotifyStatus","params":{"light:0":{"output":false}}}',
    )
    other = b'{"id":1,"src":"shellyplusdimmer-xyz","result":{"id":0,"output":true,"brightness":99}}'
    assert adapter.decode(f"{CLIENT}/rpc", other) == []
    mine = b'{"id":1,"src":"shellyprodm1pm-abc","result":{"id":0,"output":true,"brightness":12}}'
    assert adapter.decode(f"{CLIENT}/rpc", mine) == [LightReport(Light(12.0))]


def test_shelly_component_filter():
    adapter = shelly(component=1)
    event = b'{"src":"s","method":"NotifyStatus","params":{"light:0":{"id":0,"output":true,"brightness":40}}}'
    assert adapter.decode("shellyprodm1pm-abc/events/rpc", event) == []
    assert adapter.subscriptions()[2] == "shellyprodm1pm-abc/status/light:1"


CLIMATE_STATE_CASES = [
    (
        lambda: z2m("climate"),
        "zigbee2mqtt/lamp",
        b'{"local_temperature":20.1,"occupied_heating_setpoint":21,"system_mode":"heat","running_state":"heat"}',
        ClimateReport(21.0, "heat", 20.1),
    ),
    (
        lambda: z2m("climate", setpoint="current_heating_setpoint"),
        "zigbee2mqtt/lamp",
        b'{"local_temperature":19.5,"current_heating_setpoint":22.5,"system_mode":"auto","battery":80}',
        ClimateReport(22.5, "auto", 19.5),
    ),
    (lambda: z2m("climate"), "zigbee2mqtt/lamp", b'{"local_temperature":19.5}', ClimateReport(None, None, 19.5)),
    (lambda: ha("climate"), "home/trv/target", b"21.5", ClimateReport(21.5, None, None)),
    (lambda: ha("climate"), "home/trv/target", b"21", ClimateReport(21.0, None, None)),
    (lambda: ha("climate"), "home/trv/mode", b"heat", ClimateReport(None, "heat", None)),
    (lambda: ha("climate"), "home/trv/mode", b'"off"', ClimateReport(None, "off", None)),
    (lambda: ha("climate"), "home/trv/current", b"20.25", ClimateReport(None, None, 20.25)),
    (
        lambda: esphome("climate"),
        "node1/climate/trv/target_temperature/state",
        b"22.000000",
        ClimateReport(22.0, None, None),
    ),
    (lambda: esphome("climate"), "node1/climate/trv/mode/state", b"heat", ClimateReport(None, "heat", None)),
    (
        lambda: esphome("climate"),
        "node1/climate/trv/current_temperature/state",
        b"19.8",
        ClimateReport(None, None, 19.8),
    ),
    (
        lambda: generic("climate", state_topic="x/state", values={"target": "sp", "mode": "m", "current": "t.now"}),
        "x/state",
        b'{"sp":"21.5","m":"Heat","t":{"now":20.5}}',
        ClimateReport(21.5, "heat", 20.5),
    ),
]


@pytest.mark.parametrize(("make", "topic", "payload", "expected"), CLIMATE_STATE_CASES)
def test_climate_states(make, topic, payload, expected):
    assert make().decode(topic, payload) == [expected]


def test_climate_values_on_separate_topics_add_up():
    adapter = ha("climate")
    adapter.decode("home/trv/target", b"21.5")
    adapter.decode("home/trv/mode", b"heat")
    assert adapter.decode("home/trv/current", b"20") == [ClimateReport(21.5, "heat", 20.0)]
    node = esphome("climate")
    node.decode("node1/climate/trv/mode/state", b"off")
    assert node.decode("node1/climate/trv/target_temperature/state", b"18") == [ClimateReport(18.0, "off", None)]


AVAILABILITY_CASES = [
    (z2m, "zigbee2mqtt/lamp/availability", b'{"state":"online"}', True),
    (z2m, "zigbee2mqtt/lamp/availability", b'{"state":"offline"}', False),
    (z2m, "zigbee2mqtt/lamp/availability", b"online", True),
    (z2m, "zigbee2mqtt/lamp/availability", b"offline", False),
    (z2m, "zigbee2mqtt/lamp/availability", b'"online"', True),
    (tasmota, "tele/lamp/LWT", b"Online", True),
    (tasmota, "tele/lamp/LWT", b"Offline", False),
    (ha, "home/lamp/availability", b"online", True),
    (ha, "home/lamp/availability", b"offline", False),
    (esphome, "node1/status", b"online", True),
    (esphome, "node1/status", b"offline", False),
    (shelly, "shellyprodm1pm-abc/online", b"true", True),
    (
        lambda: generic(availability_topic="x/lwt", payload_available="1", payload_not_available="0"),
        "x/lwt",
        b"1",
        True,
    ),
    (
        lambda: generic(availability_topic="x/lwt", payload_available="1", payload_not_available="0"),
        "x/lwt",
        b"0",
        False,
    ),
]


@pytest.mark.parametrize(("make", "topic", "payload", "online"), AVAILABILITY_CASES)
def test_availability(make, topic, payload, online):
    assert make().decode(topic, payload) == [Availability(online)]


# ---- garbage ---------------------------------------------------------------------------------------

GARBAGE = [
    b"",
    b"   ",
    b"\xff\xfe\x00",
    b"{",
    b"null",
    b"[]",
    b"[1,2]",
    b'"text"',
    b"{}",
    b'{"state":{"x":[1]}}',
    b'{"state":"MAYBE","brightness":"lots"}',
    b"nan",
    b"Infinity",
    b'{"POWER":3,"Dimmer":"x","CT":null}',
    b'{"id":"1","result":null}',
    b'{"method":"NotifyStatus","params":[]}',
    b"1e999",
    b"-",
    b"on fire",
]

ADAPTERS = {
    "z2m light": z2m,
    "z2m climate": lambda: z2m("climate"),
    "tasmota": tasmota,
    "ha light": ha,
    "ha climate": lambda: ha("climate"),
    "esphome light": esphome,
    "esphome climate": lambda: esphome("climate"),
    "shelly": shelly,
    "generic light": lambda: generic(
        state_topic="x/state",
        availability_topic="x/avail",
        values={"state": "a.b", "brightness": "c", "color_temp": "k", "mired": "CT", "color": "color"},
    ),
    "generic climate": lambda: generic(
        "climate",
        payload='{"t": {target}, "m": "{mode}"}',
        state_topic="x/state",
        values={"target": "t", "mode": "m", "current": "local_temperature"},
    ),
}


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_says_nothing(name, payload):
    adapter = ADAPTERS[name]()
    if isinstance(adapter, ShellyAdapter):
        adapter.query()  # a pending id 1
    for topic in adapter.subscriptions() + ["unrelated/topic", ""]:
        assert reports_in(adapter.decode(topic, payload)) == [], (topic, payload)


# ---- what a device may report ----------------------------------------------------------------------

EXTREMES = [1e308, -1e308, 1e-310, float("nan"), float("inf"), float("-inf"), 10**400, -1]
WORDS = ["ON", "OFF", "heat", "NotifyStatus", "xy", "hs", "color_temp", "#ff9a40", "FF9A40", "255,154,64", "999,0,0"]
KEYS = [
    *("state", "brightness", "color", "color_temp", "color_mode", "x", "y", "r", "g", "b", "h", "s", "hue"),
    *("saturation", "hex", "POWER", "POWER1", "Dimmer", "CT", "Color", "id", "src", "result", "params", "light:0"),
    *("output", "method", "local_temperature", "occupied_heating_setpoint", "current_heating_setpoint"),
    *("system_mode", "a", "c", "t", "m", "k"),
]
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(EXTREMES)
    | st.sampled_from([1, 2, 50, 370])
    | st.text(max_size=8)
    | st.sampled_from(WORDS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=10,
)
PAYLOADS = st.one_of(
    st.binary(max_size=64),
    JSONISH.map(lambda v: json.dumps(v).encode()),  # NaN and Infinity too: Python's json reads them
    st.sampled_from(EXTREMES).map(lambda v: repr(v).encode()),
)


def believable(item) -> bool:
    """A report whose every number is finite and physically possible; a drop that is short to log."""
    if isinstance(item, LightReport):
        light = item.light
        return (
            0 <= light.brightness <= 100
            and (light.color_temp is None or 1000 <= light.color_temp <= 20000)
            and (light.color is None or re.fullmatch("#[0-9a-f]{6}", light.color) is not None)
        )
    if isinstance(item, ClimateReport):
        return (
            (item.target is None or 0 <= item.target <= 45)
            and (item.current is None or -40 <= item.current <= 80)
            and (item.mode is None or re.fullmatch("[a-z][a-z0-9_]{0,31}", item.mode) is not None)
        )
    if isinstance(item, Dropped):
        return len(str(item)) < 250
    return isinstance(item, Availability)


SHAPES = {
    # per adapter: messages as its device sends them, whose values the property below replaces at random
    "z2m light": [
        ("zigbee2mqtt/lamp", {"state": "ON", "brightness": 76, "color_temp": 370}),
        (
            "zigbee2mqtt/lamp",
            {"state": "ON", "brightness": 76, "color_temp": 370, "color_mode": "xy", "color": {"x": 0.3, "y": 0.3}},
        ),
        ("zigbee2mqtt/lamp", {"state": "ON", "color_mode": "hs", "color": {"hue": 24, "saturation": 75}}),
    ],
    "z2m climate": [
        (
            "zigbee2mqtt/lamp",
            {
                "occupied_heating_setpoint": 21,
                "current_heating_setpoint": 21,
                "system_mode": "heat",
                "local_temperature": 20,
            },
        )
    ],
    "tasmota": [
        ("stat/lamp/RESULT", {"POWER": "ON", "Dimmer": 30, "CT": 370, "Color": "FF9A40"}),
        ("tele/lamp/STATE", {"POWER1": "ON", "Dimmer": 30, "Color": "255,154,64"}),
        ("stat/lamp/POWER", "ON"),
    ],
    "ha light": [
        ("home/lamp/state", {"state": "ON", "brightness": 77, "color_mode": "color_temp", "color_temp": 370}),
        (
            "home/lamp/state",
            {"state": "ON", "brightness": 128, "color_mode": "rgb", "color": {"r": 200, "g": 120, "b": 40}},
        ),
        ("home/lamp/state", {"state": "ON", "color_mode": "hs", "color": {"h": 24, "s": 75}, "color_temp": 370}),
    ],
    "ha climate": [("home/trv/target", 21.5), ("home/trv/mode", "heat"), ("home/trv/current", 20.5)],
    "esphome light": [
        (
            "node1/light/ceiling/state",
            {"state": "ON", "color_mode": "rgb", "brightness": 128, "color": {"r": 255, "g": 154, "b": 64}},
        ),
        ("node1/light/ceiling/state", {"state": "ON", "color_mode": "color_temp", "color_temp": 370}),
    ],
    "esphome climate": [
        ("node1/climate/trv/target_temperature/state", 22),
        ("node1/climate/trv/mode/state", "heat"),
        ("node1/climate/trv/current_temperature/state", 19.8),
    ],
    "shelly": [
        ("shellyprodm1pm-abc/status/light:0", {"output": True, "brightness": 40}),
        (
            "shellyprodm1pm-abc/events/rpc",
            {"method": "NotifyStatus", "params": {"light:0": {"output": True, "brightness": 40}}},
        ),
        (f"{CLIENT}/rpc", {"id": 1, "src": "shellyprodm1pm-abc", "result": {"output": True, "brightness": 42}}),
    ],
    "generic light": [("x/state", {"a": {"b": "ON"}, "c": 50, "k": 2700, "CT": 370, "color": "#ff9a40"})],
    "generic climate": [("x/state", {"t": 21, "m": "heat", "local_temperature": 20})],
}


POISON = st.sampled_from(EXTREMES) | JSONISH


def mutated(value) -> st.SearchStrategy:
    """``value`` with any of its leaves replaced by anything JSON can hold, extreme numbers most often."""
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: mutated(v) for k, v in value.items()})
    return POISON | st.just(value)


def encoded(value) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def shaped(name: str) -> st.SearchStrategy:
    return st.sampled_from(SHAPES[name]).flatmap(lambda s: mutated(s[1]).map(lambda v: (s[0], encoded(v))))


def every_number(value, replacement):
    """``value`` with each of its numbers replaced."""
    if isinstance(value, dict):
        return {k: every_number(v, replacement) for k, v in value.items()}
    return replacement if isinstance(value, (int, float)) and not isinstance(value, bool) else value


@pytest.mark.parametrize("name", ADAPTERS)
def test_decode_never_raises_and_reports_only_believable_values(name):
    topics = ADAPTERS[name]().subscriptions()
    anything = st.tuples(st.sampled_from(topics), PAYLOADS)
    explicit = [[(topic, encoded(every_number(v, extreme))) for topic, v in SHAPES[name]] for extreme in EXTREMES]

    def check(messages):
        adapter = ADAPTERS[name]()
        if isinstance(adapter, ShellyAdapter):
            adapter.query()  # pending ids 1 and 2, so that replies are read
            adapter.light(WARM_30, 1)
        for topic, payload in messages:
            decoded = adapter.decode(topic, payload)
            assert isinstance(decoded, list)
            assert all(believable(item) for item in decoded), decoded

    for messages in explicit:  # every number of every message made extreme, then anything at all
        check(messages)
    settings(max_examples=draws(100), deadline=None)(
        given(st.lists(shaped(name) | anything, min_size=1, max_size=6))(check)
    )()


POISONED = [
    # (adapter, messages before, topic, poisoned payload, what it still says, the fields dropped)
    (
        z2m,
        [],
        "zigbee2mqtt/lamp",
        b'{"state":"ON","brightness":76,"color_temp":1e-310}',
        [LightReport(Light(76 * 100 / 254))],
        ["color_temp"],
    ),
    (
        z2m,
        [("zigbee2mqtt/lamp", b'{"state":"ON","brightness":76}')],
        "zigbee2mqtt/lamp",
        b'{"state":"ON","brightness":NaN,"color_temp":370,"color":{"x":"0.3","y":[[[]]]}}',
        [LightReport(Light(76 * 100 / 254, 2703.0))],  # the last brightness said
        ["color.y", "brightness"],
    ),
    (z2m, [], "zigbee2mqtt/lamp", b'{"state":"ON","brightness":255000}', [], ["brightness"]),
    (
        lambda: z2m("climate"),
        [],
        "zigbee2mqtt/lamp",
        b'{"occupied_heating_setpoint":1e308,"system_mode":"heat","local_temperature":20.5}',
        [ClimateReport(None, "heat", 20.5)],
        ["occupied_heating_setpoint"],
    ),
    (
        lambda: z2m("climate"),
        [],
        "zigbee2mqtt/lamp",
        b'{"occupied_heating_setpoint":"21","system_mode":"' + b"h" * 200 + b'","local_temperature":Infinity}',
        [ClimateReport(21.0, None, None)],
        ["system_mode", "local_temperature"],
    ),
    (
        lambda: z2m("climate"),
        [],
        "zigbee2mqtt/lamp",
        b'{"occupied_heating_setpoint":1' + b"0" * 400 + b',"current_heating_setpoint":22,"system_mode":true}',
        [ClimateReport(22.0, None, None)],  # the other setpoint key, when the configured one is bad
        ["occupied_heating_setpoint", "system_mode"],
    ),
    (
        tasmota,
        [],
        "stat/lamp/RESULT",
        b'{"POWER":"ON","Dimmer":30,"CT":1e-310}',
        [LightReport(Light(30.0))],
        ["CT"],
    ),
    (
        tasmota,
        [("stat/lamp/RESULT", b'{"POWER":"ON","Dimmer":30,"CT":370}')],
        "tele/lamp/STATE",
        b'{"POWER":"ON","Dimmer":150,"CT":"warm","Color":"999,0,0"}',
        [LightReport(Light(30.0, 2703.0))],
        ["Dimmer", "CT", "Color"],
    ),
    (tasmota, [("stat/lamp/RESULT", b'{"Dimmer":30}')], "stat/lamp/POWER", b"MAYBE", [], ["POWER"]),
    (
        ha,
        [],
        "home/lamp/state",
        b'{"state":"ON","brightness":128,"color_mode":"hs","color":{"h":NaN,"s":75}}',
        [LightReport(Light(128 * 100 / 255))],
        ["color.h"],
    ),
    (
        ha,
        [],
        "home/lamp/state",
        b'{"state":"ON","brightness":true,"color_mode":"rgb","color":{"r":300,"g":0,"b":0}}',
        [],  # on, at a brightness never said
        ["color.r", "brightness"],
    ),
    (lambda: ha("climate"), [], "home/trv/target", b"1e308", [], ["target"]),
    (lambda: ha("climate"), [("home/trv/target", b"21")], "home/trv/current", b"NaN", [], ["current"]),
    (lambda: ha("climate"), [], "home/trv/mode", b'"' + b"x" * 100 + b'"', [], ["mode"]),
    (
        esphome,
        [],
        "node1/light/ceiling/state",
        b'{"state":"OFF","brightness":77,"color_mode":"color_temp","color_temp":-370}',
        [LightReport(Light(0.0))],
        ["color_temp"],
    ),
    (
        lambda: esphome("climate"),
        [("node1/climate/trv/mode/state", b"heat")],
        "node1/climate/trv/target_temperature/state",
        b"inf",
        [],
        ["target"],
    ),
    (
        shelly,
        [("shellyprodm1pm-abc/status/light:0", b'{"output":true,"brightness":40}')],
        "shellyprodm1pm-abc/status/light:0",
        b'{"output":"yes","brightness":1e308}',
        [],
        ["output", "brightness"],
    ),
    (
        shelly,
        [("shellyprodm1pm-abc/status/light:0", b'{"output":false,"brightness":40}')],
        "shellyprodm1pm-abc/events/rpc",
        b'{"method":"NotifyStatus","params":{"light:0":{"output":true,"brightness":-5}}}',
        [LightReport(Light(40.0))],
        ["brightness"],
    ),
    (
        lambda: generic(
            state_topic="x/state", values={"state": "light.on", "brightness": "light.dim", "color_temp": "light.k"}
        ),
        [],
        "x/state",
        b'{"light":{"on":true,"dim":30,"k":1e-310}}',
        [LightReport(Light(30.0))],
        ["color_temp at light.k"],
    ),
    (
        lambda: generic("climate", state_topic="x/state", values={"target": "sp", "mode": "m", "current": "t.now"}),
        [],
        "x/state",
        b'{"sp":1e308,"m":"Heat","t":{"now":[{"deep":[1]}]}}',
        [ClimateReport(None, "heat", None)],
        ["target at sp", "current at t.now"],
    ),
    (z2m, [], "zigbee2mqtt/lamp", b"[" * 100_000, [], ["payload"]),
    (tasmota, [], "stat/lamp/RESULT", b"NaN", [], ["payload"]),
]


@pytest.mark.parametrize(("make", "before", "topic", "payload", "says", "dropped"), POISONED)
def test_a_bad_value_is_dropped_and_the_rest_of_the_message_kept(make, before, topic, payload, says, dropped):
    adapter = make()
    for earlier_topic, earlier in before:
        assert dropped_in(adapter.decode(earlier_topic, earlier)) == []
    decoded = adapter.decode(topic, payload)
    assert dropped_in(decoded) == dropped
    assert reports_in(decoded) == says


def test_a_dropped_value_says_device_field_value_and_what_is_allowed_in_one_short_line():
    decoded = z2m("climate").decode("zigbee2mqtt/lamp", b'{"occupied_heating_setpoint":1e308}')
    assert [str(d) for d in decoded] == ["occupied_heating_setpoint 1e+308 dropped: a setpoint is 0–45 °C"]
    nested = z2m().decode("zigbee2mqtt/lamp", b'{"state":"ON","brightness":' + b"[" * 500 + b"]" * 500 + b"}")
    assert dropped_in(nested) == ["brightness"] and len(str(nested[0])) < 120


# ---- conversions and commands from any value ----------------------------------------------------------

ANY_FLOAT = st.floats() | st.sampled_from([1e308, -1e308, 1e-310, 5e-324, 0.0, float("nan"), float("inf")])
FINITE_ONLY = re.compile(r"\b(nan|-?inf(inity)?)\b", re.IGNORECASE)


def test_a_setpoint_at_the_edge_of_the_range_is_stepped_inwards_not_past_it():
    # Found by the property below: the nearest 0.65625 step to 45 is 45.28, which no device takes.
    assert step_temperature(45.0, 0.65625) == 44.62
    assert step_temperature(0.1, 0.65625) == 0.0
    assert step_temperature(21.3, 0.5) == 21.5


@settings(max_examples=draws(300), deadline=None)
@given(value=ANY_FLOAT, top=st.integers(1, 65535), step=st.floats(0.01, 5))
def test_unit_conversions_are_total(value, top, step):
    assert 0 <= pct_to_scale(value, top) <= top
    assert 0 <= scale_to_pct(value, top) <= 100
    assert 153 <= kelvin_to_mired(value) <= 500
    assert 0 <= mired_to_kelvin(value) < float("inf")
    target = step_temperature(value, step)
    assert target is None or 0 <= target <= 45


def test_a_setpoint_no_heater_takes_is_not_sent_but_the_mode_is():
    """An after state made of a reported 1e308 °C sends the mode, and no OverflowError stops the lights."""
    for climate in (ClimateState(1e308, "heat"), ClimateState(float("nan"), "heat"), ClimateState(-300.0, "heat")):
        assert as_json(z2m("climate").climate(climate)) == [("zigbee2mqtt/lamp/set", {"system_mode": "heat"})]
        assert as_text(ha("climate").climate(climate)) == [("home/trv/mode/set", "heat")]
        assert as_text(esphome("climate").climate(climate)) == [("node1/climate/trv/mode/command", "heat")]
    assert as_text(
        generic("climate", payload='{"t": {target}, "m": "{mode}"}').climate(ClimateState(1e308, "heat"))
    ) == [("x/set", '{"t": null, "m": "heat"}')]


LIGHT_ADAPTERS = ["z2m light", "tasmota", "ha light", "esphome light", "shelly", "generic light"]
CLIMATE_ADAPTERS = ["z2m climate", "ha climate", "esphome climate", "generic climate"]


@pytest.mark.parametrize("name", LIGHT_ADAPTERS)
@settings(max_examples=draws(80), deadline=None)
@given(brightness=ANY_FLOAT, color_temp=st.none() | ANY_FLOAT, transition=ANY_FLOAT)
def test_a_light_command_from_any_value_is_sent_with_finite_numbers(name, brightness, color_temp, transition):
    adapter = ADAPTERS[name]()
    messages = adapter.light(Light(brightness, color_temp), transition)
    assert messages and not any(FINITE_ONLY.search(m.payload) for m in messages), messages


@pytest.mark.parametrize("name", CLIMATE_ADAPTERS)
@settings(max_examples=draws(80), deadline=None)
@given(target=ANY_FLOAT)
def test_a_climate_command_from_any_value_is_sent_with_finite_numbers(name, target):
    messages = ADAPTERS[name]().climate(ClimateState(target, "heat"))
    assert messages and not any(FINITE_ONLY.search(m.payload) for m in messages), messages


# ---- wrong kinds and configs -------------------------------------------------------------------------


def test_refusals():
    with pytest.raises(DeviceError, match="tasmota device .lamp. cannot be a thermostat here"):
        TasmotaAdapter(TasmotaDevice(bridge="tasmota", device="lamp"), "climate")
    with pytest.raises(DeviceError, match="thermostat"):
        ShellyAdapter(ShellyDevice(bridge="shelly", device="s"), "climate", CLIENT)
    with pytest.raises(DeviceError, match="command_topic"):
        HomeAssistantAdapter(HomeAssistantDevice(bridge="homeassistant", device="x"), "light")
    with pytest.raises(DeviceError, match="temperature_command_topic"):
        HomeAssistantAdapter(HomeAssistantDevice(bridge="homeassistant", device="x", command_topic="a"), "climate")
    with pytest.raises(DeviceError, match="hostname"):
        tasmota(full_topic="%prefix%/%hostname%/")
    with pytest.raises(DeviceError, match="%prefix%"):
        tasmota(full_topic="lamp/")
    with pytest.raises(DeviceError, match="unknown key"):
        generic(values={"brightnes": "x"})
    with pytest.raises(ValueError, match="kind"):
        z2m("fan")
    with pytest.raises(ValueError):
        z2m().climate(HEAT_24_3)
    with pytest.raises(ValueError):
        z2m("climate").light(WARM_30, 1)


REGISTRY_CASES = [
    ({"bridge": "zigbee2mqtt", "device": "a"}, "light", Zigbee2MqttAdapter),
    ({"bridge": "zigbee2mqtt", "device": "a"}, "climate", Zigbee2MqttAdapter),
    ({"bridge": "tasmota", "device": "a"}, "light", TasmotaAdapter),
    ({"bridge": "homeassistant", "device": "a", "command_topic": "c"}, "light", HomeAssistantAdapter),
    ({"bridge": "esphome", "device": "a", "object_id": "o"}, "climate", EsphomeAdapter),
    ({"bridge": "shelly", "device": "a"}, "light", ShellyAdapter),
    ({"bridge": "generic", "device": "a", "command_topic": "c"}, "light", GenericAdapter),
]


@pytest.mark.parametrize(("data", "kind", "cls"), REGISTRY_CASES)
def test_registry(data, kind, cls):
    from pydantic import TypeAdapter

    from ambience.config.devices import Device

    device = TypeAdapter(Device).validate_python(data)
    adapter = make_adapter(device, kind, CLIENT)
    assert isinstance(adapter, cls) and adapter.kind == kind and adapter.max_transition >= 0


def test_registry_passes_the_client_id_to_shelly():
    adapter = make_adapter(ShellyDevice(bridge="shelly", device="a"), "light", "amb-r9")
    assert "amb-r9/rpc" in adapter.subscriptions()
    assert json.loads(adapter.light(WARM_30, 1)[0].payload)["src"] == "amb-r9"
    with pytest.raises(DeviceError):
        make_adapter(TasmotaDevice(bridge="tasmota", device="a"), "climate", CLIENT)


def test_default_max_transitions():
    assert z2m().max_transition == 600
    assert z2m(max_transition=99999).max_transition == 6553
    assert ha().max_transition == 60
    assert esphome().max_transition == 600
    assert shelly().max_transition == 600


def test_a_generic_thermostat_asked_no_mode_keeps_its_own_or_its_configured_one_never_a_blank():
    adapter = generic("climate", payload='{"t": {target}, "m": "{mode}"}', state_topic="x/state", values={"mode": "m"})
    assert adapter.climate(ClimateState(21.0)) == [Message("x/set", '{"t": 21.0, "m": "heat"}')]  # the configured mode
    adapter.decode("x/state", b'{"m": "auto"}')
    assert adapter.climate(ClimateState(21.0)) == [Message("x/set", '{"t": 21.0, "m": "auto"}')]  # the device's own
    assert adapter.climate(ClimateState(21.0, "off"))[0].payload == '{"t": 21.0, "m": "off"}'  # a preset's wins
