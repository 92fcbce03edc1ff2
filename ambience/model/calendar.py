"""One occurrence of an event in a booking system's calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Event:
    """One occurrence of a calendar event, its times aware."""

    uid: str
    """The event's UID; empty if the feed gave none (such an event cannot be kept in step)."""
    key: str
    """What a booking remembers: the UID, or ``UID@<recurrence-id, UTC ISO>`` for a recurring event's occurrence."""
    summary: str = field(repr=False)
    """The title: read by the rules only, never shown (it often names the client)."""
    start: datetime
    end: datetime
    location: str = ""
    description: str = field(default="", repr=False)
    """Read by keyword rules only, never shown."""
    cancelled: bool = False
    categories: tuple[str, ...] = ()
    """The event's CATEGORIES (a booking system's service or resource names), read by room rules."""
    calendar: str = ""
    """The calendar's name: its X-WR-CALNAME, or the CalDAV calendar's name; read by room rules."""
    people: tuple[str, ...] = field(default=(), repr=False)
    """The names (CN) and addresses of its ORGANIZER and ATTENDEEs: read by ``practitioner`` rules only,
    never shown (an attendee is often the client)."""

    @property
    def length(self) -> float:
        return self.end.timestamp() - self.start.timestamp()  # real seconds: in one zone ``-`` is wall-clock time

    def label(self) -> str:
        """How messages name the event: its time, never its title (a title often names the client)."""
        return f"the event at {self.start:%Y-%m-%d %H:%M}"
