"""``ambience book``, ``ambience bookings``, ``ambience move`` and ``ambience cancel``: clinic bookings via the daemon."""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.cli.args import length
from ambience.cli.client_cmds import DaemonClient, _print_json
from ambience.core.when import WhenError, parse_day, parse_time
from ambience.units import format_duration, say_clock


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("book", help="book a room ahead: a preset at a time, with pre-heat", parents=[common])
    p.add_argument("room")
    p.add_argument("preset")
    p.add_argument(
        "--at",
        required=True,
        metavar="TIME",
        help="the clinic's time: 14:00 (the next one), 2pm, 2:30pm, 'tomorrow 9:30', 'mon 10:00', '2026-12-03 10:00'",
    )
    p.add_argument(
        "--for",
        dest="duration",
        type=length,
        metavar="DURATION",
        help="the session's length, if not the preset's: 45m, 1h30 (a bare number is minutes)",
    )
    p.add_argument(
        "--lead", type=length, metavar="DURATION", help="pre-heat before the start (default from the config)"
    )
    p.add_argument("--client", metavar="LABEL")
    p.set_defaults(handler=cmd_book)

    p = sub.add_parser("bookings", help="bookings per room (a day view)", parents=[common])
    p.add_argument("--day", metavar="DAY", help="only this day: today, tomorrow, mon … sun or YYYY-MM-DD")
    p.add_argument("--room", metavar="ROOM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bookings)

    p = sub.add_parser("move", help="move a booking to another time (and room, preset, length)", parents=[common])
    p.add_argument("id")
    p.add_argument("--at", required=True, metavar="TIME", help="the new start, written as for book --at")
    p.add_argument("--room", metavar="ROOM", help="another room (default: the same)")
    p.add_argument("--preset", metavar="PRESET", help="another preset (default: the same)")
    p.add_argument(
        "--for", dest="duration", type=length, metavar="DURATION", help="a new length (a bare number is minutes)"
    )
    p.set_defaults(handler=cmd_move)

    p = sub.add_parser("cancel", help="cancel a booking (one already running ends now)", parents=[common])
    p.add_argument("id")
    p.set_defaults(handler=cmd_cancel)


def now(tz: ZoneInfo) -> datetime:
    """The clinic's clock, the one thing a relative time (``14:00``, ``tomorrow``) is read against."""
    return datetime.now(tz)


def _resolve(option: str, read: Any, text: str, ctx: Context) -> Any:
    """``text`` read in the clinic's zone (``bookings.timezone``) against its clock; a bad one names the option."""
    tz = ctx.config.bookings.zone()
    try:
        return read(text, now(tz), tz)
    except WhenError as exc:
        raise WhenError(f"{option}: {exc}") from None


def cmd_book(args: argparse.Namespace, ctx: Context) -> int:
    # resolved here, not by the daemon: the API's contract stays an exact ISO time (the phone page sends
    # one), and what "14:00" means depends on the clock it is read against; the line below shows the day
    start = _resolve("--at", parse_time, args.at, ctx)
    body: dict[str, Any] = {"room": args.room, "preset": args.preset, "at": start.isoformat(timespec="minutes")}
    if args.duration is not None:
        body["duration"] = format_duration(args.duration)  # with its unit: a bare number would be minutes
    if args.lead is not None:
        body["lead"] = format_duration(args.lead)
    if args.client:
        body["client"] = args.client
    with DaemonClient.for_config(ctx.config) as client:
        booking = client.post("/api/bookings", body)["booking"]
    ctx.out.print(booking["id"])
    ctx.err.print(
        f"booked {escape(booking['room'])}: {escape(booking['preset'])} at {_when(booking['start'], ctx.config.twelve_hour(), '%a %Y-%m-%d ')}, "
        f"pre-heat from {format_duration(booking['lead'])} before"
    )
    return 0


def _when(iso: str, twelve: bool, fmt: str = "%Y-%m-%d ") -> str:
    """A booking's time as the API gives it (the clinic's zone): its day in ``fmt``, then the time of day
    (``19:00`` or ``7:00 pm``); ``fmt=""`` for the time alone."""
    moment = datetime.fromisoformat(iso)
    return f"{moment:{fmt}}{say_clock(moment, twelve=twelve)}" if fmt else say_clock(moment, twelve=twelve)


def cmd_bookings(args: argparse.Namespace, ctx: Context) -> int:
    if args.day:
        args.day = str(_resolve("--day", parse_day, args.day, ctx))
    params = {k: v for k, v in (("room", args.room), ("day", args.day)) if v}
    with DaemonClient.for_config(ctx.config) as client:
        bookings = client.get("/api/bookings", **params)
    if args.json:
        _print_json(ctx, bookings)
        return 0
    if not bookings:
        ctx.out.print(
            "no bookings" + (f" on {args.day}" if args.day else "") + (f" in {args.room}" if args.room else "")
        )
        return 0
    twelve = ctx.config.twelve_hour()
    by_room: dict[str, list[dict]] = defaultdict(list)
    for b in bookings:
        by_room[b["room"]].append(b)
    for room, items in sorted(by_room.items()):
        table = Table(title=room, title_justify="left", box=None, header_style="bold")
        for col in ("DAY", "FROM", "TO", "PRESET", "CLIENT", "PRE-HEAT", "ID", "NOTE"):
            table.add_column(col)
        for b in items:
            table.add_row(
                f"{datetime.fromisoformat(b['start']):%a %d %b}",
                _when(b["start"], twelve, ""),
                _when(b["end"], twelve, "") if b.get("end") else "",
                escape(b["preset"]),
                escape(b.get("client") or "—"),
                format_duration(b["lead"]),
                b["id"],
                escape(b.get("waiting") or (b["source"] if b["source"] != "manual" else "")),
            )
        ctx.out.print(table)
    return 0


def cmd_move(args: argparse.Namespace, ctx: Context) -> int:
    start = _resolve("--at", parse_time, args.at, ctx)  # resolved here, as for book
    body: dict[str, Any] = {"at": start.isoformat(timespec="minutes")}
    for key in ("room", "preset"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    if args.duration is not None:
        body["duration"] = format_duration(args.duration)
    with DaemonClient.for_config(ctx.config) as client:
        booking = client.request("PATCH", f"/api/bookings/{args.id}", json=body)["booking"]
    ctx.err.print(
        f"moved {booking['id']}: {escape(booking['room'])} {escape(booking['preset'])} "
        f"at {_when(booking['start'], ctx.config.twelve_hour(), '%a %Y-%m-%d ')}"
    )
    return 0


def cmd_cancel(args: argparse.Namespace, ctx: Context) -> int:
    with DaemonClient.for_config(ctx.config) as client:
        booking = client.request("DELETE", f"/api/bookings/{args.id}")["booking"]
    ctx.out.print(
        f"cancelled {booking['id']}: {escape(booking['room'])} {escape(booking['preset'])} at {_when(booking['start'], ctx.config.twelve_hour())}"
    )
    return 0
