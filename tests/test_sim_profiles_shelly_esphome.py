"""The Shelly and ESPHome profiles against a real mosquitto, in each bridge's own message format.

Every message is written raw (``MqttProbe``) as the firmware's source or the vendor's documentation says
it is, never through ambience's adapters. Shelly: shelly-api-docs gen2 v1.0 (General/RPCProtocol,
CommonErrors, Notifications; ComponentsAndServices/Light, Switch, Shelly). ESPHome: esphome/esphome
``components/`` (mqtt/mqtt_light.cpp, mqtt_climate.cpp, mqtt_component.cpp, light/light_json_schema.cpp,
light_call.cpp, climate/climate.cpp, thermostat/thermostat_climate.cpp).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ambience.config import Config
from ambience.simulator import Simulator
from ambience.testing import eventually, without_ambience
from ambience.testing.mosquitto import Mosquitto, MqttProbe

ROOMS: dict[str, Any] = {
    "sh": {
        "lights": [
            {"bridge": "shelly", "device": "dimmer", "role": "ceiling"},
            {"bridge": "shelly", "device": "plug", "role": "warmer"},
        ]
    },
    "es": {
        "thermostat": {"bridge": "esphome", "device": "esp-heat", "object_id": "thermostat"},
        "lights": [{"bridge": "esphome", "device": "esp-light", "object_id": "ceiling"}],
    },
    "hc": {"thermostat": {"bridge": "esphome", "device": "esp-pump", "object_id": "heat_pump"}},
}
PROFILED: dict[str, dict[str, Any]] = {
    "dimmer": {"profile": "shelly-plus-dimmer", "mac": "A0DD6C9EF8AC"},
    "plug": {"profile": "shelly-plus-plug", "mac": "80646FD61F2C", "load": 75},
    "esp-heat": {"profile": "esphome-climate"},
    "esp-light": {"profile": "esphome-light", "mac": "a4cf12abcdef"},
    "esp-pump": {"profile": "esphome-heat-cool"},
}
DIMMER_ID, PLUG_ID = "shellywalldimmer-a0dd6c9ef8ac", "shellyplusplugs-80646fd61f2c"
HEAT, PUMP, LIGHT = "esp-heat/climate/thermostat", "esp-pump/climate/heat_pump", "esp-light/light/ceiling"


@pytest.fixture
def config(broker: Mosquitto) -> Config:
    return Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})


@pytest.fixture
def sim(config: Config) -> Iterator[Simulator]:
    initial = {"esp-heat": {"target": 19, "local_temperature": 19}, "esp-pump": {"target": 20, "local_temperature": 20}}
    with ExitStack() as stack:
        yield stack.enter_context(Simulator(config, tick=0.1, drift=0.0, options=PROFILED, initial=initial))


Rpc = Callable[..., dict[str, Any]]


@pytest.fixture
def rpc(sim: Simulator, probe: MqttProbe) -> Rpc:
    """Send one request frame as a client would and return the device's response frame."""
    probe.subscribe("tester/rpc")
    counter = iter(range(1, 1000))

    def call(prefix: str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        frame_id = next(counter)
        frame: dict[str, Any] = {"id": frame_id, "src": "tester", "method": method}
        if params is not None:
            frame["params"] = params
        probe.publish(f"{prefix}/rpc", json.dumps(frame))
        return probe.wait_json("tester/rpc", lambda r: r.get("id") == frame_id)

    return call


def notifications(probe: MqttProbe, prefix: str, count: int, since: int) -> list[dict[str, Any]]:
    return [m.json() for m in probe.wait_count(f"{prefix}/events/rpc", count, since=since)]


def transitions(probe: MqttProbe, since: int) -> list[dict[str, Any]]:
    said = [m.json()["params"]["light:0"] for m in probe.messages("dimmer/events/rpc", since)]
    return [n for n in said if "transition" in n]


# ---- Shelly ----------------------------------------------------------------------------------


def test_shelly_light_set_replies_from_its_device_id_and_notifies_what_changed(
    sim: Simulator, probe: MqttProbe, rpc: Rpc
) -> None:
    probe.subscribe("dimmer/events/rpc")
    mark = probe.mark()
    reply = rpc("dimmer", "Light.Set", {"id": 0, "on": True, "brightness": 40})
    # RPCProtocol: the response frame's src is the device id, dst the request's src
    assert reply == {"id": 1, "src": DIMMER_ID, "dst": "tester", "result": None}
    first = notifications(probe, "dimmer", 1, mark)[0]
    assert (first["src"], first["dst"], first["method"]) == (DIMMER_ID, "dimmer/events", "NotifyStatus")
    assert first["params"]["light:0"] == {"id": 0, "output": True, "brightness": 40}
    mark = probe.mark()
    rpc("dimmer", "Light.Set", {"id": 0, "brightness": 25})  # Notifications: unchanged attributes may be left out
    assert notifications(probe, "dimmer", 1, mark)[0]["params"]["light:0"] == {"id": 0, "brightness": 25}
    assert rpc("dimmer", "Light.GetStatus", {"id": 0})["result"] == {
        "id": 0,
        "source": "MQTT",
        "output": True,
        "brightness": 25,
    }
    assert sim.device("sh", "dimmer")["brightness"] == 25


def test_shelly_transition_notifies_its_start_and_a_null_when_it_is_over(
    sim: Simulator, probe: MqttProbe, rpc: Rpc
) -> None:
    probe.subscribe("dimmer/events/rpc")
    rpc("dimmer", "Light.Set", {"id": 0, "on": True, "brightness": 100})
    sim.wait_for("sh", "dimmer", lambda s: s["brightness"] == 100 and not s["fading"])
    mark = probe.mark()
    rpc("dimmer", "Light.Set", {"id": 0, "brightness": 20, "transition_duration": 0.6})
    # only the notifications about the transition (a late one of the first Set may still come after the mark)
    eventually(lambda: len(transitions(probe, mark)) >= 2)
    start, end = transitions(probe, mark)[:2]
    assert (
        start["transition"]["target"] == {"output": True, "brightness": 20} and start["transition"]["duration"] == 0.6
    )
    assert end == {"id": 0, "brightness": 20, "transition": None}  # the key vanished from the status: null
    assert sim.device("sh", "dimmer")["fading"] is False


@pytest.mark.parametrize(
    ("prefix", "method", "params", "code", "message"),
    [
        ("dimmer", "Switch.Set", {"id": 0, "on": True}, 404, "No handler for Switch.Set"),
        ("plug", "Light.Set", {"id": 0, "on": True, "brightness": 30}, 404, "No handler for Light.Set"),
        ("dimmer", "Light.SetColor", {"id": 0}, 404, "No handler for Light.SetColor"),
        ("dimmer", "Light.Set", {"on": True}, -103, "Missing required 'id'"),
        ("dimmer", "Light.Set", {"id": 3, "on": True}, -105, "Bad id=3"),
        ("dimmer", "Light.Set", {"id": 0}, -103, "At least one of 'on' and 'brightness' is required"),
        ("plug", "Switch.Set", {"id": 0}, -103, "Missing required 'on'"),
    ],
)
def test_shelly_refuses_a_bad_call_with_an_error_frame(
    sim: Simulator, rpc: Rpc, prefix: str, method: str, params: dict[str, Any], code: int, message: str
) -> None:
    reply = rpc(prefix, method, params)
    assert reply["error"] == {"code": code, "message": message} and "result" not in reply
    assert sim.device("sh", prefix)["on"] is False and sim.device("sh", prefix)["commands"] == 0


def test_shelly_plug_switch_set_answers_was_on_then_meters_the_power(
    sim: Simulator, probe: MqttProbe, rpc: Rpc
) -> None:
    probe.subscribe("plug/events/rpc")
    mark = probe.mark()
    assert rpc("plug", "Switch.Set", {"id": 0, "on": True})["result"] == {"was_on": False}
    output, meter = (n["params"]["switch:0"] for n in notifications(probe, "plug", 2, mark))
    assert output == {"id": 0, "output": True} and meter["apower"] == 75 and "output" not in meter
    assert rpc("plug", "Switch.Set", {"id": 0, "on": False})["result"] == {"was_on": True}
    status = rpc("plug", "Switch.GetStatus", {"id": 0})["result"]
    assert (status["output"], status["apower"]) == (False, 0)
    assert {"voltage", "current", "aenergy", "temperature"} <= status.keys()


@pytest.mark.parametrize(
    ("prefix", "device_id", "model", "app", "component", "other"),
    [
        ("dimmer", DIMMER_ID, "SNDM-0013US", "PlusWallDimmer", "light:0", "switch:0"),
        ("plug", PLUG_ID, "SNPL-00112EU", "PlusPlugS", "switch:0", "light:0"),
    ],
)
def test_shelly_device_info_and_config_in_the_documented_shape(
    sim: Simulator, rpc: Rpc, prefix: str, device_id: str, model: str, app: str, component: str, other: str
) -> None:
    info = rpc(prefix, "Shelly.GetDeviceInfo")["result"]
    # ComponentsAndServices/Shelly Shelly.GetDeviceInfo
    assert {"id", "mac", "model", "gen", "fw_id", "ver", "app", "auth_en", "auth_domain"} <= info.keys()
    assert (info["id"], info["model"], info["gen"], info["app"]) == (device_id, model, 2, app)
    assert info["mac"] == device_id.rpartition("-")[2].upper() and info["ver"] in info["fw_id"]
    config = rpc(prefix, "Shelly.GetConfig")["result"]
    assert component in config and other not in config and {"sys", "mqtt"} <= config.keys()
    assert config[component]["id"] == 0 and "initial_state" in config[component]
    assert config["mqtt"]["topic_prefix"] == prefix and config["mqtt"]["rpc_ntf"] is True
    assert config["sys"]["device"]["mac"] == info["mac"]
    assert component in rpc(prefix, "Shelly.GetStatus")["result"]


def test_shelly_online_is_retained_true(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("dimmer/online", "plug/online")
    for prefix in ("dimmer", "plug"):
        probe.wait_for(lambda m, p=prefix: m.topic == f"{p}/online" and m.text == "true" and m.retain)


# ---- ESPHome light ---------------------------------------------------------------------------


def light_state(probe: MqttProbe, since: int) -> dict[str, Any]:
    return probe.wait_json(f"{LIGHT}/state", since=since)


def test_esphome_light_state_is_the_target_retained(sim: Simulator, probe: MqttProbe, broker: Mosquitto) -> None:
    probe.subscribe(f"{LIGHT}/state")
    probe.settle()  # the retained state arrived: only new ones from here
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"state":"ON","brightness":114,"color_temp":300,"transition":2}')
    # light_json_schema.cpp dump_json: color_mode, state, brightness, color (always), color_temp
    assert light_state(probe, mark) == {
        "color_mode": "color_temp",
        "state": "ON",
        "brightness": 114,
        "color": {},
        "color_temp": 300,
    }
    retained = MqttProbe(broker)  # a new subscriber gets the last state as a retained message
    retained.subscribe(f"{LIGHT}/state")
    assert retained.wait_json(f"{LIGHT}/state") == light_state(probe, mark) and retained.messages()[-1].retain
    retained.close()
    snap = sim.device("es", "esp-light")
    assert snap["fading"] and snap["brightness"] < 44.7 and snap["mired"] == 300


def test_esphome_light_reads_only_integers_and_clamps_the_mireds(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{LIGHT}/state")
    probe.settle()  # the retained state arrived: only new ones from here
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"state":"ON","brightness":200,"transition":0}')
    assert light_state(probe, mark)["brightness"] == 200
    mark = probe.mark()
    # is<uint8_t>() / is<uint16_t>(): 114.5 and 300.5 are not integers, so left alone; 454 is clamped to 370
    probe.publish(f"{LIGHT}/command", '{"brightness":114.5,"color_temp":454,"transition":0}')
    state = light_state(probe, mark)
    assert (state["brightness"], state["color_temp"]) == (200, 370)
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"color_temp":300.5,"transition":0}')
    assert light_state(probe, mark)["color_temp"] == 370


def test_esphome_light_ignores_a_fractional_transition_and_uses_its_default(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{LIGHT}/state")
    probe.settle()  # the retained state arrived: only new ones from here
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"state":"ON","brightness":255,"transition":0}')
    light_state(probe, mark)
    assert sim.device("es", "esp-light")["fading"] is False  # "transition": 0 is no transition
    probe.publish(f"{LIGHT}/command", '{"brightness":25,"transition":5.5}')
    snap = sim.wait_for("es", "esp-light", lambda s: s["commands"] == 2)
    assert snap["fading"]  # the default 1 s, not 5.5 s: over within about a second
    sim.wait_for("es", "esp-light", lambda s: not s["fading"], timeout=1.5)


def test_esphome_light_brightness_zero_switches_off_and_resets_the_level(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{LIGHT}/state")
    probe.settle()  # the retained state arrived: only new ones from here
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"brightness":80,"transition":0}')  # no state: stays off
    assert (state := light_state(probe, mark))["state"] == "OFF" and state["brightness"] == 80
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"state":"ON","transition":0}')
    assert light_state(probe, mark)["state"] == "ON"
    mark = probe.mark()
    probe.publish(f"{LIGHT}/command", '{"brightness":0}')  # light_call.cpp validate_: off, brightness 1.0
    assert light_state(probe, mark) == {**state, "state": "OFF", "brightness": 255}


def test_esphome_light_discovery_config(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("homeassistant/light/#")
    config = probe.wait_json("homeassistant/light/esp-light/ceiling/config")
    assert probe.messages("homeassistant/light/esp-light/ceiling/config")[-1].retain
    # mqtt_light.cpp send_discovery, then mqtt_component.cpp send_discovery_ (abbreviated keys)
    assert {k: config[k] for k in ("schema", "clrm", "supported_color_modes", "brightness")} == {
        "schema": "json",
        "clrm": True,
        "supported_color_modes": ["color_temp"],
        "brightness": True,
    }
    assert (config["min_mirs"], config["max_mirs"]) == (153, 370)
    assert (config["stat_t"], config["cmd_t"], config["avty_t"]) == (
        f"{LIGHT}/state",
        f"{LIGHT}/command",
        "esp-light/status",
    )
    assert config["uniq_id"] == "ESPlightceiling" and config["dev"]["ids"] == "a4cf12abcdef"
    assert config["dev"]["cns"] == [["mac", "a4cf12abcdef"]]


def test_esphome_status_is_retained_online(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("+/status")
    for node in ("esp-light", "esp-heat", "esp-pump"):
        probe.wait_for(lambda m, n=node: m.topic == f"{n}/status" and m.text == "online" and m.retain)


# ---- ESPHome climate -------------------------------------------------------------------------


def states(probe: MqttProbe, base: str, since: int) -> dict[str, str]:
    """The whole publish_state_ round (it ends with the action) as item -> payload."""
    probe.wait_for(lambda m: m.topic == f"{base}/action/state", since=since)
    return {m.topic[len(base) + 1 :].removesuffix("/state"): m.text for m in probe.messages(f"{base}/#", since)}


def test_esphome_thermostat_takes_plain_payloads_and_publishes_its_whole_state(
    sim: Simulator, probe: MqttProbe
) -> None:
    probe.subscribe(f"{HEAT}/#")
    probe.settle()
    mark = probe.mark()
    probe.publish(f"{HEAT}/target_temperature/command", "21.5")
    assert states(probe, HEAT, mark) == {
        "target_temperature/command": "21.5",
        "mode": "heat",
        "current_temperature": "19.0",
        "target_temperature": "21.5",
        "action": "heating",
    }
    mark = probe.mark()
    probe.publish(f"{HEAT}/mode/command", "OFF")  # ClimateCall::set_mode: case-insensitive
    assert states(probe, HEAT, mark)["mode"] == "off"
    mark = probe.mark()
    probe.publish(f"{HEAT}/target_temperature/command", "40")  # validate_target_temperature: the visual maximum
    assert states(probe, HEAT, mark)["target_temperature"] == "30.0"


def test_esphome_thermostat_drops_a_mode_it_lacks_and_republishes_unchanged(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{HEAT}/#")
    probe.settle()
    mark = probe.mark()
    probe.publish(f"{HEAT}/mode/command", "auto")  # no auto_mode action: AUTO is not in the traits
    assert states(probe, HEAT, mark)["mode"] == "heat"
    snap = sim.device("es", "esp-heat")
    assert snap["mode"] == "heat" and snap["last_warning"] == "Mode auto is not supported by this device!"


def test_esphome_thermostat_ignores_a_setpoint_that_is_not_a_number(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{HEAT}/#")
    probe.settle()
    mark = probe.mark()
    probe.publish(f"{HEAT}/target_temperature/command", "warm")
    snap = sim.wait_for("es", "esp-heat", lambda s: s["warnings"] == 1)
    assert snap["target"] == 19 and snap["last_warning"] == "Can't convert 'warm' to number!"
    probe.publish(f"{HEAT}/mode/command", "heat")  # a later command's answer: proof nothing came for "warm"
    probe.wait_for(lambda m: m.topic == f"{HEAT}/action/state", since=mark)
    assert [m.topic for m in probe.messages(f"{HEAT}/target_temperature/state", mark)] == [
        f"{HEAT}/target_temperature/state"
    ]


def test_esphome_heat_cool_takes_only_the_low_and_high_setpoints(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe(f"{PUMP}/#")
    probe.settle()
    mark = probe.mark()
    probe.publish(f"{PUMP}/target_temperature/command", "23")  # not subscribed by a two-point climate
    probe.publish(f"{PUMP}/target_temperature_low/command", "21")
    got = states(probe, PUMP, mark)
    assert (got["target_temperature_low"], got["target_temperature_high"]) == ("21.0", "22.0")
    assert "target_temperature" not in got and sim.device("hc", "esp-pump")["commands"] == 1
    mark = probe.mark()
    probe.publish(f"{PUMP}/target_temperature_high/command", "20")  # the low one moves down, 0.5 °C apart
    got = states(probe, PUMP, mark)
    assert (got["target_temperature_low"], got["target_temperature_high"]) == ("19.5", "20.0")
    mark = probe.mark()
    probe.publish(f"{PUMP}/mode/command", "heat_cool")
    assert states(probe, PUMP, mark)["mode"] == "heat_cool"


@pytest.mark.parametrize(
    ("node", "object_id", "modes", "setpoint_keys"),
    [
        ("esp-heat", "thermostat", ["off", "heat"], ["temp_cmd_t", "temp_stat_t"]),
        (
            "esp-pump",
            "heat_pump",
            ["off", "cool", "heat", "heat_cool"],
            ["temp_lo_cmd_t", "temp_lo_stat_t", "temp_hi_cmd_t", "temp_hi_stat_t"],
        ),
    ],
)
def test_esphome_climate_discovery_config(
    sim: Simulator, probe: MqttProbe, node: str, object_id: str, modes: list[str], setpoint_keys: list[str]
) -> None:
    probe.subscribe("homeassistant/climate/#")
    config = probe.wait_json(f"homeassistant/climate/{node}/{object_id}/config")
    base = f"{node}/climate/{object_id}"
    # mqtt_climate.cpp send_discovery: its keys in order, no state/command topic of its own
    keys = list(config)
    assert keys[:4] == ["curr_temp_t", "mode_cmd_t", "mode_stat_t", "modes"]
    assert keys[4 : 4 + len(setpoint_keys)] == setpoint_keys
    assert config["modes"] == modes and config["mode_cmd_t"] == f"{base}/mode/command"
    assert (
        config[setpoint_keys[0]]
        == f"{base}/{'target_temperature_low' if len(setpoint_keys) > 2 else 'target_temperature'}/command"
    )
    assert (config["min_temp"], config["max_temp"], config["temp_step"], config["temp_unit"]) == (10, 30, 0.5, "C")
    assert (
        config["curr_temp_t"] == f"{base}/current_temperature/state"
        and "stat_t" not in config
        and "cmd_t" not in config
    )
    assert config["avty_t"] == f"{node}/status" and config["uniq_id"] == f"ESPclimate{object_id}"


# ---- the Last Will, the devices file and bad profiles ----------------------------------------


def test_their_last_will_says_offline_when_the_simulator_dies(
    tmp_path: Path, broker: Mosquitto, probe: MqttProbe
) -> None:
    config, devices = tmp_path / "ambience.yaml", tmp_path / "simulator.yaml"
    config.write_text(
        f"mqtt: {{url: '{broker.url}'}}\nrooms:\n  r:\n"
        "    thermostat: {bridge: esphome, device: esp-heat, object_id: thermostat}\n"
        "    lights: [{bridge: shelly, device: plug}]\n"
    )
    devices.write_text("devices:\n  r/plug: {profile: shelly-plus-plug}\n  r/esp-heat: {profile: esphome-climate}\n")
    probe.subscribe("plug/online", "esp-heat/status", "ambience-sim/r/plug/state")
    process = subprocess.Popen(
        [sys.executable, "-m", "ambience.simulator", "--config", str(config), "--devices", str(devices)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=without_ambience(),
    )  # fmt: skip
    try:
        probe.wait_json("ambience-sim/r/plug/state", lambda s: s.get("profile") == "shelly-plus-plug", timeout=10)
        probe.wait_for(lambda m: m.topic == "plug/online" and m.text == "true", timeout=10)
        probe.wait_for(lambda m: m.topic == "esp-heat/status" and m.text == "online", timeout=10)
        mark = probe.mark()
        process.kill()  # no goodbye: the broker publishes each device connection's Last Will
        process.wait()
        probe.wait_for(lambda m: m.topic == "plug/online" and m.text == "false", since=mark, timeout=30)
        probe.wait_for(lambda m: m.topic == "esp-heat/status" and m.text == "offline", since=mark, timeout=30)
        with MqttProbe(broker, "plug/online", "esp-heat/status") as later:  # the wills were retained
            later.settle()
            assert {(m.topic, m.text, m.retain) for m in later.messages()} == {
                ("plug/online", "false", True),
                ("esp-heat/status", "offline", True),
            }
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            {"dimmer": {"profile": "esphome-light"}},
            "profile esphome-light is a esphome device, but sh/dimmer is on shelly",
        ),
        ({"plug": {"profile": "shelly-plus-dimmer", "load": 5}}, "unknown shelly simulator option 'load'"),
        ({"esp-light": {"profile": "esphome-climate"}}, "profile esphome-climate is a thermostat, but es/esp-light"),
        ({"esp-heat": {"profile": "esphome-light"}}, "profile esphome-light is a light, but es/esp-heat is the"),
    ],
)
def test_a_profile_that_does_not_fit_is_one_clear_error(config: Config, options: dict[str, Any], said: str) -> None:
    with pytest.raises(ValueError, match="^" + said):
        Simulator(config, options=options)
