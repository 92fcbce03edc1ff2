"""Switches and sensors on Zigbee2MQTT, ESPHome, Home Assistant and generic devices: what each adapter sends
and reads, held to the bridges' own source (each test cites it), and what a Z2M definition's exposes say
of a plug's own auto-off timer. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ambience.config.devices import EsphomeDevice, GenericDevice, HomeAssistantDevice, Zigbee2MqttDevice
from ambience.devices.base import Dropped, Message, SensorReport, SwitchReport
from ambience.devices.esphome import EsphomeAdapter
from ambience.devices.generic import GenericAdapter
from ambience.devices.homeassistant import HomeAssistantAdapter
from ambience.devices.reconciler import Tracked
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter, z2m_bridge_devices, z2m_capabilities
from ambience.errors import DeviceError
from ambience.model.state import Switch
from ambience.simulator.profiles import zigbee2mqtt_definitions

pytestmark = pytest.mark.unit

ON, OFF, ON_2M = Switch(True), Switch(False), Switch(True, 120.0)


def payloads(messages: list[Message]) -> list[tuple[str, Any]]:
    out = []
    for m in messages:
        try:
            out.append((m.topic, json.loads(m.payload)))
        except ValueError:
            out.append((m.topic, m.payload))
    return out


def z2m(kind: str = "switch", model: str | None = None, **config: Any) -> Zigbee2MqttAdapter:
    adapter = Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="warmer", **config), kind)
    if model is not None:
        adapter.learn(z2m_capabilities(zigbee2mqtt_definitions()[model]))
    return adapter


# ---- Zigbee2MQTT: what the exposes say -----------------------------------------------------------


def test_a_tuya_plug_announces_its_countdown_as_its_own_auto_off_timer():
    # zhc lib/tuya.ts tuyaExposes.countdown: numeric, STATE_SET, 0–43200, unit s (dist/lib/tuya.js:312-318),
    # exposed by tuyaModernExtend.tuyaOnOff({onOffCountdown}) for TS011F_plug_1 (:4145-4159)
    caps = z2m_capabilities(zigbee2mqtt_definitions()["TS011F_plug_1"])
    assert caps.kind == "switch"
    assert (caps.timer, caps.auto_off, caps.timer_unit) == ("countdown", (1.0, 43200.0), 1.0)
    assert caps.power is True  # its "power" expose, W


def test_an_ikea_outlet_announces_no_timer():
    # E160x/E170x/E190x: toZigbee on_off only; its exposes have no countdown (on_time is not announced)
    caps = z2m_capabilities(zigbee2mqtt_definitions()["E160x/E170x/E190x"])
    assert caps.kind == "switch" and caps.timer is None and caps.auto_off is None and caps.power is False


STATE = {"type": "switch", "features": [{"name": "state", "property": "state", "access": 7, "type": "binary"}]}


def plug_with_countdown(unit: str, lo: float, hi: float) -> dict[str, Any]:
    countdown = {
        "property": "countdown",
        "type": "numeric",
        "access": 3,
        "unit": unit,
        "value_min": lo,
        "value_max": hi,
    }
    return {"exposes": [STATE, countdown]}


@pytest.mark.parametrize(
    ("unit", "lo", "hi", "expected"),
    [("s", 0, 86400, (1.0, 86400.0)), ("min", 1, 240, (60.0, 14400.0)), ("seconds", 0, 7210, (1.0, 7210.0))],
)
def test_a_countdown_in_seconds_or_minutes_gives_its_range_in_seconds(unit, lo, hi, expected):
    # units as zhc writes them: tuya.exposes.countdown "s", countdown_min "min" (lib/tuya.ts:319-325),
    # AVATTO "seconds" (devices/avatto.ts)
    assert z2m_capabilities(plug_with_countdown(unit, lo, hi)).auto_off == expected


def test_a_countdown_that_cannot_be_set_or_belongs_to_one_gang_is_no_timer():
    state = STATE
    read_only = {"property": "countdown", "type": "numeric", "access": 1, "unit": "s", "value_min": 0, "value_max": 60}
    gang = {"property": "countdown_l1", "type": "numeric", "access": 3, "unit": "s", "value_min": 0, "value_max": 60}
    assert z2m_capabilities({"exposes": [state, read_only]}).timer is None
    assert z2m_capabilities({"exposes": [state, gang]}).timer is None


@pytest.mark.parametrize("model", ["WSDCGQ11LM", "SNZB-02"])
def test_a_temperature_sensor_is_a_sleeping_sensor(model):
    # devices/lumi WSDCGQ11LM exposes battery, temperature, humidity, pressure (toZigbee []); SONOFF SNZB-02 alike
    caps = z2m_bridge_devices(
        json.dumps(
            [{"friendly_name": "s", "power_source": "Battery", "definition": zigbee2mqtt_definitions()[model]}]
        ).encode()
    )
    assert caps is not None
    assert (caps["s"].kind, caps["s"].battery, caps["s"].temperature_unit) == ("sensor", True, "°C")
    assert caps["s"].readable == frozenset()  # nothing has the GET bit: no /get


# ---- Zigbee2MQTT: what is sent --------------------------------------------------------------------


def test_a_tuya_plug_is_switched_on_with_its_countdown_every_time():
    # lib/tuya.ts tz.on_off_countdown (dist/lib/tuya.js:2641-2693): state first ("on/off/toggle cancels
    # onWithTimedOff"), then onWithTimedOff with ontime = countdown in whole seconds: a re-arm restarts it
    a = z2m(model="TS011F_plug_1")
    assert a.auto_off_range() == (1.0, 43200.0)
    assert payloads(a.switch(ON_2M)) == [("zigbee2mqtt/warmer/set", {"state": "ON", "countdown": 120})]
    assert a.switch(ON_2M) == a.switch(ON_2M)  # the same command re-arms
    assert payloads(a.switch(OFF)) == [("zigbee2mqtt/warmer/set", {"state": "OFF"})]
    assert payloads(a.switch(ON)) == [("zigbee2mqtt/warmer/set", {"state": "ON"})]


def test_a_countdown_is_a_whole_number_within_its_range_never_longer_than_asked():
    # tuya.ts: "countdown must be an integer between 1 and 43200" (Number.isInteger): 2.7 s is sent as 2
    a = z2m(model="TS011F_plug_1")
    assert json.loads(a.switch(Switch(True, 2.7))[0].payload)["countdown"] == 2
    assert json.loads(a.switch(Switch(True, 0.2))[0].payload)["countdown"] == 1
    assert json.loads(a.switch(Switch(True, 99_999.0))[0].payload)["countdown"] == 43200


def test_a_countdown_in_minutes_is_sent_in_minutes():
    a = z2m()
    a.learn(z2m_capabilities(plug_with_countdown("min", 1, 240)))
    assert a.auto_off_range() == (60.0, 14400.0)
    assert json.loads(a.switch(Switch(True, 150.0))[0].payload) == {"state": "ON", "countdown": 2}


def test_a_genonoff_plug_relies_on_ambience_unless_the_installer_vouches_for_on_time():
    # converters/toZigbee.ts on_off (:28-59 @013e17f): on with on_time is onWithTimedOff instead of on, ontime
    # Math.round(on_time * 10) tenths; a plug without the command refuses it and stays off, so not unasked
    plain = z2m(model="E160x/E170x/E190x")
    assert plain.auto_off_range() is None
    assert payloads(plain.switch(ON_2M)) == [("zigbee2mqtt/warmer/set", {"state": "ON"})]
    assert any("no device-side auto-off" in line for line in plain.will_send())
    vouched = z2m(model="E160x/E170x/E190x", on_time=True)
    assert vouched.auto_off_range() == (1.0, 6553.0)  # uint16 tenths, 0xFFFE at most (devices/ewelink.ts)
    assert payloads(vouched.switch(Switch(True, 90.25))) == [
        ("zigbee2mqtt/warmer/set", {"state": "ON", "on_time": 90.2})
    ]
    assert payloads(vouched.switch(OFF)) == [("zigbee2mqtt/warmer/set", {"state": "OFF"})]
    assert any("not verified" in line for line in vouched.will_send())


def test_an_announced_countdown_wins_over_on_time():
    # TS011F: tuyaOnOff puts on_off_countdown *instead of* on_off: on_time has no converter there
    a = z2m(model="TS011F_plug_1", on_time=True)
    assert "countdown" in json.loads(a.switch(ON_2M)[0].payload)


def test_a_switch_reads_state_and_power_and_asks_only_state():
    a = z2m(model="TS011F_plug_1")
    assert a.decode("zigbee2mqtt/warmer", b'{"state":"ON","power":61.5,"countdown":120,"energy":1.2}') == [
        SwitchReport(True, 61.5)
    ]
    assert a.decode("zigbee2mqtt/warmer", b'{"state":"OFF","countdown":0}') == [SwitchReport(False, None)]
    bad = a.decode("zigbee2mqtt/warmer", b'{"state":"ON","power":-3}')
    assert bad[0] == SwitchReport(True, None) and isinstance(bad[1], Dropped) and bad[1].field == "power"
    assert a.decode("zigbee2mqtt/warmer", b'{"power":5}') == []  # no state: says nothing
    assert payloads(a.query()) == [("zigbee2mqtt/warmer/get", {"state": ""})]  # on_off_countdown convertGet


def test_a_sensor_reads_temperature_and_humidity_and_is_never_asked():
    a = z2m("sensor", model="WSDCGQ11LM")
    got = a.decode("zigbee2mqtt/warmer", b'{"temperature":21.37,"humidity":40.2,"battery":91,"pressure":1003}')
    assert got == [SensorReport(21.37, 40.2)]
    assert a.decode("zigbee2mqtt/warmer", b'{"battery":90}') == []
    assert isinstance(a.decode("zigbee2mqtt/warmer", b'{"temperature":150}')[0], Dropped)
    assert a.query() == []
    with pytest.raises(ValueError):
        a.switch(ON)


# ---- ESPHome --------------------------------------------------------------------------------------


def esphome(kind: str, object_id: str = "warmer") -> EsphomeAdapter:
    return EsphomeAdapter(EsphomeDevice(bridge="esphome", device="node", object_id=object_id), kind)


def test_an_esphome_switch_is_on_off_on_its_command_topic_and_has_no_timer():
    # esphome/components/mqtt/mqtt_switch.cpp @0b6826d: setup() :18-36 subscribes the command topic and
    # parse_on_off()s it; publish_state() :55-58 publishes "ON"/"OFF" on the state topic; component "switch"
    a = esphome("switch")
    assert a.subscriptions() == ["node/switch/warmer/state", "node/status"]
    assert payloads(a.switch(ON_2M)) == [("node/switch/warmer/command", "ON")]
    assert payloads(a.switch(OFF)) == [("node/switch/warmer/command", "OFF")]
    assert a.auto_off_range() is None  # no standard device-side timer: relies on ambience
    assert a.decode("node/switch/warmer/state", b"OFF") == [SwitchReport(False)]
    assert a.announcement_topics == ["homeassistant/switch/+/warmer/config"]
    caps = a.decode_announcement(
        "homeassistant/switch/node/warmer/config", b'{"cmd_t":"node/switch/warmer/command","stat_t":"x"}'
    )
    assert caps is not None and caps.kind == "switch"


def test_an_esphome_sensor_takes_its_unit_from_its_discovery_config():
    # mqtt_sensor.cpp send_discovery: unit_of_measurement (abbreviated unit_of_meas), device_class;
    # publish_state: value_accuracy_to_string, or "None" for NaN with publish_nan_as_none
    a = esphome("sensor", "room_temperature")
    assert a.subscriptions() == ["node/sensor/room_temperature/state", "node/status"]
    assert a.decode("node/sensor/room_temperature/state", b"21.4") == [SensorReport(21.4)]
    config = b'{"stat_t":"node/sensor/room_temperature/state","unit_of_meas":"\xc2\xb0F","dev_cla":"temperature"}'
    caps = a.decode_announcement("homeassistant/sensor/node/room_temperature/config", config)
    assert caps is not None and caps.temperature_unit == "°F"
    a.learn(caps)
    assert a.decode("node/sensor/room_temperature/state", b"71.6") == [SensorReport(22.0)]
    assert a.decode("node/sensor/room_temperature/state", b"None") == []
    assert a.decode("node/sensor/room_temperature/state", b"nan") == []


def test_an_esphome_humidity_sensor_is_read_as_humidity():
    a = esphome("sensor", "hum")
    caps = a.decode_announcement(
        "homeassistant/sensor/node/hum/config", b'{"stat_t":"node/sensor/hum/state","unit_of_meas":"%"}'
    )
    assert caps is not None
    a.learn(caps)
    assert a.decode("node/sensor/hum/state", b"44") == [SensorReport(None, 44.0)]


# ---- Home Assistant ------------------------------------------------------------------------------


def ha(kind: str, **config: Any) -> HomeAssistantAdapter:
    return HomeAssistantAdapter(HomeAssistantDevice(bridge="homeassistant", device="warmer", **config), kind)


def test_an_ha_switch_sends_payload_on_off_and_reads_state_on_off_defaulting_to_them():
    # homeassistant/components/mqtt/switch.py: DEFAULT_PAYLOAD_ON "ON" / _OFF "OFF"; _setup_from_config:
    # state_on if state_on else payload_on (and off); state_message_received compares the payload exactly
    a = ha("switch", command_topic="w/set", state_topic="w/state")
    assert payloads(a.switch(ON_2M)) == [("w/set", "ON")] and a.auto_off_range() is None
    assert a.decode("w/state", b"ON") == [SwitchReport(True)]
    assert isinstance(a.decode("w/state", b"on")[0], Dropped)  # HA compares exactly too: not a state
    b = ha("switch", command_topic="w/set", state_topic="w/state", payload_on="1", payload_off="0")
    assert b.switch(OFF) == [Message("w/set", "0")] and b.decode("w/state", b"1") == [SwitchReport(True)]


def test_an_ha_switch_with_a_json_state_and_power():
    a = ha(
        "switch", command_topic="w/set", state_topic="w/state", state_on="on", state_off="off",
        state_path="relay.state", power_path="meter.w",
    )  # fmt: skip
    assert a.decode("w/state", b'{"relay":{"state":"on"},"meter":{"w":800}}') == [SwitchReport(True, 800.0)]
    assert a.decode("w/state", b'{"meter":{"w":800}}') == []


def test_an_ha_sensor_reads_a_plain_or_json_temperature_in_its_unit():
    plain = ha("sensor", state_topic="s/t")
    assert plain.subscriptions() == ["s/t"] and plain.decode("s/t", b"20.5") == [SensorReport(20.5)]
    assert plain.decode("s/t", b"unknown") == []
    js = ha("sensor", state_topic="s/t", temperature_path="t", humidity_path="h", unit_of_measurement="°F")
    assert js.decode("s/t", b'{"t":68,"h":51}') == [SensorReport(20.0, 51.0)]


def test_an_ha_switch_or_sensor_without_its_topic_is_one_clear_error():
    with pytest.raises(DeviceError, match="command_topic"):
        ha("switch", state_topic="w/state")
    with pytest.raises(DeviceError, match="state_topic"):
        ha("sensor")


# ---- generic --------------------------------------------------------------------------------------


def generic(kind: str, **config: Any) -> GenericAdapter:
    return GenericAdapter(GenericDevice(bridge="generic", device="w", command_topic="w/set", **config), kind)


def test_a_generic_switch_renders_its_template_and_arms_auto_off_only_with_auto_off_max():
    timed = generic("switch", payload='{"POWER":"{STATE}","pulse":{auto_off}}', auto_off_max=600)
    assert timed.auto_off_range() == (1.0, 600.0)
    assert payloads(timed.switch(ON_2M)) == [("w/set", {"POWER": "ON", "pulse": 120})]
    assert payloads(timed.switch(Switch(True, 3600.0))) == [("w/set", {"POWER": "ON", "pulse": 600})]
    assert payloads(timed.switch(OFF)) == [("w/set", {"POWER": "OFF", "pulse": None})]
    untimed = generic("switch", payload="{state}|{on}|{auto_off}")
    assert untimed.auto_off_range() is None
    assert untimed.switch(ON_2M) == [Message("w/set", "on|true|null")]


def test_a_generic_switch_and_sensor_read_their_values():
    sw = generic("switch", payload="{STATE}", state_topic="w/st", values={"state": "relay", "power": "w"})
    assert sw.decode("w/st", b'{"relay":"ON","w":12}') == [SwitchReport(True, 12.0)]
    sensor = generic("sensor", state_topic="w/st", values={"temperature": "sht.t", "humidity": "sht.h"})
    assert sensor.decode("w/st", b'{"sht":{"t":22.25,"h":48}}') == [SensorReport(22.25, 48.0)]
    with pytest.raises(DeviceError, match="unknown key"):
        generic("sensor", values={"temprature": "t"})


def test_a_countdown_announced_after_the_plug_confirmed_on_is_armed_at_the_next_pass():
    # Z2M publishes bridge/devices when it (re)starts: a plug may be on and confirmed before its countdown is known
    adapter = z2m()
    tracked = Tracked("room", "warmer", "table_warmer", adapter, auto_off=8.0, heats=True)
    assert payloads(tracked.want(ON, 0.0)) == [("zigbee2mqtt/warmer/set", {"state": "ON"})]
    tracked.report(SwitchReport(True), 0.1)
    tracked.learn(z2m_capabilities(zigbee2mqtt_definitions()["TS011F_plug_1"]), 0.5)
    tracked.want(ON, 1.0)  # the room's next pass
    assert payloads(tracked.due(1.0)) == [("zigbee2mqtt/warmer/set", {"state": "ON", "countdown": 8})]
    assert tracked.rearm_at == pytest.approx(3.0)  # then every auto_off * REARM_EVERY
