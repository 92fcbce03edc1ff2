"""Any other MQTT device: a payload template for commands, dotted JSON paths for the state.

Commands go to ``command_topic``; ``payload`` is a template whose placeholders are replaced (and
nothing else is, so JSON braces need no escaping):

    ``{state}`` ``on``/``off``   ``{STATE}`` ``ON``/``OFF``   ``{on}`` ``true``/``false``
    ``{brightness}`` 0..``brightness_scale``   ``{brightness255}`` 0..255
    ``{color_temp}`` kelvin   ``{mired}`` mired   ``{color}`` ``#rrggbb``   ``{transition}`` seconds
    ``{target}`` °C   ``{mode}`` ``heat``/``auto``/``off``
    ``{auto_off}`` seconds of a switch's own auto-off timer, armed with *on* (with ``auto_off_max``, the
    timer's longest time; without it the switch has no timer ambience knows and relies on ambience)

A value that does not apply (no colour temperature, a light's ``{target}``…) becomes ``null``.
For a thermostat ``{state}``/``{on}`` say whether the mode is other than ``off``.

State: messages on ``state_topic`` are read with ``values``, a map from ``state``, ``brightness``
(0..``brightness_scale``), ``color_temp`` (kelvin) or ``mired``, ``color`` (hex), ``target``,
``mode``, ``current``, ``power`` (W, a switch), ``temperature`` (°C) and ``humidity`` (%, a sensor) to dotted paths into the JSON (``light.dim``; a number picks a list
item). The path ``.`` is the whole payload, so a plain ``ON`` or ``21.5`` works too.
Availability: ``availability_topic`` with ``payload_available``/``payload_not_available``.

``max_transition``: the configured one; otherwise 60 s if the template sends ``{transition}`` and
0 (every fade is sent as steps) if it does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ambience.config.devices import GenericDevice
from ambience.devices.base import (
    HUMIDITY,
    KELVIN,
    MIRED,
    POWER,
    SETPOINT,
    TEMPERATURE,
    ClimateReport,
    Dropped,
    LightReport,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    brightness_bounds,
    hex_to_rgb,
    kelvin_to_mired,
    mired_to_kelvin,
    pct_to_scale,
    scale_to_pct,
    step_temperature,
)
from ambience.devices.codec import (
    MISSING,
    at_path,
    check_kind,
    clamp_transition,
    json_of,
    normalized_hex,
    online_payload,
    seconds,
    text,
    wrong_kind,
)
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light, Switch

DEFAULT_MAX_TRANSITION = 60.0
FIELDS = (
    "state",
    "STATE",
    "on",
    "brightness",
    "brightness255",
    "color_temp",
    "mired",
    "color",
    "transition",
    "target",
    "mode",
    "auto_off",
)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")
VALUE_KEYS = (
    "state", "brightness", "color_temp", "mired", "color", "target", "mode", "current", "power", "temperature", "humidity",
)  # fmt: skip


def render(template: str, values: dict[str, Any]) -> str:
    """Replace the known placeholders, and only those."""

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _PLACEHOLDER.sub(one, template)


class GenericAdapter:
    def __init__(self, device: GenericDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        unknown = sorted(set(device.values) - set(VALUE_KEYS))
        if unknown:
            raise DeviceError(
                f"generic device {device.device!r}: values has unknown key(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(VALUE_KEYS)}"
            )
        if device.max_transition is not None:
            self.max_transition = max(0.0, float(device.max_transition))
        else:
            self.max_transition = DEFAULT_MAX_TRANSITION if "{transition}" in device.payload else 0.0
        self._light: Light | None = None
        self._mode: str | None = None
        """The mode the thermostat last reported: what it keeps when a preset asks none."""

    def subscriptions(self) -> list[str]:
        d = self.device
        return list(dict.fromkeys(t for t in (d.state_topic, d.availability_topic) if t))

    def switch(self, switch: Switch) -> list[Message]:
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        on, span = switch.on, self.auto_off_range()
        timer = min(span[1], max(span[0], switch.auto_off)) if on and switch.auto_off and span else None
        values: dict[str, Any] = {
            "state": "on" if on else "off",
            "STATE": "ON" if on else "OFF",
            "on": on,
            "auto_off": None if timer is None else seconds(timer),
        }
        return [Message(self.device.command_topic, render(self.device.payload, values))]

    def auto_off_range(self) -> tuple[float, float] | None:
        """``(1 s, auto_off_max)`` for a payload that arms the timer with ``{auto_off}``; else ``None``."""
        top = self.device.auto_off_max
        return (min(1.0, top), top) if top and "{auto_off}" in self.device.payload else None

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = clamp_transition(transition, self.max_transition)
        on = light.on
        ct = light.color_temp if on and light.color_temp and not light.color else None
        values: dict[str, Any] = {
            "state": "on" if on else "off",
            "STATE": "ON" if on else "OFF",
            "on": on,
            "brightness": pct_to_scale(light.brightness, self.device.brightness_scale),
            "brightness255": pct_to_scale(light.brightness, 255),
            "color_temp": round(KELVIN.clamp(ct)) if ct else None,
            "mired": kelvin_to_mired(ct) if ct else None,
            "color": light.color.lower() if on and light.color else None,
            "transition": seconds(t),
        }
        return [Message(self.device.command_topic, render(self.device.payload, values))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        # no mode asked: the mode the thermostat last said, else its configured normal one (never a blank)
        mode = climate.mode or self._mode or self.device.mode
        on = mode != "off"
        values: dict[str, Any] = {
            "state": "on" if on else "off",
            "STATE": "ON" if on else "OFF",
            "on": on,
            "target": None if climate.target is None else step_temperature(climate.target, 0.01),
            "mode": mode,
        }
        return [Message(self.device.command_topic, render(self.device.payload, values))]

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        d = self.device
        if d.availability_topic and topic == d.availability_topic:
            return online_payload(payload, d.payload_available, d.payload_not_available)
        if not d.state_topic or topic != d.state_topic or not d.values:
            return []
        raw = text(payload)
        if raw is None:
            return []
        data = json_of(payload)
        if data is None and raw != "null":
            data = raw
        reading = Reading()

        def get(key: str) -> tuple[str, Any]:
            """The field's name in messages (``target at sp``) and its value (``None`` if absent)."""
            path = d.values.get(key)
            if path is None:
                return key, None
            value = at_path(data, path)
            return f"{key} at {path}", None if value is MISSING else value

        if self.kind == "switch":
            on = reading.switch(*get("state"))
            power = reading.number(*get("power"), POWER)
            return reading.out(None if on is None else SwitchReport(on, power))
        if self.kind == "sensor":
            temperature = reading.number(*get("temperature"), TEMPERATURE)
            humidity = reading.number(*get("humidity"), HUMIDITY)
            if temperature is None and humidity is None:
                return reading.out()
            return reading.out(SensorReport(temperature, humidity))
        if self.kind == "light":
            light = self._light_state(get, reading)
            if light is not None:
                self._light = light
            return reading.out(None if light is None else LightReport(light))
        target = reading.number(*get("target"), SETPOINT)
        current = reading.number(*get("current"), TEMPERATURE)
        mode = reading.mode(*get("mode"))
        if mode is not None:
            self._mode = mode
        if target is None and mode is None and current is None:
            return reading.out()
        return reading.out(ClimateReport(target, mode, current))

    def _light_state(self, get: Callable[[str], tuple[str, Any]], reading: Reading) -> Light | None:
        state = reading.switch(*get("state"))
        level = reading.number(*get("brightness"), brightness_bounds(self.device.brightness_scale))
        if state is None and level is None:
            return None
        on = state if state is not None else level is not None and level > 0
        ct = reading.color_temp(*get("color_temp"))
        mired = reading.number(*get("mired"), MIRED)
        if ct is None and mired is not None:
            ct = float(round(mired_to_kelvin(mired)))
        field, color = get("color")
        hexa = None
        if isinstance(color, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", color.strip()):
            hexa = normalized_hex(*hex_to_rgb(color.strip()))
        elif color is not None:
            reading.drop(field, color, "a colour is #rrggbb")
        if not on:
            return Light(0.0, ct, hexa)
        if level is not None:
            brightness = scale_to_pct(level, self.device.brightness_scale)
        elif get("brightness")[1] is None:
            brightness = 100.0
        elif self._light is not None and self._light.on:
            brightness = self._light.brightness  # a bad level: the last one said
        else:
            return None
        return Light(brightness, None if hexa else ct, hexa)
