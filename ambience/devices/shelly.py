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

A switch device (``kind="switch"``) is driven with ``Switch.Set`` alone. Its device-side auto-off timer
is ``toggle_after`` (ComponentsAndServices/Switch, ``Switch.Set``: "``toggle_after`` number: Optional
flip-back timer in seconds"): *on* with ``auto_off`` is ``{"id":c,"on":true,"toggle_after":<s>}``, and the
same frame sent again re-arms it. The doc states no range and does not say whether a second ``Switch.Set``
restarts a running timer; ambience's re-arm is a new ``Switch.Set`` with ``on`` and ``toggle_after``, which
sets the output and the timer afresh (the status then shows the new ``timer_started_at``). ambience keeps
to 1 s–24 h (:data:`AUTO_OFF_RANGE`, its own safe choice) and clamps beyond it. *Off* is
``{"id":c,"on":false}``, never with ``toggle_after`` (that would flip it back *on* later). The status
(``switch:<id>``, ComponentsAndServices/Switch "Status") carries ``output``, ``apower`` (W, "shown if
applicable": metering models), ``timer_started_at``/``timer_duration`` ("shown if the timer is triggered")
and ``source`` (``"timer"`` after the timer flipped it); a NotifyStatus carries only what changed, so a
power alone is sent with the output the device last said.

A sensor (``kind="sensor"``: a Shelly H&T Gen3 or Plus H&T, or a Plus Add-on's probe, ``component`` 100..)
is read from the ``temperature:<id>`` status (ComponentsAndServices/Temperature: ``tC``, ``tF``, "number
or null") and ``humidity:<id>`` (ComponentsAndServices/Humidity: ``rh``), in ``NotifyStatus``/
``NotifyFullStatus`` on ``<prefix>/events/rpc`` and on ``<prefix>/status/temperature:<id>`` (with
``status_ntf``). An H&T is a sleepy battery device (Devices/Gen3/ShellyHTG3): it publishes when it wakes
(a change beyond its report threshold, or its periodic wake-up) and answers no request while asleep.

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
    HUMIDITY,
    PERCENT,
    POWER,
    TEMPERATURE,
    Availability,
    Dropped,
    LightReport,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    json_payload,
    number,
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
AUTO_OFF_RANGE = (1.0, 86400.0)
"""``toggle_after``'s range as ambience uses it: the doc states none; 1 s to a day is what a dead-man timer needs."""


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
        types = ("temperature", "humidity") if kind == "sensor" else ("light", "switch")
        self.status_topics = {f"{prefix}/status/{t}:{device.component}" for t in types}
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
        self._pending: dict[int, Light | Switch | str | None] = {}
        """Frame id -> the light a Set asked for (``None``: a GetStatus; a method name: an announcement request)."""
        self._src: str | None = None
        self._output: bool | None = None
        self._brightness: float | None = None
        self._watts: float | None = None
        """The power a metering switch last measured (``apower``), W."""

    @property
    def is_switch(self) -> bool:
        return self.kind == "switch" or self.capabilities.kind == "switch" or self.capabilities.brightness is False

    @property
    def component(self) -> str:
        if self.kind == "sensor":
            return f"temperature:{self.device.component}"
        return f"{'switch' if self.is_switch else 'light'}:{self.device.component}"

    @property
    def components(self) -> tuple[str, ...]:
        """The components whose status this device's reports come from."""
        if self.kind == "sensor":
            return (self.component, f"humidity:{self.device.component}")
        return (self.component,)

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

    def _frame(self, method: str, params: dict[str, Any], asked: Light | Switch | str | None) -> Message:
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
        """``Switch.Set {"id","on"}``; on with ``auto_off``, ``"toggle_after"`` too (sent again, it re-arms)."""
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        params: dict[str, Any] = {"id": self.device.component, "on": switch.on}
        if switch.on and switch.auto_off:
            params["toggle_after"] = seconds(toggle_after(switch.auto_off))
        return [self._frame("Switch.Set", params, Switch(switch.on))]

    def auto_off_range(self) -> tuple[float, float] | None:
        return AUTO_OFF_RANGE if self.kind == "switch" else None

    def will_send(self) -> list[str]:
        lines = super().will_send()
        wanted = self.device.dead_man
        if self.kind != "switch" or wanted is None:
            return lines
        given = toggle_after(wanted)
        lines.append(
            f'on: Switch.Set {{"id":{self.device.component},"on":true,"toggle_after":{seconds(given)}}}, re-armed '
            'by sending it again; off: "on":false without toggle_after'
        )
        lo, hi = AUTO_OFF_RANGE
        if not lo <= wanted <= hi:
            lines.append(f"auto_off {wanted:g} s is outside {lo:g}–{hi:g} s: clamped to {given:g} s")
        return lines

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
        if self.kind == "sensor":  # asleep most of the time: the answer comes only if it is awake
            return [self._frame("Temperature.GetStatus", {"id": self.device.component}, None)]
        status = "Switch.GetStatus" if self.is_switch else "Light.GetStatus"
        return [self._frame(status, {"id": self.device.component}, None)] + [
            self._frame(method, {}, method) for method in ANNOUNCING
        ]

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.online_topic:
            state = text(payload)
            state = state.lower() if state else state
            return [Availability(state == "true")] if state in ("true", "false") else []
        status_topic = topic in self.status_topics and topic.rsplit("/", 1)[1] in self.components
        if topic not in (self.reply_topic, self.events_topic) and not status_topic:
            return []
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        if status_topic:
            name = topic.rsplit("/", 1)[1]
            return reading.out(
                *self._measured({name: data}, reading) if self.kind == "sensor" else self._status(data, reading)
            )
        if topic == self.events_topic:
            return reading.out(*self._event(data, reading))
        return reading.out(*self._reply(data, reading))

    def _event(self, data: dict, reading: Reading) -> list[Report]:
        if data.get("method") not in ("NotifyStatus", "NotifyFullStatus"):
            return []
        params = data.get("params")
        if not isinstance(params, dict) or not any(isinstance(params.get(c), dict) for c in self.components):
            return []
        if isinstance(data.get("src"), str):
            self._src = data["src"]
        if self.kind == "sensor":
            return self._measured(params, reading)
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
            if not isinstance(result, dict):
                return []
            return (
                self._measured({self.component: result}, reading)
                if self.kind == "sensor"
                else self._status(result, reading)
            )
        self._output = asked.on
        if isinstance(asked, Switch):  # Switch.Set answered {"was_on": …}: the output is now what it asked
            return [SwitchReport(asked.on, self._watts if asked.on else (0.0 if self._watts is not None else None))]
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
        if self.kind == "switch":
            watts = reading.number("apower", status.get("apower"), POWER)
            if watts is not None:
                self._watts, said = watts, True
            if not said or self._output is None:
                return []
            return [
                SwitchReport(self._output, self._watts if self._output else (0.0 if self._watts is not None else None))
            ]
        if not said or self._output is None:
            return []
        if not self._output:
            return [LightReport(Light(0.0))]
        if self.is_switch:
            return [LightReport(Light(100.0))]
        if self._brightness is None:
            return []
        return [LightReport(Light(self._brightness))]

    def _measured(self, statuses: dict[str, Any], reading: Reading) -> list[Report]:
        """A sensor's ``temperature:<id>`` (``tC``, or ``tF`` converted) and ``humidity:<id>`` (``rh``)."""
        temperature = humidity = None
        t = statuses.get(self.components[0])
        if isinstance(t, dict):
            temperature = reading.number("tC", t.get("tC"), TEMPERATURE)
            if temperature is None and t.get("tC") is None and (f := number(t.get("tF"))) is not None:
                temperature = reading.number("tF", round((f - 32) * 5 / 9, 2), TEMPERATURE)
        h = statuses.get(self.components[1])
        if isinstance(h, dict):
            humidity = reading.number("rh", h.get("rh"), HUMIDITY)
        if temperature is None and humidity is None:
            return []
        return [SensorReport(temperature, humidity)]


def toggle_after(auto_off: float) -> float:
    """``toggle_after`` for an auto-off of ``auto_off`` seconds, clamped to :data:`AUTO_OFF_RANGE`, in tenths."""
    lo, hi = AUTO_OFF_RANGE
    return round(min(max(auto_off, lo), hi), 1) if auto_off == auto_off else lo
