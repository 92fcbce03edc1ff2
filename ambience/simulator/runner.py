"""Running the simulator as a program: ``ambience simulate`` / ``python -m ambience.simulator``."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, TextIO

from ambience.config import Config, load_config
from ambience.errors import AmbienceError
from ambience.simulator.simulator import Simulator


def run(config: Config, url: str | None = None, *, out: TextIO | None = None, **options: Any) -> None:
    """Simulate every device of ``config`` until SIGINT or SIGTERM (``options`` go to :class:`Simulator`).

    Prints one line per device once started; waits for the broker as long as it takes. Called
    outside the main thread it installs no signal handlers, and runs until the process ends.
    """
    out = out or sys.stdout
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim = Simulator(config, url, **options)
    try:
        sim.start(timeout=None)
        if not sim.wait_ready(5):
            print(f"waiting for the broker at {sim.url} ...", file=out, flush=True)
        print(f"simulating {len(sim.devices())} devices on {sim.url} (Ctrl-C stops)", file=out)
        for line in sim.describe():
            print(f"  {line}", file=out)
        print(f"  state: {sim.prefix}/<room>/<device>/state   faults: {sim.prefix}/<room>/<device>/fault", file=out)
        out.flush()
        stop.wait()
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(config_path: str | None, url: str | None = None, **options: Any) -> int:
    """Load the config (``--config``, ``$AMBIENCE_CONFIG``, ``./ambience.yaml``) and :func:`run`; the exit code."""
    try:
        config, _ = load_config(config_path)
        if not config.rooms:
            print("error: the config has no rooms, so there is no device to simulate", file=sys.stderr)
            return 1
        run(config, url, **options)
    except AmbienceError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
