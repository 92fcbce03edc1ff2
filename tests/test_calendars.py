"""Calendar feeds: parsing real-looking ICS exports, mapping rules, and syncs that add, move and cancel.

The booking service is :class:`FakeBookings`, an in-memory implementation of the five calls a sync
makes (``bookings``, ``schedule``, ``book``, ``reschedule``, ``cancel``) with the real overlap rule, holding the
real :class:`~ambience.core.booking.Booking`; the core sync cases (fixture ``service``) run against it and
against the daemon's own BookingService, so the fake cannot drift from the contract. Fixtures in ``fixtures/calendars/``: ``google-v1.ics`` and
``google-v2.ics`` are two exports of the same Google calendar (Europe/London) a day apart;
``booking-system.ics`` is a clinic system's export (UTC and floating times, service in DESCRIPTION).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError
from rich.console import Console

from ambience.app.calendars import CalendarPoller, apply_plan, fetch, sync_feed
from ambience.app.commands import SyncCalendar
from ambience.app.controller import Controller
from ambience.cli import Context, calendar_cmds
from ambience.cli.client_cmds import DaemonClient, DaemonRefused
from ambience.config import Config, parse_config
from ambience.config.calendars import CalendarFeed, CalendarsConfig, check_feeds, shown_url
from ambience.config.library import Library
from ambience.core.booking import Booking
from ambience.core.calendar_plan import (
    PresetTimes,
    Schedule,
    SyncReport,
    Target,
    Want,
    dry_run,
    map_event,
    parse_feed,
    plan_feed,
    plan_sync,
)
from ambience.errors import BookingError, CalendarError, NotFound, StoreError
from ambience.infra.store import Store
from ambience.model._base import Strict
from ambience.model.calendar import Event
from ambience.model.parse import issues_from

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "calendars"
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
"""Monday 16 March 2026, 08:00 — a day before the first fixture appointment, two weeks before BST starts."""
WEEKLY = "7kq3f0c2v1p8s5m9t4r6b2n1de@google.com"
SWEDISH, EXPRESS, HOT_STONE = (
    "2b8d4k1m9q7r3s5t6v0w2x4y6z@google.com",
    "5c1e7g3i9k2m4o6q8s0u1w3y5a@google.com",
    "8d2f4h6j8l0n1p3r5t7v9x2z4b@google.com",
)
FOLLOW_UP, WHITE = "9e3g5i7k9m1o3q5s7u9w1y3a5c@google.com", "3b5d7f9h1j3l5n7p9r1t3v5x7z@google.com"
PRESET_LENGTHS = {
    "deep-tissue-60": 3600.0,
    "express-30": 1800.0,
    "swedish-relaxation-60": 3600.0,
    "swedish-relaxation-90": 5400.0,
    "follow-up-45": 2700.0,
}

FEED: dict[str, Any] = {
    "name": "clinic",
    "file": str(FIXTURES / "google-v1.ics"),
    "horizon_days": 42,
    "rooms": [
        {"room": "room-1", "location": "treatment room 1"},
        {"room": "room-2", "location": "Treatment Room 2"},
    ],
    "presets": [
        {"preset": "deep-tissue-60", "keywords": ["deep tissue"]},
        {"preset": "express-30", "keywords": ["express"]},
        {"preset": "swedish-relaxation-90", "title": r"^swedish.*\b90\b"},
        {"preset": "follow-up-45", "length": "45m"},
    ],
    "default_preset": "swedish-relaxation-60",
}


def feed(**changes: Any) -> CalendarFeed:
    return CalendarFeed.model_validate({**FEED, **changes})


def text(name: str) -> str:
    """A fixture as served: its CRLF line ends kept."""
    return (FIXTURES / name).read_bytes().decode("utf-8")


def at(*parts: int) -> datetime:
    """A wall time in London."""
    return datetime(*parts, tzinfo=LONDON)


def occurrence(utc_start: str) -> str:
    return f"{WEEKLY}@{utc_start}"


class FakeBookings:
    """The booking service's contract, in memory: ``bookings``, ``book``, ``reschedule``, ``cancel``."""

    twelve = False

    def take_stops(self) -> list[tuple[str, str]]:
        return []  # no rooms here: nothing runs to be stopped

    def __init__(self, rooms: tuple[str, ...] = ("room-1", "room-2", "room-3"), lead: float = 900.0):
        self.rooms = rooms
        self.lead = lead
        self.items: dict[str, Booking] = {}
        self._ids = itertools.count(1)

    def bookings(self, source: str | None = None) -> list[Booking]:
        found = (b for b in self.items.values() if source is None or b.source == source)
        return sorted(found, key=lambda b: (b.start, b.room))

    def book(self, room: str, preset: str, start: datetime, *, duration: float | None = None,
             lead: float | None = None, client: str | None = None, source: str = "manual",
             uid: str | None = None) -> Booking:  # fmt: skip
        booking = Booking(f"b{next(self._ids)}", room, preset, start, duration,
                          self.lead if lead is None else lead, client, source, uid)  # fmt: skip
        self._check(booking)
        self.items[booking.id] = booking
        return booking

    def reschedule(self, booking_id: str, *, room: str, preset: str, start: datetime,
                   duration: float | None) -> Booking:  # fmt: skip
        moved = replace(self._get(booking_id), room=room, preset=preset, start=start, duration=duration)
        self._check(moved)
        self.items[booking_id] = moved
        return moved

    def cancel(self, booking_id: str, reason: str = "cancelled") -> Booking:
        return self.items.pop(self._get(booking_id).id)

    def schedule(self) -> Schedule:
        presets = {name: PresetTimes(length, 0.0) for name, length in PRESET_LENGTHS.items()}
        return Schedule(self.rooms, presets, self.lead, tuple(self.bookings()))

    def _get(self, booking_id: str) -> Booking:
        if booking_id not in self.items:
            raise NotFound("booking", booking_id, list(self.items))
        return self.items[booking_id]

    def _end(self, booking: Booking) -> datetime:
        return booking.start + timedelta(seconds=booking.length(PRESET_LENGTHS[booking.preset]))

    def _check(self, booking: Booking) -> None:
        if booking.room not in self.rooms:
            raise NotFound("room", booking.room, list(self.rooms))
        if booking.preset not in PRESET_LENGTHS:
            raise NotFound("preset", booking.preset, list(PRESET_LENGTHS))
        ours = booking.start - timedelta(seconds=booking.lead)
        for other in self.items.values():
            theirs = other.start - timedelta(seconds=other.lead)
            if other.id != booking.id and other.room == booking.room:
                if ours < self._end(other) and theirs < self._end(booking):
                    raise BookingError(f"room {booking.room!r} is booked then: booking {other.id} ({other.preset})")


ROOMS = {room: {"speaker": None} for room in ("room-1", "room-2", "room-3")}


@pytest.fixture(params=["fake", "real"])
def service(request, tmp_path: Path) -> Iterator[Any]:
    """The same cases against :class:`FakeBookings` and the daemon's own BookingService (fixed clock, not started)."""
    if request.param == "fake":
        yield FakeBookings()
        return
    from ambience.daemon import Daemon

    presets = tmp_path / "presets"
    presets.mkdir()
    for name, length in PRESET_LENGTHS.items():
        (presets / f"{name}.yaml").write_text(f"name: {name}\nduration: {length:g}s\nclimate: {{target: 24}}\n")
    config = {
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": [str(presets)], "music": [], "state_dir": "state",
        "http": {"enabled": False}, "bookings": {"timezone": "Europe/London", "lead": "15m"}, "rooms": ROOMS,
    }  # fmt: skip
    daemon = Daemon(parse_config(json.dumps(config), "test.yaml", tmp_path), players=False, clock=NOW.timestamp)
    try:
        yield daemon.bookings
    finally:
        daemon.store.close()


def snapshot(service: Any) -> set[tuple[Any, ...]]:
    """Everything about every booking, ids included."""
    return {(b.id, b.uid, b.room, b.preset, b.start, b.duration, b.lead, b.source) for b in service.bookings()}


def booked(service: Any) -> set[tuple[str | None, str, str, datetime]]:
    return {(b.uid, b.room, b.preset, b.start) for b in service.bookings(source="calendar:clinic")}


V1 = {
    (occurrence("2026-03-17T09:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 3, 17, 9)),
    (SWEDISH, "room-1", "swedish-relaxation-90", at(2026, 3, 18, 14)),
    (EXPRESS, "room-2", "express-30", at(2026, 3, 19, 10)),
    (HOT_STONE, "room-1", "swedish-relaxation-60", at(2026, 3, 20, 11)),
    (FOLLOW_UP, "room-1", "follow-up-45", at(2026, 3, 23, 16)),
    (occurrence("2026-03-31T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 3, 31, 9)),
    (occurrence("2026-04-14T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 4, 14, 9)),
    (occurrence("2026-04-21T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 4, 21, 9)),
}
"""google-v1 from NOW, 42 days: the weekly series without 24 Mar (EXDATE) and 7 Apr (cancelled);
no staff meeting (Reception: no room), Good Friday (all day), 13 Mar (past) or 20 May (beyond)."""

V2 = {
    (occurrence("2026-03-17T09:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 3, 17, 9)),
    (SWEDISH, "room-1", "swedish-relaxation-90", at(2026, 3, 18, 16)),  # moved from 14:00
    (FOLLOW_UP, "room-1", "follow-up-45", at(2026, 3, 23, 16)),
    (WHITE, "room-1", "deep-tissue-60", at(2026, 3, 25, 13)),  # added
    (occurrence("2026-03-31T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 3, 31, 10, 30)),  # moved
    (occurrence("2026-04-14T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 4, 14, 9)),
    (occurrence("2026-04-21T08:00:00+00:00"), "room-2", "deep-tissue-60", at(2026, 4, 21, 9)),
}
"""google-v2: Express cancelled (STATUS:CANCELLED), Hot stone deleted, F. White added, two moved."""


def dispatching(service: Any) -> Any:
    """The daemon's dispatcher over ``service``: the poller's syncs run through Controller.execute."""
    controller = Controller({}, Library(), Store(":memory:"), NOW.timestamp)
    controller.bookings = service
    return controller.execute


def synced(name: str = "google-v1.ics", service: Any = None) -> Any:
    service = service or FakeBookings()
    report = sync_feed(feed(), text(name), service, NOW, LONDON)
    assert report.ok, report
    return service


# ---- config ---------------------------------------------------------------------------------------


class Holder(Strict):
    """Stands in for the config section that holds the feeds."""

    calendars: CalendarsConfig = []


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Holder.model_validate({"calendars": [data]})
    return [str(issue) for issue in issues_from(caught.value, Holder, "ambience.yaml")]


def test_a_feed_config_with_every_kind_of_rule_is_accepted():
    clinic = feed(url="webcal://calendar.example.com/ical/private-0123/basic.ics", file=None, poll="5m", lead="10m")
    assert (clinic.poll, clinic.lead, clinic.source) == (300.0, 600.0, "calendar:clinic")
    assert clinic.presets[3].length == 2700.0
    assert clinic.where() == "webcal://calendar.example.com/…/basic.ics"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"url": "https://calendar.example.com/a.ics"}, "needs exactly one of url, file or caldav"),
        ({"file": None}, "needs exactly one of url, file or caldav"),
        ({"file": None, "url": "ftp://files.example.com/private-99/a.ics"}, "is not a feed URL"),
        (
            {"rooms": [{"room": "room-1"}]},
            "needs location, title, category, calendar or practitioner; for every event use default_room",
        ),
        ({"rooms": [{"room": "room-1", "title": "(unclosed"}]}, "is not a regular expression"),
        ({"presets": [{"preset": "express-30"}]}, "needs keywords, title or length"),
        ({"presets": [{"preset": "x", "length": "an hour"}]}, "is not a duration"),
        ({"poll": "5s"}, "5s is too often"),
        ({"rooms": []}, "has no rooms rules and no default_room"),
        ({"rooms": [{"room": "room-1", "locaton": "Room 1"}]}, "unknown key 'locaton'; did you mean 'location'?"),
        ({"name": "Front Desk"}, "use lowercase letters"),
    ],
)
def test_a_bad_feed_config_is_reported_with_what_is_allowed(change: dict[str, Any], expected: str):
    found = problems({**FEED, **change})
    assert any(expected in p and p.startswith("ambience.yaml: calendars[0]") for p in found), found


def test_the_secret_part_of_a_feed_url_is_never_shown():
    problem = problems({**FEED, "file": None, "url": "ftp://files.example.com/private-99/a.ics"})
    assert "private-99" not in " ".join(problem)
    url = "https://calendar.google.com/calendar/ical/clinic%40group/private-0123456789abcdef/basic.ics?k=s3cret"
    assert shown_url(url) == "https://calendar.google.com/…/basic.ics"


def test_feed_names_are_unique():
    with pytest.raises(ValidationError) as caught:
        Holder.model_validate({"calendars": [FEED, FEED]})
    assert "calendar name 'clinic' is used twice" in str(issues_from(caught.value, Holder, "ambience.yaml")[0])


def test_rooms_and_presets_the_rules_name_are_checked_against_the_config():
    issues = check_feeds([feed()], ["room-1", "room-3"], ["deep-tissue-60", "express-30"], "ambience.yaml")
    found = {(i.field, i.message) for i in issues}
    assert ("bookings.calendars[0].rooms[1].room", "unknown room 'room-2'; did you mean 'room-3'?") in found
    assert any(f == "bookings.calendars[0].default_preset" for f, _ in found)
    assert not check_feeds([feed()], ["room-1", "room-2"], None, "ambience.yaml")


def test_a_relative_file_is_relative_to_the_config_folder(tmp_path: Path):
    assert feed(file="feeds/clinic.ics").resolved(tmp_path).file == tmp_path / "feeds" / "clinic.ics"


# ---- mapping --------------------------------------------------------------------------------------


def event(summary: str = "Deep tissue 60 – A. Smith", location: str = "Treatment Room 2", minutes: float = 60,
          description: str = "") -> Event:  # fmt: skip
    start = at(2026, 3, 17, 9)
    return Event("uid-1", "uid-1", summary, start, start + timedelta(minutes=minutes), location, description)


def test_the_first_matching_room_rule_wins_and_location_ignores_case():
    rules = feed(rooms=[{"room": "room-2", "location": "ROOM 2"}, {"room": "room-9", "location": "treatment"}])
    assert map_event(event(), rules) == Target("room-2", "deep-tissue-60")
    assert map_event(event(location="Treatment Room 5"), rules).room == "room-9"


def test_a_room_rule_with_location_and_title_needs_both():
    rules = feed(rooms=[{"room": "room-3", "location": "Room 2", "title": r"\bexpress\b"}], default_room="room-1")
    assert map_event(event("Express 30 – C. Brown"), rules).room == "room-3"
    assert map_event(event("Deep tissue 60"), rules).room == "room-1"  # the default


def test_an_event_no_room_rule_matches_is_skipped_without_a_default_room():
    assert map_event(event(location="Reception"), feed()) == "no room rule matches its location 'Reception'"
    assert map_event(event(location=""), feed()) == "it has no location"


def test_presets_by_keyword_in_title_or_description_by_title_pattern_by_length_and_default():
    rules = feed()
    assert map_event(event("A. Smith", description="Service: DEEP TISSUE (60 min)"), rules).preset == "deep-tissue-60"
    assert map_event(event("Swedish relaxation 90 – B. Jones", minutes=90), rules).preset == "swedish-relaxation-90"
    assert map_event(event("Swedish relaxation 60"), rules).preset == "swedish-relaxation-60"  # the default
    assert map_event(event("Follow-up – E. Green", minutes=45), rules).preset == "follow-up-45"
    assert map_event(event("Follow-up", minutes=46), rules).preset == "follow-up-45"  # ± 1 min
    assert map_event(event("Follow-up", minutes=46.5), rules).preset == "swedish-relaxation-60"
    assert map_event(event("Follow-up", minutes=44), rules).preset == "follow-up-45"


def test_an_event_no_preset_rule_matches_is_skipped_without_a_default_preset():
    rules = feed(default_preset=None)
    assert map_event(event("Hot stone – D. Evans", minutes=75), rules) == "no preset rule matches it (1h15m long)"


def test_a_clinic_systems_export_is_mapped_by_description_and_floating_times_read_in_its_zone():
    system = feed(
        rooms=[{"room": "room-3", "location": "room 3"}],
        presets=[{"preset": "deep-tissue-60", "keywords": ["deep tissue"]}, {"preset": "express-30", "keywords": ["express"]}],
        default_preset=None,
    )  # fmt: skip
    report = sync_feed(system, text("booking-system.ics"), service := FakeBookings(), NOW, LONDON)
    assert booked(service) == {
        ("appt-100231@clinic.example.com", "room-3", "deep-tissue-60", datetime(2026, 3, 17, 14, tzinfo=UTC)),
        ("appt-100232@clinic.example.com", "room-3", "express-30", at(2026, 3, 18, 10)),  # floating: X-WR-TIMEZONE
    }
    assert dict(report.skipped) == {
        "appt-100233@clinic.example.com": "the event at 2026-03-18 12:00: no preset rule matches it (1h15m long)",
        "block-55@clinic.example.com": "the event at 2026-03-18 17:00: it has no location",
    }


def test_a_time_without_a_zone_and_no_calendar_zone_is_the_clinics():
    floating = text("booking-system.ics").replace("X-WR-TIMEZONE:Europe/London\r\n", "")
    new_york = ZoneInfo("America/New_York")
    events = {e.uid: e for e in parse_feed(floating, "system", NOW, NOW + timedelta(days=7), new_york)}
    assert events["appt-100232@clinic.example.com"].start == datetime(2026, 3, 18, 10, tzinfo=new_york)
    assert events["appt-100231@clinic.example.com"].start == datetime(2026, 3, 17, 14, tzinfo=UTC)


# ---- parsing -------------------------------------------------------------------------------------


def test_recurring_events_are_expanded_with_exdates_cancelled_occurrences_marked_all_day_left_out():
    events = parse_feed(text("google-v1.ics"), "clinic", NOW, NOW + timedelta(days=42), LONDON)
    weekly = [(e.start, e.cancelled) for e in events if e.uid == WEEKLY]
    assert weekly == [
        (at(2026, 3, 17, 9), False),  # 24 Mar: EXDATE
        (at(2026, 3, 31, 9), False),
        (at(2026, 4, 7, 9), True),
        (at(2026, 4, 14, 9), False),
        (at(2026, 4, 21, 9), False),
    ]
    assert not any("Good Friday" in e.summary or "G. Hall" in e.summary or "H. King" in e.summary for e in events)
    assert {e.key for e in events if e.uid == SWEDISH} == {SWEDISH}  # a single event: its UID alone


def test_a_weekly_0900_london_event_stays_0900_local_across_the_end_of_march():
    service = synced()
    starts = sorted(b.start for b in service.bookings() if b.uid and b.uid.startswith(WEEKLY))
    assert [s.astimezone(LONDON).strftime("%d %b %H:%M") for s in starts] == [
        "17 Mar 09:00", "31 Mar 09:00", "14 Apr 09:00", "21 Apr 09:00",
    ]  # fmt: skip
    assert [s.astimezone(UTC).hour for s in starts] == [9, 8, 8, 8]  # GMT, then BST from 29 March


def test_an_event_across_a_clock_change_lasts_its_real_time_and_keeps_its_instant():
    """Issue 12 (18): 00:30 to 02:30 on the night the clocks go forward is one hour, not two; and an event
    moved from the first 01:30 of the night they go back to the second is a move."""
    window = (NOW, NOW + timedelta(days=240))
    (spring,) = parse_feed(ics(("s", "20260329T003000", "20260329T023000")), "clinic", *window, LONDON)
    assert spring.length == 3600
    (autumn,) = parse_feed(ics(("a", "20261025T003000", "20261025T023000")), "clinic", *window, LONDON)
    assert autumn.length == 3 * 3600  # 01:00 to 02:00 comes twice
    first = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON)
    second = datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=LONDON)
    booked = Booking("b1", "room1", "deep-tissue-60", first, None, 0.0, uid="a")
    assert Want("a", "room1", "deep-tissue-60", first, None).same_as(booked)
    assert not Want("a", "room1", "deep-tissue-60", second, None).same_as(booked)


# ---- syncing ---------------------------------------------------------------------------------------


def test_a_first_sync_books_exactly_the_expected_bookings(service):
    report = sync_feed(feed(), text("google-v1.ics"), service, NOW, LONDON)
    assert booked(service) == V1
    assert {c.uid for c in report.added} == {uid for uid, *_ in V1}
    assert (report.moved, report.cancelled, report.unchanged, report.errors) == ([], [], [], [])
    assert {uid for uid, _ in report.skipped} == {
        "4a6c8e0g2i4k6m8o0q2s4u6w8y@google.com",
        occurrence("2026-04-07T08:00:00+00:00"),
    }
    assert {b.source for b in service.bookings()} == {"calendar:clinic"}
    assert {b.lead for b in service.bookings()} == {900.0}  # the service's default: the feed sets none
    assert {b.duration for b in service.bookings() if b.uid == SWEDISH} == {5400.0}  # the event's length


def test_syncing_the_same_feed_again_changes_nothing(service):
    before = snapshot(synced(service=service))
    report = sync_feed(feed(), text("google-v1.ics"), service, NOW + timedelta(minutes=5), LONDON)
    assert snapshot(service) == before
    assert len(report.unchanged) == len(V1) and not (report.added or report.moved or report.cancelled)
    assert report.summary() == "calendar 'clinic': 0 added, 0 moved, 0 cancelled, 8 unchanged, 2 skipped, 0 errors"


def test_moves_cancels_removals_and_additions_yield_exactly_the_expected_bookings(service):
    synced(service=service)
    ids = {b.uid: b.id for b in service.bookings()}
    report = sync_feed(feed(), text("google-v2.ics"), service, NOW + timedelta(hours=1), LONDON)
    assert booked(service) == V2
    assert [c.uid for c in report.added] == [WHITE]
    assert {(c.uid, c.was) for c in report.moved} == {
        (SWEDISH, at(2026, 3, 18, 14)),
        (occurrence("2026-03-31T08:00:00+00:00"), at(2026, 3, 31, 9)),
    }
    assert {(c.uid, c.why) for c in report.cancelled} == {
        (EXPRESS, "cancelled in the calendar"),
        (HOT_STONE, "no longer in the calendar"),
    }
    assert len(report.unchanged) == 4 and report.errors == []
    moved_ids = {ids[SWEDISH], ids[occurrence("2026-03-31T08:00:00+00:00")]}
    assert {c.booking for c in report.moved} == moved_ids  # a move keeps the booking and its id
    assert moved_ids <= {b.id for b in service.bookings()}
    again = sync_feed(feed(), text("google-v2.ics"), service, NOW + timedelta(hours=2), LONDON)
    assert booked(service) == V2 and len(again.unchanged) == len(V2)


@pytest.mark.parametrize(
    ("feed_text", "expected"),
    [
        (lambda: text("google-v2.ics")[: len(text("google-v2.ics")) // 2], "the feed is incomplete"),
        (lambda: text("google-v2.ics").replace("END:VCALENDAR", ""), "does not end with END:VCALENDAR"),
        (lambda: text("expired-link.html"), "not an iCalendar feed; it starts with '<!DOCTYPE html>"),
        (lambda: text("bad-dtstart.ics"), f"event '{WHITE}' has a bad DTSTART: Wrong datetime format"),
        (
            lambda: text("google-v2.ics").replace("FREQ=WEEKLY;", "FREQ=FORTNIGHTLY;"),
            f"event '{WEEKLY}' has a bad RRULE",
        ),
        (lambda: "", "the feed is empty"),
    ],
    ids=["truncated", "no-end", "html-instead", "bad-dtstart", "bad-rrule", "empty"],
)
def test_a_malformed_feed_changes_nothing_and_is_reported(feed_text, expected: str, service):
    before = snapshot(synced(service=service))
    report = sync_feed(feed(), feed_text(), service, NOW + timedelta(hours=1), LONDON)
    assert snapshot(service) == before and booked(service) == V1
    assert report.failed is not None and report.failed.startswith("calendar 'clinic': ") and expected in report.failed
    assert report.summary().endswith("; bookings left as they were") and not report.ok


def test_a_booking_refused_for_an_overlap_is_reported_and_the_rest_goes_on(service):
    synced(service=service)
    manual = service.book("room-1", "deep-tissue-60", at(2026, 3, 25, 13, 30))
    report = sync_feed(feed(), text("google-v2.ics"), service, NOW + timedelta(hours=1), LONDON)
    assert booked(service) == V2 - {(WHITE, "room-1", "deep-tissue-60", at(2026, 3, 25, 13))}
    [(uid, message)] = report.errors
    assert uid == WHITE and message.startswith("not booked: the event at 2026-03-25 13:00 in room-1:")
    assert f"booking {manual.id}" in message
    service.cancel(manual.id)
    later = sync_feed(feed(), text("google-v2.ics"), service, NOW + timedelta(hours=2), LONDON)
    assert booked(service) == V2 and [c.uid for c in later.added] == [WHITE]  # tried again at the next sync


def ics(*events: tuple[str, str, str]) -> str:
    """A minimal calendar of (uid, start, end) events in room 1, local London times."""
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260316T070000Z\r\nDTSTART;TZID=Europe/London:{start}\r\n"
        f"DTEND;TZID=Europe/London:{end}\r\nSUMMARY:Deep tissue 60\r\nLOCATION:Treatment Room 1\r\nEND:VEVENT\r\n"
        for uid, start, end in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_moves_that_free_each_others_slots_are_all_made(service):
    sync_feed(feed(), ics(("a", "20260317T100000", "20260317T110000"), ("b", "20260317T120000", "20260317T130000")),
              service, NOW, LONDON)  # fmt: skip
    moved = ics(("a", "20260317T120000", "20260317T130000"), ("b", "20260317T140000", "20260317T150000"))
    report = sync_feed(feed(), moved, service, NOW, LONDON)  # a first needs b's slot; b moves after it
    assert report.errors == [] and len(report.moved) == 2
    assert {(b.uid, b.start) for b in service.bookings()} == {("a", at(2026, 3, 17, 12)), ("b", at(2026, 3, 17, 14))}


def test_an_unknown_room_is_reported_once_and_not_retried():
    report = sync_feed(feed(default_room="room-9", rooms=[]), ics(("a", "20260317T100000", "20260317T110000")),
                       FakeBookings(), NOW, LONDON)  # fmt: skip
    assert [(uid, "unknown room 'room-9'" in message) for uid, message in report.errors] == [("a", True)]


def test_only_bookings_not_yet_started_and_within_the_horizon_are_changed():
    clinic = feed(horizon_days=14)
    running = Booking("r1", "room-1", "deep-tissue-60", NOW - timedelta(minutes=10), None, 900.0, None,
                      "calendar:clinic", "started")  # fmt: skip
    beyond = replace(running, id="r2", start=NOW + timedelta(days=20), uid="far-away")
    within = replace(running, id="r3", start=NOW + timedelta(days=2), uid="gone")
    plan = plan_sync(clinic, [], [running, beyond, within], NOW)
    assert [(b.id, why) for b, why in plan.cancel] == [("r3", "no longer in the calendar")]


def test_an_event_that_no_longer_maps_cancels_its_booking():
    service = synced()
    staff_room = text("google-v1.ics").replace("LOCATION:Treatment Room 1\\, Harley Street", "LOCATION:Reception")
    report = sync_feed(feed(), staff_room, service, NOW, LONDON)
    assert [(c.uid, c.why) for c in report.cancelled] == [
        (HOT_STONE, "it no longer maps: no room rule matches its location 'Reception'")
    ]


def test_a_second_booking_of_the_same_event_is_cancelled():
    service = synced()
    first = next(b for b in service.bookings() if b.uid == SWEDISH)
    service.items["dup"] = replace(first, id="dup", room="room-3")
    report = sync_feed(feed(), text("google-v1.ics"), service, NOW, LONDON)
    assert [c.booking for c in report.cancelled] == ["dup"] and booked(service) == V1


def test_a_dry_run_says_what_a_first_sync_would_book_and_touches_nothing():
    report = dry_run(feed(), text("google-v1.ics"), FakeBookings().schedule(), NOW, LONDON)
    assert {(c.uid, c.room, c.preset, c.start) for c in report.added} == V1
    assert report.dry_run
    assert report.summary() == "calendar 'clinic': 8 to book, 0 to move, 0 to cancel, 0 unchanged, 2 skipped, 0 errors"
    assert SyncReport.from_json(json.loads(json.dumps(report.json()))) == report


# ---- fetching ---------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_url_is_fetched_over_https_for_webcal_and_an_error_status_is_reported():
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("gone.ics"):
            return httpx.Response(404, text="<html>Not Found</html>")
        return httpx.Response(200, text=text("google-v1.ics"), headers={"Content-Type": "text/calendar"})

    ok = feed(file=None, url="webcal://calendar.example.com/ical/private-0123/basic.ics")
    assert fetch(ok, transport=httpx.MockTransport(server)) == text("google-v1.ics")
    assert seen[0].url.scheme == "https" and "text/calendar" in seen[0].headers["Accept"]
    gone = feed(file=None, url="https://calendar.example.com/ical/private-0123/gone.ics")
    with pytest.raises(CalendarError) as caught:
        fetch(gone, transport=httpx.MockTransport(server))
    assert str(caught.value) == "calendar 'clinic': https://calendar.example.com/…/gone.ics answered HTTP 404"


def test_files_are_read_by_path_or_file_url_and_a_missing_one_is_reported(tmp_path: Path):
    assert fetch(feed(file=None, url=(FIXTURES / "google-v1.ics").as_uri())) == text("google-v1.ics")
    with pytest.raises(CalendarError, match=r"calendar 'clinic': cannot read .*missing\.ics: No such file"):
        fetch(feed(file=str(tmp_path / "missing.ics")))


def test_an_unreachable_feed_changes_nothing_and_is_reported(service):
    before = snapshot(synced(service=service))
    unreachable = feed(file=None, url=f"http://127.0.0.1:{closed_port()}/calendar.ics")
    poller = CalendarPoller([unreachable], dispatching(service), clock=lambda: NOW.timestamp(), tz=LONDON)
    [report] = asyncio.run(poller.sync_now())
    assert "calendar 'clinic': cannot fetch http://127.0.0.1:" in (report.failed or "")
    assert "connection refused" in (report.failed or "").lower()
    assert snapshot(service) == before
    assert poller.state["clinic"].last_error == report.failed


# ---- the poller --------------------------------------------------------------------------------------


def test_a_sync_the_booking_store_cannot_take_is_reported_as_failed():
    full = "the booking store (bookings.db) could not be written: database or disk is full; nothing was changed"

    class Unwritable(FakeBookings):
        @contextlib.contextmanager
        def batch(self) -> Iterator[None]:  # as BookingService.batch when its one commit fails
            yield
            raise StoreError(full)

    poller = CalendarPoller([feed()], dispatching(Unwritable()), clock=lambda: NOW.timestamp(), tz=LONDON,
                            fetcher=lambda f: text("google-v1.ics"))  # fmt: skip
    [report] = asyncio.run(poller.sync_now())
    assert report.failed == f"calendar 'clinic': {full}"
    assert poller.state["clinic"].last_error == report.failed


def test_the_poller_syncs_each_feed_at_start_and_keeps_its_status():
    texts = {"clinic": text("google-v1.ics")}
    service = FakeBookings()
    private = "https://calendar.example.com/calendar/ical/private-0123456789abcdef/basic.ics"
    poller = CalendarPoller([feed(file=None, url=private)], dispatching(service), clock=lambda: NOW.timestamp(), tz=LONDON,
                            fetcher=lambda f: texts[f.name])  # fmt: skip

    async def first_sync() -> None:
        task = asyncio.create_task(poller.run())
        for _ in range(200):
            await asyncio.sleep(0.005)
            if poller.state["clinic"].last_report is not None:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(first_sync())
    assert booked(service) == V1
    [status] = poller.status()
    assert status["last_error"] is None and status["last_report"]["feed"] == "clinic"
    assert status["where"] == "https://calendar.example.com/…/basic.ics" and "private-" not in json.dumps(status)
    texts["clinic"] = "<html>"
    [report] = asyncio.run(poller.sync_now("clinic"))
    assert report.failed and poller.state["clinic"].last_error == report.failed and booked(service) == V1
    with pytest.raises(NotFound, match="unknown calendar 'clinc'; did you mean 'clinic'?"):
        asyncio.run(poller.sync_now("clinc"))


# ---- the CLI ----------------------------------------------------------------------------------------


def context(args: argparse.Namespace, config: Config | None = None) -> Context:
    console = {"width": 160, "highlight": False, "soft_wrap": True}
    ctx = Context(args, Console(file=io.StringIO(), **console), Console(file=io.StringIO(), **console))
    ctx._config = (config, None) if config is not None else None
    return ctx


def output(ctx: Context) -> tuple[str, str]:
    return ctx.out.file.getvalue(), ctx.err.file.getvalue()  # type: ignore[attr-defined]


def test_a_report_prints_each_change_in_the_clinics_time():
    service = synced()
    report = sync_feed(feed(), text("google-v2.ics"), service, NOW, LONDON)
    ctx = context(argparse.Namespace())
    calendar_cmds.print_report(ctx, report, LONDON)
    out, err = output(ctx)
    assert out.splitlines()[0] == report.summary()
    moved = [line.split() for line in out.splitlines() if line.startswith("moved")]
    assert ["B.", "J.", "was", "Wed", "18", "Mar", "14:00"] in [row[-7:] for row in moved]  # the client's initials
    assert "Tue 31 Mar 10:30" in out and "cancelled in the calendar" in out and "no longer in the calendar" in out
    assert "skipped: the event at 2026-03-17 13:00: no room rule matches its location 'Reception'" in out
    assert err == ""


def test_sync_asks_the_daemon_and_reads_its_reports():
    report = dry_run(feed(), text("google-v1.ics"), FakeBookings().schedule(), NOW, LONDON)
    asked: list[str] = []

    def daemon(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/api/calendars/sync")
        assert request.headers["Authorization"] == "Bearer t0ken"
        asked.append(str(request.url.query, "ascii"))
        return httpx.Response(200, json=[report.json()])

    with DaemonClient("http://daemon", "t0ken", transport=httpx.MockTransport(daemon)) as client:
        assert calendar_cmds.sync_via_daemon(client, "clinic") == [report]
        assert calendar_cmds.sync_via_daemon(client, None) == [report]
    assert asked == ["name=clinic", ""]


def test_list_reads_the_last_syncs_from_the_daemon(tmp_path: Path):
    poller = CalendarPoller(
        [feed()], dispatching(FakeBookings()), clock=NOW.timestamp, tz=LONDON, fetcher=lambda f: text("google-v1.ics")
    )
    asyncio.run(poller.sync_now())
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json=json.loads(json.dumps(poller.status()))))
    with DaemonClient("http://daemon", "t0ken", transport=answer) as client:
        status = calendar_cmds.daemon_status(client)
    table = calendar_cmds.feed_table(feed(), status["clinic"], LONDON)
    console = Console(file=io.StringIO(), width=160)
    console.print(table)
    assert "last sync  Mon 16 Mar 08:00: 8 added, 0 moved, 0 cancelled, 0 unchanged, 2 skipped, 0 errors" in (
        console.file.getvalue()  # type: ignore[attr-defined]
    )


def test_an_unexpected_answer_from_the_daemon_is_one_line():
    odd = httpx.MockTransport(lambda request: httpx.Response(200, json={"reports": "?"}))
    with DaemonClient("http://daemon", "t0ken", transport=odd) as client:
        with pytest.raises(DaemonRefused, match="answered the calendar sync with something unexpected"):
            calendar_cmds.sync_via_daemon(client, None)


def config_with(tmp_path: Path, calendars: list[dict[str, Any]]) -> Config:
    """A config with ``bookings.calendars`` and the rooms its rules name."""
    text = json.dumps(
        {"state_dir": str(tmp_path), "rooms": ROOMS, "bookings": {"timezone": "Europe/London", "calendars": calendars}}
    )
    return parse_config(text, "ambience.yaml", tmp_path)


def run(argv: list[str], config: Config) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    calendar_cmds.register(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(argv)
    ctx = context(args, config)
    code = args.handler(args, ctx)
    return (code, *output(ctx))


def test_sync_dry_run_fetches_and_maps_here_without_a_daemon(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AMBIENCE_URL", f"http://127.0.0.1:{closed_port()}")
    tomorrow = (datetime.now(LONDON) + timedelta(days=1)).strftime("%Y%m%d")
    (tmp_path / "clinic.ics").write_text(ics(("a", f"{tomorrow}T100000", f"{tomorrow}T110000")), encoding="utf-8")
    config = config_with(tmp_path, [{**FEED, "file": str(tmp_path / "clinic.ics")}])
    code, out, err = run(["calendars", "sync", "--dry-run"], config)
    assert code == 0 and err == ""
    assert "calendar 'clinic': 1 to book, 0 to move, 0 to cancel, 0 unchanged, 0 skipped, 0 errors" in out
    assert "room-1" in out and "deep-tissue-60" in out
    assert "planned here against no bookings (as a first sync): cannot reach the ambience daemon" in out


def test_sync_dry_run_of_an_unknown_feed_names_the_known_ones(tmp_path: Path):
    config = config_with(tmp_path, [FEED])
    with pytest.raises(NotFound, match="unknown calendar 'clinc'; did you mean 'clinic'?"):
        run(["calendars", "sync", "--dry-run", "clinc"], config)


def test_list_shows_the_rules_and_says_when_the_daemon_cannot_tell_the_last_sync(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AMBIENCE_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AMBIENCE_TOKEN", "t0ken")
    private = "https://calendar.example.com/calendar/ical/private-0123456789abcdef/basic.ics"
    code, out, _ = run(["calendars", "list"], config_with(tmp_path, [{**FEED, "file": None, "url": private}]))
    assert code == 0 and "private-" not in out
    for line in (
        "https://calendar.example.com/…/basic.ics",
        "every 5m, events up to 42 days ahead",
        "location contains 'Treatment Room 2' → room-2",
        "otherwise skipped",
        r"title ~ /^swedish.*\b90\b/ → swedish-relaxation-90",
        "length 45m → follow-up-45",
        "otherwise → swedish-relaxation-60",
        "unknown: cannot reach the ambience daemon",
    ):
        assert line in out, line


def test_a_feed_failing_the_same_way_again_is_warned_about_once(caplog):
    texts = {"clinic": "<html>"}
    poller = CalendarPoller([feed()], dispatching(FakeBookings()), clock=lambda: NOW.timestamp(), tz=LONDON,
                            fetcher=lambda f: texts[f.name])  # fmt: skip
    with caplog.at_level("DEBUG", logger="ambience.app.calendars"):
        for _ in range(3):
            asyncio.run(poller.sync_now())
        texts["clinic"] = text("google-v1.ics")
        asyncio.run(poller.sync_now())
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [m for level, m in levels if level == "WARNING"] == [
        "calendar 'clinic': not an iCalendar feed; it starts with '<html>'; bookings left as they were"
    ]
    assert levels[-1] == ("INFO", "calendar 'clinic': 8 added, 0 moved, 0 cancelled, 0 unchanged, 2 skipped, 0 errors"
                                  " (the feed is usable again)")  # fmt: skip


def test_an_event_without_a_uid_is_skipped_and_named():
    no_uid = ics(("a", "20260317T100000", "20260317T110000")).replace("UID:a\r\n", "")
    report = sync_feed(feed(), no_uid, service := FakeBookings(), NOW, LONDON)
    assert report.skipped == [("", "the event at 2026-03-17 10:00: it has no UID, so it cannot be kept in step")]
    assert service.bookings() == []


# ---- one plan for the dry run and the sync (issue 16, point 3) ---------------------------------------


def day(*events: tuple[str, str, str, str], cancelled: tuple[str, ...] = ()) -> str:
    """A calendar of (uid, summary, start, end) events on Tuesday 17 March in room 1, London times."""
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260316T070000Z\r\nDTSTART;TZID=Europe/London:20260317T{start}00\r\n"
        f"DTEND;TZID=Europe/London:20260317T{end}00\r\nSUMMARY:{summary}\r\nLOCATION:Treatment Room 1\r\n"
        + ("STATUS:CANCELLED\r\n" if uid in cancelled else "")
        + "END:VEVENT\r\n"
        for uid, summary, start, end in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


BEFORE = day(("move", "Deep tissue 60 – M", "1200", "1300"), ("drop", "Deep tissue 60 – X", "1400", "1500"))
AFTER = day(
    ("nine", "Deep tissue 60 – A", "0900", "1000"),
    ("clash", "Deep tissue 60 – E", "0930", "1030"),  # its session meets 09:00–10:00
    ("ten", "Deep tissue 60 – B", "1000", "1100"),  # back to back: its 15-minute lead is the turnover
    ("stone", "Hot stone 75 – C", "1100", "1215"),  # a preset the library does not have
    ("move", "Deep tissue 60 – M", "1400", "1500"),  # into the slot the cancel frees
    ("drop", "Deep tissue 60 – X", "1400", "1500"),
    cancelled=("drop",),
)
"""The feed of the day after BEFORE was synced: two back to back to add, one refused by an overlap, one of an
unknown preset, one moved, one cancelled."""
STONE: dict[str, Any] = {**FEED, "presets": [{"preset": "hot-stone-75", "keywords": ["hot stone"]}, *FEED["presets"]]}


def outcome(report: dict[str, Any]) -> dict[str, Any]:
    """A report (as JSON) without what only an apply can know (the new bookings' ids, when it ran)."""
    return {
        "added": [(c["uid"], c["room"], c["preset"], c["start"]) for c in report["added"]],
        "moved": [(c["uid"], c["booking"], c["was"], c["start"]) for c in report["moved"]],
        "cancelled": [(c["uid"], c["booking"], c["why"]) for c in report["cancelled"]],
        **{key: report[key] for key in ("unchanged", "skipped", "errors", "unforeseen", "failed")},
    }


def check_the_day(found: dict[str, Any], booking_ids: dict[str, str]) -> None:
    """What the one plan of AFTER says, dry run or sync: the 09:30 refused for the 09:00 the same plan adds,
    the 10:00 right after the 09:00 added."""
    assert found["added"] == [
        ("nine", "room-1", "deep-tissue-60", "2026-03-17T09:00:00+00:00"),
        ("ten", "room-1", "deep-tissue-60", "2026-03-17T10:00:00+00:00"),
    ]
    assert found["moved"] == [("move", booking_ids["move"], "2026-03-17T12:00:00+00:00", "2026-03-17T14:00:00+00:00")]
    assert found["cancelled"] == [("drop", booking_ids["drop"], "cancelled in the calendar")]
    assert found["errors"] == [
        {"uid": "stone", "error": "not booked: the event at 2026-03-17 11:00 in room-1: unknown preset "
                                  "'hot-stone-75'; known: deep-tissue-60, express-30, follow-up-45, "
                                  "swedish-relaxation-60, swedish-relaxation-90"},
        {"uid": "clash", "error": "not booked: the event at 2026-03-17 09:30 in room-1: room 'room-1' is "
                                  "booked then: the booking of the event at 2026-03-17 09:00 in room-1 "
                                  "(deep-tissue-60, 2026-03-17 09:00–10:00)"},
    ]  # fmt: skip
    assert (found["unforeseen"], found["skipped"], found["failed"]) == ([], [], None)


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Any]:
    """The daemon's controller, booking service and poller (not started; fixed clock) over a feed file in
    ``tmp_path``, its config, and its HTTP API in this process."""
    from fastapi.testclient import TestClient

    from ambience.daemon import Daemon
    from ambience.surfaces.http.app import create_app

    presets = tmp_path / "presets"
    presets.mkdir()
    for name, length in PRESET_LENGTHS.items():
        (presets / f"{name}.yaml").write_text(f"name: {name}\nduration: {length:g}s\nclimate: {{target: 24}}\n")
    (tmp_path / "clinic.ics").write_text(BEFORE, encoding="utf-8")
    config = parse_config(json.dumps({
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": [str(presets)], "music": [], "state_dir": str(tmp_path),
        "http": {"enabled": False}, "rooms": ROOMS,
        "bookings": {"timezone": "Europe/London", "lead": "15m",
                     "calendars": [{**STONE, "file": str(tmp_path / "clinic.ics")}]},
    }), "ambience.yaml", tmp_path)  # fmt: skip
    daemon = Daemon(config, players=False, clock=NOW.timestamp)
    daemon.controller.calendars = CalendarPoller(config.bookings.calendars, daemon.controller.execute, NOW.timestamp,
                                                 LONDON)  # fmt: skip
    http = TestClient(create_app(daemon.controller, "t0ken"))
    try:
        yield argparse.Namespace(config=config, daemon=daemon, http=http, feed=tmp_path / "clinic.ics")
    finally:
        http.close()
        daemon.store.close()


def ids_of(service: Any) -> dict[str, str]:
    return {b.uid: b.id for b in service.bookings()}


def test_a_dry_run_through_the_controller_reports_what_the_sync_then_does(clinic):
    feed_ = clinic.config.bookings.calendars[0]
    execute, service = clinic.daemon.controller.execute, clinic.daemon.bookings
    window = (NOW, NOW + timedelta(days=42), LONDON)
    assert execute(SyncCalendar(feed_, tuple(parse_feed(BEFORE, "clinic", *window)), NOW)).report.ok
    events = tuple(parse_feed(AFTER, "clinic", *window))
    ids, before = ids_of(service), snapshot(service)
    planned = execute(SyncCalendar(feed_, events, NOW, dry_run=True)).report
    assert snapshot(service) == before  # a dry run changes nothing
    synced = execute(SyncCalendar(feed_, events, NOW)).report
    assert outcome(planned.json()) == outcome(synced.json())
    check_the_day(outcome(synced.json()), ids)
    assert planned.summary() == "calendar 'clinic': 2 to book, 1 to move, 1 to cancel, 0 unchanged, 0 skipped, 2 errors"
    assert synced.summary() == "calendar 'clinic': 2 added, 1 moved, 1 cancelled, 0 unchanged, 0 skipped, 2 errors"
    assert booked(service) == {
        ("nine", "room-1", "deep-tissue-60", at(2026, 3, 17, 9)),
        ("ten", "room-1", "deep-tissue-60", at(2026, 3, 17, 10)),
        ("move", "room-1", "deep-tissue-60", at(2026, 3, 17, 14)),
    }


def test_calendars_sync_dry_run_and_sync_print_the_same_report(clinic, monkeypatch):
    transport = clinic.http._transport
    monkeypatch.setattr(calendar_cmds.DaemonClient, "for_config",
                        classmethod(lambda cls, config: cls("http://testserver", "t0ken", transport=transport)))  # fmt: skip
    assert run(["calendars", "sync"], clinic.config)[0] == 0
    ids = ids_of(clinic.daemon.bookings)
    clinic.feed.write_text(AFTER, encoding="utf-8")
    before = snapshot(clinic.daemon.bookings)
    code_dry, out_dry, _ = run(["calendars", "sync", "--dry-run", "--json"], clinic.config)
    assert snapshot(clinic.daemon.bookings) == before
    code, out, _ = run(["calendars", "sync", "--json"], clinic.config)
    [dry], [real] = json.loads(out_dry), json.loads(out)
    assert (dry["dry_run"], real["dry_run"], code_dry, code) == (True, False, 1, 1)
    assert outcome(dry) == outcome(real)
    check_the_day(outcome(real), ids)
    _, text_dry, err_dry = run(["calendars", "sync", "--dry-run"], clinic.config)  # after it: only the refusals
    assert text_dry.splitlines()[0] == (
        "calendar 'clinic': 0 to book, 0 to move, 0 to cancel, 3 unchanged, 1 skipped, 2 errors"
    )
    assert err_dry.count("error:") == 2 and "unknown preset 'hot-stone-75'" in err_dry


def test_a_booking_made_between_the_plan_and_its_apply_is_reported_apart_from_the_plans_refusals():
    service = FakeBookings()
    clinic_feed = feed(**{k: v for k, v in STONE.items() if k == "presets"}, default_preset=None)
    events = parse_feed(AFTER, "clinic", NOW, NOW + timedelta(days=42), LONDON)
    plan = plan_feed(clinic_feed, events, service.schedule(), NOW)
    service.book("room-1", "express-30", at(2026, 3, 17, 9, 15))  # by hand, after the plan was made
    report = apply_plan(plan, clinic_feed, service, NOW)
    assert sorted(uid for uid, _ in report.errors) == sorted(uid for uid, _ in plan.refused) == ["clash", "stone"]
    [(uid, message)] = report.unforeseen
    assert uid == "nine" and message.startswith("not booked: the event at 2026-03-17 09:00 in room-1:")
    assert "room 'room-1' is booked then" in message
    assert [c.uid for c in report.added] == ["ten", "move"] and not report.ok
    assert report.summary().endswith(", 2 errors, 1 refused when made, not foreseen by the plan")
