"""What every bridge adapter is: a pure encoder/decoder between ambience's units and MQTT.

An adapter knows one device's topics and payloads. It never touches a socket: the reconciler
hands it desired states and incoming messages and publishes what it returns. Units inside
ambience are the preset's: brightness in % (0 = off), colour temperature in kelvin,
temperature in °C, transitions in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ..timeline import ClimateState, Light


@dataclass(frozen=True)
class Message:
    topic: str
    payload: str


@dataclass(frozen=True)
class LightReport:
    light: Light
    """What the device says it shows now (brightness 0 when off)."""


@dataclass(frozen=True)
class ClimateReport:
    target: float | None
    mode: str | None = None
    current: float | None = None
    """The measured room temperature, where the device reports one."""


@dataclass(frozen=True)
class Availability:
    online: bool


Report = LightReport | ClimateReport | Availability


class Adapter(Protocol):
    """One device (a light or a thermostat) behind one bridge."""

    kind: str
    """``'light'`` or ``'climate'``."""
    max_transition: float
    """The longest fade the device does itself, in seconds; longer fades are sent as steps."""

    def subscriptions(self) -> list[str]:
        """Topics (no wildcards needed) whose messages :meth:`decode` understands."""
        ...

    def light(self, light: Light, transition: float) -> list[Message]:
        """Commands that make a light show ``light``, fading over ``transition`` seconds."""
        ...

    def climate(self, climate: ClimateState) -> list[Message]:
        """Commands that set a thermostat's target and mode."""
        ...

    def query(self) -> list[Message]:
        """Commands that make the device report its state (``/get`` or equivalent); may be empty."""
        ...

    def decode(self, topic: str, payload: bytes) -> list[Report]:
        """What a message on one of :meth:`subscriptions` says; ``[]`` for anything else."""
        ...


# ---- unit conversions shared by the adapters ------------------------------------------------


def pct_to_scale(percent: float, top: int) -> int:
    """0–100 % -> 0..top, rounding so that any light that is on stays at least 1."""
    if percent <= 0:
        return 0
    return max(1, min(top, round(percent * top / 100)))


def scale_to_pct(value: float, top: int) -> float:
    return max(0.0, min(100.0, value * 100.0 / top))


def kelvin_to_mired(kelvin: float, lo: int = 153, hi: int = 500) -> int:
    return max(lo, min(hi, round(1_000_000 / kelvin)))


def mired_to_kelvin(mired: float) -> float:
    return 1_000_000 / mired if mired > 0 else 0.0


def step_temperature(value: float, step: float) -> float:
    """Round °C to the device's step (0.5 -> 21.5, 22.0)."""
    return round(round(value / step) * step, 2)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def rgb_to_hex(r: float, g: float, b: float) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, round(v))) for v in (r, g, b)))


def json_payload(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def parse_json(payload: bytes) -> Any:
    """The JSON in a payload, or ``None`` if it is not JSON."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
