"""A Tasmota light: ``cmnd/<topic>/<Command>`` in, ``stat/<topic>/RESULT`` out.

Commands (case-insensitive): ``Power`` (ON/OFF/TOGGLE/1/0/2), ``Dimmer`` (0–100, ``+``, ``-``,
``!`` stops a fade), ``CT`` (153–500 mired), ``Color`` (``r,g,b`` / ``#RRGGBB``), ``HSBColor``,
``Fade``, ``Speed``, ``Speed2`` (one-shot), ``Backlog`` (``;``-separated), ``json`` and
``State``. An empty payload is a query. Like Tasmota, the RESULT carries the target at once;
with ``Fade 1`` the light itself moves at ``Speed`` × 0.5 s per 0–100 %. ``tele/<topic>/LWT``
is ``Online``/``Offline`` (retained); ``State`` also publishes ``tele/<topic>/STATE``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ambience.config.devices import TasmotaDevice
from ambience.devices.base import hex_to_rgb, json_payload, kelvin_to_mired, mired_to_kelvin, parse_json
from ambience.simulator.base import LIGHT, Publish, VirtualDevice, parse_number
from ambience.simulator.colors import color_to_hex, hs_to_rgb, rgb_to_hs
from ambience.simulator.model import LightView

CT_MIN, CT_MAX = 153, 500
ON_WORDS = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}


class TasmotaSim(VirtualDevice[TasmotaDevice]):
    bridge = "tasmota"
    kinds = (LIGHT,)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fade = False
        self.speed = 1
        self.speed2: int | None = None

    def _topic(self, prefix: str, command: str = "") -> str:
        full = self.config.full_topic if self.config.full_topic.endswith("/") else self.config.full_topic + "/"
        for key in ("%topic%", "%hostname%", "%id%"):
            full = full.replace(key, self.name)
        return full.replace("%prefix%", prefix) + command

    def subscriptions(self) -> list[str]:
        return [self._topic("cmnd", "+")]

    def availability(self, online: bool) -> list[Publish]:
        return [Publish(self._topic("tele", "LWT"), "Online" if online else "Offline", retain=True)]

    def report(self, now: float) -> list[Publish]:
        return [Publish(self._topic("tele", "STATE"), json_payload(self._state()))]

    # ---- incoming --------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        command = topic[len(self._topic("cmnd")) :]
        value = payload.decode("utf-8", errors="replace").strip()
        if self._is_query(command, value) or self.accept():
            return self._run(command, value, now)
        return []

    @staticmethod
    def _is_query(command: str, value: str) -> bool:
        name = command.lower()
        return name in ("state", "status") or (value == "" and name not in ("backlog", "backlog0"))

    def _run(self, command: str, value: str, now: float) -> list[Publish]:
        name = command.lower()
        if name in ("backlog", "backlog0"):
            out: list[Publish] = []
            for part in value.split(";"):
                cmd, _, arg = part.strip().partition(" ")
                if cmd:
                    out += self._run(cmd, arg.strip(), now)
            return out
        if name == "json":
            data = parse_json(value.encode())
            if not isinstance(data, Mapping):
                return self._result({"Command": "Error"})
            return [p for key, arg in data.items() for p in self._run(str(key), str(arg), now)]
        if name in ("state", "status"):
            state = json_payload(self._state())
            return [Publish(self._topic("stat", "RESULT"), state), Publish(self._topic("tele", "STATE"), state)]
        handler = {
            "power": self._power,
            "power1": self._power,
            "dimmer": self._dimmer,
            "ct": self._ct,
            "color": self._color,
            "color1": self._color,
            "color2": self._color,
            "hsbcolor": self._hsbcolor,
            "fade": self._fade,
            "speed": self._speed,
            "speed2": self._speed,
        }.get(name)
        if handler is None:
            return self._result({"Command": "Unknown"})
        return handler(name, value, now)

    def _power(self, name: str, value: str, now: float) -> list[Publish]:
        assert self.light is not None
        word = value.lower()
        if word in ("toggle", "2"):
            self._change(now, on=not self.light.target().on)
        elif word in ON_WORDS:
            self._change(now, on=ON_WORDS[word])
        power = self._power_word()
        return self._result({"POWER": power}) + [Publish(self._topic("stat", "POWER"), power)]

    def _dimmer(self, name: str, value: str, now: float) -> list[Publish]:
        assert self.light is not None
        current = self.light.target().level
        if value == "!":
            self.light.stop(now)
        elif value in ("+", "-"):
            self._change(now, level=max(1.0, min(100.0, current + (10 if value == "+" else -10))))
        elif (level := parse_number(value)) is not None:
            self._change(now, level=max(0.0, min(100.0, level)))
        return self._result(self._light_result())

    def _ct(self, name: str, value: str, now: float) -> list[Publish]:
        mired = parse_number(value)
        if mired is not None:
            self._change(now, color_temp=mired_to_kelvin(max(CT_MIN, min(CT_MAX, mired))))
        return self._result(self._light_result())

    def _color(self, name: str, value: str, now: float) -> list[Publish]:
        color = color_to_hex(value) if value else None
        if color is not None:
            self._change(now, color=color)
        return self._result(self._light_result())

    def _hsbcolor(self, name: str, value: str, now: float) -> list[Publish]:
        match [parse_number(p) for p in value.split(",")]:
            case [float() as h, float() as s, float() as b]:
                self._change(now, color=color_to_hex(",".join(str(c) for c in hs_to_rgb(h, s))), level=b)
        return self._result(self._light_result())

    def _fade(self, name: str, value: str, now: float) -> list[Publish]:
        word = value.lower()
        self.fade = (not self.fade) if word in ("toggle", "2") else ON_WORDS.get(word, self.fade)
        return self._result({"Fade": "ON" if self.fade else "OFF"})

    def _speed(self, name: str, value: str, now: float) -> list[Publish]:
        speed = parse_number(value)
        if name == "speed2":
            self.speed2 = max(1, min(40, round(speed))) if speed is not None else self.speed2
            return self._result({"Speed2": self.speed2})
        self.speed = max(1, min(40, round(speed))) if speed is not None else self.speed
        return self._result({"Speed": self.speed})

    # ---- the light ---------------------------------------------------------------------------

    def _change(self, now: float, **change: Any) -> None:
        assert self.light is not None
        end = self.light.plan(**change)
        speed = self.speed2 or self.speed
        self.speed2 = None
        duration = speed * 0.5 * _distance(self.light.view(now), end) if self.fade else 0.0
        self.light.apply(now, end, duration)

    def _power_word(self) -> str:
        assert self.light is not None
        return "ON" if self.light.target().on else "OFF"

    def _light_result(self) -> dict[str, Any]:
        assert self.light is not None
        end = self.light.target()
        result: dict[str, Any] = {"POWER": self._power_word(), "Dimmer": round(end.level)}
        if end.color:
            r, g, b = hex_to_rgb(end.color)
            h, s = rgb_to_hs(r, g, b)
            result.update(Color=end.color.lstrip("#").upper(), HSBColor=f"{round(h)},{round(s)},{round(end.level)}")
        elif end.color_temp:
            result["CT"] = kelvin_to_mired(end.color_temp, CT_MIN, CT_MAX)
        return result

    def _state(self) -> dict[str, Any]:
        return {
            "Time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **self._light_result(),
            "Fade": "ON" if self.fade else "OFF",
            "Speed": self.speed,
            "LedTable": "ON",
            "Wifi": {"AP": 1, "SSId": "ambience-sim", "RSSI": 100, "Signal": -40},
        }

    def _result(self, data: dict[str, Any]) -> list[Publish]:
        return [Publish(self._topic("stat", "RESULT"), json_payload(data))]


def _distance(a: LightView, b: LightView) -> float:
    """How far a fade goes, 0–1: the larger of the brightness and the colour-temperature change."""
    bri = abs(a.brightness - b.brightness) / 100
    ct = 0.0
    if a.color_temp and b.color_temp:
        ct = abs(kelvin_to_mired(a.color_temp, CT_MIN, CT_MAX) - kelvin_to_mired(b.color_temp, CT_MIN, CT_MAX))
        ct /= CT_MAX - CT_MIN
    return max(bri, ct)
