"""Fitting a playlist to a session: which track plays, and where in it, at every moment. Pure.

:func:`fit` orders the tracks for a session: shuffled from the session's seed (the same seed gives
the same order, so a restarted daemon resumes the same music), repeated only when the playlist is
shorter than the session, and chosen near the end so the last track ends close to the session end
(the fade-out then does not cut a track that has only just begun). ``FittedPlaylist.at(position)``
says which track plays, and where in it, at any moment of the session.

A track here is anything with a ``name`` and a ``length`` (:class:`Piece`): the files behind them
and reading their lengths are :mod:`ambience.music.library`'s; nothing here opens a file.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, Protocol, TypeVar

from ambience.errors import PlayerError
from ambience.units import format_duration

DEFAULT_FADE_OUT = 60.0
WINDOW_TRACKS = 5
"""The last stretch, chosen to end near the session end, is at least this many average tracks long."""
TAIL_CHOICE = 14
"""...or starts once this few tracks are left to choose from."""
SEARCH_BUDGET = 20_000
"""Most subsets tried when choosing the last tracks; keeps :func:`fit` fast on any library."""


class Piece(Hashable, Protocol):
    """What fitting needs of a track: a name for people and a length; equal pieces are the same track."""

    @property
    def name(self) -> str: ...

    @property
    def length(self) -> float:
        """Seconds."""
        ...


T = TypeVar("T", bound=Piece)


@dataclass(frozen=True)
class Entry(Generic[T]):
    index: int
    track: T
    start: float
    """Session seconds at which the track starts."""

    @property
    def end(self) -> float:
        return self.start + self.track.length


class Slot(NamedTuple, Generic[T]):
    """Where the music is at a moment: the entry's position in the fitted order, its track, seconds into it."""

    position: int
    track: T
    offset: float


class Repeats(NamedTuple, Generic[T]):
    """A fitted session that hears a track twice: from session second ``at`` (``track`` again), and
    ``times``, how often its most-played track plays."""

    at: float
    track: T
    times: int


@dataclass(frozen=True)
class FittedPlaylist(Generic[T]):
    entries: tuple[Entry[T], ...]
    length: float
    """The session length the order was fitted to."""
    fade_out: float = DEFAULT_FADE_OUT
    seed: int = 0
    _starts: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(e.start for e in self.entries))

    @property
    def total(self) -> float:
        """Seconds of music in the order (at least ``length``)."""
        return self.entries[-1].end if self.entries else 0.0

    @property
    def fade_out_at(self) -> float:
        """Session seconds at which the final fade-out begins."""
        return max(0.0, self.length - self.fade_out)

    @property
    def cut(self) -> float:
        """Seconds of the last track the session end leaves unplayed."""
        return max(0.0, self.total - self.length)

    def repeats(self) -> Repeats | None:
        """When the session first hears a track again and how often the most-played one plays; ``None`` when
        no track plays twice (issue 18: a playlist shorter than its session is said, not hidden)."""
        plays: Counter[T] = Counter()
        first: Entry[T] | None = None
        for entry in self.entries:
            if entry.start >= self.length:
                break  # the session has ended before it
            if plays[entry.track] and first is None:
                first = entry
            plays[entry.track] += 1
        if first is None:
            return None
        return Repeats(first.start, first.track, max(plays.values()))

    def at(self, position: float) -> Slot[T] | None:
        """The entry playing at session second ``position`` (before 0: the first); ``None`` past the music."""
        if not self.entries or position >= self.total:
            return None
        position = max(0.0, position)
        i = bisect.bisect_right(self._starts, position) - 1
        entry = self.entries[i]
        return Slot(i, entry.track, position - entry.start)

    def played(self, position: float) -> tuple[T, ...]:
        """The tracks started by ``position``: pass them as ``keep`` when refitting after an extension."""
        return tuple(e.track for e in self.entries if e.start <= position)


def _cycle(n: int, seed: int, k: int, shuffle: bool, last: int | None) -> list[int]:
    order = list(range(n))
    if shuffle:
        random.Random(f"ambience:{seed}:{k}").shuffle(order)
    if last is not None and n > 1 and order[0] == last:
        order[0], order[1] = order[1], order[0]
    return order


def _best_tail(candidates: list[int], lengths: list[float], need: float, last: int | None) -> list[int]:
    """A subsequence of ``candidates`` whose sum reaches ``need`` with the least excess.

    A depth-first search in candidate order, bounded by :data:`SEARCH_BUDGET` nodes, so it is
    deterministic and fast on any library. No track follows itself (nor ``last``, the track before
    the tail) unless there is no other. Requires ``sum(candidates) >= need``.
    """
    suffix = [0.0] * (len(candidates) + 1)
    for j in range(len(candidates) - 1, -1, -1):
        suffix[j] = suffix[j + 1] + lengths[candidates[j]]
    best: tuple[float, list[int]] = (suffix[0] - need, list(candidates))
    budget = SEARCH_BUDGET
    chosen: list[int] = []

    def search(j: int, total: float) -> bool:
        nonlocal best, budget
        budget -= 1
        if total >= need:
            if total - need < best[0]:
                best = (total - need, list(chosen))
            return best[0] < 0.05
        for k in range(j, len(candidates)):
            if total + suffix[k] < need or budget <= 0:
                break
            before = chosen[-1] if chosen else last
            if candidates[k] == before and len(set(candidates)) > 1:
                continue
            chosen.append(candidates[k])
            done = search(k + 1, total + lengths[candidates[k]])
            chosen.pop()
            if done:
                return True
        return False

    search(0, 0.0)
    return best[1]


def fit(
    tracks: Sequence[T],
    length: float,
    seed: int,
    *,
    fade_out: float = DEFAULT_FADE_OUT,
    shuffle: bool = True,
    keep: Sequence[T] = (),
) -> FittedPlaylist[T]:
    """Order ``tracks`` to cover a session of ``length`` seconds.

    - The order is a sequence of *cycles*, each every track once, shuffled from ``seed``; a track
      repeats only in a later cycle, which is reached only when the playlist is shorter than the
      session, and never plays twice in a row.
    - Tracks follow the cycle until the last stretch (the fade-out, or :data:`WINDOW_TRACKS` tracks
      on average, whichever is longer, or once only :data:`TAIL_CHOICE` tracks are left to choose
      from); the last stretch is the choice of the remaining tracks (and, for a short playlist, of
      the next cycle) whose end comes closest after the session end, so the fade-out meets the last
      track near its end rather than just after it began.
    - ``shuffle=False``: the playlist's own order, from the top, cut at the end.
    - ``keep``: tracks that must open the order (what has already played), for a refit after an
      extension; the rest continues the cycles as if they had come from them.
    Raises :class:`PlayerError` when there is nothing to play.
    """
    if not tracks:
        raise PlayerError("the playlist has no playable tracks")
    lengths = [t.length for t in tracks]
    if min(lengths) <= 0:
        raise PlayerError("every track must have a length above 0")
    n = len(tracks)
    index_of = {t: i for i, t in enumerate(tracks)}
    order: list[int] = []
    for t in keep:
        if t not in index_of:
            raise PlayerError(f"cannot keep {t.name!r}: it is not in the playlist")
        order.append(index_of[t])
    cum = sum(lengths[i] for i in order)
    cycle = len(order) // n
    used = Counter(order[cycle * n :])
    pool = []
    for i in _cycle(n, seed, cycle, shuffle, order[-1] if order and len(order) % n == 0 else None):
        if used[i]:
            used[i] -= 1
        else:
            pool.append(i)
    window = max(fade_out, WINDOW_TRACKS * sum(lengths) / n)
    while cum < length:
        if not pool:
            cycle += 1
            pool = _cycle(n, seed, cycle, shuffle, order[-1] if order else None)
        need = length - cum
        if shuffle:
            left = sum(lengths[i] for i in pool)
            candidates = pool if left >= need else pool + _cycle(n, seed, cycle + 1, shuffle, pool[-1])
            if sum(lengths[i] for i in candidates) >= need and (need <= window or len(candidates) <= TAIL_CHOICE):
                tail = _best_tail(candidates, lengths, need, order[-1] if order else None)
                order += tail
                break
        i = pool.pop(0)
        order.append(i)
        cum += lengths[i]
    entries: list[Entry[T]] = []
    start = 0.0
    for k, i in enumerate(order):
        entries.append(Entry(k, tracks[i], start))
        start += lengths[i]
    return FittedPlaylist(tuple(entries), float(length), float(fade_out), seed)


def describe(fitted: FittedPlaylist[T]) -> str:
    """One line: how many tracks, how long, where the fade-out begins."""
    return (
        f"{len(fitted.entries)} tracks, {format_duration(round(fitted.total, 1))} of music for "
        f"{format_duration(fitted.length)}; fade-out from {format_duration(fitted.fade_out_at)}"
    )
