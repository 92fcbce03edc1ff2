"""The ``ambience`` command line: argument parsing and the one place errors are reported.

Each sub-module registers its commands on the parser; a command is a function taking the
parsed arguments and a :class:`Context` and returning an exit code. A known error
(:class:`~ambience.errors.AmbienceError`) is printed as one line per problem and exits 1;
only an unexpected exception shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from ambience import __version__
from ambience.config import Config, load_config
from ambience.errors import AmbienceError, InvalidFile


@dataclass
class Context:
    """What every command gets: the output consoles and (lazily) the config."""

    args: argparse.Namespace
    out: Console
    err: Console
    _config: tuple[Config, object] | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(getattr(self.args, "config", None))
        return self._config[0]

    @property
    def config_file(self):
        _ = self.config
        assert self._config is not None
        return self._config[1]


Command = Callable[[argparse.Namespace, Context], int]


def _console(stream) -> Console:
    width = None if stream.isatty() else max(100, shutil.get_terminal_size((120, 24)).columns)
    return Console(file=stream, width=width, highlight=False, soft_wrap=True, emoji=False)  # ":AB:" is hex, not 🆎


def print_error(console: Console, text: str) -> None:
    console.print(f"[red]error:[/red] {escape(text)}")


MODULES = (
    "preset_cmds",
    "config_cmds",
    "device_cmds",
    "devices_cmd",
    "music_cmds",
    "speakers_cmd",
    "daemon_cmds",
    "client_cmds",
    "booking_cmds",
    "calendar_cmds",
    "pair_cmds",
    "visit_cmds",
)
"""The modules under ``ambience.cli`` that register commands, in the order ``--help`` lists them."""

COMMANDS = {
    "presets": "preset_cmds",
    "config": "config_cmds",
    "apply": "device_cmds",
    "rooms": "device_cmds",
    "simulate": "device_cmds",
    "devices": "devices_cmd",
    "playlists": "music_cmds",
    "play": "music_cmds",
    "speakers": "speakers_cmd",
    "serve": "daemon_cmds",
    **dict.fromkeys(("start", "pause", "resume", "stop", "extend", "status", "history", "clients"), "client_cmds"),
    **dict.fromkeys(("book", "bookings", "move", "cancel"), "booking_cmds"),
    "calendars": "calendar_cmds",
    "pair": "pair_cmds",
    "visit": "visit_cmds",
}
"""Each command and the module registering it: a command line naming one imports only that module (the
others import the daemon, the store, MQTT ... which ``ambience status`` has no use for)."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every command registered."""
    return _parser(MODULES)


def _parser(modules: Sequence[str]) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what happens")
    common.add_argument(  # SUPPRESS: a subcommand's own (absent) --config must not undo one given before it
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="the config file (default: $AMBIENCE_CONFIG, else ./ambience.yaml if present)",
    )
    parser = argparse.ArgumentParser(
        prog="ambience",
        description="Turns a treatment room into a relaxation environment for a massage session.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"ambience {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(f"ambience.cli.{name}").register(sub, common)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command an argument list names (``status`` in ``--config x.yaml status --json``), if any."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif word == "--" or not word.startswith("-"):
            return None if word == "--" else word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    word = command_word(sys.argv[1:] if argv is None else argv)
    parser = _parser([COMMANDS[word]]) if word in COMMANDS else build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args, _console(sys.stdout), _console(sys.stderr))
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args, ctx)
    except InvalidFile as exc:
        for issue in exc.issues:
            print_error(ctx.err, str(issue))
        return 1
    except AmbienceError as exc:
        print_error(ctx.err, str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
