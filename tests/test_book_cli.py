"""``ambience book --at`` and ``bookings --day`` with the times people write: read in the clinic's zone
against a fixed clock and sent to the API as an exact ISO time. The daemon is an httpx mock transport
(what the real one answers is tests/test_bookings.py): no broker, no process."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from ambience.cli import booking_cmds, main
from ambience.cli.client_cmds import DaemonClient
from ambience.testing import write_clinic

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=LONDON)  # a Wednesday


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    """The requests the CLI sends; it answers a booking back as the daemon would (``start`` = the ``at`` sent)."""
    cfg = write_clinic(tmp_path, bookings={"timezone": "Europe/London"}).file
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "GET":
            return httpx.Response(200, json=[])
        body = json.loads(request.content)
        booking = {"id": "b1", "room": body["room"], "preset": body["preset"], "start": body["at"], "lead": 900}
        return httpx.Response(200, json={"booking": booking})

    client = DaemonClient("http://ambience.test", "token", transport=httpx.MockTransport(answer))
    monkeypatch.setattr(DaemonClient, "for_config", classmethod(lambda cls, config: client))
    monkeypatch.setattr(booking_cmds, "now", lambda tz: NOW.astimezone(tz))
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    return str(cfg), sent


@pytest.mark.parametrize(
    "at, sent_at, said",
    [
        ("10:00", "2026-12-03T10:00+00:00", "at Thu 2026-12-03 10:00"),  # 10:00 has passed today: tomorrow's
        ("2pm", "2026-12-02T14:00+00:00", "at Wed 2026-12-02 14:00"),
        ("mon 9:30", "2026-12-07T09:30+00:00", "at Mon 2026-12-07 09:30"),
        ("2026-12-03T10:00+01:00", "2026-12-03T09:00+00:00", "at Thu 2026-12-03 09:00"),
    ],
)
def test_book_at_a_time_people_write_sends_the_exact_time(daemon, capsys, at, sent_at, said):
    cfg, sent = daemon
    assert main(["book", "studio", "hour", "--at", at, "--config", cfg]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "b1"
    assert json.loads(sent[0].content)["at"] == sent_at
    assert f"booked studio: hour {said}, pre-heat from 15m before" in err


@pytest.mark.parametrize(
    "at, why",
    [
        ("an hour", "'an hour' is not a time; write e.g. 14:00, 2pm"),
        ("25:00", "'25:00' is not a time of day (00:00–23:59)"),
        ("2026-10-25 01:30", "happens twice in Europe/London (the clocks go back then); write 2026-10-25T01:30+01:00"),
    ],
)
def test_book_at_a_refused_time_is_one_line_naming_the_option_and_sends_nothing(daemon, capsys, at, why):
    cfg, sent = daemon
    assert main(["book", "studio", "hour", "--at", at, "--config", cfg]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --at: ") and why in lines[0], err
    assert "Traceback" not in err and not out and sent == []


def test_bookings_day_takes_a_day_word(daemon, capsys):
    cfg, sent = daemon
    assert main(["bookings", "--day", "tomorrow", "--config", cfg]) == 0
    assert sent[0].url.params["day"] == "2026-12-03"
    assert "no bookings on 2026-12-03" in capsys.readouterr().out
    assert main(["bookings", "--day", "someday", "--config", cfg]) == 1
    assert "error: --day: 'someday' is not a day; write e.g. today, tomorrow" in capsys.readouterr().err
