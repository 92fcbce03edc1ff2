"""The commands every surface sends to the one dispatcher (:mod:`ambience.controller`).

HTTP bodies, MQTT payloads, CLI calls and scheduled jobs all become one of these models;
validation happens here, once. A bad command is refused whole with every problem named.

Lengths (``duration``, ``lead``, ``by``) are written ``45m``, ``1h30``; a bare number, in JSON or text,
is minutes on every surface (:data:`ambience.units.SessionLength`). What comes back keeps ``*_s`` seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from ambience.config.calendars import CalendarFeed
from ambience.errors import InvalidFile, Issue
from ambience.model._base import ClientLabel, PresetId, RoomId, Strict
from ambience.model.calendar import Event
from ambience.model.client import Comfort
from ambience.model.parse import issues_from
from ambience.units import Bool, Extension, Lead, SessionLength


class CommandInvalid(InvalidFile):
    """A command that is not well formed (HTTP 422, an MQTT error reply)."""


class Start(Strict):
    action: Literal["start"] = "start"
    room: RoomId
    preset: PresetId
    duration: SessionLength | None = None
    """The session's length, if not the preset's."""
    client: ClientLabel | None = None
    replace: Bool = False
    """Start even if a session is running in the room (it is ended first)."""
    lead: Lead = 0.0
    """Pre-conditioning before the session: only the climate runs."""
    force: Bool = False
    """Start even if the session would run into a booking of the room (the booked client then waits)."""


class Pause(Strict):
    action: Literal["pause"] = "pause"
    room: RoomId


class Resume(Strict):
    action: Literal["resume"] = "resume"
    room: RoomId


class Extend(Strict):
    action: Literal["extend"] = "extend"
    room: RoomId
    by: Extension
    force: Bool = False
    """Extend even if the session would then run into a booking of the room (the booked client then waits)."""


class Stop(Strict):
    action: Literal["stop"] = "stop"
    room: RoomId


class Status(Strict):
    action: Literal["status"] = "status"
    room: RoomId | None = None


class Book(Strict):
    action: Literal["book"] = "book"
    room: RoomId
    preset: PresetId
    at: Annotated[str, Field(min_length=1, max_length=64)]
    """The clinic's time as people write it (:mod:`ambience.core.when`: ``14:00``, ``tomorrow 9:30``,
    ``2026-12-01 14:00``), or ISO 8601 with an offset."""
    duration: SessionLength | None = None
    lead: Lead | None = None
    client: ClientLabel | None = None


class Cancel(Strict):
    action: Literal["cancel"] = "cancel"
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    room: RoomId | None = None
    """When given (e.g. from a room's MQTT topic), the booking must be in this room."""


class ClientAdd(Strict):
    """The body of ``POST /api/clients`` (and ``ambience clients add``'s options)."""

    label: ClientLabel
    comfort: Comfort = Comfort()


# ---- commands no surface sends as JSON: the CLI, the scheduler and the calendar poller build them ----


class AddClient(Strict):
    """Add a client, or replace the one with this label."""

    action: Literal["add_client"] = "add_client"
    label: ClientLabel
    comfort: Comfort = Comfort()


class RemoveClient(Strict):
    action: Literal["remove_client"] = "remove_client"
    label: ClientLabel


class Move(Strict):
    """Move a booking still to come: a new start, and optionally another room, preset or length (``PATCH
    /api/bookings/{id}``, ``ambience move``). What is left out stays as booked."""

    action: Literal["move"] = "move"
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    at: Annotated[str, Field(min_length=1, max_length=64)]
    """As :attr:`Book.at`."""
    room: RoomId | None = None
    preset: PresetId | None = None
    duration: SessionLength | None = None


@dataclass(frozen=True)
class FireBooking:
    """A booking's job fired (its kwargs as stored): start it, or let it wait, or record it missed."""

    booking: dict[str, Any]


@dataclass(frozen=True)
class SyncCalendar:
    """Bring one feed's bookings in step with its events, parsed for the window from ``now``."""

    feed: CalendarFeed
    events: tuple[Event, ...]
    now: datetime
    dry_run: bool = False
    """Only plan: the report of what the sync would do, nothing changed."""


SESSION_COMMANDS = (Start, Pause, Resume, Extend, Stop)
COMMANDS = (*SESSION_COMMANDS, Status, Book, Cancel, AddClient, RemoveClient, Move, FireBooking, SyncCalendar)
"""Every command the controller runs; parse_command reads only the first eight (what surfaces may send)."""
AnyCommand = (
    Start
    | Pause
    | Resume
    | Extend
    | Stop
    | Status
    | Book
    | Cancel
    | AddClient
    | RemoveClient
    | Move
    | FireBooking
    | SyncCalendar
)


Command = Annotated[Start | Pause | Resume | Extend | Stop | Status | Book | Cancel, Field(discriminator="action")]
ACTIONS = ("start", "pause", "resume", "extend", "stop", "status", "book", "cancel")
_adapter: TypeAdapter[Any] = TypeAdapter(Command)


class _Wrapper(Strict):
    command: Command


def parse_command(
    data: Any, source: str = "command"
) -> Start | Pause | Resume | Extend | Stop | Status | Book | Cancel:
    """Validate a command given as a dict (or JSON text/bytes). Raises :class:`CommandInvalid`."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandInvalid([Issue(source, "", "not UTF-8 text")]) from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise CommandInvalid([Issue(source, "", f"not valid JSON: {exc}")]) from None
        except RecursionError:
            raise CommandInvalid([Issue(source, "", "not valid JSON: nested too deeply")]) from None
    if not isinstance(data, dict):
        raise CommandInvalid(
            [Issue(source, "", f"a command is a JSON object with an action, not {type(data).__name__}")]
        )
    if "action" not in data:
        raise CommandInvalid([Issue(source, "action", f"is required; one of {', '.join(ACTIONS)}")])
    try:
        return _Wrapper.model_validate({"command": data}).command
    except ValidationError as exc:
        issues = issues_from(exc, _Wrapper, source)
        fixed = [Issue(i.source, i.field.removeprefix("command.").removeprefix("command"), i.message) for i in issues]
        raise CommandInvalid(fixed) from None
