"""A clinic's day in a test (issue 16, point 9): six rooms, 60 back-to-back bookings (one room fed by a
practitioner's ICS feed), walk-ins, extensions, cancellations and feed edits, run minute by minute on a virtual
clock through the real controller, booking service (its APScheduler job store) and rooms, with no broker.
The day itself (its bookings, what the desk does when, and the run) is ambience.testing.clinic_day, which
bench/clinic.py times and replays in real time too.

Checked: every booking still standing started on time (to the second), each refused command was refused with a
reason naming what was in the way, every booked session ran its whole length through all its phases (none cut
mid-phase), back-to-back sessions went through a turnover and never through the after state, and no client name
from the feed reached the log or the store.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from ambience.testing.clinic_day import ROOMS, run_virtual_day

pytestmark = pytest.mark.unit


def test_a_six_room_clinic_day(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ambience")
    day = run_virtual_day(tmp_path)
    daemon, service = day.daemon, day.daemon.bookings
    booked, cancelled, refused, rooms_of = day.booked, day.cancelled, day.refused, day.rooms_of
    started, phases, states, by_hour = day.started, day.phases, day.states, day.by_hour
    assert day.opened_with == 60

    # ---- every booking still standing started on time -----------------------------------------------
    standing = {bid: start for bid, start in booked.items() if bid not in cancelled}
    assert len(standing) == 60 - 3 + 1  # three cancelled (two at the desk, one in the feed), one added in the feed
    late = {bid: (started.get(bid), start.timestamp()) for bid, start in standing.items()
            if started.get(bid) != start.timestamp()}  # fmt: skip
    assert late == {}
    assert not set(started) & cancelled

    # ---- what was refused was refused with its reason -----------------------------------------------
    reasons = dict(refused)
    assert set(reasons) == {"extend r4 into 09:00", "walk-in r2 60m", "extend r2 into 15:00"}
    assert f"booking {by_hour('r4', 9)}" in reasons["extend r4 into 09:00"]
    assert "extending by 10m would run until 09:10" in reasons["extend r4 into 09:00"]
    assert f"booking {by_hour('r2', 13)}" in reasons["walk-in r2 60m"]
    assert "would run until 13:15; the room is free until 13:00" in reasons["walk-in r2 60m"]
    assert f"booking {by_hour('r2', 15)}" in reasons["extend r2 into 15:00"]

    # ---- no session cut mid-phase -------------------------------------------------------------------
    history = [row for room in ROOMS for row in daemon.store.history(room, limit=1000)]
    assert len(history) == len(standing) + 4  # and the four walk-ins that were let in
    assert {row["outcome"] for row in history} == {"completed"}
    for row in history:
        length = _at(row["ended_at"]) - _at(row["started_at"])
        if row["preset"] != "walkin":
            assert length in (50 * 60, 55 * 60, 60 * 60, 70 * 60), row  # its whole length (an extension counted)
    assert len(phases) == len(history)
    assert all(seen == ["arrival", "treatment", "closing"] for seen in phases.values()), phases

    # ---- back to back through a turnover, never the after state -------------------------------------
    handovers = 0
    for row in history:
        ended = _at(row["ended_at"])
        nxt = [s.timestamp() for bid, s in standing.items() if rooms_of[bid] == row["room"] and s.timestamp() >= ended]
        if nxt and min(nxt) - ended <= 20 * 60:  # the next booking's pre-heat (15 or 40 min) begins by then
            until = max(min(nxt), ended + 60)  # touching: the minute it ended
            seen = [states[row["room"]][t] for t in sorted(states[row["room"]]) if ended <= t < until]
            assert seen[0] == "turnover" and "idle" not in seen, (row, seen)
            handovers += 1
    assert handovers >= 45

    # ---- discreet: the feed's client names stay out of the log and the store -------------------------
    for name in ("White", "Black", "Moor"):
        assert name not in caplog.text
        assert name not in str(daemon.store.history(limit=1000)) and name not in str(service.bookings())


def _at(value) -> float:
    return value if isinstance(value, (int, float)) else datetime.fromisoformat(value).timestamp()
