"""The front desk's API against a real Daemon on a fixed clock (no broker): ``GET /api/day``, ``PATCH
/api/bookings/{id}`` (move), booking at the times people write, ``GET /desk``; and ``ambience move``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ambience.app.commands import FireBooking
from ambience.cli import booking_cmds, main
from ambience.cli.client_cmds import DaemonClient
from ambience.core.booking import Booking
from ambience.daemon import Daemon
from ambience.surfaces.http.app import create_app
from ambience.testing import TWO_ROOMS, Clock, write_clinic

TOKEN = "desk-test-token-0123456789"
PRESET = "swedish-relaxation-60"  # 60 minutes
NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)  # the clinic is in UTC; tomorrow is 2027-01-16
TOMORROW = "2027-01-16"

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Daemon, Clock]]:
    clock = Clock(NOW.timestamp())
    daemon = Daemon(write_clinic(tmp_path, TWO_ROOMS).config, clock=clock, players=False)
    client = TestClient(create_app(daemon.controller, TOKEN), headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        yield client, daemon, clock
    finally:
        client.close()
        daemon.store.close()


def book(http: TestClient, at: str, room: str = "studio", **extra) -> dict:
    answer = http.post("/api/bookings", json={"room": room, "preset": PRESET, "at": at, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["booking"]


def fire(daemon: Daemon, booking: dict) -> None:
    """The booking's job, run now as APScheduler runs it at its start − lead (a date job is gone once run)."""
    daemon.bookings.scheduler.remove_job(booking["id"])
    daemon.controller.execute(FireBooking(booking=Booking.from_kwargs(booking).kwargs()))


def spans(day: dict, room: str = "studio") -> list[tuple[str, str, str, str | None]]:
    """(kind, from, to, booking id) with times as HH:MM."""
    found = next(r for r in day["rooms"] if r["room"] == room)
    return [(s["kind"], s["from"][11:16], s["to"][11:16], (s.get("booking") or {}).get("id")) for s in found["spans"]]


def test_a_booking_is_made_at_a_time_people_write(api):
    http, _, _ = api
    booking = book(http, "tomorrow 9:30")
    assert booking["start"] == f"{TOMORROW}T09:30:00+00:00"
    assert book(http, "2pm")["start"] == "2027-01-15T14:00:00+00:00"  # today: still ahead
    bad = http.post("/api/bookings", json={"room": "studio", "preset": PRESET, "at": "25:00"})
    assert bad.status_code == 422 and bad.json()["issues"][0]["field"] == "at"
    assert "'25:00' is not a time of day" in bad.json()["error"]


def test_the_day_shows_following_bookings_through_a_turnover_with_the_client_label_only(api):
    http, _, _ = api
    first = book(http, "tomorrow 9:00", client="F. W.")
    second = book(http, "tomorrow 10:20")  # its pre-heat from 10:05: the end + turnover.length
    day = http.get("/api/day", params={"date": TOMORROW}).json()
    assert (day["date"], day["from"], day["to"]) == (
        TOMORROW,
        f"{TOMORROW}T00:00:00+00:00",
        "2027-01-17T00:00:00+00:00",
    )
    assert spans(day) == [
        ("free", "00:00", "08:45", None),
        ("lead", "08:45", "09:00", first["id"]),
        ("booking", "09:00", "10:00", first["id"]),
        ("turnover", "10:00", "10:05", None),
        ("lead", "10:05", "10:20", second["id"]),
        ("booking", "10:20", "11:20", second["id"]),
        ("free", "11:20", "00:00", None),
    ]
    shown = next(s for s in day["rooms"][0]["spans"] if s["kind"] == "booking")["booking"]
    assert set(shown) == {"id", "preset", "client", "start", "end", "lead_s", "waiting"}  # no uid, no feed title
    assert (shown["client"], shown["start"], shown["end"]) == ("F. W.", f"{TOMORROW}T09:00:00+00:00",
                                                              f"{TOMORROW}T10:00:00+00:00")  # fmt: skip
    assert spans(day, "garden") == [("free", "00:00", "00:00", None)]
    assert day["rooms"][0]["turnover_s"] == 300


def test_the_day_shows_the_running_session_and_a_pre_heat_and_defaults_to_today(api):
    http, daemon, clock = api
    started = http.post("/api/rooms/garden/start", json={"preset": PRESET, "client": "A. S."}).json()
    booking = book(http, "8:13")  # 13 min ahead: its 15-min pre-heat has begun
    fire(daemon, booking)
    day = http.get("/api/day").json()
    assert day["date"] == "2027-01-15" and day["now"] == "2027-01-15T08:00:00+00:00"
    studio, garden = day["rooms"]
    assert studio["now"]["state"] == "preconditioning" and studio["now"]["started_at"] == "2027-01-15T08:13:00+00:00"
    assert [(s["kind"], s["from"][11:16], s["to"][11:16]) for s in studio["spans"][1:3]] == [
        ("lead", "07:58", "08:13"),
        ("session", "08:13", "09:13"),
    ]
    session = garden["spans"][1]["session"]
    assert garden["spans"][1]["kind"] == "session" and session["client"] == "A. S."
    assert datetime.fromisoformat(session["ends_at"]) == datetime.fromisoformat(started["ends_at"])
    assert garden["now"]["state"] == "running" and garden["now"]["phase"] == started["phase"]
    assert http.get("/api/day", params={"date": "tomorrow"}).status_code == 422
    asyncio.run(daemon.rooms["garden"].tick())


def test_a_booking_is_moved_to_another_time_and_room_and_a_clash_changes_nothing(api):
    http, daemon, _ = api
    moving = book(http, "tomorrow 9:00", client="A. S.")
    other = book(http, "tomorrow 12:00", room="garden")
    answer = http.patch(f"/api/bookings/{moving['id']}", json={"at": "tomorrow 14:00"})
    assert answer.status_code == 200, answer.text
    moved = answer.json()["booking"]
    assert (moved["id"], moved["start"], moved["room"], moved["client"]) == (
        moving["id"], f"{TOMORROW}T14:00:00+00:00", "studio", "A. S.")  # fmt: skip
    clash = http.patch(f"/api/bookings/{moving['id']}", json={"at": f"{TOMORROW} 12:30", "room": "garden"})
    assert clash.status_code == 409 and f"booking {other['id']}" in clash.json()["error"]
    assert {b["id"]: (b["room"], b["start"]) for b in http.get("/api/bookings").json()} == {
        moving["id"]: ("studio", f"{TOMORROW}T14:00:00+00:00"),
        other["id"]: ("garden", f"{TOMORROW}T12:00:00+00:00"),
    }
    to_garden = http.patch(f"/api/bookings/{moving['id']}", json={"at": "tomorrow 16:00", "room": "garden",
                                                                  "duration": "30m"}).json()["booking"]  # fmt: skip
    assert (to_garden["room"], to_garden["end"]) == ("garden", f"{TOMORROW}T16:30:00+00:00")
    assert daemon.controller.status("studio")[0]["next_booking"] is None


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({}, 422, "at: "),
        ({"at": "soon"}, 422, "'soon' is not a time"),
        ({"at": "tomorrow 9:00", "id": "x"}, 422, "id: comes from the URL"),
        ({"at": "tomorrow 9:00", "lead": "5m"}, 422, "lead"),
        ({"at": "tomorrow 9:00", "room": "nowhere"}, 404, "nowhere"),
        ({"at": "tomorrow 9:00", "preset": "nothing-like-it"}, 404, "nothing-like-it"),
        ({"at": "2027-01-14 09:00"}, 409, "in the past"),
    ],
)
def test_a_bad_move_is_refused_in_one_line_and_changes_nothing(api, body, status, words):
    http, _, _ = api
    booking = book(http, "tomorrow 11:00")
    answer = http.patch(f"/api/bookings/{booking['id']}", json=body)
    assert answer.status_code == status and words in answer.json()["error"], answer.text
    assert [b["start"] for b in http.get("/api/bookings").json()] == [f"{TOMORROW}T11:00:00+00:00"]


def test_moving_an_unknown_or_started_booking_is_refused(api):
    http, daemon, _ = api
    assert http.patch("/api/bookings/nope", json={"at": "tomorrow 9:00"}).status_code == 404
    booking = book(http, "8:10")
    fire(daemon, booking)
    started = http.patch(f"/api/bookings/{booking['id']}", json={"at": "tomorrow 9:00"})
    assert started.status_code == 409 and "has started" in started.json()["error"]


def test_the_desk_page_is_served_without_a_token_and_holds_no_room_data(api):
    http, _, _ = api
    page = http.get("/desk", headers={"Authorization": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/static/desk.js" in page.text and "studio" not in page.text
    assert http.get("/static/desk.js", headers={"Authorization": ""}).status_code == 200
    assert http.get("/api/day", headers={"Authorization": ""}).status_code == 401


@pytest.mark.unit
def test_ambience_move_sends_the_exact_new_time(tmp_path, monkeypatch, capsys):
    cfg = write_clinic(tmp_path, bookings={"timezone": "UTC"}).file
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = json.loads(request.content)
        return httpx.Response(200, json={"booking": {"id": "b1", "room": body.get("room", "studio"),
                                                     "preset": "hour", "start": body["at"]}})  # fmt: skip

    client = DaemonClient("http://ambience.test", "token", transport=httpx.MockTransport(answer))
    monkeypatch.setattr(DaemonClient, "for_config", classmethod(lambda cls, config: client))
    monkeypatch.setattr(booking_cmds, "now", lambda tz: NOW.astimezone(tz))
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    assert main(["move", "b1", "--at", "tomorrow 9:30", "--room", "garden", "--config", str(cfg)]) == 0
    assert (sent[0].method, sent[0].url.path) == ("PATCH", "/api/bookings/b1")
    assert json.loads(sent[0].content) == {"at": f"{TOMORROW}T09:30+00:00", "room": "garden"}
    assert f"moved b1: garden hour at Sat {TOMORROW} 09:30" in capsys.readouterr().err
    assert main(["move", "b1", "--at", "25:00", "--config", str(cfg)]) == 1
    assert "--at: '25:00' is not a time of day" in capsys.readouterr().err
