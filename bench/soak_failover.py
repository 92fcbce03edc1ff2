"""Failover (issue 20): the site's leader SIGKILLed mid-session ``n`` times on PostgreSQL; the standby must
take over every time, and no two daemons may ever command the devices at once.

    ./run soak --only failover          # 20 kills (about 3 minutes)
    tests/test_failover.py              # two kills in the default run, 20 in ./run test-failover

The rig is P11's (bench/failover.py, ambience/testing/failover.py): two real ``ambience serve`` with one
``store_url`` and base topic, each with its own MQTT client id (``daemon-a``, ``daemon-b``), on a
mosquitto with ``log_type debug``. A subscriber cannot see who published a message (MQTT 5 forwards
no client id, and ambience puts none in a device command), but the broker logs the sender of every
PUBLISH, in the order it forwards them: that log is the witness. Between one kill and the next the
device commands must be the killed leader's last ones still in flight, then only the new leader's —
never the standby's (nor the killed daemon's, restarted as the standby), never the two mixed. Each
take-over must also raise the site's epoch by one (the new leader's hello), resume the session with
the remaining time the session's own clock says (within 1 s), and command the devices.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from failover import REMAINING_OFF, take_overs
from soaklib import Progress, Result, quiet


def failover_kills(n: int = 20, *, seed: int = 20, progress: Progress = quiet) -> Result:
    """SIGKILL the leader ``n`` times at random moments (``seed``) of a 30-minute session."""
    result = Result("failover: leader SIGKILLs on PostgreSQL")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ambience-soak-failover-") as tmp:
        runs, problems = take_overs(Path(tmp), n, seed=seed, progress=progress)
    result.tried = len(runs)
    for i, run in enumerate(runs):
        if run.command is not None and not run.problems:
            result.held += 1
        result.failures += [f"kill {i + 1} ({run.old} → {run.new}): {p}" for p in run.problems]
    result.failures += problems
    result.check("taken over (the new leader commanded the devices)", sum(r.command is not None for r in runs), n)
    result.check("windows between kills with one leader commanding", n + 1 - len(problems), n + 1)
    result.check("epoch one more at each take-over", sum(r.epoch is not None and r.epoch == r.wanted for r in runs), n)
    off = [r.remaining_off for r in runs if r.remaining_off is not None]
    result.check(f"remaining time right (±{REMAINING_OFF:g} s)", sum(o <= REMAINING_OFF for o in off), n)
    commands = [r.command for r in runs if r.command is not None]
    if commands:
        result.notes.append(
            f"first command {statistics.median(commands):.2f} s after the kill (median), {max(commands):.2f} s at most"
        )
    if off:
        result.notes.append(f"remaining time off by {max(off):.2f} s at most")
    result.details.append(
        "no command from two daemons: witnessed by mosquitto's own log of each PUBLISH's client id, "
        f"checked in each of the {n + 1} windows between kills"
    )
    result.seconds = time.monotonic() - began
    return result
