"""Clients: a label plus comfort preferences. Nothing medical is ever stored."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Annotated

from pydantic import Field

from ambience.model._base import Strict
from ambience.units import Bool, CelsiusOffset, Percent, VolumeOffset


class Comfort(Strict):
    """How a client likes the room, applied on top of any preset and clamped by the room's limits."""

    temperature_offset: CelsiusOffset = 0.0
    """Warmer (+) or cooler (-) than the preset, in °C."""
    no_music: Bool = False
    max_brightness: Percent | None = None
    """Light-sensitive clients: no light brighter than this."""
    volume_offset: VolumeOffset = 0
    """Louder (+) or quieter (-) than the preset, on the 0–100 volume scale."""


class Client(Strict):
    label: Annotated[str, Field(min_length=1, max_length=60)]
    comfort: Comfort = Comfort()


CLOSE = 0.85
"""How alike two labels (case, dots and spaces ignored) must be for one to be taken as a typo of the other."""


def _plain(label: str) -> str:
    return re.sub(r"[\W_]+", "", label.casefold())


def close_label(label: str, known: list[str]) -> str | None:
    """The known label ``label`` is probably a typo of (``'A Smith'`` -> ``'A. Smith'``), or None.

    Case, punctuation and spaces are ignored first; then the most alike at :data:`CLOSE` or more."""
    plain = _plain(label)
    best, score = None, 0.0
    for other in known:
        if other == label:
            return None  # it is known as written
        ratio = 1.0 if _plain(other) == plain else SequenceMatcher(None, plain, _plain(other)).ratio()
        if ratio > score:
            best, score = other, ratio
    return best if score >= CLOSE and plain else None
