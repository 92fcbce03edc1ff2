"""P1 (start → every device of a room has its command) and P2 (200 rooms started in one burst).

``ambience serve`` runs as its own process; the simulator's devices answer on the real broker;
the probe stamps every device command on arrival. The baseline (``bench/responder.py``) gets
the same trigger and publishes the same messages with raw paho, to clone rooms of the
simulator with topics of the same length, so the two never disturb each other's devices.
Runs alternate (ambience, baseline, ambience, …) so drift in the machine's load hits both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from common import (
    DaemonProcess,
    Mosquitto,
    Probe,
    Publisher,
    Responder,
    Result,
    SimProcess,
    device_filters,
    median,
    ms,
    pct,
    write_setup,
)

START = json.dumps({"action": "start", "preset": "bench"})
STOP = json.dumps({"action": "stop"})


class Rig:
    """Broker, daemon, simulator (rooms + clone rooms), probe, publisher, HTTP client."""

    def __init__(self, folder: Path, rooms: dict[str, int], clone: dict[str, str]):
        self.broker = Mosquitto().start()
        self.path, self.config = write_setup(folder, self.broker.url, rooms)
        everything = dict(rooms) | {clone[r]: n for r, n in rooms.items()}
        self.sim = SimProcess(self.broker.url, everything, folder)
        self.filters = device_filters(self.sim.model)
        self.devices: dict[str, list[tuple[str, str]]] = {}
        for key in self.filters.values():
            self.devices.setdefault(key[0], [])
            if key not in self.devices[key[0]]:
                self.devices[key[0]].append(key)
        self.daemon = DaemonProcess(self.path, folder / "state", port=self.config.http.port).start(timeout=60)
        self.http = httpx.Client(base_url=self.daemon.url, headers={"Authorization": f"Bearer {self.daemon.token()}"})
        self.probe = Probe(self.broker.url, self.filters)
        self.pub = Publisher(self.broker.url)
        self.clone = clone
        self.responder: Responder | None = None
        self.base_http: httpx.Client | None = None
        self.folder = folder

    def close(self) -> None:
        for step in (
            lambda: self.responder and self.responder.close(),
            self.probe.close,
            self.pub.close,
            self.http.close,
            self.daemon.stop,
            self.sim.stop,
            self.broker.close,
        ):
            try:
                step()
            except Exception:
                pass

    # ---- triggering -------------------------------------------------------------------------

    def trigger(self, room: str, surface: str, baseline: bool) -> None:
        if baseline:
            assert self.responder is not None
            if surface == "http":
                self.base_http.post(f"/{room}", content=b"{}", timeout=10).raise_for_status()
            else:
                self.pub.publish(f"bench-base/{room}/command", START)
        elif surface == "http":
            self.http.post(f"/api/rooms/{room}/start", json={"preset": "bench"}, timeout=10).raise_for_status()
        else:
            self.pub.publish(f"ambience/{room}/command", START)

    def delivered(self, rooms: list[str], mark: int, t0: float, timeout: float = 10.0) -> dict[tuple[str, str], float]:
        return self.probe.first({key for room in rooms for key in self.devices[room]}, mark, t0, timeout)

    def stop_and_settle(self, rooms: list[str], timeout: float = 30.0) -> None:
        for room in rooms:
            self.pub.publish(f"ambience/{room}/command", STOP)
        deadline = time.monotonic() + timeout
        waiting = set(rooms)
        while waiting and time.monotonic() < deadline:
            for status in self.http.get("/api/rooms", timeout=10).json():
                if status["room"] in waiting and status["state"] == "idle":
                    if all(d["status"] != "pending" for d in status["devices"]):
                        waiting.discard(status["room"])
            time.sleep(0.02)
        if waiting:
            raise TimeoutError(f"rooms did not settle after stop: {sorted(waiting)[:5]}")
        time.sleep(0.05)  # let the devices' last reports pass

    def capture(self, room: str) -> list[tuple[str, str]]:
        """The messages ambience sends a room's devices at a start (what the baseline will send)."""
        mark, t0 = self.probe.mark(), time.perf_counter()
        self.trigger(room, "http", baseline=False)
        self.delivered([room], mark, t0)
        time.sleep(0.3)
        out = [
            (topic, payload.decode()) for _, _, topic, payload, key in self.probe.since(mark) if key and key[0] == room
        ]
        self.stop_and_settle([room])
        return out

    def start_responder(self, messages: dict[str, list[tuple[str, str]]]) -> None:
        self.responder = Responder(self.broker.url, messages, self.folder)
        self.base_http = httpx.Client(base_url=self.responder.url)

    def unconfirmed(self, rooms: list[str], timeout: float = 30.0) -> int:
        """Devices of ``rooms`` the daemon has not seen confirm (the simulator got the command and answered)."""
        deadline = time.monotonic() + timeout
        while True:
            wanted = set(rooms)
            bad = sum(
                d["status"] != "confirmed"
                for status in self.http.get("/api/rooms", timeout=10).json()
                if status["room"] in wanted
                for d in status["devices"]
            )
            if bad == 0 or time.monotonic() > deadline:
                return bad
            time.sleep(0.1)

    def wait_idle(self, room: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.http.get(f"/api/rooms/{room}", timeout=10).json()
            if status["state"] == "idle" and all(d["status"] != "pending" for d in status["devices"]):
                return
            time.sleep(0.05)
        raise TimeoutError(f"room {room} did not settle")


def one_start(rig: Rig, room: str, surface: str, baseline: bool) -> float:
    target = rig.clone[room] if baseline else room
    if not baseline:
        rig.wait_idle(room)
    mark, t0 = rig.probe.mark(), time.perf_counter()
    rig.trigger(target, surface, baseline)
    got = rig.delivered([target], mark, t0)
    if len(got) != len(rig.devices[target]):
        raise RuntimeError(f"{target}: only {len(got)} of {len(rig.devices[target])} devices got a command")
    if not baseline:
        rig.http.post(f"/api/rooms/{room}/stop", timeout=10).raise_for_status()
    time.sleep(0.02)  # let the devices' answers pass before the next start
    return max(got.values()) - t0


POOL = 24
"""Identical rooms taken in turn, so each start finds its room idle with the last session's 3 s
fade-out long finished (waiting for it in one room would make 200 starts take 20 minutes)."""


def pools(devices: tuple[int, ...]) -> tuple[dict[int, list[str]], dict[str, int], dict[str, str]]:
    letters = {1: ("a", "e"), 3: ("c", "f"), 6: ("s", "t"), 12: ("g", "h")}
    pool: dict[int, list[str]] = {}
    rooms: dict[str, int] = {}
    clone: dict[str, str] = {}
    for n in devices:
        ours, theirs = letters[n]
        size = POOL if n == 6 else 8
        pool[n] = [f"{ours}{i:02d}" for i in range(size)]
        for i, room in enumerate(pool[n]):
            rooms[room], clone[room] = n, f"{theirs}{i:02d}"
    return pool, rooms, clone


def p1(folder: Path, starts: int = 300, growth_starts: int = 50) -> Result:
    pool, rooms, clone = pools((6, 1, 3, 12))
    rig = Rig(folder, rooms, clone)
    result = Result()
    try:
        messages = {}
        for names in pool.values():
            sent = rig.capture(names[0])
            for room in names:
                messages[clone[room]] = [(t.replace(f"{names[0]}-", f"{clone[room]}-"), p) for t, p in sent]
        rig.start_responder(messages)
        turn = {n: 0 for n in pool}

        def start(n: int, surface: str, baseline: bool) -> float:
            room = pool[n][turn[n] % len(pool[n])]
            turn[n] += not baseline
            return one_start(rig, room, surface, baseline)

        for n in pool:  # warm both paths
            for surface in ("http", "mqtt"):
                start(n, surface, True), start(n, surface, False)
        figures: dict[tuple[int, str, bool], list[float]] = {}
        for surface in ("http", "mqtt"):
            for _ in range(starts):
                for baseline in (True, False):
                    figures.setdefault((6, surface, baseline), []).append(start(6, surface, baseline))
        for surface in ("http", "mqtt"):
            a, b = figures[(6, surface, False)], figures[(6, surface, True)]
            ratio = pct(a, 99) / pct(b, 99)
            result.add(
                "P1", f"start over {surface.upper()} → 6 devices commanded (p50 / p99, {len(a)} starts)",
                f"{ms(pct(a, 50))} / {ms(pct(a, 99))}", f"{ms(pct(b, 50))} / {ms(pct(b, 99))}",
                f"p99 {ratio:.2f}×", "p99 ≤ 1.5×", ratio <= 1.5,
            )  # fmt: skip
        rows = []
        for n in sorted(pool):
            a, b = figures.get((n, "mqtt", False)), figures.get((n, "mqtt", True))
            if a is None or b is None:
                a, b = [], []
                for _ in range(growth_starts):
                    b.append(start(n, "mqtt", True))
                    a.append(start(n, "mqtt", False))
            rows.append(
                [
                    str(n),
                    ms(pct(a, 50)),
                    ms(pct(a, 99)),
                    ms(pct(b, 50)),
                    ms(pct(b, 99)),
                    f"{pct(a, 99) / pct(b, 99):.2f}×",
                ]
            )
        result.growth.append(
            (
                "P1 by devices per room (MQTT start)",
                ["devices", "p50", "p99", "baseline p50", "baseline p99", "p99 ratio"],
                rows,
            )
        )
        result.notes.append(
            "P1 baseline: bench/responder.py gets the same trigger (HTTP POST / MQTT command) and publishes the "
            "same messages with raw paho (QoS 1, TCP_NODELAY), with no parsing, state or persistence. "
            f"Starts rotate over {POOL} identical rooms so each finds its room idle and settled."
        )
    finally:
        rig.close()
    return result


def p2(folder: Path, sizes: tuple[int, ...] = (25, 50, 100, 200), repeats: int = 3) -> Result:
    count = max(sizes)
    rooms = {f"p{i:03d}": 3 for i in range(count)}
    clone = {f"p{i:03d}": f"q{i:03d}" for i in range(count)}
    rig = Rig(folder, rooms, clone)
    result = Result()
    try:
        template = rig.capture("p000")
        rig.start_responder({clone[r]: [(t.replace("p000-", f"{clone[r]}-"), p) for t, p in template] for r in rooms})
        rows, final = [], None
        for n in sizes:
            ours, base, lost = [], [], 0
            names = list(rooms)[:n]
            for _ in range(repeats):
                for baseline in (False, True):
                    targets = [clone[r] for r in names] if baseline else names
                    mark, t0 = rig.probe.mark(), time.perf_counter()
                    for room in targets:
                        rig.pub.publish(f"{'bench-base' if baseline else 'ambience'}/{room}/command", START)
                    got = rig.delivered(targets, mark, t0, timeout=30)
                    lost += sum(len(rig.devices[r]) for r in targets) - len(got)
                    if not baseline:
                        lost += rig.unconfirmed(names)
                    (base if baseline else ours).append(max(got.values()) - t0)
                    if not baseline:
                        rig.stop_and_settle(names, timeout=60)
            a, b = median(ours), median(base)
            rows.append([str(n), str(n * 3), ms(a), ms(b), f"{a / b:.2f}×", str(lost)])
            final = (n, a, b, lost)
        assert final is not None
        n, a, b, lost = final
        result.add(
            "P2", f"{n} rooms started in one MQTT burst → all {n * 3} device commands delivered (median of {repeats})",
            ms(a), ms(b), f"{a / b:.2f}×", "≤ 2×, 0 lost", a / b <= 2 and lost == 0,
        )  # fmt: skip
        result.growth.append(
            ("P2 by rooms in the burst", ["rooms", "commands", "ambience", "baseline", "ratio", "lost"], rows)
        )
    finally:
        rig.close()
    return result
