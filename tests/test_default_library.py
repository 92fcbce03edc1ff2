"""The default library ``calm``: seeded compositions, nature beds, rendered with FluidSynth, and measured.

Rendering here is kept short (a few seconds of a piece); the whole library is rendered and measured
by the slow test at the end (``pytest -m slow tests/test_default_library.py``, about 4 minutes).
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import mido
import mutagen
import numpy as np
import pyloudnorm
import pytest
import soundfile

from ambience.core.fitting import fit
from ambience.errors import PlayerError
from ambience.music import sounds
from ambience.music.default_library import compose, nature, render
from ambience.music.library import load_playlist

RATE = render.RATE


def midi_bytes(piece: compose.Piece) -> bytes:
    out = io.BytesIO()
    compose.compose(piece).save(file=out)
    return out.getvalue()


def above(audio: np.ndarray, hz: float, rate: int = RATE) -> float:
    """The share of the signal's energy above ``hz`` (FFT of the mid channel)."""
    spectrum = np.abs(np.fft.rfft(audio.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    return float(spectrum[freqs > hz].sum() / spectrum.sum())


def lufs(audio: np.ndarray) -> float:
    """Integrated loudness as pyloudnorm measures it: not ambience's own meter, which it checks."""
    return float(pyloudnorm.Meter(RATE).integrated_loudness(audio.astype(np.float64)))


def short_term(audio: np.ndarray, window: float = 0.4, rate: int = RATE) -> np.ndarray:
    """RMS level in dB over consecutive windows."""
    n = int(window * rate)
    frames = audio[: len(audio) // n * n].reshape(-1, n, audio.shape[1])
    return 10 * np.log10(np.mean(frames**2, axis=(1, 2)) + 1e-12)


# ---- what the library is --------------------------------------------------------------------------


def test_the_library_is_over_an_hour_in_three_moods_of_four_to_eight_minute_pieces():
    pieces = sounds.PIECES
    assert len(pieces) >= 12 and len({p.stem for p in pieces}) == len(pieces)
    assert {p.mood for p in pieces} == set(sounds.MOODS) and len(sounds.MOODS) >= 3
    assert all(4 * 60 <= p.length <= 8 * 60 for p in pieces)
    assert sounds.TOTAL >= 90 * 60  # 60 minutes at least, and more than a 90-minute session
    assert {p.bed for p in pieces} == {"", *nature.BEDS}
    assert all(55 <= p.bpm <= 65 for p in pieces)


@dataclass(frozen=True)
class Listed:
    name: str
    length: float


@pytest.mark.parametrize("seed", range(12))
def test_a_90_minute_session_hears_no_track_twice(seed):
    tracks = [Listed(f"{p.mood}/{p.stem}", p.length) for p in sounds.PIECES]
    fitted = fit(tracks, 90 * 60, seed)
    names = [e.track.name for e in fitted.entries]
    assert len(names) == len(set(names)) and fitted.total >= 90 * 60


def test_compositions_are_seeded_slow_soft_and_free_of_drums():
    assert midi_bytes(sounds.PIECES[0]) == midi_bytes(sounds.PIECES[0])  # the same notes on every machine
    written = set()
    for piece in sounds.PIECES:
        midi = compose.compose(piece)
        out = io.BytesIO()
        midi.save(file=out)
        written.add(out.getvalue())
        messages = [m for track in midi.tracks for m in track]
        (tempo,) = [m.tempo for m in messages if m.type == "set_tempo"]
        assert 55 <= mido.tempo2bpm(tempo) <= 65
        notes = [m for m in messages if m.type == "note_on" and m.velocity > 0]
        assert len(notes) > 100
        assert all(28 <= m.velocity <= 60 for m in notes), "soft dynamics, no accents"
        assert all(m.channel != 9 for m in messages if hasattr(m, "channel")), "no drums"
        programs = {m.program for m in messages if m.type == "program_change"}
        assert programs <= {compose.PIANO, *compose.PADS, *compose.ORCHESTRA}
        assert 0.97 * piece.length < midi.length < 1.03 * piece.length
    assert len(written) == len(sounds.PIECES)  # each its own music


def test_voices_move_to_the_nearest_tones_of_the_next_chord():
    c_major = [55, 60, 64, 67]  # G3 C4 E4 G4
    f_major = compose.voice_lead(c_major, compose.chord_tones(60, 4))  # IV: F A C (G: its ninth)
    assert f_major == [55, 60, 65, 69]
    assert all(abs(a - b) <= 2 for a, b in zip(c_major, f_major, strict=True))
    assert compose.progression(sounds.PIECES[0])[0] == compose.progression(sounds.PIECES[0])[-1] == 1


@pytest.mark.parametrize("kind", nature.BEDS)
def test_a_nature_bed_is_stereo_bright_and_steady(kind):
    whole = nature.bed(kind, 30.0, RATE, seed=7)  # made in 20-second chunks
    assert whole.shape == (30 * RATE, 2) and whole.dtype == np.float32
    audio = whole[6 * RATE :]  # after its fade-in, across the seam at 20 s
    assert np.corrcoef(audio[:, 0], audio[:, 1])[0, 1] < 0.95  # two channels, not mono twice
    assert above(audio, 8000) > (0.02 if kind == "rain" else 0.001)
    levels = short_term(audio)
    assert np.max(np.abs(np.diff(levels))) < 6.0, "no sudden events, no seams"
    assert np.max(levels) - np.min(levels) < 15.0
    assert abs(render.loudness(whole) - lufs(whole)) < 0.05  # ambience's meter, on noise too
    assert np.array_equal(whole, nature.bed(kind, 30.0, RATE, seed=7))  # seeded: the same on every run
    with pytest.raises(ValueError, match="nature bed 'wind' is not one of rain, surf, stream"):
        nature.bed("wind", 1.0, RATE, seed=1)


# ---- rendered, and measured -----------------------------------------------------------------------


def first(mood: str, bed: str | None = None) -> compose.Piece:
    return next(p for p in sounds.PIECES if p.mood == mood and (bed is None or p.bed == bed))


@pytest.mark.parametrize("piece", [first("piano"), first("pads", "surf"), first("rain")], ids=lambda p: p.mood)
def test_a_rendered_piece_measures_as_the_issue_asks(tmp_path, piece):
    path = render.render(piece, tmp_path / piece.mood / f"{piece.stem}{sounds.SUFFIX}", seconds=24)
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == RATE and audio.shape[1] == 2 and 23 < len(audio) / rate < 34
    assert not np.allclose(audio[:, 0], audio[:, 1])  # stereo
    assert abs(lufs(audio) - render.TARGET) <= 1.0  # -23 LUFS, within the ±1 LU of the issue
    assert abs(render.loudness(audio) - lufs(audio)) < 0.05  # ambience's own meter agrees with pyloudnorm
    assert render.peak_db(audio) < -1.0  # no clipping
    assert above(audio, 8000) > 1e-5  # air above 8 kHz, not a muffled synthesis
    head = audio[: RATE // 10]
    assert render.peak_db(head) < render.peak_db(audio) - 20  # it starts softly
    tags = mutagen.File(path, easy=True)
    assert (
        tags["title"] == [piece.title] and tags["artist"] == ["ambience"] and tags["album"] == [f"calm: {piece.mood}"]
    )
    (track,) = load_playlist(piece.mood, [tmp_path]).tracks
    assert track.title == piece.title and track.format == "ogg"


def test_the_limiter_rounds_off_peaks_only():
    audio = np.full((1000, 2), 0.1, dtype=np.float32)
    audio[500] = [1.5, -1.2]  # a spike past full scale
    out = render.limit(audio)
    assert render.peak_db(out) <= render.PEAK and out[500, 0] > out[500, 1] * -1 > 0.5
    assert np.array_equal(out[:500], audio[:500])  # below the knee: untouched


def test_without_fluidsynth_the_message_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run here
    with pytest.raises(PlayerError) as caught:
        sounds.ensure_default_playlist(tmp_path / "music", first_only=True, preview=1)
    assert str(caught.value) == (
        "cannot render the default playlist: fluidsynth is not installed; install it: "
        "sudo apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm"
    )


# ---- the cache: first track first, resumed, versioned, never someone else's ---------------------


def test_the_first_track_comes_first_and_the_rest_resumes(tmp_path):
    music = tmp_path / "music"
    stale = music / "calm" / "pads" / ".06 warm air.ogg.4242.tmp"  # a renderer killed as it wrote
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"OggS")
    (music / "calm" / sounds.MARKER).write_text(f"{sounds.VERSION} preview 2s\n")
    assert sounds.progress(music, preview=2) == sounds.Progress(0, len(sounds.PIECES))
    folder = sounds.ensure_default_playlist(music, first_only=True, preview=2)
    assert not stale.exists()
    assert folder == music / "calm"
    assert str(sounds.progress(music, preview=2)) == f"rendering 1/{len(sounds.PIECES)}"
    (track,) = load_playlist("calm", [music]).tracks  # playable at once
    assert track.name == "calm/piano/01 first light.ogg" and not load_playlist("calm", [music]).problems
    mtime = track.path.stat().st_mtime_ns
    sounds.ensure_default_playlist(music, first_only=True, preview=2)  # there already: nothing to do
    assert track.path.stat().st_mtime_ns == mtime
    assert sounds.needs_generating(music, preview=2)
    # the full library (not a preview) is another cache: a preview is never taken for it
    assert sounds.progress(music) == sounds.Progress(0, len(sounds.PIECES))


def test_an_older_version_is_replaced_and_ones_own_calm_is_left_alone(tmp_path):
    music = tmp_path / "music"
    old = music / "calm"
    old.mkdir(parents=True)
    (old / sounds.MARKER).write_text("1\n")  # the 16 kHz synthesis of before
    with wave.open(str(old / "01 first light.wav"), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(16000), f.writeframes(b"\0\0" * 1600)
    sounds.ensure_default_playlist(music, first_only=True, preview=1)
    assert [t.name for t in load_playlist("calm", [music]).tracks] == ["calm/piano/01 first light.ogg"]

    own = tmp_path / "own"
    (own / "calm").mkdir(parents=True)
    (own / "calm" / "mine.flac").write_bytes(b"fLaC")
    assert sounds.progress(own) is None and not sounds.needs_generating(own)
    assert sounds.ensure_default_playlist(own) == own / "calm"
    assert sorted(p.name for p in (own / "calm").iterdir()) == ["mine.flac"]


def test_the_daemon_renders_in_a_child_it_can_stop_and_a_failure_is_one_line(tmp_path):
    music = tmp_path / "music"

    async def start_then_stop() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(sounds.render_in_background(music, ready, preview=1))
        await asyncio.wait_for(ready.wait(), 30)  # the first track is playable
        assert load_playlist("calm", [music]).tracks
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_stop())
    state = sounds.progress(music, preview=1)
    assert state is not None and 1 <= state.done < state.total  # stopped part-way; a restart resumes
    assert not load_playlist("calm", [music]).problems  # no half-written track (a hidden leftover goes next time)

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(PlayerError, match="^cannot write the default playlist into .*file/calm"):
        asyncio.run(sounds.render_in_background(blocked, preview=1))


# ---- the whole library (slow: ./run bench renders it too) ------------------------------------------


@pytest.mark.slow
def test_the_whole_library_measures_right_and_fits_90_minutes(tmp_path, capsys):
    from ambience.cli import main

    music = tmp_path / "music"
    (tmp_path / "ambience.yaml").write_text(f"music: [{music}]\n")
    assert main(["--config", str(tmp_path / "ambience.yaml"), "playlists", "fit", "calm", "90m"]) == 0
    out = capsys.readouterr().out
    playlist = load_playlist("calm", [music])
    assert len(playlist.tracks) == len(sounds.PIECES) and playlist.total >= 90 * 60
    shown = [out.count(Path(t.name).stem) for t in playlist.tracks]
    assert max(shown) == 1 and sum(shown) >= 12  # no track twice in 90 minutes
    for track in playlist.tracks:
        audio, rate = soundfile.read(track.path, dtype="float32", always_2d=True)
        assert rate == RATE and audio.shape[1] == 2, track.name
        assert abs(lufs(audio) - render.TARGET) <= 1.0, track.name
        assert render.peak_db(audio) < -1.0 and above(audio, 8000) > 1e-5, track.name
        assert math.isclose(len(audio) / rate, track.length, abs_tol=0.5)


def test_the_daemon_starts_at_once_renders_aside_and_stops_its_renderer(tmp_path, broker_url, caplog):
    from ambience.daemon import Daemon
    from ambience.testing import write_clinic

    studio = {"thermostat": {"bridge": "zigbee2mqtt", "device": "studio-trv"}, "speaker": {"ao": "null"}}
    clinic = write_clinic(tmp_path, {"studio": studio}, mqtt=broker_url, music=["music"], http=False)
    caplog.set_level(logging.INFO, logger="ambience.music.sounds")

    async def run() -> asyncio.Task:
        daemon = Daemon(clinic.config)
        began = time.monotonic()
        await daemon.start()
        assert time.monotonic() - began < 5  # it did not wait for a render of minutes
        task = daemon._rendering
        assert task is not None and not task.done()
        await daemon.stop()
        return task

    task = asyncio.run(run())
    assert task.cancelled()  # its child was ended with it; the next start resumes
    assert "default playlist 'calm': 15 tracks to render in" in caplog.text
    assert sounds.progress(tmp_path / "music") == sounds.Progress(0, len(sounds.PIECES))
