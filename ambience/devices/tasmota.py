"""Tasmota lights (PWM, CT, RGB, RGBCW bulbs and dimmers). Tasmota has no thermostat.

Topics come from the device's ``full_topic`` (default ``%prefix%/%topic%/``, ``%topic%`` being the
``device`` field, ``%prefix%`` one of ``cmnd``/``stat``/``tele``).

Commands: one ``cmnd/<topic>/Backlog``, e.g. ``Speed2 40; Dimmer 30; Speed2 40; CT 370``
    ``Speed2 N``   a one-shot fade for the *next* light change only: N half-seconds for a 0→100 %
                   change, 1..40 (``0``: no fade). It arms a fade by itself, so the stored ``Fade``
                   setting is left alone; and as it is used up by the first change, it is given again
                   before the second. The persistent ``Fade``/``Speed`` are never touched.
    ``Dimmer D``   0..100, first: with ``SetOption20 0`` (the default) it also switches the light on,
                   at the new level rather than the old one.
    ``CT M``       153..500 mired; or ``Color2 #rrggbb`` for a colour (``Color2`` keeps the Dimmer,
                   where ``Color`` would set the brightness from the colour).
    Off is ``Speed2 N; Power OFF`` (Tasmota fades out too).
Query: ``cmnd/<topic>/State`` with an empty payload; the answer comes on ``stat/<topic>/RESULT``
(or ``stat/<topic>/STATE`` with ``SetOption4 1``).
State: ``stat/<topic>/RESULT`` and ``tele/<topic>/STATE`` (JSON with ``POWER``, ``Dimmer``, ``CT``,
``Color``), ``stat/<topic>/POWER`` (``ON``/``OFF``); availability ``tele/<topic>/LWT``
(``Online``/``Offline``). Messages may say only part of the state; what is known is kept and a
report is made once the power (and, when on, the dimmer) is known.

Fade timing: unless ``SetOption117 1`` is set, Tasmota fades at a fixed *rate*: a fade lasts
``N × 0.5 s × distance``, the distance being the largest channel change (0..1). N is chosen from
the transition and the distance from the last known state (a full 0→100 % change if nothing is
known yet, so a fade is never slower than asked). The slowest rate is 0→100 % in 20 s, hence
``max_transition`` 20 s; a small change asked to take long still ends sooner (20 s × distance).
"""

from __future__ import annotations

import re

from ambience.config.devices import TasmotaDevice
from ambience.devices.base import (
    PERCENT,
    Bounds,
    Dropped,
    LightReport,
    Message,
    Reading,
    Report,
    hex_to_rgb,
    kelvin_to_mired,
    mired_to_kelvin,
    pct_to_scale,
)
from ambience.devices.codec import (
    check_kind,
    clamp_transition,
    native_max,
    normalized_hex,
    online_payload,
    text,
    wrong_kind,
)
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light

MAX_SPEED = 40
"""``Speed2`` 40: 20 s for a 0→100 % fade."""
HARD_MAX_TRANSITION = MAX_SPEED / 2
CT_MIN, CT_MAX = 153, 500
CT = Bounds("Tasmota's CT", CT_MIN, CT_MAX, " mired")
GAMMA_INV = 1 / 2.2
_TOKEN = re.compile(r"%[a-z]+%")
_HEX = re.compile(r"^#?(?:[0-9a-fA-F]{2})+$")


def _channels(color: str) -> list[int] | None:
    """Tasmota's ``Color``: hex ``FF9A40[WW..]`` or decimal ``255,154,64[,..]``."""
    color = color.strip()
    if "," in color:
        try:
            values = [int(part) for part in color.split(",")]
        except ValueError:
            return None
        return values if values and all(0 <= v <= 255 for v in values) else None
    if _HEX.match(color):
        raw = color.lstrip("#")
        return [int(raw[i : i + 2], 16) for i in range(0, len(raw), 2)]
    return None


def _output(light: Light, ct_default: float) -> list[float]:
    """Roughly the channel levels (0..1: R, G, B, cold, warm) Tasmota drives for ``light``."""
    level = max(0.0, min(1.0, light.brightness / 100)) if light.on else 0.0
    if light.color:
        r, g, b = hex_to_rgb(light.color)
        top = max(r, g, b) or 1
        return [level * r / top, level * g / top, level * b / top, 0.0, 0.0]
    warm = _warmth(light.color_temp) if light.color_temp else ct_default
    # Tasmota gamma-corrects the white level, then splits it between the cold and warm channels; the
    # fade distance is measured after undoing the gamma per channel, so each share counts as share^(1/2.2).
    return [0.0, 0.0, 0.0, level * (1 - warm) ** GAMMA_INV, level * warm**GAMMA_INV]


def _warmth(kelvin: float) -> float:
    return (kelvin_to_mired(kelvin, CT_MIN, CT_MAX) - CT_MIN) / (CT_MAX - CT_MIN)


def distance(before: Light | None, after: Light) -> float:
    """The largest channel change (0..1) from ``before`` to ``after``; 1 when ``before`` is unknown."""
    if before is None:
        return 1.0
    warm = _warmth(after.color_temp) if after.color_temp else _warmth(before.color_temp) if before.color_temp else 0.0
    a, b = _output(before, warm), _output(after, warm)
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def speed(transition: float, change: float) -> int:
    """``Speed2`` for a fade of ``change`` (0..1) over ``transition`` seconds; 0 is no fade."""
    if transition <= 0:
        return 0
    return max(1, min(MAX_SPEED, round(2 * transition / max(change, 0.01))))


class TasmotaAdapter:
    def __init__(self, device: TasmotaDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        if kind == "climate":
            raise DeviceError(
                f"tasmota device {device.device!r} cannot be a thermostat: Tasmota has no climate control; "
                "use a zigbee2mqtt, homeassistant, esphome or generic device for the thermostat"
            )
        full = device.full_topic.strip()
        unknown = sorted(set(_TOKEN.findall(full)) - {"%prefix%", "%topic%"})
        if unknown or "%prefix%" not in full:
            raise DeviceError(
                f"tasmota device {device.device!r}: full_topic {device.full_topic!r} must contain %prefix% and "
                f"may contain %topic%{'; write ' + ', '.join(unknown) + ' out literally' if unknown else ''}"
            )
        self._full = (full if full.endswith("/") else full + "/").replace("%topic%", device.device)
        self.max_transition = native_max(device.max_transition, HARD_MAX_TRANSITION, HARD_MAX_TRANSITION)
        self._power: bool | None = None
        self._dimmer: float | None = None
        self._ct: float | None = None
        self._color: str | None = None
        self._mode: str | None = None  # 'color' or 'white'
        self._topics = {
            "result": self.topic("stat", "RESULT"),
            "stat_state": self.topic("stat", "STATE"),
            "power": self.topic("stat", "POWER"),
            "tele_state": self.topic("tele", "STATE"),
            "lwt": self.topic("tele", "LWT"),
        }

    def topic(self, prefix: str, command: str) -> str:
        return self._full.replace("%prefix%", prefix) + command

    def subscriptions(self) -> list[str]:
        return list(self._topics.values())

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        t = clamp_transition(transition, self.max_transition)
        if not light.on:
            n = speed(t, distance(self.shown(), Light(0.0)))
            commands = [f"Speed2 {n}", "Power OFF"]
            self._power = False
        else:
            dimmer = pct_to_scale(light.brightness, 100)
            target = Light(float(dimmer), light.color_temp, light.color)
            n = speed(t, distance(self.shown(), target))
            commands = [f"Speed2 {n}", f"Dimmer {dimmer}"]
            if light.color:
                commands += [f"Speed2 {n}", f"Color2 {light.color.lower()}"]
                self._mode, self._color = "color", light.color.lower()
            elif light.color_temp:
                mired = kelvin_to_mired(light.color_temp, CT_MIN, CT_MAX)
                commands += [f"Speed2 {n}", f"CT {mired}"]
                self._mode, self._ct = "white", float(round(mired_to_kelvin(mired)))
            self._power, self._dimmer = True, float(dimmer)
        return [Message(self.topic("cmnd", "Backlog"), "; ".join(commands))]

    def climate(self, climate: ClimateState) -> list[Message]:
        raise wrong_kind(self, "climate")

    def query(self) -> list[Message]:
        return [Message(self.topic("cmnd", "State"), "")]

    def shown(self) -> Light | None:
        """What the light shows as far as this adapter knows (reports, then its own commands)."""
        if self._power is None:
            return None
        ct = self._ct if self._mode != "color" else None
        color = self._color if self._mode == "color" else None
        if not self._power:
            return Light(0.0, ct, color)
        if self._dimmer is None:
            return None
        return Light(self._dimmer, ct, color)

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self._topics["lwt"]:
            return online_payload(payload, "Online", "Offline")
        reading = Reading()
        if topic == self._topics["power"]:
            power = reading.switch("POWER", text(payload))
            if power is None:
                return reading.out()
            self._power = power
        elif topic in (self._topics["result"], self._topics["stat_state"], self._topics["tele_state"]):
            data = reading.json_object(payload)
            if data is None or not self._merge(data, reading):
                return reading.out()
        else:
            return []
        light = self.shown()
        return reading.out(None if light is None else LightReport(light))

    def _merge(self, data: dict, reading: Reading) -> bool:
        """Take what a RESULT/STATE message says about the light; whether it said anything."""
        said = False
        key = "POWER" if "POWER" in data else "POWER1"
        power = reading.switch(key, data.get(key))
        if power is not None:
            self._power, said = power, True
        dimmer = reading.number("Dimmer", data.get("Dimmer"), PERCENT)
        if dimmer is not None:
            self._dimmer, said = dimmer, True
        ct = reading.number("CT", data.get("CT"), CT)
        if ct is not None:
            self._ct, said = float(round(mired_to_kelvin(ct))), True
        color = data.get("Color")
        channels = _channels(color) if isinstance(color, str) else None
        if color is not None and channels is None:
            reading.drop("Color", color, "Tasmota's Color is hex (FF9A40) or 0–255 channels (255,154,64)")
        if channels:
            rgb, white = channels[:3], channels[3:]
            if len(rgb) == 3 and any(rgb) and not any(white):
                self._mode, self._color = "color", normalized_hex(*rgb)
            else:
                self._mode = "white"
            said = True
        return said
