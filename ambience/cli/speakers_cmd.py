"""``ambience speakers``: the audio outputs mpv sees, with the line to put in a room's config.

For therapists and installers: lists every device libmpv finds through each of its audio outputs
(PipeWire and PulseAudio sinks, Bluetooth speakers among them, ALSA devices, ``auto`` for the
system's default), marks the Bluetooth ones and the ones a room already uses, and prints the
``speaker:`` line that picks each. It also lists the clients of every Snapcast server a room names
(and of ``--snapcast HOST:PORT``, for a first one): id, name, connected, group and stream, and the
``speaker: {snapcast: ...}`` line for each. A server that cannot be reached is said in one line; the
rest is listed all the same. ``--json`` for machines (Snapcast clients are rows with ``output:
snapcast``).
"""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.config.devices import SnapcastSpeaker
from ambience.errors import PlayerError
from ambience.music.mpv import AudioDevice, audio_devices
from ambience.music.snapcast import SnapcastClient, snapcast_clients


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "speakers",
        help="list the audio outputs mpv sees (Bluetooth ones marked) and the config line for each",
        parents=[common],
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--snapcast",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also list the clients of this snapserver (its JSON-RPC control port, 1705 by default)",
    )
    p.set_defaults(handler=cmd_speakers)


def config_line(device: AudioDevice) -> str:
    """The room config that plays to ``device``."""
    return f"speaker: {{audio_device: {json.dumps(device.name)}}}"


def _rooms(ctx: Context) -> dict[str, list[str]]:
    """Device name → the rooms that name it (none when there is no config file)."""
    used: dict[str, list[str]] = {}
    for room_id, room in ctx.config.rooms.items():
        if isinstance(room.speaker, SnapcastSpeaker):
            for client in room.speaker.snapcast.clients:
                used.setdefault(f"snapcast/{room.speaker.snapcast.server}/{client}", []).append(room_id)
        elif room.speaker is not None:
            used.setdefault(room.speaker.audio_device, []).append(room_id)
    return used


def _servers(ctx: Context, asked: list[str]) -> list[str]:
    """The Snapcast servers to ask: the rooms' and ``--snapcast``'s, each once (``host`` alone: port 1705)."""
    named = [r.speaker.snapcast.server for r in ctx.config.rooms.values() if isinstance(r.speaker, SnapcastSpeaker)]
    return list(dict.fromkeys(s if ":" in s else f"{s}:1705" for s in [*named, *asked]))


def _snapcast(servers: list[str]) -> tuple[list[SnapcastClient], list[str]]:
    """Every client of ``servers``, and a line for each server that could not be asked."""
    clients: list[SnapcastClient] = []
    problems: list[str] = []
    for server in servers:
        try:
            clients += snapcast_clients(server)
        except PlayerError as exc:
            problems.append(str(exc))
    return clients, problems


def _rooms_of(client: SnapcastClient, used: dict[str, list[str]]) -> list[str]:
    return used.get(f"snapcast/{client.server}/{client.id}", []) + (
        used.get(f"snapcast/{client.server}/{client.name}", []) if client.name != client.id else []
    )


def cmd_speakers(args: argparse.Namespace, ctx: Context) -> int:
    devices = audio_devices()
    used = _rooms(ctx)
    clients, problems = _snapcast(_servers(ctx, args.snapcast))
    if args.json:
        rows = [
            {
                "name": d.name,
                "description": d.description,
                "output": d.output,
                "bluetooth": d.bluetooth,
                "rooms": used.get(d.name, []),
                "config": config_line(d),
            }
            for d in devices
        ] + [
            {
                "name": c.id,
                "description": c.name,
                "output": "snapcast",
                "bluetooth": False,
                "rooms": _rooms_of(c, used),
                "config": c.config_line(),
                "server": c.server,
                "connected": c.connected,
                "group": c.group,
                "stream": c.stream,
            }
            for c in clients
        ]
        for problem in problems:
            ctx.err.print(escape(problem))
        ctx.out.file.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        ctx.out.file.flush()
        return 0
    table = Table(box=None, pad_edge=False)
    for column in ("device", "what it is", "", "in rooms"):
        table.add_column(column)
    for d in devices:
        table.add_row(
            escape(d.name), escape(d.description), "Bluetooth" if d.bluetooth else "", ", ".join(used.get(d.name, []))
        )
    ctx.out.print(table)
    ctx.out.print()
    ctx.out.print("To use one, put its line in the room's config (then `ambience config check`):")
    for d in devices:
        ctx.out.print(f"  {escape(config_line(d))}")
    if not any(d.bluetooth for d in devices):
        ctx.out.print("No Bluetooth speaker is listed: pair and connect it first (docs/music.md), then ask again.")
    if clients or problems:
        _print_snapcast(ctx, clients, problems, used)
    return 0


def _print_snapcast(
    ctx: Context, clients: list[SnapcastClient], problems: list[str], used: dict[str, list[str]]
) -> None:
    ctx.out.print()
    if clients:
        table = Table(box=None, pad_edge=False)
        for column in ("Snapcast client", "name", "connected", "server", "stream", "in rooms"):
            table.add_column(column)
        for c in clients:
            table.add_row(escape(c.id), escape(c.name), "yes" if c.connected else "no", escape(c.server),
                          escape(c.stream), ", ".join(_rooms_of(c, used)))  # fmt: skip
        ctx.out.print(table)
        ctx.out.print()
        ctx.out.print("To use one, put its line in the room's config (the pipe: the stream's pipe:// source):")
        for c in clients:
            ctx.out.print(f"  {escape(c.config_line())}")
    for problem in problems:
        ctx.out.print(escape(problem))
