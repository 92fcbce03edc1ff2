"""Noticing steps of the wall clock (ambience.clockwatch), pure."""

import pytest

from ambience.core.clockwatch import ClockWatch

pytestmark = pytest.mark.unit


def test_a_steady_clock_is_no_step_and_a_jump_either_way_is():
    watch = ClockWatch(step=2.0)
    assert watch.observe(1000.0, 10.0) is None  # the first reading
    assert watch.observe(1001.0, 11.0) is None
    assert watch.observe(1002.3, 12.0) is None  # slewing and a late wake are not steps
    assert watch.observe(1603.0, 13.0) == 600.0 - 0.3
    assert watch.observe(1004.0, 14.0) == -600.0
