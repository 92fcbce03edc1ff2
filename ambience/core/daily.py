"""A switch kept on for the working day (a towel cabinet: on at opening, off at closing). Pure.

A room's switch may carry a daily schedule (``daily: {on: "08:00", off: "19:30", days: [mon, ...]}``,
:class:`ambience.config.devices.DailySchedule`): on from ``on`` to ``off``, local wall time in the
clinic's zone, on each of ``days``. An ``off`` before the ``on`` runs over midnight: the span that
begins on a listed day ends the next morning, whatever that day is. A session that names the switch's
role wins while it runs (the room decides that; this module only says what the schedule wants).

Local times are turned into instants with :mod:`zoneinfo`, one day at a time, so a span is as long as
the clocks say on a daylight-saving day (08:00–20:00 is 12 real hours either side of a change; an
overnight 22:00–06:00 is 7 hours the night the clocks go forward, 9 the night they go back):

- a time the clocks skip (01:30 when they go from 01:00 to 02:00) counts as the moment they go forward;
- a time they show twice (01:30 when they go back) is the first of the two;
- ``on`` equal to ``off`` is no span at all: the schedule never switches the device on.

The schedule is taken as any object with ``on``, ``off`` (``"HH:MM"``) and ``days`` (``mon`` …
``sun``), :class:`DailyTimes`: core sits below config, so the config's model is not imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ambience.model.state import Switch

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOK_AHEAD = 8
"""Days searched for the next change: a schedule on any day of the week changes within 8."""


class DailyTimes(Protocol):
    """What a daily schedule is to this module (``config.devices.DailySchedule`` is one)."""

    @property
    def on(self) -> str: ...

    @property
    def off(self) -> str: ...

    @property
    def days(self) -> Sequence[str]: ...


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _instant(day: date, at: time, zone: ZoneInfo) -> float:
    """POSIX time of ``day`` at wall time ``at`` in ``zone`` (skipped: when the clocks go forward;
    shown twice: the first)."""
    local = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first of a repeated time
    t = local.timestamp()
    if datetime.fromtimestamp(t, zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return t
    # skipped: fold=1 reads it with the offset after the change, an instant before it; find the change
    lo, hi = int(local.replace(fold=1).timestamp()), int(t)
    before = datetime.fromtimestamp(lo, zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return float(hi)


def _spans(schedule: DailyTimes, first: date, days: int, zone: ZoneInfo) -> Iterator[tuple[float, float]]:
    """(on, off) instants of the spans that begin on the ``days`` days from ``first``."""
    on, off = _clock(schedule.on), _clock(schedule.off)
    if on == off:
        return
    for offset in range(days):
        day = first + timedelta(days=offset)
        if DAYS[day.weekday()] in schedule.days:
            ends = day + timedelta(days=1) if off < on else day
            yield _instant(day, on, zone), _instant(ends, off, zone)


def _today(now: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(now, zone).date()


def daily_on(schedule: DailyTimes, now: float, zone: ZoneInfo) -> bool:
    """Whether the schedule wants the switch on at ``now`` (a span that began yesterday counts)."""
    yesterday = _today(now, zone) - timedelta(days=1)
    return any(start <= now < end for start, end in _spans(schedule, yesterday, 2, zone))


def next_daily_change(schedule: DailyTimes, now: float, zone: ZoneInfo) -> float | None:
    """The first instant after ``now`` at which :func:`daily_on` changes; ``None``: it never does (no
    days, or ``on`` equal to ``off``)."""
    yesterday = _today(now, zone) - timedelta(days=1)
    current = daily_on(schedule, now, zone)
    edges = sorted({t for span in _spans(schedule, yesterday, LOOK_AHEAD + 1, zone) for t in span if t > now})
    return next((t for t in edges if daily_on(schedule, t, zone) != current), None)


def daily_switches(schedules: Mapping[str, DailyTimes], now: float, zone: ZoneInfo) -> dict[str, Switch]:
    """Per key (a device id, or a role), the switch its daily schedule wants at ``now``."""
    return {key: Switch(daily_on(schedule, now, zone)) for key, schedule in schedules.items()}


def next_daily_switch_change(schedules: Mapping[str, DailyTimes], now: float, zone: ZoneInfo) -> float | None:
    """The first instant after ``now`` at which any of ``schedules`` changes (``None``: none ever does)."""
    changes = [t for s in schedules.values() if (t := next_daily_change(s, now, zone)) is not None]
    return min(changes, default=None)
