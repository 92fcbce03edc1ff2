"""``ambience playlists list|check|fit`` and ``ambience play`` (real libmpv for play, skipped without it)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import wave
from array import array
from pathlib import Path

import pytest
from media import disguised_edl

from ambience import cli

try:
    import mpv  # noqa: F401
except (ImportError, OSError) as exc:
    MPV_MISSING = f"libmpv cannot be loaded: {exc}"
else:
    MPV_MISSING = ""
needs_mpv = pytest.mark.skipif(bool(MPV_MISSING), reason=MPV_MISSING or "libmpv is here")

# Until ambience/cli/__init__.py registers the music commands, add them to the parser it builds.
REGISTER = textwrap.dedent(
    """
    import argparse
    from ambience import cli
    from ambience.cli import music_cmds

    _build = cli.build_parser

    def build_parser():
        parser = _build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "playlists" not in sub.choices:
            common = argparse.ArgumentParser(add_help=False)
            common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
            common.add_argument("--config", metavar="FILE")
            music_cmds.register(sub, common)
        return parser

    cli.build_parser = build_parser
    """
)


@pytest.fixture(autouse=True)
def room(monkeypatch, tmp_path):
    """A config with one music folder, and the music commands registered."""
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ambience.yaml").write_text("music: [music]\n")
    (tmp_path / "music").mkdir()
    namespace: dict = {}
    exec(REGISTER, namespace)
    monkeypatch.setattr(cli, "build_parser", namespace["build_parser"])
    return tmp_path


def tone(path: Path, seconds: float, freq: float = 330.0, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = 2 * math.pi * freq / rate
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(array("h", (int(6000 * math.sin(w * i)) for i in range(int(seconds * rate)))).tobytes())
    return path


@pytest.fixture
def spa(room) -> Path:
    folder = room / "music" / "spa"
    for name, seconds in (("a.wav", 3), ("b.wav", 4), ("c.wav", 5)):
        tone(folder / name, seconds)
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_says_the_default_playlist_is_still_to_be_rendered_on_a_fresh_machine(capsys, room):
    code, out, err = run(capsys, "playlists", "list")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("calm"))
    assert row.split()[1:3] == ["0", "0s"] and "(rendering 0/15; the daemon renders it" in " ".join(out.split())
    assert not (room / "music" / "calm").exists()  # listing renders nothing (minutes): the daemon or a fit does


def test_list_shows_each_playlist_with_tracks_and_length(capsys, spa, room):
    (room / "music" / "calm").mkdir()
    tone(room / "music" / "calm" / "own.wav", 2)
    (spa / "broken.mp3").write_bytes(b"\x00" * 100)
    (room / "music" / "evening.m3u").write_text("spa/c.wav\nspa/a.wav\n")
    code, out, _ = run(capsys, "playlists", "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["spa"][1:4] == ["3", "12s", "1"]  # 3 tracks, 12 s, 1 skipped
    assert rows["evening.m3u"][1:3] == ["2", "8s"]
    assert rows["calm"][1:3] == ["1", "2s"]  # one's own calm playlist is used as it is


def test_check_passes_on_good_playlists(capsys, spa):
    code, out, err = run(capsys, "playlists", "check")
    assert code == 0, err
    assert "ok  spa  (3 tracks, 12s)" in out and "1 playlist, 0 problems" in out


def test_check_reports_every_problem_and_exits_1(capsys, spa, room):
    outside = tone(room / "private" / "x.wav", 1)
    (spa / "link.wav").symlink_to(outside)
    (spa / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 40)
    tone(spa / "empty.wav", 0)
    (room / "music" / "away").symlink_to(room / "private", target_is_directory=True)
    code, out, err = run(capsys, "playlists", "check")
    assert code == 1
    assert "link.wav: is outside the music folders" in err
    assert "broken.flac:" in err and "skipped" in err
    assert "empty.wav: has zero length" in err
    assert "playlist 'away' leads outside the music folders" in err
    assert "2 playlists, 4 problems" in out


def test_check_reports_files_that_are_not_the_audio_their_names_say(capsys, spa, room):
    """Issue 12 (15): an mpv EDL named .mp3 (naming a file outside the folders, or a URL) passed the check."""
    disguised_edl(spa / "edl.mp3", str(tone(room / "private" / "x.wav", 1)))
    disguised_edl(spa / "url.mp3", "http://127.0.0.1:9/x.wav")
    code, out, err = run(capsys, "playlists", "check")
    assert code == 1
    lines = [line for line in err.splitlines() if "mpv EDL" in line]
    assert len(lines) == 2 and all("is not MP3 audio as its name says" in line for line in lines)
    assert "edl.mp3" in lines[0] and "url.mp3" in lines[1]
    assert "1 playlist, 2 problems" in out


def test_check_reports_a_missing_music_folder(capsys, room):
    (room / "music").rmdir()
    code, _, err = run(capsys, "playlists", "check")
    assert code == 1 and "music: is not a folder" in err


def test_fit_shows_the_order_starts_total_and_fade_out(capsys, spa):
    code, out, err = run(capsys, "playlists", "fit", "spa", "10s", "--seed", "3", "--fade-out", "4s")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[0][1] == "0:00"
    assert "total 12s of music for a 10s session" in out
    assert "fade-out begins at 0:06 (4s before the end)" in out
    assert sum("fade-out begins 1s in" in line for line in out.splitlines()[1:4]) == 1  # marked on its track
    again = run(capsys, "playlists", "fit", "spa", "10s", "--seed", "3", "--fade-out", "4s")[1]
    assert again == out
    assert out.rstrip().endswith("no track plays twice")


def test_fit_says_from_when_and_how_often_a_short_playlist_repeats(capsys, spa):
    code, out, err = run(capsys, "playlists", "fit", "spa", "40s", "--seed", "3", "--fade-out", "4s")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()[:1].isdigit()]
    second = rows[3]  # the second cycle begins after the three tracks (12 s)
    assert second[1] == "0:12"
    last = " ".join(out.split())
    assert f"the playlist (12s) is shorter than the session: it repeats from 0:12 ({second[3]} again)" in last
    assert last.endswith("a track plays up to 4 times")


def test_fit_refuses_a_path_outside_the_music_folders(capsys, spa):
    code, _, err = run(capsys, "playlists", "fit", "../etc", "5m")
    assert code == 1 and "error: playlist '../etc' is not allowed" in err and "music" in err
    code, _, err = run(capsys, "playlists", "fit", "/etc", "5m")
    assert code == 1 and "'/etc' is not allowed" in err
    code, _, err = run(capsys, "playlists", "fit", "spa", "soon")
    assert code == 1 and "LENGTH: 'soon' is not a duration" in err


@needs_mpv
def test_play_plays_for_the_given_length_and_exits(capsys, spa):
    started = time.monotonic()
    code, out, err = run(capsys, "play", "spa", "--for", "3s", "--fade-in", "1s", "--fade-out", "1s", "--ao", "null")
    took = time.monotonic() - started
    assert code == 0, err
    assert 2.9 < took < 6
    assert "playing 'spa' for 3s" in out and "done" in out
    assert any(line.startswith("0:00") and "spa/" in line for line in out.splitlines())


@needs_mpv
def test_play_without_an_audio_output_says_why(capsys, spa):
    code, _, err = run(
        capsys, "play", "spa", "--for", "10s", "--fade-in", "1s", "--fade-out", "1s", "--audio-device", "x/y"
    )
    assert code == 1
    assert "error: no audio output" in err and "'x/y'" in err


@needs_mpv
def test_play_with_a_room_uses_the_room_s_audio_outputs(capsys, room, spa):
    """``--room``: the room's speaker, its ``ao`` too (it was dropped: the default outputs were tried)."""
    (room / "ambience.yaml").write_text("music: [music]\nrooms: {studio: {speaker: {ao: 'null'}}}\n")
    code, out, err = run(
        capsys, "play", "spa", "--for", "2s", "--fade-in", "0s", "--fade-out", "1s", "--room", "studio"
    )
    assert code == 0, err
    assert any(line.startswith("0:00") and line.endswith("(null)") for line in out.splitlines()), out


def test_play_refuses_fades_longer_than_the_session(capsys, spa):
    code, _, err = run(capsys, "play", "spa", "--for", "20s", "--fade-in", "15s", "--fade-out", "10s")
    assert code == 1 and "is longer than --for 20s" in err


@needs_mpv
def test_ctrl_c_fades_and_stops_cleanly(room, spa):
    script = room / "ambience_cli.py"
    # Ctrl-C as in a terminal: a test run started in the background (a script's `&`, CI) passes SIGINT on
    # ignored, and Python then leaves it ignored, so the play would never hear it
    script.write_text(
        REGISTER + "\nimport signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            "play",
            "spa",
            "--for",
            "1m",
            "--fade-in",
            "1s",
            "--fade-out",
            "5s",
            "--ao",
            "null",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("0:00"):
                break
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    took = time.monotonic() - interrupted
    assert proc.returncode == 130, err
    assert "stopped" in err and "Traceback" not in err
    assert 2.5 < took < 8  # it faded out before stopping
