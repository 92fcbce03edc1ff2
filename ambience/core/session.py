"""Session facts and their transitions. Pure: every method takes ``now``; nothing reads a clock.

A session's facts are all the timeline needs: when the treatment starts, how long it is,
how it was paused, extended or stopped, who the client is and the shuffle seed. Times are
POSIX seconds (float); *session time* is seconds since the start with pauses taken out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ambience.errors import CommandError
from ambience.model.client import Comfort
from ambience.units import format_duration


@dataclass(frozen=True)
class Pause:
    start: float
    end: float | None = None


@dataclass(frozen=True)
class SessionFacts:
    started_at: float
    """Wall time of session time 0: the treatment starts (the lead time comes before it)."""
    duration: float
    """The planned length in seconds: the preset's, or the one asked for at start."""
    extended: float = 0.0
    """Seconds added (or, negative, taken off) since the start."""
    pauses: tuple[Pause, ...] = ()
    lead: float = 0.0
    """Pre-conditioning before ``started_at``: only the climate is active."""
    comfort: Comfort = field(default_factory=Comfort)
    stopped_at: float | None = None
    seed: int = 0
    turnover: tuple[float, float] | None = None
    """Wall times (from, until) of a turnover before this session: it follows another straight on, and the
    room is turned over (working light, music off, the climate already this session's) from the end of
    that one. It may reach past ``started_at`` when the two touch."""

    @property
    def length(self) -> float:
        return max(0.0, self.duration + self.extended)

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    def paused_total(self, now: float) -> float:
        """Seconds of pause between the start and ``now``."""
        total = 0.0
        for p in self.pauses:
            start = max(p.start, self.started_at)
            end = now if p.end is None else min(p.end, now)
            if end > start:
                total += end - start
        return total

    def turning_over(self, now: float) -> bool:
        """The room is being turned over at ``now`` (the session has not been stopped)."""
        return self.turnover is not None and self.turnover[0] <= now < self.turnover[1] and self.stopped_at is None

    def elapsed(self, now: float) -> float:
        """Session time at ``now``; negative before the start, not capped at the end."""
        if self.stopped_at is not None:
            now = min(now, self.stopped_at)
        return now - self.started_at - self.paused_total(now)

    def ends_at(self, now: float) -> float:
        """Wall time of the end if nothing else changes (a pause going on counts up to ``now``)."""
        if self.stopped_at is not None:
            return self.stopped_at
        return self.started_at + self.length + self.paused_total(now)

    def to_wall(self, session_time: float, now: float) -> float:
        """The wall time at which ``session_time`` is reached, given no further pauses after ``now``."""
        return self.started_at + session_time + self.paused_total(now)

    # ---- transitions ------------------------------------------------------------------

    def _running(self, now: float, what: str) -> None:
        if self.stopped_at is not None or now >= self.ends_at(now):
            raise CommandError(f"cannot {what}: the session has ended")
        if now < self.started_at:
            raise CommandError(f"cannot {what}: the session starts in {format_duration(self.started_at - now)}")

    def pause(self, now: float) -> SessionFacts:
        self._running(now, "pause")
        if self.paused:
            raise CommandError("cannot pause: the session is already paused")
        return replace(self, pauses=self.pauses + (Pause(now),))

    def resume(self, now: float) -> SessionFacts:
        if not self.paused:
            raise CommandError("cannot resume: the session is not paused")
        last = self.pauses[-1]
        return replace(self, pauses=self.pauses[:-1] + (Pause(last.start, max(now, last.start)),))

    def extend(self, by: float, now: float) -> SessionFacts:
        """Add ``by`` seconds (negative shortens, but never to before ``now``)."""
        if self.stopped_at is not None or now >= self.ends_at(now):
            raise CommandError("cannot extend: the session has ended")
        floor = max(0.0, self.elapsed(now))
        extended = max(self.extended + by, floor - self.duration)
        return replace(self, extended=extended)

    def shifted(self, delta: float) -> SessionFacts:
        """Every wall time moved by ``delta`` seconds (the wall clock was stepped by it)."""
        return replace(
            self,
            started_at=self.started_at + delta,
            pauses=tuple(Pause(p.start + delta, None if p.end is None else p.end + delta) for p in self.pauses),
            stopped_at=None if self.stopped_at is None else self.stopped_at + delta,
            turnover=None if self.turnover is None else (self.turnover[0] + delta, self.turnover[1] + delta),
        )

    def stop(self, now: float) -> SessionFacts:
        if self.stopped_at is not None:
            raise CommandError("cannot stop: the session is already stopped")
        facts = self.resume(now) if self.paused else self
        return replace(facts, stopped_at=now)
