"""``ambience pair``: a phone signs in by scanning a QR code; ``--list`` and ``--revoke`` its token.

``ambience pair`` asks the running daemon (with the admin token) for a pairing code and prints
a QR code of the link ``http(s)://HOST:PORT/pair#CODE`` in the terminal, the link itself, the code
to type if the camera cannot scan, and saves the QR code as a PNG (``--png``, default
``<state_dir>/pair.png``). The phone opens the link and trades the code for a device token of its
own (docs/phone.md). With ``http.tls`` the certificate's SHA-256 fingerprint is printed too, to
compare with what the phone's browser shows.

The link's host: ``--host``; else with ``--lan`` (or a daemon listening on every address) this
machine's LAN address; else ``http.host``. A daemon listening on loopback only cannot be reached
from a phone, and that is said with how to change it.
"""

from __future__ import annotations

import argparse
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context
from ambience.cli.args import length
from ambience.cli.client_cmds import DaemonClient, _print_json
from ambience.config import Config
from ambience.infra.tls import WILDCARDS, lan_address, listens_on_loopback_only
from ambience.units import say_clock

PNG_FILE = "pair.png"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "pair",
        help="pair a phone: a QR code of a sign-in link (--list, --revoke its token)",
        parents=[common],
        description="Prints a QR code and a link with a short-lived pairing code; the phone that opens it "
        "gets a token of its own, which --revoke takes back.",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="the paired phones: id, name, paired, last seen")
    what.add_argument("--revoke", metavar="ID", help="revoke one phone's token (an id from --list), or 'all'")
    p.add_argument("--lan", action="store_true", help="put this machine's LAN address in the link")
    p.add_argument("--host", metavar="HOST", help="the host name or address the phone reaches the daemon at")
    p.add_argument(
        "--for", dest="valid_for", type=length, default=600.0, metavar="DURATION",
        help="how long the code may be used (default 10m; at most 1h)",
    )  # fmt: skip
    p.add_argument("--png", metavar="FILE", help="where to save the QR code (default: <state_dir>/pair.png)")
    p.add_argument("--json", action="store_true", help="the answer as JSON (no QR code drawn)")
    p.set_defaults(handler=cmd_pair)


def cmd_pair(args: argparse.Namespace, ctx: Context) -> int:
    with DaemonClient.for_config(ctx.config) as client:
        if args.list:
            return _list(client.get("/api/phones"), args, ctx)
        if args.revoke:
            path = "/api/phones" if args.revoke == "all" else f"/api/phones/{args.revoke}"
            revoked = client.request("DELETE", path)["revoked"]
            if args.json:
                _print_json(ctx, revoked)
            elif revoked:
                ctx.out.print(f"revoked {len(revoked)} phone(s): {', '.join(revoked)}; their next request is refused")
            else:
                ctx.out.print("no phone is paired; nothing to revoke")
            return 0
        if not 0 < args.valid_for <= 3600:
            ctx.err.print("error: --for: a pairing code is valid for more than 0 s and at most 1h")
            return 2
        answer = client.post("/api/pairing", {"valid_for": f"{args.valid_for:g}s"})
    host, warning = link_host(ctx.config, args.host, args.lan)
    link = pairing_link(answer, host)
    png = Path(args.png) if args.png else ctx.config.state_dir / PNG_FILE
    write_png(link, png)
    if args.json:
        _print_json(ctx, {**answer, "link": link, "png": str(png), "warning": warning})
        return 0
    show_pairing(ctx, answer, link, png, warning)
    return 0


def link_host(config: Config, host: str | None, lan: bool) -> tuple[str, str | None]:
    """The host for the link, and a warning when a phone cannot reach the daemon there."""
    listening = config.http.host
    if host:
        return host, None
    if lan or listening in WILDCARDS:
        found = lan_address()
        if found is None:
            return "127.0.0.1", "this machine has no LAN address (is it on the network?): a phone cannot reach it"
        if listens_on_loopback_only(listening):
            return found, (
                f"the daemon listens on {listening} only: a phone cannot reach it. Set http.host: 0.0.0.0 in the "
                "config (or AMBIENCE_HTTP__HOST=0.0.0.0) and restart the daemon"
            )
        return found, None
    if listens_on_loopback_only(listening):
        return listening, (
            f"the daemon listens on {listening} only: this link works on this machine, not on a phone. "
            "For a phone set http.host: 0.0.0.0 (or AMBIENCE_HTTP__HOST=0.0.0.0), restart it and use ambience pair --lan"
        )
    return listening, None


def pairing_link(answer: dict[str, Any], host: str) -> str:
    """``https://HOST:PORT/pair#CODE``: the code in the fragment, which never reaches a server or a Referer."""
    shown = f"[{host}]" if ":" in host else host
    return f"{answer['scheme']}://{shown}:{answer['port']}/pair#{answer['code']}"


def qr_code(link: str) -> Any:
    import segno

    return segno.make(link, error="m")


def write_png(link: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    qr_code(link).save(str(path), scale=8, border=4)


def terminal_qr(link: str) -> str:
    out = io.StringIO()
    qr_code(link).terminal(out=out, compact=True)
    return out.getvalue()


def show_pairing(ctx: Context, answer: dict[str, Any], link: str, png: Path, warning: str | None) -> None:
    """What a therapist reads: the QR code, the link, the code to type, the fingerprint, the PNG."""
    until = say_clock(datetime.fromisoformat(answer["expires_at"]).astimezone(), twelve=ctx.config.twelve_hour())
    minutes = answer["valid_for_s"] / 60
    if warning:
        ctx.err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    ctx.out.print(f"Scan this with the phone's camera (the code works once, until {until}, {minutes:g} min):")
    ctx.out.file.write(terminal_qr(link))
    ctx.out.file.flush()
    ctx.out.print(escape(link), soft_wrap=True)
    base = link.split("#", 1)[0]
    ctx.out.print(f"No camera? Open {escape(base)} on the phone and type the code {answer['shown']}.")
    if answer.get("fingerprint"):
        ctx.out.print(
            "TLS certificate SHA-256 fingerprint (the phone's browser shows it under the padlock; it must be the same):"
        )
        ctx.out.print(f"  {answer['fingerprint']}", soft_wrap=True)  # one line, to compare with the padlock's
    ctx.out.print(f"The QR code is saved as {escape(str(png))} too.")


def _when(iso: str | None, twelve: bool) -> str:
    if not iso:
        return "never"
    moment = datetime.fromisoformat(iso).astimezone()
    return f"{moment:%Y-%m-%d} {say_clock(moment, twelve=twelve)}"


def _list(phones: list[dict[str, Any]], args: argparse.Namespace, ctx: Context) -> int:
    if args.json:
        _print_json(ctx, phones)
        return 0
    if not phones:
        ctx.out.print("no phone is paired; `ambience pair` shows a QR code to pair one")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "NAME", "PAIRED", "LAST SEEN"):
        table.add_column(column, no_wrap=True)
    twelve = ctx.config.twelve_hour()
    for phone in phones:
        table.add_row(
            phone["id"], escape(phone["name"]), _when(phone["paired"], twelve), _when(phone["last_seen"], twelve)
        )
    ctx.out.print(table)
    return 0
