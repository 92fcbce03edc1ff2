"""Times people write (ambience.core.when): every form against a fixed ``now``, the clocks changing in
London, and anything else refused in one line naming the value and the forms. Pure: no clock read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ambience.core.when import DAY_FORMS, TIME_FORMS, WhenError, parse_day, parse_time

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=LONDON)  # a Wednesday, 11:00 GMT


def at(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("14:00", at(2026, 12, 2, 14)),  # still ahead: today
        ("10:00", at(2026, 12, 3, 10)),  # passed: tomorrow
        ("11:00", at(2026, 12, 3, 11)),  # now is not ahead
        ("9:05", at(2026, 12, 3, 9, 5)),
        ("2pm", at(2026, 12, 2, 14)),
        ("2 PM", at(2026, 12, 2, 14)),
        ("2:30pm", at(2026, 12, 2, 14, 30)),
        ("10am", at(2026, 12, 3, 10)),
        ("12pm", at(2026, 12, 2, 12)),
        ("12am", at(2026, 12, 3, 0)),
        ("noon", at(2026, 12, 2, 12)),
        ("today 16:00", at(2026, 12, 2, 16)),
        ("today 9:00", at(2026, 12, 2, 9)),  # as written, though past: the booking service says so
        ("tomorrow 9:30", at(2026, 12, 3, 9, 30)),
        ("Tomorrow at 9:30", at(2026, 12, 3, 9, 30)),
        ("9:30 tomorrow", at(2026, 12, 3, 9, 30)),
        ("Mon 10:00", at(2026, 12, 7, 10)),
        ("monday 10:00", at(2026, 12, 7, 10)),
        ("wed 12:00", at(2026, 12, 2, 12)),  # today, still ahead
        ("wednesday 10:00", at(2026, 12, 9, 10)),  # today has passed: next week
        ("thurs 3pm", at(2026, 12, 3, 15)),
        ("2026-12-03T10:00", at(2026, 12, 3, 10)),
        ("2026-12-03 10:00", at(2026, 12, 3, 10)),
        ("2026-12-03T10:00+01:00", at(2026, 12, 3, 9)),
        ("2026-12-03T10:00Z", at(2026, 12, 3, 10)),
        ("2026-07-01T14:00+00:00", datetime(2026, 7, 1, 15, tzinfo=LONDON)),  # BST
    ],
)
def test_the_forms_people_write(text, expected):
    got = parse_time(text, NOW, LONDON)
    assert got == expected and got.utcoffset() == expected.utcoffset()
    assert getattr(got.tzinfo, "key", None) == "Europe/London"


def test_ten_o_clock_is_ten_on_the_wall_on_either_side_of_a_change():
    before = parse_time("tomorrow 10:00", datetime(2026, 3, 28, 12, tzinfo=LONDON), LONDON)  # Sunday the 29th: BST
    assert (before.hour, before.astimezone(UTC).hour) == (10, 9)
    after = parse_time("mon 10:00", datetime(2026, 10, 24, 12, tzinfo=LONDON), LONDON)  # Monday the 26th: GMT
    assert (after.date(), after.hour, after.astimezone(UTC).hour) == (date(2026, 10, 26), 10, 10)


@pytest.mark.parametrize("text", ["2026-03-29 01:30", "today 1:30", "1:30am today"])
def test_a_time_the_clocks_skip_is_refused(text):
    now = datetime(2026, 3, 29, 0, 10, tzinfo=LONDON)
    with pytest.raises(WhenError, match=r"2026-03-29 01:30 does not exist in Europe/London \(the clocks go forward"):
        parse_time(text, now, LONDON)


def test_a_skipped_time_already_gone_today_is_tomorrows():
    assert parse_time("1:30", datetime(2026, 3, 29, 10, tzinfo=LONDON), LONDON) == at(2026, 3, 30, 1, 30)


@pytest.mark.parametrize("text", ["2026-10-25 01:30", "sun 1:30", "1:30"])
def test_a_time_the_clocks_repeat_is_refused_naming_both_offsets(text):
    now = datetime(2026, 10, 24, 12, tzinfo=LONDON)  # Saturday; Sunday 01:00–02:00 happens twice
    with pytest.raises(WhenError) as caught:
        parse_time(text, now, LONDON)
    message = str(caught.value)
    assert "2026-10-25 01:30 happens twice in Europe/London" in message
    assert "2026-10-25T01:30+01:00 for the first or 2026-10-25T01:30+00:00 for the second" in message


def test_a_repeated_time_with_its_offset_is_taken_exactly():
    first = parse_time("2026-10-25T01:30+01:00", NOW, LONDON)
    second = parse_time("2026-10-25T01:30+00:00", NOW, LONDON)
    assert (first.hour, second.hour) == (1, 1) and second.timestamp() - first.timestamp() == 3600


@pytest.mark.parametrize(
    "text, why",
    [
        ("an hour", "is not a time"),
        ("soon", "is not a time"),
        ("14", "is not a time"),
        ("", "is not a time"),
        ("13pm", "the hour is 1–12"),
        ("0am", "the hour is 1–12"),
        ("25:00", "00:00–23:59"),
        ("10:75", "00:00–23:59"),
        ("tomorrow", "is a day without a time"),
        ("2026-12-03", "is a day without a time"),
        ("2026-13-03 10:00", "is not a time"),
        ("next monday 10:00", "is not a time"),
        ("mon tue 10:00", "is not a time"),
        ("0001-01-01T00:00+14:00", "is out of range"),
    ],
)
def test_anything_else_is_one_line_naming_the_value_and_the_forms(text, why):
    with pytest.raises(WhenError) as caught:
        parse_time(text, NOW, LONDON)
    message = str(caught.value)
    assert message.startswith(repr(text)) and why in message and TIME_FORMS in message and "\n" not in message


@given(st.text(max_size=40))
def test_no_text_is_a_traceback(text):
    try:
        moment = parse_time(text, NOW, LONDON)
    except WhenError as exc:
        assert "\n" not in str(exc).replace(text, "")
    else:
        assert moment.tzinfo is not None


@given(st.integers(0, 23), st.integers(0, 59), st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)))
def test_a_bare_clock_time_is_the_next_one_within_a_day(hour, minute, naive_now):
    now = naive_now.replace(tzinfo=LONDON)
    try:
        moment = parse_time(f"{hour}:{minute:02d}", now, LONDON)
    except WhenError as exc:  # only the hour the clocks skip or repeat
        assert "the clocks go" in str(exc)
        return
    assert (moment.hour, moment.minute) == (hour, minute)
    assert 0 < moment.timestamp() - now.timestamp() <= 25 * 3600


@pytest.mark.parametrize(
    "text, expected",
    [
        ("today", date(2026, 12, 2)),
        ("Tomorrow", date(2026, 12, 3)),
        ("mon", date(2026, 12, 7)),
        ("wednesday", date(2026, 12, 2)),
        ("2026-12-24", date(2026, 12, 24)),
    ],
)
def test_days_people_write(text, expected):
    assert parse_day(text, NOW, LONDON) == expected


@pytest.mark.parametrize("text", ["someday", "2026-02-30", "12/03", ""])
def test_a_bad_day_names_the_value_and_the_forms(text):
    with pytest.raises(WhenError, match="is not a day") as caught:
        parse_day(text, NOW, LONDON)
    assert str(caught.value).startswith(repr(text)) and DAY_FORMS in str(caught.value)


def test_times_are_said_in_the_clinics_zone_12_or_24_hour():
    from ambience.units import say_clock, say_time

    tz = ZoneInfo("America/New_York")
    evening = datetime(2026, 12, 1, 19, 5, tzinfo=tz)
    assert say_time(evening, evening.date()) == "19:05"
    assert say_time(evening, evening.date(), twelve=True) == "7:05 pm"
    assert say_time(evening, date(2026, 11, 30), twelve=True) == "Tue 1 Dec 7:05 pm"
    assert say_time(evening.replace(hour=0), None) == "Tue 1 Dec 00:05"
    assert say_clock(evening.replace(hour=0), twelve=True) == "12:05 am"
    assert say_clock(evening.replace(hour=12), twelve=True) == "12:05 pm"


def test_the_clock_follows_the_config_then_the_locale_then_the_units():
    from ambience.units import twelve_hour

    assert twelve_hour("12h", "metric", {"LANG": "de_DE.UTF-8"}) is True
    assert twelve_hour("24h", "imperial", {"LANG": "en_US.UTF-8"}) is False
    assert twelve_hour("auto", "metric", {"LANG": "en_US.UTF-8"}) is True
    assert twelve_hour("auto", "imperial", {"LC_TIME": "en_GB.UTF-8", "LANG": "en_US.UTF-8"}) is False
    assert twelve_hour("auto", "metric", {"LC_ALL": "de_DE.UTF-8", "LC_TIME": "en_US.UTF-8"}) is False
    assert twelve_hour("auto", "imperial", {"LANG": "C.UTF-8"}) is True
    assert twelve_hour("auto", "metric", {}) is False


def test_the_cli_writes_booking_times_as_the_clock_says():
    from ambience.cli.booking_cmds import _when

    assert _when("2026-12-03T19:00:00+00:00", True, "%a %Y-%m-%d ") == "Thu 2026-12-03 7:00 pm"
    assert _when("2026-12-03T19:00:00+00:00", False, "") == "19:00"
