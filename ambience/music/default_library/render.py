"""A :class:`~.compose.Piece` made into an audio file: FluidSynth renders its MIDI with the
FluidR3 General MIDI soundfont (reverb and chorus on), a nature bed is mixed under it, its ends are
faded, its level is brought to :data:`TARGET` (EBU R128 integrated loudness, pyloudnorm) and its
rare peaks are rounded off under :data:`PEAK` (:func:`limit`), and it is written as Ogg Vorbis, 48 kHz stereo, tagged, atomically.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ambience.music.default_library.compose import Piece, compose
from ambience.music.default_library.nature import bed

RATE = 48_000
TARGET = -23.0
"""LUFS each track is brought to (EBU R128). The player's loudness gain then has little to do."""
PEAK = -1.5
"""dBFS no sample passes (:func:`limit`); Vorbis adds a few tenths, and the issue asks for < -1 dBFS."""
FADE_IN, FADE_OUT = 4.0, 10.0
SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))
INSTALL = "sudo apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm"
SUFFIX = ".ogg"


class RenderError(Exception):
    """Why a piece cannot be rendered (no fluidsynth, no soundfont, a failed run): one line."""


def soundfont() -> Path:
    for path in SOUNDFONTS:
        if path.is_file():
            return path
    raise RenderError(f"no General MIDI soundfont ({SOUNDFONTS[0]}); install it: {INSTALL}")


def fluidsynth() -> str:
    found = shutil.which("fluidsynth")
    if found is None:
        raise RenderError(f"fluidsynth is not installed; install it: {INSTALL}")
    return found


def synthesise(piece: Piece, workdir: Path) -> np.ndarray:
    """The piece's music alone, float32 ``(samples, 2)`` at :data:`RATE`."""
    import soundfile

    mid, wav = workdir / "piece.mid", workdir / "piece.wav"
    compose(piece).save(mid)
    cmd = [
        fluidsynth(), "-ni", "-q", "-g", "0.6", "-r", str(RATE), "-T", "wav", "-O", "float",
        "-o", "synth.reverb.active=1", "-o", "synth.chorus.active=1",
        "-o", "synth.reverb.room-size=0.8", "-o", "synth.reverb.damp=0.4", "-o", "synth.reverb.width=1.0",
        "-F", str(wav), str(soundfont()), str(mid),
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if run.returncode != 0 or not wav.is_file():
        why = (run.stderr or run.stdout).strip().splitlines()
        raise RenderError(f"fluidsynth failed on {piece.stem!r}: {why[-1] if why else run.returncode}")
    audio, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    if rate != RATE or audio.shape[1] != 2:
        raise RenderError(f"fluidsynth wrote {audio.shape[1]} channels at {rate} Hz, not stereo at {RATE}")
    return audio


def loudness(audio: np.ndarray, rate: int = RATE) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, pyloudnorm)."""
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64)))


def peak_db(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def master(piece: Piece, music: np.ndarray) -> np.ndarray:
    """Mix the piece's bed under ``music``, fade its ends, bring it to :data:`TARGET` under :data:`PEAK`."""
    n = len(music)
    out = music.copy()
    if piece.bed:
        layer = bed(piece.bed, n / RATE, RATE, piece.seed)
        rms = float(np.sqrt(np.mean(music**2))) or 1e-4
        out += layer * (rms * 10 ** (piece.bed_level / 20))
    fade_in, fade_out = min(n // 2, int(FADE_IN * RATE)), min(n // 2, int(FADE_OUT * RATE))
    out[:fade_in] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade_in, dtype=np.float32)))[:, None]
    out[n - fade_out :] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade_out, dtype=np.float32)))[:, None]
    out *= np.float32(10 ** ((TARGET - loudness(out)) / 20))
    return limit(out)


def limit(audio: np.ndarray, ceiling: float = PEAK, knee: float = 6.0) -> np.ndarray:
    """Round off the rare peaks above ``ceiling - knee`` dBFS so none passes ``ceiling`` (a soft knee,
    sample by sample: the few samples it touches leave the loudness as it was)."""
    top = np.float32(10 ** (ceiling / 20))
    start = np.float32(10 ** ((ceiling - knee) / 20))
    mag = np.abs(audio)
    over = mag > start
    if not over.any():
        return audio
    room = top - start
    mag[over] = start + room * np.tanh((mag[over] - start) / room)
    return (np.sign(audio) * mag).astype(np.float32)


def render(piece: Piece, path: Path, seconds: float | None = None) -> Path:
    """Render ``piece`` (cut to ``seconds``, for tests) into ``path``, atomically (tmp + rename)."""
    import mutagen.oggvorbis
    import soundfile

    if seconds is not None:
        piece = dataclasses.replace(piece, seconds=max(1, round(seconds)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ambience-render-") as tmp:
        audio = master(piece, synthesise(piece, Path(tmp)))
    part = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with soundfile.SoundFile(part, "w", RATE, 2, format="OGG", subtype="VORBIS", compression_level=0.4) as f:
            for start in range(0, len(audio), RATE * 10):  # in blocks: libsndfile's Vorbis writer wants them
                f.write(audio[start : start + RATE * 10])
        tags = mutagen.oggvorbis.OggVorbis(part)
        tags["title"], tags["artist"], tags["album"] = piece.title, "ambience", f"calm: {piece.mood}"
        tags.save()
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path
