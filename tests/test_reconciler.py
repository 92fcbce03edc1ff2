"""The reconciler's rules, pure: a fake adapter that records what it is asked to encode."""

from __future__ import annotations

import pytest

from ambience.devices.base import Availability, ClimateReport, LightReport, Message
from ambience.devices.reconciler import Tracked
from ambience.timeline import ClimateState, Light, LightTarget


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
    out = dev.want_light(LightTarget(Light(30, 2700), Light(60, 2700), 240.0), 0.0)
    assert [m.payload for m in out] == ["37.5/60"]
    payloads = []
    t = 0.0
    for _ in range(3):
        t = dev.step_at
        payloads += [m.payload for m in dev.due(t)]
    assert payloads == ["45.0/60", "52.5/60", "60.0/60"]
    assert dev.step_at is None


def test_reconnect_sends_the_current_state_not_the_old_fade_start():
    dev = light_device(max_transition=600)
    dev.want_light(LightTarget(Light(30, 2700), Light(60, 2700), 100.0), 0.0)
    out = dev.reconnected(50.0)
    assert [m.payload for m in out] == ["", "60.0/50"]  # the query, then the target with the fade left


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
    assert [m.payload for m in out] == ["1.0/1"]
    assert dev.step_at == 1.0
