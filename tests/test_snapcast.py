"""Snapcast speakers against Debian's real snapserver and snapclient (ambience.testing.snapcast): two rooms
play their own music to their own clients at once, and a session's fade-out ends at the session end as the
client plays it. The config's shape and its messages are checked without any process.

How the fade's end is measured at the client: ``snapclient --player file:filename=stdout`` writes each chunk
when it plays it; the harness stamps every read with the wall clock. The client's PCM is cut into 10 ms
windows; as the gain is ``(V / cap)³`` and ``V`` falls on a straight line, the cube root of a window's RMS
falls on a straight line too: fitted over the fall (between 80 % and 20 % of the held level), it meets zero
at the frame where the fade ends. That frame's wall time is where the read that brought it says, less the
frames after it in that read (:func:`heard_at`). Figures here (2 shared cores): within ±30 ms of the
session end; the assertion allows 100 ms (the issue's figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import statistics
import threading
import time
import wave
from array import array
from dataclasses import replace
from pathlib import Path

import pytest
from test_player import needs_mpv, write_wav

from ambience import cli
from ambience.config import parse_config
from ambience.config.devices import SnapcastSpeaker
from ambience.core.fitting import fit
from ambience.daemon import Daemon
from ambience.errors import ConfigError
from ambience.model.state import MusicState
from ambience.music.library import Track
from ambience.music.registry import make_player
from ambience.music.snapcast import SnapcastPlayer
from ambience.testing import eventually, eventually_async
from ambience.testing.clinic import write_clinic
from ambience.testing.mosquitto import free_port
from ambience.testing.snapcast import RATE, Snapclient, Snapserver, find

needs_snapcast = pytest.mark.skipif(
    not (find("snapserver") and find("snapclient")), reason="snapserver/snapclient not installed"
)
WINDOW = RATE // 100


def speaker(server: Snapserver, stream: str, *clients: str, buffer: int | None = None) -> SnapcastSpeaker:
    return SnapcastSpeaker.model_validate(
        {"snapcast": {"server": server.control, "stream": stream, "pipe": str(server.pipes[stream]),
                      "clients": list(clients), "buffer": buffer or server.buffer}, "loudness": None}
    )  # fmt: skip


def rms(samples) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def tone_power(samples, freq: float) -> float:
    """Goertzel: the power of ``freq`` in ``samples`` (at RATE)."""
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def heard_at(client: Snapclient, frame: int) -> float:
    """The wall time ``frame`` was played: each read's time less the frames after ``frame`` in it, the median
    of the reads within half a second (a late read that brings two chunks at once does not move it)."""
    offsets = []
    with client._lock:
        arrivals = list(client._arrivals)
    for at, total in arrivals:
        end = total // 4
        if abs(end - frame) < RATE // 2:
            offsets.append(at - (end - frame) / RATE)
    assert offsets, f"no read near frame {frame}"
    return statistics.median(offsets)


def fade_end(client: Snapclient, since: int) -> tuple[int, float]:
    """The frame where the last fade in the client's PCM (from frame ``since``) meets silence, and the held level."""
    samples = client.samples(since)
    levels = [rms(samples[i : i + WINDOW]) ** (1 / 3) for i in range(0, len(samples) - WINDOW, WINDOW)]
    held = max(levels)
    loud = [i for i, v in enumerate(levels) if v > 0.8 * held]
    assert loud, "the client played nothing"
    fall = [(i, v) for i, v in enumerate(levels) if i > loud[-1] and 0.2 * held < v < 0.8 * held]
    assert len(fall) > 10, "no fade-out in the client's PCM"
    n = len(fall)
    mi, mv = sum(i for i, _ in fall) / n, sum(v for _, v in fall) / n
    slope = sum((i - mi) * (v - mv) for i, v in fall) / sum((i - mi) ** 2 for i, _ in fall)
    zero = mi - mv / slope
    return since + int((zero + 0.5) * WINDOW), held


# ---- the config ---------------------------------------------------------------------------------------


def room_config(speaker_yaml: str) -> object:
    return (
        parse_config(f"rooms:\n  studio:\n    speaker: {speaker_yaml}\n", "ambience.yaml", Path("/tmp"))
        .rooms["studio"]
        .speaker
    )


@pytest.mark.unit
def test_a_snapcast_speaker_is_its_own_shape_and_bad_values_are_named():
    ok = room_config("{snapcast: {server: 'snap.local:1705', stream: studio, pipe: /run/ambience/snap-studio, "
                     "clients: [studio-ceiling]}}")  # fmt: skip
    assert isinstance(ok, SnapcastSpeaker)
    assert (ok.snapcast.host, ok.snapcast.port, ok.snapcast.buffer) == ("snap.local", 1705, 1000)
    assert ok.audio_device == "snapcast/studio"
    assert room_config("{snapcast: {server: snap, stream: s, pipe: /p, clients: [c]}}").snapcast.port == 1705
    cases = {
        "{snapcast: {stream: s, pipe: run/x, clients: [c]}}": "rooms.studio.speaker.snapcast.pipe: 'run/x' is not an "
        "absolute path",
        "{snapcast: {stream: s, pipe: /p, clients: [c], server: 'x:y'}}": "rooms.studio.speaker.snapcast.server: "
        "'x:y' is not host:port",
        "{snapcast: {stream: s, pipe: /p, clients: []}}": "rooms.studio.speaker.snapcast.clients: has too few items",
        "{snapcast: {stream: s, pipe: /p, clients: [c]}, ao: pcm}": "rooms.studio.speaker: ao is for a speaker on "
        "this machine",
        "{snapcast: {stream: s, pipe: /p, clients: [c], buffer: 5}}": "rooms.studio.speaker.snapcast.buffer",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as caught:
            room_config(text)
        assert message in str(caught.value), text
        assert "Traceback" not in str(caught.value)


@pytest.mark.unit
def test_the_room_config_in_docs_music_md_is_a_snapcast_speaker():
    docs = (Path(__file__).parent.parent / "docs" / "music.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(rooms:\n  studio:\n    speaker:\n      snapcast:.*?)```", docs, re.S)
    assert example, "docs/music.md shows a room with a Snapcast speaker"
    picked = parse_config(example.group(1), "docs/music.md", Path("/tmp")).rooms["studio"].speaker
    assert isinstance(picked, SnapcastSpeaker) and picked.snapcast.clients == ("studio-ceiling", "studio-table")


@pytest.mark.unit
def test_make_player_builds_a_snapcast_player_that_runs_its_buffer_ahead():
    config = SnapcastSpeaker.model_validate(
        {"snapcast": {"stream": "studio", "pipe": "/run/ambience/snap-studio", "clients": ["a"], "buffer": 600}}
    )
    player = make_player(config, max_volume=70, name="studio")
    assert isinstance(player, SnapcastPlayer)
    assert player.output == "snapcast/studio" and player.max_volume == 70
    assert player.lead == pytest.approx(0.6, abs=0.1)


# ---- real processes --------------------------------------------------------------------------------------


@pytest.fixture
def server():
    with Snapserver(("studio", "garden")) as s:
        yield s


@needs_mpv
@needs_snapcast
def test_two_rooms_play_their_own_music_to_their_own_clients_and_the_fade_ends_with_the_session(server, tmp_path):
    a440 = write_wav(tmp_path / "a440.wav", 10, 440.0, rate=RATE)
    e660 = write_wav(tmp_path / "e660.wav", 10, 660.0, rate=RATE)
    with Snapclient(server, "studio-1") as studio, Snapclient(server, "garden-1") as garden:
        eventually(lambda: {"studio-1", "garden-1"} <= set(server.clients()), timeout=10)
        # Before: both in one group (on the first stream), studio-1 at 30 % and muted: ambience sorts it out.
        groups = {c["group"] for c in server.clients().values()}
        server.rpc("Group.SetClients", {"id": next(iter(groups)), "clients": ["studio-1", "garden-1"]})
        server.rpc("Client.SetVolume", {"id": "studio-1", "volume": {"percent": 30, "muted": True}})
        length, fade = 4.0, 2.0

        async def play() -> float:
            rooms = [
                make_player(speaker(server, "studio", "studio-1"), max_volume=100, name="studio"),
                make_player(speaker(server, "garden", "garden-1"), max_volume=100, name="garden"),
            ]
            try:
                for p in rooms:
                    assert await p.open()
                await eventually_async(lambda: all(p.status()["problem"] is None for p in rooms), timeout=10)
                t0 = time.time()
                for p, track in zip(rooms, (a440, e660), strict=True):
                    await p.follow(
                        MusicState("tones", False, True, 0.0, 80.0, 80.0, 0.0),
                        fit([track], length, 1, fade_out=fade),
                        t0,
                    )
                await asyncio.sleep(length + 0.3)
                for p in rooms:
                    await p.follow(None, None)  # the daemon at the session end
                return t0
            finally:
                for p in rooms:
                    await p.close()

        started = studio.frames, garden.frames
        t0 = asyncio.run(play())
        end = t0 + length
        eventually(
            lambda: studio.frame_at(time.time()) > 0 and time.time() > end + server.buffer / 1000 + 0.8, timeout=5
        )

        clients = server.clients()
        assert (clients["studio-1"]["stream_id"], clients["garden-1"]["stream_id"]) == ("studio", "garden")
        assert clients["studio-1"]["config"]["volume"] == {"muted": False, "percent": 100}
        for client, since, mine, other in ((studio, started[0], 440.0, 660.0), (garden, started[1], 660.0, 440.0)):
            frame, held = fade_end(client, since)
            at = heard_at(client, frame)
            middle = client.samples(frame - int(2.5 * RATE), frame - int(2.1 * RATE))  # held, before the fade
            assert tone_power(middle, mine) > 100 * tone_power(middle, other), client.host_id
            print(f"{client.host_id}: the fade ended {1000 * (at - end):+.0f} ms from the session end")
            assert at - end == pytest.approx(0.0, abs=0.1), (client.host_id, at - end)
            assert rms(client.samples(frame + WINDOW, frame + 20 * WINDOW)) < 30  # silent after the end


@needs_mpv
@needs_snapcast
def test_a_server_that_is_down_is_said_in_words_and_music_comes_once_it_is_up(tmp_path):
    track = write_wav(tmp_path / "a440.wav", 10, 440.0, rate=RATE)
    server = Snapserver(("studio",))
    try:

        async def scenario() -> None:
            player = SnapcastPlayer(speaker(server, "studio", "late-1"), max_volume=100, name="studio", retry_after=0.2)
            try:
                t0 = time.time()
                await player.follow(MusicState("tones", False, True, 0.0, 80.0, 80.0, 0.0), fit([track], 8.0, 1), t0)
                problem = player.status()["problem"]
                assert problem is not None and problem["code"] == "no_speaker"
                assert problem["text"].startswith(f"the Snapcast server at {server.control} cannot be reached")
                assert not server.pipes["studio"].exists()  # nothing written where the fifo should be
                server.start()
                with Snapclient(server, "late-1") as client:  # a client that comes after the player
                    await eventually_async(lambda: player.status()["problem"] is None, timeout=5)
                    await eventually_async(lambda: server.clients().get("late-1", {}).get("stream_id") == "studio", 5)
                    await eventually_async(lambda: rms(client.samples(max(0, client.frames - WINDOW))) > 1000, 5)
            finally:
                await player.close()

        asyncio.run(scenario())
    finally:
        server.__exit__()


@needs_mpv
@needs_snapcast
def test_speakers_lists_the_snapcast_clients_with_the_line_to_put_in_the_config(server, tmp_path, monkeypatch, capsys):
    dead = f"127.0.0.1:{free_port()}"
    file = tmp_path / "ambience.yaml"
    file.write_text(
        f"state_dir: {tmp_path / 'state'}\nrooms:\n  studio:\n"
        f"    speaker: {{snapcast: {{server: '{server.control}', stream: studio, pipe: {server.pipes['studio']}, "
        "clients: [studio-1]}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AMBIENCE_CONFIG", str(file))
    with Snapclient(server, "studio-1"), Snapclient(server, "garden-1"):
        eventually(lambda: all(c["connected"] for c in server.clients().values()) and len(server.clients()) == 2, 10)
        code = cli.main(["speakers", "--json", "--snapcast", dead])
    out, err = capsys.readouterr()
    assert code == 0
    assert err.strip().startswith(f"the Snapcast server at {dead} cannot be reached")
    rows = {r["name"]: r for r in json.loads(out) if r["output"] == "snapcast"}
    assert set(rows) == {"studio-1", "garden-1"}
    studio = rows["studio-1"]
    assert (studio["rooms"], studio["connected"], studio["server"]) == (["studio"], True, server.control)
    assert rows["garden-1"]["rooms"] == []
    line = rows["garden-1"]["config"]
    assert line.startswith("speaker: ")
    picked = room_config(line.removeprefix("speaker: "))  # the line is a config that works as it is
    assert isinstance(picked, SnapcastSpeaker)
    assert (picked.snapcast.server, picked.snapcast.clients) == (server.control, ("garden-1",))
    assert picked.snapcast.pipe == str(server.pipes[picked.snapcast.stream])


@needs_mpv
@needs_snapcast
def test_a_daemon_session_on_a_snapcast_room_fades_out_at_its_end_at_the_client(server, tmp_path):
    """The whole way: the daemon's room drives the Snapcast player as it drives any (Room.run, the timeline)."""
    (tmp_path / "music" / "tones").mkdir(parents=True)
    write_wav(tmp_path / "music" / "tones" / "a440.wav", 20, 440.0, rate=RATE)
    room = {"name": "Studio", "speaker": speaker(server, "studio", "studio-1").model_dump(exclude={"loudness"})}
    preset = {"name": "Tone", "duration": "5s", "music": {"playlist": "tones", "volume": 60, "fade_in": "0s",
                                                        "fade_out": "2s"}}  # fmt: skip
    clinic = write_clinic(tmp_path, {"studio": room}, presets={"tone": preset}, builtin=False, music=["music"],
                          http=False)  # fmt: skip
    with Snapclient(server, "studio-1") as client:
        eventually(lambda: "studio-1" in server.clients(), timeout=10)
        since = client.frames

        async def session() -> float:
            daemon = Daemon(clinic.config)
            studio = daemon.rooms["studio"]
            task = asyncio.create_task(studio.run())
            try:
                player = daemon.players["studio"]
                assert await player.open()
                await eventually_async(lambda: player.status()["problem"] is None, timeout=10)
                studio.start(daemon.library.get("tone"))
                studio.wake()
                end = studio.ends_at
                assert end is not None
                await eventually_async(lambda: not studio.active, timeout=10)
                return end
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                for each in daemon.players.values():
                    await each.close()
                daemon.store.close()
                os.close(daemon._lock)

        end = asyncio.run(session())
        eventually(lambda: time.time() > end + server.buffer / 1000 + 0.8, timeout=5)
        frame, _ = fade_end(client, since)
        at = heard_at(client, frame)
        print(f"daemon session: the fade ended {1000 * (at - end):+.0f} ms from the session end")
        assert at - end == pytest.approx(0.0, abs=0.1)  # the figure; docs/music.md has the measured ones


@pytest.mark.slow
@needs_mpv
@needs_snapcast
def test_after_the_server_is_restarted_the_music_is_where_the_session_is_and_the_fade_ends_with_it(server, tmp_path):
    """A real restart (SIGTERM, a new snapserver on the same fifo) in a session followed four times a second
    as the daemon does: the fade still ends within 100 ms of the session end at the client. It does not
    always catch the stale audio the next test is about (that needs mpv's worker slow at the restart, as
    in the daemon under load: ``./run soak --only snapcast``); slow (~9 s)."""
    track = write_wav(tmp_path / "a440.wav", 12, 440.0, rate=RATE)
    with Snapclient(server, "studio-1") as client:
        eventually(lambda: "studio-1" in server.clients(), timeout=10)
        length, fade = 6.0, 2.0

        async def play() -> float:
            player = SnapcastPlayer(speaker(server, "studio", "studio-1"), max_volume=100, name="studio")
            try:
                assert await player.open()
                await eventually_async(lambda: player.status()["problem"] is None, timeout=10)
                t0 = time.time()
                music, fitted = (
                    MusicState("tones", False, True, 0.0, 80.0, 80.0, 0.0),
                    fit([track], length, 1, fade_out=fade),
                )

                async def ticks() -> None:  # as the daemon's room follows the timeline
                    while True:
                        await player.follow(replace(music, position=time.time() - t0), fitted, time.time())
                        await asyncio.sleep(0.25)

                ticking = asyncio.create_task(ticks())
                await asyncio.sleep(2.0)
                server.stop()
                server.start()
                await eventually_async(lambda: player.status()["problem"] is None, timeout=5)
                await asyncio.sleep(length - (time.time() - t0) + 0.3)
                ticking.cancel()
                await player.follow(None, None)
                return t0
            finally:
                await player.close()

        since = client.frames
        t0 = asyncio.run(play())
        end = t0 + length
        eventually(lambda: time.time() > end + server.buffer / 1000 + 0.8, timeout=5)
        frame, _ = fade_end(client, since)
        at = heard_at(client, frame)
        print(f"lost and back: the fade ended {1000 * (at - end):+.0f} ms from the session end")
        assert at - end == pytest.approx(0.0, abs=0.1)


class StandIn:
    """What a snapserver's pipe source does with the fifo, on a thread: reads a 20 ms chunk every 20 ms
    (while :attr:`reading` is set; cleared, the fifo fills and mpv's write waits, as when a server that
    has just come up has not read yet) and keeps what it read."""

    def __init__(self, path: Path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.reading = threading.Event()
        self.reading.set()
        self.data = bytearray()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = time.monotonic()
        while not self._done.is_set():
            if self.reading.is_set():
                with contextlib.suppress(BlockingIOError):
                    self.data += os.read(self.fd, RATE // 50 * 4)
            tick += 0.02
            time.sleep(max(0.0, tick - time.monotonic()))

    def close(self) -> None:
        self._done.set()
        self._thread.join(2)
        os.close(self.fd)


@needs_mpv
def test_music_written_for_a_server_that_went_is_not_played_first_by_the_next_one(tmp_path):
    """A snapserver restart takes milliseconds: the next server opens the same fifo before ambience has
    stopped mpv, and played first what mpv had written for the last one: what filled the fifo and the
    rest of the write mpv was in (mpv's core waits for each write, and so does its stop). The music came
    back up to 1.7 s behind the session, and the fade-out ended that late (the Snapcast soak: +263..+1783
    ms in about 1 restart of 4). Here the reader of the fifo stops reading (the fifo fills, mpv's write
    waits), the player is told the server went and came back, and the reader reads on: what it gets
    first must be the session's music from where the session is (660 Hz from 4 s on), not what mpv wrote
    before (440 Hz). No snapserver: the fifo's reader is a stand-in that reads as its pipe source does."""
    track = tmp_path / "two.wav"
    n = int(10 * RATE)
    samples = array(
        "h", (int(12000 * math.sin(2 * math.pi * (440 if i < 4 * RATE else 660) * i / RATE)) for i in range(n))
    )
    with wave.open(str(track), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(samples.tobytes())
    fifo = tmp_path / "snap-studio"
    reader = StandIn(fifo)
    config = SnapcastSpeaker.model_validate(
        {"snapcast": {"stream": "studio", "pipe": str(fifo), "clients": ["c1"], "buffer": 100}, "loudness": None}
    )

    async def scenario() -> int:
        player = SnapcastPlayer(config, max_volume=100, name="studio")
        player.control.start = lambda: None  # type: ignore[method-assign]  # no server: told by hand
        player.control.ready, player.control.problem = True, None
        try:
            assert await player.open()
            t0 = time.time()
            await player.follow(
                MusicState("tones", False, True, 0.0, 80.0, 80.0, 0.0), fit([Track(track, 10.0, "two.wav")], 8.0, 1), t0
            )
            await asyncio.sleep(1.0)
            reader.reading.clear()  # the server stops reading: mpv's writes wait on a full fifo
            await asyncio.sleep(2.5)
            player.control.ready = False  # the server is gone ...
            player._ready_changed()
            await asyncio.sleep(0.5)
            player.control.ready = True  # ... and back: the music where the session is (3.5 s + lead)
            player._ready_changed()
            await asyncio.sleep(0.3)
            resumed = len(reader.data)
            reader.reading.set()
            await asyncio.sleep(1.0)
            await player.follow(None, None)
            return resumed
        finally:
            await player.close()

    try:
        resumed = asyncio.run(scenario())
    finally:
        reader.close()
    after = array("h", bytes(reader.data[resumed - resumed % 4 :]))[0::2]
    loud = [i for i in range(0, len(after) - WINDOW, WINDOW) if rms(after[i : i + WINDOW]) > 1000]
    assert loud, "nothing was read after the server came back"
    first = after[loud[0] : loud[0] + 10 * WINDOW]  # the first 100 ms of music after it
    assert tone_power(first, 660.0) > 100 * tone_power(first, 440.0), "the music written before came first"


def test_ambience_play_refuses_an_audio_device_for_a_snapcast_room(tmp_path, monkeypatch, capsys):
    (tmp_path / "music" / "tones").mkdir(parents=True)
    write_wav(tmp_path / "music" / "tones" / "a440.wav", 2, 440.0)
    file = tmp_path / "ambience.yaml"
    file.write_text(
        f"state_dir: {tmp_path / 'state'}\nmusic: [music]\nrooms:\n  studio:\n"
        "    speaker: {snapcast: {stream: studio, pipe: /run/ambience/snap-studio, clients: [c1]}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AMBIENCE_CONFIG", str(file))
    code = cli.main(["play", "tones", "--for", "3s", "--room", "studio", "--ao", "null", "--fade-in", "0s",
                     "--fade-out", "1s"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "--audio-device and --ao are for a speaker on this machine; room studio's is a Snapcast stream" in err
    assert "Traceback" not in err


@needs_mpv
@needs_snapcast
def test_a_stream_the_server_does_not_have_is_named_with_the_ones_it_has(server):
    config = SnapcastSpeaker.model_validate(
        {
            "snapcast": {
                "server": server.control,
                "stream": "attic",
                "pipe": "/run/ambience/snap-attic",
                "clients": ["c1"],
            }
        }
    )

    async def scenario() -> dict:
        player = SnapcastPlayer(config, name="attic", retry_after=0.2)
        try:
            assert await player.open()
            await eventually_async(lambda: "no stream" in (player.status()["error"] or ""), timeout=5)
            return player.status()
        finally:
            await player.close()

    status = asyncio.run(scenario())
    assert status["problem"] == {
        "code": "no_speaker",
        "text": f"the Snapcast server at {server.control} has no stream 'attic'",
    }
    assert "(it has: studio, garden)" in status["error"] and not status["playing"]
