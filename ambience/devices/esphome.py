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
Availability ``<prefix>/status``: ``online``/``offline`` (retained birth and last will).

ESPHome states are retained, so :meth:`EsphomeAdapter.query` is empty. ESPHome runs transitions
in firmware, so long fades are fine: ``max_transition`` defaults to 600 s.
"""

from __future__ import annotations

from ambience.config.devices import EsphomeDevice
from ambience.devices.base import Dropped, Message, Report, json_payload, step_temperature
from ambience.devices.codec import (
    JsonLightState,
    PlainClimate,
    check_kind,
    clamp_transition,
    json_light_command,
    native_max,
    online_payload,
    wrong_kind,
)
from ambience.model.state import ClimateState, Light

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 65535.0


class EsphomeAdapter:
    def __init__(self, device: EsphomeDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        prefix = device.device.rstrip("/")
        self.status_topic = f"{prefix}/status"
        self.base = f"{prefix}/{kind}/{device.object_id}"
        self._state = JsonLightState(255)
        self._climate = PlainClimate(
            f"{self.base}/target_temperature/state", f"{self.base}/mode/state", f"{self.base}/current_temperature/state"
        )

    def subscriptions(self) -> list[str]:
        if self.kind == "light":
            return [f"{self.base}/state", self.status_topic]
        return [
            f"{self.base}/target_temperature/state",
            f"{self.base}/mode/state",
            f"{self.base}/current_temperature/state",
            self.status_topic,
        ]

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = clamp_transition(transition, self.max_transition)
        data = json_light_command(light, t, scale=255, integer_transition=True)
        return [Message(f"{self.base}/command", json_payload(data))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        out: list[Message] = []
        value = None if climate.target is None else step_temperature(climate.target, self.device.temperature_step)
        if value is not None:
            out.append(Message(f"{self.base}/target_temperature/command", str(value)))
        if climate.mode:
            out.append(Message(f"{self.base}/mode/command", climate.mode))
        return out

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.status_topic:
            return online_payload(payload)
        if self.kind == "light":
            return self._state.decode(payload) if topic == f"{self.base}/state" else []
        return self._climate.decode(topic, payload)
