"""ESPHome nodes in MQTT mode: a ``light`` or a ``climate`` entity.

``device`` is the node's ``topic_prefix`` (by default its name), ``object_id`` the entity's.

Light
    ``<prefix>/light/<object_id>/command``  HA JSON schema: ``{"state":"ON","brightness":0-255,
    "color_temp":<mired>,"transition":<whole seconds>}``, or ``"color":{"r","g","b"}`` (no xy/hs)
    instead of ``color_temp`` for a colour. ESPHome reads ``transition`` as an unsigned integer, so it
    is rounded to whole seconds.
    ``<prefix>/light/<object_id>/state``    the same JSON plus ``color_mode`` (retained).
Climate
    ``<prefix>/climate/<object_id>/target_temperature/command``  plain number, rounded to ``temperature_step``
    ``<prefix>/climate/<object_id>/mode/command``                ``heat``/``auto``/``off``
    states on ``…/target_temperature/state``, ``…/mode/state``, ``…/current_temperature/state``.
    A two-point (heat+cool) climate subscribes only ``…/target_temperature_low/command`` and
    ``…/target_temperature_high/command`` (esphome/components/mqtt/mqtt_climate.cpp ``setup()``,
    ``get_supports_two_point_target_temperature``) and publishes ``…/target_temperature_low/state`` and
    ``…_high/state``: ambience's target is the low (heating) setpoint, the high one is set ``two_point_gap``
    above it, and the low state confirms.
    A mode the node does not list is never sent (ESPHome drops it with a warning: a heat-only
    thermostat has no ``auto``, esphome/components/thermostat/thermostat_climate.cpp): :meth:`~EsphomeAdapter.refuses`
    says so in one line, and the setpoint is still sent.
Switch (``kind: switch``, a relay or plug running ESPHome)
    ``<prefix>/switch/<object_id>/command``  ``ON`` / ``OFF`` (esphome/components/mqtt/mqtt_switch.cpp ``setup()``
    :18-36 @0b6826d: ``parse_on_off``, also ``TOGGLE``); state ``…/state`` ``ON``/``OFF`` (``publish_state`` :55-58),
    retained. ESPHome has no standard auto-off timer a command can arm (a ``switch`` has ``restore_mode``,
    nothing timed), so :meth:`~EsphomeAdapter.auto_off_range` is ``None``: a heater on it relies on ambience.
Sensor (``kind: sensor``)
    ``<prefix>/sensor/<object_id>/state``  the value as text with the sensor's accuracy (``21.3``), ``None`` or
    ``nan`` while it has none (mqtt_sensor.cpp ``publish_state``). Its unit is in its discovery config
    (``unit_of_measurement``, ``send_discovery``): ``°F`` is converted to °C; a ``humidity`` sensor (device class,
    or ``%``) is read as humidity. Until the config is heard the value is taken as °C.
Capabilities: the node's Home Assistant discovery config ``<discovery_prefix>/<component>/<node>/<object_id>/config``
(``send_discovery`` in mqtt_light.cpp / mqtt_climate.cpp; keys abbreviated or long, mqtt_const.h):
``supported_color_modes``, ``min_mireds``/``max_mireds``, ``modes``, ``min_temp``/``max_temp``, ``temp_step``,
``temperature_low_command_topic``. Read by :func:`esphome_capabilities`; configured values win.
Availability ``<prefix>/status``: ``online``/``offline`` (retained birth and last will).

ESPHome states are retained, so :meth:`EsphomeAdapter.query` is empty. ESPHome runs transitions
in firmware, so long fades are fine: ``max_transition`` defaults to 600 s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ambience.config.devices import EsphomeDevice
from ambience.devices.base import (
    HUMIDITY,
    Dropped,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    json_payload,
    number,
    step_temperature,
)
from ambience.devices.capabilities import UNKNOWN, Capabilities, Learner
from ambience.devices.codec import (
    JsonLightState,
    PlainClimate,
    celsius,
    check_kind,
    clamp_transition,
    json_light_command,
    json_of,
    native_max,
    no_reading,
    online_payload,
    plain,
    wrong_kind,
)
from ambience.model.state import ClimateState, Light, Switch

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 65535.0
_BRIGHT_MODES = {"brightness", "white", "color_temp", "rgb", "rgbw", "rgbww", "hs", "xy"}
_COLOR_MODES = {"rgb", "rgbw", "rgbww", "hs", "xy"}
_LONG = {  # Home Assistant's abbreviations (homeassistant/components/mqtt/abbreviations.py) ESPHome may use
    "cmd_t": "command_topic",
    "stat_t": "state_topic",
    "mode_cmd_t": "mode_command_topic",
    "temp_cmd_t": "temperature_command_topic",
    "temp_lo_cmd_t": "temperature_low_command_topic",
    "temp_hi_cmd_t": "temperature_high_command_topic",
    "min_mirs": "min_mireds",
    "max_mirs": "max_mireds",
    "avty_t": "availability_topic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "sup_clrm": "supported_color_modes",
    "dev": "device",
    "unit_of_meas": "unit_of_measurement",
    "dev_cla": "device_class",
}


def expanded_discovery(config: dict[str, Any]) -> dict[str, Any]:
    """A discovery config with long key names and ``~`` (the base topic) written out in its topics."""
    base = config.get("~")
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = _LONG.get(key, key)
        if isinstance(base, str) and isinstance(value, str) and name.endswith("_topic"):
            value = base + value[1:] if value.startswith("~") else value[:-1] + base if value.endswith("~") else value
        out[name] = value
    return out


def esphome_capabilities(config: dict[str, Any], component: str | None = None) -> Capabilities:
    """What an ESPHome light, climate, switch or sensor can do, from its Home Assistant discovery config
    (``component``: the discovery topic's, when known)."""
    c = expanded_discovery(config)
    device = c.get("device")
    model = device.get("model", device.get("mdl")) if isinstance(device, dict) else None
    caps = Capabilities(source="esphome discovery", vendor="ESPHome", model=model if isinstance(model, str) else None)
    if isinstance(c.get("modes"), list):  # a climate
        lo, hi, step = number(c.get("min_temp")), number(c.get("max_temp")), number(c.get("temp_step"))
        two_point = "temperature_low_command_topic" in c
        return replace(
            caps,
            kind="climate",
            modes=tuple(m for m in c["modes"] if isinstance(m, str)),
            two_point=two_point,
            setpoint="target_temperature_low" if two_point else "target_temperature",
            setpoint_range=(lo, hi) if lo is not None and hi is not None and lo <= hi else None,
            setpoint_step=step if step is not None and step > 0 else None,
        )
    if component == "sensor":
        unit = c.get("unit_of_measurement")
        humidity = c.get("device_class") == "humidity" or unit == "%"
        return replace(caps, kind="sensor", temperature_unit=unit if isinstance(unit, str) else None, humidity=humidity)
    if component == "switch":
        return replace(caps, kind="switch", brightness=False, color=False)
    color_modes = c.get("supported_color_modes")
    if isinstance(color_modes, list):
        found = {m for m in color_modes if isinstance(m, str)}
        lo, hi = number(c.get("min_mireds")), number(c.get("max_mireds"))
        ct = (round(lo), round(hi)) if "color_temp" in found and lo and hi and 0 < lo <= hi else None
        return replace(
            caps, kind="light", brightness=bool(found & _BRIGHT_MODES), color_temp=ct, color=bool(found & _COLOR_MODES)
        )
    return caps


class EsphomeAdapter(Learner):
    def __init__(self, device: EsphomeDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        prefix = device.device.rstrip("/")
        self.status_topic = f"{prefix}/status"
        self.base = f"{prefix}/{kind}/{device.object_id}"
        self.announcement_topics = [f"{device.discovery_prefix.rstrip('/')}/{kind}/+/{device.object_id}/config"]
        """The node's discovery config (the node name is not known here: the config's topics say whose it is)."""
        self.configured = Capabilities(two_point=device.two_point) if device.two_point is not None else UNKNOWN
        self.capabilities = self.configured
        self._state = JsonLightState(255)
        self._single = PlainClimate(
            f"{self.base}/target_temperature/state", f"{self.base}/mode/state", f"{self.base}/current_temperature/state"
        )
        self._two = PlainClimate(
            f"{self.base}/target_temperature_low/state",
            f"{self.base}/mode/state",
            f"{self.base}/current_temperature/state",
        )

    @property
    def two_point(self) -> bool:
        return bool(self.capabilities.two_point)

    def subscriptions(self) -> list[str]:
        if self.kind != "climate":
            return [f"{self.base}/state", self.status_topic]
        return [
            f"{self.base}/target_temperature/state",
            f"{self.base}/target_temperature_low/state",
            f"{self.base}/mode/state",
            f"{self.base}/current_temperature/state",
            self.status_topic,
        ]

    def decode_announcement(self, topic: str, payload: bytes) -> Capabilities | None:
        """This entity's capabilities from a discovery config; ``None`` if the config is another entity's."""
        data = json_of(payload)
        if not isinstance(data, dict) or not topic.endswith(f"/{self.device.object_id}/config"):
            return None
        c = expanded_discovery(data)
        key, mine = {
            "climate": ("mode_command_topic", f"{self.base}/mode/command"),
            "sensor": ("state_topic", f"{self.base}/state"),
        }.get(self.kind, ("command_topic", f"{self.base}/command"))
        if c.get(key) != mine:
            return None
        return esphome_capabilities(data, self.kind)

    def expected(self, command: ClimateState) -> ClimateState:
        """A mode the node does not list is not sent, so its report is not compared with it."""
        return replace(command, mode=None) if self.refuses(command) else command

    def refusals(self, command: ClimateState) -> list[str]:
        refused = self.refuses(command)
        return [refused] if refused else []

    def refuses(self, climate: ClimateState) -> str | None:
        """One line saying what of ``climate`` this device cannot take (and so is not sent); ``None``: all of it."""
        modes = self.capabilities.modes
        if climate.mode and modes is not None and climate.mode not in modes:
            return (
                f"esphome thermostat {self.device.device}/{self.device.object_id}: mode {climate.mode!r} is not "
                f"sent, the node's modes are {', '.join(modes) or 'none'}"
            )
        return None

    def switch(self, switch: Switch) -> list[Message]:
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        return [Message(f"{self.base}/command", "ON" if switch.on else "OFF")]

    def auto_off_range(self) -> tuple[float, float] | None:
        return None  # no standard device-side timer (see the module's docstring): relies on ambience

    def will_send(self) -> list[str]:
        if self.kind == "switch":
            return ["state: ON / OFF on …/command", "no device-side auto-off in ESPHome's switch: relies on ambience"]
        if self.kind == "sensor":
            unit = self.capabilities.temperature_unit
            return ["nothing: a sensor is only listened to" + (f" (reports {unit})" if unit else "")]
        return []

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = clamp_transition(transition, self.max_transition)
        lo, hi = self.capabilities.color_temp or (153, 500)  # the node's own range (min_mireds/max_mireds)
        data = json_light_command(light, t, scale=255, mired_lo=lo, mired_hi=hi, integer_transition=True)
        return [Message(f"{self.base}/command", json_payload(data))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        out: list[Message] = []
        step = self.capabilities.setpoint_step if "temperature_step" not in self.device.model_fields_set else None
        step = step or self.device.temperature_step
        value = None if climate.target is None else step_temperature(climate.target, step)
        if value is not None and self.two_point:
            high = step_temperature(value + self.device.two_point_gap, step) or value
            out.append(Message(f"{self.base}/target_temperature_low/command", str(value)))
            out.append(Message(f"{self.base}/target_temperature_high/command", str(high)))
        elif value is not None:
            out.append(Message(f"{self.base}/target_temperature/command", str(value)))
        if climate.mode and self.refuses(climate) is None:
            out.append(Message(f"{self.base}/mode/command", climate.mode))
        return out

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.status_topic:
            return online_payload(payload)
        if self.kind == "light":
            return self._state.decode(payload) if topic == f"{self.base}/state" else []
        if self.kind in ("switch", "sensor"):
            return self._value(payload) if topic == f"{self.base}/state" else []
        return (self._two if self.two_point else self._single).decode(topic, payload)

    def _value(self, payload: bytes) -> list[Report | Dropped]:
        """A switch's ``ON``/``OFF`` or a sensor's number on ``…/state``."""
        reading = Reading()
        value = plain(payload)
        if self.kind == "switch":
            on = reading.switch("state", value)
            return reading.out(None if on is None else SwitchReport(on))
        caps = self.capabilities
        if caps.humidity:
            humidity = None if no_reading(value) else reading.number("state", value, HUMIDITY)
            return reading.out(None if humidity is None else SensorReport(None, humidity))
        temperature = celsius(reading, "state", value, caps.temperature_unit)
        return reading.out(None if temperature is None else SensorReport(temperature))
