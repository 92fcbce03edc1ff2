"""A Tasmota energy plug and a Shelly Plus Plug S as heat-class switches through ambience's real path
(the Devices manager and the reconciler, over mosquitto, against the simulator's firmware profiles):
switched on with the device-side timer armed, kept on by the re-arm, and off by the device itself
within its ``auto_off`` once ambience is gone.

The timers are the firmware's (``ambience/simulator/tasmota.py``: PulseTime as ``CmndPulsetime`` /
``ExecuteCommandPower`` / ``Every100mSeconds`` do; ``shelly_profiles.py``: ``toggle_after``), the reports
what the firmware publishes (``stat/<t>/POWER``; a NotifyStatus ``switch:0`` with ``source: timer``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ambience.config import Config
from ambience.devices.manager import Devices
from ambience.infra.mqtt import Connection
from ambience.model.state import Switch
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto

AUTO_OFF = 2.0
ROOMS: dict[str, Any] = {
    "warm": {
        "switches": [
            {"bridge": "tasmota", "device": "warmer", "role": "table_warmer", "auto_off": AUTO_OFF},
            {"bridge": "shelly", "device": "heater", "role": "heater", "auto_off": AUTO_OFF},
        ],
        "speaker": None,
    }
}
PROFILED = {"warmer": {"profile": "tasmota-energy-plug"}, "heater": {"profile": "shelly-plus-plug"}}
INITIAL = {"warmer": {"load": 60}, "heater": {"load": 1500}}


def test_heat_plugs_are_armed_re_armed_and_switch_themselves_off_when_ambience_is_gone(broker: Mosquitto) -> None:
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})
    with Simulator(config, tick=0.1, drift=0.0, options=PROFILED, initial=INITIAL) as sim:

        async def session() -> list[dict[str, Any]]:
            connection = Connection(config.mqtt)
            devices = Devices(connection, config)
            await connection.start(wait=5)
            task = asyncio.create_task(devices.run())
            try:
                for device in ("warmer", "heater"):
                    devices.want("warm", device, Switch(True))
                assert await devices.wait_settled("warm", 10)
                await asyncio.sleep(AUTO_OFF * 2)  # twice the timer: only the re-arm keeps them on
                return devices.status("warm")
            finally:
                task.cancel()
                await connection.stop()  # ambience is gone: nobody re-arms now

        status = asyncio.run(session())
        gone = time.monotonic()
        assert {d["id"]: d["status"] for d in status} == {"warmer": "confirmed", "heater": "confirmed"}
        for device in ("warmer", "heater"):
            assert sim.device("warm", device)["timed_offs"] == 0  # kept on by the re-arm, never run out
        for device in ("warmer", "heater"):
            snap = sim.wait_for("warm", device, lambda s: s["on"] is False, timeout=AUTO_OFF + 3)
            assert snap["timed_offs"] == 1  # the device's own timer did it
        assert time.monotonic() - gone <= AUTO_OFF + 1.0
