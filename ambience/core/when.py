"""Times people write: ``14:00``, ``2pm``, ``tomorrow 9:30``, ``Mon 10:00``, ISO. Pure: takes ``now`` and the zone.

:func:`parse_time` turns what someone types at the front desk into an aware ``datetime`` in the
clinic's zone (``bookings.timezone``):

- ``14:00``, ``2pm``, ``2:30pm``, ``noon``: the next such time: today if it is still ahead, else tomorrow;
- ``today 16:00``, ``tomorrow 9:30`` (or ``9:30 tomorrow``, ``tomorrow at 9:30``): that day, even if the time has passed
  (the booking service then says it is in the past);
- ``mon 10:00``, ``Monday 10am``: the next such day; today if the time is still ahead today;
- ISO 8601: ``2026-12-03T10:00``, ``2026-12-03 10:00`` (the clinic's time), or with an offset
  (``+01:00``, ``Z``), which is converted to the clinic's time.

Daylight saving: a wall time the clocks skip (01:30 on the last Sunday of March in London) does not
exist and is refused; one they repeat (01:30 on the last Sunday of October) is refused too, naming
the two instants with their offsets to write instead: a booking an hour off is a client at a locked
door. A written offset is exact and always taken.

:func:`parse_day` reads a day the same way: ``today``, ``tomorrow``, ``mon``, ``2026-12-03``.

Wrong input raises :class:`WhenError`, one line naming the value and the allowed forms.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ambience.core.booking import WEEKDAYS
from ambience.errors import BookingError

TIME_FORMS = "14:00, 2pm, 2:30pm, today 16:00, tomorrow 9:30, mon 10:00 or ISO 2026-12-03 10:00"
DAY_FORMS = "today, tomorrow, mon … sun or 2026-12-03"


class WhenError(BookingError):
    """A time or day that cannot be read, or that the clocks skip or repeat."""


_DAY_WORDS: dict[str, int | str] = {
    "today": "today",
    "tomorrow": "tomorrow",
    "tmrw": "tomorrow",
    **{form: i for i, name in enumerate(WEEKDAYS) for form in (name, name[:3])},
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}

_CLOCK = re.compile(r"^(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _refuse(text: str, forms: str = TIME_FORMS, why: str = "is not a time") -> WhenError:
    return WhenError(f"{text!r} {why}; write e.g. {forms}")


def _clock(text: str, original: str) -> time:
    """``14:00``, ``9:30``, ``2pm``, ``2:30 pm``, ``12am``, ``noon``, ``midnight``."""
    if text in ("noon", "midday"):
        return time(12, 0)
    if text == "midnight":
        return time(0, 0)
    match = _CLOCK.match(text)
    if not match:
        raise _refuse(original)
    hour, minute, ampm = int(match["h"]), int(match["m"] or 0), match["ampm"]
    if ampm is None and match["m"] is None:  # a bare "14" could be a day, a room, a duration
        raise _refuse(original)
    if ampm:
        if not 1 <= hour <= 12:
            raise _refuse(original, why="is not a time (with am/pm the hour is 1–12)")
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise _refuse(original, why="is not a time of day (00:00–23:59)")
    return time(hour, minute)


def wall_time(day: date, at: time, tz: ZoneInfo, text: str) -> datetime:
    """``day`` at ``at`` in ``tz``; a time the clocks skip or repeat that day is refused, saying why."""
    first = datetime.combine(day, at, tzinfo=tz)
    second = first.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    when = f"{day} {at:%H:%M}"
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != first.replace(tzinfo=None):
        raise WhenError(f"{text!r}: {when} does not exist in {tz.key} (the clocks go forward then); pick another time")
    raise WhenError(
        f"{text!r}: {when} happens twice in {tz.key} (the clocks go back then); write "
        f"{first.isoformat(timespec='minutes')} for the first or {second.isoformat(timespec='minutes')} for the second"
    )


def _iso(text: str, original: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise _refuse(original) from None
    if len(text) <= 10:  # a date alone reads as midnight: never what a booking means
        raise _refuse(original, why="is a day without a time")
    if moment.tzinfo is None:
        return wall_time(moment.date(), moment.time(), tz, original)
    try:
        return moment.astimezone(tz)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first day there is
        raise _refuse(original, why="is out of range") from None


def parse_time(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """What someone wrote, as an aware ``datetime`` in ``tz`` (the module's docstring has the forms)."""
    if not isinstance(text, str):
        raise _refuse(str(text))
    norm = " ".join(w for w in text.strip().lower().split() if w != "at")  # "tomorrow at 9:30"
    if _ISO_DATE.match(norm):
        return _iso(norm, text, tz)
    today = now.astimezone(tz).date()
    words = norm.split(" ", 1)
    day_word: int | str | None = None
    clock = norm
    if len(words) == 2 and words[0] in _DAY_WORDS:
        day_word, clock = _DAY_WORDS[words[0]], words[1]
    elif len(words) == 2 and words[1] in _DAY_WORDS and words[0] not in _DAY_WORDS:
        day_word, clock = _DAY_WORDS[words[1]], words[0]
    elif norm in _DAY_WORDS:
        raise _refuse(text, why="is a day without a time")
    at = _clock(clock, text)
    if day_word == "today":
        return wall_time(today, at, tz, text)
    if day_word == "tomorrow":
        return wall_time(today + timedelta(days=1), at, tz, text)
    if day_word is None:
        candidates = [today, today + timedelta(days=1)]
    else:
        assert isinstance(day_word, int)
        ahead = (day_word - today.weekday()) % 7
        candidates = [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)]
    # the first candidate still ahead (by its later reading, should the clocks change that night) is the one
    day = next((d for d in candidates if datetime.combine(d, at, tzinfo=tz).replace(fold=1) > now), candidates[-1])
    return wall_time(day, at, tz, text)


def parse_day(text: str, now: datetime, tz: ZoneInfo) -> date:
    """``today``, ``tomorrow``, ``mon`` (the next Monday, today if it is one), ``2026-12-03``."""
    norm = text.strip().lower() if isinstance(text, str) else ""
    today = now.astimezone(tz).date()
    word = _DAY_WORDS.get(norm)
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if isinstance(word, int):
        return today + timedelta(days=(word - today.weekday()) % 7)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", norm):
        try:
            return date.fromisoformat(norm)
        except ValueError:
            pass
    raise _refuse(str(text), DAY_FORMS, why="is not a day")


__all__ = ["DAY_FORMS", "TIME_FORMS", "WhenError", "parse_day", "parse_time", "wall_time"]
