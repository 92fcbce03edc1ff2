"""Zigbee2MQTT lights, groups and thermostats (TRVs).

Topics (``<base>`` is the device's ``base_topic``, ``<fn>`` its friendly name, the ``device`` field)
    ``<base>/<fn>/set``           commands, JSON
    ``<base>/<fn>/get``           read requests; the answer comes on the state topic
    ``<base>/<fn>``               state, always JSON and not retained by default
    ``<base>/<fn>/availability``  Z2M 2.x ``{"state":"online"}``, 1.x ``online`` (both are understood)

Light: ``{"state":"ON","brightness":0-254,"color_temp":<mired>,"transition":<s>}``, with
``"color":{"hex":"#rrggbb"}`` instead of ``color_temp`` when the light has a colour; off is
``{"state":"OFF","transition":<s>}``. ``transition`` is always sent (``0`` too), so a per-device
default ``transition`` option in Z2M does not stretch an instant change. Tenths of a second are
kept, as Z2M converts the value to ZCL tenths.

Thermostat: ``{"<setpoint>":21.5,"system_mode":"heat"}``, the setpoint key being the device's
``setpoint`` (``occupied_heating_setpoint`` or ``current_heating_setpoint``) and the value rounded
to ``temperature_step``.

``max_transition``: ZCL transition times are tenths of a second in a uint16, so 6553 s at most,
but many bulbs misbehave on very long fades (colour temperature especially); the default is 600 s
and longer fades are sent as steps.
"""

from __future__ import annotations

from typing import Any

from ambience.config.devices import Zigbee2MqttDevice
from ambience.devices.base import (
    SETPOINT,
    TEMPERATURE,
    ClimateReport,
    Dropped,
    Message,
    Reading,
    Report,
    json_payload,
    step_temperature,
)
from ambience.devices.codec import (
    JsonLightState,
    check_kind,
    clamp_transition,
    json_light_command,
    json_of,
    native_max,
    online_payload,
    wrong_kind,
)
from ambience.model.state import ClimateState, Light

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 6553.0
BRIGHTNESS_MAX = 254
SETPOINT_KEYS = ("occupied_heating_setpoint", "current_heating_setpoint")


class Zigbee2MqttAdapter:
    def __init__(self, device: Zigbee2MqttDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        self.topic = f"{device.base_topic.rstrip('/')}/{device.device}"
        self.availability_topic = f"{self.topic}/availability"
        self._state = JsonLightState(BRIGHTNESS_MAX)

    def subscriptions(self) -> list[str]:
        return [self.topic, self.availability_topic]

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        d = self.device
        t = clamp_transition(transition, self.max_transition)
        data = json_light_command(
            light, t, scale=BRIGHTNESS_MAX, mired_lo=d.mired_min, mired_hi=d.mired_max, color="hex"
        )
        return [Message(f"{self.topic}/set", json_payload(data))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        d = self.device
        data: dict[str, Any] = {}
        target = None if climate.target is None else step_temperature(climate.target, d.temperature_step)
        if target is not None:
            data[d.setpoint] = target
        if climate.mode:
            data["system_mode"] = climate.mode
        return [Message(f"{self.topic}/set", json_payload(data))] if data else []

    def query(self) -> list[Message]:
        if self.kind == "light":
            # ``state`` reads genOnOff only; ``brightness`` reads the level (Z2M uses each key's converter).
            data = {"state": "", "brightness": ""}
        else:
            data = {self.device.setpoint: "", "system_mode": "", "local_temperature": ""}
        return [Message(f"{self.topic}/get", json_payload(data))]

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.availability_topic:
            return self._availability(payload)
        if topic != self.topic:
            return []
        if self.kind == "light":
            return self._state.decode(payload)
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        # the configured setpoint key, else the other one if the device says that instead
        keys = (self.device.setpoint,) + tuple(k for k in SETPOINT_KEYS if k != self.device.setpoint)
        target = next((v for v in (reading.number(k, data.get(k), SETPOINT) for k in keys) if v is not None), None)
        mode = reading.mode("system_mode", data.get("system_mode"))
        current = reading.number("local_temperature", data.get("local_temperature"), TEMPERATURE)
        if target is None and mode is None and current is None:
            return reading.out()
        return reading.out(ClimateReport(target, mode, current))

    @staticmethod
    def _availability(payload: bytes) -> list[Report | Dropped]:
        data = json_of(payload)
        if isinstance(data, dict):
            state = data.get("state")
            return online_payload(state) if isinstance(state, str) else []
        if isinstance(data, str):
            return online_payload(data)
        return online_payload(payload)
