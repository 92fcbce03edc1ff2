"""Presets reload in a running daemon (its rooms and HTTP API, no broker): no restart needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ambience import daemon
from ambience.testing import LiveDaemon, eventually, write_clinic

pytestmark = pytest.mark.usefixtures("clean_env")

QUICK = "name: Quick\nduration: 30m\n"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_the_daemon_starts_a_new_preset_file_and_a_running_session_keeps_its_version(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(daemon, "PRESET_POLL", 0.1)
    room = {"thermostat": {"bridge": "zigbee2mqtt", "device": "studio-trv"}, "speaker": None}
    clinic = write_clinic(tmp_path, {"studio": room}, presets={"quick": QUICK}, builtin=False, http={"port": 0})
    folder = tmp_path / "presets"
    with LiveDaemon(clinic.config, mqtt=False) as server:
        ids = lambda: {p["id"] for p in server.api("GET", "/api/presets")}  # noqa: E731
        assert ids() == {"quick"}
        write(folder / "long.yaml", "name: Long\nduration: 90m\n")
        eventually(lambda: "long" in ids(), timeout=10)
        server.api("POST", "/api/rooms/studio/start", {"preset": "long"})
        assert server.room("studio")["preset_name"] == "Long"
        ends_at = server.room("studio")["ends_at"]
        write(folder / "long.yaml", "name: Longer\nduration: 2h\n")
        eventually(lambda: server.call(lambda: server.daemon.library.get("long").name) == "Longer", timeout=10)
        status = server.room("studio")
        assert (status["preset_name"], status["ends_at"]) == ("Long", ends_at)  # the session it started with
        write(folder / "quick.yaml", "name: Quick\nduration: whenever\n")
        (folder / "long.yaml").unlink()
        eventually(lambda: "long" not in ids(), timeout=10)
        assert ids() == {"quick"}  # kept in its last good version
        assert server.room("studio")["preset_name"] == "Long"
        refused = server.request("POST", "/api/rooms/studio/start", {"preset": "long", "replace": True})
        assert refused.status_code == 404 and "long" in refused.text
    warned = [r.getMessage() for r in caplog.records if "quick.yaml" in r.getMessage() and "duration" in r.getMessage()]
    assert len(warned) == 1, warned  # logged once, not on every look
