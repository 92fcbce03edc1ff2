"""A device exposed to Home Assistant over MQTT: a JSON-schema light or an MQTT climate.

Light: JSON on ``command_topic`` (``state``, ``brightness`` 0–``brightness_scale``,
``color_temp`` mired, ``color`` hs/rgb/xy, ``transition``) -> the new state as JSON on
``state_topic`` with ``color_mode``. Climate: plain text on ``temperature_command_topic`` /
``mode_command_topic`` -> ``temperature_state_topic`` / ``mode_state_topic``, and
``current_temperature_topic`` as the room drifts. States and ``availability_topic``
(``online``/``offline``) are retained, so HA (and ambience) learn them on subscribing.
Switch: ``payload_on``/``payload_off`` on ``command_topic`` -> ``state_on``/``state_off`` (default the
payloads) on ``state_topic``, or a JSON object with the state at ``state_path`` and the power at
``power_path``; no timer. Sensor: the temperature on ``state_topic`` (in ``unit_of_measurement``), plain or
as JSON at ``temperature_path`` / ``humidity_path``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ambience.config.devices import HomeAssistantDevice
from ambience.devices.base import hex_to_rgb, json_payload, kelvin_to_mired, mired_to_kelvin, parse_json, scale_to_pct
from ambience.devices.base import pct_to_scale as to_scale
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish, VirtualDevice, number, parse_number
from ambience.simulator.colors import color_to_hex, rgb_to_hs, rgb_to_xy


class HomeAssistantSim(VirtualDevice[HomeAssistantDevice]):
    bridge = "homeassistant"
    kinds: ClassVar[tuple[str, ...]] = (LIGHT, CLIMATE, SWITCH, SENSOR)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._color_form = "hs"

    def subscriptions(self) -> list[str]:
        c = self.config
        if self.kind == SENSOR:
            return []
        topics = (
            [c.command_topic] if self.kind in (LIGHT, SWITCH) else [c.temperature_command_topic, c.mode_command_topic]
        )
        return [t for t in topics if t]

    def availability(self, online: bool) -> list[Publish]:
        topic = self.config.availability_topic
        return [Publish(topic, "online" if online else "offline", retain=True)] if topic else []

    def report(self, now: float) -> list[Publish]:
        if self.switch is not None:
            return self._switch_state()
        if self.sensor is not None:
            return self._sensor_state()
        return self._light_state() if self.kind == LIGHT else self._climate_state()

    # ---- switch and sensor -------------------------------------------------------------------

    def _switch_state(self) -> list[Publish]:
        assert self.switch is not None
        c = self.config
        if not c.state_topic:
            return []
        word = (c.state_on or c.payload_on) if self.switch.on else (c.state_off or c.payload_off)
        if not c.state_path:
            return [Publish(c.state_topic, word, retain=True)]
        data: dict[str, Any] = {}
        _put(data, c.state_path, word)
        if c.power_path:
            _put(data, c.power_path, self.switch.power)
        return [Publish(c.state_topic, json_payload(data), retain=True)]

    def _sensor_state(self) -> list[Publish]:
        assert self.sensor is not None
        c = self.config
        if not c.state_topic:
            return []
        self.sensor.reported = t = self.sensor.temperature
        value = round(t * 9 / 5 + 32 if c.unit_of_measurement == "°F" else t, 1)
        if not c.temperature_path:
            return [Publish(c.state_topic, f"{value:g}", retain=True)]
        data: dict[str, Any] = {}
        _put(data, c.temperature_path, value)
        if c.humidity_path:
            _put(data, c.humidity_path, round(self.sensor.humidity, 1))
        return [Publish(c.state_topic, json_payload(data), retain=True)]

    def sensor_step(self, now: float) -> list[Publish]:
        s = self.sensor
        assert s is not None
        return self._sensor_state() if s.reported is None or abs(s.temperature - s.reported) >= 0.05 else []

    # ---- light -------------------------------------------------------------------------------

    def _light_state(self) -> list[Publish]:
        assert self.light is not None
        if not self.config.state_topic:
            return []
        end = self.light.target()  # HA lights report where they are going
        state: dict[str, Any] = {"state": "ON" if end.on else "OFF"}
        if end.on:
            state["brightness"] = max(1, to_scale(end.level, self.config.brightness_scale))
        if end.color:
            r, g, b = hex_to_rgb(end.color)
            state["color_mode"] = self._color_form
            state["color"] = _color(self._color_form, r, g, b)
        elif end.color_temp:
            state["color_mode"] = "color_temp"
            state["color_temp"] = kelvin_to_mired(end.color_temp, self.config.mired_min, self.config.mired_max)
        return [Publish(self.config.state_topic, json_payload(state), retain=True)]

    def _set_light(self, cmd: dict[str, Any], now: float) -> None:
        assert self.light is not None
        change: dict[str, Any] = {}
        if str(cmd.get("state", "")).upper() in ("ON", "OFF"):
            change["on"] = str(cmd["state"]).upper() == "ON"
        if (brightness := number(cmd.get("brightness"))) is not None:
            change["level"] = scale_to_pct(brightness, self.config.brightness_scale)
        if (mired := number(cmd.get("color_temp"))) is not None:
            mired = max(self.config.mired_min, min(self.config.mired_max, mired))
            change["color_temp"] = mired_to_kelvin(mired)
        color = cmd.get("color")
        if isinstance(color, dict) and color_to_hex(color):
            change["color"] = color_to_hex(color)
            self._color_form = "rgb" if "r" in color else "xy" if "x" in color else "hs"
        self.light.set(now, transition=max(0.0, number(cmd.get("transition")) or 0.0), **change)

    # ---- climate -----------------------------------------------------------------------------

    def _climate_state(self) -> list[Publish]:
        assert self.climate is not None
        c = self.config
        out = [
            (c.temperature_state_topic, f"{self.climate.target:g}"),
            (c.mode_state_topic, self.climate.mode),
            (c.current_temperature_topic, f"{self.climate.local:.1f}"),
        ]
        return [Publish(topic, text, retain=True) for topic, text in out if topic]

    def _current(self) -> list[Publish]:
        assert self.climate is not None
        topic = self.config.current_temperature_topic
        return [Publish(topic, f"{self.climate.local:.1f}", retain=True)] if topic else []

    # ---- incoming and time -------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        c = self.config
        if self.switch is not None:
            text = payload.decode("utf-8", errors="replace")
            if text not in (c.payload_on, c.payload_off) or not self.accept():
                return []
            self.switch.set(text == c.payload_on, now)
            return self._switch_state()
        if self.kind == LIGHT:
            cmd = parse_json(payload)
            if not isinstance(cmd, dict) or not self.accept():
                return []
            self._set_light(cmd, now)
            return self._light_state()
        assert self.climate is not None
        text = payload.decode("utf-8", errors="replace").strip()
        if topic == c.temperature_command_topic:
            target = parse_number(text)
            if target is None or not self.accept():
                return []
            self.climate.target = target
            return [p for p in self._climate_state() if p.topic == c.temperature_state_topic]
        if topic == c.mode_command_topic and text and self.accept():
            self.climate.mode = text
            return [p for p in self._climate_state() if p.topic == c.mode_state_topic]
        return []

    def climate_step(self, now: float) -> list[Publish]:
        return self._current()


def _color(form: str, r: int, g: int, b: int) -> dict[str, float]:
    """The ``color`` object of an HA JSON light state in the form it was set with."""
    if form == "rgb":
        return {"r": r, "g": g, "b": b}
    if form == "xy":
        x, y = rgb_to_xy(r, g, b)
        return {"x": x, "y": y}
    h, s = rgb_to_hs(r, g, b)
    return {"h": h, "s": s}


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted path, making the objects on the way."""
    *parents, last = path.strip(".").split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value
