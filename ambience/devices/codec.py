"""Payload helpers every bridge adapter shares: kinds, transitions, text and JSON payloads, the JSON-light
schema of Home Assistant, Zigbee2MQTT and ESPHome, colour conversions. Pure."""

from __future__ import annotations

import colorsys
import math
import re
from typing import Any

from ambience.devices.base import (
    HUE,
    PERCENT,
    RGB,
    SETPOINT,
    TEMPERATURE,
    XY,
    Availability,
    ClimateReport,
    Dropped,
    LightReport,
    Reading,
    Report,
    brightness_bounds,
    hex_to_rgb,
    kelvin_to_mired,
    number,
    parse_json,
    pct_to_scale,
    rgb_to_hex,
    scale_to_pct,
)
from ambience.model.state import Light

KINDS = ("light", "climate", "switch", "sensor")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return kind


def wrong_kind(adapter: Any, wanted: str) -> ValueError:
    """The error for calling ``light()`` on a thermostat adapter (or the reverse): a programming error."""
    return ValueError(f"{type(adapter).__name__} was made for a {adapter.kind}, not a {wanted}")


def native_max(configured: float | None, default: float, hard_max: float) -> float:
    """The device's ``max_transition``: the configured value or ``default``, never above ``hard_max``."""
    value = default if configured is None else float(configured)
    return max(0.0, min(value, hard_max))


def clamp_transition(transition: float, max_transition: float) -> float:
    if not isinstance(transition, (int, float)) or math.isnan(transition) or transition <= 0:
        return 0.0
    return min(float(transition), max_transition)


def seconds(value: float, *, integer: bool = False) -> int | float:
    """A transition as it goes into JSON: whole seconds, or tenths (``3`` rather than ``3.0``)."""
    if integer:
        return int(round(value))
    tenths = round(value, 1)
    return int(tenths) if tenths == int(tenths) else tenths


def text(payload: bytes | bytearray | memoryview | str) -> str | None:
    """The payload as stripped text, or ``None`` if it is not UTF-8."""
    if isinstance(payload, str):
        return payload.strip()
    try:
        return bytes(payload).decode("utf-8").strip()
    except (UnicodeDecodeError, TypeError, ValueError):
        return None


def json_of(payload: bytes | bytearray | memoryview | str) -> Any:
    """The JSON in a payload, or ``None``."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "replace")
    try:
        return parse_json(bytes(payload))
    except (TypeError, ValueError, RecursionError):
        return None


def plain(payload: bytes | bytearray | memoryview | str) -> Any:
    """A plain payload's value (``21.5``, ``heat``; a JSON string unquoted); ``None`` if it is empty."""
    raw = text(payload)
    if raw is None:
        assert not isinstance(payload, str)  # text() reads every str
        return bytes(payload)  # not UTF-8: a value no check takes
    if raw.startswith('"'):
        decoded = json_of(payload)
        if isinstance(decoded, str):
            return decoded.strip()
    return raw or None


MISSING = object()
"""What :func:`at_path` answers for a path that is not in the data."""


def at_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``light.dim``, ``channels.0``); ``MISSING`` if there is none."""
    if path.strip() == ".":
        return data
    value = data
    for part in path.strip().strip(".").split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


CLIMATE_MODES = ("off", "heat", "cool", "auto", "heat_cool", "dry", "fan_only")
"""The modes HA's MQTT climate and ESPHome's climate publish."""

NO_READING = frozenset({"none", "nan", "unknown", "unavailable", ""})
"""What a sensor publishes while it has no reading: ESPHome ``None`` (``publish_nan_as_none``) or ``nan``
(esphome/components/mqtt/mqtt_sensor.cpp ``publish_state``), Home Assistant ``None``/``unknown``: it says nothing."""


def no_reading(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NO_READING)


def celsius(reading: Reading, field: str, value: Any, unit: str | None) -> float | None:
    """A measured temperature in °C from a value in ``unit`` (``°C``; ``°F`` is converted); ``None`` (noted
    in ``reading``) for anything that is not a temperature a room can have."""
    if no_reading(value):
        return None
    fahrenheit = unit is not None and unit.strip().lstrip("°º").upper() == "F"
    v = number(value)
    if v is not None and fahrenheit:
        v = round((v - 32) * 5 / 9, 2)
    if v is None or v not in TEMPERATURE:
        reading.drop(field, value, f"{TEMPERATURE}" + (" (the sensor reports °F)" if fahrenheit else ""))
        return None
    return v


def online_payload(
    payload: bytes | bytearray | memoryview | str, online: str = "online", offline: str = "offline"
) -> list[Report | Dropped]:
    """``[Availability]`` for an exact (case-insensitive) availability word, else ``[]``: a ``decode`` answer."""
    raw = text(payload)
    if raw is None:
        return []
    if raw.lower() == online.lower():
        return [Availability(True)]
    if raw.lower() == offline.lower():
        return [Availability(False)]
    return []


def normalized_hex(r: float, g: float, b: float) -> str | None:
    """A colour at full brightness (brightest channel 255), or ``None`` for black."""
    top = max(r, g, b)
    if not all(math.isfinite(c) for c in (r, g, b)) or top <= 0:
        return None
    return rgb_to_hex(*(255 * max(0.0, c) / top for c in (r, g, b)))


def xy_to_hex(x: float, y: float) -> str | None:
    """CIE 1931 xy (at full brightness) to sRGB hex."""
    if not (0 < y <= 1 and 0 <= x <= 1):
        return None
    X, Y, Z = x / y, 1.0, (1 - x - y) / y
    linear = (
        3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z,
        -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z,
        0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z,
    )
    top = max(linear)
    if top <= 0:
        return None
    encoded = []
    for c in linear:
        c = max(0.0, c / top)
        encoded.append(12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055)
    return normalized_hex(*encoded)


def hs_to_hex(hue: float, saturation: float) -> str | None:
    """Hue 0–360 °, saturation 0–100 % to hex at full brightness."""
    if hue not in HUE or saturation not in PERCENT:
        return None
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360, saturation / 100, 1.0)
    return normalized_hex(r, g, b)


def color_to_hex(color: Any, reading: Reading, prefer: str | None = None) -> str | None:
    """A reported ``color`` object (``{r,g,b}``, ``{x,y}``, ``{hue,saturation}``/``{h,s}``, ``{hex}``) to hex."""
    if color is None:
        return None
    if not isinstance(color, dict):
        reading.drop("color", color, "a colour is an object: {r,g,b}, {x,y}, {hue,saturation} or {hex}")
        return None

    def rgb() -> str | None:
        r, g, b = (reading.number(f"color.{k}", color.get(k), RGB) for k in ("r", "g", "b"))
        return None if r is None or g is None or b is None else normalized_hex(r, g, b)

    def xy() -> str | None:
        x, y = (reading.number(f"color.{k}", color.get(k), XY) for k in ("x", "y"))
        return None if x is None or y is None else xy_to_hex(x, y)

    def hs() -> str | None:
        h_key = "hue" if "hue" in color else "h"
        s_key = "saturation" if "saturation" in color else "s"
        h = reading.number(f"color.{h_key}", color.get(h_key), HUE)
        s = reading.number(f"color.{s_key}", color.get(s_key), PERCENT)
        return None if h is None or s is None else hs_to_hex(h, s)

    def hexa() -> str | None:
        value = color.get("hex")
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", value.strip()):
            return normalized_hex(*hex_to_rgb(value.strip()))
        reading.drop("color.hex", value, "a hex colour is #rrggbb")
        return None

    order = {"xy": (xy, hs, rgb, hexa), "hs": (hs, xy, rgb, hexa)}.get(prefer or "", (rgb, hexa, xy, hs))
    for convert in order:
        found = convert()
        if found is not None:
            return found
    return None


_CT_MODES = {"color_temp", "cwww", "white"}


_COLOR_MODES = {"hs", "xy", "rgb", "rgbw", "rgbww", "rgbct", "rgb_white", "rgb_color_temperature"}


def json_light_command(
    light: Light,
    transition: float,
    *,
    scale: int,
    mired_lo: int = 153,
    mired_hi: int = 500,
    color: str = "rgb",
    integer_transition: bool = False,
) -> dict[str, Any]:
    """A JSON-schema light command. ``color``: ``'rgb'`` (``{r,g,b}``) or ``'hex'`` (``{hex}``, Z2M)."""
    t = seconds(transition, integer=integer_transition)
    if not light.on:
        return {"state": "OFF", "transition": t}
    data: dict[str, Any] = {"state": "ON", "brightness": pct_to_scale(light.brightness, scale)}
    if light.color:
        if color == "hex":
            data["color"] = {"hex": light.color.lower()}
        else:
            r, g, b = hex_to_rgb(light.color)
            data["color"] = {"r": r, "g": g, "b": b}
    elif light.color_temp:
        data["color_temp"] = kelvin_to_mired(light.color_temp, mired_lo, mired_hi)
    data["transition"] = t
    return data


def json_light_state(data: dict, *, scale: int, reading: Reading, last: Light | None = None) -> Light | None:
    """What a JSON-schema state message says the light shows; ``None`` if it does not say.

    A bad brightness of a light that is on keeps the ``last`` one reported (nothing is said without one).
    """
    on = reading.switch("state", data.get("state"))
    if on is None:
        return None
    mode = data.get("color_mode") if isinstance(data.get("color_mode"), str) else None
    ct = reading.color_temp("color_temp", data.get("color_temp"))
    color = color_to_hex(data.get("color"), reading, prefer=mode)
    if mode in _CT_MODES or (mode is None and ct is not None):
        color = None
    elif mode in _COLOR_MODES and color is not None:
        ct = None
    elif mode in _COLOR_MODES:
        color = None
    if ct is not None and color is not None:
        color = None
    if not on:
        return Light(0.0, ct, color)
    if data.get("brightness") is None:
        return Light(100.0, ct, color)
    level = reading.number("brightness", data.get("brightness"), brightness_bounds(scale))
    if level is not None:
        return Light(scale_to_pct(level, scale), ct, color)
    return Light(last.brightness, ct, color) if last is not None and last.on else None


class JsonLightState:
    """One JSON-schema light's state messages, read one by one (the last light said is kept)."""

    def __init__(self, scale: int):
        self.scale = scale
        self.light: Light | None = None

    def decode(self, payload: bytes) -> list[Report | Dropped]:
        reading = Reading()
        data = reading.json_object(payload)
        light = None if data is None else json_light_state(data, scale=self.scale, reading=reading, last=self.light)
        if light is None:
            return reading.out()
        self.light = light
        return reading.out(LightReport(light))


class PlainClimate:
    """A thermostat whose target, mode and measured temperature are plain payloads, each on its own topic."""

    CHECKS = {"target": SETPOINT, "current": TEMPERATURE}

    def __init__(
        self, target: str | None, mode: str | None, current: str | None, paths: dict[str, str | None] | None = None
    ):
        self.topics = {"target": target, "mode": mode, "current": current}
        self.paths = {key: path for key, path in (paths or {}).items() if path}
        """Where a value is in a JSON state (``{"temperature": 21.5, "mode": "heat"}``): dotted paths, per value."""
        self.values: dict[str, Any] = {"target": None, "mode": None, "current": None}

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        reading = Reading()
        changed = False
        for key, its_topic in self.topics.items():
            if its_topic and topic == its_topic:
                field, value = key, plain(payload)
                if key in self.paths:
                    data = json_of(payload)
                    found = at_path(value if data is None else data, self.paths[key])
                    if found is MISSING:
                        continue  # the message does not say this one (a JSON state may carry only some)
                    field, value = f"{key} at {self.paths[key]}", found
                got: str | float | None
                if key == "mode":
                    got = reading.mode(field, value, CLIMATE_MODES)
                else:
                    got = reading.number(field, value, self.CHECKS[key])
                if got is not None:
                    self.values[key], changed = got, True
        return reading.out(ClimateReport(**self.values) if changed else None)
