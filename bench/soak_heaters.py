"""Heaters switch themselves off when ambience dies (issue 15): ``ambience serve`` SIGKILLed, and not
restarted, mid-session with a heat-class plug on for every bridge that has a device-side timer —
a Tasmota energy plug (``PulseTime``), a Shelly Plus Plug S (``toggle_after``) and a Tuya TS011F on
Zigbee2MQTT (``countdown``). Each simulated plug must be off by its own firmware timer within its
``auto_off`` of the kill, every time, counted per bridge ("tasmota plug off within auto_off: 20/20").

No tolerance is added for the simulator's tick: the simulator's engine wakes at a plug timer's own
deadline (``Simulator._run`` takes the earliest ``deadline`` of a device with a timer running, not
only the next tick), so the firmware's off is published when the timer runs out. The time measured
runs from just before the SIGKILL is sent to the moment the simulator's snapshot shows the plug off;
ambience's last re-arm was before the kill, so a plug that keeps its timer is off within ``auto_off``.

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
"""The simulator's tick (fades, reports); a plug's timer is not rounded to it (see the module's doc)."""
WAIT = AUTO_OFF + 1.0
"""How long to wait for an off before calling the plug still on (a late off is measured, then failed)."""
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
    offs: dict[str, list[float]] = {name: [] for name in PLUGS}
    within: dict[str, int] = {name: 0 for name in PLUGS}
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
                    problems = _one_kill(daemon, sim, first=i == 0, offs=offs, within=within)
                    result.tried += 1
                    if problems:
                        result.failures += [f"kill {i + 1}: {p}" for p in problems]
                    else:
                        result.held += 1
                    progress(f"heater kill {i + 1}/{kills}: {'held' if not problems else problems}")
            finally:
                daemon.stop()
    for name, (bridge, *_rest) in PLUGS.items():
        result.check(f"{bridge} plug off within auto_off", within[name], result.tried)
        if offs[name]:
            result.notes.append(
                f"{bridge}: off {statistics.median(offs[name]):.2f} s after the kill (median), "
                f"{max(offs[name]):.3f} s at most; auto_off {AUTO_OFF:g} s"
            )
    result.seconds = time.monotonic() - began
    return result


def _one_kill(
    daemon: DaemonProcess, sim: Simulator, *, first: bool, offs: dict[str, list[float]], within: dict[str, int]
) -> list[str]:
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
    killed = time.monotonic()  # before the signal: every re-arm ambience sent was sent before this
    daemon.kill()
    for name in PLUGS:
        try:
            sim.wait_for("visit", name, lambda s: not s["on"], timeout=max(0.0, killed + WAIT - time.monotonic()))
        except TimeoutError:
            problems.append(f"{name} still on {WAIT:g} s after the kill")
            continue
        took = time.monotonic() - killed
        offs[name].append(took)
        by_timer = sim.device("visit", name)["timed_offs"] == timed[name] + 1
        if not by_timer:
            problems.append(f"{name} went off, but not by its own timer")
        if took > AUTO_OFF:
            problems.append(f"{name} off {took:.3f} s after the kill, later than its auto_off {AUTO_OFF:g} s")
        if by_timer and took <= AUTO_OFF:
            within[name] += 1
    return problems
