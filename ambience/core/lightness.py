"""Brightness fades that look even: mixed in perceived lightness (CIE L*), not in brightness. Pure.

A brightness in % is taken as linear light (Y = % / 100) and its lightness is CIE L* = 116·Y^(1/3) − 16
(903.3·Y below Y = 0.008856). A fade that is a straight line in L* changes by the same perceived amount
every minute; a straight line in brightness (the earlier curve) seems to crawl at first and then to fall
away at the dim end (bench P7). :func:`mix` is the one place the timeline and the reconciler blend two
brightnesses, so what the timeline says a light is at and what the reconciler sends agree.
"""

from __future__ import annotations

_EPSILON = 216 / 24389
"""Y below which L* is linear (0.008856)."""
_KAPPA = 24389 / 27
"""903.3: L* = κ·Y there."""


def lightness(brightness: float) -> float:
    """CIE L* (0–100) of a brightness in % (0–100), taken as linear light."""
    y = min(1.0, max(0.0, brightness / 100))
    return 116 * y ** (1 / 3) - 16 if y > _EPSILON else _KAPPA * y


def brightness(lstar: float) -> float:
    """The brightness in % whose :func:`lightness` is ``lstar``."""
    lstar = min(100.0, max(0.0, lstar))
    y = ((lstar + 16) / 116) ** 3 if lstar > _KAPPA * _EPSILON else lstar / _KAPPA
    return y * 100


def mix(a: float, b: float, f: float) -> float:
    """The brightness ``f`` (0–1) of the way from ``a`` to ``b`` (in %), evenly in perceived lightness."""
    if f <= 0:
        return a
    if f >= 1 or a == b:
        return b
    return brightness(lightness(a) + (lightness(b) - lightness(a)) * f)
