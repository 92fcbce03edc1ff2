"""A :class:`~.compose.Piece` made into an audio file: FluidSynth renders its MIDI with the
FluidR3 General MIDI soundfont (reverb and chorus on), a nature bed is mixed under it, its ends are
faded, its level is brought to :data:`TARGET` (EBU R128 integrated loudness, :func:`loudness`) and its
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


K_WEIGHTING = (
    ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585)),
    ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621)),
)
"""ITU-R BS.1770-4's K-weighting at 48 kHz: a high shelf, then a high-pass (b, a of each)."""


def loudness(audio: np.ndarray, rate: int = RATE) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4: K-weighted, 400 ms blocks with 75 % overlap,
    gated at -70 LUFS and 10 LU below), computed in 10-second pieces so a long track needs no
    copies of itself. The tests check it against pyloudnorm."""
    from scipy import signal

    if rate != RATE:
        raise ValueError(f"loudness is measured at {RATE} Hz, not {rate}")
    sos = np.array([[*b, *a] for b, a in K_WEIGHTING])
    zi = np.zeros((2, 2, audio.shape[1]))
    hop = rate // 10  # 100 ms: a quarter block
    powers = []
    for start in range(0, len(audio) - len(audio) % hop, hop * 100):
        part = audio[start : min(start + hop * 100, len(audio) - len(audio) % hop)].astype(np.float64)
        weighted, zi = signal.sosfilt(sos, part, axis=0, zi=zi)
        powers.append(np.mean(weighted.reshape(-1, hop, audio.shape[1]) ** 2, axis=1))
    if not powers:
        return -np.inf
    quarters = np.concatenate(powers)  # (quarter blocks, channels)
    blocks = np.lib.stride_tricks.sliding_window_view(quarters, 4, axis=0).mean(axis=-1).sum(axis=1)
    if not len(blocks):
        return -np.inf
    level = -0.691 + 10 * np.log10(np.maximum(blocks, 1e-20))
    gated = blocks[level > -70.0]
    if not len(gated):
        return -np.inf
    relative = -0.691 + 10 * np.log10(np.mean(gated)) - 10.0
    final = blocks[(level > -70.0) & (level > relative)]
    return float(-0.691 + 10 * np.log10(np.mean(final)))


def peak_db(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def master(piece: Piece, music: np.ndarray) -> np.ndarray:
    """Mix the piece's bed under ``music``, fade its ends, bring it to :data:`TARGET` under :data:`PEAK`
    (``music`` itself is changed and returned: no copies of a long track)."""
    n = len(music)
    out = music  # worked on in place: a 7-minute track is 160 MB a copy
    if piece.bed:
        flat = music.reshape(-1)
        rms = float(np.sqrt(np.vdot(flat, flat) / max(1, flat.size))) or 1e-4
        layer = bed(piece.bed, n / RATE, RATE, piece.seed)
        layer *= np.float32(rms * 10 ** (piece.bed_level / 20))
        out += layer
        del layer
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
    room = top - start
    over = np.nonzero(np.abs(audio) > start)  # in place, only where it is needed
    values = audio[over]
    audio[over] = np.sign(values) * (start + room * np.tanh((np.abs(values) - start) / room))
    return audio


def render(piece: Piece, path: Path, seconds: float | None = None) -> Path:
    """Render ``piece`` (cut to ``seconds``, for tests) into ``path``, atomically (tmp + rename)."""
    import mutagen.oggvorbis
    import soundfile

    if seconds is not None:
        piece = dataclasses.replace(piece, seconds=max(1, round(seconds)))
    path.parent.mkdir(parents=True, exist_ok=True)
    # beside the track, hidden: /tmp may be memory (tmpfs), and fluidsynth's float WAV is 2 MB a second
    with tempfile.TemporaryDirectory(prefix=".render-", suffix=".tmp", dir=path.parent) as tmp:
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
