"""What every bridge adapter is: a pure encoder/decoder between ambience's units and MQTT.

An adapter knows one device's topics and payloads. It never touches a socket: the reconciler
hands it desired states and incoming messages and publishes what it returns. Units inside
ambience are the preset's: brightness in % (0 = off), colour temperature in kelvin,
temperature in °C, transitions in seconds.

What a device says is data, not trusted: every value a decoder reads goes through a
:class:`Reading`, which keeps it only if it is a finite number inside its physical range
(:data:`SETPOINT`, :data:`MIRED` …) or a known word; anything else becomes a :class:`Dropped`
for the manager to log, and the message's other values still count.
"""

from __future__ import annotations

import functools
import json
import math
import re
import reprlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from ambience.model.state import ClimateState, Light, Switch


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
    settings: tuple[tuple[str, str], ...] = ()
    """Mode-like settings the device reports beside its mode (``(("preset", "schedule"),)``), sorted."""


@dataclass(frozen=True)
class SwitchReport:
    on: bool
    """What a plug or relay says its output is."""
    power: float | None = None
    """The power it draws, in W, where it measures one (a Shelly Plus Plug S, a Tasmota or Z2M plug)."""


@dataclass(frozen=True)
class SensorReport:
    temperature: float | None = None
    """The measured temperature, °C (a sensor in °F is converted by its adapter)."""
    humidity: float | None = None
    """Relative humidity, %, where the sensor has one."""


@dataclass(frozen=True)
class Availability:
    online: bool


Report = LightReport | ClimateReport | SwitchReport | SensorReport | Availability


@dataclass(frozen=True)
class Dropped:
    """A value in a device's message that is not believed (out of range, wrong type): left out of the report."""

    field: str
    value: str
    """The value as received, shortened."""
    allowed: str

    def __str__(self) -> str:
        return f"{self.field} {self.value} dropped: {self.allowed}"


class Adapter(Protocol):
    """One device (a light or a thermostat) behind one bridge."""

    kind: str
    """``'light'``, ``'climate'``, ``'switch'`` or ``'sensor'``."""
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

    def switch(self, switch: Switch) -> list[Message]:
        """Commands that switch a plug or relay on or off. With ``switch.auto_off`` (seconds) and *on*,
        the device's own auto-off timer is armed with it, where its firmware has one (Tasmota
        ``PulseTime``, Shelly ``toggle_after``, Z2M ``on_time``): the same command sent again re-arms it."""
        ...

    def auto_off_range(self) -> tuple[float, float] | None:
        """The device-side auto-off timer's range in seconds, ``None`` when the device has none (it
        relies on ambience to switch it off)."""
        ...

    def query(self) -> list[Message]:
        """Commands that make the device report its state (``/get`` or equivalent); may be empty."""
        ...

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        """What a message on one of :meth:`subscriptions` says; ``[]`` for anything else.

        Every value is checked (see :class:`Reading`); a bad one is a :class:`Dropped` beside the
        reports the message's good values make. Never raises, whatever the payload.
        """
        ...


# ---- what a device may report ---------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The physical range of a reported number; a value outside it is not believed."""

    what: str
    lo: float
    hi: float
    unit: str = ""

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi  # False for NaN

    def __str__(self) -> str:
        return f"{self.what} is {self.lo:g}–{self.hi:g}{self.unit}"

    def clamp(self, value: float) -> float:
        """The nearest value inside; NaN is ``lo``."""
        return min(value, self.hi) if value >= self.lo else self.lo


SETPOINT = Bounds("a setpoint", 0, 45, " °C")
"""What any room heating device can be set to (frost protection to a sauna-warm room)."""
TEMPERATURE = Bounds("a measured temperature", -40, 80, " °C")
"""What a room thermostat's sensor can read."""
MIRED = Bounds("a colour temperature", 50, 1000, " mired")
KELVIN = Bounds("a colour temperature", 1000, 20000, " K")
"""What any white bulb can do, a candle (1000 K) to a blue sky; the same range as :data:`MIRED`."""
PERCENT = Bounds("a percentage", 0, 100, " %")
POWER = Bounds("a power", 0, 100_000, " W")
"""What a plug or relay can report it draws (a metering plug reads up to a few kW; a Pro 3EM far less than 100 kW)."""
HUMIDITY = Bounds("a relative humidity", 0, 100, " %")
HUE = Bounds("a hue", 0, 360, " °")
RGB = Bounds("a colour channel", 0, 255)
XY = Bounds("a CIE xy coordinate", 0, 1)
MODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A climate mode: one lower-case word (``heat``, ``fan_only``) of at most 32 characters."""


@functools.cache
def brightness_bounds(top: int) -> Bounds:
    return Bounds("a brightness", 0, top, f" (this device's scale is 0–{top})")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist = 1, 3, 3
SHOWN_LENGTH = 60


def shown(value: Any) -> str:
    """A value as a log line shows it: short, however long or deep it is."""
    text = _REPR.repr(value)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


def number(value: Any) -> float | None:
    """A finite number from a JSON value or text (``21.5``, ``"21.5"``); ``None`` otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            result = float(value)
        elif isinstance(value, str):
            result = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):  # not a number; an int too large for a float
        return None
    return result if math.isfinite(result) else None


def on_off(value: Any) -> bool | None:
    """``ON``/``OFF`` in the usual spellings (also ``true``/``false``, ``1``/``0``); ``None`` otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("on", "true", "1"):
            return True
        if word in ("off", "false", "0"):
            return False
    return None


class Reading:
    """The values of one message, each checked: a good one is returned, a bad one noted in ``dropped``.

    ``None`` (the key is absent, or JSON ``null``) says nothing and is not noted.
    """

    def __init__(self) -> None:
        self.dropped: list[Dropped] = []

    def drop(self, field: str, value: Any, allowed: str) -> None:
        self.dropped.append(Dropped(field, shown(value), allowed))

    def number(self, field: str, value: Any, bounds: Bounds) -> float | None:
        if value is None:
            return None
        result = number(value)
        if result is None or result not in bounds:
            self.drop(field, value, str(bounds))
            return None
        return result

    def color_temp(self, field: str, value: Any) -> float | None:
        """A colour temperature in kelvin, from mired (up to 1000) or kelvin (above 1000)."""
        if value is None:
            return None
        v = number(value)
        if v is not None and (v in MIRED or v in KELVIN):
            return float(round(v if v > MIRED.hi else 1_000_000 / v))
        self.drop(field, value, f"{MIRED} or {KELVIN.lo:g}–{KELVIN.hi:g}{KELVIN.unit}")
        return None

    def switch(self, field: str, value: Any) -> bool | None:
        if value is None:
            return None
        on = on_off(value)
        if on is None:
            self.drop(field, value, "a state is ON or OFF")
        return on

    def mode(self, field: str, value: Any, allowed: Collection[str] | None = None) -> str | None:
        """A climate mode, lower-cased; only one of ``allowed`` when given."""
        if value is None:
            return None
        mode = value.strip().lower() if isinstance(value, str) else None
        if mode is not None and MODE.fullmatch(mode) and (allowed is None or mode in allowed):
            return mode
        self.drop(field, value, f"a mode is one of {', '.join(allowed)}" if allowed else f"a mode is {_MODE_TEXT}")
        return None

    def json_object(self, payload: bytes) -> dict | None:
        """The JSON object a state message holds; an empty payload (a retained message cleared) says nothing."""
        data = parse_json(payload)
        if isinstance(data, dict):
            return data
        if payload.strip():
            self.drop("payload", payload, "a state message is a JSON object")
        return None

    def out(self, *reports: Report | None) -> list[Report | Dropped]:
        """What :meth:`Adapter.decode` returns: the reports made, then what was dropped."""
        return [r for r in reports if r is not None] + self.dropped


_MODE_TEXT = "one lower-case word of up to 32 letters, digits or _"


# ---- unit conversions shared by the adapters ------------------------------------------------
# They are used on the way out too (an after state is made of reported values), so each gives a
# usable answer for any float, NaN and infinities included, and never raises.


def pct_to_scale(percent: float, top: int) -> int:
    """0–100 % -> 0..top, rounding so that any light that is on stays at least 1; NaN is off."""
    if not percent > 0:
        return 0
    if percent >= 100:
        return top
    return max(1, min(top, round(percent * top / 100)))


def scale_to_pct(value: float, top: int) -> float:
    """0..top -> 0–100 %, clamped; NaN is 0."""
    if not value > 0:
        return 0.0
    return min(100.0, value * 100.0 / top)


def kelvin_to_mired(kelvin: float, lo: int = 153, hi: int = 500) -> int:
    """Kelvin to mired, clamped to ``lo..hi``; a kelvin that is not above 0 (or NaN) is the warmest, ``hi``."""
    if not kelvin > 0:
        return hi
    return max(lo, min(hi, round(1_000_000 / max(kelvin, 1.0))))


def mired_to_kelvin(mired: float) -> float:
    """Mired to kelvin; 0 for a mired that is not a colour temperature (not above 0, NaN, too small)."""
    if not mired > 0:
        return 0.0
    kelvin = 1_000_000 / mired
    return kelvin if math.isfinite(kelvin) else 0.0


def step_temperature(value: float, step: float) -> float | None:
    """Round °C to the device's step (0.5 -> 21.5, 22.0); ``None`` for a value no heating device
    takes (outside :data:`SETPOINT`, NaN): the target is then not sent, and the device keeps its own."""
    if value not in SETPOINT or not step > 0:
        return None
    steps = round(value / step)
    if steps * step > SETPOINT.hi:  # the nearest step lies past the range (45 with a 0.65625 step -> 45.28)
        steps = math.floor(SETPOINT.hi / step)
    elif steps * step < SETPOINT.lo:
        steps = math.ceil(SETPOINT.lo / step)
    return round(steps * step, 2)


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def rgb_to_hex(r: float, g: float, b: float) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(min(255.0, v)) if v > 0 else 0 for v in (r, g, b)))


def json_payload(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def parse_json(payload: bytes) -> Any:
    """The JSON in a payload, or ``None`` if it is not JSON (or nested too deep to read)."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
