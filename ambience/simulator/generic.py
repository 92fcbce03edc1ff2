"""A generic MQTT device: whatever the ``payload`` template renders, on ``command_topic``.

The simulator reads the values back by matching the payload against the template (each
``{field}`` becomes a capture; see :mod:`ambience.devices.generic` for the fields), so any
template works, JSON or not. The payload is echoed on ``state_topic``; where ``values`` names a
dotted path the echo lacks, the current value is filled in (``state`` ON/OFF, ``brightness`` in
``brightness_scale``, ``color_temp`` K, ``mired``, ``color``, ``target``, ``mode``, ``current``, ``power``).
A switch takes ``{state}``/``{STATE}``/``{on}``; a number in ``{auto_off}`` arms its firmware's auto-off
timer from that moment (each command restarts it, off clears it), as an installer's device with a timer
does. A sensor publishes ``temperature`` and ``humidity`` at their ``values`` paths when its
temperature moves by 0.1 °C.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from ambience.config.devices import GenericDevice
from ambience.devices.base import json_payload, kelvin_to_mired, mired_to_kelvin, parse_json, pct_to_scale, scale_to_pct
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish, VirtualDevice, parse_number
from ambience.simulator.colors import color_to_hex

FIELDS = (
    "state", "STATE", "on", "brightness", "brightness255", "color_temp", "mired", "color", "transition", "target", "mode",
    "auto_off",
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")
_TRUE, _FALSE = ("on", "true", "1"), ("off", "false", "0")


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching what ``template`` renders to, capturing each field (whitespace is loose)."""
    parts = _PLACEHOLDER.split(template)
    regex, seen = "", set()
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += r"\s*".join(re.escape(chunk) for chunk in re.split(r"\s+", part))
        elif part in seen:
            regex += f"(?P={part})"
        else:
            seen.add(part)
            regex += f"(?P<{part}>.*?)"
    return re.compile(regex, re.DOTALL)


class GenericSim(VirtualDevice[GenericDevice]):
    bridge = "generic"
    kinds: ClassVar[tuple[str, ...]] = (LIGHT, CLIMATE, SWITCH, SENSOR)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pattern = template_pattern(self.config.payload)
        self._last: str | None = None

    def subscriptions(self) -> list[str]:
        return [self.config.command_topic]

    def availability(self, online: bool) -> list[Publish]:
        c = self.config
        if not c.availability_topic:
            return []
        return [Publish(c.availability_topic, c.payload_available if online else c.payload_not_available, retain=True)]

    def report(self, now: float) -> list[Publish]:
        if self.sensor is not None:
            return self._sensor_state()
        return self._echo(self._last if self._last is not None else self._render(now), now)

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        text = payload.decode("utf-8", errors="replace")
        match = self._pattern.fullmatch(text.strip())
        if self.sensor is not None or match is None or not self.accept():
            return []
        self._apply({k: v.strip().strip('"') for k, v in match.groupdict().items()}, now)
        self._last = text
        return self._echo(text, now)

    def switch_changed(self, now: float) -> list[Publish]:
        self._last = self._render(now)  # its timer ran out: the state it reports is off, not the last command
        return self._echo(self._last, now)

    def climate_step(self, now: float) -> list[Publish]:
        return self.report(now) if "current" in self.config.values else []

    # ---- values in and out -------------------------------------------------------------------

    def _apply(self, fields: dict[str, str], now: float) -> None:
        switch = _switch(fields)
        if self.switch is not None:
            if switch is not None:
                self.switch.set(switch, now, parse_number(fields.get("auto_off", "")))
            return
        if self.kind == LIGHT:
            assert self.light is not None
            change: dict[str, Any] = {} if switch is None else {"on": switch}
            for key, top in (("brightness", self.config.brightness_scale), ("brightness255", 255)):
                if (value := parse_number(fields.get(key, ""))) is not None:
                    change["level"] = scale_to_pct(value, top)
            for key in ("color_temp", "mired"):
                if (value := parse_number(fields.get(key, ""))) is not None and value > 0:
                    change["color_temp"] = mired_to_kelvin(value) if key == "mired" or value < 1000 else value
            if (color := color_to_hex(fields["color"]) if fields.get("color", "null") != "null" else None) is not None:
                change["color"] = color
            transition = max(0.0, parse_number(fields.get("transition", "")) or 0.0)
            self.light.set(now, transition=transition, **change)
            return
        assert self.climate is not None
        if (target := parse_number(fields.get("target", ""))) is not None:
            self.climate.target = target
        if fields.get("mode", "null") not in ("", "null"):
            self.climate.mode = fields["mode"].lower()
        elif switch is not None:  # a template without {mode}: on/off says whether it heats
            self.climate.mode = "heat" if switch else "off"

    def _fields(self, now: float) -> dict[str, Any]:
        """The current state as template fields, plus ``current`` (the room temperature)."""
        if self.switch is not None:
            on = self.switch.on
            values: dict[str, Any] = {"power": self.switch.power}
        elif self.light is not None:
            v = self.light.view(now)
            on = v.on
            ct = v.color_temp if on and not v.color else None
            values = {
                "brightness": pct_to_scale(v.brightness, self.config.brightness_scale),
                "brightness255": pct_to_scale(v.brightness, 255),
                "color_temp": round(ct) if ct else None,
                "mired": kelvin_to_mired(ct) if ct else None,
                "color": v.color if on else None,
            }
        else:
            assert self.climate is not None
            c = self.climate
            on = c.mode != "off"
            values = {"target": c.target, "mode": c.mode, "current": round(c.local, 2)}
        return {"state": "on" if on else "off", "STATE": "ON" if on else "OFF", "on": on, **values}

    def _render(self, now: float) -> str:
        fields = self._fields(now)

        def text(m: re.Match[str]) -> str:
            value = fields.get(m.group(1))
            return json.dumps(value) if isinstance(value, bool) or value is None else str(value)

        return _PLACEHOLDER.sub(text, self.config.payload)

    def _sensor_state(self) -> list[Publish]:
        s, c = self.sensor, self.config
        assert s is not None
        s.reported = s.temperature
        reading = {"temperature": round(s.temperature, 2), "humidity": round(s.humidity, 1)}
        paths = {name: path for name, path in c.values.items() if name in reading}
        if not c.state_topic or not paths:
            return []
        if any(path.strip() == "." for path in paths.values()):
            return [Publish(c.state_topic, str(reading["temperature"]))]
        data: dict[str, Any] = {}
        for name, path in paths.items():
            _put(data, path, reading[name])
        return [Publish(c.state_topic, json_payload(data))]

    def sensor_step(self, now: float) -> list[Publish]:
        s = self.sensor
        assert s is not None
        return self._sensor_state() if s.reported is None or abs(s.temperature - s.reported) >= 0.1 - 1e-9 else []

    def _echo(self, text: str, now: float) -> list[Publish]:
        if not self.config.state_topic:
            return []
        paths = {name: path for name, path in self.config.values.items() if path.strip() != "."}
        if paths:
            echoed = parse_json(text.encode())
            data = echoed if isinstance(echoed, dict) else {}
            fields = self._fields(now)
            fields["state"] = fields["STATE"]
            missing = {path: fields[name] for name, path in paths.items() if name in fields and not _has(data, path)}
            for path, value in missing.items():
                _put(data, path, value)
            if missing or data is not echoed:
                text = json_payload(data)
        return [Publish(self.config.state_topic, text)]


def _switch(fields: dict[str, str]) -> bool | None:
    """What ``{state}`` / ``{STATE}`` / ``{on}`` say: on, off, or nothing."""
    for key in ("state", "STATE", "on"):
        word = fields.get(key, "").lower()
        if word in _TRUE + _FALSE:
            return word in _TRUE
    return None


def _has(data: Any, path: str) -> bool:
    for key in path.strip(".").split("."):
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.strip(".").split(".")
    for key in parents:
        if not isinstance(data.get(key), dict):
            data[key] = {}
        data = data[key]
    data[leaf] = value
