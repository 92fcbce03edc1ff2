"""A table warmer on from 40 minutes before a booking, off at the end (issue 15's first "done
when"), on a Tasmota plug, a Shelly Plus Plug S and a Zigbee2MQTT plug (a Tuya TS011F), each
confirmed from the device's own report — the real daemon process, a real mosquitto and the
simulator's firmware profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ambience import testing
from ambience.simulator import Simulator
from ambience.testing.process import DaemonProcess

PLUGS = {"warmer-tasmota": "tasmota", "warmer-shelly": "shelly", "warmer-z2m": "zigbee2mqtt"}
PROFILES = {
    "warmer-tasmota": {"profile": "tasmota-energy-plug"},
    "warmer-shelly": {"profile": "shelly-plus-plug"},
    "warmer-z2m": {"profile": "tuya-ts011f-plug"},
}
ROOM: dict[str, Any] = {
    "name": "Treatment room 1",
    "switches": [{"bridge": bridge, "device": name, "role": "table_warmer"} for name, bridge in PLUGS.items()],
    "speaker": None,
}
PRESET = """\
name: Warm table
duration: 6s
switches:
  table_warmer: {state: on, from: -40m}
lights: {brightness: 30, transition: 0s}
"""


def devices(daemon: DaemonProcess) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in daemon.room("studio")["devices"]}


def test_a_table_warmer_is_on_through_the_booking_s_lead_and_off_at_the_end_on_every_bridge(broker, tmp_path):
    clinic = testing.write_clinic(
        tmp_path, {"studio": ROOM}, mqtt=broker.url, base_topic="amb", presets={"warm": PRESET}, builtin=False,
        bookings={"lead": "15m"},
    )  # fmt: skip
    with Simulator(clinic.config, tick=0.1, options=PROFILES):
        daemon = DaemonProcess(clinic.file, clinic.state_dir)
        try:
            daemon.start()
            start = datetime.now(UTC) + timedelta(seconds=5)
            booking = daemon.api(
                "POST", "/api/bookings", {"room": "studio", "preset": "warm", "at": start.isoformat()}, expect=201
            )["booking"]
            assert booking["lead"] == 2400  # the warmer's 40 minutes, not the 15-minute pre-heat

            # before the start: the lead time, and every warmer on and confirmed by its own report
            testing.eventually(lambda: daemon.room("studio")["state"] == "preconditioning", 5)
            testing.eventually(
                lambda: all(d["status"] == "confirmed" and d["reported"]["on"] for d in devices(daemon).values()), 5
            )
            assert datetime.now(UTC) < start

            # the session itself, then the end: every warmer off, confirmed, nothing owed
            testing.eventually(lambda: daemon.room("studio")["state"] == "running", 8)
            assert all(d["reported"]["on"] for d in devices(daemon).values())
            testing.eventually(lambda: daemon.room("studio")["state"] == "idle", 12)
            testing.eventually(
                lambda: (
                    all(d["status"] == "confirmed" and d["reported"]["on"] is False for d in devices(daemon).values())
                    and daemon.room("studio")["owed"] == []
                ),
                5,
            )
        finally:
            daemon.stop()
