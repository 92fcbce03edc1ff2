"""Calendar planning: an ICS feed's text, its rules and the bookings made from it before, to what a sync
should do. Pure: it takes the text and ``now``; fetching the feed and carrying the plan out through the
booking service is :mod:`ambience.app.calendars`::

    text ─► parse_feed ─► [Event] ─► plan_feed(feed, events, schedule, now) ─► Plan ─┬─► planned: the dry run
            (RRULEs expanded,         plan_sync: map_event by the rules,               └─► (app) apply_plan
             times made aware)          compare by UID;                                      ─► SyncReport
                                      check_plan: as the booking service will check it

The dry run and the sync make the one plan, against the same :class:`Schedule` (every booking, the rooms,
the presets' lengths and leads): :func:`check_plan` refuses what the booking service will refuse (an
overlap of the sessions with another booking or one the same plan makes; an unknown room or preset; a
move of a booking whose time has come), in the order the apply makes the changes, so the dry run's
counts and reasons are what the sync does.

A booking made from feed ``clinic`` has ``source="calendar:clinic"`` and ``uid`` = the event's UID,
or ``UID@<RECURRENCE-ID in UTC, ISO 8601>`` for an occurrence of a recurring event, so a sync is
idempotent: an event already booked as it is stays untouched, a moved or changed one is rescheduled,
one cancelled (``STATUS:CANCELLED``), removed (or moved out of the window), or no longer matching a
rule is cancelled. Only events starting within ``[now, now + horizon_days)`` count, and only bookings
that have not started yet are changed.

**Discreet**: an event's title and description often name the client ("Deep tissue 60 – F. White").
The rules read them to pick a room and a preset; nothing else does. What leaves planning (a
:class:`Want`, a :class:`Change`, a skip or refusal reason, a log line) names an event by its time and
UID, and its client by a *client label* made by the feed's ``client`` rule (:func:`client_label`:
the initials "F. W.", or none).

A feed that cannot be parsed raises :class:`CalendarError` naming it (a whole, valid feed or nothing:
a partial picture would cancel bookings).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ambience.core.booking import Booking, admit, booking_lead, later
from ambience.errors import AmbienceError, BookingError, CalendarError, NotFound
from ambience.model.calendar import Event
from ambience.units import format_duration, say_clock

if TYPE_CHECKING:  # icalendar and recurring_ical_events are imported when a feed is parsed: ~50 ms off every CLI run
    import icalendar

log = logging.getLogger(__name__)

TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
"""Properties that decide when an event is: one broken makes the whole feed unusable."""


# ---- what planning needs of a feed -----------------------------------------------------------------


class RoomRule(Protocol):
    @property
    def room(self) -> str: ...

    def matches(self, event: Event) -> bool: ...


class PresetRule(Protocol):
    @property
    def preset(self) -> str: ...

    def matches(self, event: Event) -> bool: ...


class FeedRules(Protocol):
    """The parts of a feed planning reads: its name, its window and its rules.
    :class:`ambience.config.calendars.CalendarFeed` is one (the config is above the core)."""

    @property
    def name(self) -> str: ...

    @property
    def horizon_days(self) -> int: ...

    @property
    def rooms(self) -> Sequence[RoomRule]: ...

    @property
    def presets(self) -> Sequence[PresetRule]: ...

    @property
    def default_room(self) -> str | None: ...

    @property
    def default_preset(self) -> str | None: ...

    @property
    def source(self) -> str: ...

    @property
    def lead(self) -> float | None: ...

    @property
    def client(self) -> str:
        """The client label rule: ``initials`` or ``none`` (:func:`client_label`)."""
        ...

    @property
    def practitioner(self) -> str | None:
        """Whose feed this is: every event of it is that practitioner's, for ``practitioner`` rules."""
        ...


# ---- parsing -----------------------------------------------------------------------------------------


def first_line(exc: BaseException, limit: int = 160) -> str:
    text = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _calendar(text: str, source: str) -> icalendar.Calendar:
    import icalendar

    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise CalendarError(f"calendar {source!r}: the feed is empty")
    if not body[:15].upper().startswith("BEGIN:VCALENDAR"):
        start = " ".join(body[:40].split())
        raise CalendarError(f"calendar {source!r}: not an iCalendar feed; it starts with {start!r}")
    if not body.rstrip().upper().endswith("END:VCALENDAR"):
        raise CalendarError(
            f"calendar {source!r}: the feed is incomplete: it does not end with END:VCALENDAR (cut off in transfer?)"
        )
    try:
        return icalendar.Calendar.from_ical(body)
    except Exception as exc:  # a parser of untrusted text: whatever it raises means a bad feed
        raise CalendarError(f"calendar {source!r}: not valid iCalendar: {first_line(exc)}") from None


def _check_times(calendar: icalendar.Calendar, source: str) -> None:
    """Refuse the feed if any event's timing is broken: a partial picture would cancel bookings."""
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID", "")).strip()
        who = f"event {uid!r}" if uid else "an event with no UID"  # never its title: it may name the client
        for prop, message in getattr(event, "errors", ()):
            if str(prop).upper() in TIME_PROPERTIES:
                raise CalendarError(f"calendar {source!r}: {who} has a bad {prop}: {first_line(ValueError(message))}")
        if "DTSTART" not in event:
            raise CalendarError(f"calendar {source!r}: {who} has no DTSTART")


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _texts(value: Any) -> list[Any]:
    """A property that may appear once or many times (ATTENDEE, CATEGORIES), as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


def _categories(component: Any) -> tuple[str, ...]:
    names = []
    for prop in _texts(component.get("CATEGORIES")):
        names += [str(name).strip() for name in getattr(prop, "cats", [prop])]
    return tuple(name for name in names if name)


def _people(component: Any) -> tuple[str, ...]:
    """The CN and the address of the ORGANIZER and each ATTENDEE ("Anna Smith", "anna@clinic.example")."""
    people = []
    for prop in [*_texts(component.get("ORGANIZER")), *_texts(component.get("ATTENDEE"))]:
        name = str(getattr(prop, "params", {}).get("CN", "")).strip()
        address = re.sub(r"^mailto:", "", str(prop).strip(), flags=re.IGNORECASE)
        people += [text for text in (name, address) if text]
    return tuple(people)


def _event(component: Any, recurring: set[str], tz: tzinfo, calendar: str = "") -> Event | None:
    start = component["DTSTART"].dt
    if not isinstance(start, datetime):
        return None  # all day: a holiday or a note, not an appointment
    end = component["DTEND"].dt if "DTEND" in component else start
    end = end if isinstance(end, datetime) else start
    uid = str(component.get("UID", "")).strip()
    key = uid
    rid = component.get("RECURRENCE-ID")
    if uid in recurring and rid is not None and isinstance(rid.dt, datetime):
        key = f"{uid}@{_aware(rid.dt, tz).astimezone(UTC).isoformat()}"
    return Event(
        uid=uid,
        key=key,
        summary=str(component.get("SUMMARY", "")).strip(),
        start=_aware(start, tz).astimezone(tz),
        end=_aware(end, tz).astimezone(tz),
        location=str(component.get("LOCATION", "")).strip(),
        description=str(component.get("DESCRIPTION", "")).strip(),
        cancelled=str(component.get("STATUS", "")).strip().upper() == "CANCELLED",
        categories=_categories(component),
        calendar=calendar,
        people=_people(component),
    )


def parse_feed(text: str, source: str, start: datetime, end: datetime, tz: tzinfo | None = None) -> list[Event]:
    """The events of an ICS text starting in ``[start, end)``, recurring ones expanded, by start.

    All-day events are left out. A calendar with an X-WR-TIMEZONE (Google's exports) is read in that
    zone: its UTC and floating times are moved into it (the ``x-wr-timezone`` library) before recurring
    events are expanded, so a weekly 09:00 keeps 09:00 across a daylight-saving change. A time without a
    zone otherwise is read in ``tz`` (the clinic's; default ``start``'s zone). Raises
    :class:`CalendarError` naming ``source`` for text that is not a whole, valid iCalendar feed.
    """
    import recurring_ical_events
    import x_wr_timezone

    zone = tz or start.tzinfo or UTC
    calendar = _calendar(text, source)
    _check_times(calendar, source)
    name = str(calendar.get("X-WR-CALNAME", "")).strip()
    try:
        calendar = x_wr_timezone.to_standard(calendar)
    except Exception as exc:  # an unknown X-WR-TIMEZONE: untrusted text
        raise CalendarError(f"calendar {source!r}: its X-WR-TIMEZONE cannot be used: {first_line(exc)}") from None
    recurring = {
        str(c.get("UID", "")).strip()
        for c in calendar.walk("VEVENT")
        if any(prop in c for prop in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    try:
        found = recurring_ical_events.of(calendar).between(start.astimezone(zone), end.astimezone(zone))
        events = [_event(component, recurring, zone, name) for component in found]
    except Exception as exc:  # as above: untrusted text
        log.debug("calendar %s: parsing failed", source, exc_info=True)
        raise CalendarError(f"calendar {source!r}: not valid iCalendar: {first_line(exc)}") from None
    return sorted((e for e in events if e is not None and start <= e.start < end), key=lambda e: (e.start, e.key))


# ---- the client label -----------------------------------------------------------------------------

_CLIENT_AFTER = re.compile(r"\s[-–—|:]\s|:\s")
"""Where the client's part of a title begins: after its last dash (`` – ``, `` — ``, `` - ``), bar or colon."""
MAX_INITIALS = 3


def client_label(summary: str, rule: str = "initials") -> str | None:
    """The client label of an event titled ``summary``: under ``initials`` the initials of the part after
    the title's last dash, bar or colon ("Deep tissue 60 – F. White" → "F. W."); ``None`` under ``none``,
    or when the title has no such part. Letters only, so no name survives it."""
    if rule == "none":
        return None
    cuts = list(_CLIENT_AFTER.finditer(summary))
    if not cuts:
        return None
    words = re.split(r"[\s.]+", summary[cuts[-1].end() :])
    initials = [word[0].upper() for word in words if word[:1].isalpha()][:MAX_INITIALS]
    return " ".join(f"{letter}." for letter in initials) or None


# ---- mapping and planning ----------------------------------------------------------------------


class Target(NamedTuple):
    room: str
    preset: str


def map_event(event: Event, feed: FeedRules) -> Target | str:
    """The room (first matching rule, else the default) and preset for ``event``, or why it is skipped.
    A feed's ``practitioner`` counts as one of the people of each of its events."""
    if feed.practitioner:
        event = replace(event, people=(feed.practitioner, *event.people))
    room = next((rule.room for rule in feed.rooms if rule.matches(event)), feed.default_room)
    if room is None:
        return _unmatched(event)
    preset = next((rule.preset for rule in feed.presets if rule.matches(event)), feed.default_preset)
    if preset is None:
        return f"no preset rule matches it ({format_duration(event.length)} long)"
    return Target(room, preset)


def _unmatched(event: Event) -> str:
    """Why no room rule took ``event``: its location and categories (never its people: one may be the client;
    nor its calendar, the same for every event of the feed)."""
    seen = [f"location {event.location!r}"] if event.location else []
    seen += [f"categories {', '.join(repr(c) for c in event.categories)}"] if event.categories else []
    if not seen:
        return "it has no location"
    return f"no room rule matches its {' or its '.join(seen)}"


@dataclass(frozen=True)
class Want:
    """A booking an event asks for."""

    key: str
    room: str
    preset: str
    start: datetime
    duration: float | None
    client: str | None = None
    """The client label (:func:`client_label`), never the title."""

    def same_as(self, booking: Booking) -> bool:
        same_length = (booking.duration is None) == (self.duration is None) and (
            self.duration is None or abs((booking.duration or 0.0) - self.duration) < 1.0
        )
        mine = (self.room, self.preset, self.start.timestamp())  # the instant: 01:30 twice in a night of October
        return (booking.room, booking.preset, booking.start.timestamp()) == mine and same_length


@dataclass
class Plan:
    add: list[Want] = field(default_factory=list)
    move: list[tuple[Booking, Want]] = field(default_factory=list)
    cancel: list[tuple[Booking, str]] = field(default_factory=list)
    unchanged: list[Booking] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    steps: list[tuple[Booking | None, Want]] = field(default_factory=list)
    """Once checked (:func:`check_plan`): the moves and additions the booking service will take, in an order
    it takes them in (one may free the slot another needs); ``add`` and ``move`` are then these."""
    refused: list[tuple[str, str]] = field(default_factory=list)
    """Once checked: (uid, why) of the moves and additions the booking service would refuse."""


def plan_sync(feed: FeedRules, events: Iterable[Event], existing: Iterable[Booking], now: datetime) -> Plan:
    """What to do to make ``existing`` (this feed's bookings) match ``events``; bookings started are left alone."""
    end = now + timedelta(days=feed.horizon_days)
    plan = Plan()
    booked: dict[str, Booking] = {}
    for booking in sorted(existing, key=lambda b: (b.start, b.id)):
        if booking.uid in booked and booking.start > now:
            plan.cancel.append((booking, f"a second booking of the event (booking {booked[booking.uid].id} stays)"))
        elif booking.uid:
            booked.setdefault(booking.uid, booking)
    seen: set[str] = set()
    for event in events:
        if not now < event.start < end:
            continue
        if not event.uid:
            plan.skipped.append(("", f"{event.label()}: it has no UID, so it cannot be kept in step"))
            continue
        if event.key in seen:
            plan.skipped.append((event.key, f"{event.label()}: the feed lists this event twice; the first is used"))
            continue
        seen.add(event.key)
        known = booked.get(event.key)
        if known is not None and known.start <= now:
            continue  # its session is on: not ours to change any more
        target = "cancelled in the calendar" if event.cancelled else map_event(event, feed)
        if isinstance(target, str):
            if known is not None:
                plan.cancel.append((known, target if event.cancelled else f"it no longer maps: {target}"))
            else:
                plan.skipped.append((event.key, f"{event.label()}: {target}"))
            continue
        client = client_label(event.summary, feed.client)
        want = Want(event.key, target.room, target.preset, event.start, event.length or None, client)
        if known is None:
            plan.add.append(want)
        elif want.same_as(known):
            plan.unchanged.append(known)
        else:
            plan.move.append((known, want))
    for key, booking in booked.items():
        if key not in seen and now < booking.start < end:
            plan.cancel.append((booking, "no longer in the calendar"))
    return plan


# ---- checking a plan as the booking service will --------------------------------------------------


class PresetTimes(NamedTuple):
    length: float
    switch_lead: float
    """The earliest switch ``from`` before the start: a booking's lead is at least this."""


@dataclass(frozen=True)
class Schedule:
    """What the booking service checks a booking against, as it is now
    (:meth:`ambience.app.scheduler.BookingService.schedule`)."""

    rooms: tuple[str, ...]
    presets: Mapping[str, PresetTimes]
    lead: float
    """``bookings.lead``: the lead of a booking that asks for none."""
    bookings: tuple[Booking, ...] = ()
    """Every booking, of every source: the future ones and those whose session is on."""
    started: frozenset[str] = frozenset()
    """Ids of bookings whose time has come (pre-heat or session on): the service moves none of them."""
    tz: tzinfo = UTC
    """The clinic's zone: a booking's start is kept (and named in a refusal) in it."""
    twelve: bool = False
    """A refusal writes its times with am/pm (the config's ``clock``)."""

    def end(self, booking: Booking) -> datetime:
        times = self.presets.get(booking.preset)
        return later(booking.start, booking.length(times.length if times else 0.0))


def plan_feed(feed: FeedRules, events: Iterable[Event], schedule: Schedule, now: datetime) -> Plan:
    """The one plan of a sync and of its dry run: :func:`plan_sync` against this feed's bookings, then
    :func:`check_plan` against every booking, so the plan's counts are what applying it does."""
    mine = [b for b in schedule.bookings if b.source == feed.source]
    return check_plan(plan_sync(feed, events, mine, now), feed, schedule, now)


def check_plan(plan: Plan, feed: FeedRules, schedule: Schedule, now: datetime) -> Plan:
    """``plan`` with its moves and additions checked as the booking service checks them when the plan is
    applied (cancels first, then moves and additions; one refused for an overlap is tried again after the
    others until a round changes nothing): ``steps`` what it will take, ``refused`` what not and why."""
    rooms: dict[str, _Room] = {}
    for booking in schedule.bookings:
        rooms.setdefault(booking.room, _Room()).put(booking, schedule)
    for booking, _why in plan.cancel:
        rooms.setdefault(booking.room, _Room()).drop(booking.id)
    new: dict[str, Want] = {}

    def label(booking: Booking) -> str:  # a booking this plan makes has no id yet: named by its event
        return (
            f"the booking of {_what(new[booking.id], schedule.twelve)}"
            if booking.id in new
            else f"booking {booking.id}"
        )

    pending: list[tuple[Booking | None, Want]] = [*plan.move, *((None, want) for want in plan.add)]
    refused: dict[str, BookingError] = {}
    steps: list[tuple[Booking | None, Want]] = []
    conflicts: list[tuple[str, str]] = []
    while pending:
        left = []
        for old, want in pending:
            try:
                made = _admit(schedule, feed, rooms, old, want, now, label)
            except BookingError as exc:  # an overlap may clear once another change is made
                refused[want.key] = exc
                left.append((old, want))
            except AmbienceError as exc:  # an unknown room or preset will not
                conflicts.append((want.key, refusal(want, old, exc, schedule.twelve)))
            else:
                if old is not None:
                    rooms.setdefault(old.room, _Room()).drop(old.id)
                else:
                    new[made.id] = want
                rooms.setdefault(made.room, _Room()).put(made, schedule)
                steps.append((old, want))
        if len(left) == len(pending):
            break
        pending = left
    conflicts += [(want.key, refusal(want, old, refused[want.key], schedule.twelve)) for old, want in pending]
    add = [want for old, want in steps if old is None]
    move = [(old, want) for old, want in steps if old is not None]
    return replace(plan, add=add, move=move, steps=steps, refused=conflicts)


class _Room:
    """A room's bookings as the booking service finds a booking's rivals: its neighbours by (start, end)
    among the scheduled ones (their sessions never overlap), and those whose time has come."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self.items: dict[str, tuple[Booking, datetime]] = {}
        self.started: set[str] = set()

    def put(self, booking: Booking, schedule: Schedule) -> None:
        end = schedule.end(booking)
        self.items[booking.id] = (booking, end)
        if booking.id in schedule.started:
            self.started.add(booking.id)
        else:
            bisect.insort(self.spans, (booking.start.timestamp(), end.timestamp(), booking.id))

    def drop(self, booking_id: str) -> None:
        if self.items.pop(booking_id, None) is not None:
            self.started.discard(booking_id)
            self.spans[:] = [span for span in self.spans if span[2] != booking_id]

    def near(self, start: float, end: float) -> list[tuple[Booking, datetime]]:
        i = bisect.bisect_left(self.spans, (start,))
        near = self.spans[max(0, i - 1) : i]
        while i < len(self.spans) and self.spans[i][0] < end:
            near.append(self.spans[i])
            i += 1
        return [self.items[span[2]] for span in near] + [self.items[b] for b in self.started]


def _admit(schedule: Schedule, feed: FeedRules, rooms: dict[str, _Room], old: Booking | None,
           want: Want, now: datetime, label: Callable[[Booking], str]) -> Booking:  # fmt: skip
    """The booking the service would make of ``want`` (a move of ``old``), or its refusal, in its order."""
    if old is not None and old.id in schedule.started:
        raise BookingError(f"booking {old.id} has started; stop it or cancel it instead")
    if want.room not in schedule.rooms:
        raise NotFound("room", want.room, list(schedule.rooms))
    times = schedule.presets.get(want.preset)
    if times is None:
        raise NotFound("preset", want.preset, list(schedule.presets))
    lead = booking_lead(feed.lead if old is None else old.lead, schedule.lead, times.switch_lead)
    booking = Booking(
        old.id if old else f"new:{want.key}", want.room, want.preset, want.start.astimezone(schedule.tz),
        want.duration, lead, old.client if old else want.client, feed.source, old.uid if old else want.key,
    )  # fmt: skip
    end = later(booking.start, booking.length(times.length))
    others = rooms[want.room].near(booking.start.timestamp(), end.timestamp()) if want.room in rooms else []
    admit(booking, end, now, others, label, twelve=schedule.twelve)
    return booking


def _on(moment: datetime, twelve: bool) -> str:
    return f"{moment:%Y-%m-%d} {say_clock(moment, twelve=twelve)}"


def _what(want: Want, twelve: bool = False) -> str:
    return f"the event at {_on(want.start, twelve)} in {want.room}"  # never its title: it may name the client


def refusal(want: Want, old: Booking | None, exc: AmbienceError, twelve: bool = False) -> str:
    """Why a move or an addition is not made, as a sync reports it (times with am/pm if ``twelve``)."""
    if old is None:
        return f"not booked: {_what(want, twelve)}: {exc}"
    return f"not moved: booking {old.id} stays at {_on(old.start, twelve)} in {old.room}; {_what(want, twelve)}: {exc}"


# ---- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    uid: str
    room: str
    preset: str
    start: datetime
    booking: str | None = None
    """The booking's id; None for an addition in a dry run."""
    was: datetime | None = None
    """A move: the booking's start before."""
    client: str | None = None
    """The booking's client label (initials, or none): never the event's title."""
    why: str = ""

    def json(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "booking": self.booking, "room": self.room, "preset": self.preset,
            "start": self.start.isoformat(), "was": self.was.isoformat() if self.was else None,
            "client": self.client, "why": self.why,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        was = data.get("was")
        return cls(
            data["uid"], data["room"], data["preset"], datetime.fromisoformat(data["start"]), data.get("booking"),
            datetime.fromisoformat(was) if was else None, data.get("client"), data.get("why", ""),
        )  # fmt: skip


@dataclass
class SyncReport:
    """What one sync of one feed did; ``failed`` says why a feed was not used (then nothing changed)."""

    feed: str
    at: datetime
    added: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    cancelled: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(uid, why) of events not booked: not mapped, cancelled, no UID."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(uid, message) of changes the plan found the booking service refuses; tried again at the next sync."""
    failed: str | None = None
    dry_run: bool = False
    unforeseen: list[tuple[str, str]] = field(default_factory=list)
    """(uid, message) of changes the plan allowed but the booking service refused when they were made (the
    bookings changed between the plan and its apply); tried again at the next sync."""
    note: str | None = None
    """What the plan was made against, when not the daemon's bookings (a dry run with no daemon)."""

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.errors and not self.unforeseen

    def summary(self) -> str:
        if self.failed is not None:
            return f"{self.failed}; bookings left as they were"
        if self.dry_run:
            counts = [f"{len(self.added)} to book", f"{len(self.moved)} to move", f"{len(self.cancelled)} to cancel"]
        else:
            counts = [f"{len(self.added)} added", f"{len(self.moved)} moved", f"{len(self.cancelled)} cancelled"]
        counts += [f"{len(self.unchanged)} unchanged", f"{len(self.skipped)} skipped"]
        counts.append(f"{len(self.errors)} error{'s' * (len(self.errors) != 1)}")
        if self.unforeseen:
            counts.append(f"{len(self.unforeseen)} refused when made, not foreseen by the plan")
        return f"calendar {self.feed!r}: " + ", ".join(counts)

    def json(self) -> dict[str, Any]:
        return {
            "feed": self.feed, "at": self.at.isoformat(), "dry_run": self.dry_run, "failed": self.failed,
            "added": [c.json() for c in self.added], "moved": [c.json() for c in self.moved],
            "cancelled": [c.json() for c in self.cancelled], "unchanged": list(self.unchanged),
            "skipped": [{"uid": u, "why": w} for u, w in self.skipped],
            "errors": [{"uid": u, "error": e} for u, e in self.errors],
            "unforeseen": [{"uid": u, "error": e} for u, e in self.unforeseen], "note": self.note,
        }  # fmt: skip

    def counts(self) -> dict[str, Any]:
        """How many of each, and the summary: what a webhook's caller is told (no event, no client)."""
        counts: dict[str, Any] = {"feed": self.feed, "at": self.at.isoformat(), "failed": self.failed}
        for key in ("added", "moved", "cancelled", "unchanged", "skipped", "errors", "unforeseen"):
            counts[key] = len(getattr(self, key))
        return {**counts, "summary": self.summary()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncReport:
        """A report as :meth:`json` gave it (e.g. the daemon's answer)."""
        changes = {key: [Change.from_json(c) for c in data.get(key) or ()] for key in ("added", "moved", "cancelled")}
        return cls(
            data["feed"], datetime.fromisoformat(data["at"]), **changes, unchanged=list(data.get("unchanged") or ()),
            skipped=[(s["uid"], s["why"]) for s in data.get("skipped") or ()],
            errors=[(e["uid"], e["error"]) for e in data.get("errors") or ()],
            failed=data.get("failed"), dry_run=bool(data.get("dry_run")),
            unforeseen=[(e["uid"], e["error"]) for e in data.get("unforeseen") or ()], note=data.get("note"),
        )  # fmt: skip


def planned(plan: Plan, feed: str, now: datetime) -> SyncReport:
    """What applying a checked ``plan`` will do, as its dry run reports it: the same counts and reasons."""
    return SyncReport(
        feed, now,
        added=[Change(w.key, w.room, w.preset, w.start, client=w.client) for old, w in plan.steps if old is None],
        moved=[Change(w.key, w.room, w.preset, w.start, old.id, was=old.start, client=w.client)
               for old, w in plan.steps if old is not None],
        cancelled=[Change(b.uid or "", b.room, b.preset, b.start, b.id, why=why) for b, why in plan.cancel],
        unchanged=[b.uid or b.id for b in plan.unchanged], skipped=list(plan.skipped), errors=list(plan.refused),
        dry_run=True,
    )  # fmt: skip


def dry_run(feed: FeedRules, text: str, schedule: Schedule, now: datetime, tz: tzinfo) -> SyncReport:
    """What a sync of ``text`` against ``schedule`` would do, touching nothing."""
    try:
        events = parse_feed(text, feed.name, now, now + timedelta(days=feed.horizon_days), tz)
    except CalendarError as exc:
        return SyncReport(feed.name, now, failed=str(exc), dry_run=True)
    return planned(plan_feed(feed, events, schedule, now), feed.name, now)
