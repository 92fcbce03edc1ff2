"""What a room's speaker is to the rest of ambience: the :class:`Player` protocol, and :class:`FakePlayer`.

The room, the daemon and ``ambience play`` use a player through these six members only; a backend
(:class:`~ambience.music.mpv.MpvPlayer`, later Snapcast) implements them and is built by
:func:`ambience.music.registry.make_player`. What a player plays and at what volume is decided in
:mod:`ambience.core.envelope` (``plan_for``, ``keeping``); a backend carries it out and reports.

:class:`FakePlayer` plays in its head: it follows the same decisions, moves along its own clock as
a player would, skips files it is told cannot be opened, and fails as mpv does when told to (no
audio output, no libmpv). Room and controller tests assert the track, offset and volume it hears
without mpv; ``tests/test_player_contract.py`` holds it and :class:`MpvPlayer` to the same cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, Protocol, TypedDict

from ambience.core.envelope import Plan, keeping, late, plan_for
from ambience.core.fitting import Entry, FittedPlaylist, T
from ambience.model.state import MusicState
from ambience.music.library import Track

RETRY_AFTER = 30.0
"""Seconds before trying an audio output again after it failed."""


ProblemCode = Literal["no_speaker", "no_output", "no_music", "unreadable", "player"]
"""Why there is no music, or no sound, as a code a page can act on (docs/api.md)."""


class ShownProblem(TypedDict):
    code: ProblemCode
    text: str
    """Plain English for the person in the room, never mpv's own words."""


@dataclass(frozen=True)
class MusicProblem:
    """Why a player plays nothing, or nothing audible: a code, plain words for people, and the
    technical detail (mpv's words) for the log and ``ambience play``."""

    code: ProblemCode
    text: str
    detail: str

    def shown(self) -> ShownProblem:
        return {"code": self.code, "text": self.text}


def speaker_hint(audio_device: str) -> str:
    """What to check when no speaker answers: a home visit's speaker is a Bluetooth one (mpv's
    default device, or a ``bluez`` one); a named other device is named."""
    device = audio_device or "auto"
    if device == "auto" or "blue" in device.casefold():
        return "check the Bluetooth speaker"
    return f"check the speaker ({device})"


class PlayerStatus(TypedDict):
    """What a player says in the room status (``music`` of ``GET /rooms/<id>``)."""

    playing: bool
    track: str | None
    """The track's name (relative to its music folder) while one is loaded, paused or not."""
    title: str | None
    """The track's title for people (its tags, else its file name), while one is loaded."""
    volume: float
    """0–100: the envelope at the music's position, at most the room's ``max_volume``."""
    error: str | None
    """Why there is no music (or no sound), in the player's technical words; ``None`` when all is well."""
    problem: ShownProblem | None
    """The same as a code and plain words (:class:`MusicProblem`)."""
    silent: bool
    """It plays, but to no audible output (mpv's ``null``)."""


class Player(Protocol):
    """One room's speaker. Every method is safe to call in any order and never raises into the room."""

    async def open(self) -> bool:
        """Get ready to play; ``False`` (and :meth:`status` says why) when the speaker cannot be used."""
        ...

    async def follow(
        self, music: MusicState | None, fitted: FittedPlaylist[Track] | None, at: float | None = None
    ) -> None:
        """Make the music what ``music`` says, playing ``fitted`` (``None``: stop). Idempotent.
        ``at``: the moment (of the player's clock) ``music`` is for."""
        ...

    def status(self) -> PlayerStatus: ...

    @property
    def position(self) -> float | None:
        """Session seconds of the music playing now (``None``: nothing loaded)."""
        ...

    @property
    def output(self) -> str | None:
        """The audio output in use, for people (mpv's ``current-ao``)."""
        ...

    async def close(self) -> None:
        """Stop and let go of the speaker. Safe to call twice."""
        ...


def no_output(audio_device: str, ao: str | None, retry_after: float, by: str = "mpv") -> MusicProblem:
    """The problem of a player whose audio output would not open (the speaker is gone or off)."""
    where = f"audio device {audio_device!r}" + (f" (outputs tried: {ao})" if ao else "")
    detail = (
        f"no audio output: {by} could not open {where}: audio output initialization failed; "
        f"music is off, retrying every {retry_after:g}s"
    )
    return MusicProblem("no_speaker", f"no speaker found — {speaker_hint(audio_device)}", detail)


def silent_output(audio_device: str, tried: list[str]) -> MusicProblem:
    """The problem of a player that fell back to the null output: it plays, and nobody hears it."""
    detail = f"no sound output: playing silently to the null output (tried {', '.join(tried)})"
    return MusicProblem("no_output", f"no speaker found — playing silently; {speaker_hint(audio_device)}", detail)


def unavailable(why: str) -> MusicProblem:
    """The problem of a player that cannot run here (no libmpv, mpv would not start)."""
    return MusicProblem(
        "player", "the music player cannot run on this machine (the log says why)", f"music is off: {why}"
    )


def failed(exc: object) -> MusicProblem:
    """The problem of a player call that failed."""
    return MusicProblem("player", "the music player failed (the log says why); it tries again", f"music error: {exc}")


def playing(
    plan: Plan[T] | None,
    entry: Entry[T] | None,
    position: float | None,
    paused: bool,
    problem: MusicProblem | None,
    cap: float,
    silent: bool = False,
) -> PlayerStatus:
    """The status of a player that plays ``entry`` of ``plan`` (``None``: nothing), at session second ``position``."""
    error, shown = (None, None) if problem is None else (problem.detail, problem.shown())
    if plan is None or entry is None:
        return {"playing": False, "track": None, "title": None, "volume": 0.0, "error": error, "problem": shown,
                "silent": False}  # fmt: skip
    at = position if position is not None else plan.envelope.points[0][0]
    track = entry.track
    return {
        "playing": not paused,
        "track": getattr(track, "name", str(track)),
        "title": getattr(track, "title", None) or getattr(track, "name", str(track)),
        "volume": round(min(plan.envelope.at(at), cap), 2),
        "error": error,
        "problem": shown,
        "silent": silent and not paused,
    }


class Followed(NamedTuple, Generic[T]):
    """One call of :meth:`FakePlayer.follow`, as it was made."""

    music: MusicState | None
    fitted: FittedPlaylist[T] | None
    at: float | None


@dataclass(frozen=True)
class Heard(Generic[T]):
    """What a :class:`FakePlayer` plays at a moment: the entry's index and track, seconds into it, the volume."""

    index: int
    track: T
    offset: float
    volume: float
    paused: bool


class FakePlayer(Generic[T]):
    """A :class:`Player` with no sound, for tests: records every call and plays in its head.

    It decides as every player does (:func:`~ambience.core.envelope.plan_for`, ``keeping``): a reload
    only when the music is off its place, a changed envelope spliced in. It then plays the queue in
    ``clock`` time: each file from its start (the first from the slot's offset), cut at the session
    end; a paused player holds its place. A file told :meth:`fail_track` is skipped at once, the next
    one starting from its beginning, as mpv skips a file it cannot open (and says nothing about it).
    """

    def __init__(
        self,
        *,
        audio_device: str = "auto",
        ao: str | None = None,
        max_volume: float = 100,
        name: str = "music",
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.time,
    ):
        self.audio_device = audio_device or "auto"
        self.ao = ao
        self.max_volume = float(min(100.0, max(0.0, max_volume)))
        self.name = name
        self.retry_after = retry_after
        self.clock = clock
        self.followed: list[Followed[T]] = []
        """Every :meth:`follow`, in order."""
        self.reloads = 0
        """Loads of the queue (a start or a seek), as :attr:`MpvPlayer.reloads`."""
        self.opened = self.closed = False
        self.output: str | None = None
        self._unavailable: MusicProblem | None = None
        self._no_output = False
        self._null_output = False
        self._unplayable: set[T] = set()
        self._problem: MusicProblem | None = None
        self._ao_failed_at: float | None = None
        self._plan: Plan[T] | None = None
        self._silent = False
        """The queue was loaded but nothing plays (the output would not open)."""
        self._offset = 0.0
        """Seconds into the queue's first entry it began."""
        self._played = 0.0
        """Seconds of the queue played before :attr:`_since`."""
        self._since = 0.0
        self._paused = False

    # ---- telling it to fail ---------------------------------------------------------------------

    def fail_open(self, why: str = "libmpv cannot be loaded (FakePlayer.fail_open)") -> None:
        """From now on it cannot be opened, as without libmpv: :meth:`open` returns False, :meth:`status` says why."""
        self._unavailable = unavailable(why)

    def fail_output(self, failing: bool = True) -> None:
        """The audio output will not open (from the next load), as mpv with a device that is gone."""
        self._no_output = failing

    def fall_back_to_null(self, silent: bool = True) -> None:
        """The outputs tried all fail and mpv plays to ``null`` (from the next load): it plays, silently."""
        self._null_output = silent

    def fail_track(self, track: T) -> None:
        """``track``'s file cannot be opened (missing, unreadable): it is skipped when its turn comes."""
        self._unplayable.add(track)

    # ---- the Player protocol --------------------------------------------------------------------

    async def open(self) -> bool:
        self.opened = True
        return self._unavailable is None

    async def follow(self, music: MusicState | None, fitted: FittedPlaylist[T] | None, at: float | None = None) -> None:
        self.followed.append(Followed(music, fitted, at))
        if self.closed:
            return
        if not self.opened:
            await self.open()
        if self._unavailable is not None:
            return
        now, force = self.clock(), False
        if music is not None and self._ao_failed_at is not None:
            if now - self._ao_failed_at < self.retry_after:
                return
            self._ao_failed_at, self._problem, force = None, None, True
        if music is not None and music.playing and at is not None:
            music = late(music, max(0.0, now - at))
        planned = plan_for(music, fitted, self.max_volume)
        if music is None or planned is None:
            self._plan = None
            return
        new, slot = planned
        where = None if force else self._where(now)
        kept = keeping(self._plan, where, music.position, new)
        if where is not None and kept is not None:
            if kept is not self._plan:  # the same file plays on, the new order queued after it
                self._plan, self._offset, self._played, self._since = kept, where[1], 0.0, now
            self._pause(not music.playing, now)
            return
        self.reloads += 1
        self._plan, self._offset, self._played, self._since = new, slot.offset, 0.0, now
        self._paused = not music.playing
        self._silent = self._no_output
        if self._no_output:
            self._problem = no_output(self.audio_device, self.ao, self.retry_after)
            self._ao_failed_at = now
        else:
            self.output = "null" if self._null_output else (self.ao or "auto").split(",")[0]

    def status(self) -> PlayerStatus:
        if self._unavailable is not None:
            return playing(None, None, None, False, self._unavailable, self.max_volume)
        where = self._where(self.clock())
        entry = None if where is None or self._plan is None else self._plan.fitted.entries[where[0]]
        position = None if where is None or entry is None else entry.start + where[1]
        problem, silent = self._problem, False
        if problem is None and self.output == "null" and self._null_output:
            tried = [a.strip() for a in (self.ao or "pipewire,pulse,alsa").split(",") if a.strip() != "null"]
            problem, silent = silent_output(self.audio_device, tried), True
        return playing(self._plan, entry, position, self._paused, problem, self.max_volume, silent)

    @property
    def position(self) -> float | None:
        heard = self.heard()
        return (
            None if heard is None or self._plan is None else self._plan.fitted.entries[heard.index].start + heard.offset
        )

    async def close(self) -> None:
        self.closed = True
        self._plan = None

    # ---- what it hears ----------------------------------------------------------------------------

    def heard(self, at: float | None = None) -> Heard[T] | None:
        """What plays at the moment ``at`` (default: now), if nothing is asked of the player meanwhile."""
        plan = self._plan
        where = self._where(self.clock() if at is None else at)
        if plan is None or where is None:
            return None
        index, offset = where
        entry = plan.fitted.entries[index]
        volume = round(min(plan.envelope.at(entry.start + offset), self.max_volume), 2)
        return Heard(index, entry.track, offset, volume, self._paused)

    def _where(self, now: float) -> tuple[int, float] | None:
        """The entry the queue plays at ``now`` and how far into it: each file from its start (the first from
        :attr:`_offset`), a file that cannot be opened skipped, the one at the session end cut there."""
        plan = self._plan
        if plan is None or self._silent or self.closed:
            return None
        left = self._played + (0.0 if self._paused else max(0.0, now - self._since))
        start = self._offset
        for index in range(plan.base, len(plan.fitted.entries)):
            entry = plan.fitted.entries[index]
            if entry.track not in self._unplayable:
                span = min(entry.track.length, plan.fitted.length - entry.start) - start
                if left < span:
                    return index, start + left
                left -= max(0.0, span)
            start = 0.0
        return None

    def _pause(self, paused: bool, now: float) -> None:
        if paused and not self._paused:
            self._played += max(0.0, now - self._since)
        elif self._paused and not paused:
            self._since = now
        self._paused = paused
