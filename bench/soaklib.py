"""The fault soak (issue 8): four kinds of fault, each counted as *held / tried*.

    broker_kills      the broker SIGKILLed and restarted during sessions; the daemon's MQTT
                      connection back within 3 s each time, and every simulated device in its
                      desired state at the end
    daemon_kills      ``ambience serve`` SIGKILLed during sessions and restarted after a random
                      downtime; each session resumes with the right remaining time, or (ended while
                      down) gets its after state and a ``recovered`` history entry; 10,000 stored
                      bookings all still there at the end
    fuzzed_commands   10,000 invalid commands over MQTT and HTTP (soak_fuzz.py): no crash, no state
                      change, every one answered with an error that names the problem
    malformed_files   1,000 malformed presets and configs (soak_files.py): each refused naming the
                      file and the field; the valid ones still load

Each function returns a :class:`Result`. ``bench/soak.py`` runs them and prints the table;
``tests/test_soak.py`` (marked slow) runs each with the same defaults. Everything runs against
real processes: a private mosquitto, the device simulator and ``ambience serve`` (the harness of
:mod:`ambience.testing`). See docs/soak.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ambience.config import Config, parse_config
from ambience.config.sections import HttpConfig
from ambience.simulator import Simulator
from ambience.testing import DaemonProcess, Mosquitto, MqttProbe, eventually

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {"kills": 20, "sigkills": 20, "bookings": 10_000, "commands": 10_000, "files": 1_000, "seed": 8}
"""The contract of issue 8; ``bench/soak.py`` takes each as an option to run a quicker soak."""

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


@dataclass
class Result:
    """One fault: how often it was tried and held, the secondary checks and what went wrong."""

    name: str
    held: int = 0
    tried: int = 0
    checks: list[tuple[str, int, int]] = field(default_factory=list)
    """Further counts that must be whole, e.g. ("devices in desired state", 7, 7)."""
    notes: list[str] = field(default_factory=list)
    """Short remarks for the table (timings, what was seen)."""
    details: list[str] = field(default_factory=list)
    """Longer ones printed under the table (e.g. how many of each kind were tried)."""
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        whole = all(n == m for _, n, m in self.checks)
        return self.tried > 0 and self.held == self.tried and whole and not self.failures

    def check(self, label: str, n: int, m: int) -> None:
        self.checks.append((label, n, m))

    def fail(self, text: str) -> None:
        self.failures.append(text)

    def report(self) -> str:
        lines = [f"{self.name}: {self.held} / {self.tried} held in {self.seconds:.0f} s"]
        lines += [f"  {label}: {n} / {m}" for label, n, m in self.checks]
        lines += [f"  {note}" for note in self.notes + self.details]
        lines += [f"  FAILED {text}" for text in self.failures[:30]]
        if len(self.failures) > 30:
            lines.append(f"  … and {len(self.failures) - 30} more failures")
        return "\n".join(lines)


# ---- the rig: a broker, the simulated devices and ambience serve --------------------------------

BASE = "soak"
SESSION_ROOMS = ("studio", "garden")
CONFIG = """\
mqtt: {{url: '{url}', base_topic: {base}}}
presets: [builtin, presets]
music: [music]
state_dir: state
http: {{port: 0}}
reconcile: {{ack_timeout: 0.5s, max_tries: 4, slow_retry: 5s}}
bookings: {{timezone: UTC}}
rooms:
  studio:
    name: Treatment room 1
    thermostat: {{bridge: zigbee2mqtt, device: studio-trv}}
    lights:
      - {{bridge: zigbee2mqtt, device: studio-ceiling, role: ceiling}}
      - {{bridge: tasmota, device: studio-lamp, role: lamp}}
      - {{bridge: shelly, device: shellydimmer2-studio, role: floor}}
    speaker: null
  garden:
    name: Garden room
    thermostat: {{bridge: esphome, device: garden-node, object_id: heater}}
    lights:
      - {{bridge: esphome, device: garden-lamp, object_id: lamp, role: lamp}}
      - bridge: homeassistant
        device: garden-ceiling
        role: ceiling
        command_topic: homeassistant-lights/garden-ceiling/set
        state_topic: homeassistant-lights/garden-ceiling/state
        availability_topic: homeassistant-lights/garden-ceiling/availability
    speaker: null
  suite:
    name: Suite (bookings only, no devices)
    speaker: null
"""
INITIAL = {
    "studio-trv": {"target": 19, "mode": "heat", "local_temperature": 19},
    "studio-ceiling": {"on": False, "brightness": 0},
    "studio-lamp": {"on": True, "brightness": 80, "color_temp": 4000},
    "shellydimmer2-studio": {"on": False, "brightness": 0},
    "garden-node": {"target": 18, "mode": "heat", "local_temperature": 18},
    "garden-lamp": {"on": True, "brightness": 60, "color_temp": 3000},
    "garden-ceiling": {"on": False, "brightness": 0},
}
PRESETS = {
    # broker kills: a change every 3 s for 12 s (commands in flight at any moment), then steady
    "soak-wave": """
name: Soak wave
duration: 40s
climate: {target: 22}
lights: {brightness: 30, color_temp: 2700, transition: 1s}
phases:
  - {name: a, at: 0s, lights: {brightness: 40, color_temp: 2700}, climate: {target: 22}}
  - {name: b, at: 3s, lights: {brightness: 60, color_temp: 3000}, climate: {target: 23}}
  - name: c
    at: 6s
    lights: {brightness: 20, color_temp: 2500, roles: {ceiling: {state: 'off'}}}
    climate: {target: 24}
  - name: d
    at: 9s
    lights: {brightness: 50, color_temp: 3500, roles: {ceiling: {state: 'on'}}}
    climate: {target: 21}
  - {name: e, at: 12s, lights: {brightness: 35, color_temp: 2800, transition: 2s}, climate: {target: 22.5}}
after: {lights: {brightness: 80, color_temp: 4000, transition: 0s}, climate: {target: 18, mode: heat}}
""",
    # daemon kills: a plain session whose after state is unmistakable on the devices
    "soak-kill": """
name: Soak kill
duration: 10s
climate: {target: 25}
lights: {brightness: 30, color_temp: 2700, transition: 0s}
after: {lights: {brightness: 90, color_temp: 4000, transition: 0s}, climate: {target: 17, mode: heat}}
""",
    # fuzz: nothing changes by itself for two hours
    "soak-steady": """
name: Soak steady
duration: 2h
climate: {target: 23}
lights: {brightness: 45, color_temp: 3000, transition: 0s}
after: restore
""",
}
AFTER_KILL = {
    "light": {"on": True, "brightness": 90.0, "color_temp": 4000},
    "climate": {"target": 17.0, "mode": "heat"},
}


class Rig:
    """A private mosquitto, simulated devices for :data:`CONFIG` and ``ambience serve`` (not started yet)."""

    def __init__(self, folder: Path, *, sim_tick: float = 0.2):
        self.folder = folder
        self.sim_tick = sim_tick
        self.config_file = folder / "ambience.yaml"
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Rig:
        try:
            self.broker: Mosquitto = self._stack.enter_context(Mosquitto())
            (self.folder / "presets").mkdir()
            for name, text in PRESETS.items():
                (self.folder / "presets" / f"{name}.yaml").write_text(text, encoding="utf-8")
            text = CONFIG.format(url=self.broker.url, base=BASE)
            self.config_file.write_text(text, encoding="utf-8")
            self.config: Config = parse_config(text, str(self.config_file), self.folder)
            self.sim: Simulator = self._stack.enter_context(Simulator(self.config, tick=self.sim_tick, initial=INITIAL))
            self.daemon = DaemonProcess(self.config_file, self.folder / "state")
            self._stack.callback(self.daemon.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def client(self, token: str | None = None, *, auth: bool = True) -> httpx.Client:
        """HTTP with keep-alive to the daemon (a new one after each restart).

        TCP_NODELAY on our side too: httpx writes a request's headers and body apart, and
        Nagle's algorithm may hold the body until the daemon's delayed ACK (~40 ms).
        """
        headers = {"Authorization": f"Bearer {token or self.daemon.token()}"} if auth else {}
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        return httpx.Client(base_url=self.daemon.url, headers=headers, timeout=20, transport=transport)

    def wait_reported(self, api: httpx.Client, timeout: float = 10.0) -> None:
        """Until the daemon has heard every device (so a session's snapshot is whole)."""

        def silent() -> list[str]:
            return [d["id"] for r in api.get("/api/rooms").json() for d in r["devices"] if d["reported"] is None]

        eventually(lambda: not silent(), timeout, 0.1, describe=lambda: f"the daemon heard nothing from {silent()}")

    def log_problems(self) -> list[str]:
        """Tracebacks and ERROR lines in the daemon's log (all its runs)."""
        try:
            lines = self.daemon.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if " ERROR " in line or line.startswith("Traceback")]

    def check_log(self, result: Result) -> None:
        """No traceback in the daemon's log; if anything failed, keep the log (the folder goes)."""
        tracebacks = [line for line in self.log_problems() if line.startswith("Traceback")]
        result.check("daemon log free of tracebacks", 0 if tracebacks else 1, 1)
        if (tracebacks or result.failures) and self.daemon.log.exists():
            kept = Path(tempfile.gettempdir()) / f"ambience-soak-{result.name.replace(' ', '-')}-{os.getpid()}.log"
            shutil.copyfile(self.daemon.log, kept)
            result.notes.append(f"the daemon's log is kept in {kept}")


@contextlib.contextmanager
def _rig(prefix: str) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix=f"ambience-soak-{prefix}-") as tmp, Rig(Path(tmp)) as rig:
        yield rig


def start_session(api: httpx.Client, room: str, preset: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/api/rooms/{room}/start", json={"preset": preset, "replace": True, **body})
    if response.status_code != 200:
        raise RuntimeError(f"starting {preset} in {room}: {response.status_code} {response.text}")
    return response.json()


# ---- devices: the simulator's truth against the daemon's desired state ------------------------------


NO_COLOUR_TEMPERATURE = {"shelly"}
"""Bridges whose lights are dimmers: the simulator keeps a colour temperature they never change."""


def differs(desired: dict[str, Any] | None, snap: dict[str, Any]) -> str | None:
    """Why the simulated device is not in ``desired`` (tolerances as the reconciler's), or None."""
    if desired is None:
        return None
    if "target" in desired:
        if snap.get("target") is None or abs(snap["target"] - desired["target"]) > 0.26:
            return f"target {snap.get('target')} °C, desired {desired['target']}"
        if desired.get("mode") and snap.get("mode") != desired["mode"]:
            return f"mode {snap.get('mode')}, desired {desired['mode']}"
        return None
    if bool(snap.get("on")) != bool(desired["on"]):
        return f"on={snap.get('on')}, desired on={desired['on']}"
    if desired["on"]:
        if abs(snap["brightness"] - desired["brightness"]) > 1.5:
            return f"brightness {snap['brightness']} %, desired {desired['brightness']}"
        want, got = desired.get("color_temp"), snap.get("color_temp")
        if want and got and snap.get("bridge") not in NO_COLOUR_TEMPERATURE and abs(1e6 / got - 1e6 / want) > 3:
            return f"colour temperature {got} K, desired {want}"
    return None


def wrong_devices(api: httpx.Client, sim: Simulator, rooms: tuple[str, ...] | None = None) -> tuple[int, list[str]]:
    """(devices looked at, what is wrong): the simulated device differs, or the daemon does not say confirmed."""
    total, wrong = 0, []
    for status in api.get("/api/rooms").json():
        if rooms is not None and status["room"] not in rooms:
            continue
        for dev in status["devices"]:
            total += 1
            why = differs(dev["desired"], sim.device(status["room"], dev["id"]))
            if why is None and dev["desired"] is not None and dev["status"] != "confirmed":
                why = f"the daemon shows it {dev['status']}"
            if why:
                wrong.append(f"{status['room']}/{dev['id']}: {why}")
    return total, wrong


def settle(
    api: httpx.Client, sim: Simulator, timeout: float, rooms: tuple[str, ...] | None = None
) -> tuple[int, list[str]]:
    """Poll until every device is right three times in a row (fades end), or ``timeout``."""
    deadline = time.monotonic() + timeout
    clean = 0
    while True:
        total, wrong = wrong_devices(api, sim, rooms)
        clean = clean + 1 if not wrong else 0
        if clean >= 3 or time.monotonic() > deadline:
            return total, wrong
        time.sleep(0.3)


# ---- 1. broker kills ------------------------------------------------------------------------------


def time_to_online(broker: Mosquitto, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` until ``<base>/status`` says ``online`` (None: not within ``timeout``).

    The broker has no persistence, so after a restart the only ``online`` there can be is the one
    the daemon publishes on reconnecting; a fresh subscriber gets it retained or live. Its arrival
    time is an upper bound of the reconnect.
    """
    with MqttProbe(broker, f"{BASE}/status", timeout=timeout) as probe:
        try:
            message = probe.wait_for(lambda m: m.payload == b"online", timeout=timeout)
        except AssertionError:
            return None
    return message.time - since


def broker_kills(
    kills: int = DEFAULTS["kills"], *, seed: int = DEFAULTS["seed"], within: float = 3.0, progress: Progress = quiet
) -> Result:
    result = Result("broker kills")
    rng = random.Random(f"broker-{seed}")
    began = time.monotonic()
    with _rig("broker") as rig:
        rig.daemon.start()
        with rig.client() as api:
            rig.wait_reported(api)
            for room in SESSION_ROOMS:
                start_session(api, room, "soak-wave")
            took_all: list[float] = []
            for i in range(kills):
                time.sleep(rng.uniform(0.3, 2.5))
                idle = [
                    r["room"]
                    for r in api.get("/api/rooms").json()
                    if r["room"] in SESSION_ROOMS and r["state"] == "idle"
                ]
                for room in idle or ([rng.choice(SESSION_ROOMS)] if rng.random() < 0.4 else []):
                    start_session(api, room, "soak-wave")  # fresh commands in flight at the kill
                rig.broker.kill()
                down = rng.uniform(0.2, 3.0)
                gone = time.monotonic()
                if rng.random() < 0.5:  # a command while the broker is away: it must reach the devices later
                    time.sleep(rng.uniform(0.0, down))
                    room = rng.choice(SESSION_ROOMS)
                    if rng.random() < 0.5:
                        start_session(api, room, "soak-wave")
                    else:
                        api.post(f"/api/rooms/{room}/extend", json={"by": "5s"})
                time.sleep(max(0.0, down - (time.monotonic() - gone)))
                rig.broker.start()
                back = time.monotonic()
                took = time_to_online(rig.broker, back, timeout=within + 10)
                result.tried += 1
                if took is not None and took <= within:
                    result.held += 1
                    took_all.append(took)
                else:
                    shown = "never (10 s)" if took is None else f"{took:.2f} s"
                    result.fail(f"kill {i + 1}: down {down:.1f} s, connection back after {shown}")
                progress(
                    f"broker kill {i + 1}/{kills}: down {down:.1f} s, back after {took if took is None else round(took, 2)} s"
                )
            total, wrong = settle(api, rig.sim, timeout=30.0)
            result.check("devices in desired state", total - len(wrong), total)
            result.failures += [f"device not in its desired state: {w}" for w in wrong]
        if took_all:
            took_all.sort()
            result.notes.append(
                f"connection back in median {took_all[len(took_all) // 2]:.2f} s, max {took_all[-1]:.2f} s"
            )
        rig.check_log(result)
    result.seconds = time.monotonic() - began
    return result


# ---- 2. daemon SIGKILLs ---------------------------------------------------------------------------


@dataclass
class Session:
    room: str
    started: float
    ends: float
    """Wall-clock end computed from the start and the length: nothing pauses while the daemon is down."""


def add_bookings(config: Config, count: int) -> set[str]:
    """``count`` future bookings in the suite, one an hour from the day after tomorrow, in-process."""
    from ambience.daemon import Daemon

    async def add() -> set[str]:
        daemon = Daemon(config.model_copy(update={"http": HttpConfig(enabled=False)}), players=False)
        await daemon.start()
        try:
            first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
            with daemon.bookings.batch():
                made = [
                    daemon.bookings.book("suite", "express-30", first + timedelta(hours=i), lead=600)
                    for i in range(count)
                ]
            return {b.id for b in made}
        finally:
            await daemon.stop()

    return asyncio.run(add())


def _history_entry(api: httpx.Client, s: Session) -> dict[str, Any] | None:
    for entry in api.get("/api/history", params={"room": s.room, "limit": 50}).json():
        if abs(entry["started_at"] - s.started) < 1.5:
            return entry
    return None


def _after_state_shown(api: httpx.Client, sim: Simulator, room: str, timeout: float = 8.0) -> str | None:
    """None once every device of the room shows the soak-kill after state; else what is wrong."""
    deadline = time.monotonic() + timeout
    while True:
        wrong = []
        for dev in api.get(f"/api/rooms/{room}").json()["devices"]:
            snap = sim.device(room, dev["id"])
            why = differs(AFTER_KILL["climate" if dev["role"] == "thermostat" else "light"], snap)
            if why:
                wrong.append(f"{dev['id']}: {why}")
        if not wrong or time.monotonic() > deadline:
            return "; ".join(wrong) or None
        time.sleep(0.2)


def check_session(
    api: httpx.Client, sim: Simulator, s: Session, spawned: float, within: float
) -> tuple[str, str | None]:
    """After a restart: ('resumed' | 'recovered' | 'ended', what is wrong or None).

    ``spawned`` is when the new process was started: a session that ended before must be
    ``recovered``; one that ended while the daemon was starting may be either.
    """
    status = api.get(f"/api/rooms/{s.room}").json()
    left = s.ends - time.time()
    if status["state"] == "running" and status["preset"] == "soak-kill" and status["started_at"]:
        if abs(datetime.fromisoformat(status["started_at"]).timestamp() - s.started) < 1.5:
            if abs(status["remaining_s"] - left) <= within:
                return "resumed", None
            return "resumed", f"{s.room}: {status['remaining_s']} s left, should be {left:.1f} s"
    if left > within:
        return "resumed", f"{s.room}: {status['state']} ({status['preset']}) with {left:.1f} s of the session left"
    # ended: while the daemon was down (recovered), or in the moment after it came back (completed)
    deadline = time.monotonic() + 5
    while (entry := _history_entry(api, s)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    kind = "recovered" if s.ends < spawned else "ended"
    if entry is None:
        return kind, f"{s.room}: the session ended {-left:.1f} s ago but is not in the history"
    allowed = {"recovered"} if kind == "recovered" else {"recovered", "completed"}
    if entry["outcome"] not in allowed:
        return kind, f"{s.room}: history says {entry['outcome']!r}, expected {' or '.join(sorted(allowed))}"
    wrong = _after_state_shown(api, sim, s.room)
    return kind, (f"{s.room}: after state not applied: {wrong}" if wrong else None)


def daemon_kills(
    kills: int = DEFAULTS["sigkills"],
    *,
    bookings: int = DEFAULTS["bookings"],
    seed: int = DEFAULTS["seed"],
    within: float = 2.0,
    progress: Progress = quiet,
) -> Result:
    result = Result("daemon SIGKILLs")
    rng = random.Random(f"sigkill-{seed}")
    began = time.monotonic()
    with _rig("sigkill") as rig:
        t = time.monotonic()
        booked = add_bookings(rig.config, bookings)
        progress(f"{len(booked)} bookings added in {time.monotonic() - t:.1f} s")
        rig.daemon.start()
        api = rig.client()
        kinds: dict[str, int] = {"resumed": 0, "recovered": 0, "ended": 0}
        starts: list[float] = []
        try:
            rig.wait_reported(api)
            running: dict[str, Session] = {}
            for i in range(kills):
                room = SESSION_ROOMS[i % len(SESSION_ROOMS)]
                length = round(rng.uniform(4.0, 16.0), 1)
                asked = time.time()
                # in seconds: a bare number is minutes (docs/units.md)
                status = start_session(api, room, "soak-kill", duration=f"{length}s")
                answered = time.time()
                ends = (asked + answered) / 2 + status["remaining_s"]
                running[room] = Session(room, ends - length, ends)
                time.sleep(rng.uniform(0.3, min(length - 0.3, 5.0)))
                rig.daemon.kill()
                killed = time.time()
                down = rng.uniform(0.5, 6.0)
                time.sleep(down)
                t, spawned = time.monotonic(), time.time()
                rig.daemon.start()
                starts.append(time.monotonic() - t)
                api.close()
                api = rig.client()
                problems = []
                for s in [s for s in running.values() if s.ends > killed]:
                    kind, problem = check_session(api, rig.sim, s, spawned, within)
                    kinds[kind] += 1
                    if problem:
                        problems.append(problem)
                    if kind != "resumed":
                        del running[s.room]
                result.tried += 1
                if problems:
                    result.failures += [f"kill {i + 1} (down {down:.1f} s): {p}" for p in problems]
                else:
                    result.held += 1
                progress(f"daemon kill {i + 1}/{kills}: down {down:.1f} s, {'held' if not problems else problems}")
            listed = api.get("/api/bookings").json()
            ids = {b["id"] for b in listed}
            result.check("bookings still there", len(ids & booked), len(booked))
            if len(listed) != len(booked):
                result.fail(f"{len(listed)} bookings listed after the kills, {len(booked)} were added")
        finally:
            api.close()
        result.notes.append(
            f"sessions checked: {kinds['resumed']} resumed, {kinds['recovered']} ended while down (recovered), "
            f"{kinds['ended']} ended as the daemon came back"
        )
        if starts:
            result.notes.append(f"restart until /healthz answers: max {max(starts):.2f} s with {bookings} bookings")
        rig.check_log(result)
    result.seconds = time.monotonic() - began
    return result


# ---- 3. fuzzed commands, 4. malformed files: in their own modules ---------------------------------


def fuzzed_commands(
    commands: int = DEFAULTS["commands"], *, seed: int = DEFAULTS["seed"], progress: Progress = quiet
) -> Result:
    from soak_fuzz import run_fuzz

    began = time.monotonic()
    with _rig("fuzz") as rig:
        result = run_fuzz(rig, commands, seed, progress)
    result.seconds = time.monotonic() - began
    return result


def malformed_files(
    files: int = DEFAULTS["files"], *, seed: int = DEFAULTS["seed"], progress: Progress = quiet
) -> Result:
    from soak_files import run_files

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ambience-soak-files-") as tmp:
        result = run_files(Path(tmp), files, seed, progress)
    result.seconds = time.monotonic() - began
    return result
