"""The daemon end to end: a real mosquitto, the simulator, ``ambience serve`` as a process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ambience.simulator import Simulator
from ambience.testing import FOUND, TINY, DaemonProcess, eventually, write_clinic

PRESETS = {
    "short": """
name: Short session
duration: 60s
climate: {target: 24}
lights: {brightness: 30, color_temp: 2700, transition: 0s}
phases:
  - {name: arrival, at: 0s}
  - {name: closing, at: -20s, lights: {brightness: 60, transition: 0s}}
after: restore
""",
    "tiny": TINY,
}


@contextmanager
def daemon_and_simulator(broker, tmp_path: Path, **process: Any) -> Iterator[tuple[DaemonProcess, Simulator]]:
    """PRESETS and the studio in ``tmp_path``, the simulated devices on ``broker``, and ``ambience serve``
    ready to start (``process``: more DaemonProcess options); stopped afterwards."""
    clinic = write_clinic(
        tmp_path, mqtt=broker.url, base_topic="amb", presets=PRESETS, music=["music"],
        reconcile={"ack_timeout": "0.3s", "max_tries": 3, "slow_retry": "3s"},
    )  # fmt: skip
    with Simulator(clinic.config, tick=0.2, initial=FOUND) as sim:
        daemon = DaemonProcess(clinic.file, clinic.state_dir, **process)
        try:
            yield daemon, sim
        finally:
            daemon.stop()


@pytest.fixture
def setup(broker, tmp_path):
    with daemon_and_simulator(broker, tmp_path) as pair:
        yield pair


def close(a: float, b: float, tol: float = 1.5) -> bool:
    return abs(a - b) <= tol


def test_after_restore_puts_back_a_light_that_was_off_and_the_previous_setpoint(setup):
    daemon, sim = setup
    daemon.start()
    eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]))
    daemon.api("POST", "/api/rooms/studio/start", {"preset": "short"})
    sim.wait_for("studio", "ceiling", lambda s: s["on"] and close(s["brightness"], 30), timeout=5)
    sim.wait_for("studio", "lamp", lambda s: close(s["brightness"], 30) and close(s["color_temp"], 2700, 30), timeout=5)
    sim.wait_for("studio", "trv", lambda s: s["target"] == 24, timeout=5)
    daemon.api("POST", "/api/rooms/studio/stop")
    sim.wait_for("studio", "ceiling", lambda s: not s["on"], timeout=5)
    sim.wait_for(
        "studio",
        "lamp",
        lambda s: s["on"] and close(s["brightness"], 80) and close(s["color_temp"], 4000, 40),
        timeout=5,
    )
    sim.wait_for("studio", "trv", lambda s: s["target"] == 19 and s["mode"] == "heat", timeout=5)
    history = daemon.api("GET", "/api/history?room=studio")
    assert history[0]["outcome"] == "stopped" and history[0]["preset"] == "short"


def test_sigkill_mid_session_resumes_with_the_right_remaining_time(setup):
    daemon, sim = setup
    daemon.start()
    eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]))
    status = daemon.api("POST", "/api/rooms/studio/start", {"preset": "short", "duration": "45s"})
    ends = time.time() + status["remaining_s"]
    sim.wait_for("studio", "ceiling", lambda s: close(s["brightness"], 30), timeout=5)
    sent_before = sim.commands("studio", "ceiling")
    daemon.kill()
    time.sleep(1.0)  # down for a second
    daemon.start()
    status = daemon.room("studio")
    assert status["state"] == "running" and status["preset"] == "short"
    assert close(status["remaining_s"], ends - time.time(), 2.0)
    # the devices are sent the current state again after the restart
    eventually(lambda: sim.commands("studio", "ceiling") > sent_before, timeout=5)
    assert daemon.api("GET", "/api/history?room=studio") == []


def test_killed_before_the_end_and_restarted_after_it_applies_the_after_state(setup):
    daemon, sim = setup
    daemon.start()
    eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]))
    daemon.api("POST", "/api/rooms/studio/start", {"preset": "tiny"})
    sim.wait_for("studio", "trv", lambda s: s["target"] == 25, timeout=5)
    time.sleep(5)  # 5 s of the 8 s session
    daemon.kill()
    time.sleep(4)  # the session ends while ambience is down
    assert sim.device("studio", "trv")["target"] == 25  # nothing put the room back yet
    daemon.start()
    sim.wait_for("studio", "trv", lambda s: s["target"] == 19, timeout=5)
    sim.wait_for("studio", "lamp", lambda s: close(s["brightness"], 80), timeout=5)
    sim.wait_for("studio", "ceiling", lambda s: not s["on"], timeout=5)
    history = daemon.api("GET", "/api/history?room=studio")
    assert [h["outcome"] for h in history] == ["recovered"]
    assert eventually(lambda: daemon.room("studio")["state"] == "idle")


def test_pause_resume_extend_and_natural_end(setup):
    daemon, sim = setup
    daemon.start()
    eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]))
    status = daemon.api("POST", "/api/rooms/studio/start", {"preset": "tiny"})
    assert status["state"] == "running" and status["phase"] is None
    paused = daemon.api("POST", "/api/rooms/studio/pause")
    assert paused["state"] == "paused"
    time.sleep(2)  # paused for 2 s: the remaining time stands still
    assert close(daemon.room("studio")["remaining_s"], paused["remaining_s"], 0.2)
    daemon.api("POST", "/api/rooms/studio/resume")
    extended = daemon.api("POST", "/api/rooms/studio/extend", {"by": "3s"})
    assert close(extended["remaining_s"], paused["remaining_s"] + 3, 0.5)
    busy = daemon.api("POST", "/api/rooms/studio/start", {"preset": "short"}, expect=409)
    assert "busy" in busy["error"]
    eventually(lambda: daemon.room("studio")["state"] == "idle", timeout=15)
    sim.wait_for("studio", "trv", lambda s: s["target"] == 19, timeout=5)
    assert [h["outcome"] for h in daemon.api("GET", "/api/history?room=studio")] == ["completed"]


def test_a_bad_preset_is_skipped_and_reported_and_the_daemon_runs(setup, tmp_path):
    daemon, _ = setup
    (tmp_path / "presets" / "broken.yaml").write_text("name: x\nduration: soon\n")
    daemon.start()
    ids = [p["id"] for p in daemon.api("GET", "/api/presets")]
    assert "short" in ids and "broken" not in ids
    log = Path(daemon.log).read_text()
    assert "broken.yaml: duration: 'soon' is not a duration" in log
    assert daemon.stop() == 0


def test_a_second_daemon_on_the_same_state_directory_is_refused(setup):
    daemon, _ = setup
    daemon.start()
    second = DaemonProcess(daemon.config_file, daemon.state_dir)
    with pytest.raises(RuntimeError, match=r"another ambience serve \(pid \d+\) is running with the state directory"):
        second.start(timeout=10)


def test_the_cli_starts_a_session_that_drives_the_devices(setup, capsys, monkeypatch):
    from ambience.cli import main

    daemon, sim = setup
    daemon.start()
    monkeypatch.setenv("AMBIENCE_URL", daemon.url)
    monkeypatch.setenv("AMBIENCE_TOKEN", daemon.token())
    cfg = str(daemon.config_file)
    assert main(["start", "studio", "short", "--client", "A. Smith", "--config", cfg]) == 0
    sim.wait_for("studio", "lamp", lambda s: s["on"] and close(s["brightness"], 30), timeout=5)
    sim.wait_for("studio", "trv", lambda s: s["target"] == 24, timeout=5)
    capsys.readouterr()
    assert main(["status", "studio", "--json", "--config", cfg]) == 0
    import json

    status = json.loads(capsys.readouterr().out)
    status = status[0] if isinstance(status, list) else status
    assert status["state"] == "running" and status["client"] == "A. Smith" and status["preset"] == "short"
    eventually(lambda: all(d["status"] == "confirmed" for d in daemon.room("studio")["devices"]))
    assert main(["stop", "studio", "--config", cfg]) == 0
    sim.wait_for("studio", "lamp", lambda s: close(s["brightness"], 80), timeout=5)
