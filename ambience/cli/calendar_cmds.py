"""``ambience calendars list|sync``: the calendar feeds (ICS) that book the rooms.

``list`` shows each configured feed with its rules, and the running daemon's last sync of it
(``GET /api/calendars``) if the daemon answers. ``sync [NAME]`` asks the running daemon to sync
now (``POST /api/calendars/sync[?name=NAME]``) and prints what changed. ``sync --dry-run`` asks the daemon
for the same plan without applying it (``&dry_run=true``): the same counts and reasons a sync would give.
With no daemon answering, it plans here, against no bookings (as a first sync would), and says so.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ambience.app.calendars import fetch
from ambience.cli import Context
from ambience.cli.client_cmds import DaemonClient, DaemonRefused, DaemonUnreachable, _print_json
from ambience.config import Config
from ambience.config.calendars import CalendarFeed
from ambience.config.library import load_library
from ambience.core.calendar_plan import PresetTimes, Schedule, SyncReport, dry_run
from ambience.errors import AmbienceError, CalendarError, NotFound
from ambience.units import format_duration, say_time

ACTION_STYLE = {"added": "green", "moved": "yellow", "cancelled": "red"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    calendars = sub.add_parser("calendars", help="calendar feeds (ICS) that book the rooms", parents=[common])
    csub = calendars.add_subparsers(dest="calendars_command", metavar="ACTION", required=True)
    p = csub.add_parser("list", help="the feeds, their rules and the daemon's last sync of each", parents=[common])
    p.add_argument("--json", action="store_true", help="the feeds as JSON")
    p.set_defaults(handler=cmd_list)
    p = csub.add_parser("sync", help="sync the feeds now (through the running daemon) and print what changed",
                        parents=[common])  # fmt: skip
    p.add_argument("name", nargs="?", metavar="NAME", help="only this feed (default: every feed)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what a sync would do, refusals included, and change nothing (with no daemon: planned here)",
    )
    p.add_argument("--json", action="store_true", help="the sync reports as JSON")
    p.set_defaults(handler=cmd_sync)


def feeds_of(config: Config) -> list[CalendarFeed]:
    """The configured feeds (``bookings.calendars``)."""
    return list(config.bookings.calendars)


# ---- talking to the daemon -------------------------------------------------------------------


def sync_via_daemon(client: DaemonClient, name: str | None, *, dry_run: bool = False) -> list[SyncReport]:
    """The daemon's reports of a sync it ran now (``POST /api/calendars/sync?name=``), or of its plan only
    (``dry_run``); raises a one-line error."""
    params = ({"name": name} if name else {}) | ({"dry_run": "true"} if dry_run else {})
    data = client.request("POST", "/api/calendars/sync", params=params, json={})
    try:
        if not isinstance(data, list) or not all(isinstance(report, dict) for report in data):
            raise TypeError(data)
        return [SyncReport.from_json(report) for report in data]
    except (KeyError, TypeError, ValueError):
        raise DaemonRefused(f"{client.url} answered the calendar sync with something unexpected") from None


def daemon_status(client: DaemonClient) -> dict[str, dict[str, Any]]:
    """Each feed's state in the running daemon (``GET /api/calendars``: ``CalendarPoller.status()``), by name."""
    rows = client.get("/api/calendars")
    return (
        {row["name"]: row for row in rows if isinstance(row, dict) and "name" in row} if isinstance(rows, list) else {}
    )


# ---- rendering ------------------------------------------------------------------------------------


def _when(moment: datetime, tz: tzinfo, twelve: bool = False) -> str:
    """``Tue 2 Dec 19:00`` (``7:00 pm``) in the clinic's zone."""
    return say_time(moment.astimezone(tz), twelve=twelve)


def report_table(report: SyncReport, tz: tzinfo, twelve: bool = False) -> Table | None:
    """One row per booking added, moved or cancelled (or to book, in a dry run)."""
    rows = [("added", c) for c in report.added] + [("moved", c) for c in report.moved]
    rows += [("cancelled", c) for c in report.cancelled]
    if not rows:
        return None
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("", "WHEN", "ROOM", "PRESET", "CLIENT", "NOTE"):
        table.add_column(col, no_wrap=col != "NOTE")
    for action, change in rows:
        note = (change.why or "cancelled") if action == "cancelled" else ""
        if change.was is not None:
            note = f"was {_when(change.was, tz, twelve)}"
        table.add_row(
            Text("to book" if report.dry_run else action, style=ACTION_STYLE[action]),
            _when(change.start, tz, twelve),
            escape(change.room),
            escape(change.preset),
            escape(change.client or "–"),
            escape(note),
        )
    return table


def print_report(ctx: Context, report: SyncReport, tz: tzinfo) -> None:
    if report.failed is not None:
        ctx.err.print(f"[red]error:[/red] {escape(report.summary())}")
        return
    ctx.out.print(escape(report.summary()))
    if report.note:
        ctx.out.print(f"[dim]  {escape(report.note)}[/dim]")
    table = report_table(report, tz, ctx.config.twelve_hour())
    if table is not None:
        ctx.out.print(table)
    for _uid, why in report.skipped:
        ctx.out.print(f"[dim]  skipped: {escape(why)}[/dim]")
    for _uid, message in report.errors:
        ctx.err.print(f"[red]error:[/red] {escape(message)}")
    for _uid, message in report.unforeseen:
        ctx.err.print(f"[red]error (not foreseen by the plan):[/red] {escape(message)}")


def feed_table(
    feed: CalendarFeed, status: dict[str, Any] | None, tz: tzinfo, note: str | None = None, twelve: bool = False
) -> Table:
    """A feed as a two-column table: where from, how often, its rules and the last sync."""
    table = Table(title=escape(feed.name), title_justify="left", title_style="bold", box=None, show_header=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    table.add_row("feed", escape(feed.where()))
    table.add_row("polled", f"every {format_duration(feed.poll)}, events up to {feed.horizon_days} days ahead")
    table.add_row("lead", format_duration(feed.lead) if feed.lead is not None else "bookings.lead")
    for i, rule in enumerate(feed.rooms):
        table.add_row("rooms" if i == 0 else "", escape(f"{rule.describe()} → {rule.room}"))
    fallback = f"→ {feed.default_room}" if feed.default_room else "skipped"
    table.add_row("" if feed.rooms else "rooms", escape(f"otherwise {fallback}"))
    for i, preset_rule in enumerate(feed.presets):
        table.add_row("presets" if i == 0 else "", escape(f"{preset_rule.describe()} → {preset_rule.preset}"))
    fallback = f"→ {feed.default_preset}" if feed.default_preset else "skipped"
    table.add_row("" if feed.presets else "presets", escape(f"otherwise {fallback}"))
    table.add_row("client", "initials from the title" if feed.client == "initials" else "none")
    table.add_row("last sync", _last_sync(status, tz, note, twelve))
    return table


def _last_sync(status: dict[str, Any] | None, tz: tzinfo, note: str | None, twelve: bool = False) -> Text:
    if status is None:
        return Text(f"unknown: {note}" if note else "unknown", style="dim")
    if not status.get("last_report"):
        return Text("not yet", style="dim")
    report = SyncReport.from_json(status["last_report"])
    said = report.summary().removeprefix(f"calendar {report.feed!r}: ")
    return Text(f"{_when(report.at, tz, twelve)}: {said}", style="" if report.ok else "red")


def feed_json(feed: CalendarFeed, status: dict[str, Any] | None) -> dict[str, Any]:
    out = feed.model_dump(mode="json", exclude={"url"})
    out["where"] = feed.where()
    out["last_sync"] = status.get("last_sync") if status else None
    out["last_report"] = status.get("last_report") if status else None
    return out


# ---- commands -----------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    feeds = feeds_of(config)
    status: dict[str, dict[str, Any]] = {}
    note: str | None = None
    if feeds:
        try:
            with DaemonClient.for_config(config) as client:
                status = daemon_status(client)
        except AmbienceError as exc:  # the feeds are still worth listing
            note = str(exc)
    if args.json:
        _print_json(ctx, [feed_json(feed, status.get(feed.name)) for feed in feeds])
        return 0
    if not feeds:
        ctx.out.print("no calendar feeds configured; add them under bookings.calendars (see docs/calendars.md)")
        return 0
    tz = config.bookings.zone()
    for i, feed in enumerate(feeds):
        if i:
            ctx.out.print()
        ctx.out.print(feed_table(feed, status.get(feed.name), tz, note, ctx.config.twelve_hour()))
    return 0


def local_dry_run(feeds: list[CalendarFeed], schedule: Schedule, now: datetime, tz: tzinfo) -> list[SyncReport]:
    """Fetch and plan each feed here, against ``schedule``; a feed that cannot be fetched is a failed report."""
    reports = []
    for feed in feeds:
        try:
            text = fetch(feed)
        except CalendarError as exc:
            reports.append(SyncReport(feed.name, now, failed=str(exc), dry_run=True))
            continue
        reports.append(dry_run(feed, text, schedule, now, tz))
    return reports


def empty_schedule(config: Config) -> Schedule:
    """The config's rooms and presets with no bookings: what a first sync is checked against."""
    presets = load_library(config.preset_folders()).presets
    times = {pid: PresetTimes(p.duration, p.switch_lead) for pid, p in presets.items()}
    return Schedule(tuple(config.rooms), times, config.bookings.lead, tz=config.bookings.zone())


def cmd_sync(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    tz = config.bookings.zone()
    feeds = feeds_of(config)
    if args.name is not None and args.dry_run and args.name not in {f.name for f in feeds}:
        raise NotFound("calendar", args.name, [f.name for f in feeds])
    try:
        with DaemonClient.for_config(config) as client:
            reports = sync_via_daemon(client, args.name, dry_run=args.dry_run)
    except DaemonUnreachable as exc:
        if not args.dry_run:
            raise
        note = f"planned here against no bookings (as a first sync): {exc}"
        chosen = [f for f in feeds if args.name in (None, f.name)]
        reports = [replace(r, note=note) for r in local_dry_run(chosen, empty_schedule(config), datetime.now(tz), tz)]
    if args.json:
        _print_json(ctx, [r.json() for r in reports])
    elif not reports:
        ctx.out.print("no calendar feeds configured; add them under bookings.calendars (see docs/calendars.md)")
    for i, report in enumerate(reports if not args.json else ()):
        if i:
            ctx.out.print()
        print_report(ctx, report, tz)
    return 0 if all(r.ok for r in reports) else 1
