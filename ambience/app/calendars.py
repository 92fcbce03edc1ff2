"""Calendar feeds: a clinic's booking system, or a shared calendar, kept in step as bookings.

Booking systems and calendar apps export appointments as an iCalendar (ICS) feed. Each configured
feed is fetched, parsed and mapped to bookings by its rules; the pure steps take text and ``now``::

    fetch(feed) ─► text ─► parse_feed ─► [Event] ─► plan_sync(…, existing, now) ─► Plan ─► apply_plan
    (file/HTTP)           (pure: RRULEs expanded,   (pure: map_event by the rules,        (BookingService)
                           times made aware)          compare by UID)                        ─► SyncReport

A booking made from feed ``clinic`` has ``source="calendar:clinic"`` and ``uid`` = the event's UID,
or ``UID@<RECURRENCE-ID in UTC, ISO 8601>`` for an occurrence of a recurring event, so a sync is
idempotent: an event already booked as it is stays untouched, a moved or changed one is rescheduled,
one cancelled (``STATUS:CANCELLED``), removed (or moved out of the window), or no longer matching a
rule is cancelled. Only events
starting within ``[now, now + horizon_days)`` count, and only bookings that have not started yet are
changed. A booking the service refuses (an overlap) is reported in ``errors``; the rest goes on.

A feed that cannot be fetched or parsed changes nothing: the report carries ``failed`` and every
booking stays as it was. :class:`CalendarPoller` runs the syncs in the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from ambience import __version__
from ambience.config.calendars import CalendarFeed
from ambience.errors import AmbienceError, BookingError, CalendarError, NotFound, StoreError
from ambience.model.calendar import Event
from ambience.units import format_duration

if TYPE_CHECKING:  # icalendar and recurring_ical_events are imported when a feed is parsed: ~50 ms off every CLI run
    import httpx
    import icalendar

    from ambience.app.scheduler import Booking

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 10.0
"""Seconds to wait for a feed's server."""
MAX_FEED_BYTES = 32 * 1024 * 1024
"""A feed larger than this is refused rather than read into memory."""
TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
"""Properties that decide when an event is: one broken makes the whole feed unusable."""


# ---- config ------------------------------------------------------------------------------------


# ---- parsing (pure) ----------------------------------------------------------------------------


def _first_line(exc: BaseException, limit: int = 160) -> str:
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
        raise CalendarError(f"calendar {source!r}: not valid iCalendar: {_first_line(exc)}") from None


def _check_times(calendar: icalendar.Calendar, source: str) -> None:
    """Refuse the feed if any event's timing is broken: a partial picture would cancel bookings."""
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID", "")).strip()
        who = f"event {uid!r}" if uid else f"event {str(event.get('SUMMARY', '(no title)'))!r}"
        for prop, message in getattr(event, "errors", ()):
            if str(prop).upper() in TIME_PROPERTIES:
                raise CalendarError(f"calendar {source!r}: {who} has a bad {prop}: {_first_line(ValueError(message))}")
        if "DTSTART" not in event:
            raise CalendarError(f"calendar {source!r}: {who} has no DTSTART")


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _event(component: Any, recurring: set[str], tz: tzinfo) -> Event | None:
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
    )


def parse_feed(text: str, source: str, start: datetime, end: datetime, tz: tzinfo | None = None) -> list[Event]:
    """The events of an ICS text starting in ``[start, end)``, recurring ones expanded, by start.

    All-day events are left out. A time without a zone is read in the calendar's X-WR-TIMEZONE,
    else in ``tz`` (the clinic's; default ``start``'s zone). Raises :class:`CalendarError` naming
    ``source`` for text that is not a whole, valid iCalendar feed.
    """
    import recurring_ical_events

    zone = tz or start.tzinfo or UTC
    calendar = _calendar(text, source)
    _check_times(calendar, source)
    recurring = {
        str(c.get("UID", "")).strip()
        for c in calendar.walk("VEVENT")
        if any(prop in c for prop in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    try:
        found = recurring_ical_events.of(calendar).between(start.astimezone(zone), end.astimezone(zone))
        events = [_event(component, recurring, zone) for component in found]
    except Exception as exc:  # as above: untrusted text
        log.debug("calendar %s: parsing failed", source, exc_info=True)
        raise CalendarError(f"calendar {source!r}: not valid iCalendar: {_first_line(exc)}") from None
    return sorted((e for e in events if e is not None and start <= e.start < end), key=lambda e: (e.start, e.key))


# ---- mapping and planning (pure) -------------------------------------------------------------


class Target(NamedTuple):
    room: str
    preset: str


def map_event(event: Event, feed: CalendarFeed) -> Target | str:
    """The room (first matching rule, else the default) and preset for ``event``, or why it is skipped."""
    room = next((rule.room for rule in feed.rooms if rule.matches(event)), feed.default_room)
    if room is None:
        return f"no room rule matches its location {event.location!r}" if event.location else "it has no location"
    preset = next((rule.preset for rule in feed.presets if rule.matches(event)), feed.default_preset)
    if preset is None:
        return f"no preset rule matches {event.summary!r} ({format_duration(event.length)})"
    return Target(room, preset)


@dataclass(frozen=True)
class Want:
    """A booking an event asks for."""

    key: str
    room: str
    preset: str
    start: datetime
    duration: float | None
    summary: str

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


def plan_sync(feed: CalendarFeed, events: Iterable[Event], existing: Iterable[Booking], now: datetime) -> Plan:
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
        booking = booked.get(event.key)
        if booking is not None and booking.start <= now:
            continue  # its session is on: not ours to change any more
        target = "cancelled in the calendar" if event.cancelled else map_event(event, feed)
        if isinstance(target, str):
            if booking is not None:
                plan.cancel.append((booking, target if event.cancelled else f"it no longer maps: {target}"))
            else:
                plan.skipped.append((event.key, f"{event.label()}: {target}"))
            continue
        want = Want(event.key, target.room, target.preset, event.start, event.length or None, event.summary)
        if booking is None:
            plan.add.append(want)
        elif want.same_as(booking):
            plan.unchanged.append(booking)
        else:
            plan.move.append((booking, want))
    for key, booking in booked.items():
        if key not in seen and now < booking.start < end:
            plan.cancel.append((booking, "no longer in the calendar"))
    return plan


# ---- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    uid: str
    room: str
    preset: str
    start: datetime
    booking: str | None = None
    """The booking's id; None in a dry run."""
    was: datetime | None = None
    """A move: the booking's start before."""
    summary: str = ""
    why: str = ""

    def json(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "booking": self.booking, "room": self.room, "preset": self.preset,
            "start": self.start.isoformat(), "was": self.was.isoformat() if self.was else None,
            "summary": self.summary, "why": self.why,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        was = data.get("was")
        return cls(
            data["uid"], data["room"], data["preset"], datetime.fromisoformat(data["start"]), data.get("booking"),
            datetime.fromisoformat(was) if was else None, data.get("summary", ""), data.get("why", ""),
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
    """(uid, message) of changes the booking service refused; tried again at the next sync."""
    failed: str | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.errors

    def summary(self) -> str:
        if self.failed is not None:
            return f"{self.failed}; bookings left as they were"
        counts = [f"{len(self.added)} to book" if self.dry_run else f"{len(self.added)} added"]
        if not self.dry_run:
            counts += [
                f"{len(self.moved)} moved",
                f"{len(self.cancelled)} cancelled",
                f"{len(self.unchanged)} unchanged",
            ]
        counts += [f"{len(self.skipped)} skipped", f"{len(self.errors)} error{'s' * (len(self.errors) != 1)}"]
        return f"calendar {self.feed!r}: " + ", ".join(counts)

    def json(self) -> dict[str, Any]:
        return {
            "feed": self.feed, "at": self.at.isoformat(), "dry_run": self.dry_run, "failed": self.failed,
            "added": [c.json() for c in self.added], "moved": [c.json() for c in self.moved],
            "cancelled": [c.json() for c in self.cancelled], "unchanged": list(self.unchanged),
            "skipped": [{"uid": u, "why": w} for u, w in self.skipped],
            "errors": [{"uid": u, "error": e} for u, e in self.errors],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncReport:
        """A report as :meth:`json` gave it (e.g. the daemon's answer)."""
        changes = {key: [Change.from_json(c) for c in data.get(key) or ()] for key in ("added", "moved", "cancelled")}
        return cls(
            data["feed"], datetime.fromisoformat(data["at"]), **changes, unchanged=list(data.get("unchanged") or ()),
            skipped=[(s["uid"], s["why"]) for s in data.get("skipped") or ()],
            errors=[(e["uid"], e["error"]) for e in data.get("errors") or ()],
            failed=data.get("failed"), dry_run=bool(data.get("dry_run")),
        )  # fmt: skip


# ---- applying ------------------------------------------------------------------------------------


class Bookings(Protocol):
    """The parts of :class:`ambience.app.scheduler.BookingService` a sync uses."""

    def bookings(self, source: str | None = None) -> list[Booking]: ...

    def book(self, room: str, preset: str, start: datetime, *, duration: float | None = None,
             lead: float | None = None, client: str | None = None, source: str = "manual",
             uid: str | None = None) -> Booking: ...  # fmt: skip

    def reschedule(self, booking_id: str, *, room: str, preset: str, start: datetime,
                   duration: float | None) -> Booking: ...  # fmt: skip

    def cancel(self, booking_id: str, reason: str = "cancelled") -> Any: ...


def apply_plan(plan: Plan, feed: CalendarFeed, service: Bookings, now: datetime) -> SyncReport:
    """Carry out ``plan``: cancels first (they free rooms), then moves and additions.

    A move or addition refused for an overlap is tried again after the others (one may free the
    slot another needs) until a round changes nothing; what is still refused is reported.
    """
    batch = getattr(service, "batch", None)
    with batch() if batch is not None else contextlib.nullcontext():
        return _apply(plan, feed, service, now)


def _apply(plan: Plan, feed: CalendarFeed, service: Bookings, now: datetime) -> SyncReport:
    report = SyncReport(feed.name, now, unchanged=[b.uid or b.id for b in plan.unchanged], skipped=list(plan.skipped))
    for booking, why in plan.cancel:
        try:
            service.cancel(booking.id, reason=f"{why} (calendar {feed.name})")
        except AmbienceError as exc:
            report.errors.append((booking.uid or booking.id, f"could not cancel booking {booking.id}: {exc}"))
            continue
        report.cancelled.append(
            Change(booking.uid or "", booking.room, booking.preset, booking.start, booking.id, why=why)
        )
    pending: list[tuple[Booking | None, Want]] = [*plan.move, *((None, want) for want in plan.add)]
    refused: dict[str, AmbienceError] = {}
    while pending:
        left = []
        for old, want in pending:
            try:
                change = _book(service, feed, old, want)
            except BookingError as exc:  # an overlap may clear once another change is made
                refused[want.key] = exc
                left.append((old, want))
            except AmbienceError as exc:  # an unknown room or preset will not
                report.errors.append((want.key, _refusal(want, old, exc)))
            else:
                (report.added if old is None else report.moved).append(change)
        if len(left) == len(pending):
            break
        pending = left
    report.errors += [(want.key, _refusal(want, old, refused[want.key])) for old, want in pending]
    return report


def _book(service: Bookings, feed: CalendarFeed, old: Booking | None, want: Want) -> Change:
    if old is None:
        made = service.book(want.room, want.preset, want.start, duration=want.duration, lead=feed.lead,
                            source=feed.source, uid=want.key)  # fmt: skip
        return Change(want.key, want.room, want.preset, want.start, made.id, summary=want.summary)
    made = service.reschedule(old.id, room=want.room, preset=want.preset, start=want.start, duration=want.duration)
    return Change(want.key, want.room, want.preset, want.start, made.id, was=old.start, summary=want.summary)


def _refusal(want: Want, old: Booking | None, exc: AmbienceError) -> str:
    what = f"{want.summary or '(no title)'!r} at {want.start:%Y-%m-%d %H:%M} in {want.room}"
    if old is None:
        return f"not booked: {what}: {exc}"
    return f"not moved: booking {old.id} stays at {old.start:%Y-%m-%d %H:%M} in {old.room}; {what}: {exc}"


def sync_events(feed: CalendarFeed, events: Iterable[Event], service: Bookings, now: datetime) -> SyncReport:
    """Bring this feed's bookings in step with ``events`` (parsed for the window from ``now``)."""
    plan = plan_sync(feed, events, service.bookings(source=feed.source), now)
    return apply_plan(plan, feed, service, now)


def sync_feed(feed: CalendarFeed, text: str, service: Bookings, now: datetime, tz: tzinfo) -> SyncReport:
    """Parse ``text`` and sync; a malformed feed changes nothing and comes back as ``failed``."""
    try:
        events = parse_feed(text, feed.name, now, now + timedelta(days=feed.horizon_days), tz)
    except CalendarError as exc:
        return SyncReport(feed.name, now, failed=str(exc))
    return sync_events(feed, events, service, now)


def dry_run(feed: CalendarFeed, text: str, now: datetime, tz: tzinfo) -> SyncReport:
    """What a first sync of ``text`` would book, touching nothing."""
    try:
        events = parse_feed(text, feed.name, now, now + timedelta(days=feed.horizon_days), tz)
    except CalendarError as exc:
        return SyncReport(feed.name, now, failed=str(exc), dry_run=True)
    plan = plan_sync(feed, events, (), now)
    added = [Change(w.key, w.room, w.preset, w.start, summary=w.summary) for w in plan.add]
    return SyncReport(feed.name, now, added=added, skipped=plan.skipped, dry_run=True)


# ---- fetching ------------------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    """'connection refused' from httpx's ``[Errno 111] Connection refused``."""
    text = _first_line(exc)
    match = re.search(r"\[Errno -?\d+\] (.+)", text)
    text = match.group(1) if match else text
    return text[:1].lower() + text[1:]


def _read(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CalendarError(f"calendar {name!r}: cannot read {path}: {exc.strerror or _reason(exc)}") from None
    return data.decode("utf-8", errors="replace")


def fetch(feed: CalendarFeed, *, transport: httpx.BaseTransport | None = None) -> str:
    """The feed's text: its file, or a GET of its URL. Raises :class:`CalendarError` (blocking: run in a thread)."""
    if feed.file is not None:
        return _read(feed.file, feed.name)
    url = feed.url or ""
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return _read(Path(unquote(parts.path)), feed.name)
    if parts.scheme.lower() == "webcal":
        url = "https" + url[len("webcal") :]
    import httpx  # here: ~10 MB a daemon without calendar feeds need not hold (bench P4)

    where = feed.where()
    headers = {"User-Agent": f"ambience/{__version__} (calendar sync)", "Accept": "text/calendar, */*;q=0.5"}
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=True, headers=headers, transport=transport) as client:
            with client.stream("GET", url) as reply:
                if reply.status_code >= 400:
                    raise CalendarError(f"calendar {feed.name!r}: {where} answered HTTP {reply.status_code}")
                data = bytearray()
                for chunk in reply.iter_bytes():
                    data += chunk
                    if len(data) > MAX_FEED_BYTES:
                        raise CalendarError(
                            f"calendar {feed.name!r}: {where} sent more than {MAX_FEED_BYTES >> 20} MiB"
                        )
    except httpx.TimeoutException:
        raise CalendarError(f"calendar {feed.name!r}: {where} did not answer within {FETCH_TIMEOUT:g} s") from None
    except httpx.HTTPError as exc:
        raise CalendarError(f"calendar {feed.name!r}: cannot fetch {where}: {_reason(exc)}") from None
    return bytes(data).decode("utf-8", errors="replace")


# ---- the daemon's poller -------------------------------------------------------------------------


@dataclass
class FeedState:
    last_report: SyncReport | None = None
    last_error: str | None = None
    """Why the last sync could not use the feed; None once one could."""


class CalendarPoller:
    """Syncs every feed at start and then every ``poll`` seconds; one feed failing leaves the others be."""

    def __init__(
        self,
        feeds: Iterable[CalendarFeed],
        service: Bookings,
        clock: Callable[[], float],
        tz: tzinfo,
        *,
        fetcher: Callable[[CalendarFeed], str] = fetch,
    ):
        self.feeds = {feed.name: feed for feed in feeds}
        self.service = service
        self.clock = clock
        self.tz = tz
        self.fetcher = fetcher
        self.state = {name: FeedState() for name in self.feeds}
        self._locks = {name: asyncio.Lock() for name in self.feeds}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for feed in self.feeds.values():
                group.create_task(self._poll(feed), name=f"calendar-{feed.name}")

    async def _poll(self, feed: CalendarFeed) -> None:
        while True:
            try:
                await self.sync(feed)
            except Exception:  # a bug in one sync must not end the polling
                log.exception("calendar %r: sync failed", feed.name)
            await asyncio.sleep(feed.poll)

    async def sync_now(self, name: str | None = None) -> list[SyncReport]:
        """Sync one feed (``name``) or all now; raises NotFound for an unknown name."""
        if name is not None and name not in self.feeds:
            raise NotFound("calendar", name, list(self.feeds))
        return [await self.sync(feed) for feed in self.feeds.values() if name is None or feed.name == name]

    async def sync(self, feed: CalendarFeed) -> SyncReport:
        async with self._locks[feed.name]:
            now = datetime.fromtimestamp(self.clock(), self.tz)
            try:
                text = await asyncio.to_thread(self.fetcher, feed)
                end = now + timedelta(days=feed.horizon_days)
                events = await asyncio.to_thread(parse_feed, text, feed.name, now, end, self.tz)
            except CalendarError as exc:
                report = SyncReport(feed.name, now, failed=str(exc))
            else:
                try:
                    report = sync_events(feed, events, self.service, now)  # on the loop: it owns the bookings
                except StoreError as exc:  # the sync's one transaction did not land: nothing changed
                    report = SyncReport(feed.name, now, failed=f"calendar {feed.name!r}: {exc}")
            self._record(report)
            return report

    def _record(self, report: SyncReport) -> None:
        """Log the report; a failure or refusal that was already there last time only at debug level."""
        state = self.state[report.feed]
        last = state.last_report
        if report.failed is not None:
            repeated = last is not None and last.failed == report.failed
            log.log(logging.DEBUG if repeated else logging.WARNING, "%s", report.summary())
        elif last is not None and last.failed is not None:
            log.info("%s (the feed is usable again)", report.summary())
        elif report.added or report.moved or report.cancelled or report.errors:
            log.info("%s", report.summary())
        else:
            log.debug("%s", report.summary())
        known = set(last.errors) if last is not None else set()
        for uid, message in report.errors:
            log.log(logging.DEBUG if (uid, message) in known else logging.WARNING, "calendar %r: %s (%s)",
                    report.feed, message, uid)  # fmt: skip
        state.last_report, state.last_error = report, report.failed

    def status(self) -> list[dict[str, Any]]:
        """Per feed: where from, how often, and the last sync (for ``GET /api/calendars``)."""
        out = []
        for name, feed in self.feeds.items():
            state = self.state[name]
            report = state.last_report
            out.append({
                "name": name, "where": feed.where(), "poll": feed.poll, "horizon_days": feed.horizon_days,
                "last_sync": report.at.isoformat() if report else None, "last_error": state.last_error,
                "last_report": report.json() if report else None,
            })  # fmt: skip
        return out


__all__ = [
    "CalendarPoller", "SyncReport", "Target", "dry_run", "fetch", "map_event", "parse_feed", "plan_sync", "sync_feed",
]
