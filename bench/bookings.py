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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ambience.config import parse_config
from ambience.daemon import Daemon
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto


def config_for(folder: Path, url: str, rooms: int):
    folder.mkdir(parents=True, exist_ok=True)
    text = f"mqtt: {{url: '{url}'}}\nstate_dir: state\nhttp: {{enabled: false}}\nrooms:\n"
    for i in range(rooms):
        text += f"  room{i}:\n    thermostat: {{bridge: zigbee2mqtt, device: trv{i}}}\n    speaker: null\n"
    (folder / "ambience.yaml").write_text(text)
    return parse_config(text, str(folder / "ambience.yaml"), folder)


async def add(config, count: int, rooms: int) -> float:
    daemon = Daemon(config, players=False)
    await daemon.start()
    try:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
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


def p5(folder: Path, counts: tuple[int, ...] = (1_000, 5_000, 10_000), rooms: int = 50):
    """P5 for the bench table: the figures at each count, the goal at the largest."""
    from common import Result, SimProcess

    result = Result()
    rows = []
    with Mosquitto() as broker:
        broker.start()
        empty = config_for(folder / "empty", broker.url, rooms)
        sim = SimProcess(broker.url, None, folder, config=folder / "empty" / "ambience.yaml")
        try:
            base_s, _ = asyncio.run(ready(empty))
            for count in counts:
                full = config_for(folder / f"b{count}", broker.url, rooms)
                add_s = asyncio.run(add(full, count, rooms))
                full_s, full_n = asyncio.run(ready(full))
                assert full_n == count, f"{full_n} of {count} bookings came back"
                rows.append(
                    [
                        str(count),
                        f"{add_s:.2f} s",
                        f"{add_s / count * 1e3:.3f} ms",
                        f"{full_s:.2f} s",
                        f"{full_s / base_s:.2f}×",
                    ]
                )
        finally:
            sim.stop()
    result.add(
        "P5", f"add {count:,} future bookings (50 rooms)", f"{add_s:.2f} s", "—", "—", "≤ 3 s", add_s <= 3,
    )  # fmt: skip
    result.add(
        "P5", f"daemon start until ready with {count:,} bookings", f"{full_s:.2f} s", f"{base_s:.2f} s (empty store)",
        f"{full_s / base_s:.2f}×", "≤ 2 s", full_s <= 2,
    )  # fmt: skip
    result.growth.append(("P5 by bookings stored", ["bookings", "add", "per booking", "ready", "vs empty"], rows))
    return result


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
    print(
        f"| P5 | add {args.bookings} bookings | {add_s:.2f} s | {add_s / args.bookings * 1000:.3f} ms each | goal ≤ 3 s |"
    )
    print(f"| P5 | ready, empty store ({base_n}) | {base_s:.2f} s | baseline | |")
    print(f"| P5 | ready, {full_n} bookings | {full_s:.2f} s | {full_s / base_s:.2f}× baseline | goal ≤ 2 s |")
    return 0 if add_s <= 3 and full_s <= 2 and full_n == args.bookings else 1


if __name__ == "__main__":
    sys.exit(main())
