"""Home Assistant's own entities (``bridge: homeassistant_api``): any light, climate, switch behind HA.

Pure, as the MQTT adapters: it reads and writes the pseudo-topics of :mod:`ambience.infra.hass`,
which carries them over HA's websocket API.

State: ``hass:state/<entity_id>``, the entity's state as HA keeps it (``{"state", "attributes", "unit"}``).
``unavailable`` (the entity's integration lost it; or HA has no such entity) is offline; ``unknown``
says nothing. ``hass:connection`` ``offline``: the websocket to HA is lost, every entity is offline.

Light (homeassistant/components/light)
    ``light.turn_on`` with ``brightness`` 1–255, ``color_temp_kelvin`` (within the entity's
    ``min_color_temp_kelvin``–``max_color_temp_kelvin``) or ``rgb_color``, and ``transition`` in seconds
    (HA's ``VALID_TRANSITION``: 0–6553); ``light.turn_off`` with ``transition``. HA drops what an entity
    does not support (``filter_turn_on_params``). Reported: ``state`` on/off, ``brightness`` 0–255,
    ``color_temp_kelvin``, ``rgb_color`` (else ``hs_color``/``xy_color``). ``supported_color_modes`` tells
    whether it dims (``onoff`` alone: compared on/off only) and has a colour temperature.
Climate (homeassistant/components/climate)
    ``climate.set_temperature`` with ``temperature``, rounded to the entity's ``target_temp_step`` and
    clamped to ``min_temp``–``max_temp`` (HA refuses a value outside them: ``temp_out_of_range``), in HA's
    temperature unit; ``climate.set_hvac_mode`` only with a mode the entity's ``hvac_modes`` lists
    (HA's ``_valid_mode_or_raise`` refuses any other, so it is not sent and the room's status says so).
    Reported: the state is the hvac mode, ``temperature`` the setpoint, ``current_temperature``.
Switch: ``switch.turn_on``/``turn_off`` (also an ``input_boolean``, or a ``media_player`` switched on and
    off); state on/off. No device-side timer: a heater on it relies on ambience.
Sensor: a ``sensor`` entity's numeric state in its ``unit_of_measurement`` (°F converted); a
    ``device_class: humidity`` one is a humidity.

The entity's attributes are its capabilities (:class:`~ambience.devices.capabilities.Learns`): they
come with every state, so the manager's connect-time resend waits for the first one (``Announces``, on
the state topic itself).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from ambience.config.devices import HomeAssistantApiDevice
from ambience.devices.base import (
    HUMIDITY,
    SETPOINT,
    Availability,
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
    json_payload,
    number,
    pct_to_scale,
    scale_to_pct,
    step_temperature,
)
from ambience.devices.capabilities import UNKNOWN, Capabilities, CapabilityKind, Learner
from ambience.devices.codec import (
    celsius,
    check_kind,
    clamp_transition,
    color_to_hex,
    json_of,
    native_max,
    no_reading,
    wrong_kind,
)
from ambience.infra.hass import CALL_TOPIC, CONNECTION_TOPIC, state_topic
from ambience.model.state import ClimateState, Light, Switch

DEFAULT_MAX_TRANSITION = 60.0
"""HA hands the transition to the integration behind the entity; a minute is safe for most."""
HARD_MAX_TRANSITION = 6553.0
"""HA's own limit (light/__init__.py ``VALID_TRANSITION``)."""
_DIMMING = {"brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww", "white"}
_COLOURS = {"hs", "xy", "rgb", "rgbw", "rgbww"}
_FEATURE_TARGET_TEMPERATURE = 1
_FEATURE_TARGET_RANGE = 2
_SWITCH_SERVICES = {"input_boolean": "input_boolean", "media_player": "media_player"}


def hass_capabilities(kind: str, attributes: dict[str, Any], unit: str | None = None) -> Capabilities:
    """What an entity can do, from its state's attributes."""
    caps = Capabilities(source="home assistant", kind=cast(CapabilityKind, kind))
    if kind == "light":
        color_modes = {m for m in attributes.get("supported_color_modes") or [] if isinstance(m, str)}
        lo, hi = number(attributes.get("min_color_temp_kelvin")), number(attributes.get("max_color_temp_kelvin"))
        ct = None
        if "color_temp" in color_modes and lo and hi and 0 < lo <= hi:
            ct = (round(1_000_000 / hi), round(1_000_000 / lo))  # mired: the warmest is the larger number
        return replace(
            caps,
            brightness=bool(color_modes & _DIMMING) if color_modes else None,
            color_temp=ct,
            color=bool(color_modes & _COLOURS),
        )
    if kind == "climate":
        modes = attributes.get("hvac_modes")
        lo, hi, step = (
            number(attributes.get("min_temp")),
            number(attributes.get("max_temp")),
            number(attributes.get("target_temp_step")),
        )
        features = number(attributes.get("supported_features")) or 0
        two = bool(int(features) & _FEATURE_TARGET_RANGE) and not int(features) & _FEATURE_TARGET_TEMPERATURE
        return replace(
            caps,
            modes=tuple(m for m in modes if isinstance(m, str)) if isinstance(modes, list) else None,
            setpoint="temperature",
            setpoint_range=(lo, hi) if lo is not None and hi is not None and lo <= hi else None,
            setpoint_step=step if step is not None and step > 0 else None,
            two_point=two,
            temperature_unit=unit,
        )
    if kind == "sensor":
        measured = attributes.get("unit_of_measurement")
        humidity = attributes.get("device_class") == "humidity" or measured == "%"
        return replace(caps, temperature_unit=measured if isinstance(measured, str) else None, humidity=humidity)
    return replace(caps, brightness=False, color=False)


class HomeAssistantApiAdapter(Learner):
    announcement_retained = True
    """The state comes at every connect (``subscribe_entities``): the first resend waits for it."""

    def __init__(self, device: HomeAssistantApiDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.entity_id = device.entity_id
        self.domain = device.domain
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        self.topic = state_topic(device.entity_id)
        self.announcement_topics = [self.topic]
        self.configured = Capabilities(setpoint_step=device.temperature_step) if device.temperature_step else UNKNOWN
        self.capabilities = self.configured
        self.unit = "°C"
        """Home Assistant's temperature unit: setpoints are sent and read in it."""
        self._last: Light | None = None
        self.kelvin: tuple[float, float] | None = None
        """The light's ``min_color_temp_kelvin``–``max_color_temp_kelvin``, once its state has said."""

    def subscriptions(self) -> list[str]:
        return [self.topic, CONNECTION_TOPIC]

    def decode_announcement(self, topic: str, payload: bytes) -> Capabilities | None:
        data = json_of(payload)
        if topic != self.topic or not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            return None
        if isinstance(data.get("unit"), str):
            self.unit = data["unit"]
        attributes = data["attributes"]
        lo, hi = number(attributes.get("min_color_temp_kelvin")), number(attributes.get("max_color_temp_kelvin"))
        self.kelvin = (lo, hi) if lo and hi and 0 < lo <= hi else None
        return hass_capabilities(self.kind, attributes, self.unit)

    # ---- commands ----------------------------------------------------------------------------

    def _call(self, domain: str, service: str, **data: Any) -> Message:
        body = {"domain": domain, "service": service, "service_data": data, "target": {"entity_id": self.entity_id}}
        return Message(CALL_TOPIC, json_payload(body))

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = round(clamp_transition(transition, self.max_transition), 1)
        timing = {"transition": t} if t else {}
        if not light.on:
            return [self._call("light", "turn_off", **timing)]
        data: dict[str, Any] = {"brightness": pct_to_scale(light.brightness, 255)}
        caps = self.capabilities
        if light.color and caps.color is not False:
            data["rgb_color"] = list(hex_to_rgb(light.color))
        elif light.color_temp:  # HA leaves it out for a light without one
            lo, hi = self.kelvin or (1_000_000 / 500, 1_000_000 / 153)  # the entity's own range
            data["color_temp_kelvin"] = round(min(max(light.color_temp, lo), hi))
        return [self._call("light", "turn_on", **data, **timing)]

    def switch(self, switch: Switch) -> list[Message]:
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        domain = _SWITCH_SERVICES.get(self.domain, "switch")
        return [self._call(domain, "turn_on" if switch.on else "turn_off")]

    def auto_off_range(self) -> tuple[float, float] | None:
        return None  # HA has no standard device-side timer a service call arms: relies on ambience

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        out: list[Message] = []
        planned = self.expected(climate)
        if planned.target is not None:
            out.append(self._call("climate", "set_temperature", temperature=self._to_ha(planned.target)))
        if planned.mode:
            out.append(self._call("climate", "set_hvac_mode", hvac_mode=planned.mode))
        return out

    def expected(self, command: ClimateState) -> ClimateState:
        """The setpoint rounded to the entity's step and kept in its range; a mode it lacks left out."""
        caps = self.capabilities
        target = command.target
        if target is not None:
            lo, hi = caps.setpoint_range or (SETPOINT.lo, SETPOINT.hi)
            if self.unit.lstrip("°").upper() == "F":  # the range is in °F: compared in °C
                lo, hi = _celsius(lo), _celsius(hi)
            target = step_temperature(min(max(target, lo), hi), caps.setpoint_step or 0.5)
            if caps.two_point:
                target = None
        mode = command.mode if command.mode and not self._lacks(command.mode) else None
        return replace(command, target=target, mode=mode)

    def _lacks(self, mode: str) -> bool:
        modes = self.capabilities.modes
        return modes is not None and mode not in modes

    def refusals(self, command: ClimateState) -> list[str]:
        out = []
        if command.mode and self._lacks(command.mode):
            out.append(
                f"{self.entity_id}: mode {command.mode!r} is not sent, its hvac_modes are "
                f"{', '.join(self.capabilities.modes or ()) or 'none'}"
            )
        if command.target is not None and self.capabilities.two_point:
            out.append(f"{self.entity_id}: has a low/high range, not one setpoint; the setpoint is not sent")
        return out

    def will_send(self) -> list[str]:
        if self.kind == "climate":
            caps = self.capabilities
            lines = ["climate.set_temperature (temperature), climate.set_hvac_mode with a mode of its hvac_modes"]
            if caps.setpoint_range:
                lines.append(
                    f"setpoint {caps.setpoint_range[0]:g}–{caps.setpoint_range[1]:g} {self.unit} in steps of {caps.setpoint_step or 0.5:g}"
                )
            return lines
        if self.kind == "light":
            return ["light.turn_on (brightness, color_temp_kelvin or rgb_color, transition), light.turn_off"]
        if self.kind == "switch":
            return [f"{_SWITCH_SERVICES.get(self.domain, 'switch')}.turn_on / turn_off"]
        return ["nothing: a sensor is only listened to"]

    def query(self) -> list[Message]:
        return []  # the state comes at every connect and every change

    def _to_ha(self, celsius_value: float) -> float:
        if self.unit.lstrip("°").upper() == "F":
            return round(celsius_value * 9 / 5 + 32, 1)
        return celsius_value

    # ---- states ------------------------------------------------------------------------------

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == CONNECTION_TOPIC:
            return [Availability(False)] if payload.strip() == b"offline" else []
        if topic != self.topic:
            return []
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        state = data.get("state")
        if state == "unavailable":
            return [Availability(False)]
        if isinstance(data.get("unit"), str):
            self.unit = data["unit"]
        given = data.get("attributes")
        attributes: dict[str, Any] = given if isinstance(given, dict) else {}
        if no_reading(state) or state == "unknown":
            return reading.out(Availability(True))
        report = {
            "light": self._light,
            "climate": self._climate,
            "switch": self._switch,
            "sensor": self._sensor,
        }[self.kind](reading, state, attributes)
        return reading.out(Availability(True), report)

    def _light(self, reading: Reading, state: Any, attributes: dict[str, Any]) -> Report | None:
        on = reading.switch("state", state)
        if on is None:
            return None
        if not on:
            self._last = Light(0.0)
            return LightReport(self._last)
        raw = attributes.get("brightness")
        brightness = 100.0 if raw is None else reading.number("brightness", raw, brightness_bounds(255))
        if brightness is None:
            return None if self._last is None else LightReport(self._last)
        pct = scale_to_pct(brightness, 255) if raw is not None else 100.0
        pct = max(pct, 0.1)  # on is never 0 %
        kelvin = attributes.get("color_temp_kelvin")
        color_temp = reading.color_temp("color_temp_kelvin", kelvin) if kelvin is not None else None
        color = None
        if attributes.get("color_mode") not in (None, "color_temp", "brightness", "onoff", "white"):
            for key, prefer in (("rgb_color", "rgb"), ("hs_color", "hs"), ("xy_color", "xy")):
                value = attributes.get(key)
                if isinstance(value, list):
                    color = color_to_hex(_color_dict(prefer, value), reading, prefer)
                    if color:
                        break
        self._last = Light(pct, None if color else color_temp, color)
        return LightReport(self._last)

    def _climate(self, reading: Reading, state: Any, attributes: dict[str, Any]) -> Report | None:
        mode = reading.mode("state", state)
        fahrenheit = self.unit.lstrip("°").upper() == "F"
        target = attributes.get("temperature")
        if fahrenheit and number(target) is not None:
            target = _celsius(number(target) or 0.0)
        target_c = None if target is None else reading.number("temperature", target, SETPOINT)
        current = celsius(reading, "current_temperature", attributes.get("current_temperature"), self.unit)
        return ClimateReport(target_c, mode, current)

    def _switch(self, reading: Reading, state: Any, attributes: dict[str, Any]) -> Report | None:
        if self.domain == "media_player":  # playing, paused, idle, on… are all on
            return SwitchReport(state not in ("off", "standby"))
        on = reading.switch("state", state)
        return None if on is None else SwitchReport(on)

    def _sensor(self, reading: Reading, state: Any, attributes: dict[str, Any]) -> Report | None:
        unit = attributes.get("unit_of_measurement")
        if attributes.get("device_class") == "humidity" or unit == "%":
            humidity = reading.number("state", state, HUMIDITY)
            return None if humidity is None else SensorReport(None, humidity)
        temperature = celsius(reading, "state", state, unit if isinstance(unit, str) else None)
        return None if temperature is None else SensorReport(temperature)


def _celsius(fahrenheit: float) -> float:
    return round((fahrenheit - 32) * 5 / 9, 2)


def _color_dict(kind: str, value: list) -> dict[str, Any]:
    if kind == "rgb" and len(value) >= 3:
        return {"r": value[0], "g": value[1], "b": value[2]}
    if kind == "hs" and len(value) >= 2:
        return {"hue": value[0], "saturation": value[1]}
    if kind == "xy" and len(value) >= 2:
        return {"x": value[0], "y": value[1]}
    return {}


__all__ = ["HomeAssistantApiAdapter", "hass_capabilities"]
