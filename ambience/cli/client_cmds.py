"""The session commands and ``ambience clients``.

``start|pause|resume|extend|stop|status|history`` talk to the running daemon over its HTTP
API (``http://<http.host>:<http.port>``, ``https://`` with ``http.tls``, or ``$AMBIENCE_URL``) with the
token from ``$AMBIENCE_TOKEN``, the config or the state directory. Over HTTPS the daemon's own
certificate (``http.tls``) is the one trusted (:func:`ambience.infra.tls.client_context`). ``clients add|list|remove`` work on the
state directory's database directly, no daemon needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the daemon's layers are imported by the commands that use them: `ambience status` needs none
    from ambience.app.commands import ClientAdd
    from ambience.app.controller import Controller
    from ambience.infra.store import Store

import argparse
import json
import os
import re
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ambience.cli import Context
from ambience.config import Config
from ambience.errors import AmbienceError, Issue
from ambience.infra.tls import client_cert_file, client_context
from ambience.infra.tokens import token_for_client, token_path
from ambience.surfaces.errors import meaning_of_status
from ambience.units import format_clock, format_duration, format_temperature, say_clock, say_time, state_words

TIMEOUT = 10.0
"""Seconds to wait for the daemon's answer."""
STATUS_STYLE = {
    "confirmed": "green",
    "online": "green",
    "pending": "yellow",
    "manual": "magenta",
    "unconfirmed": "red",
    "offline": "red",
    "no answer": "red",
    "idle": "dim",
}
"""A device's status and its colour, in ``status`` and ``rooms``."""
STATE_STYLE = {"running": "green", "preconditioning": "cyan", "turnover": "magenta", "paused": "yellow", "idle": "dim"}
DEVICE_ORDER = ("confirmed", "pending", "manual", "unconfirmed", "offline", "idle")
SIGNED_DURATION = re.compile(r"^-(?:\d+(?:\.\d+)?[hms]?)+$")
"""``-5m``, ``-1h30m``, ``-90``: argparse takes these as values, not options."""


class DaemonUnreachable(AmbienceError):
    """No answer from the daemon's HTTP API."""


class DaemonRefused(AmbienceError):
    """The daemon answered with an error; the message is its own."""


# ---- talking to the daemon -------------------------------------------------------------------


def daemon_url(config: Config) -> str:
    """``$AMBIENCE_URL``, else the config's HTTP address (a wildcard host is reached on loopback)."""
    env = os.environ.get("AMBIENCE_URL", "").strip()
    if env:
        return env.rstrip("/")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(config.http.host, config.http.host)
    scheme = "https" if config.http.tls else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{config.http.port}"


def _reason(exc: Exception) -> str:
    """'connection refused' from httpx's ``[Errno 111] Connection refused``."""
    text = str(exc) or type(exc).__name__
    match = re.search(r"\[Errno -?\d+\] (.+)", text)
    text = match.group(1) if match else text
    return text[:1].lower() + text[1:]


class DaemonClient:
    """The HTTP API as calls that return the JSON reply or raise a one-line :class:`AmbienceError`."""

    def __init__(
        self, url: str, token: str | None, *, token_file: str = "", transport: Any = None, cert_file: Any = None
    ):
        self.url = url
        self.token = token
        self.token_file = token_file
        self.cert_file = cert_file
        """Over HTTPS, the daemon's certificate: the one trusted (None: the system's authorities)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify: ssl.SSLContext | bool = True
        if url.startswith("https:") and cert_file is not None and transport is None:
            verify = client_context(cert_file)
        self.http = httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT, transport=transport, verify=verify)

    @classmethod
    def for_config(cls, config: Config) -> DaemonClient:
        cert = client_cert_file(config)
        return cls(
            daemon_url(config), token_for_client(config), token_file=str(token_path(config)),
            cert_file=cert if cert is not None and cert.is_file() else None,
        )  # fmt: skip

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body or {})

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = self.http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "WRONG_VERSION_NUMBER" in str(exc):
                raise DaemonUnreachable(self._untrusted(str(exc))) from None
            raise DaemonUnreachable(
                f"cannot reach the ambience daemon at {self.url}: {_reason(exc)} — is `ambience serve` running?"
            ) from None
        except httpx.TimeoutException:
            raise DaemonUnreachable(f"the ambience daemon at {self.url} did not answer within {TIMEOUT:g} s") from None
        except httpx.HTTPError as exc:
            raise DaemonUnreachable(f"talking to the ambience daemon at {self.url} failed: {_reason(exc)}") from None
        if reply.status_code == 204:
            return None
        try:
            data = reply.json()
        except ValueError:
            data = None
        if reply.status_code == 401:
            raise DaemonRefused(self._unauthorized())
        if reply.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            meaning = meaning_of_status(reply.status_code)
            raise DaemonRefused(
                message
                or f"the ambience daemon at {self.url} answered HTTP {reply.status_code}"
                + (f" ({meaning})" if meaning else "")
            )
        if data is None:
            raise DaemonRefused(f"{self.url} answered something other than JSON; is it the ambience daemon?")
        return data

    def _untrusted(self, why: str) -> str:
        if "WRONG_VERSION_NUMBER" in why:
            return f"{self.url} does not answer HTTPS; is http.tls set in the daemon's config, and was it restarted?"
        if self.cert_file:
            return (
                f"{self.url} was not trusted: the certificate it shows is not {self.cert_file}, the daemon's (http.tls)"
            )
        return (
            f"{self.url} was not trusted: its certificate is not one this machine trusts; give the CLI the daemon's "
            "config (--config or AMBIENCE_CONFIG) so it trusts the daemon's own certificate (http.tls)"
        )

    def _unauthorized(self) -> str:
        if not self.token:
            return (
                f"the ambience daemon at {self.url} needs a token: set AMBIENCE_TOKEN, "
                f"or run as a user who can read {self.token_file or 'the token file in the state directory'}"
            )
        return f"the ambience daemon at {self.url} refused the token; check AMBIENCE_TOKEN, http.token or {self.token_file}"


# ---- rendering ------------------------------------------------------------------------------------


def _local(iso: str | None, twelve: bool = False) -> str:
    """An API time as this machine's local time of day, with its day if not today (``units.say_time``)."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone()
    return say_time(moment, datetime.now(moment.tzinfo).date(), twelve=twelve)


def remaining_at(room: dict[str, Any], elapsed: float) -> float | None:
    """The countdown ``elapsed`` seconds after ``room`` was fetched; frozen while paused."""
    remaining = room.get("remaining_s")
    if remaining is None:
        return None
    if room.get("state") == "paused":
        return float(remaining)
    return max(0.0, float(remaining) - elapsed)


def device_summary(devices: list[dict[str, Any]]) -> Text:
    if not devices:
        return Text("none configured", style="dim")
    counts: dict[str, int] = {}
    for dev in devices:
        counts[dev.get("status", "?")] = counts.get(dev.get("status", "?"), 0) + 1
    order = sorted(counts, key=lambda s: DEVICE_ORDER.index(s) if s in DEVICE_ORDER else len(DEVICE_ORDER))
    text = Text()
    for i, status in enumerate(order):
        if i:
            text.append(", ")
        text.append(f"{counts[status]} {status}", style=STATUS_STYLE.get(status, ""))
    return text


def music_summary(music: dict[str, Any] | None) -> str:
    """The music in words: the daemon's own (``playing 'First light', volume 25``; never "playing"
    when the output is silent), else made from the older keys."""
    if not music:
        return "—"
    if music.get("words"):
        return str(music["words"])
    if music.get("error"):
        return f"none: {music['error']}"
    if music.get("playing"):
        return f"playing {music.get('track') or '?'} at volume {music.get('volume', 0):g}"
    return "silent"


def climate_summary(room: dict[str, Any], units: str = "metric") -> str | None:
    """``23.5 °C, heating to 24 °C (trv)``; ``None`` when nothing is measured or wanted."""
    climate = room.get("climate")
    if not isinstance(climate, dict):
        measured = room.get("temperature")
        climate = {"current": measured.get("current"), "device": measured.get("device")} if measured else {}
    current, target = climate.get("current"), climate.get("target")
    parts = []
    if isinstance(current, (int, float)):
        parts.append(format_temperature(current, units))
    if isinstance(target, (int, float)):
        heating = isinstance(current, (int, float)) and target > current + 0.2
        parts.append(f"{'heating to' if heating else 'target'} {format_temperature(target, units)}")
    if not parts:
        return None
    device = climate.get("device")
    return ", ".join(parts) + (f" ({device})" if device else "")


def room_table(room: dict[str, Any], elapsed: float = 0.0, units: str = "metric", twelve: bool = False) -> Table:
    """One room as a two-column table: state, preset, phase, client, countdown, end, devices, music."""
    name = room.get("name") or room["room"]
    title = room["room"] + (f" — {name}" if name != room["room"] else "")
    table = Table(title=escape(title), title_justify="left", title_style="bold", box=None, show_header=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    state = room.get("state", "?")
    table.add_row("state", Text(state, style=STATE_STYLE.get(state, "")))
    if state != "idle":
        preset = room.get("preset") or "?"
        shown = room.get("preset_name") or preset
        table.add_row("preset", Text(f"{shown} ({preset})" if shown != preset else preset))
        table.add_row("phase", Text(room.get("phase") or "—"))
        table.add_row("client", Text(room.get("client") or "—"))
        remaining = remaining_at(room, elapsed)
        table.add_row("remaining", format_clock(remaining) if remaining is not None else "—")
        table.add_row("ends at", _local(room.get("ends_at"), twelve) + (" if resumed now" if state == "paused" else ""))
        for note in room.get("notes") or ():
            table.add_row("note", Text(str(note)))
    table.add_row("devices", device_summary(room.get("devices") or []))
    climate = climate_summary(room, units)
    if climate is not None:
        table.add_row("temperature", Text(climate))
    for dev in room.get("devices") or ():
        heater = dev.get("thermostat")
        if isinstance(heater, dict):
            target = heater.get("target")
            wanted = f"target {format_temperature(target, units)}" if isinstance(target, (int, float)) else "no target"
            heating = "heating" if heater.get("heating") else "not heating"
            table.add_row("heater", Text(f"{heating}, {wanted}: {heater.get('reason') or '—'}"))
    for owed in room.get("owed") or ():
        table.add_row(
            "putting back",
            Text(f"{owed['device']} to {state_words(owed.get('state') or {}, units)} ({owed.get('status')} since "
                 f"{_local(owed.get('since'), twelve)})", style="yellow"),
        )  # fmt: skip
    if room.get("store_error"):
        table.add_row("store", Text(f"{room['store_error']}; retrying", style="red"))
    table.add_row("music", Text(music_summary(room.get("music"))))
    for item in room.get("attention") or ():
        table.add_row("attention", Text(str(item.get("words") or item.get("device")), style="yellow"))
    if room.get("words"):
        table.add_row("in words", Text(str(room["words"])))
    return table


def rooms_view(
    rooms: list[dict[str, Any]],
    elapsed: float = 0.0,
    footer: str | None = None,
    units: str = "metric",
    twelve: bool = False,
) -> Group:
    parts: list[Any] = []
    for i, room in enumerate(rooms):
        if i:
            parts.append(Text(""))
        parts.append(room_table(room, elapsed, units, twelve))
    if footer:
        parts += [Text(""), Text(footer, style="dim")]
    return Group(*parts)


def _print_json(ctx: Context, data: Any) -> None:
    ctx.out.file.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    ctx.out.file.flush()


def _said(room: dict[str, Any], what: str, twelve: bool = False) -> str:
    """One line after a command: ``studio: started swedish-relaxation-60; 45:00 left, ends at 11:45``."""
    line = f"{room['room']}: {what}"
    if (
        room.get("state") in ("running", "preconditioning", "turnover", "paused")
        and room.get("remaining_s") is not None
    ):
        line += f"; {format_clock(room['remaining_s'])} left"
        if room.get("state") != "paused":
            line += f", ends at {_local(room.get('ends_at'), twelve)}"
    return line


# ---- commands: sessions -----------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("start", help="start a session in a room (the daemon must be running)", parents=[common])
    p.add_argument("room")
    p.add_argument("preset")
    p.add_argument("--for", dest="duration", metavar="DURATION", help="the session's length if not the preset's")
    p.add_argument("--client", metavar="NAME", help="a client label: their comfort preferences apply")
    p.add_argument("--replace", action="store_true", help="end a session running in the room first")
    p.add_argument("--lead", metavar="DURATION", help="pre-condition the room (climate only) for this long first")
    p.add_argument("--force", action="store_true", help="start even if the session runs into a booking (it waits)")
    p.set_defaults(handler=cmd_start)

    for action, text in (
        ("pause", "pause a session: countdown and music freeze"),
        ("resume", "resume a paused session"),
        ("stop", "stop a session: the after state at once"),
    ):
        p = sub.add_parser(action, help=text, parents=[common])
        p.add_argument("room")
        p.set_defaults(handler=cmd_action, action=action)

    p = sub.add_parser("extend", help="extend a session (negative, e.g. -5m, shortens)", parents=[common])
    p._negative_number_matcher = SIGNED_DURATION  # take -5m as the value it is
    p.add_argument("room")
    p.add_argument("by", metavar="DURATION", help="e.g. 10m, 1h, or -5m to shorten")
    p.add_argument("--force", action="store_true", help="extend even if it runs into a booking (it waits)")
    p.set_defaults(handler=cmd_extend)

    p = sub.add_parser("status", help="rooms and their sessions, from the running daemon", parents=[common])
    p.add_argument("room", nargs="?")
    p.add_argument("--json", action="store_true", help="the status JSON, as the HTTP API gives it")
    p.add_argument("--watch", action="store_true", help="a live countdown; Ctrl-C to quit")
    p.add_argument(
        "--site",
        action="store_true",
        help="every site sharing the store: its leader, rooms and sessions (docs/failover.md)",
    )
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("history", help="past sessions, newest first", parents=[common])
    p.add_argument("--room", metavar="ROOM")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N sessions (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_history)

    _register_clients(sub, common)


def cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    body: dict[str, Any] = {"preset": args.preset}
    for key in ("duration", "client", "lead"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    for flag in ("replace", "force"):
        if getattr(args, flag):
            body[flag] = True
    with DaemonClient.for_config(ctx.config) as client:
        room = client.post(_room_path(args.room, "start"), body)
    ctx.out.print(escape(_said(room, f"started {room.get('preset') or args.preset}", ctx.config.twelve_hour())))
    return 0


def cmd_action(args: argparse.Namespace, ctx: Context) -> int:
    with DaemonClient.for_config(ctx.config) as client:
        room = client.post(_room_path(args.room, args.action))
    said = {"pause": "paused", "resume": "resumed", "stop": "stopped; the after state is applied"}[args.action]
    ctx.out.print(escape(_said(room, said, ctx.config.twelve_hour())))
    return 0


def cmd_extend(args: argparse.Namespace, ctx: Context) -> int:
    with DaemonClient.for_config(ctx.config) as client:
        room = client.post(_room_path(args.room, "extend"), {"by": args.by, **({"force": True} if args.force else {})})
    what = "shortened by " + args.by[1:] if args.by.startswith("-") else f"extended by {args.by}"
    stopped = [n for n in room.get("notes") or () if "the session is stopped" in str(n)]
    ctx.out.print(escape(_said(room, stopped[0] if stopped else what, ctx.config.twelve_hour())))
    return 0


def _room_path(room: str, action: str = "") -> str:
    return f"/api/rooms/{quote(room, safe='')}" + (f"/{action}" if action else "")


def _fetch_rooms(client: DaemonClient, room: str | None) -> list[dict[str, Any]]:
    return [client.get(_room_path(room))] if room else client.get("/api/rooms")


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    if args.site:
        from ambience.cli.site_cmd import show_sites

        store = _store(ctx.config)
        try:
            return show_sites(store, time.time(), args.json, ctx.out, ctx.config.twelve_hour())
        finally:
            store.close()
    with DaemonClient.for_config(ctx.config) as client:
        if args.watch:
            return watch(lambda: _fetch_rooms(client, args.room), ctx)
        if args.json:
            _print_json(ctx, client.get(_room_path(args.room)) if args.room else client.get("/api/rooms"))
            return 0
        rooms = _fetch_rooms(client, args.room)
    if not rooms:
        ctx.out.print("no rooms configured")
        return 0
    ctx.out.print(rooms_view(rooms, units=ctx.config.units, twelve=ctx.config.twelve_hour()))
    return 0


def watch(
    fetch: Callable[[], list[dict[str, Any]]],
    ctx: Context,
    *,
    refresh: float = 1.0,
    refetch: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Count down locally every ``refresh`` s; ask the daemon again every ``refetch`` s. Ctrl-C: 0."""
    rooms = fetch()  # unreachable at the start: one line, exit 1
    fetched = clock()
    problem: str | None = None

    def view() -> Group:
        footer = problem or f"updated {clock() - fetched:.0f} s ago · Ctrl-C to quit"
        return rooms_view(rooms, clock() - fetched, footer, ctx.config.units, ctx.config.twelve_hour())

    try:
        with Live(view(), console=ctx.out, auto_refresh=False) as live:
            while True:
                sleep(refresh)
                elapsed = clock() - fetched
                ended = any(r.get("state") != "paused" and (remaining_at(r, elapsed) or 1) <= 0 for r in rooms)
                if elapsed >= refetch or ended:
                    try:
                        rooms, fetched, problem = fetch(), clock(), None
                    except AmbienceError as exc:
                        problem = f"{exc} (retrying)"
                live.update(view(), refresh=True)
    except KeyboardInterrupt:
        return 0


def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    with DaemonClient.for_config(ctx.config) as client:
        rows = client.get("/api/history", room=args.room, limit=args.limit)
    if args.json:
        _print_json(ctx, rows)
        return 0
    if not rows:
        ctx.out.print("no sessions yet" + (f" in {escape(args.room)}" if args.room else ""))
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("STARTED", "ROOM", "PRESET", "CLIENT", "LENGTH", "OUTCOME"):
        table.add_column(col, no_wrap=True)
    for row in rows:
        moment = datetime.fromtimestamp(row["started_at"]).astimezone()
        started = f"{moment:%Y-%m-%d} {say_clock(moment, twelve=ctx.config.twelve_hour())}"
        length = format_duration(round(max(0.0, row["ended_at"] - row["started_at"])))
        table.add_row(
            started,
            escape(row["room"]),
            escape(row["preset"]),
            escape(row.get("client") or "—"),
            length,
            row["outcome"],
        )
    ctx.out.print(table)
    return 0


# ---- commands: clients (the state directory, no daemon) ------------------------------------------------


OPTION_OF = {
    "label": "LABEL",
    "comfort.temperature_offset": "--warmer/--cooler",
    "comfort.max_brightness": "--max-brightness",
    "comfort.volume_offset": "--volume-offset",
}


def _number(text: str) -> float | int:
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _register_clients(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    clients = sub.add_parser("clients", help="clients' comfort preferences (label only; nothing medical)",
                             parents=[common])  # fmt: skip
    csub = clients.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    p = csub.add_parser("add", help="add a client, or replace their preferences", parents=[common])
    p.add_argument("label", metavar="LABEL", help='a label, e.g. "A. Smith"')
    warmth = p.add_mutually_exclusive_group()
    warmth.add_argument("--warmer", metavar="N", help="warmer than the preset: 2 (°C), 2C or 4F (up to 5 °C)")
    warmth.add_argument("--cooler", metavar="N", help="cooler than the preset: 2 (°C), 2C or 4F (up to 5 °C)")
    p.add_argument("--no-music", action="store_true", help="no music in their sessions")
    p.add_argument("--max-brightness", type=_number, metavar="PCT", help="no light brighter than this (0–100)")
    p.add_argument("--volume-offset", type=_number, metavar="N", help="louder (+) or quieter (-), -50–50")
    p.set_defaults(handler=cmd_clients_add)
    p = csub.add_parser("list", help="the clients and their preferences", parents=[common])
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_clients_list)
    p = csub.add_parser("remove", help="forget a client", parents=[common])
    p.add_argument("label", metavar="LABEL")
    p.set_defaults(handler=cmd_clients_remove)


def _store(config: Config) -> Store:
    from ambience.infra.store import Store  # SQLAlchemy only for the commands that open the store

    return Store(config.store_where(), site=config.mqtt.base_topic)


def _offline(store: Store) -> Controller:
    """A controller over the state directory with no rooms: ``clients`` needs no daemon, and its
    changes go through the same dispatcher as the daemon's."""
    from ambience.app.controller import Controller
    from ambience.config.library import Library

    return Controller({}, Library(), store, time.time)


def client_from_args(args: argparse.Namespace) -> ClientAdd:
    """The options as a :class:`ClientAdd`, validated by the Comfort model; problems name the option."""
    from pydantic import ValidationError

    from ambience.app.commands import ClientAdd, CommandInvalid
    from ambience.model.parse import issues_from

    comfort: dict[str, Any] = {}
    if args.warmer is not None:
        comfort["temperature_offset"] = args.warmer
    if args.cooler is not None:  # "2", "2C", "4F": the model reads the unit, the sign says cooler
        cooler = args.cooler.strip()
        comfort["temperature_offset"] = cooler[1:] if cooler.startswith("-") else f"-{cooler}"
    if args.no_music:
        comfort["no_music"] = True
    if args.max_brightness is not None:
        comfort["max_brightness"] = args.max_brightness
    if args.volume_offset is not None:
        comfort["volume_offset"] = args.volume_offset
    try:
        return ClientAdd.model_validate({"label": args.label, "comfort": comfort})
    except ValidationError as exc:
        issues = issues_from(exc, ClientAdd, "clients add")
        raise CommandInvalid([Issue(i.source, OPTION_OF.get(i.field, i.field), i.message) for i in issues]) from None


def _comfort_text(comfort: dict[str, Any], units: str = "metric") -> list[str]:
    offset = comfort.get("temperature_offset") or 0
    shown = format_temperature(abs(offset), units, offset=True)
    warmth = f"{shown} {'warmer' if offset > 0 else 'cooler'}" if offset else "—"
    brightness = f"≤ {comfort['max_brightness']} %" if comfort.get("max_brightness") is not None else "—"
    volume = f"{comfort.get('volume_offset', 0):+d}" if comfort.get("volume_offset") else "—"
    return [warmth, "no" if comfort.get("no_music") else "yes", brightness, volume]


def cmd_clients_add(args: argparse.Namespace, ctx: Context) -> int:
    from ambience.app.commands import AddClient

    client = client_from_args(args)
    store = _store(ctx.config)
    try:
        known = store.client(client.label) is not None
        _offline(store).execute(AddClient(label=client.label, comfort=client.comfort))
    finally:
        store.close()
    names = ("temperature", "music", "brightness", "volume")
    shown = zip(names, _comfort_text(client.comfort.model_dump(), ctx.config.units), strict=True)
    details = ", ".join(f"{name} {value}" for name, value in shown if value != "—")
    said = f"{'updated' if known else 'added'} client {client.label!r}" + (f": {details}" if details else "")
    ctx.out.print(escape(said))
    return 0


def cmd_clients_list(args: argparse.Namespace, ctx: Context) -> int:
    store = _store(ctx.config)
    try:
        clients = _offline(store).clients()
    finally:
        store.close()
    if args.json:
        _print_json(ctx, clients)
        return 0
    if not clients:
        ctx.out.print("no clients yet; add one with `ambience clients add LABEL`")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("LABEL", "TEMPERATURE", "MUSIC", "MAX BRIGHTNESS", "VOLUME"):
        table.add_column(col, no_wrap=True)
    for client in clients:
        table.add_row(escape(client["label"]), *_comfort_text(client["comfort"], ctx.config.units))
    ctx.out.print(table)
    return 0


def cmd_clients_remove(args: argparse.Namespace, ctx: Context) -> int:
    from ambience.app.commands import RemoveClient

    store = _store(ctx.config)
    try:
        _offline(store).execute(RemoveClient(label=args.label))
    finally:
        store.close()
    ctx.out.print(escape(f"removed client {args.label!r}"))
    return 0
