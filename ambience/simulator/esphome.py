"""An ESPHome node in MQTT mode (``<prefix>`` = the configured device name).

Light: JSON on ``<prefix>/light/<object_id>/command`` (``state``, ``brightness`` 0–255,
``color_temp`` mired, ``color`` r/g/b, ``transition`` s) -> JSON on ``…/state`` with
``color_mode``, carrying the target at once as ESPHome does. Climate: plain text on
``…/climate/<object_id>/target_temperature/command``, ``…/mode/command``, ``…/preset/command``
-> ``…/target_temperature/state``, ``…/mode/state``, ``…/current_temperature/state``,
``…/action/state``. Switch: ``…/switch/<object_id>/command`` ``ON``/``OFF``/``TOGGLE`` (case-insensitive,
esphome/components/mqtt/mqtt_switch.cpp ``parse_on_off``) -> ``…/state`` ``ON``/``OFF``; no timer. Sensor:
``…/sensor/<object_id>/state`` the temperature with one decimal (``accuracy_decimals``, mqtt_sensor.cpp
``publish_state``), in the option ``unit`` (``°C``, or ``°F``) its discovery config announces
(``unit_of_meas``, ``dev_cla: temperature``). All states and ``<prefix>/status`` (``online``/``offline``)
are retained.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ambience.config.devices import EsphomeDevice
from ambience.devices.base import hex_to_rgb, json_payload, kelvin_to_mired, mired_to_kelvin, parse_json, scale_to_pct
from ambience.devices.base import pct_to_scale as to_scale
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish, VirtualDevice, number, parse_number
from ambience.simulator.colors import color_to_hex

TOP = 255


class EsphomeSim(VirtualDevice[EsphomeDevice]):
    bridge = "esphome"
    kinds: ClassVar[tuple[str, ...]] = (LIGHT, CLIMATE, SWITCH, SENSOR)
    option_names = frozenset({"unit"})

    @property
    def base(self) -> str:
        return f"{self.name}/{self.kind}/{self.config.object_id}"

    def subscriptions(self) -> list[str]:
        if self.kind == SENSOR:
            return []
        if self.kind in (LIGHT, SWITCH):
            return [f"{self.base}/command"]
        return [f"{self.base}/{item}/command" for item in ("target_temperature", "mode", "preset")]

    def availability(self, online: bool) -> list[Publish]:
        return [Publish(f"{self.name}/status", "online" if online else "offline", retain=True)]

    def report(self, now: float) -> list[Publish]:
        if self.switch is not None:
            return [Publish(f"{self.base}/state", "ON" if self.switch.on else "OFF", retain=True)]
        if self.sensor is not None:
            return self._sensor_state()
        if self.kind == LIGHT:
            return [self._light_state()]
        return [self._climate("target_temperature"), self._climate("mode"), *self.climate_step(now)]

    # ---- switch and sensor -------------------------------------------------------------------

    @property
    def fahrenheit(self) -> bool:
        return self.options.get("unit") == "°F"

    def discovery(self) -> list[Publish]:
        """A sensor's or switch's Home Assistant discovery config (mqtt_sensor.cpp / mqtt_switch.cpp
        ``send_discovery``): where its unit is told."""
        if self.kind not in (SWITCH, SENSOR):
            return []
        config: dict[str, Any] = {"name": self.config.object_id, "stat_t": f"{self.base}/state"}
        if self.kind == SENSOR:
            config.update(dev_cla="temperature", unit_of_meas="°F" if self.fahrenheit else "°C", stat_cla="measurement")
        else:
            config["cmd_t"] = f"{self.base}/command"
        config.update(avty_t=f"{self.name}/status", uniq_id=f"ESP{self.kind}{self.config.object_id}")
        topic = f"{self.config.discovery_prefix.rstrip('/')}/{self.kind}/{self.name}/{self.config.object_id}/config"
        return [Publish(topic, json_payload(config), retain=True)]

    def _sensor_state(self) -> list[Publish]:
        assert self.sensor is not None
        self.sensor.reported = self.sensor.temperature
        value = self.sensor.temperature * 9 / 5 + 32 if self.fahrenheit else self.sensor.temperature
        return [Publish(f"{self.base}/state", f"{value:.1f}", retain=True)]

    def sensor_step(self, now: float) -> list[Publish]:
        s = self.sensor
        assert s is not None
        return self._sensor_state() if s.reported is None or abs(s.temperature - s.reported) >= 0.05 else []

    # ---- light -------------------------------------------------------------------------------

    def _light_state(self) -> Publish:
        assert self.light is not None
        end = self.light.target()
        state: dict[str, Any] = {"state": "ON" if end.on else "OFF", "brightness": to_scale(end.level, TOP)}
        if end.color:
            r, g, b = hex_to_rgb(end.color)
            state.update(color_mode="rgb", color={"r": r, "g": g, "b": b})
        elif end.color_temp:
            state.update(color_mode="color_temp", color_temp=kelvin_to_mired(end.color_temp))
        return Publish(f"{self.base}/state", json_payload(state), retain=True)

    def _set_light(self, cmd: dict[str, Any], now: float) -> None:
        assert self.light is not None
        change: dict[str, Any] = {}
        if str(cmd.get("state", "")).upper() in ("ON", "OFF"):
            change["on"] = str(cmd["state"]).upper() == "ON"
        elif str(cmd.get("state", "")).upper() == "TOGGLE":
            change["on"] = not self.light.target().on
        if (brightness := number(cmd.get("brightness"))) is not None:
            change["level"] = scale_to_pct(brightness, TOP)
        if (mired := number(cmd.get("color_temp"))) is not None and mired > 0:
            change["color_temp"] = mired_to_kelvin(mired)
        if isinstance(cmd.get("color"), dict) and color_to_hex(cmd["color"]):
            change["color"] = color_to_hex(cmd["color"])
        self.light.set(now, transition=max(0.0, number(cmd.get("transition")) or 0.0), **change)

    # ---- climate -----------------------------------------------------------------------------

    def _climate(self, item: str) -> Publish:
        assert self.climate is not None
        value = {
            "target_temperature": f"{self.climate.target:.1f}",
            "mode": self.climate.mode,
            "preset": self.climate.preset or "",
            "current_temperature": f"{self.climate.local:.1f}",
            "action": self.climate.action,
        }[item]
        return Publish(f"{self.base}/{item}/state", value, retain=True)

    # ---- incoming and time -------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if self.switch is not None:
            word = payload.decode("utf-8", errors="replace").strip().upper()
            if word not in ("ON", "OFF", "TOGGLE") or not self.accept():
                return []  # "Received unknown status payload" (a warning), nothing published
            self.switch.set(not self.switch.on if word == "TOGGLE" else word == "ON", now)
            return self.report(now)
        if self.kind == LIGHT:
            cmd = parse_json(payload)
            if not isinstance(cmd, dict) or not self.accept():
                return []
            self._set_light(cmd, now)
            return [self._light_state()]
        assert self.climate is not None
        item = topic[len(self.base) + 1 :].removesuffix("/command")
        text = payload.decode("utf-8", errors="replace").strip()
        if item == "target_temperature":
            target = parse_number(text)
            if target is None or not self.accept():
                return []
            self.climate.target = target
        elif item in ("mode", "preset") and text and self.accept():
            setattr(self.climate, item, text.lower() if item == "mode" else text)
        else:
            return []
        return [self._climate(item), self._climate("action")]

    def climate_step(self, now: float) -> list[Publish]:
        return [self._climate("current_temperature"), self._climate("action")]
