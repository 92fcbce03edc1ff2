"""A room's air, for the simulator: warmed by its heater plug, cooling towards the outside. Pure.

A room whose config has a heater thermostat (``thermostat: {bridge: heater, …}``) is linked: its
temperature rises at ``heating`` °C/min while the heater plug's output is on (``dev.switch.on``, the
simulated firmware's state, so a plug that switched itself off stops heating) and falls towards
``ambient`` at ``cooling`` °C/min while it is off. Every temperature sensor of the room (the
thermostat's own, and the room's ``sensors``) reads it at its ``resolution`` (``dev.sensor.temperature``);
each bridge's simulation reports that reading as its firmware does (``sensor_step``).

Rates are per room, from the simulator's ``thermal`` option (``{"<room>": {"heating": 6, …}}``);
:data:`DEFAULTS` otherwise: a 2 kW fan heater in a small treatment room.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ambience.config import Config

DEFAULTS: dict[str, float] = {"heating": 0.5, "cooling": 0.1, "ambient": 16.0, "resolution": 0.1}
"""°C/min while heating, °C/min while cooling, the temperature it cools towards, the sensors' step (°C)."""
KEYS = (*DEFAULTS, "start")
"""``start``: the room's temperature at the start (default: its sensor's initial temperature, else ``ambient``)."""


@dataclass(frozen=True)
class Rates:
    heating: float = DEFAULTS["heating"]
    cooling: float = DEFAULTS["cooling"]
    ambient: float = DEFAULTS["ambient"]
    resolution: float = DEFAULTS["resolution"]
    start: float | None = None

    @classmethod
    def parse(cls, room: str, spec: Mapping[str, Any]) -> Rates:
        """ValueError naming the room, the key and what is allowed."""
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise ValueError(f"thermal.{room}: unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
        values: dict[str, float] = {}
        for key, value in spec.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"thermal.{room}.{key} is {value!r}; write a number")
            if key in ("heating", "cooling") and value < 0:
                raise ValueError(f"thermal.{room}.{key} is {value!r}; write a rate of 0 °C/min or more")
            if key == "resolution" and value <= 0:
                raise ValueError(f"thermal.{room}.resolution is {value!r}; write a step of more than 0 °C")
            values[key] = float(value)
        return replace(cls(), **values)


class Room:
    """One room's air: the heater plugs that warm it and the sensors that read it (virtual devices)."""

    def __init__(self, room_id: str, heaters: list[Any], sensors: list[Any], rates: Rates):
        self.id = room_id
        self.heaters = heaters
        self.sensors = sensors
        self.rates = rates
        first = next((s.sensor.temperature for s in sensors), None)
        self.temperature = rates.start if rates.start is not None else (first if first is not None else rates.ambient)
        self._read()

    @property
    def heating(self) -> bool:
        return any(dev.switch is not None and dev.switch.on for dev in self.heaters)

    def step(self, dt: float) -> None:
        """``dt`` seconds pass."""
        r = self.rates
        if self.heating:
            self.temperature += r.heating * dt / 60.0
        elif self.temperature > r.ambient:
            self.temperature = max(r.ambient, self.temperature - r.cooling * dt / 60.0)
        else:
            self.temperature = min(r.ambient, self.temperature + r.cooling * dt / 60.0)
        self._read()

    def set(self, temperature: float) -> None:
        """The air is ``temperature`` now (a test's open window, or a hot afternoon)."""
        self.temperature = float(temperature)
        self._read()

    def _read(self) -> None:
        step = self.rates.resolution
        reading = round(round(self.temperature / step) * step, 6)
        for dev in self.sensors:
            if dev.sensor is not None:
                dev.sensor.temperature = reading


class Thermal:
    """Every linked room of a simulation; :meth:`step` is called on the simulator's tick."""

    def __init__(self, rooms: Iterable[Room]):
        self.rooms = {room.id: room for room in rooms}
        self._last: float | None = None

    @classmethod
    def link(cls, config: Config, devices: Iterable[Any], options: Mapping[str, Mapping[str, Any]]) -> Thermal:
        """The rooms of ``config`` with a heater thermostat, their plugs and sensors among ``devices``
        (the simulator's virtual devices); ``options``: rates per room id. ValueError for a room that
        is not a linked room, or bad rates."""
        devices = list(devices)
        rooms = []
        for room_id, room in config.rooms.items():
            heater = room.heater
            if heater is None:
                continue
            mine = [dev for dev in devices if dev.room_id == room_id]
            plugs = [dev for dev in mine if dev.config is heater.switch and dev.switch is not None]
            wanted = [heater.sensor, *room.sensors]
            sensors = [dev for dev in mine if any(dev.config is w for w in wanted) and dev.sensor is not None]
            rooms.append(Room(room_id, plugs, sensors, Rates.parse(room_id, options.get(room_id, {}))))
        linked = {room.id for room in rooms}
        for room_id in options:
            if room_id not in linked:
                known = ", ".join(sorted(linked)) or "none"
                raise ValueError(
                    f"thermal.{room_id}: no room with a heater thermostat (thermostat: {{bridge: heater}}) of that id; "
                    f"linked rooms: {known}"
                )
        return cls(rooms)

    def step(self, now: float) -> None:
        """Time passes to ``now`` (monotonic seconds); the first call only starts the clock."""
        if self._last is not None and now > self._last:
            for room in self.rooms.values():
                room.step(now - self._last)
        self._last = now

    def set(self, room_id: str, temperature: float) -> None:
        if room_id not in self.rooms:
            known = ", ".join(sorted(self.rooms)) or "none"
            raise ValueError(f"room {room_id!r} has no thermal model (a heater thermostat); linked rooms: {known}")
        self.rooms[room_id].set(temperature)


__all__ = ["DEFAULTS", "KEYS", "Rates", "Room", "Thermal"]
