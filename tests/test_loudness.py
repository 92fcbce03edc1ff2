"""Even loudness (issue 18, point 2): tracks measured once (EBU R128, libmpv's ebur128), cached, and brought
to the room's target by the player's per-file gain.

The witness is pyloudnorm (ITU-R BS.1770-4, written independently of libavfilter): the player renders to a
WAV (``ao=pcm``, faster than real time) and pyloudnorm measures what came out.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from test_player import MPV_MISSING, read_pcm

from ambience.config.devices import Speaker
from ambience.core.fitting import fit
from ambience.model.state import MusicState
from ambience.music.library import Track, load_playlist
from ambience.music.loudness import (
    MAX_BOOST,
    Loudness,
    LoudnessCache,
    Measurer,
    gain_db,
    measure,
)
from ambience.music.mpv import MpvPlayer, gain, load_mpv
from ambience.music.registry import make_player
from ambience.music.sounds import NAME, ensure_default_playlist

needs_mpv = pytest.mark.skipif(bool(MPV_MISSING), reason=MPV_MISSING or "libmpv is here")
RATE = 24_000


def noise_wav(path: Path, seconds: float, rms: float, channels: int = 1, seed: int = 1) -> Track:
    """Steady white noise as 16-bit PCM at ``rms`` of full scale."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(seconds * RATE), channels))
    x *= rms / np.sqrt((x**2).mean())
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return Track(path, seconds, path.name)


def read(path: Path) -> tuple[int, np.ndarray]:
    """A WAV (mpv's ao=pcm writes WAVE_FORMAT_EXTENSIBLE, float or int) as (rate, samples × channels)."""
    rate, channels, samples, scale = read_pcm(path)
    x = np.asarray(samples, dtype=float) / scale
    return rate, x[: len(x) // channels * channels].reshape(-1, channels)


def lufs(path: Path) -> float:
    rate, x = read(path)
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def steady(volume: float) -> MusicState:
    return MusicState("p", False, True, 0.0, volume, volume, 0.0)


async def render(player: MpvPlayer, track: Track) -> None:
    """Play ``track`` once, whole, at full volume (the envelope flat at the ceiling)."""
    await player.follow(steady(player.max_volume), fit([track], track.length, 0, fade_out=0.0, shuffle=False))
    assert await player.wait_until_idle(60)


# ---- the gain: pure -------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_loud_track_is_cut_to_the_target():
    assert gain_db(Loudness(-14.0, -0.5), -23) == pytest.approx(-9.0)


@pytest.mark.unit
def test_a_quiet_track_is_lifted_but_never_past_the_boost_cap_or_into_clipping():
    assert gain_db(Loudness(-30.0, -12.0), -23) == pytest.approx(7.0)
    assert gain_db(Loudness(-45.0, -30.0), -23) == pytest.approx(MAX_BOOST)
    assert gain_db(Loudness(-30.0, -4.0), -23) == pytest.approx(3.0)  # true peak to -1 dBTP, no further
    assert gain_db(Loudness(-30.0, 0.5), -23) == 0.0  # already at full scale: left as it is


@pytest.mark.unit
def test_silence_is_left_at_gain_1():
    assert gain_db(Loudness(-70.0, -float("inf")), -23) == 0.0


@pytest.mark.unit
def test_the_factor_multiplies_the_envelope_expression_and_only_then():
    from ambience.core.envelope import Envelope

    flat = Envelope(((0.0, 50.0), (10.0, 50.0)))
    assert gain(flat, 0.0, 50.0) == gain(flat, 0.0, 50.0, 1.0)
    assert "0.250000*pow(" in gain(flat, 0.0, 50.0, 0.25)


# ---- the cache ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_cache_keeps_a_measurement_across_restarts_until_the_file_changes(tmp_path):
    track = tmp_path / "a.wav"
    track.write_bytes(b"x" * 100)
    cache_file = tmp_path / "state" / "loudness.json"
    LoudnessCache(cache_file).put(track, Loudness(-17.25, -3.5))
    assert LoudnessCache(cache_file).get(track) == Loudness(-17.25, -3.5)
    assert json.loads(cache_file.read_text())["tracks"][str(track)]["i"] == -17.25
    track.write_bytes(b"y" * 101)  # a different file under the same name: measured anew
    assert LoudnessCache(cache_file).get(track) is None


@pytest.mark.unit
def test_a_broken_cache_file_is_started_anew_with_one_warning(tmp_path, caplog):
    cache_file = tmp_path / "loudness.json"
    cache_file.write_text("{not json")
    cache = LoudnessCache(cache_file)
    assert cache.get(tmp_path / "a.wav") is None
    assert [r.message for r in caplog.records if "loudness cache" in r.message] == [
        f"loudness cache {cache_file} cannot be read (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)); tracks are measured again"
    ]
    track = tmp_path / "a.wav"
    track.write_bytes(b"x")
    cache.put(track, Loudness(-20.0, -6.0))  # and written over, whole
    assert LoudnessCache(cache_file).get(track) == Loudness(-20.0, -6.0)


@pytest.mark.unit
def test_the_room_target_is_checked_when_the_config_is_read():
    assert Speaker().loudness == -23.0
    assert Speaker(loudness=None).loudness is None
    with pytest.raises(ValueError, match="loudness\n  Input should be less than or equal to -10"):
        Speaker(loudness=-3)


@pytest.mark.unit
def test_the_rooms_share_one_cache_per_file_and_measure_a_track_once(tmp_path):
    file = tmp_path / "loudness.json"
    assert LoudnessCache.at(file) is LoudnessCache.at(tmp_path / "." / "loudness.json")
    assert LoudnessCache.at(file) is not LoudnessCache.at(tmp_path / "other.json")
    cache, key = LoudnessCache.at(file), (str(tmp_path / "a.wav"), 1, 2)
    assert cache.claim(key) and not cache.claim(key)  # the second room leaves it to the first


@pytest.mark.unit
def test_a_closed_measurer_gives_back_what_it_had_not_measured(tmp_path):
    track = tmp_path / "a.wav"
    track.write_bytes(b"x")
    started, go = threading.Event(), threading.Event()

    def load():  # a libmpv that never gets to measuring: the measurer is closed first
        started.set()
        go.wait(5)
        raise OSError("no libmpv")

    cache = LoudnessCache()
    first = Measurer(cache, load)
    other = tmp_path / "b.wav"
    other.write_bytes(b"y")
    first.ask([(track, "wav"), (other, "wav")])
    assert started.wait(5)
    first.close()  # b.wav was queued, never measured
    go.set()
    key_b = (str(other), 1, other.stat().st_mtime_ns)
    assert cache.claim(key_b)  # free again for another room


# ---- measuring, with libmpv -----------------------------------------------------------------------


@needs_mpv
@pytest.mark.parametrize("channels", [1, 2])
def test_libmpv_measures_what_pyloudnorm_measures(tmp_path, channels):
    track = noise_wav(tmp_path / "n.wav", 6.0, 0.05, channels)
    measured = measure(track.path, "wav", load_mpv)
    assert measured.integrated == pytest.approx(lufs(track.path), abs=0.3)
    rate, x = read(track.path)
    assert measured.true_peak >= 20 * np.log10(np.abs(x).max()) - 0.1


@needs_mpv
def test_a_file_mpv_cannot_play_is_not_measured_says_why_once_and_is_not_retried(tmp_path, caplog):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    with pytest.raises(ValueError, match="could not play it|no result"):
        measure(bad, "wav", load_mpv)
    measurer = Measurer(LoudnessCache(), load_mpv)
    for _ in range(2):  # every reload asks again
        measurer.ask([(bad, "wav")])
        measurer.wait()
    assert measurer.cache.get(bad) is None
    warned = [r.message for r in caplog.records if "cannot be measured" in r.message]
    assert len(warned) == 1 and warned[0].startswith("loudness: bad.wav cannot be measured (")
    assert warned[0].endswith("); it plays at its own level")
    measurer.close()


# ---- the player -----------------------------------------------------------------------------------


@needs_mpv
def test_a_track_not_measured_yet_plays_as_it_is_and_at_the_target_once_measured(tmp_path):
    loud = noise_wav(tmp_path / "loud.wav", 4.0, 0.1)  # about -17 LUFS, peaks near -7 dBFS
    cache_file = tmp_path / "state" / "loudness.json"
    outs = [tmp_path / "first.wav", tmp_path / "second.wav"]

    async def play(out: Path) -> None:
        speaker = Speaker(ao="pcm")
        player = make_player(
            speaker,
            max_volume=100,
            name="t",
            options={"ao_pcm_file": str(out)},
            loudness_cache=cache_file,
        )
        async with player:
            await render(player, loud)
            await asyncio.to_thread(player.measurer.wait)

    asyncio.run(play(outs[0]))
    assert lufs(outs[0]) == pytest.approx(lufs(loud.path), abs=0.3)  # gain 1: not measured before it played
    assert LoudnessCache(cache_file).get(loud.path) is not None  # measured meanwhile, and kept
    asyncio.run(play(outs[1]))  # another player: measured, now at the target
    assert lufs(outs[1]) == pytest.approx(-23.0, abs=0.5)


@needs_mpv
def test_the_playing_file_keeps_its_factor_when_its_envelope_changes(tmp_path):
    """A file loaded unmeasured and measured while it plays must not jump when a volume change requeues it."""
    track = noise_wav(tmp_path / "t.wav", 30.0, 0.1)

    async def scenario() -> tuple[str, str]:
        player = MpvPlayer(ao="null", loudness=-23.0)
        async with player:
            fitted = fit([track], 30.0, 0, fade_out=0.0, shuffle=False)
            await player.follow(MusicState("p", False, True, 0.0, 50, 50, 0.0), fitted)
            await asyncio.to_thread(player.measurer.wait)
            assert player.measurer.cache.get(track.path) is not None
            before = await player._call(player._get, "af")
            await player.follow(MusicState("p", False, True, 1.0, 50, 30, 5.0), fitted)
            return before, await player._call(player._get, "af")

    before, after = asyncio.run(scenario())
    assert before != after  # the new envelope reached the file ...
    assert "*pow(" not in str(before) + str(after)  # ... at the factor it was loaded with (1)


@needs_mpv
@pytest.mark.parametrize("preview", [10.0, pytest.param(None, marks=pytest.mark.slow)], ids=["10s-cuts", "whole"])
def test_every_default_track_comes_out_within_1_lu_of_the_target(tmp_path, preview):
    """Issue 18's measure of done: the default library, through the real player, measured after its gain.
    In the default run every track cut to 10 s (rendering the whole library takes minutes); ``-m slow``
    renders and measures it whole."""
    music = tmp_path / "music"
    ensure_default_playlist(music, preview=preview)
    tracks = load_playlist(NAME, [music]).tracks
    assert tracks
    cache = LoudnessCache(tmp_path / "loudness.json")
    measured: dict[str, float] = {}

    async def scenario() -> None:
        for k, track in enumerate(tracks):
            out = tmp_path / f"out{k}.wav"
            player = MpvPlayer(
                ao="pcm", options={"ao_pcm_file": str(out)}, max_volume=100, loudness=-23.0, loudness_cache=cache
            )
            async with player:
                player.measurer.ask([(t.path, t.format) for t in tracks])
                await asyncio.to_thread(player.measurer.wait)
                await render(player, track)
            measured[track.name] = lufs(out)

    asyncio.run(scenario())
    assert {name: round(v, 1) for name, v in measured.items() if abs(v + 23.0) > 1.0} == {}
    assert len(measured) == len(tracks) and os.path.getsize(tmp_path / "loudness.json") > 0
