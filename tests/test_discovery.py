"""``ambience devices``' pure part: the bridges' announcements → the devices found → a room-config snippet.

Every payload is in its bridge's own format:
- Zigbee2MQTT ``bridge/devices``: entries as z2m ``lib/extension/bridge.ts`` ``publishDevices`` writes
  them, with the real definitions of ``ambience/simulator/profiles/zigbee2mqtt.json``
  (zigbee-herdsman-converters 26.112.0); the coordinator has ``type: Coordinator`` and ``definition: null``;
- Tasmota ``tasmota/discovery/<mac>/config``: the fields of ``TasDiscoverMessage``
  (arendst/Tasmota xdrv_12_discovery.ino: ``fn``, ``t``, ``ft``, ``ofln``/``onln``, ``rl``, ``lk``, ``lt_st`` …);
- ESPHome's Home Assistant discovery configs: as tests/test_esphome.py builds them from
  esphome/components/mqtt/mqtt_light.cpp and mqtt_climate.cpp (``dev.sw`` is ``esphome v<version> …``,
  mqtt_component.cpp ``send_discovery_``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_esphome import climate_config, light_config
from test_zigbee2mqtt_capabilities import bridge_entry

from ambience.config import parse_config
from ambience.devices.discovery import Discovery, Found, choose, placed, snippet
from ambience.errors import DeviceError, NotFound

pytestmark = pytest.mark.unit

COORDINATOR = {
    "ieee_address": "0x00124b0012345678", "type": "Coordinator", "network_address": 0, "supported": True,
    "friendly_name": "Coordinator", "disabled": False, "description": None, "definition": None,
    "power_source": None, "interview_completed": True, "endpoints": {},
}  # fmt: skip


def z2m_entry(model: str, friendly_name: str, power_source: str = "Mains (single phase)", **kw: Any) -> dict:
    return bridge_entry(model, friendly_name, power_source, **kw)


UNSUPPORTED = {  # a device zigbee-herdsman-converters has no definition for (z2m bridge.ts: definition null)
    "ieee_address": "0x000b57fffe0000ff", "type": "Router", "network_address": 4243, "supported": False,
    "friendly_name": "mystery", "disabled": False, "description": None, "definition": None,
    "power_source": "Mains (single phase)", "model_id": "TS0001", "manufacturer": "_TZ3000_abcdefgh",
    "interview_completed": True,
}  # fmt: skip


def tasmota_config(topic: str, subtype: int, relays: list[int], mac: str = "A4CF12ABC001", **kw: Any) -> dict:
    return {
        "ip": "192.0.2.10", "dn": "Tasmota", "fn": [f"{topic} friendly", None, None, None, None, None, None, None],
        "hn": f"tasmota-{mac[-6:]}-0001", "mac": mac, "md": "Sonoff S2X" if not subtype else "Generic", "ty": 0,
        "if": 0, "ofln": "Offline", "onln": "Online", "state": ["OFF", "ON", "TOGGLE", "HOLD"], "sw": "14.3.0",
        "t": topic, "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"],
        "rl": relays + [0] * (8 - len(relays)), "swc": [-1] * 8, "swn": [None] * 8, "btn": [0] * 8,
        "so": {k: 0 for k in ("4", "11", "13", "17", "20", "30", "68", "73", "82", "114", "117")},
        "lk": 1 if subtype else 0, "lt_st": subtype, "sho": [], "ver": 1, **kw,
    }  # fmt: skip


def feed(d: Discovery, topic: str, payload: Any) -> None:
    d.feed(topic, payload if isinstance(payload, bytes) else json.dumps(payload).encode())


def announced() -> Discovery:
    d = Discovery()
    devices = [
        COORDINATOR,
        z2m_entry("TS0601_thermostat", "studio/trv", "Battery"),
        z2m_entry("LED1545G12", "studio/ceiling"),
        z2m_entry("E160x/E170x/E190x", "warmer-plug"),
        z2m_entry("8718696548738", "old-lamp", disabled=True),
        UNSUPPORTED,
    ]
    feed(d, "zigbee2mqtt/bridge/devices", devices)
    feed(d, "zigbee2mqtt/bridge/state", {"state": "online"})
    feed(d, "zigbee2mqtt/studio/ceiling/availability", {"state": "online"})
    feed(d, "tasmota/discovery/A4CF12ABC001/config", tasmota_config("towel-cabinet", 0, [1]))
    feed(d, "tasmota/discovery/A4CF12ABC002/config", tasmota_config("floor-lamp", 2, [2], mac="A4CF12ABC002"))
    feed(d, "tele/towel-cabinet/LWT", b"Online")
    feed(d, "tele/floor-lamp/LWT", b"Offline")
    feed(d, "homeassistant/light/node1/ceiling/config", light_config(["color_temp"], 153, 500))
    feed(d, "homeassistant/climate/node1/rad/config", climate_config("rad", ["off", "heat"], two_point=False))
    feed(d, "node1/status", b"online")
    return d


def by_name(d: Discovery) -> dict[str, Found]:
    return {f.name: f for f in d.found()}


def test_every_bridge_announcement_becomes_a_device_with_its_bridge_name_model_and_kind():
    found = by_name(announced())
    assert set(found) == {
        "studio/trv",
        "studio/ceiling",
        "warmer-plug",
        "mystery",
        "towel-cabinet",
        "floor-lamp",
        "node1/ceiling",
        "node1/rad",
    }  # fmt: skip  (no Coordinator, no disabled device)
    rows = {n: (f.bridge, f.capabilities.vendor, f.capabilities.model, f.kind) for n, f in found.items()}
    assert rows["studio/trv"] == ("zigbee2mqtt", "Tuya", "TS0601_thermostat", "climate")
    assert rows["studio/ceiling"] == ("zigbee2mqtt", "IKEA", "LED1545G12", "light")
    assert rows["warmer-plug"] == ("zigbee2mqtt", "IKEA", "E160x/E170x/E190x", "switch")
    assert rows["mystery"] == ("zigbee2mqtt", "_TZ3000_abcdefgh", "TS0001", None)  # not supported: Z2M does not know it
    assert rows["towel-cabinet"] == ("tasmota", "Tasmota", "Sonoff S2X", "switch")
    assert rows["floor-lamp"] == ("tasmota", "Tasmota", "Generic", "light")
    assert rows["node1/ceiling"] == ("esphome", "ESPHome", "esp32dev", "light")
    assert rows["node1/rad"] == ("esphome", "ESPHome", "esp32dev", "climate")
    assert found["towel-cabinet"].label == "towel-cabinet friendly" and found["node1/ceiling"].label == "Ceiling"


def test_online_from_each_bridges_availability_and_unknown_where_it_says_nothing():
    found = by_name(announced())
    online = {n: f.online for n, f in found.items()}
    assert online["studio/ceiling"] is True
    assert online["studio/trv"] is None  # Z2M availability is off unless enabled: nothing retained
    assert online["towel-cabinet"] is True and online["floor-lamp"] is False
    assert online["node1/ceiling"] is True and online["node1/rad"] is True


def test_zigbee2mqtt_down_makes_every_device_behind_it_offline():
    d = announced()
    feed(d, "zigbee2mqtt/bridge/state", {"state": "offline"})
    assert {n: f.online for n, f in by_name(d).items() if f.bridge == "zigbee2mqtt"} == dict.fromkeys(
        ["mystery", "studio/ceiling", "studio/trv", "warmer-plug"], False
    )


def test_availability_topics_follow_the_devices_found():
    d = Discovery(["zigbee2mqtt", "z2m-upstairs"])
    first = d.topics()
    assert {"zigbee2mqtt/bridge/devices", "z2m-upstairs/bridge/state", "tasmota/discovery/+/config"} <= set(first)
    assert {"homeassistant/light/+/+/config", "homeassistant/climate/+/+/config"} <= set(first)
    feed(d, "z2m-upstairs/bridge/devices", [COORDINATOR, z2m_entry("LED1545G12", "hall")])
    feed(d, "tasmota/discovery/A4CF12ABC001/config", tasmota_config("plug", 0, [1], ft="%topic%/%prefix%/"))
    feed(d, "homeassistant/light/node1/ceiling/config", light_config(["brightness"]))
    assert set(d.topics()) - set(first) == {"z2m-upstairs/hall/availability", "plug/tele/LWT", "node1/status"}
    assert by_name(d)["hall"].device == {"bridge": "zigbee2mqtt", "device": "hall", "base_topic": "z2m-upstairs"}


def test_other_home_assistant_discovery_configs_are_not_taken_for_esphome():
    d = Discovery()
    z2m_ha = {"name": None, "cmd_t": "zigbee2mqtt/lamp/set", "schema": "json", "dev": {"sw": "Zigbee2MQTT 2.1.0"}}
    feed(d, "homeassistant/light/0x000b57fffe000001/light/config", z2m_ha)
    other = light_config(["brightness"]) | {"dev": {"ids": "x", "sw": "WLED 0.15", "mdl": "esp32"}}
    feed(d, "homeassistant/light/wled/ceiling/config", other)
    feed(d, "homeassistant/light/node1/ceiling/config", b"")  # a cleared retained config
    assert d.found() == []


def test_a_cleared_retained_announcement_forgets_the_device():
    d = announced()
    feed(d, "tasmota/discovery/A4CF12ABC001/config", b"")
    feed(d, "zigbee2mqtt/bridge/devices", b"")
    assert {f.bridge for f in d.found()} == {"tasmota", "esphome"}
    assert "towel-cabinet" not in by_name(d)


def test_the_snippet_has_what_ambience_needs_and_loads_as_config():
    found = by_name(announced())
    chosen = choose(list(found.values()), ["studio/trv", "studio/ceiling", "towel-cabinet", "node1/ceiling"])
    data = snippet([(f, "ceiling" if f.name == "studio/ceiling" else None) for f in chosen], "studio")
    room = data["rooms"]["studio"]
    assert room["thermostat"] == {
        "bridge": "zigbee2mqtt",
        "device": "studio/trv",
        "setpoint": "current_heating_setpoint",
    }
    assert room["lights"] == [
        {"bridge": "zigbee2mqtt", "device": "studio/ceiling", "role": "ceiling"},
        {"bridge": "esphome", "device": "node1", "object_id": "ceiling", "role": "main"},
    ]
    assert room["switches"] == [{"bridge": "tasmota", "device": "towel-cabinet", "relay": 1, "role": "plug"}]
    config = parse_config(json.dumps(data), "snippet", Path("."))
    devices = {d.device: (d.bridge, kind, role) for d, kind, role in config.rooms["studio"].devices()}
    assert devices == {
        "studio/trv": ("zigbee2mqtt", "climate", "thermostat"),
        "studio/ceiling": ("zigbee2mqtt", "light", "ceiling"),
        "towel-cabinet": ("tasmota", "switch", "plug"),
        "node1": ("esphome", "light", "main"),
    }
    assert config.rooms["studio"].thermostat.setpoint == "current_heating_setpoint"  # type: ignore[union-attr]


def test_the_esphome_thermostat_snippet_names_the_node_and_the_entity():
    found = by_name(announced())
    data = snippet([(found["node1/rad"], None)], "garden")
    assert data["rooms"]["garden"] == {"thermostat": {"bridge": "esphome", "device": "node1", "object_id": "rad"}}
    assert parse_config(json.dumps(data), "snippet", Path(".")).rooms["garden"].thermostat is not None


def test_choosing_refuses_unknown_names_a_device_of_unknown_kind_and_a_second_thermostat():
    found = list(by_name(announced()).values())
    with pytest.raises(NotFound, match="did you mean 'studio/trv'"):
        choose(found, ["studio/trw"])
    with pytest.raises(DeviceError, match="zigbee2mqtt:mystery: its bridge does not say what it is"):
        snippet([(f, None) for f in choose(found, ["mystery"])], "r")
    with pytest.raises(DeviceError, match="one thermostat, and 'studio/trv' is chosen already"):
        snippet([(f, None) for f in choose(found, ["studio/trv", "node1/rad"])], "r")


def test_a_name_two_bridges_share_is_chosen_with_its_bridge():
    d = Discovery()
    feed(d, "zigbee2mqtt/bridge/devices", [z2m_entry("LED1545G12", "lamp")])
    feed(d, "tasmota/discovery/A4CF12ABC001/config", tasmota_config("lamp", 2, [2]))
    with pytest.raises(DeviceError, match="write one of tasmota:lamp, zigbee2mqtt:lamp"):
        choose(d.found(), ["lamp"])
    assert [f.bridge for f in choose(d.found(), ["tasmota:lamp"])] == ["tasmota"]


def test_placed_says_which_room_a_device_is_in_already():
    config = parse_config(
        "rooms:\n  studio:\n    thermostat: {bridge: zigbee2mqtt, device: studio/trv}\n"
        "    lights: [{bridge: esphome, device: node1, object_id: ceiling}, {bridge: tasmota, device: floor-lamp}]\n"
        "  hall:\n    lights: [{bridge: zigbee2mqtt, device: studio/ceiling, base_topic: other}]\n",
        "config",
        Path("."),
    )
    rooms = {f.name: f.room for f in placed(announced().found(), config)}
    assert rooms["studio/trv"] == "studio" and rooms["node1/ceiling"] == "studio" and rooms["floor-lamp"] == "studio"
    assert rooms["studio/ceiling"] is None  # another base topic: another Zigbee2MQTT
    assert rooms["node1/rad"] is None and rooms["towel-cabinet"] is None
