"""A switch's daily schedule (ambience.core.daily): spans in local time, over midnight, across both
daylight-saving changes in London. Instants are written in UTC, so the tests do not lean on the
module's own local-time reckoning."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ambience.config.devices import DailySchedule
from ambience.core.daily import daily_on, daily_switches, next_daily_change, next_daily_switch_change
from ambience.model.state import Switch

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_on_at_opening_off_at_closing_on_the_days_given():
    cabinet = DailySchedule(on="08:00", off="20:00", days=WEEKDAYS)  # 2026-03-23 is a Monday, GMT
    assert not daily_on(cabinet, utc(2026, 3, 23, 7, 59), LONDON)
    assert daily_on(cabinet, utc(2026, 3, 23, 8, 0), LONDON)
    assert daily_on(cabinet, utc(2026, 3, 23, 19, 59, 59), LONDON)
    assert not daily_on(cabinet, utc(2026, 3, 23, 20, 0), LONDON)
    assert next_daily_change(cabinet, utc(2026, 3, 23, 7, 0), LONDON) == utc(2026, 3, 23, 8, 0)
    assert next_daily_change(cabinet, utc(2026, 3, 23, 8, 0), LONDON) == utc(2026, 3, 23, 20, 0)
    assert not daily_on(cabinet, utc(2026, 3, 21, 12, 0), LONDON)  # a Saturday
    # Friday's closing -> Monday's opening, in BST by then (the clocks went forward on Sunday)
    assert next_daily_change(cabinet, utc(2026, 3, 27, 20, 0), LONDON) == utc(2026, 3, 30, 7, 0)


def test_off_before_on_runs_over_midnight_from_a_listed_day():
    night = DailySchedule(on="22:00", off="06:00", days=("fri",))  # Friday 2026-03-20
    assert not daily_on(night, utc(2026, 3, 20, 21, 59), LONDON)
    assert daily_on(night, utc(2026, 3, 20, 23, 0), LONDON)
    assert daily_on(night, utc(2026, 3, 21, 5, 59), LONDON)  # Saturday morning: Friday's span
    assert not daily_on(night, utc(2026, 3, 21, 6, 0), LONDON)
    assert not daily_on(night, utc(2026, 3, 21, 23, 0), LONDON)  # Saturday is not listed
    assert next_daily_change(night, utc(2026, 3, 21, 6, 0), LONDON) == utc(2026, 3, 27, 22, 0)


def test_the_clocks_going_forward_a_day_span_keeps_its_local_times_and_a_night_is_an_hour_shorter():
    day = DailySchedule(on="07:00", off="19:00")
    # Saturday 2026-03-28 GMT; Sunday 2026-03-29 the clocks go from 01:00 GMT to 02:00 BST
    assert next_daily_change(day, utc(2026, 3, 28, 19, 0), LONDON) == utc(2026, 3, 29, 6, 0)  # 07:00 BST
    assert next_daily_change(day, utc(2026, 3, 29, 6, 0), LONDON) == utc(2026, 3, 29, 18, 0)  # 19:00 BST
    night = DailySchedule(on="22:00", off="06:00", days=("sat",))
    assert next_daily_change(night, utc(2026, 3, 28, 22, 0), LONDON) == utc(2026, 3, 29, 5, 0)  # 7 real hours
    assert daily_on(night, utc(2026, 3, 29, 4, 59), LONDON) and not daily_on(night, utc(2026, 3, 29, 5, 0), LONDON)


def test_a_time_the_clocks_skip_is_the_moment_they_go_forward():
    skipped = DailySchedule(on="01:30", off="04:00", days=("sun",))
    assert next_daily_change(skipped, utc(2026, 3, 29, 0, 0), LONDON) == utc(2026, 3, 29, 1, 0)  # 02:00 BST
    assert not daily_on(skipped, utc(2026, 3, 29, 0, 59, 59), LONDON)
    assert daily_on(skipped, utc(2026, 3, 29, 1, 0), LONDON)


def test_the_clocks_going_back_a_repeated_time_is_the_first_and_a_night_is_an_hour_longer():
    # Sunday 2026-10-25 the clocks go from 02:00 BST back to 01:00 GMT: 01:30 happens twice
    repeated = DailySchedule(on="01:30", off="07:00", days=("sun",))
    assert next_daily_change(repeated, utc(2026, 10, 25, 0, 0), LONDON) == utc(2026, 10, 25, 0, 30)  # 01:30 BST
    assert next_daily_change(repeated, utc(2026, 10, 25, 0, 30), LONDON) == utc(2026, 10, 25, 7, 0)  # 07:00 GMT
    night = DailySchedule(on="22:00", off="06:00", days=("sat",))
    assert next_daily_change(night, utc(2026, 10, 24, 21, 0), LONDON) == utc(2026, 10, 25, 6, 0)  # 9 real hours


def test_a_schedule_that_never_switches_has_no_next_change():
    assert next_daily_change(DailySchedule(on="08:00", off="08:00"), utc(2026, 3, 23), LONDON) is None
    assert not daily_on(DailySchedule(on="08:00", off="08:00"), utc(2026, 3, 23, 9), LONDON)
    assert next_daily_change(DailySchedule(on="08:00", off="20:00", days=()), utc(2026, 3, 23), LONDON) is None


def test_a_room_s_schedules_by_device():
    schedules = {
        "towels": DailySchedule(on="08:00", off="20:00", days=WEEKDAYS),
        "night-fan": DailySchedule(on="21:00", off="07:00"),
    }
    noon = utc(2026, 3, 23, 12, 0)
    assert daily_switches(schedules, noon, LONDON) == {"towels": Switch(True), "night-fan": Switch(False)}
    assert next_daily_switch_change(schedules, noon, LONDON) == utc(2026, 3, 23, 20, 0)
    assert next_daily_switch_change({}, noon, LONDON) is None
