"""The strict base model and the identifiers every layer validates the same way."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _on_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as False and `on` as True.
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value.lower() if isinstance(value, str) else value


OnOff = Annotated[Literal["on", "off"], BeforeValidator(_on_off)]


RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


RoomId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


PresetId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


ClientLabel = Annotated[str, Field(min_length=1, max_length=60)]


ROOM_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
