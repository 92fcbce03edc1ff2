"""The one command dispatcher. CLI, HTTP, MQTT and scheduled jobs all come through here.

``Controller.execute(command)`` takes a command (:mod:`ambience.app.commands`): one a surface
sent as JSON (start, pause, resume, extend, stop, status, book, cancel) or one built by the CLI,
the scheduler or the calendar poller. It returns a :class:`Result`, or raises an
:class:`~ambience.errors.AmbienceError` that every surface shows the same way (one table,
:mod:`ambience.surfaces.errors`). The rooms are changed only here and in the rooms themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ambience.infra.store import Store

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from ambience.app.calendars import CalendarPoller, sync_events
from ambience.app.commands import (
    COMMANDS,
    AddClient,
    AnyCommand,
    Book,
    Cancel,
    CommandInvalid,
    Extend,
    FireBooking,
    Move,
    Pause,
    RemoveClient,
    Resume,
    Start,
    Status,
    Stop,
    SyncCalendar,
    parse_command,
)
from ambience.app.room import Room, iso
from ambience.app.scheduler import BookingService
from ambience.config.library import Library
from ambience.core.booking import Booking
from ambience.core.calendar_plan import SyncReport
from ambience.core.when import WhenError, parse_time
from ambience.errors import AmbienceError, BookedAhead, BookingError, Issue, NotFound, StoreError
from ambience.model.client import Client, close_label
from ambience.units import format_duration

log = logging.getLogger(__name__)

Listener = Callable[[str], None]


class Departure(Protocol):
    """A home visit's departure (``ambience visit leave``), which the daemon carries out: end every
    session and put the home back, clear ambience off the broker (:meth:`leave`, its report), then
    exit once the report is on its way (:meth:`go`). See docs/daemon.md."""

    async def leave(self, force: bool = False) -> dict[str, Any]: ...

    def go(self) -> None: ...


class UnknownClient(NotFound):
    """A client label that is not known but close to one that is: ``unknown client 'A Smith'; did you mean 'A. Smith'?``."""

    def __init__(self, label: str, meant: str):
        AmbienceError.__init__(self, f"unknown client {label!r}; did you mean {meant!r}?")
        self.kind, self.name = "client", label


@dataclass(frozen=True)
class Result:
    """What a command did, for the surface that sent it to show (one of these is set)."""

    room: dict[str, Any] | None = None
    """A session command: the room's status after it."""
    rooms: list[dict[str, Any]] | None = None
    """``status``: every room's (or one room's) status."""
    booking: dict[str, Any] | None = None
    client: dict[str, Any] | None = None
    report: SyncReport | None = None
    """``SyncCalendar``: what the sync did."""

    def json(self) -> dict[str, Any]:
        """The answer as the HTTP API and MQTT results have always shaped it."""
        if self.room is not None:
            return self.room
        if self.rooms is not None:
            return {"rooms": self.rooms}
        if self.booking is not None:
            return {"booking": self.booking}
        return self.client if self.client is not None else {}


class Controller:
    def __init__(self, rooms: dict[str, Room], library: Library, store: Store, clock: Callable[[], float]):
        self.rooms = rooms
        self.library = library
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []
        self._pending: dict[str, None] = {}
        self.defer: Callable[[Callable[[], None]], None] | None = None
        """How to run the listeners later (the daemon: its connection's background work); else call_soon."""
        self.bookings: BookingService | None = None
        """The booking scheduler, when the daemon runs one (its jobs dispatch here)."""
        self.calendars: CalendarPoller | None = None
        """The calendar poller, when calendar feeds are configured (its syncs dispatch here)."""
        self.departure: Departure | None = None
        """The daemon's home-visit departure (``POST /api/visit/leave``), when a daemon runs."""
        for room in rooms.values():
            room.on_change = self.changed
            room.successor = self._successor

    # ---- commands ---------------------------------------------------------------------------

    def execute(self, command: AnyCommand | dict[str, Any] | str | bytes) -> Result:
        """Run one command (a model, or a dict/JSON to validate first). Every trigger comes here: the
        surfaces, the CLI, the booking scheduler, the calendar poller. Raises an AmbienceError that
        every surface shows the same way (:mod:`ambience.surfaces.errors`)."""
        if not isinstance(command, COMMANDS):
            command = parse_command(command)
        if isinstance(command, Status):
            return Result(rooms=self.status(command.room))
        if isinstance(command, (Book, Cancel)):
            result = Result(booking=self._booking_command(command))
            self._stop_cancelled()
            return result
        if isinstance(command, Move):
            return Result(booking=self._move(command))
        if isinstance(command, FireBooking):
            return self._fire(Booking.from_kwargs(command.booking))
        if isinstance(command, SyncCalendar):
            report = sync_events(command.feed, command.events, self._service(), command.now, dry_run=command.dry_run)
            self._stop_cancelled()
            return Result(report=report)
        if isinstance(command, AddClient):
            client = Client(label=command.label, comfort=command.comfort)
            self.store.add_client(client)
            return Result(client=client.model_dump())
        if isinstance(command, RemoveClient):
            self.store.remove_client(command.label)
            return Result()
        room = self.room(command.room)
        note: str | None = None
        if isinstance(command, Start):
            preset = self.library.get(command.preset)
            if not command.force:
                length = command.duration or preset.duration
                starts = self.clock() + command.lead
                self._keep_bookings(room, starts, starts + length, f"a {format_duration(length)} session now")
            comfort = None
            if command.client:
                known = self._client(command.client)
                comfort = known.comfort if known else None
                if known is None:
                    note = "the client is not on the client list: no comfort preferences apply"
            room.start(
                preset, duration=command.duration, client=command.client, comfort=comfort,
                lead=command.lead, replace=command.replace,
            )  # fmt: skip
        elif isinstance(command, Pause):
            room.pause()
        elif isinstance(command, Resume):
            room.resume()
        elif isinstance(command, Extend):
            ends = room.ends_at
            if not command.force and command.by > 0 and ends is not None:
                self._keep_bookings(
                    room, self.clock(), ends + command.by, f"extending by {format_duration(command.by)}"
                )
            note = room.extend(command.by)
        elif isinstance(command, Stop):
            room.stop()
        self.changed(room.id)
        status = self.status(room.id)[0]
        if note:
            status["notes"] = [*(status.get("notes") or ()), note]
        return Result(room=status)

    def _client(self, label: str) -> Client | None:
        """The client a typed label names. A label close to a known one but not it (``A Smith`` for ``A.
        Smith``) is refused, naming the one meant: taken as a new client, its preferences would be dropped
        without a word. A label like no other is a client not on the list (a walk-in): None."""
        known = self.store.client(label)
        if known is not None:
            return known
        meant = close_label(label, [c.label for c in self.store.clients()])
        if meant is not None:
            raise UnknownClient(label, meant)
        return None

    def _service(self) -> BookingService:
        if self.bookings is None:
            raise BookingError("bookings are not available here (the daemon runs them)")
        return self.bookings

    def _fire(self, booking: Booking) -> Result:
        """A booking's time: the scheduler says whether it starts now; if so, its room starts it."""
        service = self._service()
        due = service.due(booking)
        if due is None:
            return Result()
        room = self.room(due.room)
        start = due.start.timestamp()
        if due.waiting:  # it waited for the room: the client gets the whole session, its phases shifted
            start = max(start, self.clock())
        try:
            self._start_booked(room, due, start, replace=True)
        except StoreError as exc:
            service.wait(due, f"waiting for the store: {exc}")
            return Result()
        service.started(due)
        self.changed(room.id)
        return Result(room=self.status(room.id)[0])

    def _start_booked(self, room: Room, booking: Booking, start: float, **how: Any) -> None:
        """Start ``booking``'s session in ``room`` at ``start`` (``how``: ``replace`` or ``follows``)."""
        preset = self.library.get(booking.preset)
        known = self.store.client(booking.client) if booking.client else None
        room.start(
            preset, duration=booking.length(preset.duration), client=booking.client,
            comfort=known.comfort if known else None, lead=booking.lead,
            booking=replace(booking, waiting=None).kwargs(), started_at=start, **how,
        )  # fmt: skip

    def _keep_bookings(self, room: Room, start: float, until: float, what: str) -> None:
        """Bookings come first: refuse (:class:`BookedAhead`) a manual session or an extension running into one."""
        if self.bookings is None:
            return
        why = self.bookings.in_the_way(room.id, start, until, what)
        if why is not None:
            raise BookedAhead(why)

    def _successor(self, room_id: str, outcome: str) -> bool:
        """The session of ``room_id`` is over (``outcome``): start the booked session that follows straight on,
        through the room's turnover; late (the room was busy past its start), it is shifted whole."""
        if self.bookings is None:
            return False
        room = self.rooms[room_id]
        now = self.clock()
        booking = self.bookings.following(room_id, now, room.config.turnover.length)
        if booking is None or booking.preset not in self.library.presets:
            return False
        start = max(booking.start.timestamp(), now)  # a client kept waiting gets the whole session, phases shifted
        try:
            self._start_booked(room, booking, start, follows=outcome)
        except StoreError as exc:
            log.error("booking %s could not follow on in %s: %s", booking.id, room_id, exc)
            return False
        self.bookings.take(booking)
        self.bookings.started(booking)
        self.changed(room_id)
        return True

    def _stop_cancelled(self) -> None:
        """The sessions of bookings cancelled while they ran end now (their cancel is written)."""
        if self.bookings is None:
            return
        for booking_id, room_id in self.bookings.take_stops():
            room = self.rooms.get(room_id)
            running = room.session_booking if room is not None else None
            if room is not None and running is not None and running.get("id") == booking_id:
                room.stop(outcome="cancelled")
                self.changed(room_id)

    def _booking_command(self, command: Book | Cancel) -> dict[str, Any]:
        service = self._service()
        if isinstance(command, Book):
            self.room(command.room)
            if command.client:
                self._client(command.client)
            start = self._when(command.at)
            booking = service.book(
                command.room, command.preset, start,
                duration=command.duration, lead=command.lead, client=command.client,
            )  # fmt: skip
        else:
            booking = service.get(command.id)
            if command.room is not None and booking.room != command.room:
                raise NotFound("booking", command.id, [b.id for b in service.bookings(room=command.room)])
            booking = service.cancel(command.id)
        preset = self.library.presets.get(booking.preset)
        return booking.json(preset.duration if preset else None)

    def _when(self, text: str) -> datetime:
        """A booking's ``at`` as people write it, read against the daemon's clock in the clinic's zone."""
        tz = self._service().tz
        try:
            return parse_time(text, datetime.fromtimestamp(self.clock(), tz), tz)
        except WhenError as exc:
            raise CommandInvalid([Issue("command", "at", str(exc))]) from None

    def _move(self, command: Move) -> dict[str, Any]:
        """A booking to a new start (and room, preset, length if given): one transaction, refused whole."""
        service = self._service()
        booking = service.get(command.id)
        room = command.room or booking.room
        self.room(room)
        start = self._when(command.at)
        moved = service.reschedule(
            booking.id, room=room, preset=command.preset or booking.preset, start=start,
            duration=command.duration if command.duration is not None else booking.duration,
        )  # fmt: skip
        if moved.room != booking.room:
            self.changed(booking.room)  # its old room's next booking is another now
        preset = self.library.presets.get(moved.preset)
        return moved.json(preset.duration if preset else None)

    def list_bookings(self, room: str | None = None, day: Any = None) -> list[dict[str, Any]]:
        if self.bookings is None:
            return []
        if room is not None:
            self.room(room)
        out = []
        for b in self.bookings.bookings(room=room):
            if day is not None and b.start.astimezone(self.bookings.tz).date() != day:
                continue
            preset = self.library.presets.get(b.preset)
            out.append(b.json(preset.duration if preset else None))
        return out

    # ---- queries ------------------------------------------------------------------------------

    def room(self, room_id: str) -> Room:
        try:
            return self.rooms[room_id]
        except KeyError:
            raise NotFound("room", room_id, list(self.rooms)) from None

    def status(self, room_id: str | None = None) -> list[dict[str, Any]]:
        rooms = [self.room(room_id)] if room_id is not None else list(self.rooms.values())
        out = []
        for room in rooms:
            status = room.status()
            nxt = status["next_booking"] = self.bookings.next_for(room.id) if self.bookings is not None else None
            status["waiting_since"] = None
            if nxt is not None and nxt.get("waiting"):
                booked = datetime.fromisoformat(nxt["start"]).timestamp()
                if booked <= self.clock():  # the client is here: "client waiting since 19:00"
                    status["waiting_since"] = iso(booked)
            out.append(status)
        return out

    def presets(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p.id,
                "name": p.name,
                "technique": p.technique,
                "duration_s": p.duration,
                "description": p.description.strip(),
                "summary": p.summary(),
            }
            for p in sorted(self.library.presets.values(), key=lambda p: (p.technique, p.duration, p.id))
        ]

    def history(self, room: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if room is not None:
            self.room(room)
        return self.store.history(room, limit)

    def clients(self) -> list[dict[str, Any]]:
        return [c.model_dump() for c in self.store.clients()]

    # ---- change notifications ---------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener(room_id)`` after anything about a room changed (on the loop)."""
        self._listeners.append(listener)

    def changed(self, room_id: str) -> None:
        """Tell the listeners, once per room, after the commands already queued on the loop.

        A burst of 200 starts told each surface 400 times before the next start was read (bench
        P2); now each room's state is published once, after the burst's device commands.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a tool using the controller directly): tell them now
            self._tell(room_id)
            return
        if not self._pending:
            if self.defer is not None:
                self.defer(self._flush)
            else:
                loop.call_soon(self._flush)
        self._pending[room_id] = None

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for room_id in pending:
            self._tell(room_id)

    def _tell(self, room_id: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(room_id)
            except Exception:
                log.exception("a change listener failed")
