"""The reconciler's rules for a switch (plug or relay): confirmation, the dead-man re-arm, the maximum
on-time, and the after state of a switch that heats. Pure: the adapter here only records what the
reconciler asks of it (the bridges' own encodings are tested in their adapters' tests)."""

from __future__ import annotations

import pytest

from ambience.config.devices import Room
from ambience.core.after import DeviceRef, after_states, restored_switch
from ambience.devices.base import Message, SwitchReport
from ambience.devices.reconciler import REARM_EVERY, Tracked
from ambience.model.limits import Limits
from ambience.model.state import DEFAULT_AUTO_OFF, RoomState, Switch

pytestmark = pytest.mark.unit


class Recorder:
    kind = "switch"
    max_transition = 0.0

    def __init__(self, timer: tuple[float, float] | None = (1.0, 3600.0)):
        self.timer = timer
        self.asked: list[Switch] = []

    def subscriptions(self) -> list[str]:
        return []

    def switch(self, switch: Switch) -> list[Message]:
        self.asked.append(switch)
        return [Message("plug/cmnd", "ON" if switch.on else "OFF")]

    def auto_off_range(self) -> tuple[float, float] | None:
        return self.timer

    def query(self) -> list[Message]:
        return []

    def decode(self, topic, payload):  # pragma: no cover - not used
        return []


def plug(timer=(1.0, 3600.0), auto_off=120.0, heats=True, max_on=None) -> tuple[Tracked, Recorder]:
    adapter = Recorder(timer)
    return Tracked("room", "plug", "heater", adapter, auto_off=auto_off, heats=heats, max_on=max_on), adapter  # type: ignore[arg-type]


def test_on_is_sent_with_the_auto_off_timer_and_confirmed_by_the_report():
    t, a = plug()
    assert t.want(Switch(True), 0.0)
    assert a.asked == [Switch(True, 120.0)]
    assert t.status == "pending"
    t.report(SwitchReport(True, 1500.0), 0.2)
    assert t.status == "confirmed"
    assert t.describe()["reported"] == {"on": True, "power": 1500.0}


def test_a_confirmed_on_is_re_armed_before_the_timer_runs_out_and_stays_confirmed():
    t, a = plug()
    t.want(Switch(True), 0.0)
    t.report(SwitchReport(True), 0.2)
    rearm = 120.0 * REARM_EVERY
    assert t.wake_at() == pytest.approx(rearm)
    assert t.due(rearm - 1) == []
    assert t.due(rearm) == [Message("plug/cmnd", "ON")]
    assert a.asked[-1] == Switch(True, 120.0)
    assert t.status == "confirmed"
    assert t.wake_at() == pytest.approx(2 * rearm)
    assert len(a.asked) == 2


def test_off_has_no_timer_and_is_not_re_armed():
    t, a = plug()
    t.want(Switch(False), 0.0)
    t.report(SwitchReport(False), 0.1)
    assert a.asked == [Switch(False)]
    assert t.wake_at() is None


def test_a_device_without_a_timer_is_sent_plain_on_and_relies_on_ambience():
    t, a = plug(timer=None)
    t.want(Switch(True), 0.0)
    assert a.asked == [Switch(True, None)]
    assert t.relies_on_ambience
    assert any("relies on ambience" in line for line in t.explain()["sends"])
    t.report(SwitchReport(True), 0.1)
    assert t.wake_at() is None  # nothing to re-arm


def test_a_heat_class_switch_is_switched_off_at_its_maximum_on_time_and_stays_off():
    t, a = plug(max_on=3600.0)
    t.want(Switch(True), 0.0)
    t.report(SwitchReport(True), 0.1)
    assert t.wake_at() == pytest.approx(30.0)
    for now in range(30, 3600, 30):
        t.due(float(now))
    assert t.due(3600.0) == [Message("plug/cmnd", "OFF")]
    assert t.want(Switch(True), 3601.0) == []  # the session still wants it on: it stays off
    assert "maximum on-time (1h)" in t.describe()["note"]
    t.want(Switch(False), 3700.0)
    assert t.want(Switch(True), 3800.0) == [Message("plug/cmnd", "ON")]  # a new on is counted afresh


def test_a_switch_changed_by_hand_is_not_re_armed():
    t, a = plug()
    t.want(Switch(True), 0.0)
    t.report(SwitchReport(True), 0.1)
    t.report(SwitchReport(False), 5.0)
    assert t.status == "manual"
    assert t.due(30.0) == []


@pytest.mark.parametrize(
    ("found", "heats", "restore_on", "after"),
    [
        ({"on": True}, True, False, Switch(False)),
        ({"on": True}, True, True, Switch(True)),
        (None, True, False, Switch(False)),
        ({"on": False}, True, True, Switch(False)),
        ({"on": True}, False, False, Switch(True)),
        (None, False, False, None),
    ],
)
def test_a_switch_that_heats_is_never_restored_on_unless_the_room_says(found, heats, restore_on, after):
    assert restored_switch(found, heats, restore_on) == after


def test_after_states_of_switches():
    ended = RoomState(
        "ended", None, 0, 0, 60, 60, switches={"diffuser": Switch(False)}, restore=frozenset({"switches"})
    )
    refs = [
        DeviceRef("warmer", "switch", "table_warmer", heats=True),
        DeviceRef("diffuser", "switch", "diffuser"),
        DeviceRef("lamp", "switch", "fan"),
        DeviceRef("heater", "switch", "thermostat", heats=True, restore_on=True),
        DeviceRef("sensor", "sensor", "sensor"),
    ]
    found = {"warmer": {"on": True}, "diffuser": {"on": True}, "lamp": {"on": True}, "heater": {"on": True}}
    assert after_states(ended, refs, found, Limits()) == {
        "warmer": Switch(False),
        "diffuser": Switch(False),
        "lamp": Switch(True),
        "heater": Switch(False),
    }


def test_room_switches_config():
    room = Room.model_validate(
        {
            "switches": [
                {"bridge": "tasmota", "device": "warmer", "role": "table_warmer", "auto_off": "2m"},
                {"bridge": "zigbee2mqtt", "device": "diffuser", "role": "diffuser"},
                {"bridge": "zigbee2mqtt", "device": "cabinet", "role": "towel_warmer"},
            ],
            "thermostat": {
                "bridge": "heater",
                "switch": {"bridge": "shelly", "device": "visit-heater", "auto_off": "2m"},
                "sensor": {"bridge": "zigbee2mqtt", "device": "visit-sensor"},
            },
            "home_visit": True,
        }
    )
    kinds = {(dev.id, kind, role) for dev, kind, role in room.devices()}
    assert ("visit-heater", "switch", "thermostat") in kinds
    assert ("visit-sensor", "sensor", "thermostat") in kinds
    by_id = {dev.id: dev for dev, _, _ in room.devices()}
    assert by_id["warmer"].dead_man == 120.0
    assert by_id["diffuser"].dead_man is None  # a diffuser does not heat: no timer unless asked
    assert by_id["cabinet"].dead_man == DEFAULT_AUTO_OFF
    assert by_id["visit-heater"].heat_class
    assert room.shutdown == "end"


def test_switch_keys_are_refused_on_a_light():
    with pytest.raises(ValueError, match="auto_off is set on light 'lamp'"):
        Room.model_validate({"lights": [{"bridge": "tasmota", "device": "lamp", "auto_off": "2m"}]})


def test_the_maximum_on_time_per_heat_role_from_the_limits():
    limits = Limits.model_validate({"max_on_time": {"heater": "3h"}})
    assert limits.max_on("heater") == 3 * 3600
    assert limits.max_on("towel_warmer") == 14 * 3600  # a towel cabinet is on for a working day
    assert limits.max_on("table_warmer") == 4 * 3600
    with pytest.raises(ValueError, match="max_on_time"):
        Limits.model_validate({"max_on_time": {"Heater!": "3h"}})


def test_an_off_when_the_device_s_own_timer_ran_out_is_sent_on_again_but_a_person_s_off_is_held():
    t, a = plug()
    t.want(Switch(True), 0.0)
    t.report(SwitchReport(True), 0.1)
    # the re-arms were lost (a broker hiccup): the plug's own timer switches it off auto_off later
    assert t.report(SwitchReport(False), 0.1 + 120.0) == [Message("plug/cmnd", "ON")]
    assert t.status == "pending"
    t.report(SwitchReport(True), 121.0)
    assert t.status == "confirmed"
    # a person switches it off between two re-arms (each answered with on): held as they left it
    t.due(151.0)
    t.report(SwitchReport(True), 151.1)
    assert t.report(SwitchReport(False), 160.0) == []
    assert t.status == "manual"
