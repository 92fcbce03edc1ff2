"""Soak: the clinic day under faults — its busiest ``minutes`` in real time with broker restarts and daemon SIGKILLs.

The window of the clinic day (ambience.testing.clinic_day) with the most booking starts and turnovers
is replayed in real time, shifted to now, on a private mosquitto with the simulator's devices and
``ambience serve`` (bench/clinic.py's :class:`~clinic.Replay`). At seeded random moments — half of
them a few seconds around a booking start or a turnover, where it hurts — the broker is SIGKILLed and
started again on the same port (``broker_restarts`` times) and the daemon is SIGKILLed and started
again (``daemon_kills`` times), one fault at a time.

Held / tried is per booking in the window: it started (the first command to its room's lamp at a raw
probe) no more than 3 s after its time, or, when an outage covered its time (the daemon or the broker
down then), no more than 3 s after both were back. Checks: 0 bookings lost (never started), every
turnover applied (the room said ``turnover`` when the session before ended — within 3 s, or 3 s after
an outage covering it — and never ``idle`` before the next session), no traceback in the daemon's log.

    PYTHONPATH=. .venv/bin/python bench/soak_clinic.py [--minutes 30] [--seed 8]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from clinic import Replay, busiest_window, replay  # noqa: E402
from soaklib import DEFAULTS, Progress, Result, quiet  # noqa: E402

from ambience.testing import DaemonProcess, Mosquitto  # noqa: E402
from ambience.testing import clinic_day as day  # noqa: E402

WITHIN = 3.0


def clinic_faults(
    n: int = 1,
    *,
    seed: int = DEFAULTS["seed"],
    minutes: float = 30.0,
    broker_restarts: int = 3,
    daemon_kills: int = 2,
    progress: Progress = quiet,
) -> Result:
    """``n`` replays of the busiest ``minutes`` (30 in the full soak; 3–5 for a quick one), each with
    ``broker_restarts`` broker SIGKILL+restarts and ``daemon_kills`` daemon SIGKILL+restarts."""
    result = Result("clinic day under faults")
    began = time.monotonic()
    opening = busiest_window(minutes)
    counts = {"late": 0, "covered": 0, "lost": 0, "turnovers": 0, "turnovers applied": 0}
    worst: list[float] = []
    faults_done = 0
    for run in range(n):
        rng = random.Random(f"clinic-{seed}-{run}")
        outages: list[tuple[str, float, float]] = []

        def faults(rig: Replay, broker: Mosquitto, daemon: DaemonProcess, rng=rng, outages=outages):
            hot = [s.due for s in rig.in_window()] + [h.ends for h in rig.handovers]
            kinds = ["broker"] * broker_restarts + ["daemon"] * daemon_kills
            rng.shuffle(kinds)
            lo, hi = rig.begins + 10, rig.ends - 15
            moments = sorted(
                min(hi, max(lo, rng.choice(hot) + rng.uniform(-6, 2))) if hot and rng.random() < 0.5
                else rng.uniform(lo, hi)
                for _ in kinds
            )  # fmt: skip

            def broker_restart() -> None:
                down = rng.uniform(0.5, 4.0)
                gone = time.time()
                broker.kill()
                time.sleep(down)
                broker.start()
                outages.append(("broker", gone, time.time()))

            def daemon_kill() -> None:
                down = rng.uniform(0.5, 5.0)
                gone = time.time()
                daemon.kill()
                time.sleep(down)
                daemon.start(timeout=60)
                outages.append(("daemon", gone, time.time()))

            return [(t, broker_restart if k == "broker" else daemon_kill) for t, k in zip(moments, kinds, strict=True)]

        with tempfile.TemporaryDirectory(prefix="ambience-soak-clinic-") as tmp:
            out = replay(Path(tmp), opening, minutes, faults=faults, progress=progress)
            rig: Replay = out["rig"]
            tracebacks = [line for line in out["problems"] if line.startswith("Traceback")]
            kept = Path(tempfile.gettempdir()) / f"ambience-soak-clinic-{seed}-{run}.log"
            kept.write_bytes(out["log"].read_bytes())  # kept whatever comes of the checks below
            if tracebacks:
                result.notes.append(f"the daemon's log is kept in {kept}")
        result.check("daemon log free of tracebacks", 0 if tracebacks else 1, 1)

        def covering(t: float, outages=outages) -> tuple[str, float, float] | None:
            return next(((k, a, b) for k, a, b in outages if a - 0.5 <= t <= b), None)

        faults_done += len(outages)
        for s in rig.in_window():
            result.tried += 1
            when = datetime.fromtimestamp(s.day_start, day.LONDON)
            started = out["starts"][s.id]
            cover = covering(s.due)
            limit = (cover[2] if cover else s.due) + WITHIN
            if cover:
                counts["covered"] += 1
            if started is None:
                counts["lost"] += 1
                result.fail(f"run {run + 1}: {s.room} {when:%H:%M} ({s.id}) never started")
            elif started > limit:
                counts["late"] += 1
                why = f" ({cover[0]} down {cover[1] - s.due:+.1f}..{cover[2] - s.due:+.1f} s)" if cover else ""
                result.fail(f"run {run + 1}: {s.room} {when:%H:%M} started {started - s.due:.2f} s late{why}")
            else:
                result.held += 1
                worst.append(started - (cover[2] if cover else s.due))
        for h, turnover, states in out["turnovers"]:
            counts["turnovers"] += 1
            cover = covering(h.ends)
            limit = (cover[2] if cover else h.ends) + WITHIN
            ok = turnover is not None and turnover <= limit and "idle" not in states
            counts["turnovers applied"] += ok
            if not ok:
                when = datetime.fromtimestamp(h.ends - rig.shift, day.LONDON)
                shown = "never" if turnover is None else f"{turnover - h.ends:+.1f} s"
                result.fail(f"run {run + 1}: {h.room} turnover at {when:%H:%M}: said turnover {shown}, states {states}")
        progress(
            f"run {run + 1}: {len(rig.in_window())} bookings, {len(out['turnovers'])} turnovers, "
            f"outages {[(k, round(b - a, 1)) for k, a, b in outages]}"
        )
        result.notes += [n for n in dict.fromkeys(rig.notes) if n not in result.notes]
    result.check("bookings not lost", result.tried - counts["lost"], result.tried)
    result.check("turnovers applied", counts["turnovers applied"], counts["turnovers"])
    result.check("broker restarts and daemon SIGKILLs done", faults_done, n * (broker_restarts + daemon_kills))
    result.notes.insert(
        0,
        f"window {minutes:g} min from {datetime.fromtimestamp(opening, day.LONDON):%H:%M} (the day's busiest); "
        f"{counts['covered']} booking starts covered by an outage; worst start {max(worst, default=0):.2f} s "
        "after its time (or after the outage covering it)",
    )
    result.seconds = time.monotonic() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("-n", type=int, default=1)
    args = parser.parse_args()
    r = clinic_faults(args.n, seed=args.seed, minutes=args.minutes, progress=print)
    print(r.report())


if __name__ == "__main__":
    main()
