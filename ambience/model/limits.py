"""A room's hard limits: every desired value is clamped to them."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ambience.model._base import Strict
from ambience.units import Celsius, Percent, Volume


class Limits(Strict):
    """Hard bounds for a room; every desired value is clamped to them."""

    min_temperature: Celsius = 16.0
    max_temperature: Celsius = 27.0
    max_volume: Volume = 70
    max_brightness: Percent = 100

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.min_temperature > self.max_temperature:
            raise PydanticCustomError(
                "value_error",
                f"min_temperature {self.min_temperature:g} is above max_temperature {self.max_temperature:g}",
            )
        return self
