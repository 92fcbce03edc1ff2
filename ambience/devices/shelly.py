"""Shelly Gen2/Gen3 dimmers (the ``Light`` component) and plugs/relays (``Switch``) over MQTT RPC. No thermostat.

``device`` is the Shelly's MQTT ``topic_prefix`` (by default its device id), ``component`` the
``Light`` id.

Commands go to ``<prefix>/rpc`` as JSON-RPC frames
    ``{"id":N,"src":"<client_id>","method":"Light.Set","params":{"id":0,"on":true,"brightness":30,
    "transition_duration":30}}`` (off: ``"on":false``; no brightness).
    ``N`` counts up from 1 for each frame this adapter makes. The Shelly answers on ``<src>/rpc``.
    ``transition_duration`` is seconds, 0.5 at least (a smaller value is refused by the device) and
    10800 at most; the light fades from wherever it is. Light.Set has no colour temperature or
    colour: those are ignored.
Query: ``Light.GetStatus`` with ``{"id":<component>}`` (``Switch.GetStatus`` for a switch), and
``Shelly.GetDeviceInfo`` and ``Shelly.GetConfig`` for the capabilities: the config's keys are the
components the device has (``light:0``, ``switch:0``; shelly-api-docs gen2 ComponentsAndServices/Shelly
``Shelly.GetConfig``, "components are identified with ``<type>:<id>``"), the device info its ``model``/``app``.
:func:`shelly_capabilities` reads them; a configured ``switch`` wins.

A Switch (a Shelly Plug S, Plus 1/1PM: a table warmer) is set with ``Switch.Set {"id","on"}``
(shelly-api-docs gen2 ComponentsAndServices/Switch) and reports ``output`` in ``switch:<id>``: it
confirms on/off only.

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

from dataclasses import replace
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
    parse_json,
    pct_to_scale,
)
from ambience.devices.capabilities import UNKNOWN, Capabilities, Learner
from ambience.devices.codec import check_kind, clamp_transition, native_max, seconds, text, wrong_kind
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light, Switch

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 10800.0
MIN_TRANSITION = 0.5
PENDING = 64
"""How many unanswered frames are remembered."""
ANNOUNCING = ("Shelly.GetDeviceInfo", "Shelly.GetConfig")


def shelly_capabilities(
    device_info: dict[str, Any] | None, config: dict[str, Any] | None, component: int
) -> Capabilities:
    """What component ``component`` of a Shelly is, from ``Shelly.GetDeviceInfo`` and ``Shelly.GetConfig`` results."""
    info = device_info or {}
    model = info.get("model") if isinstance(info.get("model"), str) else None
    app = info.get("app") if isinstance(info.get("app"), str) else None
    caps = Capabilities(source="shelly config", vendor="Shelly", model=model, description=app, output=component)
    if config is None:
        return caps
    if isinstance(config.get(f"light:{component}"), dict):
        return replace(caps, kind="light", brightness=True, color=False)
    if isinstance(config.get(f"switch:{component}"), dict):
        return replace(caps, kind="switch", brightness=False, color=False)
    return caps


class ShellyAdapter(Learner):
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
        self.min_transition = MIN_TRANSITION
        """Every Light.Set fades at least this long: its in-between reports are not a change by hand."""
        prefix = device.device.rstrip("/")
        self.rpc_topic = f"{prefix}/rpc"
        self.reply_topic = f"{client_id}/rpc"
        self.events_topic = f"{prefix}/events/rpc"
        self.status_topics = {f"{prefix}/status/{kind}:{device.component}" for kind in ("light", "switch")}
        self.online_topic = f"{prefix}/online"
        self.announcement_topics = [self.reply_topic]
        self.announcement_retained = False
        """Nothing is retained: the device is asked (``Shelly.GetConfig``), so nothing waits for it."""
        """The answers to ``Shelly.GetDeviceInfo``/``Shelly.GetConfig`` (asked by :meth:`query`) come here."""
        self.configured = (
            UNKNOWN
            if device.switch is None
            else Capabilities(kind="switch", brightness=False)
            if device.switch
            else Capabilities(kind="light", brightness=True)
        )
        self.capabilities = self.configured
        self._announced: dict[str, dict[str, Any]] = {}
        self._next_id = 1
        self._last_set = 0
        """The frame id of the last ``Light.Set``/``Switch.Set``: a status asked before it is stale."""
        self._pending: dict[int, Light | str | None] = {}
        """Frame id -> the light a Set asked for (``None``: a GetStatus; a method name: an announcement request)."""
        self._src: str | None = None
        self._output: bool | None = None
        self._brightness: float | None = None

    @property
    def is_switch(self) -> bool:
        return self.capabilities.kind == "switch" or self.capabilities.brightness is False

    @property
    def component(self) -> str:
        return f"{'switch' if self.is_switch else 'light'}:{self.device.component}"

    @property
    def status_topic(self) -> str:
        return f"{self.device.device.rstrip('/')}/status/{self.component}"

    def subscriptions(self) -> list[str]:
        return [self.reply_topic, self.events_topic, *sorted(self.status_topics), self.online_topic]

    def decode_announcement(self, topic: str, payload: bytes) -> Capabilities | None:
        """Capabilities once the answer to this adapter's ``Shelly.GetConfig`` has come (with the device
        info, if that came first); ``None`` for any other message."""
        if topic != self.reply_topic:
            return None
        data = parse_json(payload)
        if not isinstance(data, dict) or isinstance(data.get("id"), bool) or not isinstance(data.get("id"), int):
            return None
        method = self._pending.get(data["id"])
        if not isinstance(method, str) or method not in ANNOUNCING:
            return None
        if self._src is not None and isinstance(data.get("src"), str) and data["src"] != self._src:
            return None
        self._pending.pop(data["id"])
        result = data.get("result")
        if not isinstance(result, dict):
            return None
        self._announced[method] = result
        if method != "Shelly.GetConfig":
            return None
        info = self._announced.get("Shelly.GetDeviceInfo")
        return shelly_capabilities(info, result, self.device.component)

    def _frame(self, method: str, params: dict[str, Any], asked: Light | str | None) -> Message:
        frame_id = self._next_id
        self._next_id += 1
        self._pending[frame_id] = asked
        if asked is not None and not isinstance(asked, str):
            self._last_set = frame_id
        while len(self._pending) > PENDING:
            del self._pending[next(iter(self._pending))]
        frame = {"id": frame_id, "src": self.client_id, "method": method, "params": params}
        return Message(self.rpc_topic, json_payload(frame))

    def switch(self, switch: Switch) -> list[Message]:
        """Interim (issue 15 in progress): a plug driven as a light, no device-side timer."""
        return self.light(Light(100.0 if switch.on else 0.0), 0.0)

    def auto_off_range(self) -> tuple[float, float] | None:
        return None

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        if self.is_switch:
            asked = Light(100.0) if light.on else Light(0.0)  # a relay on is at full output
            return [self._frame("Switch.Set", {"id": self.device.component, "on": light.on}, asked)]
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
        status = "Switch.GetStatus" if self.is_switch else "Light.GetStatus"
        return [self._frame(status, {"id": self.device.component}, None)] + [
            self._frame(method, {}, method) for method in ANNOUNCING
        ]

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.online_topic:
            state = text(payload)
            state = state.lower() if state else state
            return [Availability(state == "true")] if state in ("true", "false") else []
        if topic not in (self.reply_topic, self.events_topic) and topic != self.status_topic:
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
        if isinstance(self._pending[frame_id], str):
            return []  # an announcement request's answer: decode_announcement's
        src = data.get("src")
        if self._src is not None and isinstance(src, str) and src != self._src:
            return []
        if "error" in data or "result" not in data:
            self._pending.pop(frame_id)
            return []
        asked = self._pending.pop(frame_id)
        assert not isinstance(asked, str)
        if isinstance(src, str):
            self._src = src
        if asked is None:
            if frame_id < self._last_set:
                return []  # a GetStatus asked before the last Set: how it was, not how it is
            result = data["result"]
            return self._status(result, reading) if isinstance(result, dict) else []
        self._output = asked.on
        if asked.on:
            self._brightness = asked.brightness
        return [LightReport(asked)]

    def _status(self, status: dict, reading: Reading) -> list[Report]:
        transition = status.get("transition")
        if isinstance(transition, dict) and isinstance(transition.get("target"), dict):
            # a fade under way (Light status ``transition: {target, started_at, duration}``): the values
            # beside it are the fade's in-between ones; what the light is going to is what it was asked
            status = {**status, **transition["target"]}
        said = False
        output = status.get("output")
        if isinstance(output, bool):
            self._output, said = output, True
        elif output is not None:
            reading.drop("output", output, "output is true or false")
        brightness = None if self.is_switch else reading.number("brightness", status.get("brightness"), PERCENT)
        if brightness is not None:
            self._brightness, said = brightness, True
        if not said or self._output is None:
            return []
        if not self._output:
            return [LightReport(Light(0.0))]
        if self.is_switch:
            return [LightReport(Light(100.0))]
        if self._brightness is None:
            return []
        return [LightReport(Light(self._brightness))]
