"""Playlists: find them under the music folders, read their tracks, fit them to a session. Pure of mpv.

A playlist is named relative to one of the configured music folders: a folder (its audio files,
recursively, in name order) or an ``.m3u``/``.m3u8`` file. A name that leads outside the music
folders (``..``, an absolute path, a symlink out) is refused with a :class:`PlayerError`. A track
that cannot be read, has no length or lies outside the folders is skipped and reported in
``Playlist.problems``; one bad file never stops a playlist.

:func:`fit` orders the tracks for a session: shuffled from the session's seed (the same seed gives
the same order, so a restarted daemon resumes the same music), repeated only when the playlist is
shorter than the session, and chosen near the end so the last track ends close to the session end
(the fade-out then does not cut a track that has only just begun). ``FittedPlaylist.at(position)``
says which track plays, and where in it, at any moment of the session.
"""

from __future__ import annotations

import bisect
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple

from ambience.errors import Issue, PlayerError
from ambience.units import format_duration


@dataclass(frozen=True)
class AudioFormat:
    """What a file with a given suffix must be: checked before it is played, and told to mpv."""

    name: str
    """For people: "MP3"."""
    lavf: str
    """The libavformat demuxer mpv is made to use for it (never a guess from the content)."""
    kinds: tuple[str, ...]
    """The mutagen file types it may be read as."""
    magic: Callable[[bytes], bool]
    """Whether the file's first bytes are how this format begins."""


def _mp3_begins(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _ogg_begins(head: bytes) -> bool:
    return head[:4] == b"OggS"


_OGG = AudioFormat("Ogg", "ogg", ("OggVorbis", "OggOpus", "OggFLAC", "OggSpeex"), _ogg_begins)
FORMATS: dict[str, AudioFormat] = {
    ".mp3": AudioFormat("MP3", "mp3", ("MP3",), _mp3_begins),
    ".flac": AudioFormat("FLAC", "flac", ("FLAC",), lambda h: h[:4] == b"fLaC" or h[:3] == b"ID3"),
    ".ogg": _OGG,
    ".oga": _OGG,
    ".opus": AudioFormat("Opus", "ogg", ("OggOpus",), _ogg_begins),
    ".wav": AudioFormat("WAV", "wav", ("WAVE",), lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    ".m4a": AudioFormat("M4A", "mp4", ("MP4",), lambda h: h[4:8] == b"ftyp"),
}
"""The audio a music folder may hold, by suffix. A file must be what its suffix says: mpv, left to
itself, plays what the content looks like, and some content (an mpv EDL, a playlist) opens other files
or URLs. See docs/music.md."""
AUDIO_SUFFIXES = frozenset(FORMATS)
_NOT_AUDIO = f"is not one of {', '.join(sorted(AUDIO_SUFFIXES))}"
LIST_SUFFIXES = (".m3u", ".m3u8")
DEFAULT_FADE_OUT = 60.0
WINDOW_TRACKS = 5
"""The last stretch, chosen to end near the session end, is at least this many average tracks long."""
TAIL_CHOICE = 14
"""...or starts once this few tracks are left to choose from."""
SEARCH_BUDGET = 20_000
"""Most subsets tried when choosing the last tracks; keeps :func:`fit` fast on any library."""


@dataclass(frozen=True)
class Track:
    path: Path
    """The resolved file."""
    length: float
    """Seconds, read from the file before playing."""
    name: str
    """The path relative to its music folder, for people."""
    format: str = ""
    """The libavformat demuxer for it (:attr:`AudioFormat.lavf`, as checked); by default the suffix's."""

    def __post_init__(self) -> None:
        if not self.format:
            audio = FORMATS.get(self.path.suffix.lower())
            if audio is None:
                raise ValueError(f"{self.path} {_NOT_AUDIO}")
            object.__setattr__(self, "format", audio.lavf)


@dataclass(frozen=True)
class Playlist:
    name: str
    source: Path
    """The folder or .m3u file."""
    tracks: tuple[Track, ...]
    problems: tuple[Issue, ...] = ()
    """Files skipped, with why: unreadable, zero length, outside the music folders."""

    @property
    def total(self) -> float:
        return sum(t.length for t in self.tracks)


# ---- finding a playlist --------------------------------------------------------------------------


def _allowed(folders: Sequence[Path]) -> str:
    return ", ".join(str(f) for f in folders) or "(no music folder configured)"


def _inside(path: Path, roots: Iterable[Path]) -> Path | None:
    """The root that the resolved ``path`` lies in, if any."""
    for root in roots:
        if path == root or path.is_relative_to(root):
            return root
    return None


def _roots(folders: Sequence[Path]) -> list[Path]:
    return [Path(os.path.realpath(f)) for f in folders]


def resolve(name: str, folders: Sequence[Path]) -> Path:
    """The folder or .m3u file that the playlist ``name`` stands for. Raises :class:`PlayerError`."""
    text = name.strip().replace("\\", "/")
    parts = PurePosixPath(text).parts
    if not text or PurePosixPath(text).is_absolute() or PureWindowsPath(name).drive or ".." in parts:
        raise PlayerError(
            f"playlist {name!r} is not allowed; name a folder or .m3u file relative to a music folder "
            f"({_allowed(folders)}), without '..'"
        )
    roots = _roots(folders)
    for folder in folders:
        for candidate in (folder / text, *(folder / (text + s) for s in LIST_SUFFIXES)):
            if not (candidate.is_dir() or candidate.is_file() and candidate.suffix.lower() in LIST_SUFFIXES):
                continue
            if _inside(Path(os.path.realpath(candidate)), roots) is None:
                raise PlayerError(
                    f"playlist {name!r} leads outside the music folders (to {os.path.realpath(candidate)}); "
                    f"allowed: {_allowed(folders)}"
                )
            return candidate
    known = list_playlists(folders)
    close = get_close_matches(text, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; known: {', '.join(known)}" if known else "")
    raise PlayerError(f"no playlist {name!r} in the music folders ({_allowed(folders)}){hint}")


def list_playlists(folders: Sequence[Path]) -> list[str]:
    """Every playlist name: the folders directly in a music folder, and every .m3u/.m3u8 under one."""
    names: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name.casefold()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                names.append(entry.name)
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if Path(f).suffix.lower() in LIST_SUFFIXES:
                    names.append(Path(dirpath, f).relative_to(folder).as_posix())
    return sorted(dict.fromkeys(names), key=str.casefold)


def parse_m3u(text: str) -> list[str]:
    """The entries of an M3U playlist, in order (comments and ``#EXT`` lines dropped)."""
    return [line.strip() for line in text.lstrip("\ufeff").splitlines() if line.strip() and not line.startswith("#")]


# ---- reading tracks ------------------------------------------------------------------------------


def read_audio(path: Path) -> tuple[float, str]:
    """Seconds of audio in ``path`` and the libavformat demuxer for it, read with mutagen.

    Raises ValueError saying why it cannot be played: unreadable, or not the audio its suffix says
    (it must begin as that format does, and mutagen must read it as that format).
    """
    import mutagen

    audio = FORMATS.get(path.suffix.lower())
    if audio is None:
        raise ValueError(_NOT_AUDIO)
    with open(path, "rb") as f:
        head = f.read(16)
    if not audio.magic(head):
        raise ValueError(f"is not {audio.name} audio as its name says (it begins {head[:12]!r})")
    try:
        info = mutagen.File(path)
    except Exception as exc:  # mutagen raises many kinds for a broken file
        raise ValueError(f"cannot be read ({exc.__class__.__name__}: {exc})") from None
    if info is None or getattr(info, "info", None) is None:
        raise ValueError("is not an audio file mutagen knows")
    kind = type(info).__name__
    if kind not in audio.kinds:
        raise ValueError(f"is not {audio.name} audio as its name says (mutagen reads it as {kind})")
    return float(getattr(info.info, "length", 0.0) or 0.0), audio.lavf


def _audio_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=str.casefold)
        for f in sorted(filenames, key=str.casefold):
            if not f.startswith(".") and Path(f).suffix.lower() in AUDIO_SUFFIXES:
                found.append(Path(dirpath, f))
    return found


def _m3u_files(source: Path, problems: list[Issue]) -> list[Path]:
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    files = []
    for entry in parse_m3u(text):
        if "://" in entry:
            problems.append(
                Issue(
                    str(source),
                    entry,
                    "is a URL: streams and mpv's edl://, memory://, av://… are not played; "
                    "only files under the music folders",
                )
            )
            continue
        path = Path(entry.replace("\\", "/")).expanduser()
        files.append(path if path.is_absolute() else source.parent / path)
    return files


def load_playlist(
    name: str, folders: Sequence[Path], *, read: Callable[[Path], tuple[float, str]] = read_audio
) -> Playlist:
    """Find the playlist ``name`` and read its tracks' lengths. Raises :class:`PlayerError` if it is refused
    or missing; a bad track is skipped and listed in ``problems``."""
    source = resolve(name, folders)
    roots = _roots(folders)
    problems: list[Issue] = []
    try:
        files = _audio_files(source) if source.is_dir() else _m3u_files(source, problems)
    except OSError as exc:
        raise PlayerError(f"playlist {name!r} cannot be read: {exc}") from None
    tracks = []
    for path in files:
        real = Path(os.path.realpath(path))
        root = _inside(real, roots)
        if root is None:
            problems.append(Issue(str(path), "", f"is outside the music folders ({_allowed(folders)}); skipped"))
            continue
        if not real.is_file():
            problems.append(Issue(str(path), "", "does not exist; skipped"))
            continue
        try:
            length, lavf = read(real)
        except (ValueError, OSError) as exc:
            problems.append(Issue(str(path), "", f"{exc}; skipped"))
            continue
        if not length > 0:
            problems.append(Issue(str(path), "", "has zero length; skipped"))
            continue
        tracks.append(Track(real, length, real.relative_to(root).as_posix(), lavf))
    return Playlist(name, source, tuple(tracks), tuple(problems))


# ---- fitting a playlist to a session -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    index: int
    track: Track
    start: float
    """Session seconds at which the track starts."""

    @property
    def end(self) -> float:
        return self.start + self.track.length


class Slot(NamedTuple):
    """Where the music is at a moment: the entry's index in the fitted order, its track, seconds into it."""

    index: int
    track: Track
    offset: float


@dataclass(frozen=True)
class FittedPlaylist:
    entries: tuple[Entry, ...]
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

    def at(self, position: float) -> Slot | None:
        """The entry playing at session second ``position`` (before 0: the first); ``None`` past the music."""
        if not self.entries or position >= self.total:
            return None
        position = max(0.0, position)
        i = bisect.bisect_right(self._starts, position) - 1
        entry = self.entries[i]
        return Slot(i, entry.track, position - entry.start)

    def played(self, position: float) -> tuple[Track, ...]:
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
    tracks: Sequence[Track],
    length: float,
    seed: int,
    *,
    fade_out: float = DEFAULT_FADE_OUT,
    shuffle: bool = True,
    keep: Sequence[Track] = (),
) -> FittedPlaylist:
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
    entries = []
    start = 0.0
    for k, i in enumerate(order):
        entries.append(Entry(k, tracks[i], start))
        start += lengths[i]
    return FittedPlaylist(tuple(entries), float(length), float(fade_out), seed)


def describe(fitted: FittedPlaylist) -> str:
    """One line: how many tracks, how long, where the fade-out begins."""
    return (
        f"{len(fitted.entries)} tracks, {format_duration(round(fitted.total, 1))} of music for "
        f"{format_duration(fitted.length)}; fade-out from {format_duration(fitted.fade_out_at)}"
    )
