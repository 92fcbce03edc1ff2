"""The default library ``calm``: about 99 minutes of slow music in three moods, made on this machine.

Nothing is shipped and nothing is downloaded: fifteen seeded compositions
(:mod:`ambience.music.default_library.compose`) are rendered with FluidSynth and the FluidR3 General
MIDI soundfont, five of them over a rain bed and the five pads over surf or a stream
(:mod:`~ambience.music.default_library.nature`), each brought to -23 LUFS and written as 48 kHz
stereo Ogg Vorbis (:mod:`~ambience.music.default_library.render`) into::

    <music folder>/calm/piano/…   soft piano          playlist "calm/piano"
    <music folder>/calm/pads/…    warm pads            playlist "calm/pads"
    <music folder>/calm/rain/…    piano over rain      playlist "calm/rain"

``calm`` itself is all of them (a folder playlist takes its sub-folders too), long enough that a
90-minute session plays no track twice.

The cache is the folder: a marker file holds :data:`VERSION` (a new version removes the old files
and renders anew), each track is written atomically (a temporary file, then a rename), so an
interrupted render resumes where it stopped, and a ``calm`` folder someone made themselves (no
marker) is never touched. One renderer at a time holds the folder's lock; another waits for it.

Rendering takes about 2½ minutes on one laptop core (a Raspberry Pi: not measured, several times
that), so it is done in order, the first track first (about 10 s): the demo waits for that one,
and the daemon renders the whole library in a child process in the background
(:func:`render_in_background`), logging each track, while sessions play what is there.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ambience.errors import PlayerError
from ambience.music.default_library.compose import Piece
from ambience.music.library import AUDIO_SUFFIXES

log = logging.getLogger(__name__)

NAME = "calm"
VERSION = "2"
MARKER = ".ambience-default"
LOCK = ".ambience-default.lock"
SUFFIX = ".ogg"
MOODS = {"piano": "soft piano", "pads": "warm pads", "rain": "piano over rain"}


def _piano(stem: str, title: str, key: int, bpm: int, seconds: int, seed: int) -> Piece:
    return Piece(stem, title, "piano", "piano", key, bpm, seconds, seed)


def _pads(stem: str, title: str, key: int, bpm: int, seconds: int, seed: int, bed: str = "", level: float = 0) -> Piece:
    return Piece(stem, title, "pads", "pads", key, bpm, seconds, seed, bed, level)


def _rain(stem: str, title: str, key: int, bpm: int, seconds: int, seed: int, level: float) -> Piece:
    return Piece(stem, title, "rain", "piano", key, bpm, seconds, seed, "rain", level)


PIECES = (
    _piano("01 first light", "First light", 60, 60, 360, 101),
    _pads("06 warm air", "Warm air", 60, 58, 420, 201, "surf", -20),  # far off: air above the pads
    _rain("11 rain on glass", "Rain on glass", 60, 60, 390, 301, -6),
    _piano("02 slow tide", "Slow tide", 57, 56, 420, 102),
    _pads("07 still water", "Still water", 62, 56, 390, 202, "stream", -14),
    _rain("12 morning rain", "Morning rain", 64, 62, 360, 302, -8),
    _piano("03 open window", "Open window", 65, 62, 390, 103),
    _pads("08 shoreline", "Shoreline", 57, 60, 450, 203, "surf", -8),
    _rain("13 under the eaves", "Under the eaves", 58, 57, 420, 303, -5),
    _piano("04 evening", "Evening", 63, 58, 450, 104),
    _pads("09 soft focus", "Soft focus", 65, 55, 360, 204, "stream", -20),
    _rain("14 after the storm", "After the storm", 62, 59, 390, 304, -9),
    _piano("05 quiet hands", "Quiet hands", 62, 64, 360, 105),
    _pads("10 deep calm", "Deep calm", 55, 58, 420, 205, "surf", -10),
    _rain("15 drizzle", "Drizzle", 65, 61, 360, 305, -7),
)
"""In the order they are rendered: the moods take turns, so the first minutes already mix them."""
TOTAL = round(sum(p.length for p in PIECES))
"""Seconds of music in the whole library."""


def path_of(folder: Path, piece: Piece) -> Path:
    """Where ``piece`` lies in the ``calm`` folder."""
    return folder / piece.mood / f"{piece.stem}{SUFFIX}"


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    def __str__(self) -> str:
        return "ready" if self.complete else f"rendering {self.done}/{self.total}"


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is the default library's (or not there yet): never someone's own ``calm``."""
    if (folder / MARKER).is_file():
        return True
    return not (folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()))


def _stamp(preview: float | None) -> str:
    """What the marker says: the version, and a preview's cut (so a real render replaces a preview)."""
    return VERSION if preview is None else f"{VERSION} preview {preview:g}s"


def _current(folder: Path, preview: float | None) -> bool:
    marker = folder / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == _stamp(preview)


def progress(music_folder: Path, *, preview: float | None = None) -> Progress | None:
    """How much of the library is rendered in ``music_folder``; None if its ``calm`` is someone's own."""
    folder = Path(music_folder) / NAME
    if not _ours(folder):
        return None
    if not _current(folder, preview):
        return Progress(0, len(PIECES))
    return Progress(sum(path_of(folder, p).is_file() for p in PIECES), len(PIECES))


def needs_generating(music_folder: Path, *, preview: float | None = None) -> bool:
    """Whether :func:`ensure_default_playlist` would have anything to render (cheap: names only)."""
    state = progress(music_folder, preview=preview)
    return state is not None and not state.complete


def _clear_old(folder: Path) -> None:
    """Remove the audio of another version or cut of the library (only in a folder that is ours)."""
    for dirpath, _, filenames in os.walk(folder):
        for f in filenames:
            if Path(f).suffix.lower() in AUDIO_SUFFIXES or f.endswith(".tmp"):
                Path(dirpath, f).unlink()


def ensure_default_playlist(
    music_folder: Path,
    *,
    first_only: bool = False,
    report: Callable[[Progress, Piece], None] | None = None,
    preview: float | None = None,
) -> Path:
    """The default library's folder, ``<music_folder>/calm``, rendered if it is not all there yet.

    ``first_only``: return as soon as one track is playable (the demo; the rest is rendered in the
    background). ``report`` is called after each track rendered. ``preview`` cuts every track to
    that many seconds (tests, benchmarks; the marker says so, and a full render replaces it). Idempotent and safe to call on
    every start. Raises :class:`PlayerError` saying why (the folder cannot be written; fluidsynth
    or the soundfont is missing, with the command that installs them).
    """
    from ambience.music.default_library.render import RenderError, render

    folder = Path(music_folder) / NAME
    state = progress(music_folder, preview=preview)
    if state is None or state.complete or (first_only and path_of(folder, PIECES[0]).is_file()):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another renderer of this folder: wait for it
            if not _current(folder, preview):
                _clear_old(folder)
                (folder / MARKER).write_text(_stamp(preview) + "\n", encoding="utf-8")
            for part in list(
                folder.rglob(".*.tmp")
            ):  # left by a renderer killed as it wrote (the lock: none writes now)
                if part.is_dir():
                    shutil.rmtree(part, ignore_errors=True)
                else:
                    part.unlink(missing_ok=True)
            done = sum(path_of(folder, p).is_file() for p in PIECES)
            if first_only and done:
                return folder  # another renderer made one while this one waited
            for piece in PIECES:
                path = path_of(folder, piece)
                if path.is_file():
                    continue
                render(piece, path, seconds=preview)
                done += 1
                if report is not None:
                    report(Progress(done, len(PIECES)), piece)
                if first_only:
                    break
    except OSError as exc:
        raise PlayerError(f"cannot write the default playlist into {folder}: {exc}") from None
    except RenderError as exc:
        raise PlayerError(f"cannot render the default playlist: {exc}") from None
    return folder


async def render_in_background(
    music_folder: Path, ready: asyncio.Event | None = None, *, preview: float | None = None
) -> Path:
    """Render the whole library in a child process, logging each track, for the daemon.

    A child keeps the rendering's memory (~490 MB at most, for a 7½-minute piece) out of the daemon,
    and runs at a lower priority (nice 10) so the rooms' own work comes first.
    ``ready`` is set as soon as a track is playable. Cancelling ends the child; the next start
    resumes. Raises :class:`PlayerError` with the child's message if it fails.
    """
    folder = Path(music_folder) / NAME
    state = progress(music_folder, preview=preview)
    if state is not None and state.done and ready is not None:
        ready.set()
    if state is None or state.complete:
        return folder
    log.info("default playlist %r: %s tracks to render in %s (%s)", NAME, state.total - state.done, folder, state)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import os, sys; os.nice(10); from ambience.music.sounds import _main; sys.exit(_main(*sys.argv[1:]))",
        str(music_folder), *([] if preview is None else [str(preview)]), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async for line in proc.stdout:
            log.info("default playlist %r: %s", NAME, line.decode(errors="replace").strip())
            if ready is not None:
                ready.set()
        err = await proc.stderr.read()
        await proc.wait()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise PlayerError(lines[-1] if lines else f"rendering the default playlist failed ({proc.returncode})")
    return folder


def _print_progress(state: Progress, piece: Piece) -> None:
    print(f"rendered {state.done}/{state.total}: {piece.mood}/{piece.stem}", flush=True)


def _main(music_folder: str, preview: str | None = None) -> int:
    try:
        cut = None if preview is None else float(preview)
        ensure_default_playlist(Path(music_folder), report=_print_progress, preview=cut)
    except PlayerError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
