"""``ambience speakers``: the audio outputs mpv sees, with the line to put in a room's config.

For therapists and installers: lists every device libmpv finds through each of its audio outputs
(PipeWire and PulseAudio sinks, Bluetooth speakers among them, ALSA devices, ``auto`` for the
system's default), marks the Bluetooth ones and the ones a room already uses, and prints the
``speaker:`` line that picks each. ``--json`` for machines. Snapcast clients are not listed yet:
there is no Snapcast speaker config to list them for (docs/music.md).
"""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.music.mpv import AudioDevice, audio_devices


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "speakers",
        help="list the audio outputs mpv sees (Bluetooth ones marked) and the config line for each",
        parents=[common],
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_speakers)


def config_line(device: AudioDevice) -> str:
    """The room config that plays to ``device``."""
    return f"speaker: {{audio_device: {json.dumps(device.name)}}}"


def _rooms(ctx: Context) -> dict[str, list[str]]:
    """Device name → the rooms that name it (none when there is no config file)."""
    used: dict[str, list[str]] = {}
    for room_id, room in ctx.config.rooms.items():
        if room.speaker is not None:
            used.setdefault(room.speaker.audio_device, []).append(room_id)
    return used


def cmd_speakers(args: argparse.Namespace, ctx: Context) -> int:
    devices = audio_devices()
    used = _rooms(ctx)
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
        ]
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
    return 0
