"""The after state and its safety rules (ambience.after), pure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ambience.core.after import DeviceRef, after_states, as_found, from_json, restored_climate, restored_light, to_json
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.model.limits import Limits
from ambience.model.preset import parse_preset
from ambience.model.state import ClimateState, Light, LightTarget

pytestmark = pytest.mark.unit

LIMITS = Limits(min_temperature=16, max_temperature=27, max_brightness=90)
DEVICES = [
    DeviceRef("trv", "climate", "thermostat"),
    DeviceRef("lamp", "light", "lamp"),
    DeviceRef("ceiling", "light", "ceiling"),
]


def ended(after: str = "restore"):
    preset = parse_preset(
        f"name: t\nduration: 10s\nclimate: {{target: 25}}\nlights: {{brightness: 20}}\nafter: {after}\n", "t", "t.yaml"
    )
    return Timeline(preset, SessionFacts(started_at=0.0, duration=10.0), LIMITS).at(100.0)


def test_restore_puts_each_device_back_as_found():
    found = {"trv": {"target": 19.0, "mode": "heat"}, "lamp": {"on": True, "brightness": 80.0, "color_temp": 4000}}
    out = after_states(ended(), DEVICES, found, LIMITS)
    assert out["trv"] == ClimateState(19.0, "heat")
    assert out["lamp"].target == Light(80.0, 4000)
    assert "ceiling" not in out  # never heard from: left as it is


def test_restore_is_clamped_to_the_limits():
    assert restored_climate({"target": 80.0, "mode": "heat"}, LIMITS) == ClimateState(27.0, "heat")
    assert restored_climate({"target": 5.0, "mode": "heat"}, LIMITS) == ClimateState(16.0, "heat")
    assert restored_light({"on": True, "brightness": 100.0}, LIMITS).target.brightness == 90.0


def test_a_thermostat_never_heard_from_or_with_a_useless_report_goes_to_the_minimum():
    for snap in (
        None,
        {},
        {"target": None},
        {"target": math.inf},
        {"target": math.nan},
        {"target": "hot"},
        {"target": True},
    ):
        assert restored_climate(snap, LIMITS).target == 16.0


def test_an_explicit_after_block_wins_over_restore():
    out = after_states(ended("{climate: {target: 18}, lights: {brightness: 50}}"), DEVICES, {}, LIMITS)
    assert out["trv"] == ClimateState(18.0)  # no mode asked: none is sent
    assert out["lamp"].target.brightness == 50 and out["ceiling"].target.brightness == 50


def test_the_mode_found_is_restored_only_if_it_was_reported():
    """No mode is implied (a Tuya TS0601 in ``heat`` holds its valve open): a valve that never said its mode
    gets a setpoint only."""
    assert restored_climate({"target": 19.0}, LIMITS) == ClimateState(19.0, None)
    assert restored_climate(None, LIMITS) == ClimateState(16.0, None)
    assert restored_climate({"target": 19.0, "mode": "auto"}, LIMITS).mode == "auto"
    assert from_json("climate", {"target": 19.0}) == ClimateState(19.0, None)


def test_a_valve_found_on_its_schedule_is_put_back_on_it():
    found = {"target": 19.0, "mode": "auto", "settings": {"preset": "schedule", "bad": 3}}
    restored = restored_climate(found, LIMITS)
    assert restored == ClimateState(19.0, "auto", (("preset", "schedule"),))
    assert to_json(restored) == {"target": 19.0, "mode": "auto", "settings": {"preset": "schedule"}}
    assert from_json("climate", to_json(restored)) == restored


def test_what_a_device_owes_is_how_the_next_session_finds_it():
    assert as_found({"target": 25.0}, {"target": 19.0}) == {"target": 19.0}
    assert as_found({"target": 25.0}, None) == {"target": 25.0}


@given(
    st.one_of(
        st.builds(
            lambda t, m, s: ClimateState(t, m, s),
            st.one_of(st.none(), st.floats(5, 35)),
            st.sampled_from([None, "heat", "off", "auto"]),
            st.sampled_from([(), (("preset", "schedule"),), (("operating_mode", "schedule"), ("preset", "manual"))]),
        ),
        st.builds(
            lambda b, ct: LightTarget(Light(b, ct), Light(b, ct), 3.0),
            st.floats(0, 100).map(lambda v: round(v, 1)),
            st.one_of(st.none(), st.integers(1500, 6500).map(float)),
        ),
    )
)
def test_an_owed_state_survives_the_store(desired):
    kind = "climate" if isinstance(desired, ClimateState) else "light"
    back = from_json(kind, to_json(desired))
    assert to_json(back) == to_json(desired)
