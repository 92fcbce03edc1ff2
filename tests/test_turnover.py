"""Back to back and bookings first (issue 16, points 1 and 2): the real controller, booking service and room on a
virtual clock, no broker (the devices' desired states are what ambience would send).

- two bookings that touch go from one session to the next through the room's turnover, never through the
  after state;
- a manual start or an extension that would run into a booking is refused naming it, unless forced; a booked
  client kept waiting gets the whole session, shifted, and the status says since when they wait.
"""

from __future__ import annotations

import asyncio
import os
from zoneinfo import ZoneInfo

import pytest

from ambience.app.commands import Extend, FireBooking, Start, Stop
from ambience.app.room import iso
from ambience.core.booking import parse_when
from ambience.daemon import Daemon
from ambience.errors import BookedAhead, Busy
from ambience.infra.store import SessionRecord
from ambience.testing import Clock, write_clinic

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
ROOMS = {
    "studio": {
        "thermostat": {"bridge": "zigbee2mqtt", "device": "trv"},
        "lights": [{"bridge": "zigbee2mqtt", "device": "lamp", "role": "lamp"}],
        "switches": [
            {"bridge": "zigbee2mqtt", "device": "warmer", "role": "table_warmer"},
            {"bridge": "zigbee2mqtt", "device": "heater", "role": "heater"},
        ],
        "speaker": None,
        "turnover": {"length": "5m", "lights": {"brightness": 80, "color_temp": 4000}, "music": "off"},
    },
}
PHASES = "phases:\n  - {name: arrival, at: 0m}\n  - {name: treatment, at: 10m}\n  - {name: closing, at: -10m}\n"
PRESETS = {
    "hour": "name: Hour\nduration: 60m\nclimate: {target: 24}\nlights: {brightness: 30, color_temp: 2700}\n"
    "switches: {heater: on}\n" + PHASES,
    "warm": "name: Warm\nduration: 60m\nclimate: {target: 25}\nlights: {brightness: 20, color_temp: 2400}\n"
    "switches: {table_warmer: {state: on, from: -40m}}\n" + PHASES,
    "walkin": "name: Walk-in\nduration: 50m\nclimate: {target: 24}\n",
}
DAY = "2026-12-03"


def at(text: str) -> float:
    return parse_when(f"{DAY} {text}", LONDON).timestamp()


@pytest.fixture
def clinic(tmp_path):
    clock = Clock(at("08:00"))
    config = write_clinic(
        tmp_path, ROOMS, mqtt="mqtt://127.0.0.1:1", presets=PRESETS, builtin=False, http=False,
        bookings={"timezone": "Europe/London", "lead": "15m"},
    ).config  # fmt: skip
    daemon = Daemon(config, players=False, clock=clock)
    return daemon, clock


def desired(daemon, device):
    return daemon.devices.rooms["studio"][device].describe()["desired"]


def run_until(daemon, clock, until: float, step: float = 30.0) -> list[tuple[float, str, object]]:
    """Move the clock to ``until`` in steps, firing due bookings and ticking the room as the daemon would;
    returns (time, state, lamp desired) at every step."""
    room, service = daemon.controller.rooms["studio"], daemon.bookings
    seen = []
    while clock.now < until:
        clock.advance(min(step, until - clock.now))
        for job in list(service.scheduler.get_jobs()):
            if job.trigger.run_date.timestamp() <= clock.now:
                job.remove()
                daemon.controller.execute(FireBooking(booking=job.kwargs))
        asyncio.run(room.tick())
        seen.append((clock.now, room.status()["state"], desired(daemon, "lamp")))
    return seen


def test_back_to_back_bookings_go_through_a_turnover_never_the_after_state(clinic):
    daemon, clock = clinic
    service, room = daemon.bookings, daemon.controller.rooms["studio"]
    first = service.book("studio", "hour", parse_when(f"{DAY} 09:00", LONDON))
    second = service.book("studio", "warm", parse_when(f"{DAY} 10:00", LONDON))  # its 40-min lead meets 09:00–10:00
    seen = run_until(daemon, clock, at("09:59:30"))
    assert room.session_booking["id"] == first.id and second.id in service.index  # it waits for the room
    assert service.get(second.id).waiting  # held back, not a client waiting yet
    assert daemon.controller.status("studio")[0].get("waiting_since") is None
    seen = run_until(daemon, clock, at("10:09"), step=10.0)
    assert room.session_booking["id"] == second.id and second.id not in service.index
    states = [state for _, state, _ in seen]
    assert "idle" not in states  # never the after state in between
    turnover = [(t, lamp) for t, state, lamp in seen if state == "turnover"]
    assert turnover[0][0] == at("10:00") and turnover[-1][0] == at("10:04:50")  # the room's 5 minutes
    assert all(lamp == {"on": True, "brightness": 80.0, "color_temp": 4000} for _, lamp in turnover)  # working light
    assert states[-1] == "running" and room.status()["phase"] == "arrival"
    assert room.record.facts.started_at == at("10:00")  # on time: the turnover took its first minutes
    assert desired(daemon, "trv")["target"] == 25  # the climate held at the next session's target
    assert desired(daemon, "warmer")["on"] is True
    assert desired(daemon, "heater")["on"] is False  # the first session's heater: the next never names it
    assert SessionRecord.from_json(room.record.to_json()).facts.turnover == (at("10:00"), at("10:05"))  # kept
    [done] = daemon.store.history("studio")
    assert (done["preset"], done["outcome"]) == ("hour", "completed")


def test_a_gap_longer_than_the_turnover_and_the_lead_goes_through_the_after_state(clinic):
    daemon, clock = clinic
    service, room = daemon.bookings, daemon.controller.rooms["studio"]
    service.book("studio", "hour", parse_when(f"{DAY} 09:00", LONDON))
    later = service.book("studio", "hour", parse_when(f"{DAY} 10:30", LONDON))  # pre-heat from 10:15
    seen = run_until(daemon, clock, at("10:20"), step=60.0)
    states = {t: state for t, state, _ in seen}
    assert states[at("10:05")] == "idle"  # free between them: the after state
    assert room.session_booking["id"] == later.id and states[at("10:20")] == "preconditioning"


def test_a_walk_in_running_into_a_booking_is_refused_naming_it_unless_forced(clinic):
    daemon, clock = clinic
    execute, room = daemon.controller.execute, daemon.controller.rooms["studio"]
    clock.now = at("18:20")
    booked = daemon.bookings.book("studio", "hour", parse_when(f"{DAY} 19:00", LONDON), client="F. W.")
    with pytest.raises(BookedAhead) as refused:
        execute(Start(room="studio", preset="walkin"))  # 18:20 + 50 min = 19:10
    message = str(refused.value)
    assert f"booking {booked.id}" in message and "booked at 19:00" in message and "client F. W." in message
    assert "would run until 19:10" in message and "free until 19:00 and again from 20:00" in message
    assert not room.active  # nothing started
    execute(Start(room="studio", preset="walkin", duration="40m"))  # 18:20–19:00 fits
    assert room.active
    execute(Stop(room="studio"))
    asyncio.run(room.tick())
    execute(Start(room="studio", preset="walkin", force=True))  # forced: it runs
    assert room.ends_at == at("19:10")
    # the booked client arrives at 19:00 and waits; at 19:10 their session starts, whole, phases shifted
    seen = run_until(daemon, clock, at("19:05"), step=60.0)
    status = daemon.controller.status("studio")[0]
    assert status["waiting_since"] == iso(at("19:00"))
    assert seen[-1][1] == "running"
    run_until(daemon, clock, at("19:20"), step=60.0)
    facts = room.record.facts
    assert room.session_booking["id"] == booked.id
    assert facts.started_at == at("19:10") and facts.ends_at(clock.now) == at("20:10")  # shifted whole
    assert room.status()["booked_start"] == iso(at("19:00"))
    assert daemon.controller.status("studio")[0].get("waiting_since") is None


def test_an_extension_into_the_next_booking_is_refused_with_what_fits_unless_forced(clinic):
    daemon, clock = clinic
    execute, room = daemon.controller.execute, daemon.controller.rooms["studio"]
    daemon.bookings.book("studio", "hour", parse_when(f"{DAY} 09:00", LONDON))
    nxt = daemon.bookings.book("studio", "hour", parse_when(f"{DAY} 10:05", LONDON))
    run_until(daemon, clock, at("09:40"), step=60.0)
    execute(Extend(room="studio", by="5m"))  # to 10:05: touches the next one
    with pytest.raises(BookedAhead, match=f"booking {nxt.id}.*extending by 10m would run until 10:15"):
        execute(Extend(room="studio", by="10m"))
    assert room.ends_at == at("10:05")
    execute(Extend(room="studio", by="10m", force=True))
    assert room.ends_at == at("10:15")
    run_until(daemon, clock, at("10:20"), step=60.0)
    facts = room.record.facts
    assert room.session_booking["id"] == nxt.id
    assert (facts.started_at, facts.ends_at(clock.now)) == (at("10:15"), at("11:15"))  # shifted, not cut


def test_refusals_say_their_times_in_the_clinics_zone_with_am_pm_when_the_clock_is_12h(tmp_path):
    """Issue 17: no UTC ISO in a message a person reads; ``clock: 12h`` writes ``7:00 pm``."""
    clock = Clock(at("18:20"))
    config = write_clinic(
        tmp_path, ROOMS, mqtt="mqtt://127.0.0.1:1", presets=PRESETS, builtin=False, http=False,
        bookings={"timezone": "Europe/London", "lead": "15m"}, clock="12h",
    ).config  # fmt: skip
    daemon = Daemon(config, players=False, clock=clock)
    execute = daemon.controller.execute
    daemon.bookings.book("studio", "hour", parse_when(f"{DAY} 19:00", LONDON))
    with pytest.raises(BookedAhead) as refused:
        execute(Start(room="studio", preset="walkin"))
    assert "booked at 7:00 pm" in str(refused.value) and "would run until 7:10 pm" in str(refused.value)
    execute(Start(room="studio", preset="walkin", duration="30m"))
    with pytest.raises(Busy) as busy:
        execute(Start(room="studio", preset="walkin", duration="30m"))
    assert "busy with 'walkin' until 6:50 pm;" in str(busy.value)
    assert "+00:00" not in str(busy.value) and "T18" not in str(busy.value)


def test_a_session_that_ended_while_ambience_was_down_still_hands_over_to_the_booking_after_it(tmp_path):
    """Found by the clinic-day soak (issue 20): a daemon SIGKILLed over a session's end came back and put the room
    through its after state, and the next booking started from there, instead of following on through a turnover."""
    clock = Clock(at("08:00"))
    config = write_clinic(
        tmp_path, ROOMS, mqtt="mqtt://127.0.0.1:1", presets=PRESETS, builtin=False, http=False,
        bookings={"timezone": "Europe/London", "lead": "15m"},
    ).config  # fmt: skip
    before = Daemon(config, players=False, clock=clock)

    async def until_the_crash() -> tuple[str, str]:
        before.bookings.start()  # its jobs in the store, as in ambience serve
        first = before.bookings.book("studio", "hour", parse_when(f"{DAY} 09:00", LONDON))
        second = before.bookings.book("studio", "warm", parse_when(f"{DAY} 10:00", LONDON))
        clock.advance(at("08:45") - clock.now)
        [job] = [j for j in before.bookings.scheduler.get_jobs() if j.kwargs["id"] == first.id]
        job.remove()
        before.controller.execute(FireBooking(booking=job.kwargs))
        before.bookings.stop()
        return first.id, second.id

    first, second = asyncio.run(until_the_crash())
    assert before.controller.rooms["studio"].session_booking["id"] == first
    before.store.close()  # ambience dies at 09:10 (its lock with it); it is back at 10:01, after the first end
    os.close(before._lock)
    clock.advance(at("10:01") - clock.now)
    after = Daemon(config, players=False, clock=clock)

    async def come_back() -> None:
        after._take_up()  # what start() does, without a broker
        after.bookings.stop()

    asyncio.run(come_back())
    room = after.controller.rooms["studio"]
    assert room.session_booking["id"] == second
    assert room.status()["state"] == "turnover"  # not the after state: the linen is changed, the room kept warm
    assert desired(after, "lamp") == {"on": True, "brightness": 80.0, "color_temp": 4000}
    assert desired(after, "trv")["target"] == 25
    assert desired(after, "heater")["on"] is False  # the first session's heater, which the next never names
    [done] = after.store.history("studio")
    assert (done["preset"], done["outcome"]) == ("hour", "recovered")
