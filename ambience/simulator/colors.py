"""Colour conversions the bridges need: hex <-> RGB <-> CIE xy <-> hue/saturation.

xy uses the Philips Hue wide-gamut matrix with sRGB gamma, as Zigbee2MQTT does; good enough
for a simulator that must turn any colour form into the ``#rrggbb`` it keeps.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any

from ambience.devices.base import hex_to_rgb, rgb_to_hex

Z2M_NAMED_MIRED = {"coolest": 153, "cool": 250, "neutral": 370, "warm": 454, "warmest": 500}
"""Zigbee2MQTT's ``color_temp`` words."""


def _gamma(c: float) -> float:
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92


def _ungamma(c: float) -> float:
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def rgb_to_xy(r: float, g: float, b: float) -> tuple[float, float]:
    rl, gl, bl = (_gamma(v / 255) for v in (r, g, b))
    x = rl * 0.649926 + gl * 0.103455 + bl * 0.197109
    y = rl * 0.234327 + gl * 0.743075 + bl * 0.022598
    z = gl * 0.053077 + bl * 1.035763
    total = x + y + z
    if total == 0:
        return 0.3227, 0.329  # white point
    return round(x / total, 4), round(y / total, 4)


def xy_to_rgb(x: float, y: float) -> tuple[int, int, int]:
    if y <= 0:
        return 255, 255, 255
    cap_y = 1.0
    cap_x = cap_y / y * x
    cap_z = cap_y / y * (1 - x - y)
    r = cap_x * 1.656492 - cap_y * 0.354851 - cap_z * 0.255038
    g = -cap_x * 0.707196 + cap_y * 1.655397 + cap_z * 0.036152
    b = cap_x * 0.051713 - cap_y * 0.121364 + cap_z * 1.011530
    top = max(r, g, b, 1e-9)

    def channel(v: float) -> int:
        return round(_ungamma(max(0.0, v / top)) * 255)

    return channel(r), channel(g), channel(b)


def hs_to_rgb(hue: float, saturation: float, value: float = 100.0) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360, saturation / 100, value / 100)
    return round(r * 255), round(g * 255), round(b * 255)


def rgb_to_hs(r: float, g: float, b: float) -> tuple[float, float]:
    h, s, _ = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    return round(h * 360, 1), round(s * 100, 1)


def color_to_hex(color: Any) -> str | None:
    """Any colour form a bridge accepts (``{"x","y"}``, ``{"hex"}``, ``{"r","g","b"}``, ``{"h","s"}``,
    ``{"hue","saturation"}``, ``"#rrggbb"``, ``"r,g,b"``) as ``#rrggbb``; None if not understood."""
    try:
        if isinstance(color, str):
            text = color.strip()
            if "," in text:
                r, g, b = (float(v) for v in text.split(",")[:3])
                return rgb_to_hex(r, g, b)
            return rgb_to_hex(*hex_to_rgb(text[:7] if text.startswith("#") else "#" + text[:6]))
        if not isinstance(color, Mapping):
            return None
        if "hex" in color:
            return color_to_hex(str(color["hex"]))
        if {"r", "g", "b"} <= color.keys():
            return rgb_to_hex(float(color["r"]), float(color["g"]), float(color["b"]))
        if {"x", "y"} <= color.keys():
            return rgb_to_hex(*xy_to_rgb(float(color["x"]), float(color["y"])))
        hue = color.get("hue", color.get("h"))
        sat = color.get("saturation", color.get("s"))
        if hue is not None and sat is not None:
            return rgb_to_hex(*hs_to_rgb(float(hue), float(sat)))
    except (TypeError, ValueError):
        return None
    return None
