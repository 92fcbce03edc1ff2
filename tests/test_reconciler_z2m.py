"""The reconciler with the real Zigbee2MQTT adapter, told its device's real definition: patience for
sleepy valves, the bridge's health, capabilities that arrive late. Pure: the clock is a number.

Danfoss Ally's setpoint converter returns no state (zhc ``danfoss.ts``, the "aggressive" setpoint
command), so its confirmation is the valve's own attribute report, which a battery valve sends when
it next wakes, minutes later.
"""

from __future__ import annotations

import json

import pytest
from test_zigbee2mqtt_capabilities import DEFINITIONS

from ambience.config.devices import Zigbee2MqttDevice
from ambience.config.sections import ReconcileConfig
from ambience.devices.reconciler import Tracked
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter, z2m_capabilities
from ambience.model.state import ClimateState, Light, LightTarget

pytestmark = pytest.mark.unit

DEFAULTS = ReconcileConfig()


def valve(model: str | None, **config) -> Tracked:
    adapter = Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="trv", **config), "climate")
    tracked = Tracked(
        "room",
        "trv",
        "thermostat",
        adapter,
        ack_timeout=DEFAULTS.thermostat_ack_timeout,
        max_tries=DEFAULTS.thermostat_max_tries,
        slow_retry=DEFAULTS.slow_retry,
        patient=True,
    )
    if model is not None:
        tracked.learn(z2m_capabilities(DEFINITIONS[model], "Battery"), 0.0)
    return tracked


def report(tracked: Tracked, data: dict, now: float) -> list:
    out = []
    for item in tracked.adapter.decode("zigbee2mqtt/trv", json.dumps(data).encode()):
        out += tracked.report(item, now)
    return out


def run(tracked: Tracked, until: float, start: float = 0.0, step: float = 1.0) -> list:
    """Every message the device is sent from ``start`` to ``until``, its retries due each ``step``."""
    out, now = [], start
    while now <= until:
        out += tracked.due(now)
        now += step
    return out


def setpoint_writes(messages, key="occupied_heating_setpoint") -> int:
    return sum(m.topic.endswith("/set") and key in json.loads(m.payload) for m in messages)


def test_a_danfoss_that_reports_4_minutes_late_is_confirmed_with_at_most_3_setpoint_writes():
    trv = valve("014G2461")
    sent = trv.want(ClimateState(22.0), 0.0)
    sent += run(trv, 239.0)
    assert trv.status == "pending"
    assert report(trv, {"occupied_heating_setpoint": 22, "system_mode": "heat", "local_temperature": 19.5}, 240.0) == []
    assert trv.status == "confirmed"
    sent += run(trv, 3600.0, start=241.0)
    assert 1 <= setpoint_writes(sent) <= 3
    assert setpoint_writes(sent) == 1  # the report came inside the first window: no retry at all


def test_a_silent_valve_gets_three_writes_then_waits_and_its_report_an_hour_later_confirms():
    trv = valve("014G2461")
    sent = trv.want(ClimateState(22.0), 0.0) + run(trv, 24 * 3600.0, step=10.0)
    assert setpoint_writes(sent) == DEFAULTS.thermostat_max_tries == 3
    assert trv.status == "unconfirmed" and trv.wake_at() is None  # nothing more is due: no hammering
    report(trv, {"occupied_heating_setpoint": 22}, 25 * 3600.0)
    assert trv.status == "confirmed"


def test_a_light_keeps_its_quick_retries():
    lamp = Tracked(
        "room", "lamp", "lamp", Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="l"), "light")
    )
    light = Light(30, 2700)
    sent = lamp.want(LightTarget(light, light, 0.0), 0.0) + run(lamp, 120.0, step=0.5)
    assert len(sent) > 5 and lamp.status == "unconfirmed"


def test_a_ts0601_told_its_definition_late_is_sent_auto_instead_of_heat_at_once():
    trv = valve(None, setpoint="current_heating_setpoint")
    [first] = trv.want(ClimateState(21.0, "heat"), 0.0)
    assert json.loads(first.payload)["system_mode"] == "heat"  # nothing known yet: as the preset says
    [again] = trv.learn(z2m_capabilities(DEFINITIONS["TS0601_thermostat"], "Battery"), 1.0)
    assert json.loads(again.payload) == {"current_heating_setpoint": 21.0, "system_mode": "auto"}
    report(trv, {"current_heating_setpoint": 21, "system_mode": "auto"}, 100.0)
    assert trv.status == "confirmed"


def test_a_valve_that_reports_its_schedule_gets_one_more_write_putting_it_on_manual():
    trv = valve("TS0601_thermostat")
    trv.want(ClimateState(22.0), 0.0)
    [manual] = report(trv, {"current_heating_setpoint": 22, "preset": "schedule"}, 60.0)
    assert json.loads(manual.payload) == {"preset": "manual", "current_heating_setpoint": 22.0}
    assert trv.status == "pending"
    assert report(trv, {"current_heating_setpoint": 22, "preset": "manual"}, 120.0) == []
    assert trv.status == "confirmed"
    assert trv.describe()["reported"]["settings"] == {"preset": "manual"}


def test_a_mode_the_valve_does_not_have_is_one_note_and_blocks_nothing():
    trv = valve("014G2461")
    sent = trv.want(ClimateState(20.0, "off"), 0.0)
    assert [json.loads(m.payload) for m in sent] == [{"occupied_heating_setpoint": 20.0}]
    report(trv, {"occupied_heating_setpoint": 20, "system_mode": "heat"}, 30.0)
    shown = trv.describe()
    assert shown["status"] == "confirmed"
    assert shown["note"] == "mode off not sent: Danfoss 014G2461 has only heat"
    only_off = valve("014G2461")
    assert only_off.want(ClimateState(None, "off"), 0.0) == [] and only_off.status == "confirmed"
    assert run(only_off, 3600.0) == []  # never a retry loop


def test_the_bridge_going_offline_shows_on_the_device_and_coming_back_resends():
    trv = valve("014G2461")
    trv.want(ClimateState(22.0), 0.0)
    report(trv, {"occupied_heating_setpoint": 22}, 10.0)
    trv.want(ClimateState(23.0), 20.0)
    assert trv.bridge(False, 30.0) == []
    shown = trv.describe()
    assert shown["status"] == "offline" and shown["bridge"] == "offline"
    assert run(trv, 7200.0, start=31.0) == []  # nothing is sent into a dead bridge
    back = trv.bridge(True, 7300.0)
    # the valve (a battery device) is sent what is wanted, not asked as well in the same instant (bench P8)
    assert [json.loads(m.payload) for m in back] == [{"occupied_heating_setpoint": 23.0}]
    assert "bridge" not in trv.describe() and trv.describe()["status"] == "pending"
    assert trv.bridge(True, 7301.0) == []  # online again, said twice: nothing more


def test_a_colour_temperature_beyond_the_bulbs_range_confirms_at_the_bulbs_end():
    """Z2M clamps to the bulb's own range (toZigbee.ts clampColorTemp) and reports the clamped value."""
    adapter = Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="l"), "light")
    lamp = Tracked("room", "l", "lamp", adapter)
    lamp.learn(z2m_capabilities(DEFINITIONS["LED1545G12"], "Mains (single phase)"), 0.0)
    cool = Light(60, 5000)  # 200 mired; the IKEA bulb's coolest is 250
    [message] = lamp.want(LightTarget(cool, cool, 0.0), 0.0)
    assert json.loads(message.payload)["color_temp"] == 250
    for item in adapter.decode("zigbee2mqtt/l", b'{"state":"ON","brightness":152,"color_temp":250}'):
        lamp.report(item, 0.3)
    assert lamp.status == "confirmed"
