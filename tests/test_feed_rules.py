"""Feeds as clinics have them: one feed per practitioner, rooms by location, category, calendar or practitioner,
and Google's X-WR-TIMEZONE read as the calendar's zone (recurring events across a clock change included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ambience.config.calendars import CalendarFeed
from ambience.core.calendar_plan import Target, map_event, parse_feed, plan_sync
from ambience.errors import CalendarError
from ambience.model.calendar import Event

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)

# The example of docs/calendars.md: one feed per practitioner, the room by the event's location.
PER_PRACTITIONER = """
- name: anna
  url: https://booking.example.com/feeds/anna-7f3k/calendar.ics
  practitioner: Anna Smith
  rooms:
    - {room: room-2, location: Harley Street}
    - {room: room-3, category: Hot stone}
  default_room: room-1
  default_preset: swedish-relaxation-60
- name: ben
  caldav: {url: https://cloud.example.com/remote.php/dav, calendar: Ben, username: desk, password_env: BEN_DAV}
  rooms:
    - {room: room-1, location: Harley Street, practitioner: ben@clinic.example}
    - {room: room-4, calendar: Ben}
  default_preset: swedish-relaxation-60
"""


def feeds() -> dict[str, CalendarFeed]:
    return {f["name"]: CalendarFeed.model_validate(f) for f in yaml.safe_load(PER_PRACTITIONER)}


def event(**fields: Any) -> Event:
    start = datetime(2026, 3, 17, 9, tzinfo=LONDON)
    base: dict[str, Any] = {"uid": "e1", "key": "e1", "summary": "Massage – F. White", "start": start,
                            "end": start.replace(hour=10)}  # fmt: skip
    return Event(**{**base, **fields})


def test_one_feed_per_practitioner_maps_rooms_by_location_then_category_then_the_feeds_room():
    anna = feeds()["anna"]
    assert map_event(event(location="Harley Street, Room B"), anna) == Target("room-2", "swedish-relaxation-60")
    assert map_event(event(categories=("Massage", "HOT STONE")), anna).room == "room-3"
    assert map_event(event(categories=("Hot stones",)), anna).room == "room-1"  # a category matches whole
    assert map_event(event(location="Elsewhere"), anna).room == "room-1"


def test_a_practitioner_rule_reads_the_organizer_and_attendees_and_the_feeds_own_practitioner():
    ben = feeds()["ben"]
    harley = {"location": "Harley Street"}
    assert map_event(event(**harley, people=("Ben Jones", "ben@clinic.example")), ben).room == "room-1"
    assert map_event(event(**harley, people=("Ann Other",), calendar="ben"), ben).room == "room-4"  # any case
    assert map_event(event(**harley, people=("Ann Other",)), ben) == "no room rule matches its location 'Harley Street'"
    rules = feeds()["anna"].model_copy(update={"rooms": [
        CalendarFeed.model_validate({**yaml.safe_load(PER_PRACTITIONER)[0]}).rooms[0].model_copy(
            update={"location": None, "practitioner": "anna smith"})]})  # fmt: skip
    assert map_event(event(), rules).room == "room-2"  # the feed's practitioner: Anna Smith
    assert map_event(event(), rules.model_copy(update={"practitioner": None})).room == "room-1"


def test_a_rule_needs_every_criterion_it_gives():
    ben = feeds()["ben"]
    assert map_event(event(location="Harley Street", calendar="Anna"), ben).startswith("no room rule")  # no Ben
    assert ben.rooms[0].describe() == "location contains 'Harley Street' and practitioner 'ben@clinic.example'"
    assert ben.rooms[1].describe() == "calendar 'Ben'"


def test_a_skip_names_the_location_and_categories_never_the_people():
    anna = feeds()["anna"].model_copy(update={"default_room": None})
    why = map_event(event(location="Reception", categories=("Massage",), people=("Fiona White",)), anna)
    assert why == "no room rule matches its location 'Reception' or its categories 'Massage'"
    assert "White" not in repr(event(people=("Fiona White",)))


def ics(*events: str, head: str = "") -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + head + "".join(events) + "END:VCALENDAR\r\n"


PEOPLE = (
    "BEGIN:VEVENT\r\nUID:p1\r\nDTSTART:20260317T090000Z\r\nDTEND:20260317T100000Z\r\nSUMMARY:Massage – F. White\r\n"
    "LOCATION:Harley Street\r\nCATEGORIES:Massage,Hot stone\r\nORGANIZER;CN=Anna Smith:mailto:anna@clinic.example\r\n"
    "ATTENDEE;CN=Fiona White:mailto:fiona@mail.example\r\nATTENDEE;CN=Ben Jones:mailto:ben@clinic.example\r\n"
    "END:VEVENT\r\n"
)


def test_the_feed_gives_rules_its_categories_people_and_calendar_name():
    (found,) = parse_feed(ics(PEOPLE, head="X-WR-CALNAME:Anna – appointments\r\n"), "anna", NOW, NOW.replace(day=30))
    assert found.categories == ("Massage", "Hot stone")
    assert found.people == ("Anna Smith", "anna@clinic.example", "Fiona White", "fiona@mail.example",
                            "Ben Jones", "ben@clinic.example")  # fmt: skip
    assert found.calendar == "Anna – appointments"
    want = plan_sync(feeds()["ben"], [found], [], NOW).add[0]
    assert (want.room, want.client) == ("room-1", "F. W.") and "White" not in repr(want)


# Google's exports: times in UTC, the calendar's zone in X-WR-TIMEZONE; a weekly 09:00 London appointment
# written as 09:00Z in winter must stay 09:00 London (08:00Z) after the clocks go forward on 29 March.
GOOGLE = ics(
    "BEGIN:VEVENT\r\nUID:weekly@google.com\r\nDTSTART:20260317T090000Z\r\nDTEND:20260317T100000Z\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Deep tissue – A. Smith\r\nEND:VEVENT\r\n",
    head="X-WR-CALNAME:Clinic\r\nX-WR-TIMEZONE:Europe/London\r\n",
)


def test_google_x_wr_timezone_keeps_a_weekly_appointments_local_time_across_the_clock_change():
    found = parse_feed(GOOGLE, "google", NOW, datetime(2026, 4, 30, tzinfo=UTC), UTC)
    assert [e.start.astimezone(LONDON).strftime("%d %H:%M") for e in found] == ["17 09:00", "24 09:00", "31 09:00"]
    assert [e.start.astimezone(UTC).hour for e in found] == [9, 9, 8]


def test_an_unknown_x_wr_timezone_is_one_clear_error():
    with pytest.raises(CalendarError) as caught:
        parse_feed(GOOGLE.replace("Europe/London", "Mars/Olympus"), "google", NOW, datetime(2026, 4, 30, tzinfo=UTC))
    assert str(caught.value) == (
        "calendar 'google': its X-WR-TIMEZONE cannot be used: 'No time zone found with key Mars/Olympus'"
    )
