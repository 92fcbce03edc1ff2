"""The CLI client against the daemon's HTTP API served by uvicorn (a real Daemon's rooms, in a thread)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ambience import cli
from ambience.cli import Context, client_cmds
from ambience.config import parse_config
from ambience.testing import TWO_ROOMS, Clock, LiveDaemon, eventually, free_port, write_clinic

PRESET = "swedish-relaxation-60"
pytestmark = pytest.mark.usefixtures("clean_env")


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.fixture(autouse=True)
def registered(monkeypatch) -> None:
    """Until ``cli/__init__.py`` registers client_cmds, register it here; a no-op once it does."""
    original = cli.build_parser
    if "start" in _subparsers(original()).choices:
        return

    def build() -> argparse.ArgumentParser:
        parser = original()
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
        common.add_argument("--config", metavar="FILE")
        client_cmds.register(_subparsers(parser), common)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


@pytest.fixture(autouse=True)
def in_tmp_path(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # where the CLI looks for ambience.yaml


def write_config(tmp_path: Path, port: int) -> Path:
    return write_clinic(tmp_path, TWO_ROOMS, http={"host": "127.0.0.1", "port": port}).file


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """The rooms and the HTTP API of a real Daemon in a thread; no broker (device commands are dropped)."""
    config_file = write_config(tmp_path, free_port())
    with LiveDaemon(config_file, mqtt=False):
        yield config_file


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def room_json(capsys, room: str = "studio") -> dict:
    code, out, err = run(capsys, "status", room, "--json")
    assert code == 0, err
    return json.loads(out)


def close(a: float, b: float, tol: float = 3.0) -> bool:
    return abs(a - b) <= tol


# ---- sessions over HTTP ---------------------------------------------------------------------


def test_start_status_extend_pause_stop_and_history(served: Path, capsys):
    code, out, err = run(capsys, "start", "studio", PRESET, "--for", "45m", "--client", "A. Smith")
    assert code == 0, err
    assert out.startswith(f"studio: started {PRESET}; 4") and "left, ends at" in out

    room = room_json(capsys)
    assert room["state"] == "running" and room["client"] == "A. Smith" and close(room["remaining_s"], 2700)

    code, out, _ = run(capsys, "extend", "studio", "10m")
    assert code == 0 and "extended by 10m" in out
    assert close(room_json(capsys)["remaining_s"], 3300)
    code, out, _ = run(capsys, "extend", "studio", "-5m")
    assert code == 0 and "shortened by 5m" in out
    assert close(room_json(capsys)["remaining_s"], 3000)

    code, out, _ = run(capsys, "pause", "studio")
    assert code == 0 and "studio: paused" in out
    assert room_json(capsys)["state"] == "paused"
    assert run(capsys, "resume", "studio")[0] == 0

    code, out, _ = run(capsys, "status")
    assert code == 0
    for words in ("studio — Treatment room 1", "running", "Swedish relaxation, 60 minutes", "A. Smith", "garden"):
        assert words in out
    code, out, _ = run(capsys, "status", "--json")
    assert [r["room"] for r in json.loads(out)] == ["studio", "garden"]

    code, out, _ = run(capsys, "stop", "studio")
    assert code == 0 and "studio: stopped" in out
    assert room_json(capsys)["state"] == "idle"

    # the room's loop records it at its next tick
    history = eventually(lambda: json.loads(run(capsys, "history", "--json", "--room", "studio")[1]), 5)
    assert [(h["preset"], h["client"], h["outcome"]) for h in history] == [(PRESET, "A. Smith", "stopped")]
    code, out, _ = run(capsys, "history")
    assert code == 0 and "stopped" in out and PRESET in out and "A. Smith" in out
    code, out, _ = run(capsys, "history", "--room", "garden")
    assert code == 0 and "no sessions yet in garden" in out


def test_the_daemons_errors_are_one_line_and_exit_1(served: Path, capsys):
    cases = [
        (("start", "studio", "swedish-relaxation-6"), "unknown preset 'swedish-relaxation-6'; did you mean"),
        (("start", "studo", PRESET), "unknown room 'studo'; did you mean 'studio'?"),
        (("start", "studio", PRESET, "--for", "45 minutes"), "duration: '45 minutes' is not a duration"),
        (("pause", "studio"), "room 'studio' has no session running"),
        (("status", "nope"), "unknown room 'nope'"),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, *argv)
        assert code == 1, argv
        assert err.count("\n") == 1 and err.startswith("error: ") and words in err, (argv, err)
    assert run(capsys, "start", "studio", PRESET)[0] == 0
    code, _, err = run(capsys, "start", "studio", "express-30")
    assert code == 1 and "room 'studio' is busy" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "start", "studio", "express-30", "--replace")
    assert code == 0 and "started express-30" in out


def test_a_wrong_token_is_one_line_and_exit_1(served: Path, capsys, monkeypatch):
    monkeypatch.setenv("AMBIENCE_TOKEN", "not-the-token")
    code, _, err = run(capsys, "status")
    assert code == 1 and err.count("\n") == 1
    assert "refused the token; check AMBIENCE_TOKEN" in err


def test_without_a_token_the_message_says_where_to_get_one(served: Path, capsys):
    (served.parent / "state" / "token").unlink()  # as if the file were not readable by this user
    code, _, err = run(capsys, "status")
    assert code == 1 and err.count("\n") == 1 and "needs a token: set AMBIENCE_TOKEN" in err


def test_ambience_url_and_token_from_the_environment(served: Path, capsys, monkeypatch, tmp_path):
    config = parse_config(served.read_text(), str(served), served.parent)
    token = (config.state_dir / "token").read_text().strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no config file here: the defaults (another port, another state dir)
    monkeypatch.setenv("AMBIENCE_URL", f"http://127.0.0.1:{config.http.port}/")
    monkeypatch.setenv("AMBIENCE_TOKEN", token)
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    assert [r["room"] for r in json.loads(out)] == ["studio", "garden"]


def test_an_unreachable_daemon_is_one_clear_line(tmp_path: Path, capsys):
    port = free_port()
    write_config(tmp_path, port)
    for argv in (("status",), ("start", "studio", PRESET), ("history",), ("status", "--watch")):
        code, out, err = run(capsys, *argv)
        assert code == 1 and not out
        assert err == (
            f"error: cannot reach the ambience daemon at http://127.0.0.1:{port}: connection refused"
            " — is `ambience serve` running?\n"
        )


@pytest.mark.unit
def test_extend_takes_a_negative_duration_as_a_value():
    parser = cli.build_parser()
    for value in ("-5m", "-1h30m", "-90", "-2.5m"):
        args = parser.parse_args(["extend", "studio", value])
        assert args.by == value and args.room == "studio"
    args = parser.parse_args(["extend", "--config", "x.yaml", "studio", "-5m", "-v"])
    assert args.by == "-5m" and args.config == "x.yaml"


# ---- status --watch ----------------------------------------------------------------------------


def running(remaining: float, state: str = "running") -> dict:
    return {
        "room": "studio", "name": "studio", "state": state, "preset": PRESET, "preset_name": "Swedish", "phase": "arrival",
        "client": None, "started_at": "2027-01-15T08:00:00+00:00", "ends_at": "2027-01-15T09:00:00+00:00",
        "remaining_s": remaining, "devices": [{"id": "trv", "role": "thermostat", "status": "confirmed"}],
        "music": {"playing": False, "track": None, "volume": 0, "error": "no speaker configured for this room"},
    }  # fmt: skip


@pytest.mark.unit
def test_watch_counts_down_locally_refetches_and_exits_0_on_ctrl_c():
    buffer = io.StringIO()
    ctx = Context(argparse.Namespace(), Console(file=buffer, width=100), Console(file=io.StringIO()))
    clock = Clock(0.0)
    fetches: list[float] = []
    frames: list[str] = []

    def fetch() -> list[dict]:
        fetches.append(clock.now)
        return [running(600 - clock.now)]

    def sleep(seconds: float) -> None:
        frames.append(
            client_cmds.format_clock(client_cmds.remaining_at(running(600 - fetches[-1]), clock.now - fetches[-1]))
        )
        if len(frames) == 12:
            raise KeyboardInterrupt
        clock.advance(seconds)

    code = client_cmds.watch(fetch, ctx, refresh=1.0, refetch=5.0, clock=clock, sleep=sleep)
    assert code == 0
    assert fetches == [0.0, 5.0, 10.0]  # every 5 s; counted down locally in between
    assert frames[:7] == ["10:00", "9:59", "9:58", "9:57", "9:56", "9:55", "9:54"]
    assert "9:49" in buffer.getvalue()  # the last frame stays on screen


@pytest.mark.unit
def test_watch_keeps_going_when_the_daemon_goes_away():
    ctx = Context(argparse.Namespace(), Console(file=io.StringIO(), width=100), Console(file=io.StringIO()))
    clock = Clock(0.0)
    calls = [0]

    def fetch() -> list[dict]:
        calls[0] += 1
        if calls[0] > 1:
            raise client_cmds.DaemonUnreachable("cannot reach the ambience daemon")
        return [running(100, state="paused")]

    def sleep(seconds: float) -> None:
        if clock.now >= 12:
            raise KeyboardInterrupt
        clock.advance(seconds)

    assert client_cmds.watch(fetch, ctx, clock=clock, sleep=sleep) == 0
    assert calls[0] > 1
    assert "cannot reach the ambience daemon (retrying)" in ctx.out.file.getvalue()


@pytest.mark.unit
def test_remaining_is_frozen_while_paused_and_never_negative():
    assert client_cmds.remaining_at(running(100), 30) == 70
    assert client_cmds.remaining_at(running(100), 300) == 0
    assert client_cmds.remaining_at(running(100, state="paused"), 30) == 100
    assert client_cmds.remaining_at({"state": "idle", "remaining_s": None}, 30) is None


@pytest.mark.unit
def test_status_table_for_a_room_with_no_session():
    buffer = io.StringIO()
    idle = {"room": "garden", "name": "Garden", "state": "idle", "devices": [], "music": None}
    Console(file=buffer, width=100).print(client_cmds.room_table(idle))
    text = buffer.getvalue()
    assert "garden — Garden" in text and "idle" in text and "none configured" in text and "remaining" not in text


# ---- clients: the state directory, no daemon ---------------------------------------------------


@pytest.mark.sqlite_store
def test_clients_add_list_remove(tmp_path: Path, capsys):
    write_config(tmp_path, free_port())
    code, out, err = run(
        capsys, "clients", "add", "A. Smith", "--warmer", "1.5", "--no-music", "--max-brightness", "40%"
    )
    assert code == 0, err
    assert out == "added client 'A. Smith': temperature 1.5 °C warmer, music no, brightness ≤ 40 %\n"
    code, out, _ = run(capsys, "clients", "add", "B. Jones", "--cooler", "1", "--volume-offset", "-10")
    assert code == 0
    code, out, _ = run(capsys, "clients", "add", "B. Jones", "--cooler", "2")
    assert code == 0 and out.startswith("updated client 'B. Jones'")

    code, out, _ = run(capsys, "clients", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LABEL", "TEMPERATURE", "MUSIC", "MAX", "BRIGHTNESS", "VOLUME"]
    assert "A. Smith" in lines[1] and "1.5 °C warmer" in lines[1] and "≤ 40 %" in lines[1]
    assert "B. Jones" in lines[2] and "2 °C cooler" in lines[2]
    code, out, _ = run(capsys, "clients", "list", "--json")
    clients = {c["label"]: c["comfort"] for c in json.loads(out)}
    assert clients["A. Smith"]["temperature_offset"] == 1.5 and clients["A. Smith"]["no_music"] is True
    assert clients["B. Jones"] == {
        "temperature_offset": -2.0,
        "no_music": False,
        "max_brightness": None,
        "volume_offset": 0,
    }

    code, out, _ = run(capsys, "clients", "remove", "A. Smith")
    assert code == 0 and out == "removed client 'A. Smith'\n"
    code, _, err = run(capsys, "clients", "remove", "A. Smith")
    assert code == 1 and "unknown client 'A. Smith'" in err
    assert (tmp_path / "state" / "ambience.db").is_file()


def test_clients_add_names_the_option_that_is_wrong(tmp_path: Path, capsys):
    write_config(tmp_path, free_port())
    code, _, err = run(
        capsys, "clients", "add", "A", "--warmer", "9", "--max-brightness", "140", "--volume-offset", "2.5"
    )
    assert code == 1
    assert err.splitlines() == [
        "error: clients add: --warmer/--cooler: '9' is out of range; allowed -5–5 °C (-9–9 °F); a bare number is °C: did you mean 9F?",
        "error: clients add: --max-brightness: 140 is out of range; allowed 0–100 %",
        "error: clients add: --volume-offset: 2.5 is not a whole number; allowed -50–50",
    ]
    code, _, err = run(capsys, "clients", "add", "x" * 61)
    assert code == 1 and "LABEL" in err
    code, out, _ = run(capsys, "clients", "list")
    assert "no clients yet" in out
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "clients", "add", "A", "--warmer", "1", "--cooler", "1")
    assert exit_.value.code == 2
