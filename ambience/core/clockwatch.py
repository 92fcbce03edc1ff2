"""Noticing steps of the wall clock. Pure: give it both clocks' readings, it says how far the wall jumped.

A Raspberry Pi without a real-time clock boots with the time it last saved, and NTP then steps it
forward, often by minutes; an administrator may set it back. Sessions and bookings are wall-clock
times, but asyncio sleeps on the monotonic clock, so a daemon that only slept would notice a step
at its next wake, minutes later. The daemon compares the two clocks every
:data:`CHECK_EVERY` seconds; a change of their difference by :data:`STEP` or more is a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHECK_EVERY = 1.0
"""Seconds between readings."""
STEP = 2.0
"""Seconds of change in (wall − monotonic) that count as a step, not as NTP's slewing or a slow wake."""


@dataclass
class ClockWatch:
    step: float = STEP
    _offset: float | None = field(default=None, repr=False)

    def observe(self, wall: float, monotonic: float) -> float | None:
        """The jump of the wall clock since the last reading, or ``None`` when it did not jump."""
        offset = wall - monotonic
        last, self._offset = self._offset, offset
        if last is None:
            return None
        delta = offset - last
        return delta if abs(delta) >= self.step else None


__all__ = ["CHECK_EVERY", "STEP", "ClockWatch"]
