"""Calendar feeds in the config: where a feed is, and the rules that map its events to rooms and presets."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ambience.errors import CalendarError, Issue, NotFound
from ambience.model._base import Strict
from ambience.model.calendar import Event
from ambience.units import Minutes, Seconds, format_duration

LENGTH_TOLERANCE = 60.0
"""Seconds either side within which an event's length matches a preset rule's ``length``."""


MIN_POLL = 10.0
CALDAV_POLL = 60.0
"""A CalDAV calendar's default poll: it answers a query of the window at once, so every minute is cheap."""


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


def _same(wanted: str, found: str) -> bool:
    return wanted.strip().casefold() == found.strip().casefold()


class RoomRule(Strict):
    """Events matching every criterion given (location, title, category, calendar, practitioner) go to ``room``."""

    room: Name
    location: Text | None = None
    """Part of the event's LOCATION, any case: ``Treatment Room 2``."""
    title: Regex | None = None
    """A regular expression searched in the event's SUMMARY, any case."""
    category: Text | None = None
    """One of the event's CATEGORIES, whole, any case: ``Hot stone``."""
    calendar: Text | None = None
    """The calendar's name, whole, any case: its X-WR-CALNAME, or the CalDAV calendar's name."""
    practitioner: Text | None = None
    """The name (CN) or e-mail address of the event's ORGANIZER or one of its ATTENDEEs, or the feed's
    ``practitioner``, whole, any case: ``Anna Smith``."""

    @model_validator(mode="after")
    def _says_something(self) -> RoomRule:
        if all(getattr(self, key) is None for key in CRITERIA):
            raise PydanticCustomError(
                "value_error",
                f"the rule for room {self.room!r} needs {', '.join(CRITERIA[:-1])} or {CRITERIA[-1]}; "
                "for every event use default_room",
            )
        return self

    def matches(self, event: Event) -> bool:
        if self.location is not None and self.location.casefold() not in event.location.casefold():
            return False
        if self.title is not None and re.search(self.title, event.summary, re.IGNORECASE) is None:
            return False
        if self.category is not None and not any(_same(self.category, c) for c in event.categories):
            return False
        if self.calendar is not None and not _same(self.calendar, event.calendar):
            return False
        return self.practitioner is None or any(_same(self.practitioner, p) for p in event.people)

    def describe(self) -> str:
        parts = [f"location contains {self.location!r}"] if self.location is not None else []
        parts += [f"title ~ /{self.title}/"] if self.title is not None else []
        parts += [f"{key} {getattr(self, key)!r}" for key in CRITERIA[2:] if getattr(self, key) is not None]
        return " and ".join(parts)


CRITERIA = ("location", "title", "category", "calendar", "practitioner")
"""What a room rule can match on, in the order :meth:`RoomRule.describe` names them."""


class PresetRule(Strict):
    """Events matching every criterion given (any keyword, the title, the length) get ``preset``."""

    preset: Name
    keywords: list[Text] = []
    """Any of these, any case, in the event's SUMMARY or DESCRIPTION."""
    title: Regex | None = None
    length: Minutes | None = None
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


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
"""The name of an environment variable that holds a secret."""


def read_secret(file: Path | None, env: str | None, owner: str, key: str) -> str | None:
    """A secret from ``file`` (stripped) or the environment variable ``env`` (``<key>_file``, ``<key>_env``
    of ``owner``); None if neither is given. Raises :class:`CalendarError` when it cannot be read or is empty."""
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CalendarError(f"{owner}: cannot read {key}_file {str(file)!r}: {reason}") from None
        if not value:
            raise CalendarError(f"{owner}: {key}_file {str(file)!r} is empty")
        return value
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise CalendarError(f"{owner}: {key}_env names {env}, which is not set in the daemon's environment")
        return value
    return None


def _one_secret(file: Path | None, env: str | None, key: str) -> None:
    if file is not None and env is not None:
        raise PydanticCustomError("value_error", f"give {key}_file or {key}_env, not both")


class CalDavSource(Strict):
    """A calendar on a CalDAV server (Nextcloud, Radicale, Baïkal, iCloud, Fastmail…), read through CalDAV."""

    url: str
    """The server's (or the calendar's own) ``https://…`` address."""
    calendar: Text | None = None
    """The calendar's name (its display name) among the account's calendars; without it ``url`` is the calendar's."""
    username: str | None = None
    password_file: Path | None = None
    """A file holding the password (relative to the config file's folder), or:"""
    password_env: EnvName | None = None
    """The environment variable that holds the password."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise PydanticCustomError(
                "value_error", f"{shown_url(value)!r} is not a CalDAV server URL; write https://…"
            )
        return value.strip()

    @model_validator(mode="after")
    def _one_password(self) -> CalDavSource:
        _one_secret(self.password_file, self.password_env, "password")
        return self

    def password(self, feed: str) -> str | None:
        return read_secret(self.password_file, self.password_env, f"calendar {feed!r}: caldav", "password")


class CalendarFeed(Strict):
    """One feed (an ICS ``url`` or ``file``, or a ``caldav`` calendar) and how its events become bookings."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    url: str | None = None
    """``https://…``, ``webcal://…`` (fetched as https) or ``file:///…``. Often holds a secret: never shown whole."""
    file: Path | None = None
    """An ICS file, e.g. one a booking system's export job writes; relative to the config file's folder."""
    caldav: CalDavSource | None = None
    """A calendar read through CalDAV instead of an ICS feed."""
    poll: Seconds = 300.0
    """How often to sync: default 5 min for an ICS feed, 1 min for a CalDAV calendar."""
    practitioner: Text | None = None
    """Whose feed this is (one feed per practitioner): ``practitioner`` room rules match it on every event."""
    webhook_secret_file: Path | None = None
    """The shared secret of the feed's signed webhook (``POST /api/calendars/<name>/webhook``), or:"""
    webhook_secret_env: EnvName | None = None
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

    @model_validator(mode="before")
    @classmethod
    def _default_poll(cls, data: Any) -> Any:
        if isinstance(data, dict) and "poll" not in data and data.get("caldav") is not None:
            return {**data, "poll": CALDAV_POLL}
        return data

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
        if [self.url, self.file, self.caldav].count(None) != 2:
            raise PydanticCustomError("value_error", f"calendar {self.name!r} needs exactly one of url, file or caldav")
        _one_secret(self.webhook_secret_file, self.webhook_secret_env, "webhook_secret")
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
        if self.caldav is not None:
            calendar = f" calendar {self.caldav.calendar!r}" if self.caldav.calendar else ""
            return f"caldav {shown_url(self.caldav.url)}{calendar}"
        return str(self.file) if self.file is not None else shown_url(self.url or "")

    def webhook_secret(self) -> str | None:
        """The webhook's shared secret; None if the feed takes no webhook. Raises CalendarError if unreadable."""
        return read_secret(
            self.webhook_secret_file, self.webhook_secret_env, f"calendar {self.name!r}", "webhook_secret"
        )

    def resolved(self, base: Path) -> CalendarFeed:
        """This feed with its relative files (``file``, the secrets' files) made relative to ``base``
        (the config file's folder)."""

        def at(path: Path | None) -> Path | None:
            path = path.expanduser() if path is not None else None
            return path if path is None or path.is_absolute() else base / path

        caldav = self.caldav
        if caldav is not None and caldav.password_file is not None:
            caldav = caldav.model_copy(update={"password_file": at(caldav.password_file)})
        return self.model_copy(
            update={"file": at(self.file), "webhook_secret_file": at(self.webhook_secret_file), "caldav": caldav}
        )


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
