"""A Zigbee2MQTT device: ``<base>/<name>/set`` JSON in, the state JSON on ``<base>/<name>`` out.

Lights take ``state`` (ON/OFF/TOGGLE), ``brightness`` 0–254, ``color_temp`` (mired or a word),
``color`` (xy, hex, rgb, hue/sat), ``transition`` (s) and the ``*_step`` forms; during a
transition the reported brightness moves, one state message per tick and one at the end.
Thermostats take the configured setpoint key, ``system_mode`` and ``preset`` and report
``local_temperature`` drifting towards the setpoint plus ``running_state``. State messages are
not retained (Z2M's default); availability is, as ``{"state":"online"}`` or, with the option
``legacy_availability``, the 1.x plain ``online``.
A plug (kind switch) takes ``state`` (ON/OFF/TOGGLE) and reports ``{"state","power"}``; a sensor reports
``{"temperature","humidity"}`` when its temperature moved by 0.1 °C. The profiles (z2m_profiles.py) add
the real converters' timers (``countdown``, ``on_time``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ambience.config.devices import Zigbee2MqttDevice
from ambience.devices.base import (
    hex_to_rgb,
    json_payload,
    kelvin_to_mired,
    mired_to_kelvin,
    parse_json,
    pct_to_scale,
    scale_to_pct,
)
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish, VirtualDevice, number
from ambience.simulator.colors import Z2M_NAMED_MIRED, color_to_hex, rgb_to_xy

TOP = 254


class Zigbee2MqttSim(VirtualDevice[Zigbee2MqttDevice]):
    bridge = "zigbee2mqtt"
    kinds: ClassVar[tuple[str, ...]] = (LIGHT, CLIMATE, SWITCH, SENSOR)
    option_names = frozenset({"legacy_availability"})

    @property
    def topic(self) -> str:
        return f"{self.config.base_topic}/{self.name}"

    def subscriptions(self) -> list[str]:
        return [f"{self.topic}/set", f"{self.topic}/set/+", f"{self.topic}/get"]

    def availability(self, online: bool) -> list[Publish]:
        word = "online" if online else "offline"
        payload = word if self.options.get("legacy_availability") else json_payload({"state": word})
        return [Publish(f"{self.topic}/availability", payload, retain=True)]

    def report(self, now: float) -> list[Publish]:
        bridge = "online" if self.options.get("legacy_availability") else json_payload({"state": "online"})
        return [Publish(f"{self.config.base_topic}/bridge/state", bridge, retain=True), self._state(now)]

    def _state(self, now: float) -> Publish:
        if self.switch is not None:
            state: dict[str, Any] = {"state": "ON" if self.switch.on else "OFF", "power": self.switch.power}
        elif self.sensor is not None:
            self.sensor.reported = self.sensor.temperature
            state = {"temperature": round(self.sensor.temperature, 2), "humidity": round(self.sensor.humidity, 1)}
        else:
            state = self._light_state(now) if self.kind == LIGHT else self._climate_state()
        return Publish(self.topic, json_payload(state))

    def _light_state(self, now: float) -> dict[str, Any]:
        assert self.light is not None
        v = self.light.view(now)
        state: dict[str, Any] = {"state": "ON" if v.on else "OFF", "brightness": max(1, pct_to_scale(v.level, TOP))}
        if v.color:
            x, y = rgb_to_xy(*hex_to_rgb(v.color))
            state.update(color_mode="xy", color={"x": x, "y": y})
        elif v.color_temp:
            state.update(color_mode="color_temp", color_temp=self._mired(v.color_temp))
        return state

    def _mired(self, kelvin: float) -> int:
        return kelvin_to_mired(kelvin, self.config.mired_min, self.config.mired_max)

    def _climate_state(self) -> dict[str, Any]:
        assert self.climate is not None
        c = self.climate
        state: dict[str, Any] = {
            "local_temperature": round(c.local, 1),
            self.config.setpoint: c.target,
            "system_mode": c.mode,
            "running_state": c.running_state,
        }
        if c.preset is not None:
            state["preset"] = c.preset
        return state

    # ---- incoming --------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if topic == f"{self.topic}/get":
            return [self._state(now)]
        if topic.startswith(f"{self.topic}/set/"):
            text = payload.decode("utf-8", errors="replace").strip()
            value = parse_json(payload)
            command = {topic.rsplit("/", 1)[1]: text if value is None else value}
        else:
            command = parse_json(payload)
            if not isinstance(command, dict):
                return []  # Z2M logs "Invalid JSON" and does nothing
        if self.sensor is not None or not self.accept():
            return []
        if self.switch is not None:
            state = str(command.get("state", "")).upper()
            if state not in ("ON", "OFF", "TOGGLE"):
                return []
            self.switch.set(not self.switch.on if state == "TOGGLE" else state == "ON", now)
        elif self.kind == LIGHT:
            self._set_light(command, now)
        else:
            self._set_climate(command)
        return [self._state(now)]

    def _set_light(self, cmd: dict[str, Any], now: float) -> None:
        assert self.light is not None
        target = self.light.target()
        change: dict[str, Any] = {}
        state = str(cmd.get("state", "")).upper()
        if state in ("ON", "OFF"):
            change["on"] = state == "ON"
        elif state == "TOGGLE":
            change["on"] = not target.on
        if (brightness := number(cmd.get("brightness"))) is not None:
            change["level"] = scale_to_pct(brightness, TOP)
        for key, onoff in (("brightness_step", False), ("brightness_step_onoff", True)):
            step = number(cmd.get(key))
            if step is not None and (target.on or onoff):
                level = target.level if target.on else 0.0
                change["level"] = max(0.0, min(100.0, level + scale_to_pct(abs(step), TOP) * (1 if step > 0 else -1)))
        mired = self._mired_of(cmd.get("color_temp"))
        mired_step = number(cmd.get("color_temp_step"))
        if mired is None and mired_step is not None and target.color_temp:
            mired = self._mired(target.color_temp) + mired_step
        if mired is not None:
            mired = max(self.config.mired_min, min(self.config.mired_max, mired))
            change["color_temp"] = mired_to_kelvin(mired)
        if "color" in cmd and color_to_hex(cmd["color"]):
            change["color"] = color_to_hex(cmd["color"])
        transition = number(cmd.get("transition")) or 0.0
        self.light.set(now, transition=max(0.0, transition), **change)

    @staticmethod
    def _mired_of(value: Any) -> float | None:
        if isinstance(value, str) and value.lower() in Z2M_NAMED_MIRED:
            return Z2M_NAMED_MIRED[value.lower()]
        return number(value)

    def _set_climate(self, cmd: dict[str, Any]) -> None:
        assert self.climate is not None
        target = number(cmd.get(self.config.setpoint))
        if target is not None:
            self.climate.target = target
        if isinstance(cmd.get("system_mode"), str):
            self.climate.mode = cmd["system_mode"]
        if isinstance(cmd.get("preset"), str):
            self.climate.preset = cmd["preset"]

    # ---- time --------------------------------------------------------------------------------

    def fade_step(self, now: float, finished: bool) -> list[Publish]:
        return [self._state(now)]

    def climate_step(self, now: float) -> list[Publish]:
        return [self._state(now)]

    def sensor_step(self, now: float) -> list[Publish]:
        s = self.sensor
        assert s is not None
        return [self._state(now)] if s.reported is None or abs(s.temperature - s.reported) >= 0.1 - 1e-9 else []
