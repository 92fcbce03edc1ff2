"""A room's day as the front desk sees it: booked, pre-heat, running, turnover and free spans. Pure: no clock.

:func:`day_plan` lays each room's bookings and its running session on the day's bounds as spans
that never overlap and leave no hole, in time order:

- ``lead``: a booking's pre-heat (``start − lead`` to ``start``), the climate and the early switches on;
- ``booking``: a booked session still to come (``start`` to ``end``);
- ``session``: the session running now (its start to when it ends, extensions included);
- ``turnover``: between two sessions that follow each other, by the room's rule
  (:class:`~ambience.model.preset.Turnover`): when the next booking's pre-heat starts at or before the
  previous end + ``turnover.length`` and the booking itself starts at or after that end, the room goes from
  the previous session straight into ``turnover.length`` of turnover (it may take the first minutes of the
  next session when the two touch), then into the next pre-heat or session;
- ``free``: anything else (the room in its after state, or nothing booked).

A booking the session before runs over (its client waits) follows it through a turnover, shifted whole.

A span cut by an earlier one (a turnover into the next session, a session running over the next booking's
start) starts where the earlier one ends; a span keeps what it belongs to (``item``) with its own times.
Every time is seconds since the epoch (real time: an instant on either side of a clock change is exact).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ambience.core.booking import handover

Kind = Literal["free", "lead", "booking", "session", "turnover"]


@dataclass(frozen=True)
class DayBooking:
    """A booking still to come, as the desk may show it: the client label only, never more."""

    id: str
    room: str
    preset: str
    label: str | None
    start: float
    end: float
    lead: float
    waiting: str | None = None
    """Why it has not started though its time has come (the room is busy)."""


@dataclass(frozen=True)
class DaySession:
    """The session on in a room now (running, paused or pre-heating); ``booking``: the booking it runs, if any."""

    room: str
    preset: str
    label: str | None
    start: float
    end: float
    lead: float
    state: str
    phase: str | None = None
    booking: str | None = None


@dataclass(frozen=True)
class Span:
    kind: Kind
    start: float
    end: float
    item: DayBooking | DaySession | None = None


def day_plan(
    rooms: Sequence[str],
    bookings: Iterable[DayBooking],
    sessions: Iterable[DaySession],
    turnover: Mapping[str, float],
    day: tuple[float, float],
) -> dict[str, list[Span]]:
    """Each of ``rooms`` (in that order) as spans covering ``day`` (from, to) whole; ``turnover``: seconds per room
    (300 where a room is not named). A booking the running session is already running is shown as that session."""
    running = {s.room: s for s in sessions}
    booked: dict[str, list[DayBooking]] = {room: [] for room in rooms}
    for b in bookings:
        session = running.get(b.room)
        if b.room in booked and not (session is not None and session.booking == b.id):
            booked[b.room].append(b)
    out = {}
    for room in rooms:
        items: list[DayBooking | DaySession] = [*booked[room]]
        if room in running:
            items.append(running[room])
        items.sort(key=lambda i: (i.start, i.end))
        out[room] = _room_day(items, turnover.get(room, 300.0), day)
    return out


def _room_day(items: list[DayBooking | DaySession], length: float, day: tuple[float, float]) -> list[Span]:
    spans: list[Span] = []
    cursor = -float("inf")
    """Where the next span may start: the end of everything laid down so far."""
    previous_end: float | None = None

    def lay(kind: Kind, start: float, end: float, item: DayBooking | DaySession | None = None) -> None:
        nonlocal cursor
        start = max(start, cursor)
        if end > start:
            spans.append(Span(kind, start, end, item))
            cursor = end

    for item in items:
        pre_heat = item.start - item.lead
        late = isinstance(item, DayBooking) and item.waiting is not None
        late = late and previous_end is not None and item.start < previous_end  # a client kept waiting
        if previous_end is not None and (late or handover(previous_end, item.start, item.lead, length)):
            lay("turnover", previous_end, previous_end + length)
        elif cursor < pre_heat:
            lay("free", cursor, pre_heat)
        start, end = item.start, item.end
        if late and previous_end is not None:
            start, end = previous_end, previous_end + (end - start)  # it follows on, shifted whole
        lay("lead", pre_heat, item.start, item)
        lay("session" if isinstance(item, DaySession) else "booking", start, end, item)
        previous_end = end if previous_end is None else max(previous_end, end)
    return _clip(spans, day)


def _clip(spans: list[Span], day: tuple[float, float]) -> list[Span]:
    """The spans within ``day``, the holes (before the first, after the last) free."""
    start, end = day
    out: list[Span] = []
    cursor = start
    for span in spans:
        a, b = max(span.start, start), min(span.end, end)
        if b <= a:
            continue
        if a > cursor:
            out.append(Span("free", cursor, a))
        out.append(Span(span.kind, a, b, span.item))
        cursor = b
    if cursor < end:
        out.append(Span("free", cursor, end))
    return _merged(out)


def _merged(spans: list[Span]) -> list[Span]:
    """Free spans next to each other as one."""
    out: list[Span] = []
    for span in spans:
        if out and span.kind == "free" and out[-1].kind == "free":
            out[-1] = Span("free", out[-1].start, span.end)
        else:
            out.append(span)
    return out


__all__ = ["DayBooking", "DaySession", "Span", "day_plan"]
