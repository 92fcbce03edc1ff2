"""The simulator's device profiles against a real mosquitto, in the bridges' own message formats.

Every message here is written raw (``MqttProbe``), as the bridge's source says it is, never through
ambience's adapters: these tests hold the simulator to the bridges' code, not to our reading of it.
The expected behaviour of each Zigbee2MQTT profile is cited from zigbee-herdsman-converters 26.112.0
(zhc) or Zigbee2MQTT (z2m); the exposes compared against are the generated
``ambience/simulator/profiles/zigbee2mqtt.json``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ambience.cli.demo import DEMO_CONFIG, DEMO_DEVICES
from ambience.config import Config, parse_config
from ambience.simulator import Simulator
from ambience.simulator.model import LightView
from ambience.simulator.profiles import PROFILES, walk, zigbee2mqtt_definitions
from ambience.simulator.runner import device_specs
from ambience.simulator.tasmota import fade_seconds
from ambience.testing import without_ambience
from ambience.testing.mosquitto import Mosquitto, MqttProbe

Z = "zigbee2mqtt"
ROOMS: dict[str, Any] = {
    "tuya": {
        "thermostat": {"bridge": Z, "device": "tuya-trv", "setpoint": "current_heating_setpoint"},
        "lights": [
            {"bridge": Z, "device": "ikea-bulb", "role": "ceiling"},
            {"bridge": Z, "device": "hue-bulb", "role": "lamp"},
            {"bridge": Z, "device": "ikea-plug", "role": "warmer"},
            {"bridge": Z, "device": "tuya-plug", "role": "diffuser"},
        ],
    },
    "danfoss": {"thermostat": {"bridge": Z, "device": "danfoss-trv"}},
    "bosch": {"thermostat": {"bridge": Z, "device": "bosch-trv"}},
    "aqara": {"thermostat": {"bridge": Z, "device": "aqara-trv"}},
}
PROFILED: dict[str, dict[str, Any]] = {
    "tuya-trv": {"profile": "tuya-ts0601"},
    "ikea-bulb": {"profile": "ikea-led1545g12"},
    "hue-bulb": {"profile": "hue-white-ambiance", "availability": True},
    "ikea-plug": {"profile": "ikea-outlet"},
    "tuya-plug": {"profile": "tuya-ts011f-plug"},
    "danfoss-trv": {"profile": "danfoss-ally", "report_interval": 3600},
    "bosch-trv": {"profile": "bosch-bth-ra"},
    "aqara-trv": {"profile": "aqara-e1"},
}


@pytest.fixture
def config(broker: Mosquitto) -> Config:
    return Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})


@pytest.fixture
def start_sim(config: Config) -> Iterator[Callable[..., Simulator]]:
    """Start simulators of ``config`` (0.1 s ticks, 0.5 °C a tick); all stopped after."""
    with ExitStack() as started:
        yield lambda **kw: started.enter_context(Simulator(**{"config": config, "tick": 0.1, "drift": 0.5, **kw}))


@pytest.fixture
def sim(start_sim: Callable[..., Simulator]) -> Simulator:
    initial = {"ikea-bulb": {"on": True, "brightness": 20}, "hue-bulb": {"on": True, "brightness": 20}}
    return start_sim(options=PROFILED, initial=initial)


def only_message(probe: MqttProbe, topic: str, since: int) -> Any:
    """The one message on ``topic`` since ``since`` (the test waited for it): proof nothing else came before."""
    got = probe.messages(topic, since)
    assert len(got) == 1, [m.text for m in got]
    return got[0].json()


# ---- the bridge ------------------------------------------------------------------------------


def test_bridge_devices_is_retained_in_zigbee2mqtts_format(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/bridge/#")
    devices = probe.wait_json("zigbee2mqtt/bridge/devices")
    assert probe.messages("zigbee2mqtt/bridge/devices")[0].retain
    by_name = {d["friendly_name"]: d for d in devices}
    assert by_name["Coordinator"]["type"] == "Coordinator" and by_name["Coordinator"]["definition"] is None
    real = zigbee2mqtt_definitions()
    for name, spec in PROFILED.items():
        entry, profile = by_name[name], PROFILES[spec["profile"]]
        # z2m lib/extension/bridge.ts publishDevices: these keys for every device
        assert {"ieee_address", "type", "network_address", "supported", "friendly_name", "disabled"} <= entry.keys()
        assert {"definition", "power_source", "model_id", "interview_completed", "endpoints"} <= entry.keys()
        assert entry["supported"] is True and entry["disabled"] is False
        assert entry["ieee_address"].startswith("0x") and len(entry["ieee_address"]) == 18
        assert entry["power_source"] == ("Battery" if profile.battery else "Mains (single phase)")
        definition = entry["definition"]
        assert {k: definition[k] for k in ("model", "vendor", "description", "exposes", "options")} == {
            k: real[str(profile.model)][k] for k in ("model", "vendor", "description", "exposes", "options")
        }
        assert isinstance(definition["supports_ota"], bool)
    state = probe.wait_json("zigbee2mqtt/bridge/state")
    assert state == {"state": "online"} and probe.messages("zigbee2mqtt/bridge/state")[-1].retain


def test_bridge_state_goes_offline_when_the_bridge_stops(start_sim: Callable[..., Simulator], probe: MqttProbe) -> None:
    sim = start_sim(options=PROFILED)
    probe.subscribe("zigbee2mqtt/bridge/state")
    probe.wait_json("zigbee2mqtt/bridge/state", lambda s: s == {"state": "online"})
    mark = probe.mark()
    sim.stop()
    assert probe.wait_json("zigbee2mqtt/bridge/state", since=mark) == {"state": "offline"}


def test_device_availability_only_where_enabled(sim: Simulator, probe: MqttProbe) -> None:
    # z2m settings.schema.json: availability is off by default; the hue bulb has it enabled
    probe.subscribe("zigbee2mqtt/+/availability")
    assert probe.wait_json("zigbee2mqtt/hue-bulb/availability") == {"state": "online"}
    probe.settle()
    assert {m.topic for m in probe.messages("zigbee2mqtt/+/availability")} == {"zigbee2mqtt/hue-bulb/availability"}


# ---- lights ----------------------------------------------------------------------------------


def test_ikea_drops_the_brightness_transition_next_to_color_temp(sim: Simulator, probe: MqttProbe) -> None:
    # zhc lib/utils.ts getTransition: IKEA + color_temp in the message -> brightness {time: 0}
    for name in ("ikea-bulb", "hue-bulb"):
        probe.publish(f"zigbee2mqtt/{name}/set", {"brightness": 254, "color_temp": 400, "transition": 20})
    ikea = sim.wait_for("tuya", "ikea-bulb", lambda s: s["commands"] == 1)
    hue = sim.wait_for("tuya", "hue-bulb", lambda s: s["commands"] == 1)
    assert ikea["brightness"] == 100.0 and ikea["fading"]  # jumped; only the colour temperature fades
    assert hue["brightness"] < 30 and hue["fading"]  # a Hue bulb fades both


def test_ikea_fades_brightness_alone(sim: Simulator, probe: MqttProbe) -> None:
    probe.publish("zigbee2mqtt/ikea-bulb/set", {"brightness": 254, "transition": 20})
    snap = sim.wait_for("tuya", "ikea-bulb", lambda s: s["commands"] == 1)
    assert snap["brightness"] < 30 and snap["fading"]


def test_lights_publish_the_target_at_once(sim: Simulator, probe: MqttProbe) -> None:
    # z2m publish.ts: the converters' returned state is published right after the command (optimistic)
    probe.subscribe("zigbee2mqtt/hue-bulb")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/hue-bulb/set", {"state": "ON", "brightness": 200, "color_temp": 300, "transition": 20})
    state = probe.wait_json("zigbee2mqtt/hue-bulb", lambda s: s.get("brightness") == 200, since=mark)
    assert state == {"state": "ON", "brightness": 200, "color_mode": "color_temp", "color_temp": 300}
    assert sim.device("tuya", "hue-bulb")["fading"]


@pytest.mark.parametrize(
    ("bulb", "asked", "reported"),
    [
        ("ikea-bulb", 500, 454),
        ("ikea-bulb", 153, 250),
        ("ikea-bulb", "warmest", 454),
        ("ikea-bulb", "coolest", 250),
        ("hue-bulb", 500, 500),
        ("hue-bulb", 100, 150),
    ],
)
def test_color_temp_is_clamped_to_the_bulbs_own_range(
    sim: Simulator, probe: MqttProbe, bulb: str, asked: Any, reported: int
) -> None:
    # zhc toZigbee light_colortemp -> lib/light clampColorTemp with the bulb's range (the exposes' value_min/max)
    probe.subscribe(f"zigbee2mqtt/{bulb}")
    mark = probe.mark()
    probe.publish(f"zigbee2mqtt/{bulb}/set", {"color_temp": asked})
    assert probe.wait_json(f"zigbee2mqtt/{bulb}", since=mark)["color_temp"] == reported


def test_brightness_is_0_to_254(sim: Simulator, probe: MqttProbe) -> None:
    # zhc toZigbee light_onoff_brightness: 255 becomes 254; more is an error and nothing is published
    probe.subscribe("zigbee2mqtt/hue-bulb")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/hue-bulb/set", {"brightness": 300})
    probe.publish("zigbee2mqtt/hue-bulb/set", {"brightness": 255})
    assert probe.wait_json("zigbee2mqtt/hue-bulb", since=mark)["brightness"] == 254
    assert only_message(probe, "zigbee2mqtt/hue-bulb", mark)["brightness"] == 254
    snap = sim.device("tuya", "hue-bulb")
    assert snap["errors"] == 1 and "must be a number >= 0 and =< 254" in snap["last_error"]


def test_a_plug_takes_only_state(sim: Simulator, probe: MqttProbe) -> None:
    # a plug's only converter takes state (zhc toZigbee on_off; the TS011F's lib/tuya tz.on_off_countdown, whose
    # state also says the countdown it cancelled: dist/lib/tuya.js:2673 result.countdown = 0): brightness and
    # color_temp have none (publish.ts logs it)
    for plug, state in (("ikea-plug", {"state": "ON"}), ("tuya-plug", {"state": "ON", "countdown": 0})):
        probe.subscribe(f"zigbee2mqtt/{plug}")
        mark = probe.mark()
        probe.publish(f"zigbee2mqtt/{plug}/set", {"state": "ON", "brightness": 114, "color_temp": 370, "transition": 2})
        assert probe.wait_json(f"zigbee2mqtt/{plug}", since=mark) == state
        snap = sim.device("tuya", plug)
        assert snap["on"] is True and snap["errors"] == 2
        assert "No converter available for 'set' 'color_temp'" in snap["last_error"]


# ---- thermostats -----------------------------------------------------------------------------


def test_ts0601_heat_forces_the_valve_open_and_the_room_overheats(sim: Simulator, probe: MqttProbe) -> None:
    # zhc tuya.ts TS0601_thermostat: "in the heat mode the TS0601 will remain continuously heating";
    # legacy tuya_thermostat_force_to_mode writes force=open; fromZigbee reports system_mode heat, force open
    probe.subscribe("zigbee2mqtt/tuya-trv")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/tuya-trv/set", {"current_heating_setpoint": 19, "system_mode": "heat"})
    state = probe.wait_json("zigbee2mqtt/tuya-trv", lambda s: s.get("force") == "open", since=mark)
    assert (state["system_mode"], state["position"], state["running_state"]) == ("heat", 100, "heat")
    assert state["current_heating_setpoint"] == 19
    snap = sim.wait_for("tuya", "tuya-trv", lambda s: s["local_temperature"] > 21, timeout=10)
    assert snap["target"] == 19  # the setpoint is ignored: the room heats on past it


def test_ts0601_auto_regulates_and_off_closes(sim: Simulator, probe: MqttProbe) -> None:
    probe.subscribe("zigbee2mqtt/tuya-trv")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/tuya-trv/set", {"system_mode": "auto", "current_heating_setpoint": 22})
    state = probe.wait_json("zigbee2mqtt/tuya-trv", lambda s: s.get("current_heating_setpoint") == 22, since=mark)
    assert (state["system_mode"], state["force"], state["running_state"]) == ("auto", "normal", "heat")
    sim.wait_for("tuya", "tuya-trv", lambda s: abs(s["local_temperature"] - 22) < 0.01, timeout=10)
    mark = probe.mark()
    probe.publish("zigbee2mqtt/tuya-trv/set", {"system_mode": "off"})
    state = probe.wait_json("zigbee2mqtt/tuya-trv", lambda s: s.get("force") == "close", since=mark)
    assert (state["position"], state["running_state"]) == (0, "idle")


def test_ts0601_has_no_get(sim: Simulator, probe: MqttProbe) -> None:
    # legacy tuya converters have convertSet only: publish.ts logs "No converter available for 'get'"
    probe.subscribe("zigbee2mqtt/tuya-trv")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/tuya-trv/get", {"current_heating_setpoint": "", "local_temperature": ""})
    probe.publish("zigbee2mqtt/tuya-trv/set", {"current_heating_setpoint": 23})
    probe.wait_json("zigbee2mqtt/tuya-trv", lambda s: s.get("current_heating_setpoint") == 23, since=mark)
    assert only_message(probe, "zigbee2mqtt/tuya-trv", mark)["current_heating_setpoint"] == 23
    snap = sim.device("tuya", "tuya-trv")
    assert snap["errors"] == 2 and "No converter available for 'get'" in snap["last_error"]


@pytest.mark.parametrize(
    ("room", "device", "mode", "said"),
    [
        ("tuya", "tuya-trv", "cool", "TRV system mode cool is not recognized."),
        ("danfoss", "danfoss-trv", "off", "INVALID_VALUE"),
        ("danfoss", "danfoss-trv", "auto", "INVALID_VALUE"),
        ("bosch", "bosch-trv", "off", "INVALID_VALUE"),
        ("aqara", "aqara-trv", "auto", "Key 'auto' not found in: [off, heat]"),
    ],
)
def test_a_system_mode_the_valve_does_not_have_is_refused(
    sim: Simulator, probe: MqttProbe, room: str, device: str, mode: str, said: str
) -> None:
    # the exposes' system_mode values (zigbee2mqtt.json): Danfoss and Bosch [heat], Aqara [off, heat]
    values = next(f for f in _features(device) if f["property"] == "system_mode")["values"]
    assert mode not in values
    probe.subscribe(f"zigbee2mqtt/{device}")
    mark = probe.mark()
    probe.publish(f"zigbee2mqtt/{device}/set", {"system_mode": mode})
    snap = sim.wait_for(room, device, lambda s: s["errors"] == 1)
    assert said in snap["last_error"] and snap["mode"] in values
    probe.publish(f"zigbee2mqtt/{device}/set", {"system_mode": "heat"})
    probe.wait_json(f"zigbee2mqtt/{device}", lambda s: s.get("system_mode") == "heat", since=mark)
    assert only_message(probe, f"zigbee2mqtt/{device}", mark)["system_mode"] == "heat"


def test_danfoss_publishes_no_state_after_a_setpoint_and_ignores_get(sim: Simulator, probe: MqttProbe) -> None:
    # zhc danfoss.ts danfossSetpointConverter returns nothing; the sleeping valve does not answer reads
    probe.subscribe("zigbee2mqtt/danfoss-trv")
    mark = probe.mark()
    probe.publish("zigbee2mqtt/danfoss-trv/set", {"occupied_heating_setpoint": 22.5})
    probe.publish("zigbee2mqtt/danfoss-trv/get", {"occupied_heating_setpoint": ""})
    sim.wait_for("danfoss", "danfoss-trv", lambda s: s["errors"] == 1 and s["target"] == 22.5)
    sim.report_now("danfoss", "danfoss-trv")  # its next periodic report
    # a later message of the same simulator client: once it is here, everything before it is too
    probe.subscribe("zigbee2mqtt/hue-bulb")
    probe.publish("zigbee2mqtt/hue-bulb/set", {"state": "ON"})
    probe.wait_json("zigbee2mqtt/hue-bulb", since=mark)
    state = only_message(probe, "zigbee2mqtt/danfoss-trv", mark)
    assert state["occupied_heating_setpoint"] == 22.5 and state["system_mode"] == "heat"
    assert "timed out" in sim.device("danfoss", "danfoss-trv")["last_error"]


def test_danfoss_reports_at_its_own_interval(start_sim: Callable[..., Simulator], probe: MqttProbe) -> None:
    options = {**PROFILED, "danfoss-trv": {"profile": "danfoss-ally", "report_interval": 0.5}}
    start_sim(options=options)
    probe.subscribe("zigbee2mqtt/danfoss-trv")
    probe.publish("zigbee2mqtt/danfoss-trv/set", {"occupied_heating_setpoint": 23})
    state = probe.wait_json("zigbee2mqtt/danfoss-trv", lambda s: s["occupied_heating_setpoint"] == 23)
    assert state["running_state"] in ("heat", "idle")


@pytest.mark.parametrize(
    ("room", "device", "setting", "schedule"),
    [
        ("tuya", "tuya-trv", "preset", "schedule"),
        ("danfoss", "danfoss-trv", "programming_operation_mode", "schedule"),
        ("bosch", "bosch-trv", "operating_mode", "schedule"),
    ],
)
def test_a_valve_in_schedule_mode_moves_its_setpoint_at_the_next_step(
    sim: Simulator, probe: MqttProbe, room: str, device: str, setting: str, schedule: str
) -> None:
    key = "current_heating_setpoint" if device == "tuya-trv" else "occupied_heating_setpoint"
    probe.publish(f"zigbee2mqtt/{device}/set", {setting: schedule, key: 22})
    sim.wait_for(room, device, lambda s: s["scheduled"] and s["target"] == 22)
    sim.schedule_step(room, device)
    assert sim.wait_for(room, device, lambda s: s["target"] != 22)["target"] == 17.0
    manual = next(v for v in next(f for f in _features(device) if f["property"] == setting)["values"] if v != schedule)
    probe.publish(f"zigbee2mqtt/{device}/set", {setting: manual, key: 22})
    sim.wait_for(room, device, lambda s: not s["scheduled"] and s["target"] == 22)
    sim.schedule_step(room, device)
    assert sim.device(room, device)["target"] == 22


def test_a_setpoint_key_the_valve_does_not_have_has_no_converter(sim: Simulator, probe: MqttProbe) -> None:
    # the TS0601 exposes current_heating_setpoint only (zhc tuya.ts withSetpoint("current_heating_setpoint"))
    probe.publish("zigbee2mqtt/tuya-trv/set", {"occupied_heating_setpoint": 24})
    snap = sim.wait_for("tuya", "tuya-trv", lambda s: s["errors"] == 1)
    assert "No converter available for 'set' 'occupied_heating_setpoint'" in snap["last_error"]
    assert snap["target"] != 24


# ---- the device spec -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"ikea-bulb": {"profile": "nope"}}, "tuya/ikea-bulb: unknown simulator profile 'nope'; known: "),
        (
            {"ikea-bulb": {"profile": "tuya-ts0601"}},
            "profile tuya-ts0601 is a thermostat, but tuya/ikea-bulb is one of",
        ),
        ({"tuya-trv": {"profile": "ikea-led1545g12"}}, "profile ikea-led1545g12 is a light, but tuya/tuya-trv is the"),
        ({"ikea-bulb": {"profile": "tasmota-plug"}}, "profile tasmota-plug is a tasmota device, but tuya/ikea-bulb"),
        ({"ikea-bulb": {"profile": "ikea-led1545g12", "colour": 1}}, "unknown zigbee2mqtt simulator option 'colour'"),
    ],
)
def test_a_bad_profile_is_one_clear_error(config: Config, options: dict[str, Any], said: str) -> None:
    with pytest.raises(ValueError, match="^" + said.replace("(", r"\(").replace("[", r"\[")):
        Simulator(config, options=options)


def _features(device: str) -> list[Any]:
    model = PROFILES[PROFILED[device]["profile"]].model
    return list(walk(zigbee2mqtt_definitions()[str(model)]["exposes"]))


# ---- Tasmota ---------------------------------------------------------------------------------

TASMOTA: dict[str, Any] = {
    "lights": [
        {"bridge": "tasmota", "device": "ct-bulb", "role": "lamp"},
        {"bridge": "tasmota", "device": "relay", "role": "warmer"},
    ]
}
TASMOTA_PROFILES = {
    "ct-bulb": {"profile": "tasmota-ct-bulb", "mac": "DC4F22ABCDEF"},
    "relay": {"profile": "tasmota-plug", "mac": "DC4F22123456"},
}


@pytest.fixture
def tasmota(broker: Mosquitto, start_sim: Callable[..., Simulator]) -> Simulator:
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": {"tas": TASMOTA}})
    return start_sim(config=config, options=TASMOTA_PROFILES, initial={"ct-bulb": {"on": True, "brightness": 100}})


def results(probe: MqttProbe, topic: str, count: int, since: int) -> list[Any]:
    return [m.json() for m in probe.wait_count(topic, count, since=since)]


def test_tasmota_speed2_fades_by_itself_once(tasmota: Simulator, probe: MqttProbe) -> None:
    # xdrv_04_light.ino CmndSpeed (index 2): fade_once_enabled = true, fade_once_value = (payload > 0)
    probe.subscribe("stat/ct-bulb/RESULT")
    mark = probe.mark()
    probe.publish("cmnd/ct-bulb/Backlog", "Speed2 20; Dimmer 50")
    assert results(probe, "stat/ct-bulb/RESULT", 2, mark)[0] == {"Speed2": 20}
    snap = tasmota.wait_for("tas", "ct-bulb", lambda s: s["commands"] == 1)  # a Backlog is one command
    assert snap["fading"] and snap["brightness"] > 55  # Fade is OFF, yet it fades
    probe.publish("cmnd/ct-bulb/Dimmer", "100")  # Speed2 was used up: the next change jumps
    snap = tasmota.wait_for("tas", "ct-bulb", lambda s: s["commands"] == 2)
    assert not snap["fading"] and snap["brightness"] == 100


def test_tasmota_speed2_0_does_not_fade_even_with_fade_on(tasmota: Simulator, probe: MqttProbe) -> None:
    probe.publish("cmnd/ct-bulb/Backlog", "Fade 1; Speed 20; Speed2 0; Dimmer 20")
    snap = tasmota.wait_for("tas", "ct-bulb", lambda s: s["commands"] == 1)
    assert not snap["fading"] and snap["brightness"] == 20


def test_tasmota_fade_time_is_the_gamma_reversed_channel_distance() -> None:
    # LightApplyFade: duration = distance * Speed * 500 ms / 1023 + 1 ms, distance the largest change of
    # fadeGammaReverse(channel); calcGammaBulbs gamma-corrects the white sum (gamma_table), the fade undoes it
    # with gamma_table_fast. Dimmer 100 -> 50 all cold: 1023 -> 511.5 -> gamma 155.98 -> reversed 311.96.
    full, half = LightView(True, 100.0, 6536.0), LightView(True, 50.0, 6536.0)
    assert fade_seconds(10, full, half) == pytest.approx(((1023 - 311.96) * 10 * 500 / 1023 + 1) / 1000, abs=1e-3)
    assert fade_seconds(10, full, half) > 10 * 0.5 * 0.5  # more than a linear 50 % of the way
    assert fade_seconds(10, LightView(False, 100.0, 6536.0), full) == pytest.approx(5.001)  # 0 -> 100 %: N × 0.5 s


def test_tasmota_relay_has_no_light_commands(tasmota: Simulator, probe: MqttProbe) -> None:
    # Xdrv04 decodes light commands only if (TasmotaGlobal.light_type): on a relay they are unknown
    probe.subscribe("stat/relay/RESULT")
    mark = probe.mark()
    probe.publish("cmnd/relay/Backlog", "Speed2 10; Dimmer 30; CT 370; Power ON")
    replies = results(probe, "stat/relay/RESULT", 4, mark)
    assert replies == [{"Command": "Unknown"}] * 3 + [{"POWER": "ON"}]
    assert tasmota.device("tas", "relay")["on"] is True


def test_tasmota_discovery_config(tasmota: Simulator, probe: MqttProbe) -> None:
    # xdrv_12_discovery.ino TasDiscoverMessage, retained on tasmota/discovery/<NetworkUniqueId>/config
    probe.subscribe("tasmota/discovery/+/config")
    bulb = probe.wait_json("tasmota/discovery/DC4F22ABCDEF/config")
    plug = probe.wait_json("tasmota/discovery/DC4F22123456/config")
    assert all(m.retain for m in probe.messages("tasmota/discovery/+/config"))
    assert (bulb["t"], bulb["ft"], bulb["tp"], bulb["lt_st"], bulb["rl"][0]) == (
        "ct-bulb",
        "%prefix%/%topic%/",
        ["cmnd", "stat", "tele"],
        2,
        2,
    )
    assert (plug["t"], plug["lt_st"], plug["rl"][0], plug["mac"]) == ("relay", 0, 1, "DC4F22123456")
    assert (bulb["ofln"], bulb["onln"], bulb["state"], bulb["ver"]) == (
        "Offline",
        "Online",
        ["OFF", "ON", "TOGGLE", "HOLD"],
        1,
    )
    assert list(bulb)[:5] == ["ip", "dn", "fn", "hn", "mac"] and bulb["fn"][0] and bulb["fn"][1] is None


# ---- the devices file, the program and the demo ----------------------------------------------


def test_python_m_simulator_takes_a_devices_file_and_zigbee2mqtts_will_says_offline(
    tmp_path: Path, broker: Mosquitto, probe: MqttProbe
) -> None:
    config, devices = tmp_path / "ambience.yaml", tmp_path / "simulator.yaml"
    config.write_text(
        f"mqtt: {{url: '{broker.url}'}}\nrooms:\n  r:\n    lights: [{{bridge: zigbee2mqtt, device: b}}]\n"
    )
    devices.write_text("devices:\n  r/b: {profile: ikea-led1545g12, initial: {on: true}}\n")
    probe.subscribe("zigbee2mqtt/bridge/state", "ambience-sim/r/b/state")
    process = subprocess.Popen(
        [sys.executable, "-m", "ambience.simulator", "--config", str(config), "--devices", str(devices)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=without_ambience(),
    )  # fmt: skip
    try:
        probe.wait_json("zigbee2mqtt/bridge/state", lambda s: s == {"state": "online"}, timeout=10)
        snap = probe.wait_json("ambience-sim/r/b/state", lambda s: s.get("profile") == "ikea-led1545g12", timeout=10)
        assert snap["on"] is True
        mark = probe.mark()
        process.kill()  # no goodbye: the broker publishes the bridge client's Last Will (z2m lib/mqtt.ts)
        process.wait()
        assert probe.wait_json("zigbee2mqtt/bridge/state", since=mark, timeout=10) == {"state": "offline"}
    finally:
        process.kill()
        process.wait()


def test_device_specs_split_a_devices_file(tmp_path: Path) -> None:
    file = tmp_path / "sim.yaml"
    file.write_text(
        "devices:\n  r/trv: {profile: danfoss-ally, report_interval: 60, initial: {target: 19}, faults: {mute: true}}\n"
    )
    assert device_specs(file) == {
        "options": {"r/trv": {"profile": "danfoss-ally", "report_interval": 60}},
        "initial": {"r/trv": {"target": 19}},
        "faults": {"r/trv": {"mute": True}},
    }


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rooms: {}\n", "write a 'devices:' mapping"),
        ("devices: [a]\n", "write a 'devices:' mapping"),
        ("devices: {r/b: ikea}\n", "devices.r/b is 'ikea'; write a mapping"),
        ("devices: {r/b: {profile: x\n", "(the simulator devices file)"),
    ],
)
def test_a_bad_devices_file_is_one_line_naming_it(tmp_path: Path, text: str, said: str) -> None:
    file = tmp_path / "sim.yaml"
    file.write_text(text)
    with pytest.raises(ValueError, match=f"^{file}: ") as caught:
        device_specs(file)
    assert said in str(caught.value)


def test_the_demo_runs_real_profiles(tmp_path: Path) -> None:
    text = DEMO_CONFIG.format(mqtt_port=1883, http_port=8765)
    file = tmp_path / "simulator.yaml"
    file.write_text(DEMO_DEVICES)
    sim = Simulator(parse_config(text, "demo config", tmp_path), **device_specs(file))
    profiles = {key: sim.device(*key).get("profile") for key in sim.devices()}
    assert profiles[("studio", "studio-trv")] == "bosch-bth-ra"
    assert profiles[("studio", "studio-ceiling")] == "hue-white-ambiance"
    assert profiles[("studio", "studio-lamp")] == "tasmota-ct-bulb"
    assert profiles[("studio", "studio-warmer")] == "tasmota-energy-plug"
    assert profiles[("studio", "studio-sensor")] == "aqara-wsdcgq11lm"
    assert profiles[("visit", "visit-heater")] == "shelly-plus-plug"
    assert profiles[("visit", "visit-sensor")] == "sonoff-snzb-02"
    assert sim.device("visit", "visit-heater")["kind"] == "switch"  # a plug, with its firmware's timer
