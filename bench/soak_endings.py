"""Endings under faults (issue 20): every scenario of the after-state issue (issue 12,
tests/test_endings.py) at random moments, 20 tries each — the after state must land every time.

    ./run soak --only endings           # 7 scenarios x 20 (about 5 minutes)
    endings(2)                          # a quick run: one round of 2 rooms per scenario

The rig is tests/test_endings.py's (ambience/testing/endings.py): a real mosquitto, the simulator
and ``ambience serve`` as a process, the valve found at 19 °C and the lamp at 80 %, sessions at
25 °C with ``after: restore``. To fit 140 tries in minutes, one rig holds up to :data:`ROOMS` rooms
alike and a scenario runs in rounds: each room is one try, its session started at a random moment
(so the one fault of the round — a kill, a full disk, a clock step — falls at a different point of
each room's ending), and the fault's own moment is drawn within the window that makes the scenario
what it is. Per room the after state must land: the valve back at 19 °C, the lamp at 80 %, the
ceiling off, and the session recorded ``completed``.

    crash          valve deaf at the end; SIGKILL or SIGTERM while it owes the after state
    unconfirmed    valve deaf at the end; a restart while its after state is unconfirmed
    back-to-back   valve deaf at the end; the next session starts while it owes the after state
    full-disk      the state directory's file system (a 3 MB tmpfs) full before the end
    locked-db      another program holds SQLite's write lock over the end
    poisoned       a report of an absurd setpoint (1e308) just before or during the session
    clock-step     the daemon's wall clock stepped 10 minutes forward (a long session must end
                   within 5 s) or back (a short one must not last longer) during the session
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from soaklib import Progress, Result, quiet

from ambience.testing import Mosquitto, MqttProbe
from ambience.testing.endings import FAKETIME, Rig, device_id, eventually, faketime_env, fill, make_rig

ROOMS = 10
"""Rooms per rig: tries run this many at once."""
SHORT = 4.0
SPREAD = 1.5
"""Rooms' sessions start up to this many seconds apart."""
PRESETS: dict[str, str | dict[str, Any]] = {
    "short": f"""
name: Short session
duration: {SHORT:g}s
climate: {{target: 25}}
lights: {{brightness: 20, color_temp: 2500, transition: 0s}}
after: restore
""",
}
Round = Callable[[Rig, list[str], random.Random, dict[str, Any]], dict[str, str | None]]


def endings(n: int = 20, *, seed: int = 8, rooms: int = ROOMS, progress: Progress = quiet) -> Result:
    """Each scenario ``n`` times, in rounds of up to ``rooms`` rooms."""
    result = Result("endings under faults")
    began = time.monotonic()
    per = max(1, min(rooms, n))
    with tempfile.TemporaryDirectory(prefix="ambience-soak-endings-") as tmp, Mosquitto() as broker:
        for name, (scenario, kind) in SCENARIOS.items():
            t = time.monotonic()
            rng = random.Random(f"endings-{name}-{seed}")
            held = tried = 0
            try:
                with _rigs(broker, Path(tmp) / name, per, kind) as (make, skip):
                    if skip:
                        result.fail(f"{name}: not run: {skip}")
                        tried = n
                    else:
                        rig = make()
                        context: dict[str, Any] = {}
                        left = n
                        while left > 0:
                            batch = rig.rooms[: min(per, left)]
                            try:
                                seen = scenario(rig, batch, rng, context)
                            except Exception as e:  # noqa: BLE001 - the round failed as a whole
                                seen = dict.fromkeys(batch, f"the round failed: {type(e).__name__}: {e}")
                                rig.stop()
                                rig = make()  # a fresh rig for the next round
                                context.clear()
                            for room, problem in seen.items():
                                tried += 1
                                if problem is None:
                                    held += 1
                                else:
                                    result.fail(f"{name} try {tried} ({room}): {problem}")
                            left -= len(batch)
                            progress(f"endings {name}: {held}/{tried} landed")
                        rig.stop()
            except Exception as e:  # noqa: BLE001 - the rig itself could not be made
                result.fail(f"{name}: {type(e).__name__}: {e}")
                tried = n
            result.tried += tried
            result.held += held
            result.check(f"{name}: after state landed", held, tried)
            result.details.append(f"{name}: {time.monotonic() - t:.0f} s")
    result.seconds = time.monotonic() - began
    return result


@contextmanager
def _rigs(broker: Mosquitto, folder: Path, rooms: int, kind: str) -> Iterator[tuple[Callable[[], Rig], str | None]]:
    """A maker of fresh rigs for the scenario's kind (``plain``, ``disk`` on a tmpfs, ``clock`` with
    libfaketime), and why it cannot run here (or None)."""
    folder.mkdir(parents=True)
    made = [0]
    mount: Path | None = None
    env: dict[str, str] = {}
    skip: str | None = None
    if kind == "disk":
        if os.geteuid() != 0 or shutil.which("mount") is None:
            skip = "a full disk is simulated with a small tmpfs, which needs root"
        else:
            mount = folder / "disk"
            mount.mkdir()
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
            if done.returncode != 0:
                skip, mount = f"cannot mount a tmpfs here: {done.stderr.decode().strip()}", None
    if kind == "clock":
        if FAKETIME is None:
            skip = "libfaketime is not installed (apt-get install faketime)"
        else:
            (folder / "faketime").write_text("+0\n")
            env = faketime_env(folder / "faketime")

    def make() -> Rig:
        made[0] += 1
        root = folder / f"rig{made[0]}"
        state = None if mount is None else mount / f"state{made[0]}"
        rig = make_rig(broker, root, env=env, state_dir=state, rooms=rooms, presets=PRESETS)
        rig.offset = folder / "faketime"  # type: ignore[attr-defined]
        rig.mount = mount  # type: ignore[attr-defined]
        try:
            rig.start_daemon()
        except BaseException:
            rig.stop()
            raise
        return rig

    try:
        yield make, skip
    finally:
        if mount is not None:
            subprocess.run(["umount", "-l", str(mount)], check=False)


# ---- the pieces of a round -----------------------------------------------------------------------


def _start(rig: Rig, rooms: list[str], rng: random.Random, preset: str = "short", then=None) -> dict[str, float]:
    """Start each room's session a random moment apart (in a random order); when each started."""
    order = list(rooms)
    rng.shuffle(order)
    offsets = sorted(rng.uniform(0.0, SPREAD) for _ in order)
    t0 = time.monotonic()
    starts: dict[str, float] = {}
    for room, at in zip(order, offsets, strict=True):
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        starts[room] = time.monotonic()
        rig.session(preset, room)
        if then is not None:
            then(room)
    return starts


def _history(rig: Rig, rooms: list[str]) -> dict[str, tuple[int, int]]:
    """Per room: how many sessions the history holds, and how many of them completed."""
    return {room: _counts(rig.outcomes(room)) for room in rooms}


def _counts(outcomes: list[str]) -> tuple[int, int]:
    return len(outcomes), outcomes.count("completed")


def _landed(rig: Rig, room: str, before: tuple[int, int], sessions: int = 1, timeout: float = 10.0) -> str | None:
    """None once the room's after state is on the devices and its sessions are in the history as completed."""
    try:
        rig.assert_restored(timeout, room)
    except TimeoutError as e:
        return f"after state not on the devices: {e}"
    try:
        eventually(lambda: len(rig.outcomes(room)) >= before[0] + sessions, 10)
    except Exception:  # noqa: BLE001
        return f"history has {len(rig.outcomes(room)) - before[0]} new sessions, expected {sessions}"
    total, completed = _counts(rig.outcomes(room))
    if (total - before[0], completed - before[1]) != (sessions, sessions):
        return (
            f"{total - before[0]} new sessions in the history, {completed - before[1]} completed; expected {sessions}"
        )
    return None


def _all_idle(rig: Rig, rooms: list[str], timeout: float = 15.0) -> None:
    for room in rooms:
        rig.wait_idle(timeout, room)


def _valve(rig: Rig, room: str) -> dict[str, Any]:
    return next(d for d in rig.daemon.room(room)["devices"] if d["id"] == device_id(room, "trv"))


# ---- the scenarios -------------------------------------------------------------------------------


def crash(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """The valve deaf at the end; the daemon killed (or stopped) while it owes the after state, away a while."""
    before = _history(rig, rooms)
    _start(rig, rooms, rng, then=lambda room: rig.mute_valve(True, room))
    _all_idle(rig, rooms)
    for room in rooms:  # only the valve owes it (the lights took it)
        trv = device_id(room, "trv")
        owed = eventually(
            lambda room=room, trv=trv: (o := rig.daemon.room(room)["owed"]) and [x["device"] for x in o] == [trv] and o,
            5,
        )
        assert owed[0]["state"]["target"] == 19, owed
    time.sleep(rng.uniform(0.0, 2.5))  # the moment: anywhere while it owes it
    rig.daemon.kill() if rng.random() < 0.5 else rig.daemon.stop()
    time.sleep(rng.uniform(0.5, 3.0))  # ambience away
    seen: dict[str, str | None] = {}
    for room in rooms:
        rig.mute_valve(False, room)
        target = rig.sim.device(room, device_id(room, "trv"))["target"]
        seen[room] = None if target == 25 else f"the valve was put to {target} while ambience was away"
    rig.start_daemon()
    for room in rooms:
        seen[room] = seen[room] or _landed(rig, room, before[room])
        if seen[room] is None:
            try:
                eventually(lambda room=room: rig.daemon.room(room)["owed"] == [], 5)
            except Exception:  # noqa: BLE001
                seen[room] = f"still owed after landing: {rig.daemon.room(room)['owed']}"
    return seen


def unconfirmed(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """The valve deaf at the end; a restart (an upgrade, a reboot) while its after state is unconfirmed."""
    before = _history(rig, rooms)
    _start(rig, rooms, rng, then=lambda room: rig.mute_valve(True, room))
    _all_idle(rig, rooms)
    for room in rooms:
        eventually(lambda room=room: rig.daemon.room(room)["owed"][0]["status"] == "unconfirmed", 10)
    time.sleep(rng.uniform(0.0, 3.0))  # the moment: any time after the old "settled" one
    rig.daemon.stop()
    for room in rooms:
        rig.mute_valve(False, room)
    rig.start_daemon()
    return {room: _landed(rig, room, before[room]) for room in rooms}


def back_to_back(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """The valve deaf at the end of A; B starts while it owes A's after state; the valve hears again during B."""
    before = _history(rig, rooms)
    _start(rig, rooms, rng, then=lambda room: rig.mute_valve(True, room))
    _all_idle(rig, rooms)
    for room in rooms:
        eventually(lambda room=room: _valve(rig, room)["status"] == "unconfirmed", 10)
        eventually(lambda room=room: all(d["status"] != "pending" for d in rig.daemon.room(room)["devices"]), 10)
    time.sleep(rng.uniform(0.0, 1.5))  # every device confirmed or given up on for now
    starts = _start(rig, rooms, rng)  # session B, the valves still deaf and at 25
    hears = {room: starts[room] + rng.uniform(0.3, SHORT - 1.0) for room in rooms}  # deaf until a moment in B
    for room in sorted(rooms, key=hears.__getitem__):
        time.sleep(max(0.0, hears[room] - time.monotonic()))
        rig.mute_valve(False, room)
    _all_idle(rig, rooms)
    return {room: _landed(rig, room, before[room], sessions=2) for room in rooms}


def full_disk(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """The state directory's disk full from a moment in the session on (over every room's end)."""
    before = _history(rig, rooms)
    starts = _start(rig, rooms, rng)
    first_end = min(starts.values()) + SHORT
    time.sleep(max(0.0, rng.uniform(time.monotonic(), first_end - 0.3) - time.monotonic()))
    filler = fill(rig.mount)  # type: ignore[attr-defined]
    seen: dict[str, str | None] = {}
    try:
        for room in rooms:
            try:
                rig.assert_restored(14, room)
            except TimeoutError as e:
                seen[room] = f"after state not on the devices with the disk full: {e}"
                continue
            if not rig.daemon.room(room)["store_error"]:
                seen[room] = "no store error shown with the disk full"
        room = rooms[0]
        refused = rig.daemon.api("POST", f"/api/rooms/{room}/start", {"preset": "short"}, expect=503)
        if not ("store" in refused["error"] and "full" in refused["error"]):
            seen[room] = seen.get(room) or f"a start on a full disk answered {refused}"
        time.sleep(1)  # a refused start must not happen a moment later either
        if rig.daemon.room(room)["state"] != "idle" or rig.sim.device(room, device_id(room, "trv"))["target"] != 19:
            seen[room] = seen.get(room) or "a refused start changed the room"
    finally:
        filler.unlink()
    for room in rooms:
        try:
            eventually(lambda room=room: rig.daemon.room(room)["store_error"] is None, 10)
        except Exception:  # noqa: BLE001
            seen[room] = seen.get(room) or "the store error stayed after the disk had room again"
        seen[room] = seen.get(room) or _landed(rig, room, before[room])
    return seen


def locked_db(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """Another program holds SQLite's write lock from a moment in the session until after the ends."""
    before = _history(rig, rooms)
    starts = _start(rig, rooms, rng)
    first_end = min(starts.values()) + SHORT
    db = sqlite3.connect(str(rig.daemon.state_dir / "ambience.db"), isolation_level=None, timeout=10)
    seen: dict[str, str | None] = {}
    try:
        time.sleep(max(0.0, rng.uniform(time.monotonic(), first_end - 0.3) - time.monotonic()))
        db.execute("BEGIN IMMEDIATE")
        for room in rooms:
            try:
                rig.assert_restored(12, room)
                eventually(lambda room=room: "locked" in (rig.daemon.room(room)["store_error"] or ""), 5)
            except Exception as e:  # noqa: BLE001
                seen[room] = f"with the database locked: {type(e).__name__}: {e}"
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
    for room in rooms:
        if room in seen:
            continue
        try:
            eventually(lambda room=room: rig.daemon.room(room)["store_error"] is None, 10)
        except Exception:  # noqa: BLE001
            seen[room] = "the store error stayed after the lock was gone"
            continue
        seen[room] = _landed(rig, room, before[room])
    return seen


def poisoned(rig: Rig, rooms: list[str], rng: random.Random, _: dict[str, Any]) -> dict[str, str | None]:
    """A report of an absurd setpoint on each valve, from just before its session to its last second."""
    before = _history(rig, rooms)
    with MqttProbe(rig.broker) as probe:
        poison = {room: rng.uniform(-1.0, SHORT - 1.0) for room in rooms}  # relative to the room's start
        early = [r for r in rooms if poison[r] < 0]

        def publish(room: str) -> None:
            probe.publish(
                f"zigbee2mqtt/{device_id(room, 'trv')}", '{"occupied_heating_setpoint": 1e308, "system_mode": "heat"}'
            )

        for room in sorted(early, key=poison.__getitem__):
            publish(room)
        time.sleep(-min([poison[r] for r in early], default=0.0))
        starts = _start(rig, rooms, rng)
        late = [r for r in rooms if poison[r] >= 0]
        for room in sorted(late, key=lambda r: starts[r] + poison[r]):
            time.sleep(max(0.0, starts[room] + poison[room] - time.monotonic()))
            publish(room)
    _all_idle(rig, rooms)
    return {room: _landed(rig, room, before[room]) for room in rooms}


def clock_step(rig: Rig, rooms: list[str], rng: random.Random, context: dict[str, Any]) -> dict[str, str | None]:
    """Rounds alternate: 10 minutes forward during long sessions (each must end within 5 s of the step),
    then back during short ones (none may last longer than its length and a retry's slack, 4 s)."""
    before = _history(rig, rooms)
    offset: Path = rig.offset  # type: ignore[attr-defined]
    forward = not context.get("ahead", False)
    seen: dict[str, str | None] = {}
    if forward:
        starts = _start(rig, rooms, rng, preset="long")
        time.sleep(rng.uniform(0.5, 5.0))
        offset.write_text("+600\n")
        context["ahead"] = True
        stepped = time.monotonic()
        for room in rooms:
            try:
                rig.sim.wait_for(
                    room,
                    device_id(room, "trv"),
                    lambda s: s["target"] == 19,
                    timeout=max(0.1, stepped + 8 - time.monotonic()),
                )
            except TimeoutError:
                seen[room] = "the valve not back at 19 °C within 8 s of a step forward"
                continue
            took = time.monotonic() - stepped
            seen[room] = None if took <= 5.0 else f"the heating ended {took:.1f} s after a step forward (≤ 5 s)"
    else:
        starts = _start(rig, rooms, rng)
        first_end = min(starts.values()) + SHORT
        time.sleep(max(0.0, rng.uniform(time.monotonic(), first_end - 0.3) - time.monotonic()))
        offset.write_text("+0\n")  # 10 minutes back
        context["ahead"] = False
        for room in rooms:
            try:
                rig.sim.wait_for(
                    room,
                    device_id(room, "trv"),
                    lambda s: s["target"] == 19,
                    timeout=max(0.1, starts[room] + SHORT + 8 - time.monotonic()),
                )
            except TimeoutError:
                seen[room] = "the valve not back at 19 °C after a step back"
                continue
            took = time.monotonic() - starts[room]
            seen[room] = None if took <= SHORT + 4 else f"a {SHORT:g} s session lasted {took:.1f} s after a step back"
    _all_idle(rig, rooms)
    for room in rooms:
        seen[room] = seen[room] or _landed(rig, room, before[room])
    return seen


SCENARIOS: dict[str, tuple[Round, str]] = {
    "crash": (crash, "plain"),
    "unconfirmed": (unconfirmed, "plain"),
    "back-to-back": (back_to_back, "plain"),
    "full-disk": (full_disk, "disk"),
    "locked-db": (locked_db, "plain"),
    "poisoned": (poisoned, "plain"),
    "clock-step": (clock_step, "clock"),
}
