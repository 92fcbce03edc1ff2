"""P4: an idle daemon — CPU and memory with rooms configured and nothing running.

``ambience serve`` runs as its own process with N rooms (a thermostat, two lights and a speaker
each); the simulator's thermostats report a drifting temperature every 10 s, as real ones chatter.
CPU is the process's user + system time from ``/proc/<pid>/stat`` over the window; memory is its
resident set (``VmRSS``) at the end and its peak (``VmHWM``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import DaemonProcess, Mosquitto, Result, SimProcess, write_setup

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def measure(folder: Path, rooms: int, seconds: float) -> tuple[float, float, float]:
    """(% of one core, RSS MB, peak RSS MB) of an idle daemon with ``rooms`` rooms."""
    with Mosquitto() as broker:
        broker.start()
        spec = {f"room{i:03d}": 3 for i in range(rooms)}
        path, config = write_setup(folder, broker.url, spec, speakers=True)
        sim = SimProcess(broker.url, spec, folder, tick=10.0, drift=0.05)
        daemon = DaemonProcess(path, folder / "state", port=config.http.port)
        try:
            daemon.start(timeout=60)
            assert daemon.proc is not None
            pid = daemon.proc.pid
            time.sleep(5)  # start-up done: discovery published, devices heard
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = cpu_seconds(pid), time.monotonic()
            rss, peak = memory_mb(pid)
            return (c1 - c0) / (t1 - t0) * 100, rss, peak
        finally:
            daemon.stop()
            sim.stop()


def p4(folder: Path, seconds: float = 60, growth: tuple[int, ...] = (10, 200), growth_seconds: float = 20) -> Result:
    result = Result()
    cpu, rss, peak = measure(folder / "r50", 50, seconds)
    result.add(
        "P4", f"idle daemon, 50 rooms, {seconds:g} s: CPU (of one core) / RSS", f"{cpu:.2f} % / {rss:.0f} MB",
        "—", "—", "≤ 0.5 %, ≤ 80 MB", cpu <= 0.5 and rss <= 80,
    )  # fmt: skip
    rows = []
    for n in sorted((*growth, 50)):
        c, r, p = (cpu, rss, peak) if n == 50 else measure(folder / f"r{n}", n, growth_seconds)
        rows.append(
            [str(n), f"{c:.2f} %", f"{r:.0f} MB", f"{p:.0f} MB", f"{seconds if n == 50 else growth_seconds:g} s"]
        )
    result.growth.append(("P4 by rooms configured (idle)", ["rooms", "CPU", "RSS", "peak RSS", "window"], rows))
    return result
