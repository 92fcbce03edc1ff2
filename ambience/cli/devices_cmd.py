"""``ambience devices``: what the broker's bridges announce, and a room-config snippet for chosen devices.

For installers: lists every device Zigbee2MQTT, Tasmota and ESPHome announce (retained) on the
config's broker, with its name as the bridge names it, model, kind, whether it is online and the
room it is already in; ``--snippet NAME…`` prints the room config for the chosen ones, checked by
the config loader before it is printed. The reading is ambience.devices.discovery's (pure).

``--ha`` lists the entities of the Home Assistant in ``homeassistant_api:`` instead (over its
websocket API): those a room can use with ``bridge: homeassistant_api``, with their friendly name
and state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.cli.args import duration
from ambience.cli.client_cmds import _print_json
from ambience.config import Config, parse_config
from ambience.config.devices import ENTITY_DOMAINS, EsphomeDevice, HomeAssistantApiDevice, Zigbee2MqttDevice
from ambience.config.sections import MqttConfig
from ambience.devices.discovery import (
    HA_DEFAULT_PREFIX,
    Z2M_DEFAULT_BASE,
    Discovery,
    Found,
    choose,
    placed,
    snippet,
)
from ambience.errors import DeviceError
from ambience.infra.hass import fetch_states
from ambience.infra.mqtt import Connection, Received
from ambience.model._base import ROOM_ID
from ambience.model.parse import issues_from

ROLE_SEPARATOR = "="
DEFAULT_ROOM = "new-room"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "devices",
        help="list the devices the broker's bridges announce; --snippet prints their room config",
        parents=[common],
    )
    p.add_argument("--url", help="the broker (default: the config's mqtt.url)")
    p.add_argument(
        "--timeout",
        default="5s",
        type=duration,
        metavar="DURATION",
        help="how long to listen to the bridges (default 5s)",
    )
    p.add_argument(
        "--z2m-base",
        action="append",
        default=[],
        metavar="TOPIC",
        help="another Zigbee2MQTT base_topic to read (zigbee2mqtt and the config's are always read)",
    )
    p.add_argument(
        "--snippet",
        nargs="+",
        metavar="NAME[=ROLE]",
        help="print a room's config for these devices (their names as listed; =ROLE sets a light's role)",
    )
    p.add_argument("--room", default=DEFAULT_ROOM, metavar="ROOM", help=f"the room id in the snippet ({DEFAULT_ROOM})")
    p.add_argument(
        "--ha",
        action="store_true",
        help="list the entities of the Home Assistant in homeassistant_api: (for bridge: homeassistant_api)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_devices)


def _discovery(config: Config, extra_bases: list[str]) -> Discovery:
    devices = [d for room in config.rooms.values() for d, _, _ in room.devices()]
    bases = [Z2M_DEFAULT_BASE] + [d.base_topic for d in devices if isinstance(d, Zigbee2MqttDevice)] + extra_bases
    prefixes = [HA_DEFAULT_PREFIX] + [d.discovery_prefix for d in devices if isinstance(d, EsphomeDevice)]
    return Discovery(bases, prefixes)


async def listen(mqtt: MqttConfig, discovery: Discovery, seconds: float) -> None:
    """Feed ``discovery`` every announcement (and availability) the broker holds, for ``seconds``."""
    connection = Connection(mqtt, will=False)
    subscribed: set[str] = set()

    def follow() -> None:
        for topic in discovery.topics():
            if topic not in subscribed:
                subscribed.add(topic)
                connection.subscribe(topic, heard, urgent=False)

    def heard(msg: Received) -> None:
        discovery.feed(msg.topic, msg.payload)
        follow()  # a device found: its availability topic next

    follow()
    await connection.start(wait=5.0)
    try:
        await asyncio.sleep(seconds)
    finally:
        await connection.stop()


def _mqtt(config: Config, url: str | None) -> MqttConfig:
    if url is None:
        return config.mqtt
    try:
        return MqttConfig.model_validate(config.mqtt.model_dump(exclude_unset=True) | {"url": url})
    except ValidationError as exc:
        issue = issues_from(exc, MqttConfig, "--url")[0]
        raise DeviceError(f"--url: {issue.message}") from None


def _online(value: bool | None) -> str:
    return "[green]online[/green]" if value else "[red]offline[/red]" if value is False else "[dim]?[/dim]"


def _model(found: Found) -> str:
    caps = found.capabilities
    return " ".join(x for x in (caps.vendor, caps.model) if x) or "—"


def devices_table(found: list[Found]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "BRIDGE", "MODEL", "KIND", "ONLINE", "ROOM"):
        table.add_column(col)
    for f in found:
        name = escape(f.name) + (f" [dim]({escape(f.label)})[/dim]" if f.label and f.label != f.name else "")
        table.add_row(name, f.bridge, escape(_model(f)), f.kind or "—", _online(f.online), escape(f.room or "—"))
    return table


def _notes(found: Found, role: str | None) -> list[str]:
    notes = [_model(found)] if _model(found) != "—" else []
    if found.plug_note:
        if role is None:
            notes.append(found.plug_note)
        if found.relays and found.relays > 1:
            notes.append(f"it has {found.relays} relays: this entry switches relay {found.device.get('relay', 1)}")
    elif found.kind == "light" and role is None:
        notes.append("set its role (ceiling, lamp, floor …): NAME=ROLE")
    if found.room:
        notes.append(f"already in room {found.room}: a device belongs to one room only")
    return notes


def _flow(entry: dict[str, Any]) -> str:
    return yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=math.inf, allow_unicode=True).strip()


def snippet_yaml(chosen: list[tuple[Found, str | None]], room_id: str) -> str:
    """The snippet as YAML with a comment on each device (what it is, what to check)."""
    room = snippet(chosen, room_id)["rooms"][room_id]
    by_entry = {json.dumps(f.device, sort_keys=True): (f, role) for f, role in chosen}

    def line(entry: dict[str, Any]) -> str:
        found, role = by_entry[json.dumps({k: v for k, v in entry.items() if k != "role"}, sort_keys=True)]
        notes = _notes(found, role)
        return _flow(entry) + (f"  # {'; '.join(notes)}" if notes else "")

    out = ["# from `ambience devices`: put the room under rooms: in ambience.yaml", "rooms:", f"  {room_id}:"]
    if "thermostat" in room:
        out.append(f"    thermostat: {line(room['thermostat'])}")
    for key in ("lights", "switches", "sensors"):
        if room.get(key):
            out.append(f"    {key}:")
            out += [f"      - {line(entry)}" for entry in room[key]]
    return "\n".join(out) + "\n"


def _chosen(found: list[Found], args: list[str]) -> list[tuple[Found, str | None]]:
    """Each ``NAME`` or ``NAME=ROLE`` of ``--snippet`` (a name that has an ``=`` itself is taken whole)."""
    picked: list[tuple[Found, str | None]] = []
    for arg in args:
        name, sep, role = arg.rpartition(ROLE_SEPARATOR)
        if not (sep and name and role) or any(f.name == arg or f.qualified == arg for f in found):
            name, role = arg, ""
        device = choose(found, [name])[0]
        if all(device is not f for f, _ in picked):
            picked.append((device, role or None))
    return picked


HA_DOMAINS = sorted({d for domains in ENTITY_DOMAINS.values() for d in domains})
"""The entity domains a room can use (``bridge: homeassistant_api``); ``ambience devices --ha`` lists these."""


def ha_entities(config: Config, states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The usable entities of ``states`` (Home Assistant's ``get_states``), sorted, each with the room it is in."""
    rooms = {
        dev.entity_id: room_id
        for room_id, room in config.rooms.items()
        for dev, _, _ in room.devices()
        if isinstance(dev, HomeAssistantApiDevice)
    }
    out = []
    for state in states:
        entity_id = str(state.get("entity_id", ""))
        domain = entity_id.split(".", 1)[0]
        if domain not in HA_DOMAINS:
            continue
        attributes = state.get("attributes") if isinstance(state.get("attributes"), dict) else {}
        name = attributes.get("friendly_name") if isinstance(attributes, dict) else None
        out.append(
            {
                "entity_id": entity_id,
                "domain": domain,
                "name": str(name) if name else None,
                "state": state.get("state"),
                "room": rooms.get(entity_id),
            }
        )
    return sorted(out, key=lambda e: (e["domain"], e["entity_id"]))


def cmd_ha_entities(args: argparse.Namespace, ctx: Context) -> int:
    """``ambience devices --ha``."""
    hass = ctx.config.homeassistant_api
    if hass is None:
        raise DeviceError(
            "no homeassistant_api section in the config; write homeassistant_api: {url: http://HOST:8123, "
            "token_file: FILE} (docs/homeassistant.md)"
        )
    try:
        token = hass.secret()
    except OSError as exc:
        raise DeviceError(f"homeassistant_api.token_file cannot be read: {exc}") from None
    ca = str(hass.ca_file) if hass.ca_file else None
    try:
        states = asyncio.run(fetch_states(hass.websocket_url, token, ca, timeout=args.timeout))
    except DeviceError:
        raise
    except Exception as exc:  # OSError, TimeoutError, the websocket's own errors: all "not reached"
        raise DeviceError(f"Home Assistant at {hass.url} not reached: {type(exc).__name__}: {exc}") from None
    entities = ha_entities(ctx.config, states)
    if args.json:
        _print_json(ctx, entities)
        return 0
    table = Table(box=None, header_style="bold")
    for col in ("ENTITY_ID", "DOMAIN", "NAME", "STATE", "ROOM"):
        table.add_column(col)
    for e in entities:
        table.add_row(*(escape(str(e[k] or "—")) for k in ("entity_id", "domain", "name", "state", "room")))
    ctx.out.print(table)
    ctx.out.print(
        f"{len(entities)} entities ({', '.join(HA_DOMAINS)}) in Home Assistant at {escape(hass.url)}; in a room: "
        "{bridge: homeassistant_api, entity_id: ENTITY_ID}"
    )
    return 0


def cmd_devices(args: argparse.Namespace, ctx: Context) -> int:
    if args.ha:
        return cmd_ha_entities(args, ctx)
    config = ctx.config
    seconds = args.timeout
    if args.snippet and not re.match(ROOM_ID, args.room):
        raise DeviceError(f"--room {args.room!r}: a room id is 1–32 lower-case letters, digits, '-' or '_'")
    mqtt = _mqtt(config, args.url)
    discovery = _discovery(config, args.z2m_base)
    asyncio.run(listen(mqtt, discovery, seconds))
    found = placed(discovery.found(), config)
    if not found:
        ctx.err.print(
            f"no device announced on {escape(mqtt.url)} within {seconds:g} s (listened to "
            + escape(", ".join(discovery.topics()))
            + "); Shelly devices announce nothing retained: see docs/devices.md"
        )
        return 1
    if args.snippet:
        chosen = _chosen(found, args.snippet)
        text = snippet_yaml(chosen, args.room)
        parse_config(text, "the snippet", Path.cwd())  # loads as the daemon's config would, or says why not
        if args.json:
            _print_json(ctx, snippet(chosen, args.room))
        else:
            ctx.out.file.write(text)
            ctx.out.file.flush()
        return 0
    if args.json:
        _print_json(ctx, [f.shown() for f in found])
        return 0
    ctx.out.print(devices_table(found))
    ctx.out.print(f"{len(found)} device(s); `ambience devices --snippet NAME …` prints their room config")
    return 0
