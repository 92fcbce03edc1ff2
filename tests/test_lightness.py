"""Brightness mixed in perceived lightness (CIE L*): the curve long fades follow (bench P7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ambience.core.lightness import brightness, lightness, mix
from ambience.devices.reconciler import Fade
from ambience.model.state import Light

pytestmark = pytest.mark.unit

pct = st.floats(0, 100, allow_nan=False)


def test_known_values_of_cie_lightness():
    assert lightness(100) == pytest.approx(100)
    assert lightness(0) == 0
    assert lightness(18.42) == pytest.approx(50, abs=0.01)  # mid grey
    assert lightness(0.5) == pytest.approx(903.3 * 0.005, rel=1e-3)  # the linear part near black


@given(pct)
def test_brightness_undoes_lightness(b):
    assert brightness(lightness(b)) == pytest.approx(b, abs=1e-9)


@given(pct, pct, st.floats(0, 1))
def test_equal_times_give_equal_perceived_change(a, b, f):
    assert lightness(mix(a, b, f)) == pytest.approx(lightness(a) + (lightness(b) - lightness(a)) * f, abs=1e-6)
    assert min(a, b) - 1e-9 <= mix(a, b, f) <= max(a, b) + 1e-9


def test_ends_are_exact_and_halfway_in_lightness_is_darker_than_halfway_in_brightness():
    assert mix(60, 10, 0) == 60 and mix(60, 10, 1) == 10
    assert mix(60, 10, 0.5) == pytest.approx(mix(10, 60, 0.5))
    assert 27 < mix(60, 10, 0.5) < 29  # L* 59.8, halfway from 81.8 to 37.8; linear would be 35 % (L* 65.8)


def test_the_reconciler_fade_follows_the_same_curve():
    fade = Fade(Light(60, 2700), Light(10, 3000), since=100.0, duration=1800.0)
    half = fade.value(100.0 + 900)
    assert half.brightness == pytest.approx(mix(60, 10, 0.5))
    assert half.color_temp == pytest.approx(2850)  # the colour temperature stays linear
