"""Shelly Gen2/Gen3 dimmers (the ``Light`` component) over MQTT RPC. Shelly has no thermostat here.

``device`` is the Shelly's MQTT ``topic_prefix`` (by default its device id), ``component`` the
``Light`` id.

Commands go to ``<prefix>/rpc`` as JSON-RPC frames
    ``{"id":N,"src":"<client_id>","method":"Light.Set","params":{"id":0,"on":true,"brightness":30,
    "transition_duration":30}}`` (off: ``"on":false``; no brightness).
    ``N`` counts up from 1 for each frame this adapter makes. The Shelly answers on ``<src>/rpc``.
    ``transition_duration`` is seconds, 0.5 at least (a smaller value is refused by the device) and
    10800 at most; the light fades from wherever it is. Light.Set has no colour temperature or
    colour: those are ignored.
Query: ``Light.GetStatus`` with ``{"id":<component>}``.

State
    ``<client_id>/rpc``            replies: a ``result`` to a Light.Set confirms what it asked for,
                                   a Light.GetStatus result is the full status; an ``error`` says
                                   nothing. Replies are matched to this adapter's own frame ids.
    ``<prefix>/events/rpc``        ``NotifyStatus``/``NotifyFullStatus``; ``params["light:<id>"]``
                                   holds what changed (``output``, ``brightness``).
    ``<prefix>/status/light:<id>`` the full component status (needs ``status_ntf``).
    ``<prefix>/online``            ``true``/``false``.

Several Shelly adapters may share one ``client_id`` and so one reply topic, with overlapping ids.
Once the Shelly's own ``src`` (its device id) has been seen in an event or a reply, replies from
any other ``src`` are ignored; before that a reply is matched on its id only.
"""

from __future__ import annotations

from typing import Any

from ambience.config.devices import ShellyDevice
from ambience.devices.base import (
    PERCENT,
    Availability,
    Dropped,
    LightReport,
    Message,
    Reading,
    Report,
    json_payload,
    pct_to_scale,
)
from ambience.devices.codec import check_kind, clamp_transition, native_max, seconds, text, wrong_kind
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 10800.0
MIN_TRANSITION = 0.5
PENDING = 64
"""How many unanswered frames are remembered."""


class ShellyAdapter:
    def __init__(self, device: ShellyDevice, kind: str, client_id: str = "ambience"):
        self.device = device
        self.kind = check_kind(kind)
        if kind == "climate":
            raise DeviceError(
                f"shelly device {device.device!r} cannot be a thermostat: the Shelly Light component has no "
                "climate control; use a zigbee2mqtt, homeassistant, esphome or generic device for the thermostat"
            )
        if not client_id or any(c in client_id for c in "#+"):
            raise ValueError(f"client_id {client_id!r} cannot be an MQTT topic level")
        self.client_id = client_id
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        prefix = device.device.rstrip("/")
        self.component = f"light:{device.component}"
        self.rpc_topic = f"{prefix}/rpc"
        self.reply_topic = f"{client_id}/rpc"
        self.events_topic = f"{prefix}/events/rpc"
        self.status_topic = f"{prefix}/status/{self.component}"
        self.online_topic = f"{prefix}/online"
        self._next_id = 1
        self._pending: dict[int, Light | None] = {}
        """Frame id -> the light a Light.Set asked for (``None``: a Light.GetStatus)."""
        self._src: str | None = None
        self._output: bool | None = None
        self._brightness: float | None = None

    def subscriptions(self) -> list[str]:
        return [self.reply_topic, self.events_topic, self.status_topic, self.online_topic]

    def _frame(self, method: str, params: dict[str, Any], asked: Light | None) -> Message:
        frame_id = self._next_id
        self._next_id += 1
        self._pending[frame_id] = asked
        while len(self._pending) > PENDING:
            del self._pending[next(iter(self._pending))]
        frame = {"id": frame_id, "src": self.client_id, "method": method, "params": params}
        return Message(self.rpc_topic, json_payload(frame))

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = max(MIN_TRANSITION, clamp_transition(transition, self.max_transition))
        params: dict[str, Any] = {"id": self.device.component, "on": light.on}
        if light.on:
            params["brightness"] = pct_to_scale(light.brightness, 100)
        params["transition_duration"] = seconds(t)
        asked = Light(float(params["brightness"])) if light.on else Light(0.0)
        return [self._frame("Light.Set", params, asked)]

    def climate(self, climate: ClimateState) -> list[Message]:
        raise wrong_kind(self, "climate")

    def query(self) -> list[Message]:
        return [self._frame("Light.GetStatus", {"id": self.device.component}, None)]

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.online_topic:
            state = text(payload)
            state = state.lower() if state else state
            return [Availability(state == "true")] if state in ("true", "false") else []
        if topic not in (self.reply_topic, self.events_topic, self.status_topic):
            return []
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        if topic == self.status_topic:
            return reading.out(*self._status(data, reading))
        if topic == self.events_topic:
            return reading.out(*self._event(data, reading))
        return reading.out(*self._reply(data, reading))

    def _event(self, data: dict, reading: Reading) -> list[Report]:
        if data.get("method") not in ("NotifyStatus", "NotifyFullStatus"):
            return []
        params = data.get("params")
        if not isinstance(params, dict) or not isinstance(params.get(self.component), dict):
            return []
        if isinstance(data.get("src"), str):
            self._src = data["src"]
        return self._status(params[self.component], reading)

    def _reply(self, data: dict, reading: Reading) -> list[Report]:
        frame_id = data.get("id")
        if isinstance(frame_id, bool) or not isinstance(frame_id, int) or frame_id not in self._pending:
            return []
        src = data.get("src")
        if self._src is not None and isinstance(src, str) and src != self._src:
            return []
        if "error" in data or "result" not in data:
            self._pending.pop(frame_id)
            return []
        asked = self._pending.pop(frame_id)
        if isinstance(src, str):
            self._src = src
        if asked is None:
            result = data["result"]
            return self._status(result, reading) if isinstance(result, dict) else []
        self._output = asked.on
        if asked.on:
            self._brightness = asked.brightness
        return [LightReport(asked)]

    def _status(self, status: dict, reading: Reading) -> list[Report]:
        said = False
        output = status.get("output")
        if isinstance(output, bool):
            self._output, said = output, True
        elif output is not None:
            reading.drop("output", output, "output is true or false")
        brightness = reading.number("brightness", status.get("brightness"), PERCENT)
        if brightness is not None:
            self._brightness, said = brightness, True
        if not said or self._output is None:
            return []
        if not self._output:
            return [LightReport(Light(0.0))]
        if self._brightness is None:
            return []
        return [LightReport(Light(self._brightness))]
