"""One occurrence of an event in a booking system's calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Event:
    """One occurrence of a calendar event, its times aware."""

    uid: str
    """The event's UID; empty if the feed gave none (such an event cannot be kept in step)."""
    key: str
    """What a booking remembers: the UID, or ``UID@<recurrence-id, UTC ISO>`` for a recurring event's occurrence."""
    summary: str
    start: datetime
    end: datetime
    location: str = ""
    description: str = ""
    cancelled: bool = False

    @property
    def length(self) -> float:
        return self.end.timestamp() - self.start.timestamp()  # real seconds: in one zone ``-`` is wall-clock time

    def label(self) -> str:
        return f"{self.summary or '(no title)'!r} at {self.start:%Y-%m-%d %H:%M}"
