"""A heater thermostat end to end: real mosquitto, the whole daemon (LiveDaemon), a simulated room whose air a
heater plug warms (ambience/simulator/thermal.py) and whose sensor reads it.

The plug and the sensor are the generic bridge's stand-ins (tests/heater_standins.py) until the bridges' own
switches and sensors land. The rates are fast (0.5 °C/s heating) so the room settles in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from heater_standins import install

from ambience.simulator import Simulator
from ambience.testing import LiveDaemon, Mosquitto, eventually, write_clinic

TARGET = 22.0
ROOM: dict[str, Any] = {
    "name": "Home visit",
    "thermostat": {
        "bridge": "heater",
        "switch": {
            "bridge": "generic", "device": "visit-heater", "command_topic": "visit/heater/set",
            "state_topic": "visit/heater/state", "payload": "{STATE}", "values": {"state": "."},
        },
        "sensor": {
            "bridge": "generic", "device": "visit-sensor", "command_topic": "visit/sensor/set",
            "state_topic": "visit/sensor/state", "values": {"current": "temperature"},
        },
        "hysteresis": 0.2,
        "min_cycle": 0.5,
        "sensor_timeout": 2,
    },
}  # fmt: skip
RATES = {"heating": 30.0, "cooling": 15.0, "ambient": 16.0, "start": 20.5}
"""°C/min: 0.5 °C/s up with the heater on, 0.25 °C/s down towards 16 °C with it off."""


@pytest.fixture
def room(broker: Mosquitto, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveDaemon, Simulator]]:
    install(monkeypatch)
    clinic = write_clinic(
        tmp_path, {"visit": ROOM}, mqtt=broker.url, builtin=False,
        presets={"warm-22": {"name": "Warm", "duration": "10m", "climate": {"target": TARGET}}},
    )  # fmt: skip
    with Simulator(clinic.config, tick=0.1, thermal={"visit": RATES}) as sim:
        live = LiveDaemon(clinic.config).start()
        try:
            live.wait_reported()
            yield live, sim
        finally:
            live.stop()


def heater_on(sim: Simulator) -> bool:
    return bool(sim.device("visit", "visit-heater")["on"])


def reading(sim: Simulator) -> float:
    return float(sim.device("visit", "visit-sensor")["temperature"])


def thermostat(live: LiveDaemon) -> dict[str, Any]:
    return next(d for d in live.room("visit")["devices"] if d["id"] == "visit-heater")["thermostat"]


def test_the_heater_holds_the_room_at_its_target_and_goes_off_when_the_sensor_fails_or_reads_too_hot(room):
    live, sim = room
    assert not heater_on(sim)  # no session: the heater is left off
    live.api("POST", "/api/rooms/visit/start", {"preset": "warm-22"})

    # it heats to the target and then holds it: within ±0.5 °C for 5 s, switching as it goes
    eventually(lambda: reading(sim) >= TARGET, 15, describe=lambda: f"the room is at {reading(sim)} °C")
    seen, states = [], set()
    until = time.monotonic() + 5
    while time.monotonic() < until:
        seen.append(reading(sim))
        states.add(heater_on(sim))
        time.sleep(0.05)
    assert TARGET - 0.5 <= min(seen) and max(seen) <= TARGET + 0.5, (min(seen), max(seen))
    assert states == {True, False}  # it held the room by switching, not by luck
    status = live.room("visit")
    assert abs(status["temperature"]["current"] - TARGET) <= 0.5 and status["temperature"]["device"] == "visit-sensor"
    assert thermostat(live)["target"] == TARGET

    # the sensor goes silent while the heater is on: off once it has said nothing for sensor_timeout (2 s)
    eventually(lambda: heater_on(sim), 5)
    sim.set_faults("visit", "visit-sensor", mute=True)
    muted = time.monotonic()
    eventually(lambda: not heater_on(sim), 4)
    assert 1.5 <= time.monotonic() - muted <= 3.5
    assert "said nothing" in thermostat(live)["reason"]
    time.sleep(1.0)
    assert not heater_on(sim)  # and it stays off: nothing is heard that could switch it on

    # heard again, it heats again; then the sensor reads above the room's maximum (27 °C): off at once
    sim.set_faults("visit", "visit-sensor")
    eventually(lambda: heater_on(sim), 10, describe=lambda: f"{thermostat(live)} at {reading(sim)} °C")
    sim.set_room_temperature("visit", 30.0)
    eventually(lambda: not heater_on(sim), 2)
    assert "above the room's maximum 27" in thermostat(live)["reason"]

    # the session ends: the heater is off (its after state) and stays off as the room cools
    live.api("POST", "/api/rooms/visit/stop")
    sim.set_room_temperature("visit", 18.0)
    eventually(lambda: thermostat(live)["current"] == 18.0, 2)
    assert not heater_on(sim) and thermostat(live)["heating"] is False
