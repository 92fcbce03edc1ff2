"""Tasmota and Shelly switches (plugs, relays) and sensors: the commands, the device-side auto-off timer,
and what their reports mean. Pure.

What each payload is, from the firmware's source or the vendor's doc (not from ambience's simulator):

Tasmota (arendst/Tasmota: support_command.ino @00012c7, support_tasmota.ino @0385204)
- ``SetPulseTimer`` (tasmota_support/support_tasmota.ino): ``time > 111 ? 1000 * (time - 100) : 100 * time`` ms:
  PulseTime 1..111 is tenths of a second, 112.. is ``value - 100`` seconds; ``CmndPulsetime``
  (support_command.ino) stores the setting and calls ``SetPulseTimer``; ``ExecuteCommandPower`` restarts
  the timer on every ``Power ON`` ("Restart PulseTime if powered On") and stops it on ``Power OFF``.
- ``MqttPublishPowerState``: ``stat/<t>/RESULT`` ``{"POWER":"ON"}`` then ``stat/<t>/POWER`` ``ON``; the
  PulseTime answer is ``{"PulseTime1":{"Set":220,"Remaining":220}}`` (``CmndPulsetime``).
- energy (xdrv_03_energy.ino ``EnergyShow``): ``tele/<t>/SENSOR`` ``{"ENERGY":{…,"Power":60,…}}``, an array
  on multi-channel meters; sensors: ``{"<driver>":{"Temperature":…,"Humidity":…},"TempUnit":"C"}`` (the
  drivers' ``ResponseAppendTHD``), ``Status 10`` answers ``stat/<t>/STATUS10`` ``{"StatusSNS":{…}}``.

Shelly (shelly-api-docs gen2 v1.0)
- ComponentsAndServices/Switch: ``Switch.Set`` ``id``, ``on`` (required), ``toggle_after`` ("Optional
  flip-back timer in seconds"); result ``was_on``; status ``output``, ``apower``, ``timer_started_at``,
  ``timer_duration``.
- ComponentsAndServices/Temperature (``tC``, ``tF``: number or null), Humidity (``rh``); Devices/Gen3/ShellyHTG3.
- General/Notifications: ``NotifyStatus`` carries only what changed.
"""

from __future__ import annotations

import json
import math

import pytest

from ambience.config.devices import ShellyDevice, TasmotaDevice
from ambience.devices.base import Dropped, Message, SensorReport, SwitchReport
from ambience.devices.kinds import KINDS
from ambience.devices.reconciler import Tracked
from ambience.devices.shelly import ShellyAdapter
from ambience.devices.tasmota import TasmotaAdapter, pulse_seconds, pulse_time, tasmota_capabilities
from ambience.model.state import Switch

pytestmark = pytest.mark.unit


# ---- Tasmota -----------------------------------------------------------------------------------


def tasmota(kind: str = "switch", topic: str = "warmer", **config) -> TasmotaAdapter:
    return TasmotaAdapter(TasmotaDevice(bridge="tasmota", device=topic, **config), kind)


def feed(a, topic: str, payload) -> list:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return a.decode(topic, raw.encode())


@pytest.mark.parametrize(
    ("seconds", "value"),
    [(0.1, 1), (2, 20), (2.04, 20), (11.1, 111), (11.9, 111), (12, 112), (120, 220), (120.9, 220), (64800, 64900)],
)
def test_pulse_time_is_tenths_up_to_11_1_s_then_value_minus_100_seconds(seconds, value):
    # SetPulseTimer: (time > 111) ? 1000 * (time - 100) ms : 100 * time ms
    assert pulse_time(seconds) == value
    assert pulse_seconds(value) <= seconds + 0.05  # never (noticeably) longer than asked: it is a dead-man timer


@pytest.mark.parametrize(("seconds", "value"), [(0.0, 1), (0.01, 1), (-5, 1), (10**6, 64900), (math.nan, 1)])
def test_pulse_time_outside_its_range_is_clamped(seconds, value):
    assert pulse_time(seconds) == value


def test_tasmota_switch_on_arms_pulsetime_before_the_relay_closes_and_the_same_backlog_re_arms():
    a = tasmota(role="table_warmer", auto_off=2)
    on = a.switch(Switch(True, 2.0))
    assert on == [Message("cmnd/warmer/Backlog", "PulseTime1 20; Power ON")]
    assert a.switch(Switch(True, 2.0)) == on  # ExecuteCommandPower: Power ON on an on relay restarts the timer
    assert a.auto_off_range() == (0.1, 64800.0)


def test_tasmota_switch_off_clears_the_pulsetime_ambience_set():
    a = tasmota(role="table_warmer")  # heat-class: ambience arms its timer (the default auto_off)
    assert a.switch(Switch(False)) == [Message("cmnd/warmer/Backlog", "Power OFF; PulseTime1 0")]


def test_tasmota_switch_without_a_timer_leaves_the_devices_own_pulsetime_alone():
    a = tasmota(role="diffuser")
    assert a.switch(Switch(True)) == [Message("cmnd/warmer/Power", "ON")]
    assert a.switch(Switch(False)) == [Message("cmnd/warmer/Power", "OFF")]


def test_tasmota_switch_on_relay_2_uses_its_index_everywhere():
    a = tasmota(role="towel_warmer", relay=2, auto_off=120)
    assert a.switch(Switch(True, 120.0)) == [Message("cmnd/warmer/Backlog", "PulseTime2 220; Power2 ON")]
    assert a.switch(Switch(False)) == [Message("cmnd/warmer/Backlog", "Power2 OFF; PulseTime2 0")]
    assert feed(a, "stat/warmer/POWER1", "ON") == []  # another relay's
    assert feed(a, "stat/warmer/RESULT", {"POWER2": "ON"}) == [SwitchReport(True, None)]


def test_tasmota_will_send_says_what_is_armed_and_when_auto_off_is_clamped():
    lines = tasmota(role="heater", auto_off=100000).will_send()
    assert any("PulseTime1 64900; Power1 ON" in line for line in lines)
    assert any("clamped to 64800 s" in line for line in lines)
    assert not any("clamped" in line for line in tasmota(role="heater", auto_off=120).will_send())


def test_tasmota_switch_reports_on_off_from_every_power_topic():
    a = tasmota()
    assert feed(a, "stat/warmer/POWER", "ON") == [SwitchReport(True, None)]
    assert feed(a, "stat/warmer/RESULT", {"POWER": "OFF"}) == [SwitchReport(False, None)]
    assert feed(a, "tele/warmer/STATE", {"Time": "x", "POWER1": "ON", "Wifi": {}}) == [SwitchReport(True, None)]
    assert feed(a, "stat/warmer/RESULT", {"PulseTime1": {"Set": 220, "Remaining": 219}}) == []
    (dropped,) = feed(a, "stat/warmer/POWER", "MAYBE")
    assert isinstance(dropped, Dropped)


def test_tasmota_energy_power_comes_with_the_on_off_the_device_last_said_never_alone():
    a = tasmota()
    sensor = {"Time": "x", "ENERGY": {"Total": 1.2, "Power": 61.5, "Voltage": 231, "Current": 0.27}}
    assert feed(a, "tele/warmer/SENSOR", sensor) == []  # nothing said of on/off yet: kept
    assert feed(a, "stat/warmer/POWER", "ON") == [SwitchReport(True, 61.5)]
    assert feed(a, "tele/warmer/SENSOR", {"ENERGY": {"Power": 60}}) == [SwitchReport(True, 60.0)]
    a.switch(Switch(False))
    assert feed(a, "tele/warmer/SENSOR", {"ENERGY": {"Power": 60}}) == []  # a command forgets what was said
    assert feed(a, "stat/warmer/POWER", "OFF") == [SwitchReport(False, 0.0)]


def test_tasmota_energy_power_a_list_per_channel_and_bad_values_dropped():
    a = tasmota(relay=2)
    feed(a, "stat/warmer/POWER2", "ON")
    assert feed(a, "tele/warmer/SENSOR", {"ENERGY": {"Power": [5, 70]}}) == [SwitchReport(True, 70.0)]
    (dropped,) = feed(a, "tele/warmer/SENSOR", {"ENERGY": {"Power": -3}})
    assert isinstance(dropped, Dropped) and "ENERGY.Power" in str(dropped)


def test_the_switch_kind_keeps_the_power_a_power_message_brought():
    a, kind = tasmota(), KINDS["switch"]
    reported = None
    feed(a, "stat/warmer/POWER", "ON")
    for report in feed(a, "tele/warmer/SENSOR", {"ENERGY": {"Power": 60}}) + feed(a, "stat/warmer/POWER", "ON"):
        reported = kind.take(reported, report)
    assert reported == SwitchReport(True, 60.0)


def test_tasmota_relay_only_discovery_is_a_switch():
    caps = tasmota_capabilities({"t": "warmer", "rl": [1, 0, 0, 0, 0, 0, 0, 0], "lt_st": 0})
    assert caps.kind == "switch" and caps.output == 1


def test_a_tasmota_plug_through_the_reconciler_is_armed_and_confirmed():
    a = tasmota(role="table_warmer", auto_off=2)
    t = Tracked("room", "warmer", "table_warmer", a, auto_off=2.0, heats=True)
    assert t.want(Switch(True), 0.0) == [Message("cmnd/warmer/Backlog", "PulseTime1 20; Power ON")]
    for report in feed(a, "stat/warmer/RESULT", {"POWER": "ON"}):
        t.report(report, 0.3)
    assert t.status == "confirmed"


# ---- Tasmota sensor -----------------------------------------------------------------------------


def test_tasmota_sensor_takes_the_first_temperature_and_its_humidity():
    a = tasmota("sensor", "th")
    assert a.subscriptions() == ["stat/th/STATUS10", "tele/th/SENSOR", "tele/th/LWT"]
    msg = {"Time": "x", "AM2301": {"Temperature": 21.3, "Humidity": 40.1, "DewPoint": 7.2}, "TempUnit": "C"}
    assert feed(a, "tele/th/SENSOR", msg) == [SensorReport(21.3, 40.1)]
    ds = {"DS18B20": {"Id": "01131B", "Temperature": 23.5}, "SHT3X": {"Temperature": 19}, "TempUnit": "C"}
    assert feed(a, "tele/th/SENSOR", ds) == [SensorReport(23.5, None)]


def test_tasmota_sensor_skips_the_esp32_chip_temperature():
    a = tasmota("sensor", "th")  # GetSensorValues' own example: ... "ESP32":{"Temperature":53.3}
    msg = {"ESP32": {"Temperature": 53.3}, "DS18B20": {"Temperature": 22.1}, "TempUnit": "C"}
    assert feed(a, "tele/th/SENSOR", msg) == [SensorReport(22.1, None)]


def test_tasmota_sensor_in_fahrenheit_is_converted():
    a = tasmota("sensor", "th")  # SetOption8 1: TempUnit F
    (report,) = feed(a, "tele/th/SENSOR", {"BME280": {"Temperature": 70.7, "Humidity": 45}, "TempUnit": "F"})
    assert report == SensorReport(21.5, 45.0)


def test_tasmota_sensor_answers_status_10_and_sends_nothing():
    a = tasmota("sensor", "th")
    assert a.query() == [Message("cmnd/th/Status", "10")]
    answer = {"StatusSNS": {"Time": "x", "SI7021": {"Temperature": 20.0, "Humidity": 50}, "TempUnit": "C"}}
    assert feed(a, "stat/th/STATUS10", answer) == [SensorReport(20.0, 50.0)]
    assert KINDS["sensor"].encode(a, Switch(True), 0.0) == []
    assert a.auto_off_range() is None


def test_tasmota_sensor_bad_values_are_dropped_and_the_next_sensor_is_taken():
    a = tasmota("sensor", "th")
    out = feed(a, "tele/th/SENSOR", {"DHT11": {"Temperature": 300}, "DS18B20": {"Temperature": 18}, "TempUnit": "C"})
    assert out[0] == SensorReport(18.0, None)
    assert isinstance(out[1], Dropped) and "DHT11.Temperature" in str(out[1])
    (humid, dropped) = feed(a, "tele/th/SENSOR", {"AM2301": {"Temperature": 20, "Humidity": 140}})
    assert humid == SensorReport(20.0, None) and "Humidity" in str(dropped)
    assert feed(a, "tele/th/SENSOR", "not json") != []  # one Dropped line, never a traceback


# ---- Shelly --------------------------------------------------------------------------------------

PLUG = "shellyplusplugs-b8d61a85a970"


def shelly(kind: str = "switch", component: int = 0, **config) -> ShellyAdapter:
    return ShellyAdapter(ShellyDevice(bridge="shelly", device=PLUG, component=component, **config), kind, "ambience")


def params(message: Message) -> dict:
    frame = json.loads(message.payload)
    assert frame["method"] == "Switch.Set" and message.topic == f"{PLUG}/rpc"
    return frame["params"]


def notify(component: str, status: dict, method: str = "NotifyStatus") -> dict:
    return {"src": PLUG, "dst": f"{PLUG}/events", "method": method, "params": {"ts": 1.0, component: status}}


def test_shelly_switch_on_sets_toggle_after_and_off_never_does():
    a = shelly(role="heater", auto_off=2)
    (on,) = a.switch(Switch(True, 2.0))
    assert params(on) == {"id": 0, "on": True, "toggle_after": 2}
    (again,) = a.switch(Switch(True, 2.0))
    assert params(again) == params(on)  # the re-arm: the same Switch.Set afresh
    (off,) = a.switch(Switch(False))
    assert params(off) == {"id": 0, "on": False}  # toggle_after with off would flip it back on
    (plain,) = a.switch(Switch(True))
    assert params(plain) == {"id": 0, "on": True}
    assert a.auto_off_range() == (1.0, 86400.0)


def test_shelly_auto_off_outside_the_range_is_clamped_and_said():
    a = shelly(role="heater", auto_off=200000)
    (on,) = a.switch(Switch(True, 200000.0))
    assert params(on)["toggle_after"] == 86400
    assert any("clamped to 86400 s" in line for line in a.will_send())


def test_shelly_switch_set_reply_confirms_and_status_carries_output_and_apower():
    a = shelly()
    (on,) = a.switch(Switch(True, 2.0))
    frame_id = json.loads(on.payload)["id"]
    answer = {"id": frame_id, "src": PLUG, "dst": "ambience", "result": {"was_on": False}}
    assert feed(a, "ambience/rpc", answer) == [SwitchReport(True, None)]
    status = {"id": 0, "output": True, "apower": 75.2, "timer_started_at": 1.0e9, "timer_duration": 2}
    assert feed(a, f"{PLUG}/events/rpc", notify("switch:0", status)) == [SwitchReport(True, 75.2)]
    assert feed(a, f"{PLUG}/events/rpc", notify("switch:0", {"id": 0, "apower": 80})) == [SwitchReport(True, 80.0)]
    off = {"id": 0, "source": "timer", "output": False, "apower": 0, "timer_started_at": None, "timer_duration": None}
    assert feed(a, f"{PLUG}/events/rpc", notify("switch:0", off)) == [SwitchReport(False, 0.0)]


def test_shelly_apower_alone_before_any_output_says_nothing_and_bad_power_is_dropped():
    a = shelly()
    assert feed(a, f"{PLUG}/events/rpc", notify("switch:0", {"id": 0, "apower": 10})) == []
    report, dropped = feed(a, f"{PLUG}/status/switch:0", {"id": 0, "output": True, "apower": "lots"})
    assert report == SwitchReport(True, 10.0)  # the output, with the power measured before (the bad one dropped)
    assert isinstance(dropped, Dropped) and "apower" in str(dropped)


# ---- Shelly sensor --------------------------------------------------------------------------------

HT = "shellyhtg3-84fce63ad204"


def ht(component: int = 0) -> ShellyAdapter:
    return ShellyAdapter(ShellyDevice(bridge="shelly", device=HT, component=component), "sensor", "ambience")


def test_shelly_ht_full_status_on_waking_gives_temperature_and_humidity():
    a = ht()
    full = {
        "src": HT, "dst": f"{HT}/events", "method": "NotifyFullStatus",
        "params": {"ts": 1.0, "temperature:0": {"id": 0, "tC": 21.3, "tF": 70.3}, "humidity:0": {"id": 0, "rh": 44.6},
                   "devicepower:0": {"id": 0, "battery": {"V": 5.8, "percent": 90}, "external": {"present": False}}},
    }  # fmt: skip
    assert feed(a, f"{HT}/events/rpc", full) == [SensorReport(21.3, 44.6)]
    assert feed(a, f"{HT}/status/temperature:0", {"id": 0, "tC": 22.0, "tF": 71.6}) == [SensorReport(22.0, None)]
    assert feed(a, f"{HT}/status/humidity:0", {"id": 0, "rh": 50}) == [SensorReport(None, 50.0)]


def test_shelly_sensor_in_fahrenheit_only_is_converted_and_bad_values_dropped():
    a = ht()
    assert feed(a, f"{HT}/events/rpc", notify("temperature:0", {"id": 0, "tC": None, "tF": 70.7})) == [
        SensorReport(21.5, None)
    ]
    (dropped,) = feed(a, f"{HT}/events/rpc", notify("temperature:0", {"id": 0, "tC": 999}))
    assert isinstance(dropped, Dropped)
    assert a.auto_off_range() is None


def test_shelly_plus_addon_probe_is_temperature_100():
    a = ht(component=100)  # the Plus Add-on's sensors are temperature:100 .. temperature:104
    assert f"{HT}/status/temperature:100" in a.subscriptions()
    assert feed(a, f"{HT}/events/rpc", notify("temperature:100", {"id": 100, "tC": 45.5})) == [SensorReport(45.5, None)]
    assert feed(a, f"{HT}/events/rpc", notify("temperature:0", {"id": 0, "tC": 20})) == []


# ---- the simulated firmware: the timers run out by themselves, exactly as the firmware does -----------

from ambience.simulator.profiles import get as get_profile  # noqa: E402
from ambience.simulator.shelly_profiles import ShellyHtGen3, ShellyPlusPlug  # noqa: E402
from ambience.simulator.tasmota import TasmotaEnergyPlug, TasmotaPlug, TasmotaThSensor  # noqa: E402


def sim_plug(cls=TasmotaPlug, profile="tasmota-plug", kind="switch", initial=None, **options):
    config = TasmotaDevice(bridge="tasmota", device="warmer", role="table_warmer")
    return cls("r", config, kind, initial=initial, options=options, profile=get_profile(profile))


def run(dev, command: str, payload: str, now: float) -> list[tuple[str, str]]:
    return [(p.topic, p.payload) for p in dev.receive(f"cmnd/warmer/{command}", payload.encode(), now)]


def advance(dev, now: float) -> list[tuple[str, str]]:
    return [(p.topic, p.payload) for p in dev.update(now, False)]


OFF = [("stat/warmer/RESULT", '{"POWER":"OFF"}'), ("stat/warmer/POWER", "OFF")]


def test_tasmota_sim_pulsetime_runs_out_by_itself_and_publishes_power_off():
    dev = sim_plug()
    out = run(dev, "Backlog", "PulseTime1 20; Power ON", 0.0)
    assert ("stat/warmer/RESULT", '{"PulseTime1":{"Set":20,"Remaining":20}}') in out
    assert ("stat/warmer/POWER", "ON") in out and dev.deadline == pytest.approx(2.0)
    assert advance(dev, 1.9) == [] and dev.switch.on
    assert advance(dev, 2.0) == OFF  # Every100mSeconds -> ExecuteCommandPower(POWER_OFF) -> MqttPublishPowerState
    assert not dev.switch.on and dev.snapshot(2.0)["timed_offs"] == 1


def test_tasmota_sim_power_on_again_restarts_the_pulse_timer():
    dev = sim_plug()
    run(dev, "Backlog", "PulseTime1 20; Power ON", 0.0)
    run(dev, "Backlog", "PulseTime1 20; Power ON", 1.5)  # the re-arm
    assert advance(dev, 3.0) == [] and dev.switch.on
    assert advance(dev, 3.5) == OFF
    run(dev, "Power", "ON", 10.0)  # the setting stays: a plain Power ON is cut after PulseTime too
    assert advance(dev, 12.0) == OFF


def test_tasmota_sim_power_off_stops_the_timer_and_pulsetime_0_clears_the_setting():
    dev = sim_plug()
    run(dev, "Backlog", "PulseTime1 20; Power ON", 0.0)
    run(dev, "Backlog", "Power OFF; PulseTime1 0", 1.0)
    assert dev.deadline is None and advance(dev, 5.0) == []
    run(dev, "Power", "ON", 6.0)  # a person at the plug's button, later
    assert dev.deadline is None and advance(dev, 100.0) == [] and dev.switch.on


def test_tasmota_sim_pulsetime_on_an_off_relay_runs_out_too():
    dev = sim_plug()
    run(dev, "PulseTime1", "5", 0.0)  # SetPulseTimer runs whatever the relay is
    assert advance(dev, 0.5) == OFF and not dev.switch.on
    assert dev.snapshot(0.5)["timed_offs"] == 0  # nothing was switched


def test_tasmota_sim_pulsetime_from_112_is_seconds_minus_100():
    dev = sim_plug()
    out = run(dev, "Backlog", "PulseTime1 112; Power ON", 0.0)
    assert ("stat/warmer/RESULT", '{"PulseTime1":{"Set":112,"Remaining":112}}') in out
    assert dev.deadline == pytest.approx(12.0)
    # GetPulseTimer: 7000 ms left is not > 11100, so it is said in tenths: 70
    assert run(dev, "PulseTime1", "", 5.0) == [("stat/warmer/RESULT", '{"PulseTime1":{"Set":112,"Remaining":70}}')]


def test_tasmota_sim_energy_plug_reports_its_load_each_teleperiod():
    dev = sim_plug(TasmotaEnergyPlug, "tasmota-energy-plug", initial={"load": 1500}, teleperiod=10)
    a = tasmota(role="heater")
    run(dev, "Power", "ON", 0.0)
    assert dev.timed(0.0) == [] and dev.timed(9.9) == []
    out = dev.timed(10.0)
    topics = [p.topic for p in out]
    assert topics == ["tele/warmer/STATE", "tele/warmer/SENSOR"]
    reports = [r for p in out for r in a.decode(p.topic, p.payload.encode())]
    assert reports[-1] == SwitchReport(True, 1500.0)


def test_tasmota_sim_th_sensor_publishes_what_the_adapter_reads():
    dev = TasmotaThSensor(
        "r", TasmotaDevice(bridge="tasmota", device="th"), "sensor", initial={"temperature": 21.5, "humidity": 40},
        options={"unit": "F", "teleperiod": 10}, profile=get_profile("tasmota-th-sensor"),
    )  # fmt: skip
    a = tasmota("sensor", "th")
    (tele,) = dev.report(0.0)
    assert tele.topic == "tele/th/SENSOR" and '"TempUnit":"F"' in tele.payload
    assert a.decode(tele.topic, tele.payload.encode()) == [SensorReport(21.5, 40.0)]
    (answer,) = dev.receive("cmnd/th/Status", b"10", 1.0)
    assert answer.topic == "stat/th/STATUS10"
    assert a.decode(answer.topic, answer.payload.encode()) == [SensorReport(21.5, 40.0)]


def shelly_plug(initial=None) -> ShellyPlusPlug:
    config = ShellyDevice(bridge="shelly", device=PLUG, role="heater")
    return ShellyPlusPlug("r", config, "switch", initial=initial, options={}, profile=get_profile("shelly-plus-plug"))


def rpc(dev, frame_id: int, method: str, params: dict, now: float) -> list:
    frame = {"id": frame_id, "src": "ambience", "method": method, "params": params}
    return dev.receive(f"{PLUG}/rpc", json.dumps(frame).encode(), now)


def test_shelly_sim_toggle_after_runs_out_and_notifies_output_false_from_the_timer():
    dev, a = shelly_plug({"load": 800}), shelly()
    rpc(dev, 1, "Switch.Set", {"id": 0, "on": True, "toggle_after": 2}, 0.0)
    status = dev.status(0.5)
    assert status["output"] is True and status["timer_duration"] == 2 and "timer_started_at" in status
    assert advance(dev, 1.9) == []
    (note,) = dev.update(2.0, False)
    delta = json.loads(note.payload)["params"]["switch:0"]
    assert delta["output"] is False and delta["source"] == "timer" and delta["timer_duration"] is None
    assert a.decode(note.topic, note.payload.encode()) == [SwitchReport(False, 0.0)]
    assert dev.snapshot(2.0)["timed_offs"] == 1


def test_shelly_sim_a_second_switch_set_restarts_the_timer_and_off_stops_it():
    dev = shelly_plug()
    rpc(dev, 1, "Switch.Set", {"id": 0, "on": True, "toggle_after": 2}, 0.0)
    rpc(dev, 2, "Switch.Set", {"id": 0, "on": True, "toggle_after": 2}, 1.5)
    assert advance(dev, 3.0) == [] and dev.switch.on and dev.deadline == pytest.approx(3.5)
    rpc(dev, 3, "Switch.Set", {"id": 0, "on": False}, 3.2)
    assert dev.deadline is None and "timer_duration" not in dev.status(3.3)
    (reply,) = rpc(dev, 4, "Switch.Set", {"id": 0, "on": True, "toggle_after": "soon"}, 4.0)
    assert json.loads(reply.payload)["error"]["code"] == -103


def test_shelly_sim_ht_sleeps_and_wakes_on_a_change_beyond_its_threshold():
    config = ShellyDevice(bridge="shelly", device=HT)
    dev = ShellyHtGen3("r", config, "sensor", initial={"temperature": 20.0, "humidity": 45}, options={"wake": 600},
                       profile=get_profile("shelly-ht-gen3"))  # fmt: skip
    a = ht()
    (woke,) = dev.report(0.0)
    assert a.decode(woke.topic, woke.payload.encode()) == [SensorReport(20.0, 45.0)]
    assert rpc(dev, 1, "Temperature.GetStatus", {"id": 0}, 1.0) == []  # asleep
    dev.sensor.temperature = 20.6
    assert dev.update(10.0, True) == []  # below report_thr_C
    dev.sensor.temperature = 21.1
    (woke,) = dev.update(11.0, True)
    assert a.decode(woke.topic, woke.payload.encode()) == [SensorReport(21.1, 45.0)]
    assert dev.update(500.0, True) == [] and len(dev.update(611.0, True)) == 1  # the periodic wake-up
