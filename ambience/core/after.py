"""The after state of a session, per device, and the rules that keep it safe. Pure.

When a session ends (naturally, stopped, replaced or found over after a restart) every device
of the room is given an *after* state: the preset's ``after`` block where it names the device's
part, else the device as the session found it (``after: restore``). That state is an obligation:
it is written down before it is sent and stays *owed* until the device confirms it, across
restarts, outages and later sessions (:mod:`ambience.room`, :mod:`ambience.store`).

The rules here:

- a restored value is clamped to the room's limits (a valve found at 80 °C goes back to the
  room's maximum, not to 80 °C);
- a thermostat never heard from (or whose report was not a usable number) is set to the room's
  minimum temperature: no heater is left on high;
- a light never heard from is left as it is;
- a switch that heats (heater, table warmer…) is never put back *on*: found on, or never heard from,
  it goes off (unless its room says ``restore_on: true``); another switch is put back as found;
- a heater thermostat's switch (role ``thermostat``) is always off after a session;
- a device that still owes an after state is never taken "as found" by the next session: the owed
  state is (:func:`as_found`).

An owed state is stored as plain JSON (:func:`to_json` / :func:`from_json`), in the same shape
as a device's ``desired`` in the room status.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ambience.model.limits import Limits
from ambience.model.preset import DEFAULT_TRANSITION
from ambience.model.state import PART, ClimateState, DeviceKind, Light, LightTarget, RoomState, Switch, climate_json

Desired = LightTarget | ClimateState | Switch


@dataclass(frozen=True)
class DeviceRef:
    """What the after state needs to know of a device: its id, kind and role."""

    id: str
    kind: DeviceKind
    role: str
    heats: bool = False
    """A switch that heats: never put back on as found (unless ``restore_on``)."""
    restore_on: bool = False


def after_states(
    state: RoomState,
    devices: Iterable[DeviceRef],
    found: Mapping[str, Mapping[str, Any]],
    limits: Limits,
) -> dict[str, Desired]:
    """Each device's after state, from the timeline's ended ``state`` and the room ``found``.

    ``found`` is the session's snapshot: per device, what it reported when the session started
    (or what it owed then). Devices that are to be left as they are have no entry.
    """
    out: dict[str, Desired] = {}
    for dev in devices:
        if dev.kind == "sensor":
            continue
        if dev.kind == "switch":
            if dev.role == "thermostat":
                switch: Switch | None = Switch(False)  # a heater thermostat's heater: off once no session runs it
            else:
                named = state.switches.get(dev.role) if state.switches else None
                switch = named or restored_switch(found.get(dev.id), dev.heats, dev.restore_on)
            if switch is not None:
                out[dev.id] = switch
            continue
        if PART[dev.kind] in state.restore:
            desired = RESTORE[dev.kind](found.get(dev.id), limits)
        else:
            desired = state.desired(dev.kind, dev.role)
        if desired is not None:
            out[dev.id] = desired
    return out


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mode(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _settings(value: Any) -> tuple[tuple[str, str], ...]:
    """Device settings as found (``{"preset": "schedule"}``), words only; anything else is left out."""
    if not isinstance(value, Mapping):
        return ()
    return tuple(sorted((k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and k and v))


def restored_climate(snap: Mapping[str, Any] | None, limits: Limits) -> ClimateState:
    """The thermostat as found, within the limits; never heard from: the room's minimum.

    Its mode is put back only if it reported one (no mode is sent otherwise: the device keeps its
    own), and so are the settings it reported (a valve found on its schedule goes back to it)."""
    snap = snap or {}
    mode, settings = _mode(snap.get("mode")), _settings(snap.get("settings"))
    target = _finite(snap.get("target"))
    if target is None:
        return ClimateState(limits.min_temperature, mode, settings)
    return ClimateState(min(limits.max_temperature, max(limits.min_temperature, target)), mode, settings)


def restored_light(snap: Mapping[str, Any] | None, limits: Limits) -> LightTarget | None:
    """The light as found, no brighter than the limit; never heard from: left as it is."""
    if not snap:
        return None
    brightness = _finite(snap.get("brightness")) if snap.get("on") else 0.0
    brightness = min(float(limits.max_brightness), max(0.0, brightness or 0.0))
    ct = _finite(snap.get("color_temp"))
    color = snap.get("color") if isinstance(snap.get("color"), str) else None
    light = Light(brightness, ct if ct and ct > 0 else None, color)
    return LightTarget(light, light, DEFAULT_TRANSITION)


def restored_switch(snap: Mapping[str, Any] | None, heats: bool, restore_on: bool = False) -> Switch | None:
    """The switch as found; one that heats is never put back on (unless ``restore_on``) and, never
    heard from, is switched off. Another switch never heard from is left as it is."""
    on = snap.get("on") if snap else None
    if heats and not (restore_on and on is True):
        return Switch(False)
    if not isinstance(on, bool):
        return None
    return Switch(on)


RESTORE: dict[DeviceKind, Callable[[Mapping[str, Any] | None, Limits], Desired | None]] = {
    "climate": restored_climate,
    "light": restored_light,
}
"""How each kind of device is put back as found (a switch: :func:`restored_switch`, which needs to
know whether it heats)."""


# ---- owed states as JSON ---------------------------------------------------------------------


def to_json(desired: Desired) -> dict[str, Any]:
    """An after state as stored, in the shape of a device's ``desired`` in the room status."""
    if isinstance(desired, ClimateState):
        return climate_json(desired)
    if isinstance(desired, Switch):
        return {"on": desired.on}
    light = desired.target
    out: dict[str, Any] = {"on": light.on, "brightness": round(light.brightness, 1)}
    if light.color:
        out["color"] = light.color
    elif light.color_temp:
        out["color_temp"] = round(light.color_temp)
    return out


def from_json(kind: str, data: Mapping[str, Any]) -> Desired:
    """The inverse of :func:`to_json` for a device of ``kind``."""
    if kind == "climate":
        return ClimateState(_finite(data.get("target")), _mode(data.get("mode")), _settings(data.get("settings")))
    if kind == "switch":
        return Switch(data.get("on") is True)
    brightness = (_finite(data.get("brightness")) or 0.0) if data.get("on") else 0.0
    ct = _finite(data.get("color_temp"))
    color = data.get("color") if isinstance(data.get("color"), str) else None
    light = Light(max(0.0, brightness), ct if ct and ct > 0 else None, color)
    return LightTarget(light, light, DEFAULT_TRANSITION)


def as_found(reported: Mapping[str, Any] | None, owed: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """How a session finds a device: what it still owes, else what it last reported."""
    return owed if owed is not None else reported


__all__ = [
    "Desired",
    "DeviceRef",
    "after_states",
    "as_found",
    "from_json",
    "restored_climate",
    "restored_light",
    "restored_switch",
    "to_json",
]
