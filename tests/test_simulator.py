"""The device simulator against a real mosquitto: each bridge's own topics and payloads, sent raw.

Commands are published with a plain paho client (``MqttProbe``), never with ambience's adapters,
so these tests pin the simulator to the bridges' conventions, not to our own reading of them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ambience.config import Config
from ambience.simulator import Faults, Simulator, main
from ambience.simulator.generic import GenericSim, template_pattern
from ambience.simulator.model import ClimateModel, LightModel
from ambience.testing import eventually, without_ambience
from ambience.testing.mosquitto import Mosquitto, MqttProbe, make_tls_files, password_line

ROOMS: dict[str, Any] = {
    "z2m": {
        "thermostat": {"bridge": "zigbee2mqtt", "device": "trv", "setpoint": "current_heating_setpoint"},
        "lights": [{"bridge": "zigbee2mqtt", "device": "ceiling"}, {"bridge": "zigbee2mqtt", "device": "lamp"}],
    },
    "tas": {"lights": [{"bridge": "tasmota", "device": "tasmota_lamp"}]},
    "ha": {
        "thermostat": {
            "bridge": "homeassistant",
            "device": "ha_climate",
            "temperature_command_topic": "ha/climate/temperature/set",
            "temperature_state_topic": "ha/climate/temperature",
            "mode_command_topic": "ha/climate/mode/set",
            "mode_state_topic": "ha/climate/mode",
            "current_temperature_topic": "ha/climate/current",
            "availability_topic": "ha/climate/availability",
        },
        "lights": [
            {
                "bridge": "homeassistant",
                "device": "ha_light",
                "command_topic": "ha/light/set",
                "state_topic": "ha/light/state",
                "availability_topic": "ha/light/availability",
            }
        ],
    },
    "esp": {
        "thermostat": {"bridge": "esphome", "device": "esp-climate", "object_id": "thermostat"},
        "lights": [{"bridge": "esphome", "device": "esp-light", "object_id": "lamp"}],
    },
    "shelly": {"lights": [{"bridge": "shelly", "device": "shellyplus-dimmer"}]},
    "gen": {
        "lights": [
            {
                "bridge": "generic",
                "device": "gen-lamp",
                "command_topic": "gen/lamp/set",
                "state_topic": "gen/lamp/state",
                "availability_topic": "gen/lamp/availability",
            }
        ]
    },
}


def make_config(url: str, **mqtt: Any) -> Config:
    return Config(mqtt={"url": url, **mqtt}, rooms=ROOMS)


@pytest.fixture
def config(broker: Mosquitto) -> Config:
    return make_config(broker.url)


@pytest.fixture
def start_sim(config: Config) -> Iterator[Callable[..., Simulator]]:
    """Start a simulator (fast: 0.1 s ticks, 0.5 °C a tick); every one is stopped after the test."""
    started: list[Simulator] = []

    def start(**kwargs: Any) -> Simulator:
        kwargs.setdefault("tick", 0.1)
        kwargs.setdefault("drift", 0.5)
        sim = Simulator(kwargs.pop("config", config), **kwargs).start()
        started.append(sim)
        return sim

    try:
        yield start
    finally:
        for sim in reversed(started):
            sim.stop()


@pytest.fixture
def sim(start_sim: Callable[..., Simulator]) -> Simulator:
    return start_sim(options={"z2m/lamp": {"legacy_availability": True}})


def snapshot_topic(room: str, device: str) -> str:
    return f"ambience-sim/{room}/{device}/state"


# ---- Zigbee2MQTT ------------------------------------------------------------------------------


def test_zigbee2mqtt_light_applies_set_and_reports_state(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/ceiling", snapshot_topic("z2m", "ceiling"))
    probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON", "brightness": 127, "color_temp": 250})

    state = probe.wait_json("zigbee2mqtt/ceiling")
    assert state == {"state": "ON", "brightness": 127, "color_mode": "color_temp", "color_temp": 250}
    snap = probe.wait_json(snapshot_topic("z2m", "ceiling"), lambda s: s["commands"] == 1)
    assert (snap["on"], snap["brightness"], snap["color_temp"]) == (True, 50.0, 4000)
    assert sim.device("z2m", "ceiling") == snap
    assert sim.commands("z2m", "ceiling") == 1

    mark = probe.mark()
    probe.publish("zigbee2mqtt/ceiling/set", {"color": {"hex": "#ff9a40"}})
    state = probe.wait_json("zigbee2mqtt/ceiling", since=mark)
    assert state["color_mode"] == "xy" and set(state["color"]) == {"x", "y"}
    assert sim.device("z2m", "ceiling")["color"] == "#ff9a40"

    mark = probe.mark()
    probe.publish("zigbee2mqtt/ceiling/set/state", "OFF")  # the plain-text shortcut
    assert probe.wait_json("zigbee2mqtt/ceiling", since=mark)["state"] == "OFF"
    assert sim.device("z2m", "ceiling")["on"] is False


def test_zigbee2mqtt_state_is_not_retained_but_availability_is(sim: Simulator, probe: MqttProbe, broker) -> None:
    probe.subscribe("zigbee2mqtt/ceiling")
    probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON"})
    probe.wait_for("zigbee2mqtt/ceiling")

    with MqttProbe(broker, "zigbee2mqtt/ceiling") as late:
        late.subscribe("zigbee2mqtt/+/availability", "zigbee2mqtt/bridge/state")
        new = late.wait_for(lambda m: m.topic == "zigbee2mqtt/ceiling/availability")
        assert new.retain and new.json() == {"state": "online"}
        legacy = late.wait_for(lambda m: m.topic == "zigbee2mqtt/lamp/availability")
        assert legacy.retain and legacy.text == "online"  # the 1.x form, chosen per device
        assert late.wait_for("zigbee2mqtt/bridge/state").retain
        assert late.messages("zigbee2mqtt/ceiling") == []


def test_zigbee2mqtt_get_replies_without_counting_a_command(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/trv")
    probe.publish("zigbee2mqtt/trv/get", {"local_temperature": ""})
    state = probe.wait_json("zigbee2mqtt/trv")
    assert state == {"local_temperature": 20.0, "current_heating_setpoint": 20.0, "system_mode": "heat",
                     "running_state": "idle"}  # fmt: skip
    assert sim.commands("z2m", "trv") == 0


def test_zigbee2mqtt_thermostat_reports_setpoint_at_once_and_drifts(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/trv")
    probe.publish("zigbee2mqtt/trv/set", {"current_heating_setpoint": 23, "system_mode": "heat"})

    first = probe.wait_json("zigbee2mqtt/trv")
    assert first["current_heating_setpoint"] == 23
    assert (first["local_temperature"], first["running_state"]) == (20.0, "heat")
    warmer = probe.wait_json("zigbee2mqtt/trv", lambda s: 20.0 < s["local_temperature"] < 23)
    assert warmer["running_state"] == "heat"
    done = probe.wait_json("zigbee2mqtt/trv", lambda s: s["local_temperature"] == 23)
    assert done["running_state"] == "idle"
    snap = sim.device("z2m", "trv")
    assert (snap["target"], snap["mode"], snap["local_temperature"]) == (23.0, "heat", 23.0)

    probe.publish("zigbee2mqtt/trv/set", {"occupied_heating_setpoint": 10})  # not this device's key
    time.sleep(0.3)  # a window for a wrong answer to show; nothing is to come
    assert sim.device("z2m", "trv")["target"] == 23.0


def test_zigbee2mqtt_transition_moves_brightness_gradually(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/ceiling")
    sent = time.monotonic()
    probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON", "brightness": 254, "transition": 1})

    final = probe.wait_for(lambda m: m.topic == "zigbee2mqtt/ceiling" and m.json()["brightness"] == 254)
    levels = [m.json()["brightness"] for m in probe.messages("zigbee2mqtt/ceiling")]
    assert len(levels) >= 6, levels  # one report a tick (0.1 s here) during the 1 s fade
    assert levels == sorted(levels) and levels[0] < 60 < levels[-2] < 254
    assert 0.9 <= final.time - sent < 1.6
    assert sim.device("z2m", "ceiling")["brightness"] == 100.0


def test_initial_state_is_what_the_devices_report(start_sim: Callable[..., Simulator], probe: MqttProbe) -> None:
    sim = start_sim(
        initial={
            "ceiling": {"on": True, "brightness": 80, "color_temp": 4000},
            "z2m/trv": {"target": 19, "mode": "heat", "local_temperature": 18},
        }
    )
    probe.subscribe("zigbee2mqtt/ceiling", "zigbee2mqtt/trv")
    probe.publish("zigbee2mqtt/ceiling/get", {"state": ""})
    assert probe.wait_json("zigbee2mqtt/ceiling") == {
        "state": "ON", "brightness": 203, "color_mode": "color_temp", "color_temp": 250}  # fmt: skip
    snap = sim.device("z2m", "ceiling")
    assert (snap["on"], snap["brightness"], snap["color_temp"]) == (True, 80.0, 4000)
    assert sim.device("z2m", "trv")["target"] == 19.0
    with pytest.raises(ValueError, match="no device 'nope'"):
        Simulator(sim.config, initial={"nope": {}})


# ---- Tasmota ----------------------------------------------------------------------------------


def test_tasmota_power_dimmer_backlog_and_state(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("stat/tasmota_lamp/#", "tele/tasmota_lamp/#")
    lwt = probe.wait_for("tele/tasmota_lamp/LWT")
    assert (lwt.text, lwt.retain) == ("Online", True)

    probe.publish("cmnd/tasmota_lamp/Power", "ON")
    assert probe.wait_json("stat/tasmota_lamp/RESULT") == {"POWER": "ON"}
    assert probe.wait_for("stat/tasmota_lamp/POWER").text == "ON"

    mark = probe.mark()
    probe.publish("cmnd/tasmota_lamp/Dimmer", "30")
    result = probe.wait_json("stat/tasmota_lamp/RESULT", since=mark)
    assert result == {"POWER": "ON", "Dimmer": 30, "CT": 370}
    assert sim.device("tas", "tasmota_lamp")["brightness"] == 30.0

    mark = probe.mark()
    probe.publish("cmnd/tasmota_lamp/Backlog", "Fade 1; Speed 2; CT 250; Dimmer 80")
    replies = [m.json() for m in probe.wait_count("stat/tasmota_lamp/RESULT", 4, since=mark)]  # one per command
    assert replies[:2] == [{"Fade": "ON"}, {"Speed": 2}]
    assert replies[3] == {"POWER": "ON", "Dimmer": 80, "CT": 250}  # the target at once, as Tasmota does
    moving = sim.wait_for("tas", "tasmota_lamp", lambda s: 30 < s["brightness"] < 80, timeout=2)
    assert moving["fading"]
    done = sim.wait_for("tas", "tasmota_lamp", lambda s: not s["fading"], timeout=3)
    assert (done["brightness"], done["color_temp"], done["commands"]) == (80.0, 4000, 3)

    mark = probe.mark()
    probe.publish("cmnd/tasmota_lamp/State", "")
    state = probe.wait_json("tele/tasmota_lamp/STATE", since=mark)
    assert (state["POWER"], state["Dimmer"], state["CT"], state["Fade"], state["Speed"]) == ("ON", 80, 250, "ON", 2)
    probe.publish("cmnd/tasmota_lamp/Power", "")  # a query
    assert probe.wait_json("stat/tasmota_lamp/RESULT", lambda r: r == {"POWER": "ON"}, since=mark)
    assert sim.commands("tas", "tasmota_lamp") == 3


# ---- Home Assistant ---------------------------------------------------------------------------


def test_homeassistant_json_light(sim: Simulator, probe: MqttProbe, broker: Mosquitto) -> None:
    probe.subscribe("ha/light/#")
    avail = probe.wait_for("ha/light/availability")
    assert (avail.text, avail.retain) == ("online", True)

    assert probe.wait_json("ha/light/state") == {"state": "OFF", "color_mode": "color_temp", "color_temp": 370}
    mark = probe.mark()
    probe.publish("ha/light/set", {"state": "ON", "brightness": 128, "color_temp": 300, "transition": 0})
    state = probe.wait_json("ha/light/state", since=mark)
    assert state == {"state": "ON", "brightness": 128, "color_mode": "color_temp", "color_temp": 300}
    snap = sim.device("ha", "ha_light")
    assert (snap["brightness"], snap["color_temp"]) == (50.2, 3333)

    mark = probe.mark()
    probe.publish("ha/light/set", {"state": "ON", "color": {"h": 30, "s": 80}})
    state = probe.wait_json("ha/light/state", since=mark)
    assert state["color_mode"] == "hs" and state["color"] == pytest.approx({"h": 30, "s": 80}, abs=1)
    with MqttProbe(broker, "ha/light/state") as late:
        assert late.wait_for("ha/light/state").retain


def test_homeassistant_climate(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("ha/climate/#")
    retained = {m.topic: m.text for m in probe.wait_count("ha/climate/#", 4)}
    assert retained == {"ha/climate/availability": "online", "ha/climate/temperature": "20",
                        "ha/climate/mode": "heat", "ha/climate/current": "20.0"}  # fmt: skip
    mark = probe.mark()
    probe.publish("ha/climate/temperature/set", "22.5")
    assert probe.wait_for("ha/climate/temperature", since=mark).text == "22.5"
    probe.publish("ha/climate/mode/set", "heat")
    assert probe.wait_for("ha/climate/mode", since=mark).text == "heat"
    assert probe.wait_for(lambda m: m.topic == "ha/climate/current" and float(m.text) > 20, since=mark)
    snap = sim.wait_for("ha", "ha_climate", lambda s: s["local_temperature"] == 22.5)
    assert (snap["target"], snap["mode"], snap["commands"]) == (22.5, "heat", 2)


# ---- ESPHome ----------------------------------------------------------------------------------


def test_esphome_light_state_is_retained_and_the_light_fades(sim: Simulator, probe: MqttProbe, broker) -> None:
    probe.subscribe("esp-light/#")
    status = probe.wait_for("esp-light/status")
    assert (status.text, status.retain) == ("online", True)

    probe.publish(
        "esp-light/light/lamp/command", {"state": "ON", "brightness": 255, "color_temp": 370, "transition": 1}
    )
    state = probe.wait_json("esp-light/light/lamp/state", lambda s: s["state"] == "ON")
    assert state == {"state": "ON", "brightness": 255, "color_mode": "color_temp", "color_temp": 370}
    moving = sim.wait_for("esp", "esp-light", lambda s: 0 < s["brightness"] < 100)
    assert moving["fading"] and moving["on"]
    assert sim.wait_for("esp", "esp-light", lambda s: s["brightness"] == 100.0, timeout=3)["fading"] is False
    with MqttProbe(broker, "esp-light/light/lamp/state") as late:
        retained = late.wait_for("esp-light/light/lamp/state")
        assert retained.retain and retained.json()["brightness"] == 255


def test_esphome_climate(sim: Simulator, probe: MqttProbe) -> None:
    base = "esp-climate/climate/thermostat"
    probe.subscribe(f"{base}/#", "esp-climate/status")
    retained = {m.topic: m.text for m in probe.wait_count("esp-climate/#", 5)}
    assert retained["esp-climate/status"] == "online" and retained[f"{base}/target_temperature/state"] == "20.0"
    mark = probe.mark()
    probe.publish(f"{base}/target_temperature/command", "21.5")
    assert probe.wait_for(f"{base}/target_temperature/state", since=mark).text == "21.5"
    probe.publish(f"{base}/mode/command", "heat")
    assert probe.wait_for(f"{base}/mode/state", since=mark).text == "heat"
    assert probe.wait_for(lambda m: m.topic == f"{base}/action/state" and m.text == "heating", since=mark)
    assert probe.wait_for(lambda m: m.topic == f"{base}/current_temperature/state" and m.text == "21.5", since=mark)
    assert sim.device("esp", "esp-climate")["running_state"] == "idle"


# ---- Shelly -----------------------------------------------------------------------------------


def test_shelly_rpc_light_set_reply_and_notify(sim: Simulator, probe: MqttProbe) -> None:
    dev = "shellyplus-dimmer"
    probe.subscribe(f"{dev}/#", "ambience-test/rpc")
    online = probe.wait_for(f"{dev}/online")
    assert (online.text, online.retain) == ("true", True)

    request = {
        "id": 7,
        "src": "ambience-test",
        "method": "Light.Set",
        "params": {"id": 0, "on": True, "brightness": 40},
    }
    probe.publish(f"{dev}/rpc", request)
    assert probe.wait_json("ambience-test/rpc") == {"id": 7, "src": dev, "dst": "ambience-test", "result": None}
    note = probe.wait_json(f"{dev}/events/rpc")
    assert (note["src"], note["dst"], note["method"]) == (dev, f"{dev}/events", "NotifyStatus")
    assert isinstance(note["params"]["ts"], float)
    light = note["params"]["light:0"]
    assert (light["id"], light["output"], light["brightness"]) == (0, True, 40)

    mark = probe.mark()
    probe.publish(f"{dev}/rpc", {"id": 8, "src": "ambience-test", "method": "Light.GetStatus", "params": {"id": 0}})
    status = probe.wait_json("ambience-test/rpc", since=mark)["result"]
    assert (status["output"], status["brightness"]) == (True, 40)

    mark = probe.mark()
    probe.publish(f"{dev}/rpc", {"id": 9, "src": "ambience-test", "method": "Light.Set",
                                 "params": {"id": 0, "brightness": 80, "transition_duration": 0.5}})  # fmt: skip
    start = probe.wait_json(f"{dev}/events/rpc", since=mark)["params"]["light:0"]
    assert start["brightness"] == 40 and start["transition"]["target"] == {"output": True, "brightness": 80}
    end = probe.wait_json(f"{dev}/events/rpc", lambda n: "transition" not in n["params"]["light:0"], since=mark)
    assert end["params"]["light:0"]["brightness"] == 80

    mark = probe.mark()
    probe.publish(f"{dev}/rpc", {"id": 10, "src": "ambience-test", "method": "Cover.Open"})
    assert probe.wait_json("ambience-test/rpc", since=mark)["error"]["code"] == 404
    assert sim.commands("shelly", dev) == 2


# ---- generic ----------------------------------------------------------------------------------


def test_generic_echoes_the_command_and_reads_the_template(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("gen/lamp/#")
    assert probe.wait_for("gen/lamp/availability").text == "online"
    payload = '{"state": "ON", "brightness": 40}'  # what the default template renders
    probe.publish("gen/lamp/set", payload)
    assert probe.wait_for("gen/lamp/state").text == payload
    snap = sim.device("gen", "gen-lamp")
    assert (snap["on"], snap["brightness"], snap["commands"]) == (True, 40.0, 1)


# ---- faults -----------------------------------------------------------------------------------


def test_drop_first_ignores_two_commands_then_obeys(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/ceiling", snapshot_topic("z2m", "ceiling"))
    probe.publish("ambience-sim/z2m/ceiling/fault", {"drop_first": 2})
    probe.wait_json(snapshot_topic("z2m", "ceiling"), lambda s: s["faults"] == {"drop_first": 2})

    for level in (10, 20, 30):
        probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON", "brightness": level})
    assert probe.wait_json("zigbee2mqtt/ceiling")["brightness"] == 30
    assert [m.json()["brightness"] for m in probe.messages("zigbee2mqtt/ceiling")] == [30]
    snap = sim.device("z2m", "ceiling")
    assert (snap["dropped"], snap["commands"], snap["faults"]) == (2, 1, {})


def test_drop_first_given_at_construction(start_sim: Callable[..., Simulator], probe: MqttProbe) -> None:
    sim = start_sim(faults={"tasmota_lamp": {"drop_first": 2}})
    probe.subscribe("stat/tasmota_lamp/POWER")
    for word in ("ON", "OFF", "ON"):
        probe.publish("cmnd/tasmota_lamp/Power", word)
    assert probe.wait_for("stat/tasmota_lamp/POWER").text == "ON"
    time.sleep(0.2)  # a window for a wrong answer to show; nothing is to come
    assert len(probe.messages("stat/tasmota_lamp/POWER")) == 1
    assert (sim.commands("tas", "tasmota_lamp"), sim.device("tas", "tasmota_lamp")["dropped"]) == (1, 2)


@pytest.mark.parametrize(
    ("room", "device", "topic", "online", "offline"),
    [
        ("z2m", "ceiling", "zigbee2mqtt/ceiling/availability", '{"state":"online"}', '{"state":"offline"}'),
        ("z2m", "lamp", "zigbee2mqtt/lamp/availability", "online", "offline"),
        ("tas", "tasmota_lamp", "tele/tasmota_lamp/LWT", "Online", "Offline"),
        ("ha", "ha_light", "ha/light/availability", "online", "offline"),
        ("esp", "esp-light", "esp-light/status", "online", "offline"),
        ("shelly", "shellyplus-dimmer", "shellyplus-dimmer/online", "true", "false"),
        ("gen", "gen-lamp", "gen/lamp/availability", "online", "offline"),
    ],
)
def test_offline_publishes_the_bridges_offline_availability(
    sim: Simulator, probe: MqttProbe, room: str, device: str, topic: str, online: str, offline: str
) -> None:
    probe.subscribe(topic)
    assert probe.wait_for(topic).text == online
    mark = probe.mark()
    probe.publish(f"ambience-sim/{room}/{device}/fault", {"offline": True})
    message = probe.wait_for(topic, since=mark)
    assert (message.text, message.retain) == (offline, False)  # live delivery; the broker keeps it retained
    assert sim.device(room, device)["online"] is False
    probe.publish(f"ambience-sim/{room}/{device}/fault", {})
    assert probe.wait_for(topic, since=mark + 1).text == online


def test_offline_device_ignores_commands_until_cleared(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/ceiling")
    sim.set_faults("z2m", "ceiling", offline=True)
    probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON"})
    probe.publish("zigbee2mqtt/ceiling/get", {"state": ""})
    time.sleep(0.3)  # a window for a wrong answer to show; nothing is to come
    assert probe.messages("zigbee2mqtt/ceiling") == []
    assert sim.device("z2m", "ceiling")["on"] is False

    sim.set_faults("z2m", "ceiling")  # back online: reports its state, obeys again
    probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON"})
    assert probe.wait_json("zigbee2mqtt/ceiling", lambda s: s["state"] == "ON")
    assert sim.commands("z2m", "ceiling") == 1


def test_mute_accepts_nothing_and_stays_online(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("shellyplus-dimmer/#", "ambience-test/rpc")
    probe.wait_for("shellyplus-dimmer/online")
    probe.publish("ambience-sim/shelly/shellyplus-dimmer/fault", {"mute": True})
    sim.wait_for("shelly", "shellyplus-dimmer", lambda s: s["faults"] == {"mute": True})
    mark = probe.mark()
    probe.publish("shellyplus-dimmer/rpc", {"id": 1, "src": "ambience-test", "method": "Light.Set",
                                            "params": {"id": 0, "on": True}})  # fmt: skip
    time.sleep(0.3)  # a window for a wrong answer to show; nothing is to come
    heard = [m.topic for m in probe.messages(since=mark) if m.topic != "shellyplus-dimmer/rpc"]
    assert heard == []  # no reply, no notification, no "offline"
    snap = sim.device("shelly", "shellyplus-dimmer")
    assert (snap["on"], snap["online"], snap["commands"]) == (False, True, 0)


def test_bad_fault_messages_change_nothing(sim: Simulator, probe: MqttProbe) -> None:
    probe.publish("ambience-sim/z2m/ceiling/fault", {"drop_first": -1})
    probe.publish("ambience-sim/z2m/ceiling/fault", "not json")
    probe.publish("ambience-sim/z2m/ceiling/fault", {"offline": True})
    sim.wait_for("z2m", "ceiling", lambda s: s["faults"] == {"offline": True})
    with pytest.raises(ValueError, match="unknown fault 'slow'"):
        sim.set_faults("z2m", "ceiling", slow=True)


# ---- the broker goes away ---------------------------------------------------------------------


def test_reconnects_and_resubscribes_after_a_broker_restart(sim: Simulator, broker: Mosquitto) -> None:
    broker.kill()
    eventually(lambda: not sim.ready, 3, 0.02)
    broker.start()  # the same port, no persistence: no session, no retained messages left
    restarted = time.monotonic()

    with MqttProbe(broker, "zigbee2mqtt/ceiling/availability", "zigbee2mqtt/ceiling") as probe:

        def obeys() -> bool:
            probe.publish("zigbee2mqtt/ceiling/set", {"state": "ON"})
            return sim.device("z2m", "ceiling")["on"] is not False

        eventually(obeys, 4 - (time.monotonic() - restarted), 0.1)  # the simulator obeys within 4 s of the restart
        obeyed = time.monotonic() - restarted
        assert probe.wait_json("zigbee2mqtt/ceiling/availability") == {"state": "online"}  # re-announced
        assert probe.wait_json("zigbee2mqtt/ceiling", lambda s: s["state"] == "ON")
    print(f"obeyed {obeyed:.2f}s after the broker came back")
    assert obeyed < 3.5


# ---- credentials and TLS from the config ------------------------------------------------------


def test_uses_the_configs_tls_and_credentials(tmp_path: Path, mosquitto_binary: str) -> None:
    try:
        ca, cert, key = make_tls_files(tmp_path / "tls")
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make test certificates: {exc}")
    passwords = tmp_path / "passwords"  # written by hand: checks our $7$ hash against mosquitto
    passwords.write_text(password_line("sim", "s3cret") + "\n" + password_line("probe", "pr0be") + "\n")
    (tmp_path / "sim.pw").write_text("s3cret\n")
    with Mosquitto(binary=mosquitto_binary, tls=(ca, cert, key), password_file=passwords) as broker:
        assert broker.url.startswith("mqtts://")
        config = make_config(
            broker.url, ca_file=str(ca), username="sim", password_file=str(tmp_path / "sim.pw"), protocol="3.1.1"
        )
        with Simulator(config, tick=0.1).start(timeout=5) as sim:
            with MqttProbe(broker, "zigbee2mqtt/lamp", username="probe", password="pr0be", cafile=ca) as probe:
                probe.publish("zigbee2mqtt/lamp/set", {"state": "ON", "brightness": 254})
                assert probe.wait_json("zigbee2mqtt/lamp")["brightness"] == 254
            assert sim.device("z2m", "lamp")["brightness"] == 100.0
        with pytest.raises(ConnectionRefusedError):
            MqttProbe(broker, username="probe", password="wrong", cafile=ca)


def test_mosquitto_passwd_users(mosquitto_binary: str) -> None:
    with Mosquitto(binary=mosquitto_binary, users={"alice": "wonder"}) as broker:
        with MqttProbe(broker, "x", username="alice", password="wonder") as probe:
            probe.publish("x", "1")
            assert probe.wait_for("x").text == "1"
        with pytest.raises(ConnectionRefusedError):
            MqttProbe(broker)  # anonymous is refused


# ---- the program ------------------------------------------------------------------------------


def test_python_m_simulator_runs_until_sigterm(tmp_path: Path, broker: Mosquitto, probe: MqttProbe) -> None:
    file = tmp_path / "ambience.yaml"
    file.write_text(
        f"mqtt:\n  url: {broker.url}\nrooms:\n  room1:\n    lights:\n"
        "      - {bridge: tasmota, device: lamp1}\n      - {bridge: zigbee2mqtt, device: ceiling}\n"
    )
    probe.subscribe("tele/lamp1/LWT")
    env = without_ambience()
    process = subprocess.Popen(
        [sys.executable, "-m", "ambience.simulator", "--config", str(file), "--tick", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert probe.wait_for(lambda m: m.text == "Online", timeout=10)  # subscribed and announced
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("simulating 2 devices on " + broker.url)
        assert "room1/lamp1  tasmota light" in lines[1] and "room1/ceiling  zigbee2mqtt light" in lines[2]
        probe.subscribe("stat/lamp1/RESULT")
        probe.publish("cmnd/lamp1/Power", "ON")
        assert probe.wait_json("stat/lamp1/RESULT") == {"POWER": "ON"}
        mark = probe.mark()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert probe.wait_for("tele/lamp1/LWT", since=mark).text == "Offline"  # published on the way out
    finally:
        process.kill()
        process.wait()


def test_main_reports_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(str(tmp_path / "missing.yaml")) == 1
    assert "missing.yaml does not exist" in capsys.readouterr().err


# ---- the pure parts ---------------------------------------------------------------------------


def test_light_model_fades_linearly_and_keeps_its_level_when_off() -> None:
    light = LightModel.from_initial({"on": True, "brightness": 20, "color_temp": 2000})
    light.set(10.0, level=60, color_temp=4000, transition=4)
    mid = light.view(12.0)
    assert (mid.on, mid.brightness, mid.color_temp) == (True, 40.0, 3000.0)
    assert not light.settle(13.9) and light.settle(14.0) and light.view(20).brightness == 60
    light.set(20.0, on=False, transition=2)
    assert light.view(21.0).brightness == 30.0 and light.view(22.0).on is False
    assert light.set(30.0, on=True).level == 60  # the bulb remembers


def test_climate_model_drifts_to_the_goal() -> None:
    climate = ClimateModel.from_initial({"target": 21, "local_temperature": 20}, drift=0.4)
    steps = 0
    while climate.step():
        steps += 1
        assert climate.running_state == ("heat" if climate.local < 20.95 else "idle")
    assert (steps, climate.local, climate.action) == (3, 21.0, "idle")
    climate.mode = "off"
    assert climate.goal == 20.0 and climate.action == "off"


def test_faults_parse() -> None:
    assert Faults.parse({}) == Faults() and Faults.parse({"drop_first": 2}).drop_first == 2
    for bad in ({"drop_first": True}, {"offline": "yes"}, {"slow": 1}, ["mute"]):
        with pytest.raises(ValueError):
            Faults.parse(bad)  # type: ignore[arg-type]


def test_generic_template_pattern() -> None:
    pattern = template_pattern('{"state": "{state}", "brightness": {brightness}, "again": "{state}"}')
    match = pattern.fullmatch('{"state":"ON","brightness":40,"again":"ON"}')
    assert match is not None and match.groupdict() == {"state": "ON", "brightness": "40"}
    assert pattern.fullmatch('{"state":"ON","brightness":40,"again":"OFF"}') is None


def test_generic_thermostat_sets_values_at_their_paths() -> None:
    config = Config(rooms={"r": {"thermostat": {
        "bridge": "generic", "device": "heater", "command_topic": "h/set", "state_topic": "h/state",
        "payload": '{"setpoint": {target}, "mode": "{mode}"}', "values": {"target": "climate.target"}}}})  # fmt: skip
    heater = GenericSim("r", config.rooms["r"].thermostat, "climate")
    [echo] = heater.receive("h/set", b'{"setpoint": 23.5, "mode": "heat"}', now=0.0)
    assert (heater.climate.target, heater.climate.mode, heater.commands) == (23.5, "heat", 1)
    assert (echo.topic, json.loads(echo.payload)) == ("h/state", {"setpoint": 23.5, "mode": "heat",
                                                                  "climate": {"target": 23.5}})  # fmt: skip
    assert heater.receive("h/set", b"something else", now=1.0) == [] and heater.commands == 1


def test_a_thermostat_on_a_lights_only_bridge_is_simulated_as_a_light() -> None:
    config = Config(rooms={"r": {"thermostat": {"bridge": "shelly", "device": "plug"}}})
    sim = Simulator(config)
    assert sim.devices() == [("r", "plug")] and sim.device("r", "plug")["kind"] == "light"


def test_generic_light_template_with_transition_and_null_fields() -> None:
    config = Config(rooms={"r": {"lights": [{
        "bridge": "generic", "device": "strip", "command_topic": "s/cmd", "state_topic": "s/state",
        "payload": '{"on": {on}, "level": {brightness}, "ct": {color_temp}, "rgb": "{color}", "t": {transition}}',
        "values": {"state": "on", "brightness": "level"}}]}})  # fmt: skip
    strip = GenericSim("r", config.rooms["r"].lights[0], "light")
    payload = '{"on": true, "level": 60, "ct": 2700, "rgb": "null", "t": 2}'
    [echo] = strip.receive("s/cmd", payload.encode(), now=0.0)
    assert echo.payload == payload  # every ``values`` path is in the echo already
    assert strip.light.view(1.0).brightness == 30.0 and strip.light.view(2.0).color_temp == 2700
    strip.receive("s/cmd", b'{"on": false, "level": 0, "ct": null, "rgb": "null", "t": 0}', now=3.0)
    assert strip.snapshot(3.0)["on"] is False and strip.commands == 2


def test_a_device_is_found_by_the_simulators_name_or_by_ambiences_device_id() -> None:
    """The simulator names an ESPHome node as ESPHome does (``esp-climate``); ambience's status names the
    node's thermostat ``esp-climate/thermostat``. Either finds it (the soak compares the two by id)."""
    sim = Simulator(make_config("mqtt://127.0.0.1:1"))
    assert sim.device("esp", "esp-climate/thermostat") == sim.device("esp", "esp-climate")
    assert sim.device("esp", "esp-light/lamp")["bridge"] == "esphome"
    with pytest.raises(KeyError, match="no simulated device esp/esp-climate/lamp"):
        sim.device("esp", "esp-climate/lamp")
