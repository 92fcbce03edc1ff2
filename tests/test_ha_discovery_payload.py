"""The discovery payload itself, without a broker: QoS in every component, preset names in the select.

What Home Assistant does with it is taken from its source (home-assistant/core):
- ``homeassistant/components/mqtt/schemas.py`` ``SHARED_OPTIONS`` (the device-level options a component
  inherits) has no ``qos`` before 2026.x (home-assistant/core#170166): each component must carry its own;
- ``homeassistant/components/mqtt/select.py``: ``async_select_option`` publishes
  ``command_template`` rendered with the chosen option as ``value``; ``message_received`` renders
  ``value_template`` on the state payload and accepts it only if the result is one of ``options``.
The templates are rendered here by a small stand-in for HA's ``value``-only use of Jinja: ``{{ <dict>.get(value,
value) }}`` (the form :func:`ambience.surfaces.ha_discovery._lookup_template` writes), read back with ``json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_mqtt_control import ROOMS

from ambience.surfaces.ha_discovery import HomeAssistantDiscovery, preset_labels
from ambience.testing import write_clinic

pytestmark = pytest.mark.unit

PRESETS = [
    {"id": "hot-stone-75", "name": "Hot stone 75"},
    {"id": "express-30", "name": "Express 30"},
    {"id": "relax-60", "name": 'Relax "deep" 60 – Ölmassage'},
    {"id": "relax-60b", "name": 'Relax "deep" 60 – Ölmassage'},
]


class FakeConnection:
    status_topic = "ambience/status"
    connected = False

    def subscribe(self, topic: str, handler: Any, **_: Any) -> None:
        pass

    def on_connect(self, handler: Any) -> None:
        pass


def discovery(tmp_path: Path) -> HomeAssistantDiscovery:
    config = write_clinic(tmp_path, ROOMS, mqtt="mqtt://127.0.0.1:1", music=["music"], http=False).config
    library = SimpleNamespace(presets={p["id"]: SimpleNamespace(id=p["id"], name=p["name"]) for p in PRESETS})
    controller = SimpleNamespace(
        presets=lambda: PRESETS, rooms={"room1": None}, library=library, subscribe=lambda fn: None
    )
    return HomeAssistantDiscovery(FakeConnection(), controller, config)  # type: ignore[arg-type]


def render(template: str, value: str) -> str:
    """HA's rendering of the ``{{ {...}.get(value, value) }}`` lookup ambience writes."""
    match = re.fullmatch(r"\{\{ (\{.*\})\.get\(value, value\) \}\}", template)
    assert match, template
    return json.loads(match.group(1)).get(value, value)


def test_every_component_with_a_command_topic_asks_for_qos_1(tmp_path):
    payload = discovery(tmp_path).payload("room1")
    commanded = [key for key, comp in payload["cmps"].items() if "command_topic" in comp]
    assert set(commanded) >= {"preset", "start", "pause", "resume", "stop", "extend"}
    assert all(payload["cmps"][key]["qos"] == 1 for key in commanded)
    assert all(comp["qos"] == 1 for comp in payload["cmps"].values())  # the sensors' subscriptions too


def test_the_preset_select_shows_names_and_sends_ids(tmp_path):
    select = discovery(tmp_path).payload("room1")["cmps"]["preset"]
    labels = preset_labels(PRESETS)
    same = PRESETS[2]["name"]
    assert select["options"] == ["Hot stone 75", "Express 30", f"{same} (relax-60)", f"{same} (relax-60b)"]
    assert len(set(select["options"])) == len(select["options"])
    for preset in PRESETS:
        shown = labels[preset["id"]]
        assert shown in select["options"]
        # choosing the name publishes the id; the id on the state topic shows the name
        assert render(select["command_template"], shown) == preset["id"]
        assert render(select["value_template"], preset["id"]) == shown


def test_labels_tell_apart_presets_of_the_same_name_and_fall_back_to_the_id():
    assert preset_labels([{"id": "a", "name": "Relax"}, {"id": "b", "name": "relax"}, {"id": "c", "name": ""}]) == {
        "a": "Relax (a)", "b": "relax (b)", "c": "c",
    }  # fmt: skip


def measured(template: str, state: dict[str, Any]) -> str:
    """HA's rendering of the temperature sensor's ``value_template`` on the room state (a stand-in for its Jinja:
    ``{{ value_json.temperature.current if value_json.temperature else 'None' }}``)."""
    assert template == "{{ value_json.temperature.current if value_json.temperature else 'None' }}", template
    return str(state["temperature"]["current"]) if state.get("temperature") else "None"


def test_a_room_that_measures_its_temperature_has_a_temperature_sensor_in_celsius(tmp_path):
    """HA's MQTT sensor (homeassistant/components/mqtt/sensor.py): ``device_class``, ``unit_of_measurement``,
    ``state_class`` and ``suggested_display_precision`` are in its ``_PLATFORM_SCHEMA_BASE``; a numeric device
    class takes the state as a number, and ``_update_state`` makes the rendered ``None`` (PAYLOAD_NONE) unknown."""
    rooms = {
        "room1": {"sensors": [{"bridge": "zigbee2mqtt", "device": "r1-sensor"}]},
        "room2": {"lights": [{"bridge": "tasmota", "device": "r2-lamp"}]},
    }
    config = write_clinic(tmp_path, rooms, mqtt="mqtt://127.0.0.1:1", music=["music"], http=False).config
    controller = SimpleNamespace(presets=lambda: PRESETS, rooms={}, library=None, subscribe=lambda fn: None)
    ha = HomeAssistantDiscovery(FakeConnection(), controller, config)  # type: ignore[arg-type]
    sensor = ha.payload("room1")["cmps"]["temperature"]
    assert sensor["p"] == "sensor" and sensor["state_topic"] == "ambience/room1/state"
    assert (sensor["device_class"], sensor["unit_of_measurement"], sensor["state_class"]) == (
        "temperature", "°C", "measurement",
    )  # fmt: skip
    assert sensor["unique_id"] == "ambience_room1_temperature" and sensor["qos"] == 1
    assert measured(sensor["value_template"], {"temperature": {"current": 21.4, "device": "r1-sensor"}}) == "21.4"
    assert measured(sensor["value_template"], {"temperature": None}) == "None"
    assert "temperature" not in ha.payload("room2")["cmps"]  # nothing there measures one
