"""Clients: a label plus comfort preferences. Nothing medical is ever stored."""

from __future__ import annotations

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
