"""One set of cases for every player: FakePlayer and MpvPlayer (real libmpv, ao=null) must agree, so the
fake that Room and controller tests use cannot drift from what a room really hears.

Each case runs once per player, in real time (mpv plays in real time to its null output); a fake player
is already where it is going, so the waits return at once for it. Where mpv needs leeway (its start-up,
its ~50 ms position reports) the tolerance says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_player import MPV_MISSING, _no_libmpv, _no_python_mpv, steady, until, write_wav

from ambience.core.fitting import fit
from ambience.model.state import MusicState
from ambience.music.base import FakePlayer, Heard
from ambience.music.library import Track
from ambience.music.mpv import MpvPlayer

START = 0.5
"""Seconds mpv may take to begin playing (and its position to be off by its learnt start-up)."""


@pytest.fixture(scope="module")
def quiet(tmp_path_factory) -> list[Track]:
    folder = tmp_path_factory.mktemp("contract")
    return [write_wav(folder / f"quiet{i}.wav", 30, None, rate=8000) for i in range(3)]


class Rig:
    """Builds the player under test, and makes it fail as the real world would."""

    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder = kind, folder

    def player(self, **kwargs: Any) -> Any:
        return FakePlayer(**kwargs) if self.kind == "fake" else MpvPlayer(ao="null", **kwargs)

    def without_output(self, device: str) -> Any:
        if self.kind == "mpv":
            return MpvPlayer(audio_device=device)
        player = FakePlayer(audio_device=device)
        player.fail_output()
        return player

    def without_libmpv(self, loader: Callable[[], Any]) -> Any:
        """``loader``: how loading fails (python-mpv missing, or libmpv)."""
        if self.kind == "mpv":
            return MpvPlayer(load=loader)
        player = FakePlayer()
        player.fail_open(f"libmpv cannot be loaded ({loader.__name__})")
        return player

    def unopenable(self, player: Any) -> Track:
        """A track whose file is not there (mpv: "loading failed")."""
        track = Track(self.folder / "gone.wav", 10.0, "gone.wav")
        if self.kind == "fake":
            player.fail_track(track)
        return track


@pytest.fixture(params=["fake", pytest.param("mpv", marks=pytest.mark.skipif(bool(MPV_MISSING), reason=MPV_MISSING))])
def rig(request, tmp_path, monkeypatch) -> Rig:
    for shared in ("learnt", "learnt_cold"):  # every MpvPlayer learns into these: put them back after
        monkeypatch.setattr(MpvPlayer, shared, getattr(MpvPlayer, shared))
    return Rig(request.param, tmp_path)


async def under_way(player: Any, fitted) -> tuple[Any, float]:
    """``player`` playing ``fitted`` from the start, a little way in; and the session's music position now."""
    started = time.monotonic()
    await player.follow(steady(0.0, 30), fitted)
    await until(lambda: (player.position or 0) > 0.2)
    return player, time.monotonic() - started


def test_following_a_state_plays_its_track_at_its_place_and_volume(rig, quiet):
    fitted = fit(quiet, 80.0, 5, fade_out=10.0)
    second = fitted.entries[1]

    async def scenario() -> tuple[dict, float | None]:
        player = rig.player(max_volume=70)
        assert await player.open()
        await player.follow(steady(second.start + 3.0, 30), fitted)
        await until(lambda: player.status()["playing"] and player.position is not None)
        status, position = player.status(), player.position
        await player.close()
        return status, position

    status, position = asyncio.run(scenario())
    assert status == {"playing": True, "track": second.track.name, "title": second.track.title, "volume": 30.0,
                      "error": None, "problem": None, "silent": False}  # fmt: skip
    assert position == pytest.approx(second.start + 3.0, abs=START)


def test_a_fade_is_reported_on_its_way(rig, quiet):
    fitted = fit(quiet, 80.0, 5, fade_out=10.0)

    async def scenario() -> list[float]:
        player = rig.player(max_volume=70)
        started = time.monotonic()
        await player.follow(MusicState("quiet", True, True, 0.0, 0.0, 40.0, 4.0), fitted)
        await until(lambda: player.position is not None)
        seen = []
        for _ in range(3):
            await asyncio.sleep(1.0)
            seen.append((time.monotonic() - started, player.status()["volume"]))
        await player.close()
        return seen

    for t, volume in asyncio.run(scenario()):
        assert volume == pytest.approx(10 * t, abs=10 * START), t


def test_pause_holds_the_place_and_resume_goes_on_without_a_reload(rig, quiet):
    fitted = fit(quiet, 80.0, 3, fade_out=10.0)

    async def scenario() -> None:
        player, at = await under_way(rig.player(), fitted)
        await player.follow(steady(at, 30, playing=False), fitted)
        await asyncio.sleep(0.3)  # what mpv had in its output buffer
        status, frozen = player.status(), player.position
        assert status["playing"] is False and status["track"] == fitted.entries[0].track.name
        assert status["volume"] == 30.0 and frozen == pytest.approx(at, abs=START)
        await asyncio.sleep(0.5)
        assert player.position == pytest.approx(frozen, abs=0.01)
        await player.follow(steady(at, 30), fitted)
        await asyncio.sleep(0.6)
        assert player.status()["playing"] and player.position - frozen > 0.3
        assert player.reloads == 1
        await player.close()

    asyncio.run(scenario())


def test_the_same_state_again_and_an_extension_do_not_reload(rig, quiet):
    fitted = fit(quiet, 80.0, 3, fade_out=10.0)

    async def scenario() -> None:
        player, now = await under_way(rig.player(), fitted)
        await player.follow(steady(now, 30), fitted)
        longer = fit(quiet, 150.0, 3, fade_out=10.0, keep=fitted.played(now))
        await player.follow(steady(now, 30), longer)
        assert player.reloads == 1
        # Far off its place (a seek): loaded anew.
        await player.follow(steady(now + 20, 30), longer)
        await until(lambda: (player.position or 0) > now + 19)
        assert player.reloads == 2 and player.status()["track"] == longer.at(now + 20).track.name
        await player.close()

    asyncio.run(scenario())


def test_a_file_that_cannot_be_opened_is_skipped_and_the_next_plays_from_its_start(rig, quiet):
    async def scenario() -> tuple[dict, float | None, float]:
        player = rig.player()
        gone = rig.unopenable(player)
        fitted = fit([gone, *quiet], 80.0, 0, fade_out=10.0, shuffle=False)
        nxt = fitted.entries[1]
        await player.follow(MusicState("quiet", True, True, 2.0, 0.0, 40.0, 8.0), fitted)  # a fade-in to 10 s
        await until(lambda: player.status()["track"] == nxt.track.name and player.position is not None)
        status, position = player.status(), player.position
        await player.close()
        return status, position, nxt.start

    status, position, start = asyncio.run(scenario())
    # mpv logs the skipped file; the status does not name it (see docs/music.md, "Outputs and failure").
    assert status["playing"] is True and status["error"] is None
    assert position == pytest.approx(start, abs=START)
    assert status["volume"] == 40.0  # the volume of its own place in the session: the fade-in is over there


def test_without_an_audio_output_it_says_why_and_waits_before_trying_again(rig, quiet):
    fitted = fit(quiet, 80.0, 1, fade_out=10.0)

    async def scenario() -> tuple[dict, int]:
        player = rig.without_output("nonexistent/device")
        await player.follow(steady(0.0, 30), fitted)
        await until(lambda: player.status()["error"] is not None)
        await player.follow(steady(1.0, 30), fitted)  # within the retry interval: no new attempt
        await until(lambda: not player.status()["playing"])  # mpv tries each queued file, and each fails
        status, reloads = player.status(), player.reloads
        await player.close()
        return status, reloads

    status, reloads = asyncio.run(scenario())
    assert reloads == 1
    assert status["playing"] is False and status["track"] is None and status["volume"] == 0.0
    assert status["error"].startswith("no audio output: mpv could not open audio device 'nonexistent/device'")
    # for people: a code and plain words, never mpv's ("no speaker found", not "audio output initialization")
    assert status["problem"] == {
        "code": "no_speaker",
        "text": "no speaker found — check the speaker (nonexistent/device)",
    }


@pytest.mark.parametrize("loader", [_no_python_mpv, _no_libmpv])
def test_without_libmpv_it_reports_why_and_never_raises(rig, quiet, loader):
    fitted = fit(quiet, 80.0, 1, fade_out=10.0)

    async def scenario() -> dict:
        player = rig.without_libmpv(loader)
        assert not await player.open()
        await player.follow(steady(0.0, 30), fitted)
        await player.follow(None, None)
        status = player.status()
        await player.close()
        await player.close()
        return status

    status = asyncio.run(scenario())
    assert status["playing"] is False and status["track"] is None and status["volume"] == 0.0
    assert status["error"].startswith("music is off: libmpv cannot be loaded (")
    assert status["problem"] is not None and status["problem"]["code"] == "player"
    assert "libmpv" not in status["problem"]["text"]


def test_stop_the_end_of_the_music_and_close(rig, quiet):
    fitted = fit(quiet, 80.0, 1, fade_out=10.0)
    idle = {"playing": False, "track": None, "title": None, "volume": 0.0, "error": None, "problem": None,
            "silent": False}  # fmt: skip

    async def scenario() -> None:
        player = rig.player()
        await player.follow(steady(0.0, 30), fitted)
        await until(lambda: player.status()["playing"])
        await player.follow(None, None)
        await until(lambda: player.status() == idle)
        await player.follow(steady(5.0, 30), fitted)
        await until(lambda: player.status()["playing"])
        await player.follow(steady(fitted.length, 30), fitted)  # the session's music is over
        await until(lambda: player.status() == idle)
        await player.close()
        await player.close()
        reloads = player.reloads
        await player.follow(steady(5.0, 30), fitted)  # closed: nothing happens
        assert player.status() == idle and player.reloads == reloads and player.position is None

    asyncio.run(scenario())


def test_the_volume_never_exceeds_max_volume(rig, quiet):
    fitted = fit(quiet, 80.0, 1, fade_out=10.0)

    async def scenario() -> dict:
        player = rig.player(max_volume=30)
        await player.follow(MusicState("quiet", True, True, 0.0, 90.0, 100.0, 2.0), fitted)
        await until(lambda: player.status()["playing"])
        status = player.status()
        await player.close()
        return status

    assert asyncio.run(scenario())["volume"] == 30


def test_a_state_computed_a_while_ago_plays_from_where_the_session_is_now(rig, quiet):
    fitted = fit(quiet, 80.0, 5, fade_out=10.0)
    clock = [1000.0]

    async def scenario() -> float:
        player = rig.player(clock=lambda: clock[0])
        clock[0] += 2.0  # two seconds went by since the state was computed
        await player.follow(steady(10.0, 30), fitted, at=1000.0)
        await until(lambda: player.position is not None)
        position = player.position
        await player.close()
        return position

    assert asyncio.run(scenario()) == pytest.approx(12.0, abs=START)


# ---- FakePlayer's own: what it hears at a moment ----------------------------------------------------


def test_the_fake_hears_ahead_along_the_queue_cut_at_the_session_end(quiet):
    fitted = fit(quiet, 70.0, 0, fade_out=10.0, shuffle=False)
    clock = [0.0]
    player = FakePlayer(max_volume=80, clock=lambda: clock[0])
    player.fail_track(quiet[1])

    async def scenario() -> None:
        await player.follow(steady(25.0, 40), fitted, at=0.0)

    asyncio.run(scenario())
    assert player.followed == [(steady(25.0, 40), fitted, 0.0)]
    assert player.heard(3.0) == Heard(0, quiet[0], 28.0, 40.0, False)
    # quiet1 cannot be opened: quiet2 follows quiet0 at once, from its start, with the volume of its own place
    # in the session (62 s: 2 s into the fade-out), as mpv's filter has it
    assert player.heard(7.0) == Heard(2, quiet[2], pytest.approx(2.0), 32.0, False)
    assert player.heard(14.0).volume == pytest.approx(4.0)
    assert player.heard(15.0) is None  # quiet2 is cut at the session end (70 s), 10 s after it began
