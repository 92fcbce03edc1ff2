"""The reconciler's rules, pure: a fake adapter that records what it is asked to encode."""

from __future__ import annotations

import pytest

from ambience.core.lightness import lightness, mix
from ambience.devices.base import Availability, ClimateReport, LightReport, Message
from ambience.devices.reconciler import Tracked
from ambience.model.state import ClimateState, Light, LightTarget

pytestmark = pytest.mark.unit


class FakeAdapter:
    """A real Adapter (the protocol), encoding commands as readable strings."""

    def __init__(self, kind="light", max_transition=60.0):
        self.kind = kind
        self.max_transition = max_transition

    def subscriptions(self):
        return ["dev/state"]

    def light(self, light, transition):
        return [Message("dev/set", f"{light.brightness:.1f}/{transition:g}")]

    def climate(self, climate):
        return [Message("dev/set", f"{climate.target}/{climate.mode}")]

    def query(self):
        return [Message("dev/get", "")]

    def decode(self, topic, payload):
        return []


def light_device(**kw):
    return Tracked("room", "lamp", "lamp", FakeAdapter(**kw), ack_timeout=1.0, max_tries=3, slow_retry=30.0)


def steady(brightness, ct=2700):
    light = Light(brightness, ct)
    return LightTarget(light, light, 0.0)


def test_sends_when_wanted_and_not_again_for_the_same_state():
    dev = light_device()
    assert [m.payload for m in dev.want_light(steady(30), 0.0)] == ["30.0/0"]
    assert dev.status == "pending"
    assert dev.want_light(steady(30), 0.5) == []
    assert dev.want_light(steady(40), 0.6) != []


def test_matching_report_confirms_and_stops_retries():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(29.9, 2703)), 0.2)
    assert dev.status == "confirmed" and dev.wake_at() is None
    assert dev.due(100.0) == []


def test_a_report_that_differs_does_not_confirm():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(80, 2700)), 0.2)
    assert dev.status == "pending"
    dev.report(LightReport(Light(30, 4000)), 0.3)
    assert dev.status == "pending"


def test_retries_with_backoff_then_unconfirmed_but_keeps_trying_slowly():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    sends = [0.0]
    t = 0.0
    while dev.status != "unconfirmed":
        t = dev.wake_at()
        assert dev.due(t), "a due retry sends the state again"
        sends.append(t)
    assert sends == [0.0, 1.0, 3.0, 7.0]
    assert dev.wake_at() == pytest.approx(7.0 + 30.0)
    # a late answer still confirms it
    dev.report(LightReport(Light(30, 2700)), 8.0)
    assert dev.status == "confirmed"


def test_retry_waits_for_the_transition_first():
    dev = light_device()
    dev.want_light(LightTarget(Light(10, 2700), Light(30, 2700), 20.0), 0.0)
    assert dev.wake_at() == pytest.approx(21.0)


def test_offline_device_is_not_retried_and_gets_the_state_when_back():
    dev = light_device()
    dev.report(Availability(False), 0.0)
    dev.want_light(steady(30), 1.0)
    assert dev.describe()["status"] == "offline"
    assert dev.due(dev.wake_at()) == []
    assert dev.wake_at() is None
    back = dev.report(Availability(True), 50.0)
    assert [m.payload for m in back] == ["30.0/0"]
    assert dev.status == "pending"


def test_long_fade_is_sent_as_steps_each_with_a_device_transition():
    dev = light_device(max_transition=60.0)
    out = dev.want_light(LightTarget(Light(30, 2700), Light(60, 2700), 480.0), 0.0)
    payloads = [m.payload for m in out]
    t = 0.0
    while dev.step_at is not None:
        t = dev.step_at
        payloads += [m.payload for m in dev.due(t)]
    # steps of the device's longest transition, each an eighth of the way in perceived lightness (bench P7):
    # less than an eighth of the brightness first
    fractions = [i / 8 for i in range(1, 8)]
    assert payloads == [f"{mix(30, 60, f):.1f}/60" for f in fractions] + ["60.0/60"]
    assert [lightness(float(p.split("/")[0])) for p in payloads[:7]] == pytest.approx(
        [lightness(30) + (lightness(60) - lightness(30)) * f for f in fractions], abs=0.1
    )
    assert 30 < float(payloads[0].split("/")[0]) < 30 + 30 / 8


def test_a_brightness_fade_the_device_could_do_at_once_is_still_sent_as_six_chords_of_the_curve():
    dev = light_device(max_transition=600.0)
    out = dev.want_light(LightTarget(Light(60, 2700), Light(10, 2700), 300.0), 0.0)
    payloads = [m.payload for m in out]
    while dev.step_at is not None:
        payloads += [m.payload for m in dev.due(dev.step_at)]
    assert payloads == [f"{mix(60, 10, i / 6):.1f}/50" for i in range(1, 6)] + ["10.0/50"]
    short = light_device(max_transition=600.0)
    assert [m.payload for m in short.want_light(LightTarget(Light(60, 2700), Light(10, 2700), 60.0), 0.0)] == [
        "10.0/60"
    ]  # a minute or less: the device's own fade, one command
    colour = light_device(max_transition=600.0)
    assert [m.payload for m in colour.want_light(LightTarget(Light(40, 2700), Light(40, 4000), 300.0), 0.0)] == [
        "40.0/300"
    ]  # the brightness does not change: nothing to follow


def test_reconnect_sends_the_current_state_not_the_old_fade_start():
    dev = light_device(max_transition=600)
    dev.want_light(LightTarget(Light(30, 2700), Light(60, 2700), 60.0), 0.0)
    out = dev.reconnected(50.0)
    assert [m.payload for m in out] == ["", "60.0/10"]  # the query, then the target with the fade left


def test_climate_matches_within_the_device_step():
    dev = Tracked("room", "trv", "thermostat", FakeAdapter(kind="climate"), temperature_step=0.5)
    out = dev.want_climate(ClimateState(24.0, "heat"), 0.0)
    assert [m.payload for m in out] == ["24.0/heat"]
    dev.report(ClimateReport(target=23.5, mode="heat"), 0.1)
    assert dev.status == "pending"
    dev.report(ClimateReport(target=24.0, mode=None, current=21.0), 0.2)
    assert dev.status == "confirmed"
    assert dev.describe()["reported"] == {"target": 24.0, "mode": "heat", "current": 21.0}


def test_off_matches_off_whatever_the_brightness_reported():
    dev = light_device()
    dev.want_light(steady(0), 0.0)
    dev.report(LightReport(Light(0, None)), 0.1)
    assert dev.status == "confirmed"


def test_a_device_without_native_fades_gets_one_step_a_second():
    dev = light_device(max_transition=0.0)
    out = dev.want_light(LightTarget(Light(0, 2700), Light(10, 2700), 10.0), 0.0)
    assert [m.payload for m in out] == [f"{mix(0, 10, 0.1):.1f}/1"]  # a tenth of the way in lightness
    assert dev.step_at == 1.0


# ---- reports that disagree (issue 12) ------------------------------------------------------------


def climate_device(limits=(16.0, 27.0)):
    return Tracked(
        "room", "trv", "thermostat", FakeAdapter(kind="climate"),
        ack_timeout=1.0, max_tries=3, slow_retry=30.0, temperature_limits=limits,
    )  # fmt: skip


def test_a_confirmed_light_changed_at_the_device_is_manual_and_left_alone():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(30, 2700)), 0.2)
    assert dev.status == "confirmed"
    dev.report(LightReport(Light(0)), 10.0)  # switched off by hand
    assert dev.status == "manual" and dev.shown_status == "manual"
    assert dev.wake_at() is None and dev.due(100.0) == []  # not fought
    assert dev.reconnected(200.0) == [Message("dev/get", "")]  # a reconnect asks, but does not undo it
    assert dev.want_light(steady(60), 300.0) != []  # the next change of the room is sent
    assert dev.status == "pending"


def test_a_room_that_reasserts_puts_its_value_back_at_once_and_only_once_per_change():
    dev = light_device()
    dev.manual = "reassert"
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(30, 2700)), 0.2)
    sent = dev.sends
    again = dev.report(LightReport(Light(0)), 10.0)  # switched off by hand
    assert again == [Message("dev/set", "30.0/0")] and dev.status == "pending" and dev.sends == sent + 1
    assert dev.report(LightReport(Light(0)), 10.1) == []  # the device's next report is not another undo
    dev.report(LightReport(Light(30, 2700)), 10.3)
    assert dev.status == "confirmed"


def test_a_manual_light_set_back_to_what_is_wanted_is_confirmed_again():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(30, 2700)), 0.2)
    dev.report(LightReport(Light(70, 2700)), 10.0)
    assert dev.status == "manual"
    dev.report(LightReport(Light(30, 2700)), 20.0)
    assert dev.status == "confirmed"


def test_an_in_between_report_during_a_fade_is_pending_not_manual():
    dev = light_device()
    light = Light(10, 2700)
    dev.want_light(LightTarget(Light(60, 2700), light, 20.0), 0.0)
    dev.report(LightReport(light), 0.1)  # Z2M's optimistic answer: the target at once
    assert dev.status == "confirmed"
    dev.report(LightReport(Light(45, 2700)), 5.0)  # the bulb's attribute report on the way down
    assert dev.status == "pending"
    dev.report(LightReport(light), 20.5)
    assert dev.status == "confirmed"


def test_a_stale_report_after_a_missed_command_keeps_retrying():
    dev = light_device()
    dev.want_light(steady(30), 0.0)
    dev.report(LightReport(Light(80, 4000)), 5.0)  # never confirmed: the old state, not a person
    assert dev.status == "pending" and dev.wake_at() is not None
    assert dev.due(dev.wake_at()) != []


def test_a_setpoint_above_the_limits_is_corrected_at_once_even_after_a_confirmation():
    dev = climate_device()
    dev.want_climate(ClimateState(24.0, "heat"), 0.0)
    dev.report(ClimateReport(24.0, "heat"), 0.5)
    assert dev.status == "confirmed"
    resent = dev.report(ClimateReport(30.0, "heat"), 10.0)  # turned up by hand, above the 27 °C limit
    assert [m.payload for m in resent] == ["24.0/heat"]
    assert dev.status == "pending"


def test_a_setpoint_within_the_limits_changed_by_hand_is_manual():
    dev = climate_device()
    dev.want_climate(ClimateState(24.0, "heat"), 0.0)
    dev.report(ClimateReport(24.0, "heat"), 0.5)
    assert dev.report(ClimateReport(22.0, "heat"), 10.0) == []
    assert dev.status == "manual"


def test_a_report_older_than_the_last_command_confirms_nothing():
    """The broker went down before the device's answer to the session came: its last report (the
    state before the session) must not confirm the after state that happens to equal it."""
    dev = climate_device()
    dev.report(ClimateReport(19.0, "heat"), 0.0)  # as found
    dev.want_climate(ClimateState(25.0, "heat"), 1.0)  # the session; its answer never arrives
    dev.want_climate(ClimateState(19.0, "heat"), 9.0)  # the after state
    assert dev.status == "pending" and dev.wake_at() is not None
    dev.report(ClimateReport(19.0, "heat"), 9.5)
    assert dev.status == "confirmed"


def test_a_current_report_that_already_matches_confirms_at_once():
    dev = climate_device()
    dev.report(ClimateReport(19.0, "heat"), 0.0)
    dev.want_climate(ClimateState(19.0, "heat"), 1.0)
    assert dev.status == "confirmed"


def test_a_patient_device_is_not_asked_and_sent_at_once_after_a_reconnect():
    """A battery valve hears one message, not two within 5 s (bench P8): after a reconnect it is sent what is
    wanted, and its report of that tells its state; a mains device is asked as well."""
    valve = Tracked("room", "trv", "thermostat", FakeAdapter(kind="climate"), patient=True, ack_timeout=300.0)
    valve.want_climate(ClimateState(24.0, "heat"), 0.0)
    assert [m.topic for m in valve.reconnected(700.0)] == ["dev/set"]
    assert [m.topic for m in valve.bridge(False, 800.0) + valve.bridge(True, 810.0)] == ["dev/set"]
    idle = Tracked("room", "trv2", "thermostat", FakeAdapter(kind="climate"), patient=True)
    assert [m.topic for m in idle.reconnected(700.0)] == ["dev/get"]  # nothing wanted: only asked
    mains = Tracked("room", "trv3", "thermostat", FakeAdapter(kind="climate"))
    mains.want_climate(ClimateState(24.0, "heat"), 0.0)
    assert [m.topic for m in mains.reconnected(700.0)] == ["dev/get", "dev/set"]
