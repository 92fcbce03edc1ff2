"""Virtual thermostats and lights that speak each bridge's real MQTT convention.

For every device of every room in a :class:`~ambience.config.Config`, a virtual device answers
on the broker exactly as its bridge would (Zigbee2MQTT, Tasmota, Home Assistant MQTT, ESPHome,
Shelly Gen2 RPC, generic templates), so the daemon, its tests, a demo and the benchmarks can
run against something real without hardware. Faults (dropped commands, offline, mute) can be
switched on per device; the true state of each device is published on
``ambience-sim/<room>/<device>/state``. See :mod:`ambience.simulator.simulator`.

    with Simulator(config, tick=0.2) as sim:
        ...
        sim.device("room1", "ceiling")["brightness"]
"""

from __future__ import annotations

from ambience.simulator.faults import Faults
from ambience.simulator.runner import main, run
from ambience.simulator.simulator import PREFIX, SIMULATORS, Simulator

__all__ = ["Simulator", "Faults", "run", "main", "PREFIX", "SIMULATORS"]
