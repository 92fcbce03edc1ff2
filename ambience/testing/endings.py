"""The rig of the after-state scenarios (issue 12, tests/test_endings.py; the endings soak, bench/soak_endings.py).

A real mosquitto (given), the simulator and ``ambience serve`` as a process, for a room — or several
alike, so a soak can run one fault over many rooms at once. The first room is ``studio`` with
:data:`~ambience.testing.clinic.STUDIO`'s devices (``trv``, ``ceiling``, ``lamp``), found as
:data:`~ambience.testing.clinic.FOUND`; room ``rN`` has the same devices named ``rN-trv`` …
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ambience.simulator import Simulator
from ambience.testing import waiting
from ambience.testing.clinic import FOUND, STUDIO, TINY, write_clinic
from ambience.testing.mosquitto import Mosquitto
from ambience.testing.process import DaemonProcess

T = TypeVar("T")

PRESETS: dict[str, str | dict[str, Any]] = {
    "tiny": TINY,
    "long": """
name: Long session
duration: 60s
climate: {target: 25}
lights: {brightness: 20, color_temp: 2500, transition: 0s}
after: restore
""",
}
RECONCILE: dict[str, Any] = {
    "ack_timeout": "0.3s",
    "max_tries": 3,
    "slow_retry": "2s",
    "thermostat_ack_timeout": "0.3s",
    "thermostat_max_tries": 3,
}

FAKETIME = next(
    (
        p
        for p in (
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
            "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        )
        if os.path.exists(p)
    ),
    None,
)
"""libfaketime, to step the daemon's wall clock (``faketime_env``); None if not installed."""


def eventually(predicate: Callable[[], T], timeout: float = 10.0) -> T:
    """Asked again on any error: the daemon restarting, a race with a write."""
    return waiting.eventually(predicate, timeout, ignoring=(Exception,))


def room_ids(count: int) -> list[str]:
    return ["studio"] + [f"r{i}" for i in range(2, count + 1)]


def device_id(room: str, kind: str) -> str:
    """``trv`` in the studio, ``r2-trv`` in room r2."""
    return kind if room == "studio" else f"{room}-{kind}"


class Rig:
    def __init__(
        self, broker: Mosquitto, sim: Simulator, daemon: DaemonProcess, root: Path, rooms: Sequence[str] = ("studio",)
    ):
        self.broker, self.sim, self.daemon, self.root = broker, sim, daemon, root
        self.rooms = list(rooms)

    def start_daemon(self) -> None:
        self.daemon.start()
        eventually(lambda: all(d["reported"] for room in self.rooms for d in self.daemon.room(room)["devices"]), 10)

    def session(self, preset: str = "tiny", room: str = "studio") -> None:
        self.daemon.api("POST", f"/api/rooms/{room}/start", {"preset": preset})
        self.sim.wait_for(room, device_id(room, "trv"), lambda s: s["target"] == 25, timeout=5)
        self.sim.wait_for(room, device_id(room, "lamp"), lambda s: abs(s["brightness"] - 20) < 2, timeout=5)

    def mute_valve(self, mute: bool = True, room: str = "studio") -> None:
        if mute:
            self.sim.set_faults(room, device_id(room, "trv"), mute=True)
        else:
            self.sim.set_faults(room, device_id(room, "trv"))

    def wait_idle(self, timeout: float = 15.0, room: str = "studio") -> None:
        eventually(lambda: self.daemon.room(room)["state"] == "idle", timeout)

    def assert_restored(self, timeout: float = 8.0, room: str = "studio") -> None:
        self.sim.wait_for(room, device_id(room, "trv"), lambda s: s["target"] == 19, timeout=timeout)
        self.sim.wait_for(
            room, device_id(room, "lamp"), lambda s: s["on"] and abs(s["brightness"] - 80) < 2, timeout=timeout
        )
        self.sim.wait_for(room, device_id(room, "ceiling"), lambda s: not s["on"], timeout=timeout)

    def outcomes(self, room: str = "studio") -> list[str]:
        return [h["outcome"] for h in self.daemon.api("GET", f"/api/history?room={room}")]

    def stop(self) -> None:
        self.daemon.stop()
        self.sim.stop()


def make_rig(
    broker: Mosquitto,
    root: Path,
    env: dict[str, str] | None = None,
    state_dir: Path | None = None,
    *,
    rooms: int = 1,
    presets: dict[str, str | dict[str, Any]] | None = None,
) -> Rig:
    """The rig (the simulator started, the daemon not yet) for ``rooms`` rooms alike."""
    ids = room_ids(rooms)
    config: dict[str, Any] = {}
    initial: dict[str, dict[str, Any]] = {}
    for room in ids:
        spec = copy.deepcopy(STUDIO)
        spec["thermostat"]["device"] = device_id(room, "trv")
        for light in spec["lights"]:
            light["device"] = device_id(room, light["device"])
        config[room] = spec
        initial.update({device_id(room, kind): dict(state) for kind, state in FOUND.items()})
    clinic = write_clinic(
        root, None if rooms == 1 else config, mqtt=broker.url, base_topic="amb", presets={**PRESETS, **(presets or {})},
        builtin=False, music=["music"], reconcile=RECONCILE,
    )  # fmt: skip
    sim = Simulator(clinic.config, tick=0.2, initial=initial).start()
    env = dict(env or {})
    if state_dir is not None:
        env["AMBIENCE_STATE_DIR"] = str(state_dir)
    return Rig(broker, sim, DaemonProcess(clinic.file, state_dir or clinic.state_dir, env=env), root, ids)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def faketime_env(offset: Path) -> dict[str, str]:
    """The daemon's wall clock at the offset written in ``offset`` (``+600``), its monotonic clock real."""
    assert FAKETIME is not None, "libfaketime is not installed (apt-get install faketime)"
    return {
        "LD_PRELOAD": FAKETIME,
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # a real step moves the wall clock only
    }
