"""The exceptions ambience raises.

Every error a user can cause is an :class:`AmbienceError`; its message is one line that
names what failed, the bad value and what is allowed, so the top level prints it as is.
Only an exception outside this tree deserves a traceback.

    AmbienceError
    ├── InvalidFile        a preset or config file with one or more problems (``issues``)
    │   ├── PresetError
    │   └── ConfigError
    ├── NotFound           an unknown room, preset, client, booking
    ├── CommandError       a command that is well formed but not allowed now
    │   └── Busy           the room has a session running
    ├── DeviceError        the broker or a device bridge
    ├── PlayerError        mpv / audio output
    ├── StoreError         the state store cannot be written (disk full, locked): nothing changed
    └── BookingError       scheduling
        └── CalendarError  an unreachable or malformed calendar feed (ambience.calendars)
"""

from __future__ import annotations

from dataclasses import dataclass


class AmbienceError(Exception):
    """Base of every error a user can cause or fix."""


@dataclass(frozen=True)
class Issue:
    """One problem in a file: where, what was there and what is allowed."""

    source: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}" if self.message else where


class InvalidFile(AmbienceError):
    """A file with one or more problems; ``issues`` holds every one of them."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class PresetError(InvalidFile):
    pass


class ConfigError(InvalidFile):
    pass


class NotFound(AmbienceError):
    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...] = ()):
        self.kind, self.name = kind, name
        msg = f"unknown {kind} {name!r}"
        if known:
            from difflib import get_close_matches

            close = get_close_matches(name, known, n=1)
            msg += f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
        else:
            msg += f"; there is no {kind} configured"
        super().__init__(msg)


class CommandError(AmbienceError):
    pass


class Busy(CommandError):
    """The room is running a session (HTTP 409)."""


class BookedAhead(CommandError):
    """A manual start or an extension would run into a booking of the room; ``force`` overrides (HTTP 409,
    code ``booked``). Names the booking and when the room is free."""


class DeviceError(AmbienceError):
    pass


class PlayerError(AmbienceError):
    pass


class StoreError(AmbienceError):
    """The store could not be written (a full disk, a database locked by another process).

    A command that meets it has changed nothing (HTTP 503); an ending that meets it is still
    applied from memory and persisted once the store works again.
    """


class BookingError(AmbienceError):
    pass


class CalendarError(BookingError):
    """A feed that cannot be fetched or parsed; the message names the feed and what is wrong."""
