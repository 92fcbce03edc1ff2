"""Calendar feeds: a clinic's booking system, or a shared calendar, kept in step as bookings.

Booking systems and calendar apps export appointments as an iCalendar (ICS) feed. Each configured
feed is fetched, parsed and planned by the pure :mod:`ambience.core.calendar_plan`; this module is the
I/O half: fetching a feed, and carrying a plan out through the booking service::

    fetch(feed) ─► text ─► core: parse_feed, plan_sync(…, existing, now) ─► Plan ─► apply_plan ─► SyncReport
    (file/HTTP/                                                                    (BookingService)
     CalDAV: infra.caldav)

The dry run and the sync make the same plan, checked as the booking service checks each change: what
it refuses (an overlap) is reported in ``errors`` by both, and the rest goes on. A feed that
cannot be fetched or parsed changes nothing: the report carries ``failed`` and every booking stays as
it was. :class:`CalendarPoller` runs the syncs in the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

from ambience import __version__
from ambience.app.commands import SyncCalendar
from ambience.config.calendars import CalendarFeed
from ambience.core.booking import Booking
from ambience.core.calendar_plan import (
    Change,
    Plan,
    Schedule,
    SyncReport,
    Want,
    first_line,
    parse_feed,
    plan_feed,
    planned,
    refusal,
)
from ambience.errors import AmbienceError, CalendarError, NotFound, StoreError
from ambience.infra.caldav import read_calendar
from ambience.model.calendar import Event

if TYPE_CHECKING:  # httpx is imported when a feed is fetched (see fetch)
    import httpx

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 10.0
"""Seconds to wait for a feed's server."""
MAX_FEED_BYTES = 32 * 1024 * 1024
"""A feed larger than this is refused rather than read into memory."""


# ---- applying ------------------------------------------------------------------------------------


class Bookings(Protocol):
    """The parts of :class:`ambience.app.scheduler.BookingService` a sync uses."""

    twelve: bool
    """Times in its messages with am/pm (the config's ``clock``)."""

    def bookings(self, source: str | None = None) -> list[Booking]: ...

    def schedule(self) -> Schedule: ...

    def book(self, room: str, preset: str, start: datetime, *, duration: float | None = None,
             lead: float | None = None, client: str | None = None, source: str = "manual",
             uid: str | None = None) -> Booking: ...  # fmt: skip

    def reschedule(self, booking_id: str, *, room: str, preset: str, start: datetime,
                   duration: float | None) -> Booking: ...  # fmt: skip

    def cancel(self, booking_id: str, reason: str = "cancelled") -> Any: ...


def apply_plan(plan: Plan, feed: CalendarFeed, service: Bookings, now: datetime) -> SyncReport:
    """Carry out a checked ``plan`` (:func:`~ambience.core.calendar_plan.plan_feed`): cancels first, then its
    steps in their order. Its refusals are the report's ``errors``; a change the service refuses though the
    plan allowed it (the bookings changed since) is reported in ``unforeseen``, and the rest goes on."""
    batch = getattr(service, "batch", None)
    with batch() if batch is not None else contextlib.nullcontext():
        return _apply(plan, feed, service, now)


def _apply(plan: Plan, feed: CalendarFeed, service: Bookings, now: datetime) -> SyncReport:
    report = SyncReport(feed.name, now, unchanged=[b.uid or b.id for b in plan.unchanged], skipped=list(plan.skipped),
                        errors=list(plan.refused))  # fmt: skip
    for booking, why in plan.cancel:
        try:
            service.cancel(booking.id, reason=f"{why} (calendar {feed.name})")
        except AmbienceError as exc:
            report.unforeseen.append((booking.uid or booking.id, f"could not cancel booking {booking.id}: {exc}"))
            continue
        uid, client = booking.uid or "", booking.client
        report.cancelled.append(
            Change(uid, booking.room, booking.preset, booking.start, booking.id, client=client, why=why)
        )
    for old, want in plan.steps:
        try:
            change = _book(service, feed, old, want)
        except AmbienceError as exc:
            report.unforeseen.append((want.key, refusal(want, old, exc, service.twelve)))
        else:
            (report.added if old is None else report.moved).append(change)
    return report


def _book(service: Bookings, feed: CalendarFeed, old: Booking | None, want: Want) -> Change:
    if old is None:
        made = service.book(want.room, want.preset, want.start, duration=want.duration, lead=feed.lead,
                            client=want.client, source=feed.source, uid=want.key)  # fmt: skip
        return Change(want.key, want.room, want.preset, want.start, made.id, client=want.client)
    made = service.reschedule(old.id, room=want.room, preset=want.preset, start=want.start, duration=want.duration)
    return Change(want.key, want.room, want.preset, want.start, made.id, was=old.start, client=old.client)


def sync_events(feed: CalendarFeed, events: Iterable[Event], service: Bookings, now: datetime, *,
                dry_run: bool = False) -> SyncReport:  # fmt: skip
    """Bring this feed's bookings in step with ``events`` (parsed for the window from ``now``); a dry run
    reports the same plan and changes nothing."""
    plan = plan_feed(feed, events, service.schedule(), now)
    return planned(plan, feed.name, now) if dry_run else apply_plan(plan, feed, service, now)


def sync_feed(feed: CalendarFeed, text: str, service: Bookings, now: datetime, tz: tzinfo, *,
              dry_run: bool = False) -> SyncReport:  # fmt: skip
    """Parse ``text`` and sync; a malformed feed changes nothing and comes back as ``failed``."""
    try:
        events = parse_feed(text, feed.name, now, now + timedelta(days=feed.horizon_days), tz)
    except CalendarError as exc:
        return SyncReport(feed.name, now, failed=str(exc), dry_run=dry_run)
    return sync_events(feed, events, service, now, dry_run=dry_run)


# ---- fetching ------------------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    """'connection refused' from httpx's ``[Errno 111] Connection refused``."""
    text = first_line(exc)
    match = re.search(r"\[Errno -?\d+\] (.+)", text)
    text = match.group(1) if match else text
    return text[:1].lower() + text[1:]


def _read(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CalendarError(f"calendar {name!r}: cannot read {path}: {exc.strerror or _reason(exc)}") from None
    return data.decode("utf-8", errors="replace")


def fetch(feed: CalendarFeed, *, transport: httpx.BaseTransport | None = None, now: datetime | None = None) -> str:
    """The feed's text: its file, a GET of its URL, or its CalDAV calendar's events from ``now`` (default: the
    wall clock, less a day) to ``horizon_days`` (and a day) ahead. Raises :class:`CalendarError` (blocking: run
    in a thread)."""
    if feed.caldav is not None:
        start = now or datetime.now(UTC) - timedelta(days=1)  # the day's margin: parse_feed takes the exact window
        return read_calendar(feed.caldav.url, calendar=feed.caldav.calendar, username=feed.caldav.username,
                             password=feed.caldav.password(feed.name), start=start,
                             end=start + timedelta(days=feed.horizon_days + 2), where=f"calendar {feed.name!r}")  # fmt: skip
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
    """Syncs every feed at start and then every ``poll`` seconds; one feed failing leaves the others be.

    It fetches and parses (I/O, in worker threads); what the events change is a
    :class:`~ambience.app.commands.SyncCalendar` run by the controller."""

    def __init__(
        self,
        feeds: Iterable[CalendarFeed],
        dispatch: Callable[[SyncCalendar], Any],
        clock: Callable[[], float],
        tz: tzinfo,
        *,
        fetcher: Callable[[CalendarFeed], str] = fetch,
    ):
        self.feeds = {feed.name: feed for feed in feeds}
        self.dispatch = dispatch
        """The controller's execute: a feed's events are brought in step by a SyncCalendar command."""
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

    async def sync_now(self, name: str | None = None, *, dry_run: bool = False) -> list[SyncReport]:
        """Sync one feed (``name``) or all now (a dry run: plan only); raises NotFound for an unknown name."""
        if name is not None and name not in self.feeds:
            raise NotFound("calendar", name, list(self.feeds))
        return [await self.sync(feed, dry_run=dry_run) for feed in self.feeds.values() if name in (None, feed.name)]

    async def sync(self, feed: CalendarFeed, *, dry_run: bool = False) -> SyncReport:
        """Fetch, parse and sync one feed; a dry run makes the same plan, changes nothing and is not recorded."""
        async with self._locks[feed.name]:
            now = datetime.fromtimestamp(self.clock(), self.tz)
            try:
                text = await asyncio.to_thread(self.fetcher, feed)
                end = now + timedelta(days=feed.horizon_days)
                events = await asyncio.to_thread(parse_feed, text, feed.name, now, end, self.tz)
            except CalendarError as exc:
                report = SyncReport(feed.name, now, failed=str(exc), dry_run=dry_run)
            else:
                try:  # on the loop, through the dispatcher: it owns the bookings
                    report = self.dispatch(SyncCalendar(feed, tuple(events), now, dry_run=dry_run)).report
                except StoreError as exc:  # the sync's one transaction did not land: nothing changed
                    report = SyncReport(feed.name, now, failed=f"calendar {feed.name!r}: {exc}")
            if not dry_run:
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
        elif report.added or report.moved or report.cancelled or report.errors or report.unforeseen:
            log.info("%s", report.summary())
        else:
            log.debug("%s", report.summary())
        known = set(last.errors) if last is not None else set()
        for uid, message in [*report.errors, *report.unforeseen]:
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


__all__ = ["Bookings", "CalendarPoller", "apply_plan", "fetch", "sync_events", "sync_feed"]
