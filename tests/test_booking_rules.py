"""The booking rules of ambience.core.booking: local times across daylight-saving changes, overlaps in
real time, weekly templates. Pure: no daemon, no broker, no clock (the service: tests/test_bookings.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest

from ambience.core.booking import Booking, expand_weekly, handover, local_time, overlapping, parse_when
from ambience.errors import BookingError

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")


def test_nine_o_clock_local_stays_nine_across_the_clocks_going_forward():
    before = local_time(date(2026, 3, 24), dtime(9, 0), LONDON)  # GMT
    after = local_time(date(2026, 3, 31), dtime(9, 0), LONDON)  # BST
    assert before.astimezone(UTC).hour == 9
    assert after.astimezone(UTC).hour == 8
    assert (before.hour, after.hour) == (9, 9)


def test_a_time_that_does_not_exist_is_refused():
    with pytest.raises(BookingError, match="does not exist in Europe/London"):
        local_time(date(2026, 3, 29), dtime(1, 30), LONDON)


def test_parse_when_reads_the_clinic_time_or_an_offset():
    assert parse_when("2026-12-01 14:00", LONDON) == datetime(2026, 12, 1, 14, 0, tzinfo=LONDON)
    assert parse_when("2026-07-01T14:00+00:00", LONDON).hour == 15
    with pytest.raises(BookingError, match="not a time"):
        parse_when("tomorrow afternoon", LONDON)


def test_weekly_expansion_across_dst_keeps_the_local_time():
    starts = expand_weekly("tuesday", dtime(9, 0), LONDON, date(2026, 3, 20), 14)
    assert [s.date() for s in starts] == [date(2026, 3, 24), date(2026, 3, 31)]
    assert [s.hour for s in starts] == [9, 9]
    assert [s.astimezone(UTC).hour for s in starts] == [9, 8]


def b(room, start, minutes=60, lead=900, id="x"):
    return Booking(id, room, "p", start, minutes * 60.0, lead)


def test_only_the_sessions_overlap_a_lead_reaching_into_the_session_before_does_not():
    t = datetime(2026, 12, 1, 10, 0, tzinfo=LONDON)
    other = b("r1", t, 60, 900, "other")
    others = [(other, t + timedelta(minutes=60))]
    assert overlapping("r1", t + timedelta(minutes=60), t + timedelta(minutes=120), others) is None  # touching
    assert overlapping("r1", t + timedelta(minutes=59), t + timedelta(minutes=120), others) is other
    assert overlapping("r1", t - timedelta(minutes=60), t, others) is None  # ends as the other starts
    assert overlapping("r1", t - timedelta(minutes=60), t + timedelta(minutes=1), others) is other
    assert overlapping("r1", t + timedelta(minutes=10), t + timedelta(minutes=20), others) is other  # inside
    assert overlapping("r2", t, t + timedelta(minutes=60), others) is None


def test_a_booking_follows_the_session_before_through_a_turnover_when_its_pre_heat_would_begin_by_then():
    end = 36000.0  # the previous session ends
    assert handover(end, end, 900, 300)  # touching
    assert handover(end, end + 1200, 900, 300)  # pre-heat from end + 5 min: the turnover's last moment
    assert not handover(end, end + 1201, 900, 300)  # a free moment in between: after state, then pre-heat
    assert not handover(end, end - 1, 900, 300)  # it would begin before the previous session ends


@pytest.mark.parametrize(
    ("zone", "skipped"),
    [("Europe/London", "2026-03-29 01:30"), ("America/New_York", "2026-03-08 02:30")],  # the clocks go forward
)
def test_a_skipped_time_is_refused(zone, skipped):
    with pytest.raises(BookingError, match=f"does not exist in {zone}"):
        parse_when(skipped, ZoneInfo(zone))
