"""ESPHome nodes with a real profile: a colour-temperature light, a heat-only thermostat and a heat+cool one.

Written from esphome/esphome (``esp/`` = ``esphome/components/``; snapshot 33fdbbe, 2024-10-25, and the
newer ``light/light_json_schema.cpp`` @0099fcc and ``mqtt/mqtt_light.cpp`` @0d56526 from the index):

- ``esp/mqtt/mqtt_component.cpp``: topics ``<prefix>/<component>/<object_id>/…``; every state is published
  retained (``retain_{true}``); ``send_discovery_`` publishes the Home Assistant config (retained,
  ``discovery_retain``) on ``<discovery_prefix>/<component>/<node>/<object_id>/config`` with the
  component's keys, then ``name``, ``stat_t``/``cmd_t``, ``avty_t``, ``uniq_id`` (legacy generator:
  ``ESP<component><object_id>``) and ``dev``. Keys are abbreviated (``use_abbreviations`` defaults to true,
  ``mqtt_const.h``). ``esp/mqtt/__init__.py``: birth ``online`` and Last Will ``offline`` on
  ``<prefix>/status``, retained.
- Light (``mqtt_light.cpp`` ``setup``/``send_discovery``, ``light_json_schema.cpp`` ``parse_json``/``dump_json``,
  ``light_call.cpp`` ``validate_``): ``brightness`` is read only if ``is<uint8_t>()`` (an integer 0–255),
  ``color_temp`` only if ``is<uint16_t>()`` and then clamped to the light's min/max mireds, ``transition``
  only if ``is<uint16_t>()`` (a fractional one is ignored and ``default_transition_length``, 1 s, applies;
  ``0`` is no transition); brightness 0 switches off and resets the level to full; a brightness without
  ``state`` does not switch on. The state published is the target (``remote_values``), once, at the command.
- Climate (``mqtt_climate.cpp``, ``climate/climate.cpp`` ``ClimateCall::validate_`` / ``set_mode``,
  ``thermostat/thermostat_climate.cpp`` ``control``/``traits``/``validate_target_temperature*``):
  plain-text payloads; a setpoint that is not a number is dropped with a warning (nothing published);
  a mode word is matched case-insensitively, and a mode the traits lack is dropped with a warning ("Mode
  auto is not supported by this device!"); the thermostat then ``refresh()``es, which publishes its whole
  state unchanged. A two-point (heat+cool) thermostat subscribes only ``target_temperature_low/command``
  and ``…_high/command`` and publishes ``…_low/state`` and ``…_high/state``; setpoints are clamped to the
  visual range and kept ``set_point_minimum_differential`` (0.5 °C) apart.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar

from ambience.devices.base import json_payload, mired_to_kelvin, parse_json
from ambience.simulator.base import Publish, parse_number
from ambience.simulator.esphome import EsphomeSim

VERSION = "2024.10.2 (Oct 25 2024, 11:05:25)"
"""``dev.sw``: ``ESPHOME_VERSION (compilation time)`` (mqtt_component.cpp, no project name)."""
CLIMATE_MODES = ("off", "auto", "cool", "heat", "fan_only", "dry", "heat_cool")
"""The words ``ClimateCall::set_mode(const std::string &)`` knows."""


def sanitize(name: str) -> str:
    """``str_sanitize``: anything but letters, digits, ``-`` and ``_`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def to_uint8(value: Any, top: int = 255) -> int | None:
    """A JSON value ArduinoJson's ``is<uint8_t>()`` / ``is<uint16_t>()`` accepts: an integer in range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        return None
    return value


class EsphomeProfiled(EsphomeSim):
    """The ESPHome side shared by every profile: discovery, availability with a Last Will, the node's identity."""

    option_names = frozenset({"mac"})

    @property
    def mac(self) -> str:
        given = self.options.get("mac")
        if isinstance(given, str) and len(given) == 12:
            return given.lower()
        return hashlib.sha1(self.name.encode()).hexdigest()[:12]

    @property
    def component(self) -> str:
        return "light" if self.kind == "light" else "climate"

    def will(self) -> Publish:
        return self.availability(False)[0]

    def discovery(self) -> list[Publish]:
        node, object_id = sanitize(self.name), self.config.object_id
        config = {
            **self.discovery_keys(),
            "name": object_id.replace("_", " ").capitalize(),
            **self.discovery_topics(),
            "avty_t": f"{self.name}/status",
            "uniq_id": f"ESP{self.component}{object_id}",
            "dev": {
                "ids": self.mac,
                "name": self.name,
                "sw": VERSION,
                "mdl": "esp32dev",
                "mf": "Espressif",
                "cns": [["mac", self.mac]],
            },
        }
        topic = f"{self.config.discovery_prefix.rstrip('/')}/{self.component}/{node}/{object_id}/config"
        return [Publish(topic, json_payload(config), retain=True)]

    def discovery_keys(self) -> dict[str, Any]:
        """What the component's ``send_discovery`` writes."""
        raise NotImplementedError

    def discovery_topics(self) -> dict[str, Any]:
        """``stat_t``/``cmd_t`` where the component leaves ``config.state_topic``/``command_topic`` on."""
        return {}


class EsphomeCtLight(EsphomeProfiled):
    """``platform: color_temperature`` (cold 153 mired, warm 370 mired): colour mode COLOR_TEMPERATURE only."""

    MIN_MIREDS, MAX_MIREDS = 153.0, 370.0
    DEFAULT_TRANSITION = 1.0
    """``default_transition_length`` (light/__init__.py: ``1s``)."""
    kinds: ClassVar[tuple[str, ...]] = ("light",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.light is not None
        kelvin = self.light.target().color_temp or 2700.0
        self.mired = min(self.MAX_MIREDS, max(self.MIN_MIREDS, 1e6 / kelvin))
        self.light.apply(0.0, self.light.plan(color_temp=mired_to_kelvin(self.mired)), 0.0)

    def discovery_keys(self) -> dict[str, Any]:
        # mqtt_light.cpp send_discovery (@0d56526): schema, color mode flag, supported modes, legacy brightness, mireds
        return {
            "schema": "json",
            "clrm": True,
            "supported_color_modes": ["color_temp"],
            "brightness": True,
            "min_mirs": self.MIN_MIREDS,
            "max_mirs": self.MAX_MIREDS,
        }

    def discovery_topics(self) -> dict[str, Any]:
        return {"stat_t": f"{self.base}/state", "cmd_t": f"{self.base}/command"}

    def report(self, now: float) -> list[Publish]:
        return [self._light_state()]

    def _light_state(self) -> Publish:
        # light_json_schema.cpp dump_json (@0099fcc): color_mode, state, brightness, color (always made), color_temp
        assert self.light is not None
        end = self.light.target()
        state: dict[str, Any] = {
            "color_mode": "color_temp",
            "state": "ON" if end.on else "OFF",
            "brightness": round(end.level / 100 * 255),
            "color": {},
            "color_temp": int(self.mired),
        }
        return Publish(f"{self.base}/state", json_payload(state), retain=True)

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        cmd = parse_json(payload)
        if not isinstance(cmd, dict) or not self.accept():
            return []
        assert self.light is not None
        current = self.light.target()
        change: dict[str, Any] = {}
        word = cmd.get("state")
        if isinstance(word, str) and word.upper() in ("ON", "OFF", "TOGGLE"):
            change["on"] = not current.on if word.upper() == "TOGGLE" else word.upper() == "ON"
        brightness = to_uint8(cmd.get("brightness"))
        if brightness == 0:  # light_call.cpp validate_: off, and the level reset to full
            change.update(on=False, level=100.0)
        elif brightness is not None:
            change.setdefault("on", current.on)
            change["level"] = brightness / 255 * 100
        mired = to_uint8(cmd.get("color_temp"), 65535)
        if mired is not None:
            self.mired = min(self.MAX_MIREDS, max(self.MIN_MIREDS, float(mired)))
            change["color_temp"] = mired_to_kelvin(self.mired)
        seconds = to_uint8(cmd.get("transition"), 65535)
        transition = self.DEFAULT_TRANSITION if seconds is None else float(seconds)
        self.light.set(now, transition=transition, **change)
        return [self._light_state()]

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {"mired": int(self.mired)}


class EsphomeThermostat(EsphomeProfiled):
    """``platform: thermostat`` with ``heat_action`` and ``idle_action`` only, ``visual:`` 10–30 °C, step 0.5."""

    MODES: ClassVar[tuple[str, ...]] = ("off", "heat")
    """``ThermostatClimate::traits``: OFF always, HEAT with a heat action (no auto_mode: no AUTO)."""
    VISUAL_MIN, VISUAL_MAX, STEP = 10.0, 30.0, 0.5
    kinds: ClassVar[tuple[str, ...]] = ("climate",)
    two_point: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.warnings = 0
        """Commands the node dropped with a warning (ESP_LOGW), and the last one's text."""
        self.last_warning: str | None = None
        assert self.climate is not None
        if self.climate.mode not in self.MODES:
            self.climate.mode = self.MODES[-1]
        self.climate.target = self._clamp(self.climate.target)

    def _clamp(self, value: float) -> float:
        return min(self.VISUAL_MAX, max(self.VISUAL_MIN, value))

    def discovery_keys(self) -> dict[str, Any]:
        # mqtt_climate.cpp send_discovery, in its order (the sorted modes list: auto, off, cool, heat, …, heat_cool)
        order = ("auto", "off", "cool", "heat", "fan_only", "dry", "heat_cool")
        keys: dict[str, Any] = {
            "curr_temp_t": f"{self.base}/current_temperature/state",
            "mode_cmd_t": f"{self.base}/mode/command",
            "mode_stat_t": f"{self.base}/mode/state",
            "modes": [m for m in order if m in self.MODES],
        }
        for key, item in self.setpoint_topics():
            keys[f"{key}_cmd_t"] = f"{self.base}/{item}/command"
            keys[f"{key}_stat_t"] = f"{self.base}/{item}/state"
        keys.update(
            min_temp=self.VISUAL_MIN,
            max_temp=self.VISUAL_MAX,
            temp_step=self.STEP,
            temp_unit="C",
            min_hum=30.0,
            max_hum=99.0,
            act_t=f"{self.base}/action/state",
        )
        return keys

    def setpoint_topics(self) -> list[tuple[str, str]]:
        return [("temp", "target_temperature")]

    def subscriptions(self) -> list[str]:
        return [f"{self.base}/mode/command"] + [f"{self.base}/{item}/command" for _, item in self.setpoint_topics()]

    def report(self, now: float) -> list[Publish]:
        return self.publish_state()

    def climate_step(self, now: float) -> list[Publish]:
        return self.publish_state()  # the sensor's new value: the thermostat refreshes and publishes it all

    def publish_state(self) -> list[Publish]:
        """``MQTTClimateComponent::publish_state_``: mode, current temperature, setpoint(s), action."""
        assert self.climate is not None
        out = [Publish(f"{self.base}/mode/state", self.climate.mode, retain=True)]
        out.append(Publish(f"{self.base}/current_temperature/state", f"{self.climate.local:.1f}", retain=True))
        for item, value in self.setpoints():
            out.append(Publish(f"{self.base}/{item}/state", f"{value:.1f}", retain=True))
        out.append(Publish(f"{self.base}/action/state", self.action(), retain=True))
        return out

    def setpoints(self) -> list[tuple[str, float]]:
        assert self.climate is not None
        return [("target_temperature", self.climate.target)]

    def action(self) -> str:
        assert self.climate is not None
        return self.climate.action

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        item = topic[len(self.base) + 1 :].removesuffix("/command")
        text = payload.decode("utf-8", errors="replace")
        if item == "mode":
            if not self.accept():
                return []
            self.set_mode(text)
            return self.publish_state()  # ThermostatClimate::control ends in refresh(): publish_state()
        value = parse_number(text)
        if value is None:
            self.warn(f"Can't convert '{text}' to number!")  # mqtt_climate.cpp: nothing is set or published
            return []
        if not self.accept():
            return []
        self.set_setpoint(item, value)
        return self.publish_state()

    def set_mode(self, text: str) -> None:
        assert self.climate is not None
        word = text.strip().lower()
        if word not in CLIMATE_MODES:
            self.warn(f"Unrecognized mode {text}")  # ClimateCall::set_mode(const std::string &)
        elif word not in self.MODES:
            self.warn(f"Mode {word} is not supported by this device!")  # ClimateCall::validate_
        else:
            self.climate.mode = word

    def set_setpoint(self, item: str, value: float) -> None:
        assert self.climate is not None
        self.climate.target = self._clamp(value)  # validate_target_temperature: the visual range

    def warn(self, message: str) -> None:
        self.warnings += 1
        self.last_warning = message

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {"warnings": self.warnings, "last_warning": self.last_warning}


class EsphomeHeatCool(EsphomeThermostat):
    """``platform: thermostat`` with ``heat_action`` and ``cool_action``: two setpoints (``supports_two_points``),
    modes off/cool/heat/heat_cool (``heat_cool_mode_available``), ``set_point_minimum_differential`` 0.5 °C.

    The simulated room drifts towards the low (heating) setpoint; the action says cooling above the high one."""

    MODES = ("off", "cool", "heat", "heat_cool")
    DIFFERENTIAL = 0.5
    two_point = True
    GAP = 2.0
    """Where the high setpoint starts above the low one."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.climate is not None
        self.high = self._clamp(self.climate.target + self.GAP)

    def setpoint_topics(self) -> list[tuple[str, str]]:
        return [("temp_lo", "target_temperature_low"), ("temp_hi", "target_temperature_high")]

    def setpoints(self) -> list[tuple[str, float]]:
        assert self.climate is not None
        return [("target_temperature_low", self.climate.target), ("target_temperature_high", self.high)]

    def set_setpoint(self, item: str, value: float) -> None:
        # validate_target_temperature_low / _high
        assert self.climate is not None
        gap = self.DIFFERENTIAL
        if item == "target_temperature_low":
            low = min(max(value, self.VISUAL_MIN), self.VISUAL_MAX - gap)
            self.high = max(self.high, low + gap)
            self.climate.target = low
        else:
            high = max(min(value, self.VISUAL_MAX), self.VISUAL_MIN + gap)
            self.climate.target = min(self.climate.target, high - gap)
            self.high = high

    def action(self) -> str:
        assert self.climate is not None
        c = self.climate
        if c.mode == "off":
            return "off"
        if c.mode in ("heat", "heat_cool") and c.local < c.target - 0.05:
            return "heating"
        if c.mode in ("cool", "heat_cool") and c.local > self.high + 0.05:
            return "cooling"
        return "idle"

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {**super().snapshot_extra(now), "target_high": self.high}
