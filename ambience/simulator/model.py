"""What a simulated light or thermostat physically does, in ambience units; pure, time passed in.

A light has an on/off switch, a level it shows when on (%, kept while off, as bulbs do), a
colour temperature (K) or a colour (hex). A change may fade over a transition: between the
start and the end the output moves linearly, and :meth:`LightModel.view` tells what it shows at
any moment. A thermostat's measured temperature drifts towards its goal by ``drift`` °C a step.
A plug or relay is on or off, with the firmware's auto-off timer where it has one; a sensor
reads a temperature that its test (or a room's thermal model) sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_LEVEL = 100.0
DEFAULT_KELVIN = 2700.0


@dataclass(frozen=True)
class LightView:
    """What a light shows at one moment; ``brightness`` is its output in % (0 when off)."""

    on: bool
    level: float
    """The level it shows when on (the bulb's memory while it is off)."""
    color_temp: float | None
    """Kelvin; ``None`` in colour mode."""
    color: str | None = None
    """``#rrggbb`` in colour mode."""

    @property
    def brightness(self) -> float:
        return self.level if self.on else 0.0


@dataclass(frozen=True)
class _Fade:
    start: float
    duration: float
    begin: LightView
    end: LightView

    def at(self, now: float) -> LightView:
        frac = min(1.0, max(0.0, (now - self.start) / self.duration))
        if frac >= 1.0:
            return self.end
        a, b = self.begin.brightness, self.end.brightness
        brightness = a + (b - a) * frac
        ct = self.end.color_temp
        if ct is not None and self.begin.color_temp is not None:
            ct = self.begin.color_temp + (ct - self.begin.color_temp) * frac
        return LightView(on=True, level=brightness, color_temp=ct, color=self.end.color)

    @property
    def deadline(self) -> float:
        return self.start + self.duration


class LightModel:
    """A dimmable light with optional fades. Not thread-safe: one owner calls it."""

    def __init__(self, initial: LightView | None = None):
        self._state = initial or LightView(on=False, level=DEFAULT_LEVEL, color_temp=DEFAULT_KELVIN)
        self._fade: _Fade | None = None

    @classmethod
    def from_initial(cls, spec: Mapping[str, Any] | None) -> LightModel:
        """``{"on": true, "brightness": 80, "color_temp": 4000}`` or ``{"color": "#ff9a40"}``."""
        spec = dict(spec or {})
        unknown = set(spec) - {"on", "brightness", "color_temp", "color"}
        if unknown:
            raise ValueError(
                f"unknown initial light keys {sorted(unknown)}; allowed: on, brightness, color_temp, color"
            )
        level = float(spec.get("brightness", DEFAULT_LEVEL))
        on = bool(spec.get("on", level > 0 and "brightness" in spec))
        color = spec.get("color")
        ct = None if color else float(spec.get("color_temp", DEFAULT_KELVIN))
        return cls(
            LightView(on=on and level > 0, level=level if level > 0 else DEFAULT_LEVEL, color_temp=ct, color=color)
        )

    # ---- reading ---------------------------------------------------------------------------

    def view(self, now: float) -> LightView:
        return self._fade.at(now) if self._fade else self._state

    def target(self) -> LightView:
        """Where the light ends up once any fade is over."""
        return self._fade.end if self._fade else self._state

    @property
    def fading(self) -> bool:
        return self._fade is not None

    @property
    def deadline(self) -> float | None:
        """When the running fade ends."""
        return self._fade.deadline if self._fade else None

    def fade_window(self) -> tuple[float, float] | None:
        """(start, duration) of the running fade."""
        return (self._fade.start, self._fade.duration) if self._fade else None

    def remaining(self, now: float) -> float:
        return max(0.0, self._fade.deadline - now) if self._fade else 0.0

    # ---- changing --------------------------------------------------------------------------

    def plan(
        self,
        *,
        on: bool | None = None,
        level: float | None = None,
        color_temp: float | None = None,
        color: str | None = None,
    ) -> LightView:
        """The end state a command would lead to. ``level`` 0 switches off and keeps the memory."""
        end = self.target()
        if level is not None:
            if level <= 0:
                end = replace(end, on=False)
            else:
                end = replace(end, level=min(100.0, float(level)), on=True if on is None else on)
        if on is not None and (level is None or level > 0):
            end = replace(end, on=on)
        if color_temp is not None:
            end = replace(end, color_temp=float(color_temp), color=None)
        if color is not None:
            end = replace(end, color=color, color_temp=None)
        return end

    def apply(self, now: float, end: LightView, transition: float = 0.0) -> None:
        """Go to ``end``, fading from what is shown now over ``transition`` seconds."""
        begin = self.view(now)
        visible = begin.on or end.on
        if transition > 0 and visible and (begin.brightness != end.brightness or begin.color_temp != end.color_temp):
            self._fade = _Fade(now, float(transition), begin, end)
        else:
            self._fade = None
        self._state = end

    def set(self, now: float, *, transition: float = 0.0, **change: Any) -> LightView:
        end = self.plan(**change)
        self.apply(now, end, transition)
        return end

    def stop(self, now: float) -> None:
        """Freeze a fade where it is (Tasmota ``Dimmer !``)."""
        if self._fade:
            self._state = self._fade.at(now)
            self._fade = None

    def settle(self, now: float) -> bool:
        """End a fade whose time is up; True if one just ended."""
        if self._fade and now >= self._fade.deadline:
            self._fade = None
            return True
        return False


@dataclass
class ClimateModel:
    """A thermostat: setpoint, mode and a measured temperature that drifts towards the goal."""

    target: float = 20.0
    mode: str = "heat"
    local: float = 20.0
    ambient: float = 20.0
    """Where the room drifts when the thermostat is off."""
    drift: float = 0.1
    """°C per step."""
    preset: str | None = None
    forced: str | None = None
    """``open``: the valve is held fully open and the room heats towards ``hot`` whatever the
    setpoint (a Tuya TS0601 in ``system_mode: heat``); ``closed``: it is shut and the room cools to ``ambient``."""
    hot: float = 30.0
    """Where a room drifts with its radiator fully open."""

    @classmethod
    def from_initial(cls, spec: Mapping[str, Any] | None, drift: float) -> ClimateModel:
        """``{"target": 19, "mode": "heat", "local_temperature": 18.5}``."""
        spec = dict(spec or {})
        unknown = set(spec) - {"target", "mode", "local_temperature", "preset"}
        if unknown:
            raise ValueError(
                f"unknown initial thermostat keys {sorted(unknown)}; allowed: target, mode, local_temperature, preset"
            )
        target = float(spec.get("target", 20.0))
        local = float(spec.get("local_temperature", target))
        return cls(target, str(spec.get("mode", "heat")), local, local, drift, spec.get("preset"))

    @property
    def goal(self) -> float:
        if self.forced == "open":
            return self.hot
        return self.ambient if self.mode == "off" or self.forced == "closed" else self.target

    @property
    def running_state(self) -> str:
        """``heat`` / ``cool`` / ``idle``, as Zigbee2MQTT reports ``running_state``."""
        if self.forced is not None:
            return "heat" if self.forced == "open" else "idle"
        if self.mode in ("heat", "auto") and self.local < self.target - 0.05:
            return "heat"
        if self.mode in ("cool", "auto") and self.local > self.target + 0.05:
            return "cool"
        return "idle"

    @property
    def action(self) -> str:
        """The HA / ESPHome climate action: ``heating`` / ``cooling`` / ``idle`` / ``off``."""
        if self.mode == "off":
            return "off"
        return {"heat": "heating", "cool": "cooling"}.get(self.running_state, "idle")

    def step(self) -> bool:
        """One drift step towards the goal; True if the measured temperature changed."""
        gap = self.goal - self.local
        if abs(gap) < 1e-9:
            return False
        move = max(-self.drift, min(self.drift, gap))
        self.local = round(self.local + move, 3)
        return True


@dataclass
class SwitchModel:
    """A plug or relay: its output, the load it powers and the firmware's auto-off timer.

    ``off_at`` is when the firmware switches the output off by itself (Tasmota ``PulseTime``, a
    Shelly's ``toggle_after``, a Zigbee plug's ``on_time``); how a command arms, re-arms or clears
    it is the bridge's firmware behaviour, in its subclass."""

    on: bool = False
    load: float = 0.0
    """Watts drawn while on (a heater 1500, a table warmer 60, a diffuser 10)."""
    off_at: float | None = None
    timed_offs: int = 0
    """How often the firmware's timer switched the output off."""

    @classmethod
    def from_initial(cls, spec: Mapping[str, Any] | None) -> SwitchModel:
        """``{"on": true, "load": 1500}``."""
        spec = dict(spec or {})
        unknown = set(spec) - {"on", "load"}
        if unknown:
            raise ValueError(f"unknown initial switch keys {sorted(unknown)}; allowed: on, load")
        return cls(bool(spec.get("on", False)), float(spec.get("load", 0.0)))

    def set(self, on: bool, now: float, timer: float | None = None) -> None:
        """Switch; ``timer`` (seconds) arms the auto-off timer from ``now``; switching off clears it."""
        self.on = on
        self.off_at = now + timer if on and timer is not None and timer > 0 else None

    def expire(self, now: float) -> bool:
        """The auto-off timer ran out at ``now``: the output goes off. True if it did."""
        if self.off_at is None or now < self.off_at:
            return False
        self.on, self.off_at = False, None
        self.timed_offs += 1
        return True

    @property
    def power(self) -> float:
        return self.load if self.on else 0.0


@dataclass
class SensorModel:
    """A temperature (and humidity) sensor; ``temperature`` is set by the test or a thermal model."""

    temperature: float = 20.0
    humidity: float = 45.0
    reported: float | None = None
    """The temperature last published (a sensor reports when it changes by its resolution)."""

    @classmethod
    def from_initial(cls, spec: Mapping[str, Any] | None) -> SensorModel:
        """``{"temperature": 18.5, "humidity": 40}``."""
        spec = dict(spec or {})
        unknown = set(spec) - {"temperature", "humidity"}
        if unknown:
            raise ValueError(f"unknown initial sensor keys {sorted(unknown)}; allowed: temperature, humidity")
        return cls(float(spec.get("temperature", 20.0)), float(spec.get("humidity", 45.0)))
