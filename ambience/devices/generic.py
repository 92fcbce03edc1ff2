"""Any other MQTT device: a payload template for commands, dotted JSON paths for the state.

Commands go to ``command_topic``; ``payload`` is a template whose placeholders are replaced (and
nothing else is, so JSON braces need no escaping):

    ``{state}`` ``on``/``off``   ``{STATE}`` ``ON``/``OFF``   ``{on}`` ``true``/``false``
    ``{brightness}`` 0..``brightness_scale``   ``{brightness255}`` 0..255
    ``{color_temp}`` kelvin   ``{mired}`` mired   ``{color}`` ``#rrggbb``   ``{transition}`` seconds
    ``{target}`` °C   ``{mode}`` ``heat``/``auto``/``off``

A value that does not apply (no colour temperature, a light's ``{target}``…) becomes ``null``.
For a thermostat ``{state}``/``{on}`` say whether the mode is other than ``off``.

State: messages on ``state_topic`` are read with ``values``, a map from ``state``, ``brightness``
(0..``brightness_scale``), ``color_temp`` (kelvin) or ``mired``, ``color`` (hex), ``target``,
``mode`` and ``current`` to dotted paths into the JSON (``light.dim``; a number picks a list
item). The path ``.`` is the whole payload, so a plain ``ON`` or ``21.5`` works too.
Availability: ``availability_topic`` with ``payload_available``/``payload_not_available``.

``max_transition``: the configured one; otherwise 60 s if the template sends ``{transition}`` and
0 (every fade is sent as steps) if it does not.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import GenericDevice
from ..errors import DeviceError
from ..timeline import ClimateState, Light
from .base import (
    ClimateReport,
    LightReport,
    Message,
    Report,
    hex_to_rgb,
    kelvin_to_mired,
    mired_to_kelvin,
    pct_to_scale,
    scale_to_pct,
)
from .homeassistant import (
    check_kind,
    clamp_transition,
    json_of,
    kelvin,
    normalized_hex,
    number,
    on_off,
    online_payload,
    seconds,
    text,
    wrong_kind,
)

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
)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")
VALUE_KEYS = ("state", "brightness", "color_temp", "mired", "color", "target", "mode", "current")
_MISSING = object()


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


def at_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``light.dim``, ``channels.0``); ``_MISSING`` if there is none."""
    if path.strip() == ".":
        return data
    value = data
    for part in path.strip().strip(".").split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


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

    def subscriptions(self) -> list[str]:
        d = self.device
        return list(dict.fromkeys(t for t in (d.state_topic, d.availability_topic) if t))

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
            "color_temp": round(ct) if ct else None,
            "mired": kelvin_to_mired(ct) if ct else None,
            "color": light.color.lower() if on and light.color else None,
            "transition": seconds(t),
        }
        return [Message(self.device.command_topic, render(self.device.payload, values))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        on = climate.mode != "off"
        values: dict[str, Any] = {
            "state": "on" if on else "off",
            "STATE": "ON" if on else "OFF",
            "on": on,
            "target": None if climate.target is None else round(float(climate.target), 2),
            "mode": climate.mode,
        }
        return [Message(self.device.command_topic, render(self.device.payload, values))]

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report]:
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

        def get(key: str) -> Any:
            path = d.values.get(key)
            if path is None:
                return None
            value = at_path(data, path)
            return None if value is _MISSING else value

        if self.kind == "light":
            light = self._light(get)
            return [] if light is None else [LightReport(light)]
        target, current = number(get("target")), number(get("current"))
        mode = get("mode")
        mode = mode.strip().lower() if isinstance(mode, str) and mode.strip() else None
        if target is None and mode is None and current is None:
            return []
        return [ClimateReport(target, mode, current)]

    def _light(self, get) -> Light | None:
        state = on_off(get("state"))
        level = number(get("brightness"))
        if state is None and level is None:
            return None
        on = state if state is not None else level is not None and level > 0
        ct = kelvin(get("color_temp"))
        mired = number(get("mired"))
        if ct is None and mired is not None and mired > 0:
            ct = float(round(mired_to_kelvin(mired)))
        color = get("color")
        hexa = None
        if isinstance(color, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", color.strip()):
            hexa = normalized_hex(*hex_to_rgb(color.strip()))
        if not on:
            return Light(0.0, ct, hexa)
        brightness = 100.0 if level is None else scale_to_pct(level, self.device.brightness_scale)
        return Light(brightness, None if hexa else ct, hexa)
