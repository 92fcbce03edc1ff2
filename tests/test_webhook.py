"""The signed webhook (``POST /api/calendars/{feed}/webhook``) through the real HTTP app: Acuity's signature
(base64 of the HMAC-SHA256 of the raw body) makes the feed sync now; anything else is refused, nothing synced."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ambience.app.calendars import CalendarPoller
from ambience.config import parse_config
from ambience.daemon import Daemon
from ambience.surfaces.http.app import MAX_BODY, create_app

pytestmark = pytest.mark.usefixtures("clean_env")

TOKEN = "webhook-test-token-0123456789"
SECRET = "acuity-api-key-5f1e"
BODY = b"action=appointment.scheduled&id=1234567&calendarID=42&appointmentTypeID=7"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, Daemon, Path]]:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "massage-60.yaml").write_text("name: massage-60\nduration: 1h\nclimate: {target: 24}\n")
    (tmp_path / "acuity.secret").write_text(SECRET + "\n")
    feed = tmp_path / "anna.ics"
    feed.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")
    calendars: list[dict[str, Any]] = [
        {"name": "anna", "file": str(feed), "default_room": "room-1", "default_preset": "massage-60",
         "webhook_secret_file": "acuity.secret"},
        {"name": "ben", "file": str(feed), "default_room": "room-1", "default_preset": "massage-60"},
    ]  # fmt: skip
    config = {
        "mqtt": {"url": "mqtt://127.0.0.1:1"}, "presets": ["presets"], "music": [], "state_dir": "state",
        "http": {"enabled": False}, "bookings": {"timezone": "UTC", "lead": "0s", "calendars": calendars},
        "rooms": {"room-1": {"speaker": None}},
    }  # fmt: skip
    daemon = Daemon(parse_config(json.dumps(config), "ambience.yaml", tmp_path), players=False, clock=time.time)
    daemon.controller.calendars = CalendarPoller(daemon.config.bookings.calendars, daemon.controller.execute,
                                                 time.time, UTC)  # fmt: skip
    try:
        yield TestClient(create_app(daemon.controller, TOKEN)), daemon, feed
    finally:
        daemon.store.close()


def appointment(feed: Path) -> None:
    """Acuity has a new appointment: the feed now shows it (the webhook says so before the next poll)."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    feed.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:acuity-1234567\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\nSUMMARY:Massage 60 – F. White\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_a_signed_notice_syncs_the_feed_now_and_answers_its_counts_without_client_names(setup):
    http, daemon, feed = setup
    appointment(feed)
    answer = http.post("/api/calendars/anna/webhook", content=BODY, headers={"X-Acuity-Signature": sign(BODY),
                       "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    counts = answer.json()
    assert {k: counts[k] for k in ("feed", "failed", "added", "moved", "cancelled", "errors")} == {
        "feed": "anna", "failed": None, "added": 1, "moved": 0, "cancelled": 0, "errors": 0,
    }  # fmt: skip
    assert counts["summary"].startswith("calendar 'anna': 1 added") and "White" not in answer.text
    assert [(b.uid, b.client) for b in daemon.bookings.bookings()] == [("acuity-1234567", "F. W.")]
    assert daemon.controller.calendars.state["anna"].last_report is not None  # recorded as the feed's last sync


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Acuity-Signature": sign(BODY, "wrong secret")}, {"X-Acuity-Signature": sign(BODY + b"&x=1")},
     {"X-Acuity-Signature": "not base64 !"}, {"Authorization": f"Bearer {TOKEN}"}],
    ids=["missing", "other-secret", "other-body", "garbage", "bearer-token-only"],
)  # fmt: skip
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_synced(setup, headers):
    http, daemon, feed = setup
    appointment(feed)
    answer = http.post("/api/calendars/anna/webhook", content=BODY, headers=headers)
    assert (answer.status_code, answer.json()) == (
        401, {"error": "missing or wrong X-Acuity-Signature (base64 HMAC-SHA256 of the body); not synced"}
    )  # fmt: skip
    assert daemon.bookings.bookings() == [] and daemon.controller.calendars.state["anna"].last_report is None


def test_a_feed_without_a_secret_an_unknown_one_and_a_large_body_are_refused(setup):
    http, daemon, feed = setup
    appointment(feed)
    for name in ("ben", "nobody"):
        answer = http.post(f"/api/calendars/{name}/webhook", content=BODY, headers={"X-Acuity-Signature": sign(BODY)})
        assert answer.status_code == 404
        assert answer.json()["error"] == f"no calendar feed {name!r} takes a webhook (webhook_secret_file or _env)"
    big = b"x" * (MAX_BODY + 1)
    answer = http.post("/api/calendars/anna/webhook", content=big, headers={"X-Acuity-Signature": sign(big)})
    assert answer.status_code == 413
    assert daemon.bookings.bookings() == []


def test_an_unreadable_secret_is_503_naming_the_file(setup, tmp_path: Path):
    http, _, _ = setup
    (tmp_path / "acuity.secret").unlink()
    answer = http.post("/api/calendars/anna/webhook", content=BODY, headers={"X-Acuity-Signature": sign(BODY)})
    assert answer.status_code == 503
    assert answer.json()["error"] == (
        f"calendar 'anna': cannot read webhook_secret_file '{tmp_path / 'acuity.secret'}': No such file or directory"
    )
