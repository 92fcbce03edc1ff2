"""The clinic day of issue 16 (point 9) as data and as a run on a virtual clock, shared by
``tests/test_clinic_day.py`` (which checks it) and ``bench/clinic.py`` (which times it, and replays its
bookings in real time on a real broker).

Six rooms, 60 back-to-back bookings (room 6 fed by a practitioner's ICS feed), walk-ins, extensions,
cancellations and feed edits: :data:`ACTIONS` says what happens when, :func:`plan` which bookings the
day opens with, and :func:`run_virtual_day` runs it minute by minute through the real controller,
booking service (its APScheduler job store) and rooms, with no broker, and returns what it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ambience.app.commands import Cancel, Extend, FireBooking, Start, SyncCalendar
from ambience.core.booking import parse_when
from ambience.core.calendar_plan import parse_feed
from ambience.errors import AmbienceError
from ambience.testing.waiting import Clock

LONDON = ZoneInfo("Europe/London")
DAY = "2026-12-03"
OPENING = "06:55"
"""When the day's clock begins (the first walk-in is at 07:00)."""
CLOSING = "19:30"
ROOMS: dict[str, Any] = {
    f"r{n}": {
        "thermostat": {"bridge": "zigbee2mqtt", "device": f"trv{n}"},
        "lights": [{"bridge": "zigbee2mqtt", "device": f"lamp{n}", "role": "lamp"}],
        "switches": [{"bridge": "zigbee2mqtt", "device": f"warmer{n}", "role": "table_warmer"}],
        "speaker": None,
    }
    for n in range(1, 7)
}
PHASES = "phases:\n  - {name: arrival, at: 0m}\n  - {name: treatment, at: 10m}\n  - {name: closing, at: -10m}\n"
PRESETS: dict[str, str | dict[str, Any]] = {
    "hour": "name: Hour\nduration: 60m\nclimate: {target: 24}\nlights: {brightness: 30}\n" + PHASES,
    "warm": "name: Warm\nduration: 60m\nclimate: {target: 25}\nlights: {brightness: 20}\n"
    "switches: {table_warmer: {state: on, from: -40m}}\n" + PHASES,
    "fifty": "name: Fifty\nduration: 50m\nclimate: {target: 23}\nlights: {brightness: 35}\n" + PHASES,
    "walkin": "name: Walk-in\nduration: 50m\nclimate: {target: 24}\n" + PHASES,
}
PRESET_MINUTES = {"hour": 60, "warm": 60, "fifty": 50, "walkin": 50}
HOURS = [8, 9, 10, 11, 13, 14, 15, 16, 17, 18]  # back to back, a lunch break at 12:00
CLIENTS = ["F. White", "G. Black", "H. Green", "I. Brown", "J. Grey", "K. Stone", "L. Wood", "M. Field",
           "N. Hill", "O. Lake"]  # fmt: skip
DESK_PRESETS = {"r1": "hour", "r2": "hour", "r3": "warm", "r4": "hour", "r5": "fifty"}
"""The rooms booked at the desk and their preset; room 6 is booked by the feed (its default preset, hour)."""
FEED_ROOM, FEED_PRESET = "r6", "hour"
LEAD_MINUTES = 15
TURNOVER_MINUTES = 5
BOOKINGS = {"timezone": "Europe/London", "lead": f"{LEAD_MINUTES}m"}


def at(text: str) -> datetime:
    return parse_when(f"{DAY} {text}", LONDON)


def ics(events: list[tuple[str, int, int, str]], cancelled: tuple[str, ...] = ()) -> str:
    """The practitioner's feed: (uid, hour, minute, title) events of an hour each in treatment room 6."""
    body = ""
    for uid, hour, minute, title in events:
        start = at(f"{hour:02d}:{minute:02d}")
        end = start + timedelta(hours=1)
        body += (
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T070000Z\r\n"
            f"DTSTART;TZID=Europe/London:{start:%Y%m%dT%H%M%S}\r\nDTEND;TZID=Europe/London:{end:%Y%m%dT%H%M%S}\r\n"
            f"SUMMARY:{title}\r\nLOCATION:Treatment Room 6\r\n" + ("STATUS:CANCELLED\r\n" if uid in cancelled else "")
            + "END:VEVENT\r\n"
        )  # fmt: skip
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//clinic//EN\r\n{body}END:VCALENDAR\r\n"


FEED_EVENTS = [(f"e{h}", h, 0, f"Deep tissue 60 – {CLIENTS[i]}") for i, h in enumerate(HOURS)]


@dataclass(frozen=True)
class Planned:
    """One booking the day opens with."""

    room: str
    preset: str
    start: datetime
    client: str | None
    uid: str | None = None
    """The feed event's UID (room 6), else None (booked at the desk)."""

    @property
    def minutes(self) -> int:
        return PRESET_MINUTES[self.preset]


def plan() -> list[Planned]:
    """The 60 bookings of the morning: 50 at the desk, 10 from the feed."""
    out = [
        Planned(room, preset, at(f"{hour:02d}:00"), CLIENTS[i][:1] + ".")
        for room, preset in DESK_PRESETS.items()
        for i, hour in enumerate(HOURS)
    ]
    out += [Planned(FEED_ROOM, FEED_PRESET, at(f"{h:02d}:{m:02d}"), None, uid) for uid, h, m, _ in FEED_EVENTS]
    return out


@dataclass(frozen=True)
class Action:
    """Something the desk does during the day: ``kind`` is start, extend, cancel or feed_edit."""

    at: str
    kind: str
    label: str
    args: dict[str, Any] = field(default_factory=dict)


ACTIONS = [
    Action("07:00", "start", "walk-in r3 07:00 30m", {"room": "r3", "preset": "walkin", "duration": "30m"}),
    Action("08:40", "extend", "extend r4 into 09:00", {"room": "r4", "by": "10m"}),
    Action("08:40", "extend", "extend r5 5m", {"room": "r5", "by": "5m"}),
    Action("10:00", "cancel", "cancel r1 15:00", {"room": "r1", "hour": 15}),
    Action("10:30", "feed_edit", "Anna's 14:00 moves to 12:00, her 17:00 cancels, a new 14:00"),
    Action("11:30", "extend", "extend r3 into lunch", {"room": "r3", "by": "10m"}),
    Action("11:30", "extend", "extend r2 into lunch", {"room": "r2", "by": "10m"}),
    Action("12:01", "start", "walk-in r1 lunch", {"room": "r1", "preset": "walkin"}),
    Action("12:15", "start", "walk-in r2 60m", {"room": "r2", "preset": "walkin", "duration": "60m"}),
    Action("12:15", "start", "walk-in r2 40m", {"room": "r2", "preset": "walkin", "duration": "40m"}),
    Action("14:30", "extend", "extend r2 into 15:00", {"room": "r2", "by": "10m"}),
    Action("15:01", "start", "walk-in r1 in the cancelled slot", {"room": "r1", "preset": "walkin"}),
    Action("15:50", "cancel", "cancel r2 16:00", {"room": "r2", "hour": 16}),
]  # fmt: skip


def edited_feed() -> str:
    """The feed after the 10:30 edit: Anna's 14:00 client moves to the lunch slot, her 17:00 cancels, a new 14:00."""
    edited = [e for e in FEED_EVENTS if e[0] != "e14"] + [("e14", 12, 0, "Deep tissue 60 – F. White"),
                                                           ("new", 14, 0, "Deep tissue 60 – P. Moor")]  # fmt: skip
    return ics(edited, cancelled=("e17",))


def write_day(folder: Path, mqtt: str, *, feed: bool = True, http: dict[str, Any] | bool = False, **sections: Any):
    """The clinic's ``ambience.yaml`` and presets (and with ``feed``, Anna's ICS feed for room 6)."""
    from ambience.testing.clinic import write_clinic

    bookings: dict[str, Any] = dict(BOOKINGS)
    if feed:
        feed_file = folder / "anna.ics"
        folder.mkdir(parents=True, exist_ok=True)
        feed_file.write_text(ics(FEED_EVENTS), encoding="utf-8")
        bookings["calendars"] = [{
            "name": "anna", "file": str(feed_file), "practitioner": "Anna Smith", "default_preset": FEED_PRESET,
            "rooms": [{"room": FEED_ROOM, "practitioner": "Anna Smith", "location": "treatment room 6"}],
        }]  # fmt: skip
    return write_clinic(
        folder, ROOMS, mqtt=mqtt, presets=PRESETS, builtin=False, http=http, bookings=bookings, **sections
    )


@dataclass
class VirtualDay:
    """What :func:`run_virtual_day` saw."""

    daemon: Any
    booked: dict[str, datetime]
    """booking id -> its start (the feed's moves included)."""
    opened_with: int
    """How many bookings the day opened with."""
    cancelled: set[str]
    refused: list[tuple[str, str]]
    """(action label, the refusal's words)."""
    rooms_of: dict[str, str]
    started: dict[str, float]
    """booking id -> its session's started_at."""
    phases: dict[str, list[str]]
    """session id -> the phases it went through, in order."""
    states: dict[str, dict[float, str]]
    """room -> minute -> state."""

    def by_hour(self, room: str, hour: int) -> str:
        return next(
            bid for bid, start in self.booked.items() if start == at(f"{hour:02d}:00") and self.rooms_of[bid] == room
        )


def run_virtual_day(folder: Path) -> VirtualDay:
    """The whole day, minute by minute, on a virtual clock (no broker: nothing is sent)."""
    from ambience.daemon import Daemon

    clock = Clock(at(OPENING).timestamp())
    files = write_day(folder, "mqtt://127.0.0.1:1")
    feed_file = folder / "anna.ics"
    daemon = Daemon(files.config, players=False, clock=clock)
    controller, service = daemon.controller, daemon.bookings
    execute = controller.execute
    feed = daemon.config.bookings.calendars[0].resolved(files.file.parent)

    def sync(text: str) -> None:
        now = datetime.fromtimestamp(clock.now, LONDON)
        events = tuple(parse_feed(text, "anna", now, now + timedelta(days=14), LONDON))
        report = execute(SyncCalendar(feed, events, now)).report
        if report is None or not report.ok:
            raise AssertionError(report.json() if report is not None else "no sync report")

    booked: dict[str, datetime] = {}
    for p in plan():
        if p.uid is None:
            b = service.book(p.room, p.preset, p.start, client=p.client)
            booked[b.id] = b.start
    sync(feed_file.read_text(encoding="utf-8"))
    feed_ids = {b.uid: b.id for b in service.bookings(source="calendar:anna")}
    booked.update({b.id: b.start for b in service.bookings(source="calendar:anna")})
    day = VirtualDay(daemon, booked, len(booked), set(), [], {b.id: b.room for b in service.bookings()}, {}, {}, {})

    def attempt(what: str, command: Any) -> bool:
        try:
            execute(command)
            return True
        except AmbienceError as exc:
            day.refused.append((what, str(exc)))
            return False

    def feed_edit() -> None:
        feed_file.write_text(edited_feed(), encoding="utf-8")
        sync(feed_file.read_text(encoding="utf-8"))
        day.cancelled.add(feed_ids["e17"])
        booked[feed_ids["e14"]] = at("12:00")
        new = next(b for b in service.bookings(source="calendar:anna") if b.uid == "new")
        booked[new.id] = new.start
        day.rooms_of[new.id] = FEED_ROOM

    def perform(action: Action) -> Callable[[], object]:
        a = action.args
        if action.kind == "start":
            return lambda: attempt(action.label, Start(room=a["room"], preset=a["preset"], duration=a.get("duration")))
        if action.kind == "extend":
            return lambda: attempt(action.label, Extend(room=a["room"], by=a["by"]))
        if action.kind == "cancel":

            def cancel() -> None:
                bid = day.by_hour(a["room"], a["hour"])
                if not attempt(f"cancel {bid}", Cancel(id=bid)):
                    raise AssertionError(f"cancelling {bid} was refused: {day.refused[-1][1]}")
                day.cancelled.add(bid)

            return cancel
        return feed_edit

    actions_at: dict[float, list[Callable[[], object]]] = {}
    for action in ACTIONS:
        actions_at.setdefault(at(action.at).timestamp(), []).append(perform(action))
    day.states.update({room: {} for room in ROOMS})

    async def run_day() -> None:
        rooms = controller.rooms
        end = at(CLOSING).timestamp()
        while clock.now < end:
            clock.advance(60.0)
            for job in sorted(service.scheduler.get_jobs(), key=lambda j: j.trigger.run_date):
                if job.trigger.run_date.timestamp() <= clock.now:
                    job.remove()
                    execute(FireBooking(booking=job.kwargs))
            for act in actions_at.get(clock.now, ()):
                act()
            for room_id, room in rooms.items():
                await room.tick()
                status = room.status()
                booking = room.session_booking
                if booking is not None and room.record is not None and booking["id"] not in day.started:
                    day.started[booking["id"]] = room.record.facts.started_at
                if room.record is not None and status["phase"]:
                    seen = day.phases.setdefault(room.record.id, [])
                    if not seen or seen[-1] != status["phase"]:
                        seen.append(status["phase"])
                day.states[room_id][clock.now] = status["state"]

    asyncio.run(run_day())
    return day
