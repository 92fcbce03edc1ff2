"""What ``/openapi.json`` says the API takes and answers, kept to what it really does.

The request bodies are read by hand (:func:`ambience.surfaces.http.app.read_body`, then the command models),
so their schemas are written here, each constraint the one its model enforces: the same
patterns, lengths and ranges, ``null`` where the model takes ``None``. Lengths are a number
of minutes or a string such as ``1h30m``; a string's pattern is exactly what
:func:`ambience.units.parse_duration` reads, but JSON Schema cannot bound the value a string
stands for, so a string's range is in its description only.

:func:`tidy` removes what FastAPI adds on its own that is not true here: its 422 body (ours
is :class:`Invalid`), listed even on routes that cannot answer 422.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

ROOM_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
PRESET_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
BOOKING_ID = r"^[A-Za-z0-9_-]{1,64}$"
LABEL = {"type": "string", "minLength": 1, "maxLength": 60}


# ---- error bodies -------------------------------------------------------------------------------


class Error(BaseModel):
    error: str


class Refused(Error):
    code: str = Field(
        description="What kind of refusal (ambience.surfaces.errors.TABLE): `busy`, `refused`, or `booked`: the "
        "session would run into a booking, and the same command with `force: true` goes ahead"
    )


class FieldIssue(BaseModel):
    field: str
    message: str


class Invalid(Error):
    issues: list[FieldIssue]


class Settings(BaseModel):
    """``GET /api/settings``: what the phone page shows, and how."""

    units: Literal["metric", "imperial"] = Field(description="The config's `units`: temperatures in °C or °F")
    home_visit: bool = Field(description="Some room is a home visit (`home_visit: true`): the page offers Leave")
    version: str = Field(description="ambience's version")
    favourites: dict[str, list[str]] = Field(
        description="Each room's `favourites`: preset ids, the page's big start buttons (ids the library lacks left out)"
    )


def error(description: str, model: type[BaseModel] = Error) -> dict[str, Any]:
    return {"model": model, "description": description}


EVERY_ROUTE: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "not HTTP, or request headers over 16 KiB (plain text)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    503: error("busy: every one of http.max_connections connections is answering; try again (Retry-After)"),
}
UNAUTHORIZED = error("no token, or a wrong one")
TOO_LARGE = error("the body is over 64 KiB")
INVALID = error("the body or query is not valid; every problem named", Invalid)
ROOM_UNKNOWN = error("unknown room")
ADMIN_ONLY = error("a phone's token: only the admin token pairs and revokes phones")
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    404: error("unknown room or preset"),
    409: error("the room is busy, has no session to change, or (`code: booked`) would run into a booking", Refused),
    413: TOO_LARGE,
    422: INVALID,
}


# ---- parameters ---------------------------------------------------------------------------------

RoomPath = Annotated[str, Path(description="A room's id", json_schema_extra={"pattern": ROOM_ID})]
RoomFilter = Annotated[
    str,
    Query(description="Only this room (empty or left out: every room)", json_schema_extra={"pattern": f"^$|{ROOM_ID}"}),
]
LabelPath = Annotated[str, Path(description="The client's label", min_length=1, max_length=60)]
PhonePath = Annotated[str, Path(description="A paired phone's id (ambience pair --list)", min_length=1, max_length=64)]
BookingIdPath = Annotated[str, Path(description="The booking's id", json_schema_extra={"pattern": BOOKING_ID})]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _day(value: Any) -> date:
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("day", "a day is written YYYY-MM-DD, e.g. 2026-12-01")


Day = Annotated[date | None, PlainValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
"""``YYYY-MM-DD`` and nothing else (pydantic alone reads ``0`` as 1970-01-01)."""


# ---- bodies -------------------------------------------------------------------------------------

# parse_duration strips the ends, removes every space, then reads [sign] (Nh)(Nm)(Ns) or a bare N.
_DIGITS = r"\d(?: *\d)*"
_NUMBER = rf"{_DIGITS}(?: *\. *{_DIGITS})?"
_UNITS = rf"(?=[^hms]*[hms])(?:{_NUMBER} *h *)?(?:{_NUMBER} *m *)?(?:{_NUMBER} *s *)?"
_SIGNS = {
    "signed": r"(?:[+-] *)?",
    "unsigned": r"(?:\+ *|-(?=(?:\D|0)*$) *)?",  # '-' only before zeros: -0 is 0
    "positive": r"(?=.*[1-9])(?:\+ *)?",
}


def duration(kind: str, minimum: float, maximum: float, description: str, example: str) -> dict[str, Any]:
    """A length field (bounds in seconds): minutes as a number in [minimum, maximum] (above 0 for ``positive``),
    or a string (a bare number in it is minutes too)."""
    number: dict[str, Any] = {"type": "number", "maximum": maximum / 60}
    if kind == "positive":
        number["exclusiveMinimum"] = 0
    else:
        number["minimum"] = minimum / 60
    text = {"type": "string", "pattern": rf"^\s*{_SIGNS[kind]}(?:{_NUMBER}|{_UNITS})\s*$"}
    return {
        "oneOf": [number, text],
        "description": f"{description} Minutes, or a string such as 45m, 1h30, 90s (a bare number is minutes); "
        f"at most {maximum / 3600:g} h.",
        "example": example,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or JSON ``null`` (a key the model defaults to None)."""
    if "oneOf" in schema:
        return {**schema, "oneOf": [*schema["oneOf"], {"type": "null"}]}
    return {"oneOf": [schema, {"type": "null"}]}


BOOLEAN = {"type": "boolean", "description": "true or false (JSON's own; nothing else is read as one)"}
"""What the models' booleans take (``units.Bool``: strict)."""

_YEAR = r"(?!0000)[0-9]{4}"
_DATE = (
    rf"{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
)
LOCAL_TIME = rf"^{_DATE}[ T](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{{1,6}})?)?$"
"""A day and a time, with no offset: a booking's start (a day alone is refused: midnight is never meant)."""


def body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": False, "properties": properties, "required": list(required)}
    return {"requestBody": {"required": bool(required), "content": {"application/json": {"schema": schema}}}}


SESSION_LENGTH = ("positive", 0, 6 * 3600)
LEAD = ("unsigned", 0, 3 * 3600)

FORCE = {
    **BOOLEAN,
    "default": False,
    "description": "Go ahead even if the session would run into a booking of the room (409 `booked` without it; "
    "the booked client then waits, and their session is shifted whole); " + BOOLEAN["description"],
}
NO_BODY = body({})
"""pause, resume, stop: no body, or ``{}``."""
START_BODY = body(
    {
        "preset": {"type": "string", "pattern": PRESET_ID, "example": "swedish-relaxation-60"},
        "duration": nullable(duration(*SESSION_LENGTH, "The session's length if not the preset's.", "45m")),
        "client": nullable({**LABEL, "description": "A client label; their comfort applies."}),
        "replace": {
            **BOOLEAN,
            "default": False,
            "description": "End a running session first; " + BOOLEAN["description"],
        },
        "lead": duration(*LEAD, "Pre-condition the room (climate only) for this long first.", "10m"),
        "force": FORCE,
    },
    ("preset",),
)
LEAVE_BODY = body(
    {
        "force": {
            **BOOLEAN,
            "default": False,
            "description": "Leave even though no room is a home visit (`home_visit: true`); 409 without it. "
            + BOOLEAN["description"],
        }
    }
)
"""``POST /api/visit/leave``: no body, ``{}`` or ``{"force": true}``."""
EXTEND_BODY = body(
    {
        "by": duration("signed", -6 * 3600, 6 * 3600, "Time to add; negative shortens, never to before now.", "10m"),
        "force": FORCE,
    },
    ("by",),
)
CLIENT_BODY = body(
    {
        "label": {**LABEL, "example": "A. Smith"},
        "comfort": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "temperature_offset": {"type": "number", "minimum": -5, "maximum": 5},
                "no_music": BOOLEAN,
                "max_brightness": nullable({"type": "integer", "minimum": 0, "maximum": 100}),
                "volume_offset": {"type": "integer", "minimum": -50, "maximum": 50},
            },
        },
    },
    ("label",),
)
_H24 = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
_H12 = r"(?:0?[1-9]|1[0-2])(?::[0-5][0-9])? ?(?:am|pm|a\.m\.|p\.m\.)"
_CLOCK = rf"(?:{_H24}|{_H12}|noon|midday|midnight)"
_DAYS = "today|tomorrow|tmrw|" + "|".join(
    f"{d}(?:{rest})?" for d, rest in (("mon", "day"), ("tue", "s|sday"), ("wed", "nesday"), ("thu", "rs?|rsday"),
                                      ("fri", "day"), ("sat", "urday"), ("sun", "day"))
)  # fmt: skip
WHEN = rf"^(?:at )?(?:(?:{_DAYS}) (?:at )?{_CLOCK}|{_CLOCK}(?: (?:{_DAYS}))?)$"
"""The times people write (:mod:`ambience.core.when`), in lower case with single spaces: 14:00, 2pm, tomorrow 9:30."""
AT_FORMS = (
    "The clinic's time as people write it: 14:00 (today, or tomorrow if past), 2pm, 'tomorrow 9:30', "
    "'mon 10:00', 2026-12-01 14:00; or RFC 3339 with an offset. Other ISO 8601 forms are read too"
)
AT = {
    "anyOf": [
        {"type": "string", "pattern": LOCAL_TIME},
        {"type": "string", "format": "date-time", "maxLength": 64},
        {"type": "string", "pattern": WHEN},
    ],
    "description": AT_FORMS,
    "example": "2026-12-01 14:00",
}
BOOK_BODY = body(
    {
        "room": {"type": "string", "pattern": ROOM_ID, "example": "studio"},
        "preset": {"type": "string", "pattern": PRESET_ID, "example": "express-30"},
        "at": AT,
        "duration": nullable(duration(*SESSION_LENGTH, "The session's length, if not the preset's.", "45m")),
        "lead": nullable(duration(*LEAD, "Pre-heat before the start (default from the config).", "15m")),
        "client": nullable({**LABEL, "example": "A. Smith"}),
    },
    ("room", "preset", "at"),
)
MOVE_BODY = body(
    {
        "at": {**AT, "description": "The new start. " + AT_FORMS},
        "room": nullable({"type": "string", "pattern": ROOM_ID, "description": "Another room (left out: the same)"}),
        "preset": nullable(
            {"type": "string", "pattern": PRESET_ID, "description": "Another preset (left out: the same)"}
        ),
        "duration": nullable(duration(*SESSION_LENGTH, "A new length (left out: as booked).", "45m")),
    },
    ("at",),
)

PAIRING_BODY = body(
    {"valid_for": duration("positive", 0, 3600, "How long the code may be used (default 10 minutes).", "10m")}
)
PAIR_BODY = body(
    {
        "code": {"type": "string", "minLength": 1, "maxLength": 32, "description": "The pairing code from the link",
                 "example": "K7M2Q9XHTA"},
        "name": nullable({"type": "string", "maxLength": 200, "description": "What to call this phone in "
                          "`ambience pair --list` (default: a phone)", "example": "Chrome on Android"}),
    },
    ("code",),
)  # fmt: skip


# ---- the whole schema ---------------------------------------------------------------------------

_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's own 422 (listed wherever a route has a parameter) out; ours stays where declared."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            if _FASTAPI_422 in str(answer):
                del operation["responses"]["422"]
    components = schema.get("components", {}).get("schemas", {})
    if _FASTAPI_422 not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


__all__ = ["tidy", "Settings", "Error", "Invalid", "Day", "RoomPath", "RoomFilter", "LabelPath", "BookingIdPath"]
