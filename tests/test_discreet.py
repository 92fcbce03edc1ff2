"""Discreet by default: a feed's client names stay in the feed (issue 16, point 5).

A feed whose titles, descriptions, attendees and organizer name "Fiona White" is planned, dry-run,
synced through the daemon's own controller and booking service, printed by ``calendars sync`` (text
and JSON), and its booking fired into a session that ends; then the log (DEBUG), the reports, every
row of the daemon's SQLite files, and the room status the MQTT and Home Assistant surfaces publish are
searched for the name; one more test runs the whole daemon over a real broker and searches every
message. Only the client label ("F. W.") may be there. Then history retention (``history.keep_days``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from ambience.app.calendars import CalendarPoller
from ambience.app.commands import FireBooking, Stop
from ambience.cli import Context, calendar_cmds
from ambience.config import parse_config
from ambience.config.calendars import CalendarFeed
from ambience.core.calendar_plan import PresetTimes, Schedule, client_label, dry_run
from ambience.errors import ConfigError
from ambience.infra.store import Store
from ambience.testing import LiveDaemon, Mosquitto, MqttProbe, eventually, write_clinic
from ambience.testing.clinic import TINY
from ambience.testing.postgres import store_dumps

NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
NAMES = ("White", "Fiona", "fiona")


def vevent(uid: str | None, start: str, end: str, summary: str, location: str = "Treatment Room 1") -> str:
    return "\r\n".join([
        "BEGIN:VEVENT", *([f"UID:{uid}"] if uid else []), "DTSTAMP:20260301T090000Z",
        f"DTSTART:{start}", f"DTEND:{end}", f"SUMMARY:{summary}", f"LOCATION:{location}",
        "DESCRIPTION:Client: Fiona White\\, 07700 900123\\, prefers a warm room",
        "ATTENDEE;CN=Fiona White;ROLE=REQ-PARTICIPANT:mailto:fiona.white@example.com",
        "ORGANIZER;CN=Front desk:mailto:desk@clinic.example.com", "END:VEVENT",
    ])  # fmt: skip


FEED_TEXT = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//clinic//EN",
    vevent("white-1@clinic", "20260317T090000Z", "20260317T100000Z", "Deep tissue 60 – F. White"),
    vevent("white-2@clinic", "20260317T093000Z", "20260317T103000Z", "Deep tissue 60 – Fiona White"),  # overlaps
    vevent("white-3@clinic", "20260318T090000Z", "20260318T100000Z", "Fiona White consultation", "Reception"),
    vevent("white-4@clinic", "20260318T110000Z", "20260318T121500Z", "Fiona White", "Treatment Room 1"),
    vevent(None, "20260319T090000Z", "20260319T100000Z", "Hot stone – Fiona White"),
    "END:VCALENDAR", "",
])  # fmt: skip
"""Booked (F. W.), refused for an overlap, skipped for its room, skipped for its preset, skipped for no UID."""

FEED = {
    "name": "clinic", "file": "clinic.ics", "horizon_days": 14,
    "rooms": [{"room": "room-1", "location": "treatment room 1"}],
    "presets": [{"preset": "deep-60", "keywords": ["deep tissue"]}],
}  # fmt: skip


def leaks(text: str) -> list[str]:
    return [name for name in NAMES if name in text]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("title", "rule", "label"),
    [
        ("Deep tissue 60 – F. White", "initials", "F. W."),
        ("Swedish relaxation 90 - Fiona Mary White", "initials", "F. M. W."),
        ("Massage | fiona white", "initials", "F. W."),
        ("Client: Fiona White", "initials", "F. W."),
        ("Deep tissue 60 — Ó. Núñez-García", "initials", "Ó. N."),
        ("Fiona White", "initials", None),  # no dash: nothing says which part is the client
        ("Deep tissue 60 – 07700 900123", "initials", None),
        ("Deep tissue 60 – F. White", "none", None),
    ],
)
def test_a_title_becomes_a_client_label_of_initials_or_none(title: str, rule: str, label: str | None):
    assert client_label(title, rule) == label


@pytest.mark.sqlite_store
@pytest.mark.unit
def test_a_feed_naming_its_client_leaves_no_name_in_reports_log_store_or_room_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    from ambience.daemon import Daemon

    (tmp_path / "clinic.ics").write_text(FEED_TEXT)
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "deep-60.yaml").write_text("name: deep-60\nduration: 60m\nclimate: {target: 24}\n")
    config = parse_config(json.dumps({
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": [str(presets)], "music": [], "state_dir": "state",
        "http": {"enabled": False}, "rooms": {"room-1": {"speaker": None}},
        "bookings": {"timezone": "Europe/London", "lead": "15m", "calendars": [FEED]},
    }), "ambience.yaml", tmp_path)  # fmt: skip
    feed: CalendarFeed = config.bookings.calendars[0].resolved(tmp_path)
    clock = [NOW.timestamp()]
    caplog.set_level(logging.DEBUG)
    daemon = Daemon(config, players=False, clock=lambda: clock[0])
    try:
        seen: list[str] = []
        tz = config.bookings.zone()
        preview = dry_run(feed, FEED_TEXT, daemon.bookings.schedule(), NOW, tz)
        poller = CalendarPoller([feed], daemon.controller.execute, lambda: clock[0], tz, fetcher=lambda f: FEED_TEXT)
        report = asyncio.run(poller.sync(feed))
        again = asyncio.run(poller.sync(feed))  # repeats log at debug level: those lines are searched too
        assert [c.client for c in report.added] == ["F. W."] and len(report.errors) == 1 and len(report.skipped) == 3
        assert [c.client for c in preview.added] == ["F. W."] and not again.added  # the dry run plans as the sync does
        for each in (preview, report, again):
            seen.append(json.dumps(each.json()))
            out = io.StringIO()
            ctx = Context(argparse.Namespace(), Console(file=out, width=200), Console(file=out, width=200))
            calendar_cmds.print_report(ctx, each, tz)
            seen.append(out.getvalue())
        seen.append(json.dumps(poller.status()))

        (booking,) = daemon.bookings.bookings(source=feed.source)
        assert booking.client == "F. W."
        clock[0] = booking.start.timestamp() + 60
        daemon.controller.execute(FireBooking(booking.kwargs()))
        status = daemon.controller.status("room-1")  # what <base>/room-1/state and Home Assistant are sent
        assert status[0]["client"] == "F. W."
        seen.append(json.dumps(status, default=str))
        clock[0] += 600
        seen.append(json.dumps(daemon.controller.execute(Stop(room="room-1")).json(), default=str))
        daemon.rooms["room-1"].end(clock[0], "stopped")  # what the room's run loop does next
        assert [row["client"] for row in daemon.store.history()] == ["F. W."]
    finally:
        daemon.store.close()
    seen += store_dumps(tmp_path / "state")
    seen.append("\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records))
    assert len(seen) > 10 and any("F. W." in text for text in seen)
    assert {i: leaks(text) for i, text in enumerate(seen) if leaks(text)} == {}


SCHEDULE = Schedule(("room-1",), {"deep-60": PresetTimes(3600.0, 0.0)}, 900.0)
"""The booking service's rules for the feed's room and preset, no bookings yet."""


@pytest.mark.unit
def test_the_event_a_sync_refuses_or_skips_is_named_by_its_time_never_its_title():
    feed = CalendarFeed.model_validate({**FEED, "file": "/dev/null"})
    report = dry_run(feed, FEED_TEXT, SCHEDULE, NOW, UTC)
    whys = dict(report.skipped)
    assert whys["white-3@clinic"] == "the event at 2026-03-18 09:00: no room rule matches its location 'Reception'"
    assert whys["white-4@clinic"] == "the event at 2026-03-18 11:00: no preset rule matches it (1h15m long)"
    assert whys[""] == "the event at 2026-03-19 09:00: it has no UID, so it cannot be kept in step"


@pytest.mark.unit
def test_a_feed_with_client_none_books_with_no_client_label():
    feed = CalendarFeed.model_validate({**FEED, "file": "/dev/null", "client": "none"})
    assert [c.client for c in dry_run(feed, FEED_TEXT, SCHEDULE, NOW, UTC).added] == [None]


@pytest.mark.unit
def test_history_older_than_the_retention_is_pruned(tmp_path: Path):
    from ambience.core.session import SessionFacts
    from ambience.infra.store import SessionRecord

    store = Store(tmp_path / "ambience.db")
    day = 86400.0
    for i, age in enumerate((400, 366, 364, 1)):
        started = NOW.timestamp() - age * day
        record = SessionRecord(f"s{i}", "room-1", "deep-60", SessionFacts(started_at=started, duration=3600.0), "F. W.")
        store.record_history(record, started + 3600, "completed")
    assert store.prune_history(NOW.timestamp() - 365 * day) == 2
    assert [row["session"] for row in store.history()] == ["s3", "s2"]
    assert store.prune_history(NOW.timestamp() - 365 * day) == 0


@pytest.mark.unit
def test_the_daemon_forgets_history_older_than_history_keep_days(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    from ambience.core.session import SessionFacts
    from ambience.daemon import Daemon
    from ambience.infra.store import SessionRecord

    config = parse_config(json.dumps({
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": [], "music": [], "state_dir": "state",
        "http": {"enabled": False}, "rooms": {}, "history": {"keep_days": 30},
    }), "ambience.yaml", tmp_path)  # fmt: skip
    daemon = Daemon(config, players=False, clock=NOW.timestamp)
    try:
        for i, age in enumerate((31, 29)):
            started = NOW.timestamp() - age * 86400.0
            facts = SessionFacts(started_at=started, duration=3600.0)
            daemon.store.record_history(SessionRecord(f"s{i}", "room-1", "deep-60", facts), started + 3600, "completed")
        with caplog.at_level(logging.INFO):
            assert daemon.prune_history() == 1
        assert [row["session"] for row in daemon.store.history()] == ["s1"]
        assert "history: 1 session older than 30 days forgotten" in caplog.messages
    finally:
        daemon.store.close()


@pytest.mark.unit
def test_history_keep_days_is_checked_and_defaults_to_a_year(tmp_path: Path):
    assert parse_config("{}", "ambience.yaml", tmp_path).history.keep_days == 365
    with pytest.raises(ConfigError, match=r"history\.keep_days: 0 is too low; at least 1"):
        parse_config('{"history": {"keep_days": 0}}', "ambience.yaml", tmp_path)


def test_a_feed_booking_run_by_the_daemon_sends_no_client_name_over_mqtt(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    """The whole daemon over a real broker: the feed is synced once the daemon is up, its booking fires and runs;
    every message on the broker (room state, command results, Home Assistant discovery) is searched."""

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    def feed_text(start: datetime) -> str:
        return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//clinic//EN",
        vevent("white-1@clinic", stamp(start), stamp(start + timedelta(seconds=2)), "Tiny session – F. White"),
        vevent("white-2@clinic", stamp(start), stamp(start + timedelta(seconds=2)), "Tiny session – Fiona White"),
        "END:VCALENDAR", "",
        ])  # fmt: skip

    (tmp_path / "clinic.ics").write_text(feed_text(datetime.now(UTC) - timedelta(hours=1)))  # nothing ahead yet
    feed = {"name": "clinic", "file": "clinic.ics", "lead": "0s", "default_room": "studio", "default_preset": "tiny"}
    clinic = write_clinic(
        tmp_path, mqtt=broker.url, presets={"tiny": TINY}, http=False, reconcile={"ack_timeout": 0.5},
        bookings={"timezone": "Europe/London", "calendars": [feed]},
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with MqttProbe(broker, "#") as everything:
        with LiveDaemon(clinic.config) as daemon:  # the feed is written now: a slow start-up cannot pass its event
            (tmp_path / "clinic.ics").write_text(
                feed_text(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3))
            )
            assert daemon.daemon is not None and daemon.daemon.controller.calendars is not None
            daemon.run(daemon.daemon.controller.calendars.sync_now(), timeout=15)
            state = "ambience/studio/state"
            eventually(lambda: any(b"F. W." in m.payload for m in everything.messages(state)), timeout=15)
            history = eventually(lambda: daemon.call(lambda: daemon.controller.store.history()), timeout=15)
            assert [row["client"] for row in history] == ["F. W."]
        payloads = [f"{m.topic} {m.payload.decode(errors='replace')}" for m in everything.messages()]
    dumps = store_dumps(clinic.state_dir)
    logged = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any(topic.startswith("homeassistant/") for topic in payloads) and any("F. W." in d for d in dumps)
    assert [p for p in payloads if leaks(p)] == [] and [d for d in dumps if leaks(d)] == []
    assert [line for line in logged if leaks(line)] == []
