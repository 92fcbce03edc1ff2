"""The simulated plugs and sensors of Zigbee2MQTT, ESPHome, Home Assistant and generic devices, held to the
real converters' and firmwares' behaviour (cited per test): when a device-side timer is armed, re-armed and
cleared, what the device publishes when it runs out, and what a sensor reports. Pure: the devices are driven
with messages and a clock of our own, no broker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ambience.config.devices import EsphomeDevice, GenericDevice, HomeAssistantDevice, Zigbee2MqttDevice
from ambience.devices.esphome import EsphomeAdapter
from ambience.devices.homeassistant import HomeAssistantAdapter
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter, z2m_capabilities
from ambience.model.state import Switch
from ambience.simulator.base import Publish
from ambience.simulator.esphome import EsphomeSim
from ambience.simulator.generic import GenericSim
from ambience.simulator.homeassistant import HomeAssistantSim
from ambience.simulator.profiles import get
from ambience.simulator.z2m_profiles import Z2mSensor, Z2mSwitch
from ambience.simulator.zigbee2mqtt import Zigbee2MqttSim

pytestmark = pytest.mark.unit

TOPIC = "zigbee2mqtt/warmer"


def z2m_plug(profile: str, **options: Any) -> Z2mSwitch:
    config = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer")
    return Z2mSwitch("room", config, "switch", initial={"load": 60}, options=options, profile=get(profile))


def send(dev: Any, topic: str, payload: Any, now: float) -> list[Publish]:
    return dev.receive(topic, (payload if isinstance(payload, str) else json.dumps(payload)).encode(), now)


def states(out: list[Publish]) -> list[dict[str, Any]]:
    return [json.loads(p.payload) for p in out if p.topic == TOPIC]


# ---- Zigbee2MQTT: the Tuya TS011F's countdown -----------------------------------------------------


def test_a_tuya_countdown_switches_the_plug_off_by_itself_and_it_reports_off():
    # lib/tuya.ts tz.on_off_countdown (26.112.0 dist/lib/tuya.js:2641-2693): on, then onWithTimedOff(countdown);
    # returns {state, countdown}. The countdown toggles the plug; fz.on_off + fz.on_off_countdown report it
    plug = z2m_plug("tuya-ts011f-plug")
    out = send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 2}, 0.0)
    assert states(out)[0] == {"state": "ON", "countdown": 2}
    assert plug.switch is not None and plug.switch.on and plug.deadline == 2.0
    assert plug.update(1.9, step=True) == []
    gone = plug.update(2.0, step=True)
    assert states(gone) == [{"state": "OFF", "countdown": 0, "power": 0.0}]
    assert plug.snapshot(2.0)["timed_offs"] == 1 and plug.switch.on is False


def test_a_tuya_countdown_is_restarted_by_every_on_with_a_countdown():
    # "The order of the commands matters because 'on/off/toggle' cancels 'onWithTimedOff'": the state
    # command cancels the running one, the new onWithTimedOff starts the full countdown again
    plug = z2m_plug("tuya-ts011f-plug")
    send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 2}, 0.0)
    send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 2}, 1.5)
    assert plug.update(2.5, step=True) == [] and plug.switch is not None and plug.switch.on
    assert states(plug.update(3.5, step=True))[0]["state"] == "OFF"


def test_a_tuya_plug_switched_on_without_a_countdown_cancels_it():
    plug = z2m_plug("tuya-ts011f-plug")
    send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 2}, 0.0)
    (state,) = states(send(plug, f"{TOPIC}/set", {"state": "ON"}, 1.0))
    assert (state["state"], state["countdown"]) == ("ON", 0)  # result.countdown = 0: dist/lib/tuya.js:2673
    assert plug.deadline is None and plug.update(5.0, step=True) == []


def test_a_tuya_countdown_that_is_not_a_whole_number_of_seconds_is_refused():
    # "countdown must be an integer between 1 and 43200 (12 hours) or 0 to cancel" (Number.isInteger)
    plug = z2m_plug("tuya-ts011f-plug")
    assert send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 2.5}, 0.0) == []
    assert plug.switch is not None and not plug.switch.on
    assert "countdown must be an integer" in str(plug.snapshot(0.0)["last_error"])


def test_a_running_tuya_countdown_reports_its_on_time_at_every_minute():
    # fz.on_off_countdown: "While a countdown is in progress, the device will report onTime at all multiples of 60"
    plug = z2m_plug("tuya-ts011f-plug")
    send(plug, f"{TOPIC}/set", {"state": "ON", "countdown": 150}, 0.0)
    assert plug.update(1.0, step=True) == []
    assert states(plug.update(31.0, step=True))[0]["countdown"] == 120
    assert plug.update(32.0, step=True) == []


def test_the_tuya_plug_takes_what_the_adapter_sends_and_the_adapter_reads_what_it_reports():
    plug = z2m_plug("tuya-ts011f-plug")
    adapter = Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer"), "switch")
    adapter.learn(z2m_capabilities(plug.definition))
    (command,) = adapter.switch(Switch(True, 2.0))
    out = plug.receive(command.topic, command.payload.encode(), 0.0)
    assert [r for p in out for r in adapter.decode(p.topic, p.payload.encode())][0].on is True
    assert plug.snapshot(0.0)["errors"] == 0
    (off,) = plug.update(2.0, step=True)
    assert adapter.decode(off.topic, off.payload.encode())[0].on is False


# ---- Zigbee2MQTT: on_time on a genOnOff plug (IKEA outlet) ----------------------------------------


def test_on_time_is_refused_by_a_plug_without_onwithtimedoff_and_it_stays_off():
    # converters/toZigbee.ts on_off sends onWithTimedOff *instead of* on; connectedhomeip on-off-server.cpp
    # OnWithTimedOffCommand answers UnsupportedCommand without the Lighting feature: Z2M logs the failure
    plug = z2m_plug("ikea-outlet")
    assert send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 2}, 0.0) == []
    assert plug.switch is not None and not plug.switch.on
    assert "UNSUPPORTED_COMMAND" in str(plug.snapshot(0.0)["last_error"])


def test_on_time_arms_a_plug_that_has_onwithtimedoff_and_its_onoff_report_confirms():
    # on_off returns no state for onWithTimedOff: what Z2M publishes is the plug's own onOff report
    plug = z2m_plug("ikea-outlet", on_with_timed_off=True)
    assert states(send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 2}, 0.0)) == [{"state": "ON"}]
    assert plug.deadline == 2.0
    assert states(plug.update(2.0, step=True)) == [{"state": "OFF"}]


def test_on_time_keeps_the_longer_of_the_running_and_the_new_time():
    # OnWithTimedOffCommand: newOnTime = currentOnTime > onTime ? currentOnTime : onTime
    plug = z2m_plug("ikea-outlet", on_with_timed_off=True)
    send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 10}, 0.0)
    assert send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 2}, 1.0) == []  # still on: no onOff report
    assert plug.deadline == 10.0
    send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 10}, 5.0)
    assert plug.deadline == 15.0


def test_a_plain_on_leaves_a_running_timer_and_off_clears_it():
    plug = z2m_plug("ikea-outlet", on_with_timed_off=True)
    send(plug, f"{TOPIC}/set", {"state": "ON", "on_time": 5}, 0.0)
    send(plug, f"{TOPIC}/set", {"state": "ON"}, 1.0)
    assert plug.deadline == 5.0
    send(plug, f"{TOPIC}/set", {"state": "OFF"}, 2.0)
    assert plug.deadline is None and plug.update(6.0, step=True) == []


def test_a_plug_listed_with_the_lights_still_switches_as_a_light():
    config = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer")
    plug = Z2mSwitch("room", config, "light", profile=get("ikea-outlet"))
    assert states(send(plug, f"{TOPIC}/set", {"state": "ON"}, 0.0)) == [{"state": "ON"}]
    assert plug.snapshot(0.0)["on"] is True


# ---- Zigbee2MQTT: sensors ---------------------------------------------------------------------------


def test_a_z2m_sensor_reports_when_its_reading_changes_and_is_never_answered():
    config = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer")
    sensor = Z2mSensor("room", config, "sensor", initial={"temperature": 19.0}, profile=get("aqara-wsdcgq11lm"))
    first = states(sensor.report(0.0))[0]
    assert first["temperature"] == 19.0 and {"humidity", "battery", "pressure"} <= set(first)
    assert sensor.update(1.0, step=True) == []
    assert sensor.sensor is not None
    sensor.sensor.temperature = 19.26
    assert states(sensor.update(2.0, step=True))[0]["temperature"] == 19.26
    assert send(sensor, f"{TOPIC}/get", {"temperature": ""}, 3.0) == []  # WSDCGQ11LM: toZigbee [], no convertGet
    assert sensor.snapshot(3.0)["errors"] == 1


def test_the_z2m_convention_sim_has_plugs_and_sensors():
    config = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer")
    plug = Zigbee2MqttSim("room", config, "switch", initial={"load": 1500})
    assert states(send(plug, f"{TOPIC}/set", {"state": "ON"}, 0.0)) == [{"state": "ON", "power": 1500.0}]
    sensor = Zigbee2MqttSim("room", config, "sensor", initial={"temperature": 21.0})
    assert [s for s in states(sensor.report(0.0))] == [{"temperature": 21.0, "humidity": 45.0}]


# ---- ESPHome, Home Assistant, generic -------------------------------------------------------------


def test_an_esphome_switch_and_a_fahrenheit_sensor_against_the_adapter():
    node = EsphomeDevice(bridge="esphome", device="node", object_id="warmer")
    sim = EsphomeSim("room", node, "switch")
    adapter = EsphomeAdapter(node, "switch")
    (command,) = adapter.switch(Switch(True))
    (state,) = sim.receive(command.topic, command.payload.encode(), 0.0)
    assert (state.topic, state.payload, state.retain) == ("node/switch/warmer/state", "ON", True)
    assert sim.receive(command.topic, b"toggle", 1.0)[0].payload == "OFF"  # parse_on_off is case-insensitive
    assert sim.update(1e6, step=True) == []  # no timer

    probe = EsphomeDevice(bridge="esphome", device="node", object_id="temp")
    sensor = EsphomeSim("room", probe, "sensor", initial={"temperature": 22.0}, options={"unit": "°F"})
    reader = EsphomeAdapter(probe, "sensor")
    for p in sensor.announce(0.0):
        caps = reader.decode_announcement(p.topic, p.payload.encode())
        if caps is not None:
            reader.learn(caps)
        reports = reader.decode(p.topic, p.payload.encode())
    assert reader.capabilities.temperature_unit == "°F"
    assert reports[0].temperature == pytest.approx(22.0, abs=0.05)


def test_an_ha_switch_and_sensor_against_the_adapter():
    device = HomeAssistantDevice(
        bridge="homeassistant", device="w", command_topic="w/set", state_topic="w/state",
        payload_on="1", payload_off="0", state_on="on", state_off="off", state_path="relay", power_path="w",
    )  # fmt: skip
    sim = HomeAssistantSim("room", device, "switch", initial={"load": 40})
    adapter = HomeAssistantAdapter(device, "switch")
    (command,) = adapter.switch(Switch(True))
    (state,) = sim.receive(command.topic, command.payload.encode(), 0.0)
    assert adapter.decode(state.topic, state.payload.encode())[0].power == 40.0
    temp = HomeAssistantDevice(bridge="homeassistant", device="t", state_topic="t/state", temperature_path="t")
    sensor = HomeAssistantSim("room", temp, "sensor", initial={"temperature": 23.5})
    (p,) = sensor.report(0.0)
    assert HomeAssistantAdapter(temp, "sensor").decode(p.topic, p.payload.encode())[0].temperature == 23.5


def test_a_generic_switch_with_auto_off_runs_its_timer_and_re_arms_it():
    device = GenericDevice(
        bridge="generic", device="w", command_topic="w/set", payload='{"state":"{STATE}","pulse":{auto_off}}',
        auto_off_max=600, state_topic="w/state", values={"state": "state"},
    )  # fmt: skip
    sim = GenericSim("room", device, "switch")
    send(sim, "w/set", '{"state":"ON","pulse":2}', 0.0)
    send(sim, "w/set", '{"state":"ON","pulse":2}', 1.5)
    assert sim.update(2.5, step=True) == []
    (off,) = sim.update(3.5, step=True)
    assert json.loads(off.payload)["state"] == "OFF"
    sensor = GenericSim(
        "room",
        GenericDevice(
            bridge="generic", device="t", command_topic="t/x", state_topic="t/s", values={"temperature": "a.t"}
        ),
        "sensor",
        initial={"temperature": 20.0},
    )
    assert json.loads(sensor.report(0.0)[0].payload) == {"a": {"t": 20.0}}
