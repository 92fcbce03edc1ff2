"""Playlists on disk: find them under the music folders and read their tracks. Pure of mpv.

A playlist is named relative to one of the configured music folders: a folder (its audio files,
recursively, in name order) or an ``.m3u``/``.m3u8`` file. A name that leads outside the music
folders (``..``, an absolute path, a symlink out) is refused with a :class:`PlayerError`. A track
that cannot be read, has no length or lies outside the folders is skipped and reported in
``Playlist.problems``; one bad file never stops a playlist.

A :class:`Track` is what :func:`ambience.core.fitting.fit` orders for a session (a
:class:`~ambience.core.fitting.Piece`) and what a player opens: the checked file and its demuxer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path, PurePosixPath, PureWindowsPath

from ambience.errors import Issue, PlayerError


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
    tag_title: str = ""
    """The title its tags give (mutagen), if any."""

    @property
    def title(self) -> str:
        """What people call it: its tagged title, else its file name without the suffix
        (``first_light.mp3`` -> ``first light``)."""
        return self.tag_title or PurePosixPath(self.name).stem.replace("_", " ").strip() or self.name

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


def read_title(path: Path) -> str:
    """The title in ``path``'s tags ("" when it has none or they cannot be read)."""
    import mutagen

    try:
        tags = mutagen.File(path, easy=True)
        titles = (tags.tags or {}).get("title") if tags is not None else None
    except Exception:  # a tag that cannot be read only costs the title
        return ""
    title = str(titles[0]).strip() if titles else ""
    return " ".join(title.split())[:200]


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
        title = read_title(real) if read is read_audio else ""
        tracks.append(Track(real, length, real.relative_to(root).as_posix(), lavf, title))
    return Playlist(name, source, tuple(tracks), tuple(problems))
