"""``ambience visit leave``: a home visit's departure, through the running daemon.

The daemon ends every session, puts the home back (each device's after state, confirmed, waiting up
to the rooms' ``shutdown_wait``), removes ambience from the client's Home Assistant and clears every
retained topic of ambience on the broker, answers with what it put back, and exits. This prints the
answer: per room, each device in words, then the topics cleared. See docs/daemon.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from ambience.cli import Context
from ambience.cli.client_cmds import DaemonClient, _print_json

MARGIN = 30.0
"""Seconds the CLI waits beyond the rooms' longest ``shutdown_wait`` for the daemon's answer."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    visit = sub.add_parser("visit", help="a home visit: leave the client's home as it was found", parents=[common])
    actions = visit.add_subparsers(dest="visit_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "leave",
        help="end the session, put the home back, remove ambience from the client's Home Assistant and "
        "broker, stop the daemon",
        parents=[common],
    )
    p.add_argument("--force", action="store_true", help="leave even though no room is a home visit (home_visit)")
    p.add_argument("--json", action="store_true", help="the daemon's answer as JSON")
    p.set_defaults(handler=cmd_leave)


def cmd_leave(args: argparse.Namespace, ctx: Context) -> int:
    wait = max((room.shutdown_wait for room in ctx.config.rooms.values()), default=0.0) + MARGIN
    with DaemonClient.for_config(ctx.config) as client:
        report = client.request("POST", "/api/visit/leave", json={"force": True} if args.force else {}, timeout=wait)
    if args.json:
        _print_json(ctx, report)
        return 0
    for line in leave_lines(report):
        ctx.out.print(escape(line))
    return 0 if report.get("confirmed", True) else 1


def leave_lines(report: dict[str, Any]) -> list[str]:
    """The departure in lines: what was put back per room, what needs a hand, the topics cleared."""
    lines = []
    for room in report.get("rooms") or ():
        name = room.get("name") or room.get("room")
        lines.append(f"{name}:" if name == room.get("room") else f"{room.get('room')} — {name}:")
        lines += [f"  {words}" for words in room.get("words") or ("nothing to put back",)]
    cleared = report.get("cleared") or []
    lines.append(f"cleared {len(cleared)} retained topic{'s' * (len(cleared) != 1)} of ambience on the broker:")
    lines += [f"  {topic}" for topic in cleared]
    if not report.get("confirmed", True):
        lines.append("some devices did not confirm: they are still owed and sent again at the next start")
    lines.append(
        "ambience has stopped" + ("; the home is back as it was found" if report.get("confirmed", True) else "")
    )
    return lines
