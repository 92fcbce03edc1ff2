"""A heater thermostat: a heater on a plug or relay, run by ambience from a temperature sensor. Pure.

This is Home Assistant's ``generic_thermostat`` (homeassistant/components/generic_thermostat/climate.py,
home-assistant/core at 0087f75) made for a treatment room, where a heater left on is the one thing
that must not happen. What is taken from it, and what is done otherwise:

- **Hysteresis** (climate.py:574-575, ``too_cold = target > cur + cold_tolerance``,
  ``too_hot = target < cur - hot_tolerance``): on below ``target − hysteresis``, off above
  ``target + hysteresis``, and in between the heater stays as it is. One ``hysteresis`` serves as both
  tolerances (HA's default for each is 0.3 °C, as ours).
- **Minimum cycle** (climate.py:580-596, ``_last_toggled_time + min_cycle_duration <= now``, else a
  check is scheduled for when it is reached): the heater is not switched again within ``min_cycle``
  of its last switch, on *or* off (HA holds only the on-time with it, its off-time with a separate
  ``cycle_cooldown``); the decision says when to look again. Safety offs are never held.
- **Sensor unavailable**: HA takes the reading as ``None`` (climate.py:520-533) and then *keeps the
  heater as it is* (climate.py:569-572, "Keeping current behaviour"). Here a sensor that has said
  nothing for ``sensor_timeout``, says it is offline, or reads something that is no temperature
  switches the heater **off at once**: an unheard heater in a room with a client on the table is
  the failure this exists to prevent.
- **Non-finite readings** are refused as HA does (climate.py:528); so is one outside what a room
  sensor can read (:data:`~ambience.devices.base.TEMPERATURE`).
- **Above the room's maximum temperature**: off at once, whatever the target (HA has no such limit).
- **Mode off / no session** (HA's ``_check_switch_initial_state``, climate.py:482-492, switches a heater
  found on while the mode is off): here no desired climate, a ``mode`` other than heating, or no
  target means off, at once.
- **Keep-alive** (climate.py:316-321 and 597-603 re-send the current state every ``keep_alive``): the
  reconciler re-arms the heater plug's device-side auto-off timer while it should stay on
  (:meth:`~ambience.devices.reconciler.Tracked.due`), which is the same idea made a dead-man switch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ambience.devices.base import TEMPERATURE
from ambience.model.state import ClimateState
from ambience.units import format_duration

HEATING_MODES = (None, "heat", "auto")
"""The climate modes in which the heater regulates (``None``: the preset names no mode); any other is off."""


@dataclass(frozen=True)
class HeaterSettings:
    """A room's heater thermostat: its config and the room's maximum temperature."""

    hysteresis: float = 0.3
    min_cycle: float = 60.0
    sensor_timeout: float = 600.0
    max_temperature: float = 27.0


@dataclass(frozen=True)
class Decision:
    on: bool
    """Whether the heater should be on now."""
    reason: str
    """Why, in words (the room status shows it)."""
    check_at: float | None = None
    """When to decide again even if nothing is heard (a minimum cycle ends, the sensor would be silent too long)."""
    safety: bool = False
    """Off for safety (sensor silent or wrong, above the maximum): never held by the minimum cycle."""


def decide(
    climate: ClimateState | None,
    temperature: float | None,
    read_at: float | None,
    heating: bool,
    changed_at: float | None,
    settings: HeaterSettings,
    now: float,
    sensor_offline: bool = False,
) -> Decision:
    """Whether the heater should be on at ``now``.

    ``climate``: what the room wants (``None``: no session wants heat); ``temperature`` and ``read_at``:
    the sensor's last reading and when it came; ``heating`` and ``changed_at``: what the heater was last
    asked and when that changed (``None``: never); ``sensor_offline``: the sensor says it is unavailable.
    """
    if climate is None or climate.target is None or climate.mode not in HEATING_MODES:
        return Decision(False, "no session wants heat" if climate is None else "heating not asked")
    if temperature is None or read_at is None:
        return Decision(False, "no reading from the sensor yet", safety=True)
    silent_at = read_at + settings.sensor_timeout
    if sensor_offline:
        return Decision(False, "the sensor is offline", safety=True)
    if now >= silent_at:
        return Decision(False, f"the sensor has said nothing for {format_duration(now - read_at)}", safety=True)
    if not math.isfinite(temperature) or not TEMPERATURE.lo <= temperature <= TEMPERATURE.hi:
        return Decision(False, f"the sensor reads {temperature!r} °C, which is no room temperature", safety=True)
    if temperature > settings.max_temperature:
        return Decision(
            False,
            f"the sensor reads {temperature:g} °C, above the room's maximum {settings.max_temperature:g} °C",
            silent_at,
            safety=True,
        )
    target, h = climate.target, settings.hysteresis
    if temperature < target - h:
        want, why = True, f"{temperature:g} °C is below {target - h:g} °C"
    elif temperature > target + h:
        want, why = False, f"{temperature:g} °C is above {target + h:g} °C"
    else:
        want, why = heating, f"{temperature:g} °C is within {target:g} ± {h:g} °C"
    if want != heating and changed_at is not None and now < changed_at + settings.min_cycle:
        held = changed_at + settings.min_cycle
        state = "on" if heating else "off"
        return Decision(heating, f"{why}; held {state} for its minimum cycle", min(held, silent_at))
    return Decision(want, why, silent_at)


class HeaterLoop:
    """One room's heater thermostat between two decisions: what is wanted and what was decided last.

    The manager feeds it (the room's desired climate, the sensor's readings) and sends what
    :meth:`step` decides to the heater switch's :class:`~ambience.devices.reconciler.Tracked`.
    """

    def __init__(self, settings: HeaterSettings):
        self.settings = settings
        self.climate: ClimateState | None = None
        self.engaged = False
        """A session (or an after state) has asked something of the heater: until then it is left alone."""
        self.temperature: float | None = None
        self.read_at: float | None = None
        self.sensor_offline = False
        self.heating = False
        self.changed_at: float | None = None
        self.last: Decision | None = None

    def want(self, climate: ClimateState | None) -> None:
        self.climate, self.engaged = climate, True

    def reading(self, temperature: float, now: float) -> None:
        self.temperature, self.read_at = temperature, now

    def step(self, now: float) -> Decision:
        """Decide now; a change of on/off is remembered with its time (the minimum cycle counts from it)."""
        decision = decide(
            self.climate, self.temperature, self.read_at, self.heating, self.changed_at, self.settings, now,
            self.sensor_offline,
        )  # fmt: skip
        if decision.on != self.heating:
            self.heating, self.changed_at = decision.on, now
        self.last = decision
        return decision

    @property
    def check_at(self) -> float | None:
        return None if not self.engaged or self.last is None else self.last.check_at

    def shown(self) -> dict:
        """The thermostat as the room status shows it."""
        climate = self.climate
        return {
            "target": None if climate is None else climate.target,
            "current": self.temperature,
            "heating": self.heating,
            "reason": None if self.last is None else self.last.reason,
        }


__all__ = ["HEATING_MODES", "Decision", "HeaterLoop", "HeaterSettings", "decide"]
