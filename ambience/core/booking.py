"""The booking rules: what a booking is, when it is, and whether two meet. Pure: no clock, no store.

- a booking's local wall time is kept across daylight-saving changes (zoneinfo): :func:`local_time`
  refuses a time the clocks skip, and a weekly template (:func:`expand_weekly`) at such a time is
  left out that week;
- every length, lead and overlap is reckoned on UTC instants (:func:`later`, timestamps): an aware
  ``datetime`` plus a ``timedelta`` is wall-clock arithmetic in Python, an hour off across a change,
  and two in the same zone compare by wall time. A local time is only parsed and shown;
- a booking whose session overlaps another's in the same room is refused (:func:`overlapping`); a lead
  reaching into the session before is not an overlap: the room goes through a turnover (:func:`handover`).

:class:`ambience.app.scheduler.BookingService` keeps the bookings as APScheduler jobs by these rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ambience.errors import BookingError
from ambience.units import format_duration, say_clock

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Booking:
    id: str
    room: str
    preset: str
    start: datetime
    duration: float | None
    lead: float
    client: str | None = None
    source: str = "manual"
    uid: str | None = None
    waiting: str | None = None
    """Why it has not started yet though its time has come (a manual session in the room)."""

    def kwargs(self) -> dict[str, Any]:
        """The job's kwargs: JSON-like values only, so the job survives any restart."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # plain values: no deep copy needed
        out["start"] = self.start.isoformat()
        out["tz"] = _tz_name(self.start)
        return out

    @classmethod
    def from_kwargs(cls, data: dict[str, Any]) -> Booking:
        start = datetime.fromisoformat(data["start"])
        if data.get("tz"):
            start = start.astimezone(ZoneInfo(data["tz"]))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "start": start})

    def length(self, preset_length: float) -> float:
        return self.duration if self.duration is not None else preset_length

    def json(self, preset_length: float | None = None) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # plain values: no deep copy needed
        out["start"] = self.start.isoformat()
        if preset_length is not None:
            out["end"] = later(self.start, self.length(preset_length)).isoformat()
        return out


def _tz_name(moment: datetime) -> str | None:
    key = getattr(moment.tzinfo, "key", None)
    return key if isinstance(key, str) else None


def later(moment: datetime, seconds: float) -> datetime:
    """``seconds`` of real time after ``moment`` (before, if negative), shown in ``moment``'s zone."""
    return (moment.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(moment.tzinfo)


def local_time(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``tz``; refuses a time that does not exist (clocks go forward)."""
    moment = datetime.combine(day, at, tzinfo=tz)
    back = moment.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise BookingError(f"{day} {at:%H:%M} does not exist in {tz.key} (the clocks go forward then)")
    return moment


def parse_when(text: str, tz: ZoneInfo) -> datetime:
    """``"2026-12-01 14:00"`` (the clinic's time) or an ISO 8601 time with an offset."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BookingError(f"{text!r} is not a time; write e.g. '2026-12-01 14:00' or ISO 8601") from None
    if moment.tzinfo is None:
        return local_time(moment.date(), moment.time(), tz)
    try:
        return moment.astimezone(tz)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first day there is
        raise BookingError(f"{text!r} is out of range") from None


def overlapping(
    room: str, start: datetime, end: datetime, others: Iterable[tuple[Booking, datetime]]
) -> Booking | None:
    """The first of ``others`` (booking, its end) in ``room`` whose session meets ours (in real time).

    Only the sessions count: a lead (pre-heat) reaching back into the session before is not a clash,
    the room goes from that session to this one through a turnover (:func:`handover`). Two bookings
    that touch (09:00–10:00, 10:00–11:00) are both accepted."""
    ours_from, ours_end = start.timestamp(), end.timestamp()
    for other, other_end in others:
        if other.room != room:
            continue
        if ours_from < other_end.timestamp() and other.start.timestamp() < ours_end:
            return other
    return None


def handover(previous_end: float, start: float, lead: float, turnover: float) -> bool:
    """Whether a booking starting at ``start`` with ``lead`` follows the session ending at ``previous_end``
    straight on, through a ``turnover``-long change of linen, instead of the room going back to its after
    state in between: its pre-heat would begin before the turnover is over, and its session does not
    begin before the previous one ends. POSIX seconds."""
    return start >= previous_end and start - lead <= previous_end + turnover


def booking_lead(requested: float | None, default: float, switch_lead: float) -> float:
    """A booking's lead: the one asked for (else ``bookings.lead``), at least its preset's earliest switch
    ``from`` before the start (a warmer's ``from: -40m``)."""
    return max(default if requested is None else requested, switch_lead)


def admit(booking: Booking, end: datetime, now: datetime, others: Iterable[tuple[Booking, datetime]],
          label: Callable[[Booking], str] = lambda b: f"booking {b.id}", *, twelve: bool = False) -> None:  # fmt: skip
    """Refuse (:class:`BookingError`) a booking ending by ``now`` or meeting one of ``others`` (booking, its end)
    in its room, naming that one (``label``). The one check of the booking service and of a sync's plan.
    Times are said in the booking's zone, with am/pm if ``twelve``."""

    def day_and_time(moment: datetime) -> str:
        return f"{moment:%Y-%m-%d} {say_clock(moment, twelve=twelve)}"

    if end <= now:
        length = end.timestamp() - booking.start.timestamp()
        raise BookingError(f"{day_and_time(booking.start)} + {format_duration(length)} is in the past")
    near = [(other, other_end) for other, other_end in others if other.id != booking.id]
    clash = overlapping(booking.room, booking.start, end, near)
    if clash is not None:
        clash_end = next(other_end for other, other_end in near if other is clash)
        raise BookingError(
            f"room {booking.room!r} is booked then: {label(clash)} ({clash.preset}, "
            f"{day_and_time(clash.start)}–{say_clock(clash_end.astimezone(clash.start.tzinfo), twelve=twelve)})"
        )


def expand_weekly(weekday: str, at: time, tz: ZoneInfo, today: date, days: int) -> list[datetime]:
    """Every ``weekday`` at ``at`` (local) from ``today`` for ``days`` days; a day the time is skipped is
    left out (a warning in the log)."""
    index = WEEKDAYS.index(weekday)
    out = []
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        if day.weekday() == index:
            try:
                out.append(local_time(day, at, tz))
            except BookingError as exc:
                log.warning("recurring booking skipped: %s", exc)
    return out
