"""Clinic bookings: a room, a preset and a start time, kept by APScheduler 3 in a SQLAlchemy job store.

Each future booking is one date job at ``start − lead`` whose kwargs are the booking itself,
as plain strings and numbers, calling the importable :func:`fire`. The job store is the
record of future bookings; once a booking fires, its session (with the booking attached)
is the record. Rules:

- a booking whose session overlaps another's in the same room is refused, naming it (a lead reaching into
  the session before is not an overlap: the room goes through a turnover);
- at ``start − lead`` the climate runs (the session's lead), and each switch from its preset's ``from``;
  lights and music at ``start``. The lead is at least the preset's earliest switch ``from`` before the
  start (``table_warmer: {state: on, from: -40m}`` makes it 40 min when ``bookings.lead`` is 15 min), so
  the climate then preconditions for the whole of that longer lead;
- a manual session still running then is left alone and the booking waits (``on_busy: wait``),
  retried until the room frees, still ending at its booked end — or replaces it (``replace``);
- jobs never "misfire" away: a booking due while the daemon was down fires at start-up and
  either starts late (inside its window, ending at the booked end) or is recorded ``missed``.

The rules themselves (the :class:`Booking` value, local times across daylight-saving changes, lengths
and overlaps in real time, weekly templates) are pure, in :mod:`ambience.core.booking`; this module is
their I/O half: the job store and the clock. The service never touches a room: a job that fires
runs :class:`~ambience.app.commands.FireBooking` through the controller (``dispatch``), which asks
:meth:`BookingService.due` what to do and starts the room; a cancel leaves the rooms to stop in
:meth:`BookingService.take_stops`, for the controller.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ambience.app.commands import FireBooking
from ambience.core.booking import Booking, admit, booking_lead, expand_weekly, handover, later
from ambience.core.calendar_plan import PresetTimes, Schedule
from ambience.errors import BookingError, NotFound, StoreError
from ambience.units import say_time

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

JOB_FUNC = "ambience.app.scheduler:fire"
WAIT_RETRY = 15.0
"""Seconds between tries of a booking waiting for a manual session to end."""
BUSY_TIMEOUT = 1.0
"""Seconds a write to the SQLite booking store waits for another connection's lock before it is refused
(the daemon's loop waits with it; its own writes take milliseconds)."""

_service: BookingService | None = None
"""The running daemon's service. APScheduler stores jobs as an importable function and
plain kwargs (a bound method or a pickled object would be lost on restart), so :func:`fire`
finds the service here; there is one per process, set by :meth:`BookingService.start`."""


# ---- the job function --------------------------------------------------------------------------


async def fire(**kwargs: Any) -> None:
    """The job APScheduler runs at ``start − lead``: the booking, through the one dispatcher."""
    if _service is None or _service.dispatch is None:
        log.error("booking %s is due but no booking service runs in this process", kwargs.get("id"))
        return
    _service.dispatch(FireBooking(booking=kwargs))


# ---- the service -------------------------------------------------------------------------------


class BookingService:
    def __init__(
        self,
        *,
        rooms: dict[str, Any],
        library: Any,
        store: Any,
        config: Any,
        state_dir: Any,
        clock: Callable[[], float],
        on_change: Callable[[str], None] = lambda room: None,
        twelve: bool = False,
        url: str | None = None,
    ):
        """``url``: the job store's SQLAlchemy URL (:meth:`Config.bookings_store_url`); left out, the
        bookings section's ``store_url`` or ``<state_dir>/bookings.db``."""
        from ambience.config.sections import BookingsConfig

        self.rooms = rooms
        self.library = library
        self.store = store
        self.settings: BookingsConfig = config
        self.clock = clock
        self.on_change = on_change
        self.tz = self.settings.zone()
        self.twelve = twelve
        """Times in messages with am/pm (the config's ``clock``)."""
        self.url = url or self.settings.store_url or f"sqlite:///{state_dir}/bookings.db"
        self.scheduler = self._make_scheduler()
        self._expander: asyncio.Task | None = None
        self._index: dict[str, Booking] | None = None
        """Future bookings by id (the job store's kwargs), loaded once: get_jobs() costs 0.1 s per 10k."""
        self._by_room: dict[str, dict[str, Booking]] = {}
        self._spans: dict[str, list[tuple[float, float, str]]] = {}
        """Per room, (from, end, id) sorted: a room's bookings never overlap, so neighbours are enough."""
        self._batched: set[str] | None = None
        self._stops: list[tuple[str, str]] = []
        """(booking, room) of cancelled bookings whose session is to stop once the cancel is written."""
        self.dispatch: Callable[[Any], Any] | None = None
        """The controller's execute: a job that fires goes through it (set by the controller)."""

    def _make_scheduler(self):
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from sqlalchemy import create_engine, event

        sqlite = self.url.startswith("sqlite")
        engine = create_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT} if sqlite else {})
        self._where = engine.url.database if sqlite else engine.url.render_as_string(hide_password=True)
        if sqlite:

            @event.listens_for(engine, "connect")
            def _pragmas(connection, _record) -> None:  # one commit per add_job: WAL makes it ~5x faster
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        from ambience.infra.jobstore import BatchingJobStore

        self._store = BatchingJobStore(engine=engine)

        class Scheduler(AsyncIOScheduler):
            """APScheduler's, except that once :meth:`shutdown` is called no job is taken out of the store.

            APScheduler 3.11 queues the shutdown on the loop behind the wakeups already queued (start() and every
            add_job queue one), and those still look at the jobs: one due then was taken out of the store, handed
            to the executor and cancelled by the shutdown that followed — a booking lost. Left in the store, it
            fires when the service starts again (``misfire_grace_time`` None)."""

            closing = False

            def start(self, paused: bool = False) -> None:
                self.closing = False
                super().start(paused)

            def shutdown(self, wait: bool = True) -> None:
                self.closing = True
                super().shutdown(wait)

            def _process_jobs(self):
                return None if self.closing else super()._process_jobs()

        return Scheduler(
            jobstores={"default": self._store},
            timezone=self.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # ---- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        global _service
        _service = self
        self.scheduler.start()
        self._index = None
        if self.settings.recurring:
            self._expander = asyncio.create_task(self._expand_forever(), name="recurring-bookings")

    def clock_stepped(self) -> None:
        """The wall clock jumped: look at the jobs again now (APScheduler sleeps on the loop's clock)."""
        if self.scheduler.running:
            self.scheduler.wakeup()

    def stop(self) -> None:
        global _service
        if self._expander is not None:
            self._expander.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if _service is self:
            _service = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many changes at once (a calendar sync, an import), written in one transaction: the scheduler
        looks at its jobs and the rooms' listeners hear of the change once, at the end, rather than after
        every booking. All or nothing: if the store cannot be written (:class:`StoreError`) or the block
        raises, no booking of the batch is added, moved or cancelled and no session is stopped."""
        from apscheduler.schedulers.base import STATE_RUNNING

        pause = self.scheduler.state == STATE_RUNNING
        if pause:
            self.scheduler.pause()
        outer, self._batched = self._batched, set()
        stops, self._stops = self._stops, []
        landed = False
        try:
            with self._writing(), self._store.batch():
                yield
            landed = True
        finally:
            rooms, self._batched = self._batched, outer
            mine, self._stops = self._stops, stops
            if outer is None and not landed:
                self._index = None  # what the store holds, read again
                mine = []
            self._stops += mine
            if pause:
                self.scheduler.resume()
            for room in sorted(rooms):
                self._changed(room)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A store that cannot be written, as a :class:`StoreError` saying why. Whatever writes inside has
        changed nothing when it fails (one statement, or a batch's one transaction)."""
        import sqlite3

        from sqlalchemy.exc import DBAPIError, IntegrityError

        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, sqlite3.Error, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(
                f"the booking store ({self._where}) could not be written: {reason}; nothing was changed"
            ) from None

    def take_stops(self) -> list[tuple[str, str]]:
        """``(booking, room)`` of bookings cancelled (their cancel written) whose session is to stop now."""
        stops, self._stops = self._stops, []
        return stops

    def _changed(self, room: str) -> None:
        if self._batched is not None:
            self._batched.add(room)
        else:
            self.on_change(room)

    # ---- queries -------------------------------------------------------------------------------

    def _preset_length(self, preset: str) -> float:
        try:
            return self.library.get(preset).duration
        except NotFound:
            return 0.0

    def _end(self, booking: Booking) -> datetime:
        return later(booking.start, booking.length(self._preset_length(booking.preset)))

    @property
    def index(self) -> dict[str, Booking]:
        if self._index is None:
            jobs = {job.id: Booking.from_kwargs(job.kwargs) for job in self.scheduler.get_jobs()}
            by_room: dict[str, dict[str, Booking]] = {}
            spans: dict[str, list[tuple[float, float, str]]] = {}
            for b in jobs.values():
                by_room.setdefault(b.room, {})[b.id] = b
                spans.setdefault(b.room, []).append(self._span(b))
            for items in spans.values():
                items.sort()
            self._by_room, self._spans = by_room, spans
            if not self.scheduler.running:
                return jobs  # only the jobs added since; the stored ones are read at start
            self._index = jobs
        return self._index

    def _span(self, b: Booking) -> tuple[float, float, str]:
        return (b.start.timestamp(), self._end(b).timestamp(), b.id)

    def _put(self, booking: Booking) -> None:
        self._drop(booking.id)
        self.index[booking.id] = booking
        self._by_room.setdefault(booking.room, {})[booking.id] = booking
        bisect.insort(self._spans.setdefault(booking.room, []), self._span(booking))

    def _drop(self, booking_id: str) -> None:
        booking = self.index.pop(booking_id, None)
        if booking is not None:
            self._by_room.get(booking.room, {}).pop(booking_id, None)
            spans = self._spans.get(booking.room, [])
            spans[:] = [s for s in spans if s[2] != booking_id]

    def bookings(self, source: str | None = None, room: str | None = None) -> list[Booking]:
        """Future bookings and those whose session is on now, by start time."""
        found = list(self.index.values())
        found += [b for b in self._running() if b.id not in self.index]
        return sorted(
            (b for b in found if (source is None or b.source == source) and (room is None or b.room == room)),
            key=lambda b: (b.start.timestamp(), b.room),
        )

    def _running(self) -> list[Booking]:
        out = []
        for room in self.rooms.values():
            if room.session_booking is not None:
                out.append(Booking.from_kwargs(room.session_booking))
        return out

    def schedule(self) -> Schedule:
        """The bookings and what :meth:`book` and :meth:`reschedule` check a booking against, as they are now:
        a calendar sync's plan is checked against it (:func:`~ambience.core.calendar_plan.check_plan`)."""
        presets = {pid: PresetTimes(p.duration, p.switch_lead) for pid, p in self.library.presets.items()}
        found, jobs = self.bookings(), self.index
        started = frozenset(b.id for b in found if b.id not in jobs)  # its job has run: reschedule refuses it
        return Schedule(tuple(self.rooms), presets, self.settings.lead, tuple(found), started, self.tz, self.twelve)

    def get(self, booking_id: str) -> Booking:
        for b in self.bookings():
            if b.id == booking_id:
                return b
        raise NotFound("booking", booking_id, [b.id for b in self.bookings()])

    def next_for(self, room_id: str) -> dict[str, Any] | None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        _ = self.index
        future = [b for b in self._by_room.get(room_id, {}).values() if self._end(b) > now]
        if not future:
            return None
        first = min(future, key=lambda b: b.start.timestamp())
        return first.json(self._preset_length(first.preset))

    # ---- changes ---------------------------------------------------------------------------------

    def book(
        self,
        room: str,
        preset: str,
        start: datetime,
        *,
        duration: float | None = None,
        lead: float | None = None,
        client: str | None = None,
        source: str = "manual",
        uid: str | None = None,
        booking_id: str | None = None,
    ) -> Booking:
        if room not in self.rooms:
            raise NotFound("room", room, list(self.rooms))
        found = self.library.get(preset)
        preset_length = found.duration
        if start.tzinfo is None:
            raise BookingError("a booking's start needs a timezone")
        start = start.astimezone(self.tz)
        lead = booking_lead(lead, self.settings.lead, found.switch_lead)
        booking = Booking(
            booking_id or self._new_id(), room, preset, start, duration, lead, client, source, uid,
        )  # fmt: skip
        end = later(start, booking.length(preset_length))
        others = [(b, self._end(b)) for b in self._near(room, start.timestamp(), end.timestamp())]
        admit(booking, end, datetime.fromtimestamp(self.clock(), UTC), others, twelve=self.twelve)
        self._schedule(booking, later(start, -booking.lead))
        log.info("booked %s: %s %s at %s", booking.id, room, preset, start.isoformat())
        self._changed(room)
        return booking

    def _new_id(self) -> str:
        """Eight hex digits no stored or running booking has: scheduling under a taken id replaces that
        booking (among 10,000 bookings two random ids clash in about 1 % of cases)."""
        while True:
            candidate = uuid.uuid4().hex[:8]
            if candidate not in self.index and all(b.id != candidate for b in self._running()):
                return candidate

    def _near(self, room: str, start: float, end: float) -> list[Booking]:
        """The room's bookings that could overlap [start, end): its neighbours in time, and a running one."""
        _ = self.index
        spans = self._spans.get(room, [])
        i = bisect.bisect_left(spans, (start,))
        near = spans[max(0, i - 1) : i]
        while i < len(spans) and spans[i][0] < end:
            near.append(spans[i])
            i += 1
        booked = self._by_room.get(room, {})
        running = self.rooms[room].session_booking
        extra = [Booking.from_kwargs(running)] if running is not None else []
        return [booked[s[2]] for s in near if s[2] in booked] + extra

    def _schedule(self, booking: Booking, when: datetime) -> None:
        """Store the booking's job, then list it: a booking the store refused is never listed."""
        with self._writing():
            self.scheduler.add_job(
                JOB_FUNC, "date", run_date=when, id=booking.id, kwargs=booking.kwargs(),
                replace_existing=True, name=f"{booking.room} {booking.preset} {booking.start:%Y-%m-%d %H:%M}",
            )  # fmt: skip
        self._put(booking)

    def cancel(self, booking_id: str, reason: str = "cancelled") -> Booking:
        """Cancel a booking; during its pre-heat or session the room goes to its after state."""
        booking = self.get(booking_id)
        job = self.scheduler.get_job(booking_id)
        with self._writing():
            if booking.uid:  # first: a tombstone of a booking whose removal then fails changes nothing
                self.store.add_tombstone(booking.uid, self._end(booking).timestamp())
            if job is not None:
                job.remove()
        self._drop(booking_id)
        self._stops.append((booking_id, booking.room))  # the controller stops the session (take_stops)
        log.info("booking %s %s (%s)", booking_id, reason, booking.room)
        self._changed(booking.room)
        return booking

    def reschedule(
        self, booking_id: str, *, room: str, preset: str, start: datetime, duration: float | None
    ) -> Booking:
        old = self.get(booking_id)
        if self.scheduler.get_job(booking_id) is None:
            raise BookingError(f"booking {booking_id} has started; stop it or cancel it instead")
        with self.batch():  # the move is one transaction
            self.scheduler.remove_job(booking_id)
            self._drop(booking_id)
            try:
                return self.book(
                    room, preset, start, duration=duration, lead=old.lead, client=old.client,
                    source=old.source, uid=old.uid, booking_id=old.id,
                )  # fmt: skip
            except Exception:
                self._schedule(old, later(old.start, -old.lead))  # put it back as it was (nothing is written yet)
                raise

    # ---- firing ------------------------------------------------------------------------------------

    def due(self, booking: Booking) -> Booking | None:
        """A booking's job fired: the booking to start now, or ``None`` (it waits, was missed, or runs)."""
        self._drop(booking.id)  # the job is done; _schedule puts back a waiting one
        now = self.clock()
        end = self._end(booking).timestamp()
        room = self.rooms.get(booking.room)
        if room is None or booking.preset not in self.library.presets:
            log.error("booking %s cannot start: its room or preset is gone", booking.id)
            self._missed(booking, end)
            return None
        if now >= end:
            log.warning("booking %s missed: the daemon was down for its whole window", booking.id)
            self._missed(booking, end)
            return None
        if room.session_booking is not None and room.session_booking.get("id") == booking.id:
            return None  # its session runs already (a restart)
        if room.active and self.settings.on_busy == "wait":
            self.wait(booking, f"waiting for the session in room {booking.room!r} to end")
            return None
        return booking

    def wait(self, booking: Booking, why: str) -> None:
        """The booking cannot start now: try again in WAIT_RETRY seconds, saying why. A client waiting is
        a warning; a pre-heat held while the session before runs to its end (back to back) is not."""
        if booking.waiting != why:
            late = booking.start.timestamp() <= self.clock()
            log.log(logging.WARNING if late else logging.INFO, "booking %s: %s", booking.id, why)
        try:
            self._schedule(replace(booking, waiting=why), datetime.fromtimestamp(self.clock() + WAIT_RETRY, UTC))
        except StoreError as exc:
            log.error("booking %s could not start and could not be kept for later: %s", booking.id, exc)
        self._changed(booking.room)

    def following(self, room_id: str, ended_at: float, turnover: float) -> Booking | None:
        """The booking that follows the session of ``room_id`` ending at ``ended_at`` straight on: one
        waiting for the room (its time has come), else the first whose pre-heat begins before a
        ``turnover`` from then is over (:func:`~ambience.core.booking.handover`)."""
        _ = self.index
        mine = sorted(self._by_room.get(room_id, {}).values(), key=lambda b: b.start.timestamp())
        for booking in mine:
            if self._end(booking).timestamp() <= ended_at:
                continue  # missed: its due() records it
            start = booking.start.timestamp()
            late = start < ended_at  # its time has come while the room was busy
            if booking.waiting or late or handover(ended_at, start, booking.lead, turnover):
                return booking
            if start - booking.lead > ended_at + turnover:
                return None
        return None

    def in_the_way(self, room_id: str, start: float, until: float, what: str) -> str | None:
        """Why a session of ``room_id`` running from ``start`` until ``until`` (``what``: "a 50m session now")
        would run into a booking, naming it and when the room is free; ``None`` if it would not."""
        _ = self.index
        mine = sorted(self._by_room.get(room_id, {}).values(), key=lambda b: b.start.timestamp())
        spans = [(b, b.start.timestamp(), self._end(b).timestamp()) for b in mine]
        clash = next(((b, s, e) for b, s, e in spans if s < until and e > start), None)
        if clash is None:
            return None
        booking, clash_start, free_from = clash
        for _, s, e in spans:  # the room is free again after the bookings that follow it back to back
            if clash_start <= s <= free_from:
                free_from = max(free_from, e)
        client = f", client {booking.client}" if booking.client else ""
        free = (
            f"the room is free until {self._shown(clash_start)} and again from {self._shown(free_from)}"
            if clash_start > start
            else f"the room is free again from {self._shown(free_from)}"
        )
        return (
            f"room {room_id!r} is booked at {self._shown(clash_start)} (booking {booking.id}, {booking.preset}"
            f"{client}, {self._shown(clash_start)}–{self._shown(self._end(booking).timestamp())}): {what} would "
            f"run until {self._shown(until)}; {free}. Force it (--force, or force: true) to go ahead: the booked "
            "client then waits, and their session is shifted whole"
        )

    def _shown(self, ts: float) -> str:
        """A time in the clinic's zone: ``19:00`` (``7:00 pm``) today, ``Tue 2 Dec 19:00`` another day."""
        today = datetime.fromtimestamp(self.clock(), self.tz).date()
        return say_time(datetime.fromtimestamp(ts, self.tz), today, twelve=self.twelve)

    def take(self, booking: Booking) -> None:
        """The booking's session has started ahead of its job (it follows the session before): the job goes.
        Called after the session is stored: a crash between the two finds the session running, and the job
        firing then does nothing (:meth:`due`)."""
        self._drop(booking.id)
        try:
            with self._writing():
                if self.scheduler.get_job(booking.id) is not None:
                    self.scheduler.remove_job(booking.id)
        except StoreError as exc:
            log.error("booking %s started, but its job could not be removed (it will find its session): %s",
                      booking.id, exc)  # fmt: skip

    def started(self, booking: Booking) -> None:
        log.info("booking %s started in %s (%s)", booking.id, booking.room, booking.preset)
        self._changed(booking.room)

    def _missed(self, booking: Booking, end: float) -> None:
        from ambience.core.session import SessionFacts
        from ambience.infra.store import SessionRecord

        facts = SessionFacts(started_at=booking.start.timestamp(), duration=end - booking.start.timestamp())
        record = SessionRecord(booking.id, booking.room, booking.preset, facts, booking.client)
        self.store.record_history(record, end, "missed")
        self._changed(booking.room)

    def room_freed(self, room_id: str) -> None:
        """A waiting booking of this room is tried at once rather than at its next retry."""
        _ = self.index
        for booking in list(self._by_room.get(room_id, {}).values()):
            # its job may be gone already: fired, or removed as the booking started (a restart's recovery)
            if booking.waiting and self.scheduler.get_job(booking.id) is not None:
                self.scheduler.modify_job(booking.id, next_run_time=datetime.now(UTC))

    # ---- recurring -------------------------------------------------------------------------------

    async def _expand_forever(self) -> None:
        while True:
            try:
                self.expand_recurring()
            except Exception:
                log.exception("expanding recurring bookings failed")
            await asyncio.sleep(6 * 3600)

    def expand_recurring(self) -> list[Booking]:
        """Book every weekly template's occurrences within the horizon that are not booked yet."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        today = now.astimezone(self.tz).date()
        known = {b.uid for b in self.bookings()} | self.store.tombstones()
        added = []
        for i, template in enumerate(self.settings.recurring):
            lead = self.settings.lead if template.lead is None else template.lead
            for start in expand_weekly(
                template.weekday, template.at_time(), self.tz, today, self.settings.horizon_days
            ):
                uid = f"recurring:{i}:{start.date().isoformat()}"
                if uid in known or later(start, -lead) <= now:
                    continue
                try:
                    added.append(
                        self.book(
                            template.room,
                            template.preset,
                            start,
                            duration=template.duration,
                            lead=lead,
                            client=template.client,
                            source=f"recurring:{i}",
                            uid=uid,
                        )  # fmt: skip
                    )
                except (BookingError, NotFound) as exc:
                    log.warning("recurring booking %s not made: %s", uid, exc)
                    self.store.add_tombstone(uid, start.timestamp() + 86400)
        return added
