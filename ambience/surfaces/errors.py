"""The one error table: what each :class:`~ambience.errors.AmbienceError` is on every surface.

HTTP answers with the status, an MQTT command's result carries the code (``{"ok": false,
"code": "busy", ...}``), Home Assistant's buttons answer through the MQTT path, and the CLI
says what a daemon's HTTP status means (:func:`meaning_of_status`), so one mistake reads the
same wherever it was made. The first row whose class matches wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from ambience.app.commands import CommandInvalid
from ambience.errors import (
    AmbienceError,
    BookedAhead,
    BookingError,
    Busy,
    CommandError,
    DeviceError,
    InvalidFile,
    NotFound,
    PlayerError,
    StoreError,
)


@dataclass(frozen=True)
class Kind:
    http: int
    mqtt: str
    meaning: str


TABLE: tuple[tuple[type[AmbienceError], Kind], ...] = (
    (CommandInvalid, Kind(422, "invalid", "the command is not well formed; every problem is named")),
    (InvalidFile, Kind(422, "invalid", "a file or body with problems; every one is named")),
    (NotFound, Kind(404, "not_found", "an unknown room, preset, client or booking")),
    (Busy, Kind(409, "busy", "the room has a session running")),
    (BookedAhead, Kind(409, "booked", "it would run into a booking; send it again with force to go ahead")),
    (StoreError, Kind(503, "store", "the store cannot be written; nothing was changed")),
    (CommandError, Kind(409, "refused", "well formed, but not possible now")),
    (BookingError, Kind(409, "refused", "the booking cannot be made, moved or cancelled")),
    (DeviceError, Kind(503, "failed", "the broker or a device bridge")),
    (PlayerError, Kind(503, "failed", "the speaker")),
    (AmbienceError, Kind(409, "failed", "anything else the room cannot do now")),
)

INTERNAL = Kind(500, "internal", "a bug: see the daemon's log")


def kind_of(exc: BaseException) -> Kind:
    """The row for ``exc`` (``INTERNAL`` for anything outside ambience's error tree)."""
    for cls, kind in TABLE:
        if isinstance(exc, cls):
            return kind
    return INTERNAL


def meaning_of_status(status: int) -> str | None:
    """What a daemon's HTTP ``status`` means (the table read backwards), for a client with no message."""
    return next((kind.meaning for _, kind in TABLE if kind.http == status), None)


__all__ = ["INTERNAL", "TABLE", "Kind", "kind_of", "meaning_of_status"]
