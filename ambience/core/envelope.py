"""The music volume envelope, and how a player follows a music state without a needless reload. Pure.

The envelope is the music volume (0–100) over *session seconds*, piecewise linear: the state's
ramp (``volume`` → ``target`` over ``ramp``), then ``target`` held until the fitted fade-out
begins, then a straight line to silence at the session end. A player applies it in the music's
own time (:mod:`ambience.music.mpv` turns it into a filter expression), so a fade the daemon
starts runs to its end with no timer.

Following a state (:func:`plan_for`, :func:`keeping`): a player that already plays the right file
at the right place of the session keeps it (a changed envelope spliced in); otherwise it loads the
fitted order from :meth:`FittedPlaylist.at`. Every player uses these two, so what plays, and at
what volume, is decided here once and the players only carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic

from ambience.core.fitting import FittedPlaylist, Slot, T
from ambience.model.state import MusicState

DRIFT = 1.5
"""Seconds a player may be off the session's music position before following it seeks."""
LEAD = 1.0
"""Seconds of audio a player may already have filtered ahead of what is heard: an envelope changed while a
file plays keeps the old one this far ahead of the music position, then joins the new one (see splice)."""
CATCH_UP = 0.25
"""Seconds at least to join a new envelope that has no turning point soon after the lead..."""
CATCH_UP_RATE = 10.0
"""...and no faster than this many volume points a second (an extension during the fade-out swells back)."""
JOIN_WITHIN = 3.0
"""A new envelope's turning point this close after the lead is where the splice joins it."""


@dataclass(frozen=True)
class Envelope:
    """The music volume (0–100, mpv's perceptual scale) over session seconds, piecewise linear.

    Held at the first value before the first point and at the last after the last point; two
    points at the same time make a step.
    """

    points: tuple[tuple[float, float], ...]

    @classmethod
    def follow(cls, music: MusicState, fitted: FittedPlaylist[T], cap: float) -> Envelope:
        """The envelope the timeline implies from ``music`` on, if nothing else changes."""
        length = fitted.length
        p = max(0.0, music.position)
        if p >= length:
            return cls(((p, 0.0),))
        v0 = min(cap, max(0.0, music.volume))
        v1 = min(cap, max(0.0, music.target))
        points = [(p, v0)]
        end = p
        if music.ramp > 0:
            end = p + music.ramp
            points.append((end, v1))
        else:
            v1 = v0
        if end < fitted.fade_out_at:
            points.append((fitted.fade_out_at, v1))
        points = [(min(t, length), v) for t, v in points]
        points.append((length, 0.0))
        return cls(tuple(points))

    def splice(self, new: Envelope, now: float) -> tuple[Envelope, float]:
        """This envelope until ``now`` + :data:`LEAD` (what the player may have filtered already), then into ``new``.

        Joins at ``new``'s next turning point if it comes within :data:`JOIN_WITHIN` seconds (a short
        fade keeps its end), else on ``new``'s own course after :data:`CATCH_UP` seconds, longer for a
        big step (:data:`CATCH_UP_RATE`). Returns the envelope and the second from which it equals ``new``.
        """
        at = now + LEAD
        head = [(now, self.at(now))] + [q for q in self.points if now < q[0] < at] + [(at, self.at(at))]
        later = [q for q in new.points if q[0] > at]
        if later and later[0][0] <= at + JOIN_WITHIN:
            join, rest = later[0], later[1:]
        else:
            t1 = at + max(CATCH_UP, abs(new.at(at) - self.at(at)) / CATCH_UP_RATE)
            join, rest = (t1, new.at(t1)), [q for q in new.points if q[0] > t1]
        return Envelope(tuple(head + [join] + rest)), join[0]

    def at(self, s: float) -> float:
        pts = self.points
        if s < pts[0][0]:
            return pts[0][1]
        for (s0, v0), (s1, v1) in zip(pts, pts[1:], strict=False):
            if s < s1:
                return v0 + (v1 - v0) * (s - s0) / (s1 - s0)
        return pts[-1][1]

    def same_after(self, other: Envelope, s: float) -> bool:
        """Whether both give the same volume from session second ``s`` on."""
        times = sorted({s} | {t for t, _ in self.points + other.points if t > s})
        probes = times + [(a + b) / 2 for a, b in zip(times, times[1:], strict=False)]
        return all(abs(self.at(x) - other.at(x)) < 1e-6 for x in probes)


@dataclass(frozen=True)
class Plan(Generic[T]):
    """What a player was told: the fitted order, the entry at the head of its queue, the envelope."""

    fitted: FittedPlaylist[T]
    base: int
    """The entry of ``fitted`` the player's queue begins with."""
    envelope: Envelope
    settled: float = 0.0
    """Session second from which ``envelope`` is the timeline's own (before it: a splice)."""


def late(music: MusicState, seconds: float) -> MusicState:
    """``music`` as it is ``seconds`` later, for a state computed a while before the player gets to it."""
    return replace(music, position=music.position + seconds, ramp=max(0.0, music.ramp - seconds))


def plan_for(music: MusicState | None, fitted: FittedPlaylist[T] | None, cap: float) -> tuple[Plan[T], Slot[T]] | None:
    """What to load to follow ``music``: the queue from the slot's entry, and where in it to begin.
    ``None``: nothing to play (no music, or the session's music is over)."""
    if music is None or fitted is None or music.position >= fitted.length:
        return None
    slot = fitted.at(music.position)
    if slot is None:
        return None
    return Plan(fitted, slot.position, Envelope.follow(music, fitted, cap)), slot


def keeping(old: Plan[T] | None, where: tuple[int, float] | None, position: float, new: Plan[T]) -> Plan[T] | None:
    """The plan that carries out ``new`` without a reload, for a player that plays ``old``'s entry
    ``where[0]``, ``where[1]`` seconds in, while the session's music is at ``position``.

    The same track at the same place of the session in the new order, within :data:`DRIFT` of where it
    should be, keeps playing (comparing session seconds, so a track boundary between the two is no
    reason to seek): ``old`` itself when nothing changes from ``position`` on, else the new order from
    that entry, with the new envelope spliced into the old (:meth:`Envelope.splice`). ``None``: load
    ``new`` anew.
    """
    if old is None or where is None:
        return None
    index, offset = where
    playing = old.fitted.entries[index]
    mine = new.fitted.at(playing.start)
    if mine is None or mine.offset >= 1e-6 or mine.track != playing.track:
        return None
    if abs(playing.start + offset - position) > DRIFT:
        return None
    since = max(position, old.settled)
    if old.fitted == new.fitted and mine.position == index and new.envelope.same_after(old.envelope, since):
        return old
    envelope, settled = new.envelope, 0.0
    if not envelope.same_after(old.envelope, position):
        envelope, settled = old.envelope.splice(envelope, position)
    return Plan(new.fitted, mine.position, envelope, settled)
