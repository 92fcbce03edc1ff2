"""The after state always lands (issue 12): crashes, stops, outages, back-to-back sessions, a store
that cannot be written, poisoned reports and clock steps — against a real mosquitto, the
simulator and ``ambience serve`` as a process.

Each scenario starts from a valve found at 19 °C and a lamp at 80 %, runs an 8-second session at
25 °C with ``after: restore`` and makes the ending go wrong; the valve must end at 19 °C and the
lamp back as found. ``AMBIENCE_REPEAT=10`` runs each scenario ten times.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from ambience.testing import endings
from ambience.testing.process import DaemonProcess

REPEAT = range(int(os.environ.get("AMBIENCE_REPEAT", "1")))

# the rig (a room, its simulated devices and ``ambience serve``) is shared with the endings soak
# (bench/soak_endings.py): ambience/testing/endings.py
PRESETS = endings.PRESETS
Rig, eventually, make_rig, fill = endings.Rig, endings.eventually, endings.make_rig, endings.fill


@pytest.fixture
def rig(broker, tmp_path):
    rig = make_rig(broker, tmp_path)
    try:
        yield rig
    finally:
        rig.daemon.stop()
        rig.sim.stop()


# ---- 1. a crash or a stop while the after state is pending --------------------------------------


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("run", REPEAT)
def test_a_crash_while_the_valve_owes_the_after_state_re_applies_it(rig, how, run):
    rig.start_daemon()
    rig.session()
    rig.mute_valve()  # the valve misses the after-state command
    rig.wait_idle()
    rig.sim.wait_for("studio", "lamp", lambda s: abs(s["brightness"] - 80) < 2, timeout=5)
    owed = eventually(
        lambda: (
            [o for o in rig.daemon.room("studio")["owed"] if o["device"] == "trv"] == rig.daemon.room("studio")["owed"]
            and rig.daemon.room("studio")["owed"]
        ),
        5,
    )
    assert owed[0]["state"]["target"] == 19
    time.sleep(2)  # the valve owes it a while
    rig.daemon.kill() if how == "SIGKILL" else rig.daemon.stop()
    time.sleep(3)  # ambience is away for 3 s
    rig.mute_valve(False)
    assert rig.sim.device("studio", "trv")["target"] == 25  # nothing put it back while ambience was away
    rig.start_daemon()
    rig.assert_restored()
    assert rig.outcomes() == ["completed"]
    eventually(lambda: rig.daemon.room("studio")["owed"] == [], 5)


# ---- 2. unconfirmed and offline are not "done" ---------------------------------------------------


@pytest.mark.parametrize("run", REPEAT)
def test_an_unconfirmed_after_state_is_still_owed_after_a_restart(rig, run):
    rig.start_daemon()
    rig.session()
    rig.mute_valve()
    rig.wait_idle()
    eventually(lambda: rig.daemon.room("studio")["owed"][0]["status"] == "unconfirmed", 10)
    time.sleep(3)  # long past the old "settled" moment
    rig.daemon.stop()  # an upgrade, a reboot
    rig.mute_valve(False)
    rig.start_daemon()
    rig.assert_restored()


@pytest.mark.parametrize("run", REPEAT)
def test_the_broker_down_over_the_end_and_a_restart_still_restores(rig, run):
    rig.start_daemon()
    rig.session()
    rig.broker.stop()
    rig.wait_idle(15)
    time.sleep(3)  # the broker stays away past the end
    rig.daemon.stop()
    rig.broker.start()
    rig.sim.wait_ready(10)
    rig.start_daemon()
    rig.assert_restored(10)
    assert rig.outcomes() == ["completed"]


# ---- 3. back to back: the next session takes the owed state as found ----------------------------


@pytest.mark.parametrize("run", REPEAT)
def test_the_next_session_finds_the_room_as_owed_not_as_the_last_session_left_it(rig, run):
    rig.start_daemon()
    rig.session()
    rig.mute_valve()
    rig.wait_idle()

    def valve():
        return next(d for d in rig.daemon.room("studio")["devices"] if d["id"] == "trv")

    eventually(lambda: valve()["status"] == "unconfirmed", 10)
    eventually(lambda: all(d["status"] != "pending" for d in rig.daemon.room("studio")["devices"]), 10)
    time.sleep(1.5)  # every device confirmed or given up on for now: the old code forgot the valve owed anything
    rig.daemon.api("POST", "/api/rooms/studio/start", {"preset": "tiny"})  # session B, valve still at 25
    time.sleep(2)  # session B runs a while with the valve deaf
    rig.mute_valve(False)
    rig.sim.wait_for("studio", "trv", lambda s: s["target"] == 25, timeout=5)
    rig.wait_idle()
    rig.assert_restored()
    assert rig.outcomes() == ["completed", "completed"]


# ---- 4. the store cannot be written at the end ---------------------------------------------------


@pytest.mark.sqlite_store
@pytest.mark.parametrize("run", REPEAT)
def test_a_locked_database_at_the_end_does_not_stop_the_after_state(rig, run):
    rig.start_daemon()
    rig.session()
    db = sqlite3.connect(str(rig.daemon.state_dir / "ambience.db"), isolation_level=None, timeout=10)
    try:
        time.sleep(4)  # 4 s into the 8 s session
        db.execute("BEGIN IMMEDIATE")  # another program holds the write lock over the end
        rig.assert_restored(timeout=12)
        eventually(lambda: rig.daemon.room("studio")["store_error"], 5)
        assert "locked" in rig.daemon.room("studio")["store_error"]
    finally:
        db.execute("ROLLBACK") if db.in_transaction else None
        db.close()
    eventually(lambda: rig.outcomes() == ["completed"], 10)
    eventually(lambda: rig.daemon.room("studio")["store_error"] is None, 10)


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs for the state directory (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.sqlite_store
@pytest.mark.parametrize("run", REPEAT)
def test_a_full_disk_at_the_end_does_not_stop_the_after_state_and_start_changes_nothing(
    broker, tmp_path, small_disk, run
):
    rig = make_rig(broker, tmp_path, state_dir=small_disk / "state")
    try:
        rig.start_daemon()
        rig.session()
        filler = fill(small_disk)
        rig.assert_restored(timeout=14)
        assert rig.daemon.room("studio")["store_error"]
        # a start that cannot be written changes nothing
        refused = rig.daemon.api("POST", "/api/rooms/studio/start", {"preset": "tiny"}, expect=503)
        assert "store" in refused["error"] and "full" in refused["error"]
        time.sleep(1)  # a refused start must not happen a moment later either
        assert rig.daemon.room("studio")["state"] == "idle"
        assert rig.sim.device("studio", "trv")["target"] == 19
        filler.unlink()
        eventually(lambda: rig.daemon.room("studio")["store_error"] is None, 10)
        assert rig.outcomes() == ["completed"]
    finally:
        rig.daemon.stop()
        rig.sim.stop()


# ---- 5. a poisoned report ------------------------------------------------------------------------


@pytest.mark.parametrize("run", REPEAT)
def test_a_report_of_an_absurd_setpoint_does_not_stop_the_after_state(rig, probe, run):
    rig.start_daemon()
    probe.publish("zigbee2mqtt/trv", '{"occupied_heating_setpoint": 1e308, "system_mode": "heat"}')
    time.sleep(0.5)  # the report reaches the daemon (which drops it: nothing to wait for)
    rig.session()
    rig.wait_idle()
    rig.assert_restored()


# ---- reports that disagree -----------------------------------------------------------------------


def test_a_valve_set_above_the_limits_at_the_device_is_corrected_and_a_lamp_switched_off_is_manual(rig, probe):
    rig.start_daemon()
    rig.session("long")
    eventually(lambda: all(d["status"] == "confirmed" for d in rig.daemon.room("studio")["devices"]), 5)
    probe.publish("zigbee2mqtt/trv/set", '{"occupied_heating_setpoint": 30}')  # by hand, above the 27 °C limit
    rig.sim.wait_for("studio", "trv", lambda s: s["target"] == 30, timeout=5)
    rig.sim.wait_for("studio", "trv", lambda s: s["target"] == 25, timeout=5)
    probe.publish("cmnd/lamp/Power", "OFF")  # by hand
    rig.sim.wait_for("studio", "lamp", lambda s: not s["on"], timeout=5)

    def lamp():
        return next(d for d in rig.daemon.room("studio")["devices"] if d["id"] == "lamp")

    eventually(lambda: lamp()["status"] == "manual", 5)
    time.sleep(1.5)  # longer than the retries: the room would have switched it back on by now
    assert not rig.sim.device("studio", "lamp")["on"]  # the room does not fight the person
    assert lamp()["status"] == "manual"


# ---- clock steps ---------------------------------------------------------------------------------

FAKETIME = endings.FAKETIME


@pytest.fixture
def faked(broker, tmp_path):
    if FAKETIME is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    rig = make_rig(broker, tmp_path, env=endings.faketime_env(offset))
    try:
        yield rig, offset
    finally:
        rig.daemon.stop()
        rig.sim.stop()


def test_a_clock_step_forward_ends_the_heating_within_5_seconds(faked):
    rig, offset = faked
    rig.start_daemon()
    rig.session("long")
    offset.write_text("+600\n")
    stepped = time.monotonic()
    rig.sim.wait_for("studio", "trv", lambda s: s["target"] == 19, timeout=8)
    assert time.monotonic() - stepped <= 5.0
    assert rig.outcomes() == ["completed"]


def test_a_clock_step_back_does_not_make_the_session_longer(faked):
    rig, offset = faked
    rig.start_daemon()
    started = time.monotonic()
    rig.session("tiny")
    offset.write_text("-600\n")
    rig.sim.wait_for("studio", "trv", lambda s: s["target"] == 19, timeout=15)
    assert time.monotonic() - started <= 8 + 4


# ---- the watchdog and one daemon per site --------------------------------------------------------


def test_the_daemon_feeds_the_systemd_watchdog(broker, tmp_path):
    sock_path = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(sock_path))
    listener.settimeout(5)
    rig = make_rig(broker, tmp_path, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"})
    try:
        rig.daemon.start()
        said = []
        deadline = time.monotonic() + 5
        while said.count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
            said.append(listener.recv(256).decode())
        assert "READY=1" in said and said.count("WATCHDOG=1") >= 3
    finally:
        rig.daemon.stop()
        rig.sim.stop()
        listener.close()


@pytest.mark.sqlite_store  # on a PostgreSQL store the second one is the site's standby (tests/test_failover.py)
def test_a_second_daemon_on_the_same_base_topic_refuses_to_start(rig, tmp_path):
    rig.start_daemon()
    other_state = tmp_path / "other-state"
    other = DaemonProcess(rig.daemon.config_file, other_state, env={"AMBIENCE_STATE_DIR": str(other_state)})
    with pytest.raises(
        RuntimeError, match=r"another ambience daemon on .* runs on the broker with the base topic 'amb'"
    ):
        other.start(timeout=10)
    assert rig.daemon.room("studio")["state"] == "idle"  # the first one is undisturbed


def test_an_old_last_will_does_not_mark_the_live_daemon_offline(rig, probe):
    rig.start_daemon()
    probe.subscribe("amb/status")
    since = probe.mark()
    probe.publish("amb/status", "offline", retain=True)  # the Last Will of a daemon that died earlier
    probe.wait_for(lambda m: m.topic == "amb/status" and m.payload == b"online", timeout=3, since=since)


def test_a_killed_daemon_restarted_at_once_is_not_taken_for_another_one(rig):
    rig.start_daemon()
    rig.daemon.kill()
    rig.start_daemon()  # the broker still thinks the old connection is alive; it answers no hello
    assert rig.daemon.room("studio")["state"] == "idle"
