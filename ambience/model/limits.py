"""A room's hard limits: every desired value is clamped to them."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ambience.model._base import RoleName, Strict
from ambience.units import Celsius, Percent, Seconds, Volume

HOUR = 3600.0
DEFAULT_MAX_ON: dict[str, float] = {
    "heater": 4 * HOUR,
    "table_warmer": 4 * HOUR,
    "stone_heater": 4 * HOUR,
    "towel_warmer": 14 * HOUR,
}
"""How long a heat-class switch may stay on in a row when the limits do not say (a towel cabinet is on
for a working day)."""


class Limits(Strict):
    """Hard bounds for a room; every desired value is clamped to them."""

    min_temperature: Celsius = 16.0
    max_temperature: Celsius = 27.0
    max_volume: Volume = 70
    max_brightness: Percent = 100
    max_on_time: dict[RoleName, Seconds] = {}
    """Per heat-class switch role, the longest it stays on in a row (``{heater: 3h}``); then it is
    switched off whatever the session wants. Defaults: heater, table and stone warmers 4 h, towel warmer 14 h."""

    def max_on(self, role: str) -> float:
        """The maximum on-time of a heat-class switch of ``role``."""
        return self.max_on_time.get(role, DEFAULT_MAX_ON.get(role, 4 * HOUR))

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.min_temperature > self.max_temperature:
            raise PydanticCustomError(
                "value_error",
                f"min_temperature {self.min_temperature:g} is above max_temperature {self.max_temperature:g}",
            )
        return self
