"""The fault soak (issues 8 and 20): eleven faults, from broker kills to a clinic day under faults.

    ./run soak                       # all eleven, with the issues' figures (50–60 minutes; the clinic day is 30)
    ./run soak --only fuzz,files     # some of them
    ./run soak --kills 3 --commands 500 --files 100 --bookings 500   # a quick run while developing

Prints ``fault | held / tried | notes`` and exits 1 if any fault was not held (or a check
under it came out short). The logic is in bench/soaklib.py; tests/test_soak.py runs the same
with ``pytest -m slow tests/test_soak.py``. See docs/soak.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402
from soak_clinic import clinic_faults  # noqa: E402
from soak_endings import endings  # noqa: E402
from soak_failover import failover_kills  # noqa: E402
from soak_heaters import heater_kills  # noqa: E402
from soak_snapcast import snapcast_restart  # noqa: E402
from soak_valves import valve_sessions  # noqa: E402
from soaklib import DEFAULTS, Result, broker_kills, daemon_kills, fuzzed_commands, malformed_files  # noqa: E402

NAMES = {
    "broker": "broker kills",
    "sigkill": "daemon SIGKILLs",
    "fuzz": "fuzzed commands",
    "files": "malformed files",
    "heaters": "heaters off when ambience dies",
    "failover": "failover: leader SIGKILLs",
    "snapcast": "snapserver restarted",
    "valves": "valves through broker restarts",
    "endings": "endings under faults",
    "clinic": "clinic day under faults",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(NAMES), metavar="LIST", help=f"comma-separated: {','.join(NAMES)}")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="the random seed (default %(default)s)")
    parser.add_argument("--kills", type=int, metavar="N", help="broker kills and daemon SIGKILLs (default 20 each)")
    parser.add_argument("--broker-kills", type=int, metavar="N", help=f"broker kills (default {DEFAULTS['kills']})")
    parser.add_argument(
        "--daemon-kills", type=int, metavar="N", help=f"daemon SIGKILLs (default {DEFAULTS['sigkills']})"
    )
    parser.add_argument(
        "--bookings", type=int, default=DEFAULTS["bookings"], help="stored bookings (default %(default)s)"
    )
    parser.add_argument(
        "--commands", type=int, default=DEFAULTS["commands"], help="fuzzed commands (default %(default)s)"
    )
    parser.add_argument("--files", type=int, default=DEFAULTS["files"], help="malformed files (default %(default)s)")
    parser.add_argument("--failovers", type=int, default=20, metavar="N", help="leader SIGKILLs (default %(default)s)")
    parser.add_argument(
        "--snapcast-restarts", type=int, default=5, metavar="N", help="snapserver restarts (default %(default)s)"
    )
    parser.add_argument(
        "--valve-sessions", type=int, default=20, metavar="N", help="valve sessions (default %(default)s)"
    )
    parser.add_argument(
        "--endings", type=int, default=20, metavar="N", help="tries of each after-state scenario (default %(default)s)"
    )
    parser.add_argument(
        "--clinic-minutes", type=float, default=30.0, metavar="M",
        help="minutes of the clinic day in real time, with 3 broker restarts and 2 daemon SIGKILLs (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="do not update the soak's table in bench/RESULTS.md")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in NAMES]
    if unknown or not args.only:
        parser.error(f"--only: unknown {', '.join(unknown) or 'nothing'}; choose from {', '.join(NAMES)}")
    args.broker_kills = args.broker_kills or args.kills or DEFAULTS["kills"]
    args.daemon_kills = args.daemon_kills or args.kills or DEFAULTS["sigkills"]
    return args


def run(name: str, args: argparse.Namespace, progress) -> Result:
    if name == "broker":
        return broker_kills(args.broker_kills, seed=args.seed, progress=progress)
    if name == "sigkill":
        return daemon_kills(args.daemon_kills, bookings=args.bookings, seed=args.seed, progress=progress)
    if name == "fuzz":
        return fuzzed_commands(args.commands, seed=args.seed, progress=progress)
    if name == "heaters":
        return heater_kills(args.daemon_kills, progress=progress)
    if name == "failover":
        return failover_kills(args.failovers, seed=args.seed, progress=progress)
    if name == "snapcast":
        return snapcast_restart(args.snapcast_restarts, seed=args.seed, progress=progress)
    if name == "valves":
        return valve_sessions(args.valve_sessions, seed=args.seed, progress=progress)
    if name == "endings":
        return endings(args.endings, seed=args.seed, progress=progress)
    if name == "clinic":
        return clinic_faults(1, seed=args.seed, minutes=args.clinic_minutes, progress=progress)
    return malformed_files(args.files, seed=args.seed, progress=progress)


def table(results: list[Result], total: float) -> Table:
    out = Table(title=f"fault soak (issues 8, 20): {total:.0f} s", title_justify="left", show_lines=True)
    out.add_column("fault", no_wrap=True)
    out.add_column("held / tried", justify="right", no_wrap=True)
    out.add_column("notes")
    for r in results:
        colour = "green" if r.ok else "red"
        notes = [f"{label}: {n} / {m}" for label, n, m in r.checks] + r.notes + [f"{r.seconds:.0f} s"]
        out.add_row(r.name, f"[{colour}]{r.held} / {r.tried}[/{colour}]", escape("\n".join(notes)))
    return out


RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- soak: rows written by ./run soak, one per fault, each from its latest run -->", "<!-- soak end -->"


def write_results(results: list[Result], argv: list[str] | None) -> None:
    """Each fault's row of the soak table in bench/RESULTS.md, replaced by this run's; the other rows stay.

    The table sits in the part of RESULTS.md the bench keeps when it rewrites its figures."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    rows: dict[str, str] = {}
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        section, tail = rest.split(END, 1)
        for line in section.splitlines():
            if line.startswith("| ") and not line.startswith("| fault |"):
                rows[line.split(" | ", 1)[0][2:]] = line
    else:
        keep = "<!-- everything below this line is kept when the bench rewrites the file -->"
        head, tail = (text.split(keep, 1)[0] + keep + "\n\n", text.split(keep, 1)[1]) if keep in text else (text, "")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "./run soak" + (" " + " ".join(argv) if argv else "")
    for r in results:
        checks = "; ".join([f"{label}: {n} / {m}" for label, n, m in r.checks] + r.notes)
        verdict = "held" if r.ok else "NOT HELD"
        cells = [r.name, f"{r.held} / {r.tried}", verdict, checks, f"{r.seconds:.0f} s", f"{when}, `{command}`"]
        rows[r.name] = "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
    order = list(NAMES.values())
    ordered = sorted(rows, key=lambda name: order.index(name) if name in order else len(order))
    section = "\n".join(
        [
            "",
            "## The fault soak (`./run soak`, docs/soak.md)",
            "",
            "| fault | held / tried | verdict | checks and notes | took | run |",
            "|---|---|---|---|---|---|",
            *[rows[name] for name in ordered],
            "",
        ]
    )
    RESULTS.write_text(head + BEGIN + section + END + tail)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, err = Console(width=None if sys.stdout.isatty() else 120), Console(stderr=True)

    def progress(line: str) -> None:
        if not args.quiet:
            err.print(f"[dim]{escape(line)}[/dim]", highlight=False)

    results = []
    began = time.monotonic()
    for name in args.only:
        progress(f"— {NAMES[name]}")
        started = time.monotonic()
        try:
            result = run(name, args, progress)
        except Exception as exc:  # the soak's own set-up failed: report it as not held
            err.print(escape(traceback.format_exc()))
            result = Result(NAMES[name], failures=[f"the soak could not run: {type(exc).__name__}: {exc}"])
            result.seconds = time.monotonic() - started
        results.append(result)
    out.print(table(results, time.monotonic() - began))
    for r in results:
        for line in r.details:
            out.print(f"[dim]{escape(r.name)}: {escape(line)}[/dim]", highlight=False)
    for r in results:
        for failure in r.failures[:20]:
            out.print(f"[red]{escape(r.name)}:[/red] {escape(failure)}", highlight=False)
        if len(r.failures) > 20:
            out.print(f"[red]{escape(r.name)}:[/red] … and {len(r.failures) - 20} more", highlight=False)
    if not args.no_write:
        write_results(results, sys.argv[1:] if argv is None else argv)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
