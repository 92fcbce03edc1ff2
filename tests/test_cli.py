"""The offline commands: presets list/show/check and config check."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ambience.cli import main
from ambience.music.sounds import TOTAL
from ambience.units import format_duration


@pytest.fixture(autouse=True)
def no_config(monkeypatch, tmp_path):
    """Run every command with the defaults, whatever the developer's environment holds."""
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_check_on_the_library_passes(capsys):
    code, out, err = run(capsys, "presets", "check")
    assert code == 0, err
    assert "presets valid" in out and not err


def test_presets_list_shows_the_library(capsys):
    code, out, _ = run(capsys, "presets", "list")
    assert code == 0
    for technique in ("swedish", "deep-tissue", "myofascial", "trigger-point"):
        assert technique in out
    assert "swedish-relaxation-60" in out and "1h" in out


def test_presets_show_prints_the_phases_as_a_timeline(capsys):
    code, out, _ = run(capsys, "presets", "show", "swedish-relaxation-60")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("0:00") for line in lines)
    assert any(line.startswith("1:00:00") and "ended" in line for line in lines)
    assert "°C" in out and " K" in out


def test_presets_show_gives_the_switch_tracks_from_the_lead(capsys):
    code, out, _ = run(capsys, "presets", "show", "deep-tissue-60")
    assert code == 0
    lines = out.splitlines()
    assert "SWITCHES" in lines[[i for i, line in enumerate(lines) if line.startswith("AT")][0]]
    lead = next(line for line in lines if line.startswith("-40:00"))
    assert "lead" in lead and "table_warmer on" in lead and "diffuser" not in lead
    assert "diffuser on; table_warmer on" in next(line for line in lines if line.startswith("0:00"))
    assert "diffuser off; table_warmer on" in next(line for line in lines if line.startswith("55:00"))
    assert "switches table_warmer off; other switches restored as found" in out
    assert "at least 40m before the start" in out
    _, plain, _ = run(capsys, "presets", "show", "swedish-relaxation-60")
    assert "SWITCHES" not in plain and "switches" not in plain  # a preset without switches says nothing of them


def test_presets_check_notes_a_switch_role_no_room_has(capsys, tmp_path):
    (tmp_path / "ambience.yaml").write_text(
        "rooms:\n  studio:\n    thermostat: {bridge: zigbee2mqtt, device: trv}\n"
        "    switches: [{bridge: tasmota, device: warmer, role: table_warmer}]\n"
    )
    preset = tmp_path / "warm.yaml"
    preset.write_text("name: Warm\nduration: 30m\nswitches: {table_warmer: on, difuser: on}\n")
    code, out, err = run(capsys, "--config", str(tmp_path / "ambience.yaml"), "presets", "check", str(preset))
    assert code == 0, err
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "'difuser' is in no room's switches; it is not driven" in notes[0]
    assert "(the rooms' switch roles: table_warmer)" in notes[0]


def test_presets_show_unknown_id_suggests_one(capsys):
    code, _, err = run(capsys, "presets", "show", "swedish-relaxation-6")
    assert code == 1
    assert "unknown preset 'swedish-relaxation-6'; did you mean" in err


def test_presets_check_reports_every_mistake_and_exits_1(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\nduration: 5 minutes\nclimate: {target: 80}\nlights: {colour_temp: 2700}\n")
    good = tmp_path / "good.yaml"
    good.write_text("name: Good\nduration: 30m\n")
    code, out, err = run(capsys, "presets", "check", str(bad), str(good))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert all(str(bad) in line for line in errors)
    assert {"duration", "climate.target", "lights.colour_temp"} == {line.split(": ")[2] for line in errors}
    assert "ok  " in out and "1 of 2 presets valid" in out


def test_config_check_ok_and_bad(capsys, tmp_path):
    good = tmp_path / "ambience.yaml"
    good.write_text(
        "rooms:\n  studio:\n    thermostat: {bridge: zigbee2mqtt, device: trv}\n"
        "    lights: [{bridge: tasmota, device: lamp, role: lamp}]\n"
    )
    code, out, _ = run(capsys, "config", "check", "--config", str(good))
    assert code == 0 and "studio" in out and "tasmota" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("rooms:\n  studio:\n    lights: [{bridge: tasmot, device: lamp}]\n")
    code, _, err = run(capsys, "config", "check", "--config", str(bad))
    assert code == 1 and "rooms.studio.lights[0]" in err and "did you mean 'tasmota'" in err


def test_config_from_environment_variable(capsys, tmp_path, monkeypatch):
    cfg = tmp_path / "env.yaml"
    cfg.write_text("mqtt: {base_topic: clinic-a}\n")
    monkeypatch.setenv("AMBIENCE_CONFIG", str(cfg))
    code, out, _ = run(capsys, "config", "check")
    assert code == 0 and "clinic-a" in out


def test_python_dash_m_runs_the_cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AMBIENCE_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-m", "ambience", "presets", "list"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0 and "deep-tissue-90" in proc.stdout


def test_simulate_takes_tick_and_drift(capsys, monkeypatch):
    import ambience.simulator

    seen = {}
    monkeypatch.setattr(ambience.simulator, "main", lambda config, **kw: seen.update(kw) or 0)
    code, _, err = run(capsys, "simulate", "--tick", "0.25", "--drift", "0", "--devices", "sim.yaml")
    assert code == 0, err
    assert seen == {"url": None, "devices": "sim.yaml", "tick": 0.25, "drift": 0.0}


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--tick", "0s"], "--tick 0s must be more than 0 seconds"),
        (["--tick", "soon"], "--tick: "),
        (["--drift", "9"], "--drift 9.0 must be between 0 and 5 °C per tick"),
    ],
)
def test_simulate_refuses_a_bad_tick_or_drift(capsys, argv, said):
    code, _, err = run(capsys, "simulate", *argv)
    assert code == 2 and said in err


@pytest.mark.parametrize(
    "argv, option",
    [
        (["rooms", "check", "--timeout", "soon"], "--timeout"),
        (["apply", "studio", "swedish-relaxation-60", "--at", "later"], "--at"),
        (["devices", "--timeout", "3x"], "--timeout"),
        (
            ["book", "--room", "studio", "--preset", "express-30", "--at", "2026-12-01 14:00", "--lead", "never"],
            "--lead",
        ),
    ],
)
def test_a_bad_duration_option_is_one_line_naming_it_not_a_traceback(argv, option):
    result = subprocess.run([sys.executable, "-m", "ambience", *argv], capture_output=True, text=True, timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.startswith("ambience ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and f"argument {option}: " in lines[0] and "is not a duration" in lines[0], result.stderr


def _music_clinic(tmp_path, presets: dict[str, str]) -> str:
    """A config with one music folder holding ``short/`` (one 1-second track) and one preset folder."""
    import wave

    (tmp_path / "music" / "short").mkdir(parents=True)
    with wave.open(str(tmp_path / "music" / "short" / "tone.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(b"\x10\x00" * 8000)
    (tmp_path / "presets").mkdir()
    for pid, text in presets.items():
        (tmp_path / "presets" / f"{pid}.yaml").write_text(text)
    (tmp_path / "ambience.yaml").write_text("presets: [presets]\nmusic: [music]\n")
    return str(tmp_path / "ambience.yaml")


def test_presets_check_refuses_a_missing_playlist_and_warns_of_one_that_repeats(capsys, tmp_path):
    config = _music_clinic(tmp_path, {
        "typo": "name: Typo\nduration: 30m\nmusic: {playlist: shrot}\n",
        "loop": "name: Loop\nduration: 30m\nmusic: {playlist: short}\n",
        "quiet": "name: Quiet\nduration: 30m\n",
    })  # fmt: skip
    code, out, err = run(capsys, "--config", config, "presets", "check")
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(tmp_path / "presets" / "typo.yaml") + ": music.playlist: no playlist 'shrot'" in errors[0]
    assert "did you mean 'short'?" in errors[0]
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert str(tmp_path / "presets" / "loop.yaml") + ": music.playlist: playlist 'short' is 1s long" in warnings[0]
    assert "session's 30m: its tracks would repeat" in warnings[0]
    assert "2 of 3 presets valid" in out


def test_presets_check_passes_with_only_a_repeat_and_the_default_playlist_the_daemon_renders(capsys, tmp_path):
    config = _music_clinic(tmp_path, {
        "loop": "name: Loop\nduration: 30m\nmusic: {playlist: short}\n",
        "calm": "name: Calm\nduration: 30m\nmusic: {playlist: calm}\n",  # well within the library: no note
        "long": "name: Long\nduration: 2h\nmusic: {playlist: calm}\n",
    })  # fmt: skip
    assert not (tmp_path / "music" / "calm").exists()  # rendered by the daemon at start-up, so not missing
    code, out, err = run(capsys, "--config", config, "presets", "check")
    assert code == 0 and not err, err
    assert sum(line.startswith("warning:") for line in out.splitlines()) == 1
    note = next(line for line in out.splitlines() if line.startswith("note:"))
    assert (
        "the built-in playlist 'calm'" in note
        and f"({format_duration(TOTAL)} of soft piano" in note
        and "presets playing it: long;" in note
        and str(tmp_path / "music" / "calm") in note
    )
    assert "3 of 3 presets valid" in out
