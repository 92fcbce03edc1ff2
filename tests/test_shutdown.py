"""Stopping the daemon during a home visit (issue 15): with ``on_shutdown: end`` (a home visit's
default) the session ends and the after state is applied and confirmed before the process exits;
a clinic room (``resume``) keeps its session for the next start. Against a real mosquitto, the
simulator and ``ambience serve`` as a process."""

from __future__ import annotations

import time

import pytest

from ambience import testing
from ambience.simulator import Simulator
from ambience.testing.process import DaemonProcess

LONG = """\
name: Long visit
duration: 60m
climate: {target: 24}
lights: {brightness: 20, color_temp: 2500, transition: 0s}
after: restore
"""


def rig(broker, tmp_path, **room):
    clinic = testing.write_clinic(
        tmp_path, {"studio": {**testing.STUDIO, **room}}, mqtt=broker.url, base_topic="amb",
        presets={"long": LONG}, builtin=False,
        reconcile={"ack_timeout": "0.3s", "thermostat_ack_timeout": "0.5s"},
    )  # fmt: skip
    sim = Simulator(clinic.config, tick=0.2, initial=testing.FOUND).start()
    return sim, DaemonProcess(clinic.file, clinic.state_dir)


def start_session(sim, daemon):
    daemon.start()
    testing.eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]), 10)
    daemon.api("POST", "/api/rooms/studio/start", {"preset": "long"})
    sim.wait_for("studio", "trv", lambda s: s["target"] == 24, timeout=5)
    sim.wait_for("studio", "lamp", lambda s: abs(s["brightness"] - 20) < 2, timeout=5)


@pytest.mark.parametrize("room", [{"home_visit": True}, {"on_shutdown": "end"}])
def test_stopping_the_daemon_on_a_home_visit_puts_the_home_back_before_it_exits(broker, tmp_path, room):
    sim, daemon = rig(broker, tmp_path, **room)
    try:
        start_session(sim, daemon)
        code = daemon.stop()
        assert code == 0
        # read the instant the process is gone: nothing of ambience runs any more
        assert sim.device("studio", "trv")["target"] == 19
        lamp = sim.device("studio", "lamp")
        assert lamp["on"] and abs(lamp["brightness"] - 80) < 2
        assert not sim.device("studio", "ceiling")["on"]
        assert "ending the session before the daemon stops" in daemon.log_tail(80)
        daemon.start()
        assert daemon.room("studio")["state"] == "idle"  # not resumed at the next start
        assert [h["outcome"] for h in daemon.api("GET", "/api/history?room=studio")] == ["stopped"]
    finally:
        daemon.stop()
        sim.stop()


def test_a_clinic_room_keeps_its_session_over_a_restart(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path)
    try:
        start_session(sim, daemon)
        daemon.stop()
        time.sleep(0.5)
        assert sim.device("studio", "trv")["target"] == 24  # left running: the session resumes
        daemon.start()
        assert daemon.room("studio")["state"] == "running"
    finally:
        daemon.stop()
        sim.stop()


def test_a_device_that_never_confirms_does_not_keep_the_daemon_from_exiting(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path, home_visit=True, shutdown_wait="5s")
    try:
        start_session(sim, daemon)
        sim.set_faults("studio", "trv", mute=True)
        began = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - began < 10
        assert "still owe their after state" in daemon.log_tail(80)
        lamp = sim.device("studio", "lamp")
        assert abs(lamp["brightness"] - 80) < 2  # the rest of the home is back all the same
    finally:
        daemon.stop()
        sim.stop()
