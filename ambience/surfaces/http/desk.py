"""The front desk: ``GET /desk`` (the page) and ``GET /api/day`` (every room's day in one answer).

The page (``static/desk.html``, ``desk.js``, ``desk.css``) is served like the phone page: without a token,
holding no room data; everything it shows comes from the token-protected API, and it follows changes
through the phone page's event stream (``/api/events``), asking for the day again when a room changes.

:func:`day_view` reads the bookings and the running sessions and lays them out with the pure
:func:`ambience.core.day.day_plan`. A booking shows its preset and client label, never more
(docs/privacy.md): no calendar UID, no feed title.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import FileResponse, Response

from ambience.app.controller import Controller
from ambience.core.booking import later
from ambience.core.day import DayBooking, DaySession, Span, day_plan
from ambience.surfaces.http.phone import PAGE_DIR, SECURITY_HEADERS

ON = ("preconditioning", "running", "paused")
"""A room's states with a session on."""
MARGIN = 86400.0
"""Seconds before the day whose bookings are read too: one ending then may start a turnover at midnight."""


def page() -> Response:
    return FileResponse(PAGE_DIR / "desk.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def _ts(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _sessions(controller: Controller, statuses: list[dict[str, Any]]) -> list[DaySession]:
    out = []
    for status in statuses:
        start, end = _ts(status.get("started_at")), _ts(status.get("ends_at"))
        if status["state"] not in ON or start is None or end is None:
            continue
        room = controller.rooms[status["room"]]
        booking = room.session_booking
        record = room.record
        lead = float(booking["lead"]) if booking else (record.facts.lead if record is not None else 0.0)
        out.append(
            DaySession(
                status["room"],
                status["preset"],
                status.get("client"),
                start,
                end,
                lead,
                status["state"],
                status.get("phase"),
                booking.get("id") if booking else None,
            )  # fmt: skip
        )
    return out


def _bookings(controller: Controller, bounds: tuple[float, float]) -> list[DayBooking]:
    service = controller.bookings
    if service is None:
        return []
    out = []
    for b in service.bookings():
        preset = controller.library.presets.get(b.preset)
        end = later(b.start, b.length(preset.duration if preset else 0.0)).timestamp()
        start = b.start.timestamp()
        if end > bounds[0] - MARGIN and start - b.lead < bounds[1]:
            out.append(DayBooking(b.id, b.room, b.preset, b.client, start, end, b.lead, b.waiting))
    return out


def _iso(moment: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(moment, tz).isoformat(timespec="seconds")


def _span(span: Span, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": span.kind, "from": _iso(span.start, tz), "to": _iso(span.end, tz)}
    item = span.item
    if isinstance(item, DayBooking):
        out["booking"] = {
            "id": item.id, "preset": item.preset, "client": item.label, "start": _iso(item.start, tz),
            "end": _iso(item.end, tz), "lead_s": item.lead, "waiting": item.waiting,
        }  # fmt: skip
    elif isinstance(item, DaySession):
        out["session"] = {
            "preset": item.preset, "client": item.label, "start": _iso(item.start, tz), "ends_at": _iso(item.end, tz),
            "lead_s": item.lead, "state": item.state, "phase": item.phase, "booking": item.booking,
        }  # fmt: skip
    return out


def day_view(controller: Controller, day: date | None = None) -> dict[str, Any]:
    """Every room's day (``day``: the clinic's today if left out), as ``GET /api/day`` answers it."""
    tz = controller.bookings.tz if controller.bookings is not None else ZoneInfo("UTC")
    now = controller.clock()
    day = day or datetime.fromtimestamp(now, tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    bounds = (start.timestamp(), end.timestamp())
    statuses = controller.status()
    turnover = {room_id: room.config.turnover.length for room_id, room in controller.rooms.items()}
    plans = day_plan(list(controller.rooms), _bookings(controller, bounds), _sessions(controller, statuses),
                     turnover, bounds)  # fmt: skip
    rooms = []
    for status in statuses:
        shown = {k: status.get(k) for k in ("state", "preset", "phase", "client", "started_at", "ends_at")}
        shown["waiting_since"] = status.get("waiting_since")
        rooms.append(
            {
                "room": status["room"],
                "name": status["name"],
                "turnover_s": turnover[status["room"]],
                "now": shown,
                "spans": [_span(span, tz) for span in plans[status["room"]]],
            }
        )
    return {
        "date": day.isoformat(),
        "timezone": getattr(tz, "key", str(tz)),
        "from": _iso(bounds[0], tz),
        "to": _iso(bounds[1], tz),
        "now": _iso(now, tz),
        "rooms": rooms,
    }


__all__ = ["day_view", "page"]
