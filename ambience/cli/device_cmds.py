"""``ambience apply``, ``ambience rooms check`` and ``ambience simulate``: devices, no daemon."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.cli.args import duration, offset
from ambience.cli.client_cmds import STATUS_STYLE
from ambience.config import Config
from ambience.config.library import load_library
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.daemon import hass_link
from ambience.devices.capabilities import Learns
from ambience.devices.manager import Devices
from ambience.errors import NotFound
from ambience.infra.mqtt import Connection
from ambience.model.state import ClimateState
from ambience.units import format_temperature, parse_duration


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "apply",
        help="apply a preset's state to a room now and report what each device confirmed",
        parents=[common],
    )
    p.add_argument("room")
    p.add_argument("preset")
    p.add_argument(
        "--at",
        default="0s",
        type=offset,
        metavar="OFFSET",
        help="the moment of the session, e.g. 10m or -5m from the end (default: the start)",
    )
    p.add_argument(
        "--timeout",
        default="30s",
        type=duration,
        metavar="DURATION",
        help="how long to wait for confirmations (default 30s)",
    )
    p.set_defaults(handler=cmd_apply)

    rooms = sub.add_parser("rooms", help="check rooms' devices", parents=[common])
    rsub = rooms.add_subparsers(dest="rooms_command", metavar="ACTION", required=True)
    p = rsub.add_parser(
        "check", help="ask every device for its state and report it, changing nothing", parents=[common]
    )
    p.add_argument("room", nargs="?")
    p.add_argument(
        "--timeout", default="5s", type=duration, metavar="DURATION", help="how long to wait for answers (default 5s)"
    )
    p.set_defaults(handler=cmd_rooms_check)

    p = sub.add_parser(
        "simulate", help="run virtual devices for every room in the config (for demos and tests)", parents=[common]
    )
    p.add_argument("--url", help="the broker (default: the config's mqtt.url)")
    p.add_argument(
        "--devices",
        metavar="FILE",
        help="the simulator's devices file: a real-device profile per device (docs/simulator.md)",
    )
    p.add_argument(
        "--tick", default="1", metavar="DURATION", help="seconds between fade reports and thermostat steps (default 1)"
    )
    p.add_argument(
        "--drift",
        type=float,
        default=0.1,
        metavar="CELSIUS",
        help="°C a thermostat's room moves per tick (default 0.1)",
    )
    p.set_defaults(handler=cmd_simulate)


def _only(config: Config, room_id: str | None) -> Config:
    if room_id is None:
        return config
    if room_id not in config.rooms:
        raise NotFound("room", room_id, list(config.rooms))
    return config.model_copy(update={"rooms": {room_id: config.rooms[room_id]}})


@contextlib.asynccontextmanager
async def connected(config: Config, wait: float = 5.0):
    """A short-lived client for a command: no Last Will (that topic is the daemon's)."""
    connection = Connection(config.mqtt, will=False)
    hass = hass_link(config)  # the homeassistant_api devices, through Home Assistant's websocket
    devices = Devices(connection, config, hass=hass)
    await connection.start(wait=wait)
    if hass is not None:
        await hass.start(wait=wait)
    runner = asyncio.create_task(devices.run())
    try:
        yield devices
    finally:
        runner.cancel()
        await connection.stop()
        if hass is not None:
            await hass.stop()


def _text(value: dict | None, units: str = "metric") -> str:
    if not value:
        return "—"
    if value.get("on") is False:
        return "off"
    parts = []
    for key, v in value.items():
        if v is None:
            continue
        unit = {"brightness": " %", "color_temp": " K"}.get(key, "")
        if key == "on":
            parts.append("on" if v else "off")
        elif key in ("target", "current") and isinstance(v, float | int):
            parts.append(("now " if key == "current" else "") + format_temperature(v, units))
        elif isinstance(v, float | int):
            parts.append((f"{v:.0f}" if key in ("brightness", "color_temp") else f"{v:g}") + unit)
        else:
            parts.append(str(v))
    return " ".join(parts)


def device_table(config: Config, room_id: str, rows: list[dict]) -> Table:
    room = config.rooms[room_id]
    bridges = {d.id: d.bridge for d, _, _ in room.devices()}
    table = Table(
        title=f"{room_id}" + (f" — {room.name}" if room.name else ""),
        title_justify="left",
        box=None,
        header_style="bold",
    )
    for col in ("DEVICE", "BRIDGE", "ROLE", "DESIRED", "REPORTED", "STATUS"):
        table.add_column(col)
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        table.add_row(
            escape(row["id"]),
            bridges.get(row["id"], ""),
            row["role"],
            escape(_text(row["desired"], config.units)),
            escape(_text(row["reported"], config.units)),
            f"[{style}]{row['status']}[/{style}]" if style else row["status"],
        )
    return table


def preset_modes(config: Config) -> dict[str, list[str]]:
    """Each thermostat mode the library's presets ask for, with the presets that ask it."""
    modes: dict[str, list[str]] = {}
    for preset_id, preset in load_library(config.preset_folders()).presets.items():
        blocks = [preset.climate, preset.after.climate] + [phase.climate for phase in preset.phases]
        for mode in dict.fromkeys(b.mode for b in blocks if b is not None and b.mode):
            modes.setdefault(mode, []).append(preset_id)
    return modes


def capabilities_text(caps: dict, units: str = "metric") -> str:
    """A device's capabilities in one line: what it is and what it can take."""
    if not caps:
        return "nothing announced by its bridge: as configured"
    who = " ".join(str(caps[k]) for k in ("vendor", "model") if k in caps) or "device"
    parts = [str(caps["kind"])] if "kind" in caps else []
    if caps.get("brightness"):
        parts.append("brightness")
    if "color_temp" in caps:
        parts.append("color_temp {}–{} mired".format(*caps["color_temp"]))
    if caps.get("color"):
        parts.append("colour")
    if "setpoint" in caps:
        span = ""
        if "setpoint_range" in caps:
            low, high = caps["setpoint_range"]
            span = f"{format_temperature(low, units).split()[0]}–{format_temperature(high, units)}"
        parts.append(" ".join(x for x in (caps["setpoint"], span) if x))
    for key in ("modes", "presets"):
        if key in caps:
            parts.append(f"{key} {'/'.join(caps[key])}")
    parts += [f"{k} {'/'.join(v)}" for k, v in caps.get("settings", {}).items()]
    if caps.get("battery"):
        parts.append("battery")
    if "readable" in caps and not caps["readable"]:
        parts.append("cannot be read (/get)")
    return f"{who} ({caps.get('source', 'config')}): " + ", ".join(parts)


def cmd_apply(args: argparse.Namespace, ctx: Context) -> int:
    config = _only(ctx.config, args.room)
    lib = load_library(config.preset_folders())
    preset = lib.get(args.preset)
    at = preset.phase_at(args.at, preset.duration)
    timeout = args.timeout

    async def run() -> list[dict]:
        async with connected(config) as devices:
            await devices.wait_reported(args.room, 1.0)  # learn availability and state first
            now = time.time()
            facts = SessionFacts(started_at=now - at, duration=preset.duration)
            state = Timeline(preset, facts, config.room_limits(args.room)).at(now)
            devices.apply(args.room, state)
            await devices.wait_settled(args.room, timeout)
            return devices.status(args.room)

    rows = asyncio.run(run())
    ctx.out.print(device_table(config, args.room, rows))
    asked = [r for r in rows if r["desired"] is not None]
    bad = [r for r in asked if r["status"] != "confirmed"]
    if bad:
        ctx.err.print(f"{len(bad)} of {len(asked)} devices did not confirm: " + ", ".join(r["id"] for r in bad))
        return 1
    ctx.out.print(f"all {len(asked)} devices confirmed")
    return 0


def cmd_rooms_check(args: argparse.Namespace, ctx: Context) -> int:
    config = _only(ctx.config, args.room)
    timeout = args.timeout

    modes = preset_modes(config)

    async def run() -> dict[str, list[dict]]:
        async with connected(config) as devices:
            devices.query()
            await asyncio.gather(*(devices.wait_reported(r, timeout) for r in config.rooms))
            out = {}
            for room_id, tracked in devices.rooms.items():
                rows = []
                for t in tracked.values():
                    row = t.describe()
                    row["status"] = (
                        "offline" if t.reachable is False else "online" if t.reported is not None else "no answer"
                    )
                    row |= t.explain()
                    if isinstance(t.adapter, Learns) and t.kind == "climate":
                        row["sends"] += [
                            f"preset {', '.join(ids)}: {line}"
                            for mode, ids in modes.items()
                            for line in t.adapter.refusals(ClimateState(None, mode))
                        ]
                    rows.append(row)
                out[room_id] = rows
            return out

    result = asyncio.run(run())
    silent = 0
    for room_id, rows in result.items():
        ctx.out.print(device_table(config, room_id, rows))
        for row in rows:
            if row.get("capabilities") or row.get("sends"):
                ctx.out.print(
                    f"  {escape(row['id'])}: {escape(capabilities_text(row.get('capabilities', {}), config.units))}"
                )
                for line in row.get("sends", []):
                    ctx.out.print(f"    {escape(line)}")
        silent += sum(r["status"] != "online" for r in rows)
    if silent:
        ctx.err.print(f"{silent} device(s) offline or not answering")
        return 1
    return 0


def cmd_simulate(args: argparse.Namespace, ctx: Context) -> int:
    from ambience.simulator import main as simulate

    try:
        tick = parse_duration(args.tick)
    except ValueError as exc:
        ctx.err.print(f"error: --tick: {escape(str(exc))}")
        return 2
    if tick <= 0:
        ctx.err.print(f"error: --tick {escape(args.tick)} must be more than 0 seconds")
        return 2
    if not 0 <= args.drift <= 5:
        ctx.err.print(f"error: --drift {args.drift} must be between 0 and 5 °C per tick")
        return 2
    return simulate(getattr(args, "config", None), url=args.url, devices=args.devices, tick=tick, drift=args.drift)
