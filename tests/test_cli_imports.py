"""A command imports only what it needs: ``ambience status`` is a page of the daemon's answer, not the daemon.

Each command line imports only the module registering its command (``ambience.cli.COMMANDS``); the
session commands' module keeps the daemon's layers (the web server, the store, MQTT, the player, the
scheduler) for the commands that use them. Checked in a fresh interpreter's ``sys.modules`` after a
real ``ambience status`` answered by a stand-in daemon (bench P12 times the whole process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ambience import cli
from ambience.testing.env import without_ambience

HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "apscheduler", "mpv", "paho", "psycopg")

ROOM = {
    "room": "studio", "name": "Treatment room 1", "state": "running", "preset": "express-30", "preset_name": "Express",
    "phase": "arrival", "client": None, "started_at": "2027-01-15T08:00:00+00:00",
    "ends_at": "2027-01-15T08:30:00+00:00", "remaining_s": 1500,
    "devices": [{"id": "trv", "role": "thermostat", "status": "confirmed"}],
    "owed": [{"device": "lamp", "state": {"state": "OFF"}, "status": "pending", "since": "2027-01-15T08:00:00+00:00"}],
    "music": {"playing": False, "track": None, "volume": 0, "error": "no speaker configured for this room"},
}  # fmt: skip

STATUS = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer

class Daemon(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps([json.loads(sys.argv[2])]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Daemon)
threading.Thread(target=server.serve_forever, daemon=True).start()
import os
os.environ["AMBIENCE_URL"] = f"http://127.0.0.1:{server.server_port}"
os.environ["AMBIENCE_TOKEN"] = "t" * 32
from ambience.cli import main
code = main(["status", "--config", sys.argv[1]])
print("EXIT", code)
print("LOADED", " ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.unit
def test_ambience_status_imports_no_heavy_module(tmp_path: Path):
    config = tmp_path / "ambience.yaml"
    config.write_text("state_dir: state\nrooms:\n  studio: {name: Treatment room 1}\n")
    done = subprocess.run(
        [sys.executable, "-c", STATUS, str(config), json.dumps(ROOM)], capture_output=True, text=True, timeout=60,
        env=without_ambience(), check=False,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert "EXIT 0" in lines, done.stdout + done.stderr
    assert "Treatment room 1" in done.stdout and "putting back" in done.stdout  # the daemon's answer, shown
    loaded = set(next(line for line in lines if line.startswith("LOADED")).split()[1:])
    assert not loaded & set(HEAVY), f"`ambience status` imported {sorted(loaded & set(HEAVY))}"


@pytest.mark.unit
def test_every_command_is_found_in_its_own_module():
    """``COMMANDS`` names the module of every command the whole parser has (a new command cannot be missed)."""
    full = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(full.choices) == set(cli.COMMANDS)
    for word, module in cli.COMMANDS.items():
        alone = next(a for a in cli._parser([module])._actions if isinstance(a, argparse._SubParsersAction))
        assert word in alone.choices, (word, module)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["status"], "status"),
        (["--config", "x.yaml", "status", "--json"], "status"),
        (["--config=x.yaml", "-v", "extend", "-5m"], "extend"),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_word_is_found_past_the_common_options(argv: list[str], word: str | None):
    assert cli.command_word(argv) == word
