"""The default playlist ``calm``: a few soothing pieces synthesised on first use, in Python only.

Nothing is shipped: :func:`ensure_default_playlist` writes the pieces (16 kHz mono WAV, ~8 MB in
all) into a music folder the first time they are needed and does nothing once they are there.
The synthesis is deterministic (same samples on every run) and quick (about two seconds for
four minutes of audio), so a demo or a fresh machine plays real music without downloads.

How it stays fast without numpy: every voice repeats exactly every :data:`PERIOD` samples (its
frequencies lie on a 0.5 Hz grid), so one period is computed and tiled; envelopes are computed at
a control rate and expanded by byte repetition; the per-sample work is a multiply and an add,
done by ``map`` over arrays.
"""

from __future__ import annotations

import asyncio
import functools
import math
import operator
import os
import random
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from ambience.errors import PlayerError

NAME = "calm"
RATE = 16_000
PERIOD = 2 * RATE
"""Samples after which every voice repeats: frequencies are multiples of 0.5 Hz."""
CONTROL = 64
"""Samples per envelope step (4 ms): the envelopes move far too slowly for the steps to be heard."""
CYCLE = 4096
VERSION = "1"
MARKER = ".ambience-default"
PEAK = 0.5
"""Peak level of a piece, of full scale: soft, with headroom."""


@dataclass(frozen=True)
class Piece:
    stem: str
    seconds: int
    chords: tuple[tuple[str, ...], ...]
    swell: float
    """Seconds per slow rise and fall of the pad."""
    noise: float
    """Share of gentle filtered noise (a distant surf), 0–1."""
    seed: int


PIECES = (
    Piece(
        "01 first light",
        80,
        (("A2", "E3", "C#4", "G#4"), ("F#2", "C#3", "A3", "E4"), ("D2", "A2", "F#3", "C#4"), ("E2", "B2", "G#3", "B3")),
        swell=11.0,
        noise=0.0,
        seed=1,
    ),
    Piece(
        "02 still water",
        70,
        (("D2", "A2", "D3", "F#3"), ("D2", "A2", "E3", "A3"), ("D2", "A2", "D3", "F#3")),
        swell=9.0,
        noise=0.45,
        seed=2,
    ),
    Piece(
        "03 warm air",
        90,
        (("F2", "C3", "E3", "A3"), ("C3", "G3", "D4", "E4"), ("A2", "E3", "G3", "C4"), ("G2", "D3", "G3", "C4")),
        swell=14.0,
        noise=0.12,
        seed=3,
    ),
)

_NOTES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def frequency(note: str) -> float:
    """``'A4'`` -> 440.0, rounded to the 0.5 Hz grid (a few cents at most)."""
    semitone = _NOTES[note[0]] + note[1:-1].count("#") - note[1:-1].count("b")
    midi = 12 * (int(note[-1]) + 1) + semitone
    return round(2 * 440.0 * 2 ** ((midi - 69) / 12)) / 2


@functools.cache
def _cycle_table() -> list[float]:
    """One cycle of a soft, warm tone: a sine with a little of its 2nd and 3rd harmonics."""
    w = 2 * math.pi / CYCLE
    return [math.sin(w * i) + 0.22 * math.sin(2 * w * i + 0.7) + 0.06 * math.sin(3 * w * i + 1.9) for i in range(CYCLE)]


def _voice(hz: float) -> array:
    """One period of a tone at ``hz`` (a multiple of 0.5 Hz)."""
    cycle = _cycle_table()
    k = round(hz * PERIOD / RATE)
    mask = CYCLE - 1
    return array("f", [cycle[(j * k * CYCLE // PERIOD) & mask] for j in range(PERIOD)])


def _chord(notes: tuple[str, ...], voices: dict[float, array]) -> array:
    """One period of a chord, each note doubled 0.5 Hz sharp for a slow chorus; peak 1."""
    total = array("f", bytes(4 * PERIOD))
    for n, note in enumerate(notes):
        hz = frequency(note)
        gain = 1.0 / (1 + 0.35 * n)
        for f, g in ((hz, gain), (hz + 0.5, 0.6 * gain)):
            if f not in voices:
                voices[f] = _voice(f)
            voice = voices[f]
            total = array("f", map(operator.add, total, map(operator.mul, voice, [g] * PERIOD)))
    peak = max(map(abs, total)) or 1.0
    return array("f", map(operator.mul, total, [1.0 / peak] * PERIOD))


def _noise(seed: int, seconds: float = 11.0) -> array:
    """A seamless loop of soft low-passed noise (two one-pole filters), peak 1."""
    rng = random.Random(seed)
    n = int(seconds * RATE)
    fade = RATE  # one second crossfade makes the loop seamless
    a, y1, y2 = 0.08, 0.0, 0.0
    raw = []
    for _ in range(n + fade):
        y1 += a * (rng.random() * 2 - 1 - y1)
        y2 += a * (y1 - y2)
        raw.append(y2)
    for i in range(fade):
        f = i / fade
        raw[i] = raw[i] * f + raw[n + i] * (1 - f)
    out = array("f", raw[:n])
    peak = max(map(abs, out)) or 1.0
    return array("f", map(operator.mul, out, [1.0 / peak] * n))


def _expand(control: list[float], n: int) -> array:
    """Control-rate values held for :data:`CONTROL` samples each, cut to ``n`` samples."""
    packed = array("f", control).tobytes()
    out = array("f")
    out.frombytes(b"".join(packed[i : i + 4] * CONTROL for i in range(0, len(packed), 4)))
    del out[n:]
    return out


def _tile(period: array, start: int, n: int) -> array:
    """``n`` samples of a looping ``period``, from sample ``start`` of the piece."""
    size = len(period)
    offset = start % size
    reps = (offset + n) // size + 1
    return (period * reps)[offset : offset + n]


def _smooth(x: float) -> float:
    """0 → 1 over x in [0, 1], raised cosine."""
    x = min(1.0, max(0.0, x))
    return 0.5 - 0.5 * math.cos(math.pi * x)


def render(piece: Piece, seconds: float | None = None) -> array:
    """The piece as 16-bit samples (``seconds`` cuts it short, for tests)."""
    length = piece.seconds if seconds is None else seconds
    n = int(length * RATE)
    steps = n // CONTROL + 1
    dt = CONTROL / RATE
    scale = PEAK * 32767

    def master(t: float) -> float:
        return _smooth(t / 3.0) * _smooth((length - t) / 5.0)

    def swell(t: float, period: float, phase: float) -> float:
        return 0.72 + 0.28 * math.sin(2 * math.pi * t / period + phase)

    pad_share = 1.0 - piece.noise
    segment = piece.seconds / len(piece.chords)
    xfade = min(8.0, segment / 2)
    mix = array("f", bytes(4 * n))
    written = 0
    voices: dict[float, array] = {}
    for c, notes in enumerate(piece.chords):
        lo = 0.0 if c == 0 else c * segment - xfade / 2
        hi = length if c == len(piece.chords) - 1 else (c + 1) * segment + xfade / 2
        a, b = max(0, int(lo * RATE) // CONTROL * CONTROL), min(n, int(hi * RATE))
        if a >= b:
            continue
        control = []
        for s in range(a // CONTROL, (b - 1) // CONTROL + 1):
            t = s * dt
            rise = 1.0 if c == 0 else _smooth((t - lo) / xfade)
            fall = 1.0 if c == len(piece.chords) - 1 else _smooth((hi - t) / xfade)
            control.append(scale * pad_share * rise * fall * master(t) * swell(t, piece.swell, c))
        layer = array("f", map(operator.mul, _tile(_chord(notes, voices), a, b - a), _expand(control, b - a)))
        overlap = max(0, min(written, b) - a)
        if overlap:
            mix[a : a + overlap] = array("f", map(operator.add, mix[a : a + overlap], layer[:overlap]))
        mix[a + overlap : b] = layer[overlap:]
        written = max(written, b)
    if piece.noise > 0:
        control = [
            scale * piece.noise * master(s * dt) * (0.55 + 0.45 * math.sin(2 * math.pi * s * dt / 9.7) ** 2)
            for s in range(steps)
        ]
        surf = array("f", map(operator.mul, _tile(_noise(piece.seed), 0, n), _expand(control, n)))
        mix = array("f", map(operator.add, mix, surf))
    return array("h", map(int, mix))


def write_wav(path: Path, samples: array) -> None:
    """Write mono 16-bit samples at :data:`RATE`, atomically (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(samples.tobytes())
    os.replace(tmp, path)


def _expected() -> dict[str, int]:
    return {f"{p.stem}.wav": 44 + 2 * int(p.seconds * RATE) for p in PIECES}


def _complete(folder: Path) -> bool:
    marker = folder / MARKER
    if not marker.is_file() or marker.read_text(encoding="utf-8").strip() != VERSION:
        return False
    return all(
        (folder / name).is_file() and (folder / name).stat().st_size == size for name, size in _expected().items()
    )


def ensure_default_playlist(music_folder: Path) -> Path:
    """The default playlist's folder, ``<music_folder>/calm``, generated if it is not there yet.

    Idempotent and safe to call on every start: a complete set is left alone, and a ``calm``
    folder someone made themselves (no marker file) is never touched. Raises :class:`PlayerError`
    if the folder cannot be written.
    """
    folder = Path(music_folder) / NAME
    if not needs_generating(music_folder):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for piece in PIECES:
            path = folder / f"{piece.stem}.wav"
            if path.is_file() and path.stat().st_size == _expected()[path.name]:
                continue
            write_wav(path, render(piece))
        (folder / MARKER).write_text(VERSION + "\n", encoding="utf-8")
    except OSError as exc:
        raise PlayerError(f"cannot write the default playlist into {folder}: {exc}") from None
    return folder


def needs_generating(music_folder: Path) -> bool:
    """Whether :func:`ensure_default_playlist` would have anything to write (cheap: sizes only)."""
    folder = Path(music_folder) / NAME
    if folder.is_dir() and not (folder / MARKER).exists() and any(folder.iterdir()):
        return False
    return not _complete(folder)


async def ensure_default_playlist_aside(music_folder: Path) -> Path:
    """:func:`ensure_default_playlist` in a child process, for the daemon.

    Rendering the pieces in pure Python touches ~35 MB that a long-running process keeps as
    resident memory afterwards (bench P4: 109 MB instead of 73 MB idle). Raises
    :class:`PlayerError` with the child's message if it fails.
    """
    if not needs_generating(music_folder):
        return Path(music_folder) / NAME
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from ambience.music.sounds import _main; sys.exit(_main(sys.argv[1]))",
        str(music_folder), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise PlayerError(lines[-1] if lines else f"generating the default playlist failed ({proc.returncode})")
    return Path(music_folder) / NAME


def _main(music_folder: str) -> int:
    try:
        ensure_default_playlist(Path(music_folder))
    except PlayerError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
