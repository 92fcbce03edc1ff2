"""What a room should look like at one moment: the timeline's answer, in ambience's units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ALL = "*"
"""The light channel for every light without a role of its own in the preset."""


Status = Literal["scheduled", "preconditioning", "turnover", "running", "paused", "ended"]


DeviceKind = Literal["climate", "light", "switch", "sensor"]
"""What a device is to a room; every kind has its adapters' command, its report, its confirmation rule.
A ``sensor`` is only listened to (a room's measured temperature); it is never sent anything."""
PART: dict[DeviceKind, str] = {"climate": "climate", "light": "lights", "switch": "switches", "sensor": "sensors"}
"""The part of a room (a preset block, ``RoomState.restore``) each kind of device belongs to."""

HEAT_ROLES = frozenset({"heater", "table_warmer", "towel_warmer", "stone_heater"})
"""Switch roles that heat: such a switch gets a device-side auto-off timer (a dead-man switch), a
maximum on-time, and is never put back *on* by ``after: restore`` unless its room says so."""
SWITCH_ROLES = ("table_warmer", "towel_warmer", "heater", "stone_heater", "diffuser", "fan")
"""The roles presets know without a room naming them (a room may name any other)."""
DEFAULT_AUTO_OFF = 120.0
"""Seconds of a heat-class switch's device-side timer when its room gives none: ambience re-arms it
while the switch should stay on; if ambience, its machine or the broker dies, the device is off
within this time."""


@dataclass(frozen=True)
class Light:
    """A light's state in units of the preset: brightness in %, 0 is off."""

    brightness: float
    color_temp: float | None = None
    color: str | None = None

    @property
    def on(self) -> bool:
        return self.brightness > 0


@dataclass(frozen=True)
class LightTarget:
    now: Light
    target: Light
    transition: float
    """Seconds left of the fade from ``now`` to ``target`` (0: ``now`` is the target)."""


@dataclass(frozen=True)
class ClimateState:
    target: float | None
    """°C; ``None`` leaves the setpoint as it is (e.g. ``mode: off``)."""
    mode: str | None = None
    """The mode a preset asks for (``heat``, ``auto``, ``off``); ``None``: no mode is sent, the device
    keeps its own. A mode is never implied: on many valves ``heat`` is not "regulate" (a Tuya TS0601
    in ``heat`` holds its valve fully open), so only a preset that names one changes it."""
    settings: tuple[tuple[str, str], ...] = ()
    """Device settings to put back as they were found (``(("preset", "schedule"),)``): only an after
    state (``after: restore``) carries them; the session's own commands leave them empty."""


def climate_json(climate: ClimateState) -> dict[str, Any]:
    """A thermostat's desired state as the room status shows it and an owed after state is stored."""
    out: dict[str, Any] = {"target": climate.target, "mode": climate.mode}
    if climate.settings:
        out["settings"] = dict(climate.settings)
    return out


@dataclass(frozen=True)
class Switch:
    """A plug or relay: on or off. ``auto_off`` is the device-side timer sent with *on* (seconds after
    which the firmware switches itself off unless re-armed; ``None``: no timer is asked)."""

    on: bool
    auto_off: float | None = None


@dataclass(frozen=True)
class MusicState:
    playlist: str
    shuffle: bool
    playing: bool
    position: float
    """Seconds of music since the session start (pauses taken out): what a resume seeks to."""
    volume: float
    target: float
    ramp: float
    """Seconds to reach ``target`` from ``volume`` (0 when steady)."""


@dataclass(frozen=True)
class RoomState:
    status: Status
    phase: str | None
    elapsed: float
    remaining: float
    length: float
    ends_at: float
    climate: ClimateState | None = None
    lights: dict[str, LightTarget] | None = None
    music: MusicState | None = None
    switches: dict[str, Switch] | None = None
    """Per switch role, on or off; a role not named is left alone (or follows its daily schedule)."""
    restore: frozenset[str] = frozenset()
    """Parts to put back as found (``'climate'``, ``'lights'``, ``'switches'``), after the end."""
    notes: tuple[str, ...] = field(default=())

    def light(self, role: str) -> LightTarget | None:
        if self.lights is None:
            return None
        return self.lights.get(role) or self.lights.get(ALL)

    def desired(self, kind: DeviceKind, role: str) -> LightTarget | ClimateState | Switch | None:
        """What a device of ``kind`` and ``role`` should show (None: the state leaves it alone)."""
        if kind == "climate":
            return self.climate
        if kind == "light":
            return self.light(role)
        if kind == "switch":
            return None if self.switches is None else self.switches.get(role)
        return None  # a sensor is only listened to
