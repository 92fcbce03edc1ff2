"""Calendar feeds in the config: where a feed is, and the rules that map its events to rooms and presets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ambience.errors import Issue, NotFound
from ambience.model._base import Strict
from ambience.model.calendar import Event
from ambience.units import Seconds, format_duration

LENGTH_TOLERANCE = 60.0
"""Seconds either side within which an event's length matches a preset rule's ``length``."""


MIN_POLL = 10.0


SCHEMES = ("http", "https", "webcal", "file")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError("value_error", f"{value!r} is not a regular expression: {exc}") from None
    return value


Regex = Annotated[str, Field(min_length=1), AfterValidator(_regex)]
"""A regular expression, searched for anywhere in the text, ignoring case."""


Name = Annotated[str, Field(min_length=1, max_length=64)]


Text = Annotated[str, Field(min_length=1)]


class RoomRule(Strict):
    """Events whose LOCATION contains ``location`` and whose SUMMARY matches ``title`` go to ``room``."""

    room: Name
    location: Text | None = None
    """Part of the event's LOCATION, any case: ``Treatment Room 2``."""
    title: Regex | None = None
    """A regular expression searched in the event's SUMMARY, any case."""

    @model_validator(mode="after")
    def _says_something(self) -> RoomRule:
        if self.location is None and self.title is None:
            raise PydanticCustomError(
                "value_error",
                f"the rule for room {self.room!r} needs location or title; for every event use default_room",
            )
        return self

    def matches(self, event: Event) -> bool:
        if self.location is not None and self.location.casefold() not in event.location.casefold():
            return False
        return self.title is None or re.search(self.title, event.summary, re.IGNORECASE) is not None

    def describe(self) -> str:
        parts = [f"location contains {self.location!r}"] if self.location is not None else []
        parts += [f"title ~ /{self.title}/"] if self.title is not None else []
        return " and ".join(parts)


class PresetRule(Strict):
    """Events matching every criterion given (any keyword, the title, the length) get ``preset``."""

    preset: Name
    keywords: list[Text] = []
    """Any of these, any case, in the event's SUMMARY or DESCRIPTION."""
    title: Regex | None = None
    length: Seconds | None = None
    """The event's length, ± 1 minute: ``30m``."""

    @model_validator(mode="after")
    def _says_something(self) -> PresetRule:
        if not self.keywords and self.title is None and self.length is None:
            raise PydanticCustomError(
                "value_error",
                f"the rule for preset {self.preset!r} needs keywords, title or length; for every event use default_preset",
            )
        return self

    def matches(self, event: Event) -> bool:
        if self.keywords:
            text = f"{event.summary}\n{event.description}".casefold()
            if not any(word.casefold() in text for word in self.keywords):
                return False
        if self.title is not None and re.search(self.title, event.summary, re.IGNORECASE) is None:
            return False
        return self.length is None or abs(event.length - self.length) <= LENGTH_TOLERANCE

    def describe(self) -> str:
        parts = [f"keywords {', '.join(repr(k) for k in self.keywords)}"] if self.keywords else []
        parts += [f"title ~ /{self.title}/"] if self.title is not None else []
        parts += [f"length {format_duration(self.length)}"] if self.length is not None else []
        return " and ".join(parts)


class CalendarFeed(Strict):
    """One ICS feed (``url`` or ``file``) and how its events become bookings."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    url: str | None = None
    """``https://…``, ``webcal://…`` (fetched as https) or ``file:///…``. Often holds a secret: never shown whole."""
    file: Path | None = None
    """An ICS file, e.g. one a booking system's export job writes; relative to the config file's folder."""
    poll: Seconds = 300.0
    horizon_days: Annotated[int, Field(ge=1, le=366)] = 14
    """Events starting within this many days from now are booked."""
    lead: Seconds | None = None
    """Pre-heat for this feed's bookings; default: ``bookings.lead``."""
    rooms: list[RoomRule] = []
    presets: list[PresetRule] = []
    default_room: Name | None = None
    """The room of an event no room rule matches; without it such an event is skipped."""
    default_preset: Name | None = None
    """The preset of an event no preset rule matches; without it such an event is skipped."""
    client: Literal["initials", "none"] = "initials"
    """The booking's client label from the event's title: the initials of the part after its last dash
    ("Deep tissue 60 – F. White" → "F. W."), or none. The title itself is never kept or shown."""

    @field_validator("poll")
    @classmethod
    def _not_too_often(cls, value: float) -> float:
        if value < MIN_POLL:
            raise PydanticCustomError(
                "value_error", f"{format_duration(value)} is too often; poll at most every {MIN_POLL:g}s"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in SCHEMES or not (parts.netloc or parts.scheme.lower() == "file"):
            raise PydanticCustomError(
                "value_error", f"{shown_url(value)!r} is not a feed URL; write https://…, webcal://… or file:///…"
            )
        return value.strip()

    @model_validator(mode="after")
    def _complete(self) -> CalendarFeed:
        if (self.url is None) == (self.file is None):
            raise PydanticCustomError("value_error", f"calendar {self.name!r} needs exactly one of url or file")
        if not self.rooms and self.default_room is None:
            raise PydanticCustomError("value_error", f"calendar {self.name!r} has no rooms rules and no default_room")
        if not self.presets and self.default_preset is None:
            raise PydanticCustomError(
                "value_error", f"calendar {self.name!r} has no presets rules and no default_preset"
            )
        return self

    @property
    def source(self) -> str:
        """The ``source`` of the bookings made from this feed."""
        return f"calendar:{self.name}"

    def where(self) -> str:
        """The file, or the URL without what may be a secret (query, most of the path)."""
        return str(self.file) if self.file is not None else shown_url(self.url or "")

    def resolved(self, base: Path) -> CalendarFeed:
        """This feed with a relative ``file`` made relative to ``base`` (the config file's folder)."""
        if self.file is None:
            return self
        path = self.file.expanduser()
        return self.model_copy(update={"file": path if path.is_absolute() else base / path})


def _unique_names(feeds: list[CalendarFeed]) -> list[CalendarFeed]:
    seen: set[str] = set()
    for feed in feeds:
        if feed.name in seen:
            raise PydanticCustomError("value_error", f"calendar name {feed.name!r} is used twice; names must be unique")
        seen.add(feed.name)
    return feeds


CalendarsConfig = Annotated[list[CalendarFeed], AfterValidator(_unique_names)]
"""The ``calendars:`` list of the config."""


def check_feeds(feeds: Iterable[CalendarFeed], rooms: Iterable[str], presets: Iterable[str] | None, source: str,
                prefix: str = "bookings.calendars") -> list[Issue]:  # fmt: skip
    """Every room and preset the feeds name that is not configured (``presets=None``: rooms only)."""
    rooms, known = sorted(rooms), None if presets is None else sorted(presets)
    issues = []
    for i, feed in enumerate(feeds):
        named = [(f"rooms[{j}].room", r.room) for j, r in enumerate(feed.rooms)]
        named += [("default_room", feed.default_room)] if feed.default_room else []
        for where, room in named:
            if room not in rooms:
                issues.append(Issue(source, f"{prefix}[{i}].{where}", str(NotFound("room", room, rooms))))
        if known is None:
            continue
        named = [(f"presets[{j}].preset", p.preset) for j, p in enumerate(feed.presets)]
        named += [("default_preset", feed.default_preset)] if feed.default_preset else []
        for where, preset in named:
            if preset not in known:
                issues.append(Issue(source, f"{prefix}[{i}].{where}", str(NotFound("preset", preset, known))))
    return issues


def shown_url(url: str) -> str:
    """``https://calendar.example.com/…/basic.ics``: private feed URLs carry their secret in the path or query."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return url
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + ("…/" if len(segments) > 1 else "") + (segments[-1] if segments else "")
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{path.rstrip('/')}"
