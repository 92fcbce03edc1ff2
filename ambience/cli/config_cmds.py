"""``ambience config check``: validate the config file and say what it sets up."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    config = sub.add_parser("config", help="check the config file", parents=[common])
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = csub.add_parser("check", help="validate the config and list its rooms and devices", parents=[common])
    p.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config  # raises ConfigError with every problem
    source = ctx.config_file or "no config file: the defaults"
    out = ctx.out
    out.print(f"ok  {escape(str(source))}")
    out.print(
        f"broker     {escape(config.mqtt.url)} (MQTT {config.mqtt.protocol}, base topic {config.mqtt.base_topic})"
    )
    out.print(f"presets    {', '.join(str(p) for p in config.preset_folders())}")
    out.print(f"music      {', '.join(str(p) for p in config.music)}")
    out.print(f"state dir  {config.state_dir}")
    warnings = [f"preset folder {p} does not exist" for p in config.preset_folders() if not p.is_dir()]
    warnings += [f"music folder {p} does not exist" for p in config.music if not p.is_dir()]
    if not config.rooms:
        out.print("rooms      none configured")
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("ROOM", "NAME", "DEVICE", "BRIDGE", "ROLE"):
            table.add_column(col)
        for room_id, room in config.rooms.items():
            devices = [(role, dev) for dev, _, role in room.devices()]
            if not devices:
                warnings.append(f"room {room_id!r} has no thermostat and no lights")
            for i, (role, dev) in enumerate(devices or [("", None)]):
                table.add_row(
                    room_id if i == 0 else "",
                    (room.name or "") if i == 0 else "",
                    dev.id if dev else "-",
                    dev.bridge if dev else "",
                    role,
                )
        out.print()
        out.print(table)
    for warning in warnings:
        ctx.err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    return 0
