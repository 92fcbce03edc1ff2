"""A home visit leaves (issue 17, point 7): ``ambience visit leave`` ends the session, puts the home
back (confirmed), removes ambience from the client's Home Assistant and clears every retained topic
of ambience, prints what it put back, and the daemon exits 0. Against a real mosquitto, the
simulator and ``ambience serve`` as a process."""

from __future__ import annotations

from test_shutdown import rig, start_session

from ambience.testing.mosquitto import MqttProbe
from ambience.testing.process import DaemonProcess

BASE, PREFIX = "amb", "homeassistant"
"""The base topic of test_shutdown's rig, and Home Assistant's default discovery prefix."""


def retained(broker) -> dict[str, bytes]:
    """Every retained message on the broker now: a fresh subscription to ``#`` gets exactly those."""
    with MqttProbe(broker, "#") as probe:
        probe.settle()
        return {m.topic: m.payload for m in probe.messages() if m.retain}


def ambience_topics(topics) -> list[str]:
    return sorted(t for t in topics if t.startswith(f"{BASE}/") or t.startswith(f"{PREFIX}/"))


def test_leaving_a_home_visit_puts_the_home_back_and_leaves_nothing_of_ambience_on_the_broker(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path, home_visit=True)
    try:
        start_session(sim, daemon)
        before = retained(broker)
        assert {f"{BASE}/studio/state", f"{BASE}/status", f"{PREFIX}/device/{BASE}_studio/config",
                f"{BASE}/ha/rooms", f"{BASE}/studio/ha/preset"} <= set(before)  # fmt: skip

        left = daemon.cli("visit", "leave")

        assert left.returncode == 0, left.stdout + left.stderr
        assert daemon.proc is not None and daemon.proc.wait(15) == 0  # it stops by itself, cleanly
        out = left.stdout
        assert "Thermostat: 19 °C (heat) as found, confirmed" in out, out
        assert "Lamp: 80 % at 4000 K as found, confirmed" in out, out
        assert "Ceiling light: off as found, confirmed" in out, out
        assert f"{PREFIX}/device/{BASE}_studio/config" in out and f"{BASE}/studio/state" in out
        # the home is as it was found
        assert sim.device("studio", "trv")["target"] == 19
        lamp = sim.device("studio", "lamp")
        assert lamp["on"] and abs(lamp["brightness"] - 80) < 2
        assert not sim.device("studio", "ceiling")["on"]
        # nothing of ambience stays retained; what stays is the devices' own: their bridges' topics, and
        # the simulator's view of them (it stands for the devices)
        after = retained(broker)
        assert ambience_topics(after) == []
        devices = {"zigbee2mqtt", "tasmota", "tele", "stat", "ambience-sim"}
        assert after and all(topic.split("/")[0] in devices for topic in after), sorted(after)
        assert [h["outcome"] for h in history(daemon)] == ["stopped"]
    finally:
        daemon.stop()
        sim.stop()


def history(daemon: DaemonProcess) -> list[dict]:
    """The history, read from a daemon started again for it (and stopped: it announces itself)."""
    daemon.start()
    try:
        return daemon.api("GET", "/api/history?room=studio")
    finally:
        daemon.stop()


def test_a_clinic_does_not_leave_without_force(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path)
    try:
        daemon.start()
        refused = daemon.cli("visit", "leave")
        assert refused.returncode == 1
        assert "no room here is a home visit (home_visit: true)" in refused.stderr + refused.stdout
        assert daemon.running and daemon.room("studio")["state"] == "idle"  # nothing disturbed
        bad = daemon.api("POST", "/api/visit/leave", {"force": "yes"}, expect=422)
        assert 'force: "yes" is not true or false' in bad["error"], bad
        assert daemon.running
    finally:
        daemon.stop()
        sim.stop()


def test_a_clinic_leaves_with_force_and_exits(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path)
    try:
        daemon.start()
        left = daemon.cli("visit", "leave", "--force")
        assert left.returncode == 0, left.stdout + left.stderr
        assert "nothing to put back" in left.stdout
        assert daemon.proc is not None and daemon.proc.wait(15) == 0
        assert ambience_topics(retained(broker)) == []
    finally:
        daemon.stop()
        sim.stop()


def test_a_device_that_does_not_confirm_is_named_and_stays_owed(broker, tmp_path):
    sim, daemon = rig(broker, tmp_path, home_visit=True, shutdown_wait="2s")
    try:
        start_session(sim, daemon)
        sim.set_faults("studio", "trv", mute=True)

        left = daemon.cli("visit", "leave")

        assert left.returncode == 1, left.stdout + left.stderr  # a hand is needed
        assert "Thermostat did not confirm 19 °C (heat) — check it by hand" in left.stdout, left.stdout
        assert "Lamp: 80 % at 4000 K as found, confirmed" in left.stdout
        assert daemon.proc is not None and daemon.proc.wait(15) == 0
        assert ambience_topics(retained(broker)) == []
        daemon.start()  # never silently dropped: still owed at the next start
        owed = daemon.room("studio")["owed"]
        assert [o["device"] for o in owed] == ["trv"] and owed[0]["state"]["target"] == 19
    finally:
        daemon.stop()
        sim.stop()
