"""Unit types for the models: the unit lives in the type, the message names it.

Durations are written ``45s``, ``90m``, ``2h``, ``1.5h``, ``1h30m`` or ``1h30`` (or a plain number of
seconds; upper or lower case, spaces ignored) and held as float seconds. A clock-style ``00:45`` is
refused: it would be 45 minutes to one reader and 45 seconds to another (a countdown shows ``m:ss``). Each type refuses booleans (YAML turns ``yes`` into ``True``) and values
out of range with a message saying what is allowed.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
    r"|^(?P<hh>\d+)h(?P<mm>[0-5]?\d)$"  # 1h30: whole hours, then minutes without their m
)
_CLOCK = re.compile(r"^\d+:\d+(?::\d+)?$")
DURATION_HINT = "write e.g. 45s, 90m, 1h30 (or 1h30m), 1.5h or a number of seconds"


def parse_duration(value: Any, *, signed: bool = False) -> float:
    """``'1h30m'`` -> 5400.0. Raises ValueError with a message for users."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        sign = 1.0
        if text[:1] in "+-" and text:
            sign = -1.0 if text[0] == "-" else 1.0
            text = text[1:]
        match = _DURATION.match(text)
        if not text or not match or not any(match.groupdict().values()):
            if re.fullmatch(r"\d+(?:\.\d+)?", text):
                seconds = sign * float(text)
            elif _CLOCK.match(text):
                # 00:45 reads as 45 minutes on a booking and as 45 seconds on a countdown (status shows m:ss)
                raise ValueError(f"{value!r} is not a duration: a clock-style time is ambiguous here; {DURATION_HINT}")
            else:
                raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
        else:
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            seconds = sign * ((parts["h"] + parts["hh"]) * 3600 + (parts["m"] + parts["mm"]) * 60 + parts["s"])
    else:
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    if seconds < 0 and not signed:
        raise ValueError(f"{value!r} is negative; a duration here must be 0 or more")
    return seconds


def format_duration(seconds: float) -> str:
    """5400 -> '1h30m', 95 -> '1m35s', -300 -> '-5m'."""
    sign = "-" if seconds < 0 else ""
    total = abs(seconds)
    whole = int(total)
    frac = total - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = ""
    if h:
        out += f"{h}h"
    if m:
        out += f"{m}m"
    if s or frac or not out:
        out += f"{s + frac:g}s"
    return sign + out


def to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def format_temperature(celsius: float, units: str = "metric") -> str:
    """A temperature for a person: ``24.0`` -> ``'24 °C'``; with ``imperial``, ``'75.2 °F'`` (one decimal, trailing ``.0`` dropped)."""
    value, unit = (to_fahrenheit(celsius), "°F") if units == "imperial" else (celsius, "°C")
    return f"{round(value, 1) + 0.0:g} {unit}"  # + 0.0: never "-0"


def format_clock(seconds: float) -> str:
    """A countdown-style clock: 3725 -> '1:02:05', 65 -> '1:05'."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _duration(signed: bool):
    def check(value: Any) -> float:
        try:
            return parse_duration(value, signed=signed)
        except ValueError as exc:
            raise PydanticCustomError("duration", str(exc)) from None

    return check


def _number(lo: float, hi: float, unit: str, integer: bool = False):
    def check(value: Any) -> float | int:
        kind = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PydanticCustomError("number", f"{value!r} is not {kind}; allowed {lo:g}–{hi:g}{unit}")
        if integer and value != int(value):
            raise PydanticCustomError("number", f"{value!r} is not a whole number; allowed {lo:g}–{hi:g}{unit}")
        if not lo <= value <= hi:
            raise PydanticCustomError("range", f"{value!r} is out of range; allowed {lo:g}–{hi:g}{unit}")
        return int(value) if integer else float(value)

    return check


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise PydanticCustomError("boolean", f"{value!r} is not true or false")


def _hex_color(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", value.strip()):
        return "#" + value.strip().lstrip("#").lower()
    raise PydanticCustomError("color", f"{value!r} is not a colour; write it as hex, e.g. '#ff9a40'")


_dur = PlainSerializer(format_duration, return_type=str)

Seconds = Annotated[float, BeforeValidator(_duration(signed=False)), _dur]
"""A duration of 0 or more, held in seconds."""
SignedSeconds = Annotated[float, BeforeValidator(_duration(signed=True)), _dur]
"""A duration that may be negative (a phase counted back from the end)."""
Celsius = Annotated[float, BeforeValidator(_number(5, 35, " °C"))]
"""A thermostat target. 5–35 °C is what thermostats accept; room limits narrow it."""
CelsiusOffset = Annotated[float, BeforeValidator(_number(-5, 5, " °C"))]
Percent = Annotated[int, BeforeValidator(_number(0, 100, " %", integer=True))]
"""Brightness in percent; 0 is off."""
Kelvin = Annotated[int, BeforeValidator(_number(1500, 6500, " K", integer=True))]
"""Colour temperature; warm light is 2200–3000 K."""
Volume = Annotated[int, BeforeValidator(_number(0, 100, "", integer=True))]
VolumeOffset = Annotated[int, BeforeValidator(_number(-50, 50, "", integer=True))]
HexColor = Annotated[str, BeforeValidator(_hex_color)]
Bool = Annotated[bool, BeforeValidator(_bool)]
"""``true`` or ``false`` and nothing else: pydantic would take ``"yes"``, ``"off"``, ``1`` or ``"0"`` as well."""
