"""``ambience serve``: run the daemon in the foreground (systemd runs it as a ``Type=notify`` service)."""

from __future__ import annotations

import argparse

from ambience.cli import Context


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve", help="run the daemon: every configured room, the HTTP API and MQTT commands", parents=[common]
    )
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, ctx: Context) -> int:
    from ambience.daemon import serve

    return serve(ctx.config, verbose=getattr(args, "verbose", False))
