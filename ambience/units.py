"""Unit types for the models: the unit lives in the type, the message names it.

Durations are written ``45s``, ``90m``, ``2h``, ``1.5h``, ``1h30m`` or ``1h30`` (upper or lower case,
spaces ignored) and held as float seconds. A bare number is read by what the value is (docs/units.md):

- a *length* a person plans (:data:`Minutes`, :data:`SignedMinutes` and the bounded lengths below: a
  session's length, an extension, a booking's length and lead, a preset's phases): minutes, as the
  phone's box and the front desk count them (``--for 10`` is ten minutes);
- a *technical* time (:data:`Seconds`: fades, transitions, timeouts, poll intervals): seconds.

A clock-style ``00:45`` is refused: it would be 45 minutes to one reader and 45 seconds to another (a
countdown shows ``m:ss``).

Temperatures (:data:`Celsius`, :data:`CelsiusOffset`) are written ``24``, ``24C``, ``24 °C``, ``75F`` or
``75°F`` (any case) and held in °C; a bare number is °C whatever ``units`` says (a thermostat's range is
the same in every clinic; ``units`` only decides what is shown, :func:`format_temperature`).

Each type refuses booleans (YAML turns ``yes`` into ``True``) and values out of range with a message
saying what is allowed, in plain words (``at most 6h``).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
    r"|^(?P<hh>\d+)h(?P<mm>[0-5]?\d)$"  # 1h30: whole hours, then minutes without their m
)
_CLOCK = re.compile(r"^\d+:\d+(?::\d+)?$")
DURATION_HINT = "write e.g. 45s, 90m, 1h30 (or 1h30m), 1.5h or a number of seconds"
LENGTH_HINT = "write e.g. 45m, 90m, 1h30 (or 1h30m), 1.5h or a number of minutes"
MINUTE = 60.0
HOUR = 3600.0


def parse_duration(value: Any, *, signed: bool = False, bare: float = 1.0) -> float:
    """``'1h30m'`` -> 5400.0. A bare number counts ``bare`` seconds each (1: seconds, 60: minutes).
    Raises ValueError with a message for users."""
    hint = LENGTH_HINT if bare == MINUTE else DURATION_HINT
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {hint}")
    if isinstance(value, (int, float)):
        seconds = float(value) * bare
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        sign = 1.0
        if text[:1] in "+-" and text:
            sign = -1.0 if text[0] == "-" else 1.0
            text = text[1:]
        match = _DURATION.match(text)
        if not text or not match or not any(match.groupdict().values()):
            if re.fullmatch(r"\d+(?:\.\d+)?", text):
                seconds = sign * float(text) * bare
            elif _CLOCK.match(text):
                # 00:45 reads as 45 minutes on a booking and as 45 seconds on a countdown (status shows m:ss)
                raise ValueError(f"{value!r} is not a duration: a clock-style time is ambiguous here; {hint}")
            else:
                raise ValueError(f"{value!r} is not a duration; {hint}")
        else:
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            seconds = sign * ((parts["h"] + parts["hh"]) * 3600 + (parts["m"] + parts["mm"]) * 60 + parts["s"])
    else:
        raise ValueError(f"{value!r} is not a duration; {hint}")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration; {hint}")
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


def format_temperature(celsius: float, units: str = "metric", *, offset: bool = False) -> str:
    """A temperature for a person: ``24.0`` -> ``'24 °C'``; with ``imperial``, ``'75.2 °F'`` (one decimal, trailing ``.0`` dropped).
    An ``offset`` (warmer/cooler by) is only scaled: ``2`` -> ``'3.6 °F'``."""
    if units == "imperial":
        value, unit = (celsius * 9 / 5 if offset else to_fahrenheit(celsius)), "°F"
    else:
        value, unit = celsius, "°C"
    return f"{round(value, 1) + 0.0:g} {unit}"  # + 0.0: never "-0"


TWELVE_HOUR_REGIONS = frozenset({"US", "CA", "AU", "NZ", "IN", "PH", "PK", "EG", "SA", "BD", "MY", "CO"})
"""Where a locale writes the time with am/pm (CLDR's ``h`` hour cycle for English-speaking and a few other
regions); anywhere else 24-hour."""


def twelve_hour(clock: str, units: str, environ: dict[str, str]) -> bool:
    """``clock: 12h|24h`` says it; ``auto``: the daemon's locale (``LC_ALL``, ``LC_TIME``, ``LANG``, e.g.
    ``en_US.UTF-8`` -> 12-hour, ``de_DE.UTF-8`` -> 24-hour); with no regional locale (``C.UTF-8``, unset),
    12-hour for ``units: imperial`` and 24-hour otherwise."""
    if clock in ("12h", "24h"):
        return clock == "12h"
    for name in ("LC_ALL", "LC_TIME", "LANG"):
        value = environ.get(name, "")
        match = re.match(r"^[a-z]{2,3}_([A-Z]{2})", value)
        if match:
            return match.group(1) in TWELVE_HOUR_REGIONS
        if value:
            break  # a locale without a region (C, POSIX, C.UTF-8) says nothing about the clock
    return units == "imperial"


def say_clock(moment: datetime, *, twelve: bool = False) -> str:
    """The time of day of ``moment`` in its zone: ``19:05``, or ``7:05 pm``."""
    if not twelve:
        return f"{moment:%H:%M}"
    return f"{moment.hour % 12 or 12}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}"


def say_time(moment: datetime, today: date | None = None, *, twelve: bool = False) -> str:
    """A time for a person, in ``moment``'s zone: ``19:00`` (``7:00 pm``) when it is on ``today``, else
    with its day, ``Tue 2 Dec 19:00`` (``Tue 2 Dec 7:00 pm``). Never UTC ISO: the reader is in the room."""
    clock = say_clock(moment, twelve=twelve)
    if moment.date() == today:
        return clock
    return f"{moment:%a} {moment.day} {moment:%b} {clock}"


def format_clock(seconds: float) -> str:
    """A countdown-style clock: 3725 -> '1:02:05', 65 -> '1:05'."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _duration(signed: bool, bare: float = 1.0, above: float | None = None, at_most: float | None = None):
    def check(value: Any) -> float:
        try:
            seconds = parse_duration(value, signed=signed, bare=bare)
        except ValueError as exc:
            raise PydanticCustomError("duration", str(exc)) from None
        shown = _shown(value)
        if at_most is not None and seconds > at_most:
            raise PydanticCustomError("range", f"{shown} is too long; at most {format_duration(at_most)}")
        if signed and at_most is not None and seconds < -at_most:
            raise PydanticCustomError("range", f"{shown} is too short; at least -{format_duration(at_most)}")
        if above is not None and seconds <= above:
            raise PydanticCustomError("range", f"{shown} is too short; more than {format_duration(above)} is needed")
        return seconds

    return check


def _shown(value: Any) -> str:
    """A value as a message quotes it: ``'7h'``, ``420``."""
    return repr(value.strip()) if isinstance(value, str) else f"{value!r}"


def to_celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32) * 5 / 9


_TEMPERATURE = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(°?\s*[cf])?$", re.IGNORECASE)
TEMPERATURE_HINT = "write e.g. 24, 24C or 75F"


def parse_temperature(value: Any, *, offset: bool = False) -> float:
    """``24``, ``'24C'``, ``'24 °C'``, ``'75F'`` -> °C (an ``offset`` in °F is only scaled: ``'9F'`` -> 5).
    A bare number is °C. Raises ValueError with a message for users (no range check)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a temperature; {TEMPERATURE_HINT}")
    if isinstance(value, (int, float)):
        number, unit = float(value), "c"
    elif isinstance(value, str) and (match := _TEMPERATURE.match(value.strip())):
        number, unit = float(match[1]), (match[2] or "c")[-1].lower()
    else:
        raise ValueError(f"{value!r} is not a temperature; {TEMPERATURE_HINT}")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a temperature; {TEMPERATURE_HINT}")
    if unit == "f":
        number = number * 5 / 9 if offset else to_celsius(number)
    return round(number, 2) + 0.0


def _temperature(lo: float, hi: float, offset: bool = False):
    f_lo, f_hi = (lo * 9 / 5, hi * 9 / 5) if offset else (to_fahrenheit(lo), to_fahrenheit(hi))
    allowed = f"allowed {lo:g}–{hi:g} °C ({round(f_lo, 1):g}–{round(f_hi, 1):g} °F)"

    def check(value: Any) -> float:
        try:
            celsius = parse_temperature(value, offset=offset)
        except ValueError as exc:
            raise PydanticCustomError("number", f"{exc}; {allowed}") from None
        if not lo <= celsius <= hi:
            message = f"{_shown(value)} is out of range; {allowed}"
            bare = not isinstance(value, str) or not _TEMPERATURE.match(value.strip())[2]  # type: ignore[index]
            if bare and f_lo <= celsius <= f_hi:
                message += f"; a bare number is °C: did you mean {celsius:g}F?"
            raise PydanticCustomError("range", message)
        return celsius

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
"""A technical time of 0 or more (a fade, a timeout), held in seconds; a bare number is seconds."""
SignedSeconds = Annotated[float, BeforeValidator(_duration(signed=True)), _dur]
"""A technical time that may be negative; a bare number is seconds."""
Minutes = Annotated[float, BeforeValidator(_duration(signed=False, bare=MINUTE)), _dur]
"""A length a person plans (a booking's lead), held in seconds; a bare number is minutes."""
SignedMinutes = Annotated[float, BeforeValidator(_duration(signed=True, bare=MINUTE)), _dur]
"""A session time that may be negative (a phase counted back from the end); a bare number is minutes."""
SessionLength = Annotated[float, BeforeValidator(_duration(False, MINUTE, above=0, at_most=6 * HOUR)), _dur]
"""A session's length: more than 0, at most 6 h; a bare number is minutes."""
Extension = Annotated[float, BeforeValidator(_duration(True, MINUTE, at_most=6 * HOUR)), _dur]
"""What an extension adds (negative: shortens), at most 6 h either way; a bare number is minutes."""
Lead = Annotated[float, BeforeValidator(_duration(False, MINUTE, at_most=3 * HOUR)), _dur]
"""Pre-conditioning before a session, at most 3 h; a bare number is minutes."""
Celsius = Annotated[float, BeforeValidator(_temperature(5, 35))]
"""A thermostat target. 5–35 °C is what thermostats accept; room limits narrow it. ``75F`` is taken."""
CelsiusOffset = Annotated[float, BeforeValidator(_temperature(-5, 5, offset=True))]
"""Warmer (+) or cooler (-), in °C; ``9F`` is 5 °C."""
Percent = Annotated[int, BeforeValidator(_number(0, 100, " %", integer=True))]
"""Brightness in percent; 0 is off."""
Kelvin = Annotated[int, BeforeValidator(_number(1500, 6500, " K", integer=True))]
"""Colour temperature; warm light is 2200–3000 K."""
Volume = Annotated[int, BeforeValidator(_number(0, 100, "", integer=True))]
VolumeOffset = Annotated[int, BeforeValidator(_number(-50, 50, "", integer=True))]
HexColor = Annotated[str, BeforeValidator(_hex_color)]
Bool = Annotated[bool, BeforeValidator(_bool)]
"""``true`` or ``false`` and nothing else: pydantic would take ``"yes"``, ``"off"``, ``1`` or ``"0"`` as well."""


def state_words(state: dict, units: str = "metric") -> str:
    """A device state as shown in the status (``desired``/``reported``, an owed state) in words:
    ``19 °C (heat)`` (``19 °C`` when no mode is sent), ``off``, ``80 % at 4000 K``, ``on``."""
    if "target" in state or "mode" in state:
        target = state.get("target")
        mode = state.get("mode")
        if isinstance(target, (int, float)):
            return format_temperature(target, units) + (f" ({mode})" if mode else "")
        return str(mode or "as it was")
    if not state.get("on"):
        return "off"
    if "brightness" not in state:
        return "on"
    text = f"{state.get('brightness', 0):g} %"
    if state.get("color_temp"):
        text += f" at {state['color_temp']:g} K"
    elif state.get("color"):
        text += f" in {state['color']}"
    return text
