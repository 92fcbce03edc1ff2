"""ambience's benchmarks: ``./run bench`` prints the table and writes bench/RESULTS.md.

    ./run bench                 every benchmark (about 70 minutes: P10's 65-minute real-time clinic
                                morning runs alongside ~35 minutes of the others; P3 waits out a 300 s session)
    ./run bench --quick         fewer runs and shorter sessions, to try a change (about 7 minutes)
    ./run bench --only P1,P2    some of them
    ./run bench --no-write      print only; leave RESULTS.md alone

Each figure is measured against a baseline in the same run (see the notes of each benchmark)
because these machines are noisy. Everything is real: a private mosquitto started here,
``ambience serve`` (as a process, or in this process where mpv must be watched), the
simulator's devices as the subscribers, libmpv playing to its null output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Result, Row, machine  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
KEEP = "<!-- everything below this line is kept when the bench rewrites the file -->"
COLUMNS = ["id", "what", "ambience", "baseline", "ratio", "goal", "verdict"]
ALONGSIDE = "P10"
"""Run in a process of its own alongside the others: its real-time replay of a clinic's first two hours
(an hour of wall time) is an idle daemon waiting for bookings (~0.5 % of a core), so it costs the others
nothing measurable and saves the bench its hour."""


def plan(quick: bool) -> dict[str, object]:
    import bookings
    import cli
    import clinic
    import fades
    import failover
    import idle
    import latency
    import library
    import music
    import phone
    import radio

    if quick:
        return {
            "P1": lambda f: latency.p1(f, starts=60, growth_starts=20),
            "P2": lambda f: latency.p2(f, sizes=(25, 100, 200), repeats=1),
            "P3": lambda f: music.p3(f, lengths=(10, 30)),
            "P4": lambda f: idle.p4(f, seconds=20, growth=(10,), growth_seconds=10),
            "P5": lambda f: bookings.p5(f, counts=(2_000, 10_000)),
            "P6": lambda f: music.p6(f, runs=10),
            "P7": lambda f: fades.p7(f, profiles=("zigbee2mqtt IKEA LED1545G12", "tasmota CT bulb"), growth=(30,)),
            "P8": lambda f: radio.p8(f, growth=()),
            "P9": lambda f: phone.p9(f, changes=30, loads=3),
            "P10": lambda f: clinic.p10(f, runs=1, window=4),
            "P11": lambda f: failover.p11(f, runs=3),
            "P12": lambda f: cli.p12(f, runs=5),
            "P13": lambda f: library.p13(f, preview=10),
        }
    return {
        "P1": lambda f: latency.p1(f),
        "P2": lambda f: latency.p2(f),
        "P3": lambda f: music.p3(f),
        "P4": lambda f: idle.p4(f),
        "P5": lambda f: bookings.p5(f),
        "P6": lambda f: music.p6(f),
        "P7": lambda f: fades.p7(f),
        "P8": lambda f: radio.p8(f),
        "P9": lambda f: phone.p9(f),
        "P10": lambda f: clinic.p10(f),
        "P11": lambda f: failover.p11(f),
        "P12": lambda f: cli.p12(f),
        "P13": lambda f: library.p13(f),
    }


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out)


def write_results(results: dict[str, Result], info: dict[str, str], took: float, quick: bool) -> None:
    kept = ""
    if RESULTS.exists():
        text = RESULTS.read_text()
        if KEEP in text:
            kept = text.split(KEEP, 1)[1]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `./run bench{' --quick' if quick else ''}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"in {took / 60:.1f} minutes. Ratios are against a baseline measured in the same run.",
        "",
        "## Machine",
        "",
        *[f"- **{k}**: {v}" for k, v in info.items()],
        "",
        "## Figures",
        "",
        markdown_table(COLUMNS, [row.cells() for r in results.values() for row in r.rows]),
        "",
        "## How they grow",
        "",
    ]
    for result in results.values():
        for title, header, rows in result.growth:
            lines += [f"### {title}", "", markdown_table(header, rows), ""]
    notes = [n for r in results.values() for n in r.notes]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    RESULTS.write_text("\n".join(lines) + "\n" + KEEP + (kept or "\n"))


WITH_MUSIC = ("P3", "P6")
"""Figures whose daemon plays the default library: they get it rendered whole beforehand (a daemon that
finds it missing renders it in a child beside the figure, and a session started before its first track
is there has no music at all)."""


def library_for(scratch: Path, console: Console) -> Path:
    """The default library rendered once for the run (``music`` folder), ~3 minutes the first time."""
    from ambience.music.sounds import ensure_default_playlist

    music = scratch / "music"
    if not (music / ".rendered-for-bench").exists():
        console.print("  rendering the default library once for the figures that play it …")
        ensure_default_playlist(music)
        (music / ".rendered-for-bench").write_text("")
    return music


def dump(result: Result, path: Path) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(dataclasses.asdict(result)))
    part.replace(path)  # whole or not there: a run waiting with --take never reads half of it


def load(path: Path) -> Result:
    data = json.loads(path.read_text())
    return Result(
        rows=[Row(**row) for row in data["rows"]],
        growth=[(title, header, rows) for title, header, rows in data["growth"]],
        notes=data["notes"],
    )


def start_alongside(name: str, quick: bool, folder: Path, console: Console) -> tuple[subprocess.Popen, Path, Path]:
    out, log = folder / f"{name}.json", folder / f"{name}.log"
    argv = [sys.executable, str(Path(__file__)), "--only", name, "--no-write", "--dump", str(out)]
    child = subprocess.Popen(argv + (["--quick"] if quick else []), stdout=log.open("w"), stderr=subprocess.STDOUT)
    console.print(f"[bold]{name}[/] runs alongside the others (pid {child.pid}, log {log})")
    return child, out, log


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter sessions")
    parser.add_argument("--only", help="comma-separated ids, e.g. P1,P3")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument("--dump", type=Path, help="write the (one) benchmark's result to FILE as JSON")
    parser.add_argument(
        "--take", metavar="ID=FILE",
        help=f"use the result another run is writing with --dump (e.g. {ALONGSIDE} started earlier): wait for FILE",
    )  # fmt: skip
    args = parser.parse_args()
    # a SIGTERM (timeout, CI) unwinds like Ctrl-C, so every broker, daemon and simulator is stopped
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    console = Console(width=max(140, Console().width))
    steps = plan(args.quick)
    wanted = [s.strip().upper() for s in args.only.split(",")] if args.only else list(steps)
    unknown = [w for w in wanted if w not in steps]
    if unknown:
        console.print(f"[red]unknown benchmark {', '.join(unknown)}; there are {', '.join(steps)}[/]")
        return 2
    info = machine()
    results: dict[str, Result] = {}
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="ambience-bench-"))
    aside = None
    taken: tuple[str, Path] | None = None
    if args.take:
        name, _, file = args.take.partition("=")
        taken = (name.strip().upper(), Path(file))
    elif ALONGSIDE in wanted and len(wanted) > 1:
        aside = start_alongside(ALONGSIDE, args.quick, scratch, console)
    try:
        for name in wanted:
            if (aside is not None and name == ALONGSIDE) or (taken is not None and name == taken[0]):
                continue
            console.print(f"[bold]{name}[/] …")
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"ambience-bench-{name}-") as folder:
                if name in WITH_MUSIC:  # the default library, whole, so no renderer runs beside the figure
                    (Path(folder) / "music").symlink_to(library_for(scratch, console), target_is_directory=True)
                results[name] = steps[name](Path(folder))  # type: ignore[operator]
            console.print(f"  done in {time.monotonic() - t0:.0f} s")
        if aside is not None:
            child, out, log = aside
            console.print(f"[bold]{ALONGSIDE}[/] … waiting for it (log {log})")
            if child.wait() != 0 and not out.exists():
                console.print(f"[red]{ALONGSIDE} failed:[/]\n{log.read_text()[-3000:]}")
                return 2
            results[ALONGSIDE] = load(out)
            results[ALONGSIDE].notes.append(
                f"{ALONGSIDE} ran in a process of its own alongside the other figures (an idle daemon waiting for "
                "its bookings most of the time)."
            )
        if taken is not None:
            name, file = taken
            console.print(f"[bold]{name}[/] … waiting for {file}")
            while not file.exists():
                time.sleep(5)
            results[name] = load(file)
            results[name].notes.append(
                f"{name} ran in a process of its own started before the other figures (`--dump`), its "
                "real-time replay alongside them and the test suite (an idle daemon waiting for its bookings)."
            )
        results = {name: results[name] for name in wanted if name in results}
    finally:
        if aside is not None and aside[0].poll() is None:
            aside[0].terminate()
            aside[0].wait(30)
    took = time.monotonic() - started
    if args.dump:
        dump(next(iter(results.values())), args.dump)

    table = Table(title="ambience benchmarks", show_lines=False)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for result in results.values():
        for row in result.rows:
            cells = row.cells()
            style = None if row.met is None else ("green" if row.met else "bold red")
            table.add_row(*cells[:-1], f"[{style}]{cells[-1]}[/]" if style else cells[-1])
    console.print(table)
    for result in results.values():
        for title, header, rows in result.growth:
            grow = Table(title=title)
            for column in header:
                grow.add_column(column)
            for row in rows:
                grow.add_row(*row)
            console.print(grow)
    if not args.no_write:
        if set(wanted) != set(steps):
            console.print("[yellow]not all benchmarks ran: RESULTS.md is left alone (use them all to rewrite it)[/]")
        else:
            write_results(results, info, took, args.quick)
            console.print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0 if all(row.met is not False for r in results.values() for row in r.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
