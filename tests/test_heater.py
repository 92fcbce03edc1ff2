"""The heater thermostat's controller (ambience/devices/heater.py) and its wiring in the manager. Pure.

The rules are Home Assistant's generic_thermostat where they fit a treatment room
(homeassistant/components/generic_thermostat/climate.py at 0087f75: hysteresis 574-575, the minimum
cycle 580-593) and stricter where they do not: HA keeps the heater as it is when the sensor is
unavailable (569-572); here it is switched off, at once.
"""

from __future__ import annotations

import math

import pytest

from ambience.devices.heater import HeaterLoop, HeaterSettings, decide
from ambience.model.state import ClimateState

pytestmark = pytest.mark.unit

RULES = HeaterSettings(hysteresis=0.3, min_cycle=60.0, sensor_timeout=600.0, max_temperature=27.0)
WARM = ClimateState(22.0, "heat")


def on_at(temperature: float, heating: bool, *, changed_at: float | None = None, now: float = 1000.0) -> bool:
    return decide(WARM, temperature, now - 1, heating, changed_at, RULES, now).on


def test_hysteresis_on_below_the_band_off_above_it_held_in_between():
    assert on_at(21.6, heating=False) is True  # below 22 - 0.3
    assert on_at(22.4, heating=True) is False  # above 22 + 0.3
    for inside in (21.7, 22.0, 22.3):
        assert on_at(inside, heating=False) is False  # not yet cold enough to switch on
        assert on_at(inside, heating=True) is True  # not yet warm enough to switch off


def test_the_minimum_cycle_holds_a_switch_and_says_when_to_look_again():
    held = decide(WARM, 22.6, 1009.0, True, 1000.0, RULES, 1010.0)  # on since 10 s, too warm
    assert held.on is True and "minimum cycle" in held.reason
    assert held.check_at == 1060.0  # when the 60 s are up
    assert decide(WARM, 22.6, 1059.0, True, 1000.0, RULES, 1060.0).on is False
    # the off-time is held too: off 10 s ago and now too cold
    assert decide(WARM, 21.0, 1009.0, False, 1000.0, RULES, 1010.0).on is False
    assert decide(WARM, 21.0, 1059.0, False, 1000.0, RULES, 1060.0).on is True
    # never switched yet: nothing to hold
    assert decide(WARM, 21.0, 9.0, False, None, RULES, 10.0).on is True


def test_a_silent_sensor_switches_the_heater_off_at_once_even_inside_the_minimum_cycle():
    # on 10 s ago; the last reading (cold) came 600 s ago
    silent = decide(WARM, 18.0, 410.0, True, 1000.0, RULES, 1010.0)
    assert silent.on is False and silent.safety and "said nothing for 10m" in silent.reason
    # while the sensor speaks, the decision says when it would be silent too long
    assert decide(WARM, 18.0, 1000.0, True, 1000.0, RULES, 1010.0).check_at == 1600.0


def test_a_reading_above_the_room_maximum_switches_off_at_once_even_inside_the_minimum_cycle():
    hot = ClimateState(27.0, "heat")  # the target itself at the maximum: the band would still say on
    d = decide(hot, 27.1, 1009.0, True, 1000.0, RULES, 1010.0)
    assert d.on is False and d.safety and "above the room's maximum 27" in d.reason


def test_readings_that_are_no_room_temperature_and_an_offline_sensor_switch_it_off():
    for nonsense in (math.nan, math.inf, -60.0, 120.0):
        assert decide(WARM, nonsense, 1009.0, True, 1000.0, RULES, 1010.0).on is False
    assert decide(WARM, 18.0, 1009.0, True, 1000.0, RULES, 1010.0, sensor_offline=True).on is False
    assert decide(WARM, None, None, False, None, RULES, 1010.0).on is False  # nothing heard yet


def test_no_session_or_no_heating_asked_is_off_at_once():
    for climate in (None, ClimateState(22.0, "off"), ClimateState(None, "heat"), ClimateState(22.0, "cool")):
        d = decide(climate, 18.0, 1009.0, True, 1000.0, RULES, 1010.0)
        assert d.on is False, climate
    assert decide(ClimateState(22.0), 18.0, 1009.0, False, None, RULES, 1010.0).on is True  # no mode named: heats


def test_the_loop_counts_the_minimum_cycle_from_its_own_last_switch():
    loop = HeaterLoop(HeaterSettings(0.2, 30.0, 600.0, 27.0))
    loop.want(WARM)
    loop.reading(20.0, 0.0)
    assert loop.step(0.0).on is True and loop.changed_at == 0.0
    loop.reading(23.0, 10.0)
    assert loop.step(10.0).on is True and loop.check_at == 30.0
    assert loop.step(30.0).on is False and loop.changed_at == 30.0
    assert loop.shown() == {"target": 22.0, "current": 23.0, "heating": False, "reason": "23 °C is above 22.2 °C"}
