"""CalDAV feeds against a real CalDAV server: Radicale (from PyPI) on a free port, its calendars in a temp folder.

Events are put in, edited and deleted with the ``caldav`` client, as a practitioner's calendar app would; each
sync goes through the daemon's poller and its own BookingService (the real overlap rule and store)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ambience.app.calendars import CalendarPoller
from ambience.config import parse_config
from ambience.config.calendars import CalendarFeed
from ambience.daemon import Daemon
from ambience.testing.radicale import USER, Radicale

pytestmark = pytest.mark.usefixtures("clean_env")

PRESETS = {"deep-tissue-60": 3600, "express-30": 1800}


@pytest.fixture(scope="module")
def radicale() -> Iterator[Radicale]:
    server = Radicale()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    monkeypatch.setenv("ANNA_DAV", "any")  # the feed's password_env (Radicale here takes any password)
    presets = tmp_path / "presets"
    presets.mkdir()
    for name, length in PRESETS.items():
        (presets / f"{name}.yaml").write_text(f"name: {name}\nduration: {length}s\nclimate: {{target: 24}}\n")
    config = {
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": [str(presets)], "music": [], "state_dir": "state",
        "http": {"enabled": False}, "bookings": {"timezone": "UTC", "lead": "0s"},
        "rooms": {room: {"speaker": None} for room in ("room-1", "room-2")},
    }  # fmt: skip
    made = Daemon(parse_config(json.dumps(config), "test.yaml", tmp_path), players=False, clock=time.time)
    try:
        yield made
    finally:
        made.store.close()


def vevent(uid: str, start: datetime, summary: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def feed(radicale: Radicale, calendar: str, **changes: Any) -> CalendarFeed:
    return CalendarFeed.model_validate({
        "name": "anna", "caldav": {"url": radicale.url, "calendar": calendar, "username": USER, "password_env": "ANNA_DAV"},
        "rooms": [{"room": "room-2", "calendar": calendar}], "default_room": "room-1",
        "presets": [{"preset": "express-30", "keywords": ["express"]}], "default_preset": "deep-tissue-60",
        **changes,
    })  # fmt: skip


def sync(poller: CalendarPoller) -> dict[str, Any]:
    (report,) = asyncio.run(poller.sync_now("anna"))
    return report.json()


def test_a_caldav_calendar_is_booked_then_kept_in_step_as_events_are_edited_and_deleted(radicale, daemon):
    calendar = radicale.calendar("Anna")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    calendar.add_event(vevent("one@test", tomorrow, "Deep tissue 60 – F. White"))
    calendar.add_event(vevent("weekly@test", tomorrow + timedelta(hours=3), "Express – B. Jones",
                              "RRULE:FREQ=WEEKLY;COUNT=2\r\n"))  # fmt: skip
    anna = feed(radicale, "anna")  # the calendar's name in any case
    assert anna.poll == 60.0  # a CalDAV calendar is polled every minute unless told otherwise
    poller = CalendarPoller([anna], daemon.controller.execute, time.time, UTC)

    first = sync(poller)
    assert (first["failed"], len(first["added"]), first["errors"]) == (None, 3, [])
    week = tomorrow + timedelta(days=7, hours=3)
    assert {(b.uid, b.room, b.preset, b.start, b.client) for b in daemon.bookings.bookings()} == {
        ("one@test", "room-2", "deep-tissue-60", tomorrow, "F. W."),
        (f"weekly@test@{(tomorrow + timedelta(hours=3)).isoformat()}", "room-2", "express-30",
         tomorrow + timedelta(hours=3), "B. J."),
        (f"weekly@test@{week.isoformat()}", "room-2", "express-30", week, "B. J."),
    }  # fmt: skip
    assert "White" not in json.dumps(first)

    event = calendar.event_by_uid("one@test")
    event.data = vevent("one@test", tomorrow + timedelta(hours=1), "Deep tissue 60 – F. White")
    event.save()
    moved = sync(poller)
    assert [(c["uid"], c["start"], c["was"]) for c in moved["moved"]] == [
        ("one@test", (tomorrow + timedelta(hours=1)).isoformat(), tomorrow.isoformat())
    ]
    assert (len(moved["added"]), len(moved["cancelled"]), len(moved["unchanged"])) == (0, 0, 2)

    calendar.event_by_uid("one@test").delete()
    gone = sync(poller)
    assert [(c["uid"], c["why"]) for c in gone["cancelled"]] == [("one@test", "no longer in the calendar")]
    assert {b.uid for b in daemon.bookings.bookings()} == {f"weekly@test@{week.isoformat()}",
                                                           f"weekly@test@{(week - timedelta(days=7)).isoformat()}"}  # fmt: skip


def test_an_unknown_calendar_or_a_server_that_is_gone_changes_nothing_and_says_why(radicale, daemon):
    radicale.calendar("Room desk")
    missing = CalendarPoller([feed(radicale, "Bob")], daemon.controller.execute, time.time, UTC)
    (report,) = asyncio.run(missing.sync_now())
    assert report.failed is not None and report.failed.startswith(
        "calendar 'anna': no calendar named 'Bob' on the server; its calendars: "
    )
    assert "'Room desk'" in report.failed
    gone = feed(radicale, "Anna").model_copy(
        update={"caldav": feed(radicale, "Anna").caldav.model_copy(update={"url": "http://127.0.0.1:9/"})}  # type: ignore[union-attr]
    )
    (report,) = asyncio.run(CalendarPoller([gone], daemon.controller.execute, time.time, UTC).sync_now())
    assert report.failed == "calendar 'anna': cannot read the calendar: connection refused"
    assert daemon.bookings.bookings() == []
