"""MpvPlayer against real libmpv: the session envelope in a WAV (ao=pcm), pause and resume in real time
(ao=null), starting mid-track, the volume ceiling, and failing softly without an audio output. What every
player must do, the fake too (without libmpv, a missing file, close ...): test_player_contract.py.

The audio files are made here. ``ao=pcm`` renders faster than real time, which is why the fades live in
mpv's filter (in the music's own time) and not in a timer; the first test holds the player to that.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import struct
import time
import wave
from array import array
from pathlib import Path

import pytest
from media import Requests, disguised_edl, opens
from test_envelope import T0, session

from ambience.config.devices import Speaker
from ambience.core.envelope import Envelope
from ambience.core.fitting import fit
from ambience.model.state import MusicState
from ambience.music.library import Track, load_playlist
from ambience.music.mpv import MpvPlayer, gain
from ambience.music.registry import make_player
from ambience.testing import eventually_async

try:
    import mpv  # noqa: F401
except (ImportError, OSError) as exc:  # python-mpv raises OSError when libmpv is missing
    MPV_MISSING = f"libmpv cannot be loaded: {exc}"
else:
    MPV_MISSING = ""
needs_mpv = pytest.mark.skipif(bool(MPV_MISSING), reason=MPV_MISSING or "libmpv is here")

RATE = 16_000
AMPLITUDE = 16_000
SOURCE_RMS = AMPLITUDE / 32768 / math.sqrt(2)


def write_wav(path: Path, seconds: float, freq: float | None, rate: int = RATE) -> Track:
    """A steady sine (or silence) as 16-bit mono; returns it as a playlist track."""
    n = int(seconds * rate)
    if freq is None:
        data = bytes(2 * n)
    else:
        w = 2 * math.pi * freq / rate
        data = array("h", (int(AMPLITUDE * math.sin(w * i)) for i in range(n))).tobytes()
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data)
    return Track(path, n / rate, path.name)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> list[Track]:
    folder = tmp_path_factory.mktemp("tones")
    return [write_wav(folder / f"tone{i}.wav", s, f) for i, (s, f) in enumerate([(7, 220.0), (9, 330.0), (8, 440.0)])]


@pytest.fixture(scope="module")
def quiet(tmp_path_factory) -> list[Track]:
    """Three 40 s silent tracks: for playback positions under ao=null, where nothing is rendered."""
    folder = tmp_path_factory.mktemp("quiet")
    return [write_wav(folder / f"quiet{i}.wav", 40, None, rate=8000) for i in range(3)]


def read_wav(path: Path) -> tuple[int, list[float]]:
    """mpv's ao=pcm output (WAVE_FORMAT_EXTENSIBLE, float or int) as mono samples in -1..1."""
    rate, channels, samples, scale = read_pcm(path)
    return rate, [sum(samples[k : k + channels]) / channels / scale for k in range(0, len(samples), channels)]


def read_pcm(path: Path) -> tuple[int, int, array, float]:
    """mpv's ao=pcm output as it is: rate, channels, the interleaved samples and their full scale."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    i, fmt, body = 12, None, b""
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if cid == b"fmt ":
            fmt = data[i + 8 : i + 8 + size]
        elif cid == b"data":
            body = data[i + 8 : i + 8 + size]
        i += 8 + size + (size & 1)
    assert fmt is not None
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag == 3 and bits == 32:
        samples, scale = array("f", body[: len(body) // 4 * 4]), 1.0
    elif tag == 1 and bits == 16:
        samples, scale = array("h", body[: len(body) // 2 * 2]), 32768.0
    else:
        raise AssertionError(f"unexpected WAV format {tag}/{bits}")
    return rate, channels, samples, scale


def levels(rate: int, samples: list[float], window: float = 0.05) -> list[tuple[float, float]]:
    """(window centre in seconds, the volume 0–100 that mpv's cubic curve maps to that RMS)."""
    n = int(rate * window)
    out = []
    for k in range(0, len(samples) - n + 1, n):
        rms = math.sqrt(sum(x * x for x in samples[k : k + n]) / n)
        out.append(((k + n / 2) / rate, 100 * (rms / SOURCE_RMS) ** (1 / 3)))
    return out


def steady(position: float, volume: float, playing: bool = True) -> MusicState:
    return MusicState("quiet", True, playing, position, volume, volume, 0.0)


async def until(condition, timeout: float = 5.0) -> float:
    """Wait until ``condition()`` holds (asked every 5 ms); returns how long it took."""
    started = time.monotonic()
    await eventually_async(condition, timeout, 0.005)
    return time.monotonic() - started


# ---- the envelope, in a WAV -------------------------------------------------------------------------


@needs_mpv
def test_a_20s_session_rises_holds_and_falls_to_silence_at_20s(tones, tmp_path):
    out = tmp_path / "session.wav"
    timeline = session()
    fitted = fit(tones, 20.0, 7, fade_out=6.0)
    assert fitted.total > 20  # the last track is cut by the session end

    async def play() -> float:
        async with MpvPlayer(ao="pcm", options={"ao_pcm_file": str(out)}, max_volume=70) as player:
            started = time.monotonic()
            await player.follow(timeline.at(T0).music, fitted)
            assert await player.wait_until_idle(15)
            return time.monotonic() - started

    took = asyncio.run(play())
    assert took < 5  # faster than real time: no wall-clock timer can be driving the fades
    rate, samples = read_wav(out)
    assert len(samples) / rate == pytest.approx(20.0, abs=0.1)
    curve = levels(rate, samples)
    frame = 256 / rate  # the envelope moves once per 256-sample frame, evaluated at its start

    def expected(t: float) -> float:
        return 50 * min(1.0, t / 4, (20 - t) / 6)

    for t, v in curve:
        if 0.1 < t < 19.9:
            assert v == pytest.approx(expected(t), abs=1.5 + 50 / 4 * frame), t
    rise = [(t, v) for t, v in curve if 0.5 < t < 3.5]
    hold = [v for t, v in curve if 4.5 < t < 13.5]
    fall = [(t, v) for t, v in curve if 15 < t < 19.5]
    assert all(b[1] > a[1] for a, b in zip(rise, rise[1:], strict=False))
    assert max(hold) - min(hold) < 1.0 and sum(hold) / len(hold) == pytest.approx(50, abs=1)
    assert all(b[1] < a[1] for a, b in zip(fall, fall[1:], strict=False))
    # Where the falling volume line meets 0: the session end.
    n = len(fall)
    mt, mv = sum(t for t, _ in fall) / n, sum(v for _, v in fall) / n
    slope = sum((t - mt) * (v - mv) for t, v in fall) / sum((t - mt) ** 2 for t, _ in fall)
    silent_at = mt - mv / slope
    assert silent_at == pytest.approx(20.0, abs=0.1)
    assert curve[-1][1] < 2  # below -100 dB of full scale in the last 50 ms


@needs_mpv
def test_volume_never_exceeds_max_volume(tones, tmp_path):
    out = tmp_path / "loud.wav"
    fitted = fit(tones, 5.0, 1, fade_out=0.0)
    loud = MusicState("tones", True, True, 0.0, 90.0, 100.0, 2.0)

    async def play() -> None:
        async with MpvPlayer(ao="pcm", options={"ao_pcm_file": str(out)}, max_volume=30) as player:
            await player.follow(loud, fitted)
            assert await player.wait_until_idle(10)

    asyncio.run(play())
    rate, samples = read_wav(out)
    curve = levels(rate, samples)
    assert max(v for _, v in curve) <= 30.3
    assert min(v for t, v in curve if 0.2 < t < 4.8) >= 29.5  # the ceiling, not silence

    async def status() -> dict:
        async with MpvPlayer(ao="null", max_volume=30) as player:
            await player.follow(loud, fitted)
            await until(lambda: player.status()["playing"])
            return player.status()

    assert asyncio.run(status())["volume"] == 30


@needs_mpv
def test_a_new_envelope_reaches_the_queued_files_without_a_reload(tones, tmp_path):
    """Load paused, then change the envelope: mpv keeps its place, and the files after the playing one
    (already decoded ahead while paused, so it keeps what it had) play the new envelope."""
    out = tmp_path / "changed.wav"
    fitted = fit(tones, 20.0, 7, fade_out=6.0)

    async def play() -> int:
        async with MpvPlayer(ao="pcm", options={"ao_pcm_file": str(out)}, max_volume=70) as player:
            await player.follow(MusicState("tones", True, False, 0.0, 0.0, 0.0, 0.0), fitted)
            await until(lambda: player.position is not None)
            await player.follow(MusicState("tones", True, True, 0.0, 0.0, 40.0, 2.0), fitted)
            assert await player.wait_until_idle(15)
            return player.reloads

    assert asyncio.run(play()) == 1
    rate, samples = read_wav(out)
    second = fitted.entries[1].start
    for t, v in levels(rate, samples):
        if second + 0.1 < t < 19.9:
            assert v == pytest.approx(40 * min(1.0, (20 - t) / 6), abs=1.5), t


@needs_mpv
def test_a_fade_started_mid_file_has_no_jump_and_ends_in_silence(tones):
    """As when a phase changes the volume, or Ctrl-C fades out: measured after the envelope, in real time."""
    fitted = fit(tones, 20.0, 7, fade_out=6.0)

    async def scenario() -> tuple[list[tuple[float, float]], int]:
        async with MpvPlayer(ao="null", meter=True, max_volume=70) as player:
            started = time.monotonic()
            await player.follow(MusicState("tones", True, True, 0.0, 40.0, 40.0, 0.0), fitted)
            await asyncio.sleep(0.5)
            now = time.monotonic() - started
            await player.follow(MusicState("tones", True, True, now, 40.0, 0.0, 2.0), fitted)
            seen = []
            while time.monotonic() - started < now + 2.3:
                seen.append((time.monotonic() - started - now, await player.level()))
                await asyncio.sleep(0.02)
            return seen, player.reloads

    seen, reloads = asyncio.run(scenario())
    assert reloads == 1
    steady = 20 * math.log10(SOURCE_RMS * (40 / 70) ** 3)  # volume 40 of the 70 that mpv's volume property adds
    db = [(t, level) for t, level in seen if level is not None]
    assert all(level == pytest.approx(steady, abs=0.5) for t, level in db if t < 0.3)  # no jump at the change
    falling = [level for t, level in db if 0.3 <= t]
    assert all(b <= a + 0.5 for a, b in zip(falling, falling[1:], strict=False))  # then only down
    assert db[-1][1] < -100  # silent before the fade's end is heard


# ---- real time: pause, resume, start mid-track ------------------------------------------------------


@needs_mpv
def test_pause_freezes_playback_and_resume_continues(quiet):
    fitted = fit(quiet, 100.0, 3, fade_out=10.0)

    async def scenario() -> None:
        async with MpvPlayer(ao="null") as player:
            started = time.monotonic()
            await player.follow(steady(0.0, 30), fitted)
            latency = await until(lambda: (player.position or 0) > 0)
            print(f"start -> playback-time > 0: {latency * 1000:.0f} ms")
            assert latency < 1.0
            await asyncio.sleep(0.6)
            at = time.monotonic() - started
            await player.follow(steady(at, 30, playing=False), fitted)
            await asyncio.sleep(0.3)  # what was already in the output buffer
            frozen = player.position
            assert not player.status()["playing"] and player.status()["track"] is not None
            await asyncio.sleep(1.0)
            assert player.position == pytest.approx(frozen, abs=0.01)
            await player.follow(steady(at, 30), fitted)
            await asyncio.sleep(0.8)
            assert player.position - frozen > 0.5
            assert player.status()["playing"]
            # Following the same timeline again changes nothing; an extension refits and keeps the place.
            now = at + 0.8
            await player.follow(steady(now, 30), fitted)
            longer = fit(quiet, 150.0, 3, fade_out=10.0, keep=fitted.played(now))
            await player.follow(steady(now, 30), longer)
            assert player.reloads == 1
            await player.follow(None, None)
            await until(lambda: not player.status()["playing"] and player.status()["track"] is None)

    asyncio.run(scenario())


@needs_mpv
def test_starts_at_the_second_track_30s_in(quiet):
    fitted = fit(quiet, 110.0, 5, fade_out=10.0)
    second = fitted.entries[1]
    position = second.start + 30.0
    assert fitted.at(position)[:1] == (1,) and fitted.at(position).offset == pytest.approx(30.0)

    async def scenario() -> tuple[dict, float]:
        async with MpvPlayer(ao="null") as player:
            await player.follow(steady(position, 30), fitted)
            await until(lambda: player.position is not None)
            return player.status(), player.position

    status, at = asyncio.run(scenario())
    assert status["track"] == second.track.name and status["playing"] and status["error"] is None
    assert at - second.start == pytest.approx(30.0, abs=0.3)


@needs_mpv
def test_music_starts_where_the_session_is_when_mpv_gets_to_it(quiet):
    """A state computed a while ago (mpv opening, the playlist being fitted) plays from where the session
    is now, not from where it was then (bench P3: it was ~140 ms behind)."""
    fitted = fit(quiet, 110.0, 5, fade_out=10.0)
    clock = [1000.0]

    async def scenario() -> tuple[float, float]:
        async with MpvPlayer(ao="null", clock=lambda: clock[0]) as player:
            ahead = player.startup  # what mpv is learnt to take before it is heard
            clock[0] += 2.0  # two seconds went by since the state was computed
            await player.follow(steady(10.0, 30), fitted, at=1000.0)
            await until(lambda: player.position is not None)
            return player.position, ahead

    position, ahead = asyncio.run(scenario())
    assert -0.2 <= ahead <= 0.5
    assert position == pytest.approx(12.0 + ahead, abs=0.15)


@needs_mpv
def test_a_pause_just_after_a_load_is_not_learnt_as_start_up(quiet, monkeypatch):
    """Paused within the half second after a load, then resumed: the time paused was learnt as mpv's start-up,
    and every later first file of a player started ~0.45 s into its track (all rooms share what is learnt)."""
    monkeypatch.setattr(MpvPlayer, "learnt_cold", 0.08)
    monkeypatch.setattr(MpvPlayer, "learnt", 0.0)
    fitted = fit(quiet, 100.0, 3, fade_out=10.0)

    async def scenario() -> None:
        async with MpvPlayer(ao="null") as player:
            started = time.monotonic()
            await player.follow(steady(0.0, 30), fitted)
            await until(lambda: (player.position or 0) > 0.2)
            at = time.monotonic() - started
            await player.follow(steady(at, 30, playing=False), fitted)
            await asyncio.sleep(0.5)
            await player.follow(steady(at, 30), fitted)
            await until(lambda: (player.position or 0) > at + 0.8)

    asyncio.run(scenario())
    assert (MpvPlayer.learnt_cold, MpvPlayer.learnt) == (0.08, 0.0)


@needs_mpv
def test_a_follow_near_a_track_boundary_does_not_seek(quiet):
    """The daemon's clock and mpv may sit on either side of a track change: that is no reason to seek."""
    fitted = fit(quiet, 110.0, 5, fade_out=10.0)
    boundary = fitted.entries[1].start

    async def scenario() -> tuple[int, float]:
        async with MpvPlayer(ao="null") as player:
            await player.follow(steady(boundary - 0.3, 30), fitted)
            await until(lambda: (player.position or 0) > boundary + 0.05)
            await player.follow(steady(boundary - 0.1, 30), fitted)  # the daemon is a little behind mpv
            await player.follow(steady(boundary + 0.5, 30), fitted)  # or a little ahead
            return player.reloads, player.position

    reloads, position = asyncio.run(scenario())
    assert reloads == 1 and position > boundary


# ---- failing softly ---------------------------------------------------------------------------------


def _no_python_mpv():
    import ambience_no_such_module  # noqa: F401  # the ImportError of a missing python-mpv


def _no_libmpv():
    ctypes.CDLL("libmpv-not-installed.so.99")  # the OSError python-mpv raises without libmpv


@needs_mpv
def test_without_an_audio_output_the_player_reports_why_and_never_raises(quiet):
    fitted = fit(quiet, 100.0, 1)

    async def scenario() -> tuple[dict, int]:
        async with MpvPlayer(audio_device="nonexistent/device") as player:
            await player.follow(steady(0.0, 30), fitted)
            await until(lambda: player.status()["error"] is not None, timeout=5)
            await player.follow(steady(1.0, 30), fitted)  # within the retry interval: no new attempt
            await asyncio.sleep(0.2)
            return player.status(), player.reloads

    status, reloads = asyncio.run(scenario())
    assert status["playing"] is False and reloads == 1
    assert "no audio output" in status["error"] and "nonexistent/device" in status["error"]


@needs_mpv
def test_a_fallback_to_the_null_output_plays_but_says_it_is_silent(quiet):
    fitted = fit(quiet, 100.0, 1)

    async def scenario() -> tuple[dict, str | None]:
        async with MpvPlayer(ao="nonexistent,null") as player:
            await player.follow(steady(0.0, 30), fitted)
            await until(lambda: player.status()["error"] is not None and player.status()["playing"])
            return player.status(), player.output

    status, output = asyncio.run(scenario())
    assert output == "null" and "playing silently" in status["error"]
    assert status["silent"] is True and status["problem"]["code"] == "no_output"
    assert status["problem"]["text"].startswith("no speaker found — playing silently")


def test_a_closed_or_unopened_player_is_quiet():
    async def scenario() -> None:
        player = MpvPlayer(load=_no_python_mpv)
        assert player.status()["error"] is None and not player.status()["playing"]
        await player.close()
        await player.follow(None, None)

    asyncio.run(scenario())


# ---- the envelope as mpv's filter (pure) -----------------------------------------------------------


def test_the_gain_expression_is_in_session_seconds_and_cubic_under_the_ceiling():
    envelope = Envelope(((0.0, 0.0), (4.0, 50.0), (14.0, 50.0), (20.0, 0.0)))
    expr = gain(envelope, 8.0, 70)
    assert "t+8.000000" in expr and expr.endswith("/70.000000,0,1),3))")
    assert gain(envelope, 0.0, 0) == "0"


# ---- what mpv may open ------------------------------------------------------------------------------

ENCODINGS = {  # suffix: (mpv's --of, --oac)
    ".mp3": ("mp3", "libmp3lame"),
    ".flac": ("flac", "flac"),
    ".ogg": ("ogg", "libvorbis"),
    ".oga": ("ogg", "flac"),
    ".opus": ("ogg", "libopus"),
    ".wav": ("wav", "pcm_s16le"),
    ".m4a": ("ipod", "aac"),
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> list[Track]:
    """A second of tone in each format a music folder may hold, encoded by libmpv itself, read as a playlist."""
    import mpv

    folder = tmp_path_factory.mktemp("formats")
    source = write_wav(folder / "source.wav", 1.0, 330.0, rate=44_100).path
    (folder / "all").mkdir()
    for suffix, (of, oac) in ENCODINGS.items():
        m = mpv.MPV(o=str(folder / "all" / f"tone{suffix}"), of=of, oac=oac, vid="no")
        m.command("loadfile", str(source))
        m.wait_for_playback()
        m.terminate()
    playlist = load_playlist("all", [folder])
    assert not playlist.problems
    return list(playlist.tracks)


@needs_mpv
def test_every_audio_format_plays_through_its_own_demuxer(encoded, tmp_path):
    assert sorted(t.path.suffix for t in encoded) == sorted(ENCODINGS)
    assert {t.path.suffix: t.format for t in encoded}[".m4a"] == "mp4"
    out = tmp_path / "all.wav"
    fitted = fit(encoded, sum(t.length for t in encoded), 0, fade_out=0.0, shuffle=False)

    one_output = {"ao_pcm_file": str(out), "audio_samplerate": 44_100, "audio_channels": "mono"}  # no reopening

    async def play() -> None:
        async with MpvPlayer(ao="pcm", options=one_output) as player:
            await player.follow(steady(0.0, 30), fitted)
            assert await player.wait_until_idle(15)

    asyncio.run(play())
    rate, samples = read_wav(out)
    assert len(samples) / rate == pytest.approx(fitted.total, abs=0.1 * len(encoded))  # none was left out


@needs_mpv
def test_mpv_opens_only_the_file_it_is_given(tmp_path):
    """Issue 12 (15): an .mp3 that is an mpv EDL naming a WAV outside the music folder, or a URL, plays as
    the MP3 its name says; mpv opens no other file and asks no server."""
    outside = tmp_path / "private"
    outside.mkdir()
    secret = write_wav(outside / "secret.wav", 0.3, 440.0).path
    music = tmp_path / "music"
    body = secret.read_bytes()
    with Requests(body) as server:
        files = [
            disguised_edl(music / "local.mp3", str(secret)),
            disguised_edl(music / "remote.mp3", f"{server.url}/x.wav"),
        ]
        tracks = [Track(f, 0.2, f.name) for f in files] + [write_wav(music / "last.wav", 1.0, None)]
        fitted = fit(tracks, sum(t.length for t in tracks), 0, fade_out=0.0, shuffle=False)

        async def scenario() -> None:
            async with MpvPlayer(ao="null") as player:
                await player.follow(steady(0.0, 30), fitted)
                await until(lambda: player.status()["track"] == "last.wav")

        with opens(outside) as opened:
            asyncio.run(scenario())
    assert opened == []
    assert server.paths == []


# ---- the factory ------------------------------------------------------------------------------------


def test_make_player_builds_an_mpv_player_for_a_room_s_speaker():
    clock = time.monotonic
    player = make_player(
        Speaker(audio_device="pulse/studio", ao="pulse,null"), max_volume=120, name="studio", clock=clock, meter=True
    )
    assert isinstance(player, MpvPlayer)
    assert (player.audio_device, player.ao, player.max_volume, player.name) == (
        "pulse/studio",
        "pulse,null",
        100,
        "studio",
    )
    assert player.clock is clock and player.meter
    assert make_player(Speaker(), max_volume=50, name="x").ao == "pipewire,pulse,alsa"  # the default outputs

    class Unknown(Speaker):
        pass

    with pytest.raises(TypeError, match="no player for speakers of type Unknown; known: Speaker"):
        make_player(Unknown(), max_volume=50, name="x")
