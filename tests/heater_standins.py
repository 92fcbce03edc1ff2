"""Stand-ins for a generic plug and a generic temperature sensor, adapter and simulation, for the heater
thermostat's end-to-end test (tests/test_heater_broker.py).

Issue 15 gives every bridge its own switch and sensor (engineers A and B: Tasmota, Shelly, Z2M, ESPHome,
HA, generic); until those land, the generic bridge has neither, so the test brings its own: a plug that
takes ``ON``/``OFF`` on its command topic and says ``ON``/``OFF`` on its state topic, and a sensor that
publishes ``{"temperature": 21.3}`` when its reading changes by its resolution (both retained, so a daemon
started after the simulator hears them at once). They are installed with
``monkeypatch`` (:func:`install`) and go once the generic bridge's own are in: only the bridge-neutral
parts (the controller, the manager, the thermal model) are what the test is about.
"""

from __future__ import annotations

import json
from typing import Any

from ambience.config.devices import GenericDevice
from ambience.devices import manager
from ambience.devices.base import TEMPERATURE, Dropped, Message, Reading, Report, SensorReport, SwitchReport
from ambience.model.state import ClimateState, Light, Switch
from ambience.simulator import simulator
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish
from ambience.simulator.generic import GenericSim


class GenericPlug:
    kind = "switch"
    max_transition = 0.0

    def __init__(self, device: GenericDevice):
        self.device = device

    def subscriptions(self) -> list[str]:
        return [self.device.state_topic] if self.device.state_topic else []

    def switch(self, switch: Switch) -> list[Message]:
        return [Message(self.device.command_topic, "ON" if switch.on else "OFF")]

    def auto_off_range(self) -> tuple[float, float] | None:
        return None  # relies on ambience

    def light(self, light: Light, transition: float) -> list[Message]:
        raise ValueError("a plug is not a light")

    def climate(self, climate: ClimateState) -> list[Message]:
        raise ValueError("a plug is not a thermostat")

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        word = payload.strip().upper()
        return [SwitchReport(word == b"ON")] if word in (b"ON", b"OFF") else []


class GenericSensor(GenericPlug):
    kind = "sensor"

    def switch(self, switch: Switch) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        try:
            data = json.loads(payload)
        except ValueError:
            return []
        reading = Reading()
        temperature = reading.number("temperature", data.get("temperature"), TEMPERATURE)
        return reading.out(None if temperature is None else SensorReport(temperature))


class GenericSwitchSim(GenericSim):
    """The generic bridge's simulation with a plug and a sensor as well."""

    kinds = (LIGHT, CLIMATE, SWITCH, SENSOR)

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if self.kind == SENSOR:
            return []
        if self.kind != SWITCH:
            return super().handle(topic, payload, now)
        assert self.switch is not None
        word = payload.strip().upper()
        if word not in (b"ON", b"OFF") or not self.accept():
            return []
        self.switch.set(word == b"ON", now)
        return self.report(now)

    def report(self, now: float) -> list[Publish]:
        topic = self.config.state_topic or ""
        if self.switch is not None:
            return [Publish(topic, "ON" if self.switch.on else "OFF", retain=True)]
        if self.sensor is not None:
            self.sensor.reported = self.sensor.temperature
            return [Publish(topic, json.dumps({"temperature": self.sensor.temperature}), retain=True)]
        return super().report(now)

    def sensor_step(self, now: float) -> list[Publish]:
        """A sensor reports when its reading changed (a Zigbee sensor's reportable change)."""
        assert self.sensor is not None
        return self.report(now) if self.sensor.temperature != self.sensor.reported else []


def install(monkeypatch: Any) -> None:
    """The daemon's generic plugs and sensors and the simulator's generic bridge become these stand-ins."""
    made = manager.make_adapter

    def make_adapter(device: Any, kind: str, client_id: str = "ambience") -> Any:
        if isinstance(device, GenericDevice) and kind == "switch":
            return GenericPlug(device)
        if isinstance(device, GenericDevice) and kind == "sensor":
            return GenericSensor(device)
        return made(device, kind, client_id)

    monkeypatch.setattr(manager, "make_adapter", make_adapter)
    monkeypatch.setitem(simulator.SIMULATORS, "generic", GenericSwitchSim)
