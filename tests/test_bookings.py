"""Bookings: the daemon's booking service with a fixed clock, and on a real broker (the pure rules:
tests/test_booking_rules.py)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from ambience.app import scheduler as bookings_module
from ambience.app.commands import Cancel, FireBooking
from ambience.core.booking import parse_when
from ambience.daemon import Daemon
from ambience.errors import BookingError
from ambience.simulator import Simulator
from ambience.testing import DaemonProcess, eventually_async, write_clinic

LONDON = ZoneInfo("Europe/London")


# ---- the service with a fixed clock (no broker: nothing is started) -------------------------------

ROOMS = {
    "studio": {
        "thermostat": {"bridge": "zigbee2mqtt", "device": "trv"},
        "lights": [{"bridge": "zigbee2mqtt", "device": "lamp", "role": "lamp"}],
        "speaker": None,
    },
    "room2": {"thermostat": {"bridge": "zigbee2mqtt", "device": "trv2"}, "speaker": None},
}

PRESETS = {
    "short": "name: Short\nduration: 6s\nclimate: {target: 25}\nlights: {brightness: 30, transition: 0s}\n",
    "hour": "name: Hour\nduration: 60m\nclimate: {target: 24}\n",
    "warm": "name: Warm\nduration: 60m\nclimate: {target: 24}\nswitches: {table_warmer: {state: on, from: -40m}}\n",
}


def make_config(tmp_path: Path, url: str = "mqtt://127.0.0.1:1", **sections):
    return write_clinic(
        tmp_path, ROOMS, mqtt=url, presets=PRESETS, builtin=False, http=False,
        reconcile={"ack_timeout": "0.3s", "max_tries": 3}, **sections,
    ).config  # fmt: skip


@pytest.mark.unit
def test_bookings_in_the_future_across_dst_with_a_fixed_clock(tmp_path):
    config = make_config(
        tmp_path,
        bookings={
            "timezone": "Europe/London",
            "lead": "15m",
            "horizon_days": 14,
            "recurring": [{"room": "room2", "preset": "hour", "weekday": "tuesday", "at": "09:00"}],
        },  # fmt: skip
    )
    fixed = datetime(2026, 3, 20, 12, 0, tzinfo=UTC).timestamp()
    daemon = Daemon(config, players=False, clock=lambda: fixed)
    service = daemon.bookings
    booking = service.book("studio", "hour", parse_when("2026-03-30 09:00", LONDON))
    job = service.scheduler.get_job(booking.id)
    assert job.trigger.run_date == datetime(2026, 3, 30, 7, 45, tzinfo=UTC)  # 09:00 BST − 15 min
    made = service.expand_recurring()
    assert [(m.start.date(), m.start.hour, m.start.utcoffset()) for m in made] == [
        (date(2026, 3, 24), 9, timedelta(0)),
        (date(2026, 3, 31), 9, timedelta(hours=1)),
    ]
    assert service.expand_recurring() == []  # idempotent
    with pytest.raises(BookingError, match=rf"booking {booking.id} \(hour, 2026-03-30 09:00"):
        service.book("studio", "hour", parse_when("2026-03-30 09:50", LONDON))
    with pytest.raises(BookingError, match="is in the past"):
        service.book("studio", "hour", parse_when("2026-03-01 09:00", LONDON))
    status = daemon.controller.status("studio")[0]
    assert status["next_booking"]["id"] == booking.id and status["next_booking"]["start"] == "2026-03-30T09:00:00+01:00"


@pytest.mark.unit
def test_a_preset_whose_switch_is_on_before_the_start_lengthens_the_lead(tmp_path):
    """``table_warmer: {state: on, from: -40m}``: the booking fires 40 min before its start (bookings.lead
    is 15 min), and the session it starts has the 40 min lead. The lead is no overlap: a session before it
    runs up to the warm one's start, and the room goes through a turnover (docs/bookings.md)."""
    config = make_config(tmp_path, bookings={"timezone": "Europe/London", "lead": "15m"})
    fixed = datetime(2026, 3, 20, 12, 0, tzinfo=UTC).timestamp()
    daemon = Daemon(config, players=False, clock=lambda: fixed)
    service = daemon.bookings
    warm = service.book("studio", "warm", parse_when("2026-03-30 09:00", LONDON))
    assert warm.lead == 2400
    assert service.scheduler.get_job(warm.id).trigger.run_date == datetime(2026, 3, 30, 7, 20, tzinfo=UTC)
    assert service.book("studio", "warm", parse_when("2026-03-30 12:00", LONDON), lead=3600).lead == 3600
    assert service.book("studio", "hour", parse_when("2026-03-30 08:00", LONDON)).lead == 900  # 08:00–09:00
    with pytest.raises(BookingError, match=f"booking {warm.id} "):  # 09:30–10:30 meets the warm session
        service.book("studio", "hour", parse_when("2026-03-30 09:30", LONDON))
    assert service.book("studio", "hour", parse_when("2026-03-30 15:00", LONDON)).lead == 900
    daemon.controller.execute(FireBooking(booking=warm.kwargs()))  # its job's time (the clock is not moved)
    facts = daemon.controller.rooms["studio"].record.facts
    assert (facts.lead, facts.started_at) == (2400, warm.start.timestamp())


@pytest.mark.unit
def test_a_new_booking_never_takes_the_id_of_another(tmp_path, monkeypatch):
    # Ids are 8 random hex digits; a second booking drawing a taken id replaced the first without a word.
    config = make_config(tmp_path)
    fixed = datetime(2026, 3, 20, 12, 0, tzinfo=UTC).timestamp()
    service = Daemon(config, players=False, clock=lambda: fixed).bookings
    draws = iter(["aaaaaaaa" + "0" * 24, "aaaaaaaa" + "1" * 24, "bbbbbbbb" + "0" * 24])
    monkeypatch.setattr(bookings_module.uuid, "uuid4", lambda: SimpleNamespace(hex=next(draws)))
    first = service.book("studio", "hour", parse_when("2026-03-30 09:00", LONDON))
    second = service.book("studio", "hour", parse_when("2026-03-30 12:00", LONDON))
    assert (first.id, second.id) == ("aaaaaaaa", "bbbbbbbb")
    assert [(b.id, b.start) for b in service.bookings()] == [(first.id, first.start), (second.id, second.start)]


# ---- the service running: a real broker and the simulator -----------------------------------------


def run_daemon(config, scenario, sim_initial=None):
    """Run ``scenario(daemon)`` inside a started daemon (in this process), with simulated devices."""

    async def main():
        daemon = Daemon(config, players=False)
        await daemon.start()
        try:
            return await scenario(daemon)
        finally:
            await daemon.stop()

    return asyncio.run(main())


def test_lead_time_heats_first_then_lights_at_the_start_and_cancel_reverts(broker, tmp_path):
    config = make_config(tmp_path, broker.url)
    initial = {"trv": {"target": 19, "mode": "heat"}, "lamp": {"on": True, "brightness": 80, "color_temp": 4000}}
    with Simulator(config, tick=0.2, initial=initial) as sim:

        async def scenario(daemon):
            start = datetime.now(UTC) + timedelta(seconds=3)
            booking = daemon.bookings.book("studio", "hour", start, lead=2.0)
            await eventually_async(lambda: sim.device("studio", "trv")["target"] == 24, 5)
            heated = time.time()
            assert heated < start.timestamp(), "the climate comes first, during the lead"
            assert daemon.controller.status("studio")[0]["state"] == "preconditioning"
            assert sim.device("studio", "lamp")["brightness"] == 80  # lights untouched during pre-heat
            daemon.controller.execute(Cancel(id=booking.id))
            await eventually_async(lambda: sim.device("studio", "trv")["target"] == 19, 5)
            assert daemon.controller.status("studio")[0]["state"] == "idle"
            assert daemon.bookings.bookings() == []
            return daemon.store.history("studio")

        history = run_daemon(config, scenario)
    assert [h["outcome"] for h in history] == ["cancelled"]


def test_lights_come_at_the_start(broker, tmp_path):
    config = make_config(tmp_path, broker.url)
    with Simulator(config, tick=0.2) as sim:

        async def scenario(daemon):
            start = datetime.now(UTC) + timedelta(seconds=2.5)
            daemon.bookings.book("studio", "short", start, lead=1.5)
            await eventually_async(lambda: sim.device("studio", "trv")["target"] == 25, 5)
            assert not sim.device("studio", "lamp")["on"]
            await eventually_async(lambda: sim.device("studio", "lamp")["on"], 5)
            lit = time.time()
            assert start.timestamp() - 0.1 <= lit <= start.timestamp() + 1.5
            # the status reads idle as soon as the timeline is over; the room's tick writes the history just after
            await eventually_async(lambda: daemon.store.history("studio"), 15)
            assert daemon.controller.status("studio")[0]["state"] == "idle"
            return daemon.store.history("studio")

        history = run_daemon(config, scenario)
    assert [h["outcome"] for h in history] == ["completed"]


def test_down_across_the_start_then_late_start_ends_at_the_booked_end_or_missed(broker, tmp_path):
    config = make_config(tmp_path, broker.url)
    with Simulator(config, tick=0.2):
        booked = {}

        async def book(daemon):
            start = datetime.now(UTC) + timedelta(seconds=1)
            booked["a"] = daemon.bookings.book("studio", "short", start, lead=0, duration=8)
            booked["b"] = daemon.bookings.book("room2", "short", start, lead=0, duration=2)

        run_daemon(config, book)
        time.sleep(3.5)  # down across both starts; room2's whole window passes

        async def later(daemon):
            status = daemon.controller.status("studio")[0]
            await eventually_async(lambda: daemon.controller.status("studio")[0]["state"] == "running", 5)
            status = daemon.controller.status("studio")[0]
            return status, daemon.store.history("room2")

        status, history = run_daemon(config, later)
    end = booked["a"].start.timestamp() + 8
    assert abs(datetime.fromisoformat(status["ends_at"]).timestamp() - end) <= 1
    assert [h["outcome"] for h in history] == ["missed"]


def test_a_manual_session_is_left_alone_and_the_booking_waits(broker, tmp_path):
    config = make_config(tmp_path, broker.url)
    with Simulator(config, tick=0.2):

        async def scenario(daemon):
            daemon.controller.execute({"action": "start", "room": "studio", "preset": "hour"})
            start = datetime.now(UTC) + timedelta(seconds=1)
            booking = daemon.bookings.book("studio", "short", start, lead=0, duration=10)
            await asyncio.sleep(1.5)
            status = daemon.controller.status("studio")[0]
            assert status["preset"] == "hour", "the manual session runs on"
            assert daemon.bookings.get(booking.id).waiting
            daemon.controller.execute({"action": "stop", "room": "studio"})
            await eventually_async(lambda: daemon.controller.status("studio")[0]["preset"] == "short", 10)
            status = daemon.controller.status("studio")[0]
            return booking, status

        booking, status = run_daemon(config, scenario)
    end = booking.start.timestamp() + 10
    assert abs(datetime.fromisoformat(status["ends_at"]).timestamp() - end) <= 1


def test_a_waiting_booking_whose_job_is_gone_is_not_an_error_when_the_room_frees(broker, tmp_path):
    """The clinic-day soak (bench/soak_clinic.py): after a SIGKILL the restarted daemon removed a booking's job as
    it started while its index still said waiting; room_freed then raised JobLookupError in a change listener."""
    config = make_config(tmp_path, broker.url)

    async def scenario(daemon):
        daemon.controller.execute({"action": "start", "room": "studio", "preset": "hour"})
        booking = daemon.bookings.book("studio", "short", datetime.now(UTC) + timedelta(seconds=1), lead=0, duration=10)
        await asyncio.sleep(1.5)
        assert daemon.bookings.get(booking.id).waiting
        daemon.bookings.scheduler.remove_job(booking.id)
        daemon.bookings.room_freed("studio")

    run_daemon(config, scenario)


def test_bookings_survive_a_restart(broker, tmp_path):
    config = make_config(tmp_path, broker.url)
    start = datetime.now(UTC) + timedelta(days=1)

    async def book(daemon):
        return [daemon.bookings.book("studio", "hour", start + timedelta(hours=2 * i)) for i in range(5)]

    async def listed(daemon):
        return daemon.bookings.bookings()

    made = run_daemon(config, book)
    again = run_daemon(config, listed)
    assert [b.id for b in again] == [m.id for m in made]
    assert [b.start for b in again] == [m.start for m in made]


@pytest.mark.unit
def test_a_booking_due_as_the_service_stops_is_kept_for_the_next_start(tmp_path):
    """APScheduler queues its shutdown behind the wakeups already queued, and those took a job that had come due
    out of the store and handed it to an executor the shutdown then cancelled: the booking was lost."""
    config = make_config(tmp_path, bookings={"timezone": "Europe/London", "lead": "0m"})
    daemon = Daemon(config, players=False)

    async def due_as_it_stops():
        daemon.bookings.start()
        booking = daemon.bookings.book("studio", "hour", datetime.now(UTC) + timedelta(seconds=0.5))
        time.sleep(0.7)  # due now; the loop has not looked at the jobs yet
        daemon.bookings.stop()
        await asyncio.sleep(0.1)  # the queued wakeups and the shutdown run
        return booking

    booking = asyncio.run(due_as_it_stops())
    daemon.store.close()
    os.close(daemon._lock)
    again = Daemon(config, players=False)

    async def next_start():
        again.bookings.start()
        await eventually_async(lambda: again.controller.rooms["studio"].session_booking is not None, timeout=5)
        again.bookings.stop()

    asyncio.run(next_start())  # it fires then, late: its session runs
    assert again.controller.rooms["studio"].session_booking["id"] == booking.id


def test_book_and_cancel_through_the_dispatcher(broker, tmp_path):
    config = make_config(tmp_path, broker.url, bookings={"timezone": "Europe/London"})

    async def scenario(daemon):
        at = (datetime.now(LONDON) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
        made = daemon.controller.execute({"action": "book", "room": "studio", "preset": "hour", "at": at})
        booking = made.booking
        assert booking["start"].startswith(at.replace(" ", "T"))
        listed = daemon.controller.list_bookings(room="studio")
        assert [b["id"] for b in listed] == [booking["id"]]
        from ambience.errors import NotFound

        with pytest.raises(NotFound):
            daemon.controller.execute({"action": "cancel", "id": booking["id"], "room": "room2"})
        daemon.controller.execute({"action": "cancel", "id": booking["id"]})
        return daemon.controller.list_bookings()

    assert run_daemon(config, scenario) == []


def test_cli_http_and_mqtt_book_list_and_cancel(broker, probe, tmp_path, capsys, monkeypatch):
    from ambience.cli import main

    cfg = write_clinic(
        tmp_path, ROOMS, mqtt=broker.url, base_topic="amb", presets=PRESETS, builtin=False,
        bookings={"timezone": "Europe/London", "lead": "10m"},
    ).file  # fmt: skip
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        monkeypatch.setenv("AMBIENCE_URL", daemon.url)
        monkeypatch.setenv("AMBIENCE_TOKEN", daemon.token())
        day = (datetime.now(LONDON) + timedelta(days=3)).date()
        assert (
            main(["book", "studio", "hour", "--at", f"{day} 14:00", "--client", "A. Smith", "--config", str(cfg)]) == 0
        )
        booking_id = capsys.readouterr().out.strip()
        # an overlap of the sessions is refused, naming the other booking
        assert main(["book", "studio", "hour", "--at", f"{day} 14:55", "--config", str(cfg)]) == 1
        assert f"booking {booking_id} (hour, {day} 14:00" in capsys.readouterr().err
        # back to back (its lead reaches into 14:00–15:00) is accepted: the room goes through a turnover
        assert main(["book", "studio", "hour", "--at", f"{day} 15:00", "--config", str(cfg)]) == 0
        next_id = capsys.readouterr().out.strip()
        assert daemon.api("DELETE", f"/api/bookings/{next_id}")["booking"]["id"] == next_id
        # the same over HTTP: 409 with the message; a bad time is 422 naming the field
        clash = daemon.api(
            "POST", "/api/bookings", {"room": "studio", "preset": "hour", "at": f"{day} 14:30"}, expect=409
        )
        assert booking_id in clash["error"]
        bad = daemon.api("POST", "/api/bookings", {"room": "studio", "preset": "hour", "at": "soon"}, expect=422)
        assert bad["issues"][0]["field"] == "at"
        # MQTT: book in room2
        probe.subscribe("amb/room2/command/result")
        probe.publish("amb/room2/command", {"action": "book", "preset": "hour", "at": f"{day} 09:00"})
        reply = probe.wait_for(lambda m: m.topic == "amb/room2/command/result", timeout=5).json()
        assert reply["ok"], reply
        assert main(["bookings", "--day", str(day), "--config", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert "studio" in out and "room2" in out and "14:00" in out and "A. Smith" in out
        status = daemon.room("studio")
        assert status["next_booking"]["id"] == booking_id
        assert main(["cancel", booking_id, "--config", str(cfg)]) == 0
        capsys.readouterr()
        assert [b["room"] for b in daemon.api("GET", "/api/bookings")] == ["room2"]
    finally:
        daemon.stop()


# ---- daylight saving: lengths, leads and overlaps in real time ---------------------------------------

DST = {  # zone: (the spring day, its first skipped hour; the autumn day, its repeated hour)
    "Europe/London": (date(2026, 3, 29), 1, date(2026, 10, 25), 1),
    "America/New_York": (date(2026, 3, 8), 2, date(2026, 11, 1), 1),
}


def dst_service(tmp_path, zone: str):
    config = make_config(tmp_path, bookings={"timezone": zone})
    fixed = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    return Daemon(config, players=False, clock=lambda: fixed).bookings


def at(service, day: date, hour: int, minute: int, offset: str = "") -> datetime:
    return parse_when(f"{day}T{hour:02d}:{minute:02d}{offset}", service.tz)


def run_at(service, booking) -> float:
    return service.scheduler.get_job(booking.id).trigger.run_date.timestamp()


@pytest.mark.parametrize("zone", DST)
def test_across_the_clocks_going_forward_lengths_overlaps_and_leads_are_real_time(tmp_path, zone):
    """Issue 12 (18): wall-clock arithmetic ended a booking an hour early, accepted an overlap and put the
    pre-heat after the start."""
    service = dst_service(tmp_path, zone)
    day, skipped = DST[zone][:2]
    start = at(service, day, skipped - 1, 30)  # half an hour before the clocks go forward
    two_hours = service.book("studio", "hour", start, duration=7200, lead=0)
    assert datetime.fromisoformat(two_hours.json(3600)["end"]).timestamp() - start.timestamp() == 7200
    ends = {"Europe/London": "2026-03-29T03:30:00+01:00", "America/New_York": "2026-03-08T04:30:00-04:00"}
    assert two_hours.json(3600)["end"] == ends[zone]
    service.cancel(two_hours.id)
    hour = service.book("studio", "hour", start, duration=3600, lead=0)
    assert datetime.fromisoformat(hour.json(3600)["end"]).timestamp() == start.timestamp() + 3600
    later = at(service, day, skipped + 1, 15)  # 45 real minutes after `start`: inside its hour
    with pytest.raises(BookingError, match=rf"booking {hour.id} \(hour"):
        service.book("studio", "hour", later, duration=1800, lead=0)
    service.cancel(hour.id)
    heated = service.book("studio", "hour", later, duration=1800, lead=1800)
    assert run_at(service, heated) == later.timestamp() - 1800  # the pre-heat: 30 real minutes before


@pytest.mark.parametrize("zone", DST)
def test_across_the_clocks_going_back_lengths_and_leads_are_real_time(tmp_path, zone):
    service = dst_service(tmp_path, zone)
    day, repeated = DST[zone][2:]
    start = at(service, day, repeated - 1, 30)  # half an hour before the repeated hour begins
    booking = service.book("studio", "hour", start, duration=7200, lead=0)
    assert datetime.fromisoformat(booking.json(3600)["end"]).timestamp() - start.timestamp() == 7200
    ends = {"Europe/London": "2026-10-25T01:30:00+00:00", "America/New_York": "2026-11-01T01:30:00-05:00"}
    assert booking.json(3600)["end"] == ends[zone]  # the second 01:30
    after = at(service, day, repeated + 1, 0)  # the first hour after the repeated one
    heated = service.book("room2", "hour", after, duration=1800, lead=2700)
    assert run_at(service, heated) == after.timestamp() - 2700


@pytest.mark.parametrize("zone", DST)
def test_a_repeated_time_is_the_first_unless_an_offset_says_the_second(tmp_path, zone):
    service = dst_service(tmp_path, zone)
    day, repeated = DST[zone][2:]
    first = at(service, day, repeated, 30)
    offset = {"Europe/London": "+00:00", "America/New_York": "-05:00"}[zone]  # the zone's winter offset
    second = at(service, day, repeated, 30, offset)
    assert second.timestamp() - first.timestamp() == 3600 and (first.hour, second.hour) == (repeated, repeated)
    # an hour apart in real time: no overlap, listed in the order they happen
    b2 = service.book("studio", "hour", second, duration=1200, lead=0)
    b1 = service.book("studio", "hour", first, duration=1200, lead=0)
    assert [b.id for b in service.bookings()] == [b1.id, b2.id]
