"""P5: 10,000 future bookings — time to add them, and daemon start until ready, against an empty store.

    .venv/bin/python bench/bookings.py [--bookings 10000] [--rooms 50]

Runs a private mosquitto (so start-up does not wait for a broker), adds the bookings through the
daemon's own BookingService (APScheduler's SQLAlchemy job store on SQLite), then starts a fresh
daemon on that state directory and on an empty one, and prints the figures with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mosquitto import Mosquitto  # noqa: E402

from ambience.config import parse_config  # noqa: E402
from ambience.daemon import Daemon  # noqa: E402
from ambience.simulator import Simulator  # noqa: E402


def config_for(folder: Path, url: str, rooms: int):
    text = f"mqtt: {{url: '{url}'}}\nstate_dir: state\nhttp: {{enabled: false}}\nrooms:\n"
    for i in range(rooms):
        text += f"  room{i}:\n    thermostat: {{bridge: zigbee2mqtt, device: trv{i}}}\n    speaker: null\n"
    return parse_config(text, "bench.yaml", folder)


async def add(config, count: int, rooms: int) -> float:
    daemon = Daemon(config, players=False)
    await daemon.start()
    try:
        base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        per_room = -(-count // rooms)
        started = time.perf_counter()
        with daemon.bookings.batch():  # as a calendar import does
            for i in range(count):
                room, slot = i % rooms, i // rooms
                daemon.bookings.book(f"room{room}", "express-30", base + timedelta(hours=slot), lead=600)
        took = time.perf_counter() - started
        assert len(daemon.bookings.bookings()) == count, "every booking is stored"
        assert per_room * rooms >= count
        return took
    finally:
        await daemon.stop()


async def ready(config) -> tuple[float, int]:
    started = time.perf_counter()
    daemon = Daemon(config, players=False)
    await daemon.start()
    took = time.perf_counter() - started
    try:
        return took, len(daemon.bookings.bookings())
    finally:
        await daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=50)
    args = parser.parse_args()
    with Mosquitto() as broker, tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        full, empty = config_for(Path(a), broker.url, args.rooms), config_for(Path(b), broker.url, args.rooms)
        with Simulator(full, tick=1.0):  # the rooms' devices answer, as in a clinic
            add_s = asyncio.run(add(full, args.bookings, args.rooms))
            base_s, base_n = asyncio.run(ready(empty))
            full_s, full_n = asyncio.run(ready(full))
    print(f"| P5 | add {args.bookings} bookings | {add_s:.2f} s | {add_s / args.bookings * 1000:.3f} ms each | goal ≤ 3 s |")
    print(f"| P5 | ready, empty store ({base_n}) | {base_s:.2f} s | baseline | |")
    print(f"| P5 | ready, {full_n} bookings | {full_s:.2f} s | {full_s / base_s:.2f}× baseline | goal ≤ 2 s |")
    return 0 if add_s <= 3 and full_s <= 2 and full_n == args.bookings else 1


if __name__ == "__main__":
    sys.exit(main())
