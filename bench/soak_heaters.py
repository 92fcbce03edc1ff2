"""Heaters switch themselves off when ambience dies (issue 15): ``ambience serve`` SIGKILLed, and not
restarted, mid-session with a heat-class plug on for every bridge that has a device-side timer —
a Tasmota energy plug (``PulseTime``), a Shelly Plus Plug S (``toggle_after``) and a Tuya TS011F on
Zigbee2MQTT (``countdown``). Each simulated plug must be off by its own firmware timer within its
``auto_off`` (plus the simulator's tick), every time.

    ./run soak --only heaters           # 20 kills (about 2 minutes)
    tests/test_deadman.py               # the same, twice, in the default test run

The simulator's firmware timers are taken from the bridges' source (ambience/simulator/tasmota.py,
shelly_profiles.py, z2m_profiles.py); the daemon is the real process, so what arms and re-arms the
timers is exactly what runs in a clinic.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from soaklib import Progress, Result, quiet

from ambience.simulator import Simulator
from ambience.testing import DaemonProcess, Mosquitto, eventually, write_clinic

AUTO_OFF = 2.0
"""Seconds of each plug's device-side timer: short, so a kill is over in seconds."""
TICK = 0.1
"""The simulator's tick: a timer that ran out is published within it."""
PLUGS = {
    "warmer-tasmota": ("tasmota", "table_warmer", {"profile": "tasmota-energy-plug"}, {"load": 60}),
    "heater-shelly": ("shelly", "heater", {"profile": "shelly-plus-plug"}, {"load": 1500}),
    "stones-z2m": ("zigbee2mqtt", "stone_heater", {"profile": "tuya-ts011f-plug"}, {}),
}
ROOM: dict[str, Any] = {
    "name": "Home visit",
    "switches": [
        {"bridge": bridge, "device": name, "role": role, "auto_off": AUTO_OFF}
        for name, (bridge, role, _, _) in PLUGS.items()
    ],
    "speaker": None,
}
PRESET = {
    "name": "Warm visit",
    "duration": "60m",
    "switches": {"table_warmer": "on", "heater": "on", "stone_heater": "on"},
}


def heater_kills(kills: int = 20, *, progress: Progress = quiet) -> Result:
    """SIGKILL the daemon ``kills`` times with three heat plugs on; each must switch itself off."""
    result = Result("heaters off when ambience dies")
    began = time.monotonic()
    offs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ambience-soak-heaters-") as tmp, Mosquitto() as broker:
        clinic = write_clinic(
            Path(tmp), {"visit": ROOM}, mqtt=broker.url, base_topic="amb", presets={"warm": PRESET}, builtin=False
        )
        options = {name: spec[2] for name, spec in PLUGS.items()}
        initial = {name: spec[3] for name, spec in PLUGS.items() if spec[3]}
        with Simulator(clinic.config, tick=TICK, options=options, initial=initial) as sim:
            daemon = DaemonProcess(clinic.file, clinic.state_dir)
            try:
                for i in range(kills):
                    problems = _one_kill(daemon, sim, first=i == 0, offs=offs)
                    result.tried += 1
                    if problems:
                        result.failures += [f"kill {i + 1}: {p}" for p in problems]
                    else:
                        result.held += 1
                    progress(f"heater kill {i + 1}/{kills}: {'held' if not problems else problems}")
            finally:
                daemon.stop()
    if offs:
        result.notes.append(
            f"off {statistics.median(offs):.2f} s after the kill (median), {max(offs):.2f} s at most; auto_off {AUTO_OFF:g} s"
        )
        result.check("plugs off by their own timer", len(offs), kills * len(PLUGS))
    result.seconds = time.monotonic() - began
    return result


def _one_kill(daemon: DaemonProcess, sim: Simulator, *, first: bool, offs: list[float]) -> list[str]:
    daemon.start()
    if first:
        eventually(lambda: all(d["reported"] for d in daemon.room("visit")["devices"]), 10, ignoring=(Exception,))
        daemon.api("POST", "/api/rooms/visit/start", {"preset": "warm"})
    # the session (new, or resumed after the last kill) has every plug on, its timer armed
    for name in PLUGS:
        sim.wait_for("visit", name, lambda s: s["on"] and s["auto_off_left"] is not None, timeout=10)
    eventually(
        lambda: all(d["status"] == "confirmed" for d in daemon.room("visit")["devices"]), 10, ignoring=(Exception,)
    )
    time.sleep(AUTO_OFF * 1.5)  # longer than the timer: only ambience's re-arms keep them on
    problems = [f"{name} went off while ambience ran" for name in PLUGS if not sim.device("visit", name)["on"]]
    timed = {name: sim.device("visit", name)["timed_offs"] for name in PLUGS}
    daemon.kill()
    killed = time.monotonic()
    for name in PLUGS:
        try:
            sim.wait_for("visit", name, lambda s: not s["on"], timeout=AUTO_OFF + 1.0)
        except TimeoutError:
            problems.append(f"{name} still on {AUTO_OFF + 1.0:g} s after the kill")
            continue
        offs.append(time.monotonic() - killed)
        if sim.device("visit", name)["timed_offs"] != timed[name] + 1:
            problems.append(f"{name} went off, but not by its own timer")
    return problems
