"""P12 the command line: ``ambience status`` against a running daemon, the whole process, cold.

The command as a user types it: the ``ambience`` entry point beside this interpreter (the
virtualenv's ``bin/ambience``; ``python -m ambience`` if there is none) with ``--config FILE``,
which finds the daemon's address and token through the config, against a real ``ambience serve``
(:class:`DaemonProcess`) on a private broker. Each run is a new process, timed from ``fork`` to its
exit in this process (``time.perf_counter``). The baseline is the same interpreter doing nothing
(``python -c pass``), so what ambience adds is the difference. A profile of the command's imports
(``python -X importtime``) names the heaviest modules it loads, and the heavy modules a status
does not need (a web server, a database layer, a scheduler, mpv) are checked to stay out.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import Mosquitto, Result, free_port, ms

from ambience.testing import DaemonProcess, write_clinic
from ambience.testing.clinic import STUDIO
from ambience.testing.env import without_ambience

HEAVY = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "apscheduler", "mpv", "starlette", "paho", "psycopg")
"""Modules ``ambience status`` has no use for: the daemon's server, store, scheduler, player, MQTT."""


def command() -> list[str]:
    script = Path(sys.executable).with_name("ambience")
    return [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "ambience"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.decode()[-400:]}")
    return took


def imports(config: Path, env: dict[str, str]) -> tuple[list[tuple[int, str]], set[str]]:
    """The command's imports by cumulative time (µs, top level first), and which of HEAVY it loaded."""
    probe = (
        "import sys, runpy; sys.argv = ['ambience', 'status', '--config', sys.argv[1]]\n"
        "try:\n    runpy.run_module('ambience', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print('LOADED', ' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe, str(config)], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    found = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            found.append((int(m.group(1)), len(m.group(2)), m.group(3)))
    top = min((depth for _, depth, name in found if name.startswith("ambience")), default=0)
    rows = [(us, ("" if depth == top else "↳ ") + name) for us, depth, name in found if top <= depth <= top + 2]
    loaded = next((line.split()[1:] for line in done.stdout.splitlines() if line.startswith("LOADED")), [])
    return sorted(rows, reverse=True), set(loaded)


def p12(folder: Path, runs: int = 20) -> Result:
    """``runs``: cold runs of each (``ambience status`` and the baseline)."""
    result = Result()
    with Mosquitto() as broker:
        port = free_port()
        files = write_clinic(folder / "clinic", {"studio": STUDIO}, mqtt=broker.url, http={"port": port})
        daemon = DaemonProcess(files.file, files.state_dir, port=port).start()
        try:
            env = dict(without_ambience(), PYTHONPATH=os.environ.get("PYTHONPATH", ""))
            argv = [*command(), "status", "--config", str(files.file)]
            timed(argv, env)  # the daemon's first answer (and the disk cache) warmed, as on a day's second use
            status = [timed(argv, env) for _ in range(runs)]
            base = [timed([sys.executable, "-c", "pass"], env) for _ in range(runs)]
            profile, loaded = imports(files.file, env)
        finally:
            daemon.stop()
    med, bmed = statistics.median(status), statistics.median(base)
    result.add(
        "P12", f"`ambience status` against a running daemon, whole process, cold: min / median / max of {runs}",
        f"{ms(min(status))} / {ms(med)} / {ms(max(status))}",
        f"{ms(min(base))} / {ms(bmed)} / {ms(max(base))} (`python -c pass`)",
        f"+{(med - bmed) * 1000:.0f} ms", "≤ 250 ms", med <= 0.25,
    )  # fmt: skip
    result.add(
        "P12", "heavy modules `ambience status` imports (" + ", ".join(HEAVY) + ")",
        ", ".join(sorted(loaded)) or "none", "—", "—", "none", not loaded,
    )  # fmt: skip
    total = sum(us for us, name in profile if not name.startswith("↳"))
    result.growth.append((
        "P12 where `ambience status` spends its imports (python -X importtime, cumulative; one run, inflated by the profiler)",
        ["module", "cumulative", "share of all imports"],
        [[name, ms(us / 1e6), f"{us / total:.0%}" if total else "—"]
         for us, name in profile[:12]],
    ))  # fmt: skip
    if med > 0.25:
        config = next((us for us, name in profile if name.strip("↳ ") == "ambience.config"), 0)
        result.notes.append(
            f"P12 missed: of the imports, ambience.config (the config's pydantic models and pydantic-settings) is "
            f"{ms(config / 1e6)} under the profiler, httpx ~{ms(next((us for us, n in profile if n == 'httpx'), 0) / 1e6)}; "
            "the command imports nothing else heavy (the row above). Reading the config without pydantic would be "
            "the next step."
        )
    result.notes.append(
        f"P12: the command is `{' '.join(Path(a).name for a in command())} status --config FILE` (address and token "
        "through the config, as a user runs it); one untimed run first, then each run a new process; "
        "the baseline `python -c pass` is the same interpreter's start."
    )
    return result
