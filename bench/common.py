"""What every benchmark shares: a private broker, a timestamping probe, configs, the daemon as a
process, and the raw-paho baseline responder.

Every time is taken in the bench process (``time.perf_counter`` for latencies, ``time.time`` where
the daemon's own wall clock is compared), so the daemon, the broker and the baseline are measured
on one clock.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.matcher import MQTTMatcher

from ambience.config import Config, parse_config
from ambience.infra.mqtt import set_no_delay
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto, find_mosquitto, free_port  # noqa: F401 (re-exported)
from ambience.testing.process import DaemonProcess  # noqa: F401  (re-exported for the benchmarks)

ROOT = Path(__file__).resolve().parent.parent

BENCH_PRESET = """\
name: Bench, every device on
description: Every light on at arrival and the thermostat set, so a start commands every device.
technique: other
duration: {duration}
climate: {{target: 24}}
lights: {{brightness: 40, color_temp: 2700, transition: 0s}}
{music}after: restore
"""

MUSIC = "music: {playlist: calm, volume: 40, fade_in: 1s, fade_out: 3s}\n"

# The bridges a six-device room mixes, as a clinic's rooms do; more devices repeat the cycle.
LIGHT_BRIDGES = ["zigbee2mqtt", "tasmota", "shelly", "esphome", "homeassistant"]


def light_entry(name: str, bridge: str, role: str) -> str:
    if bridge == "esphome":
        return f"{{bridge: esphome, device: {name}, object_id: lamp, role: {role}}}"
    if bridge == "homeassistant":
        return (
            f"{{bridge: homeassistant, device: {name}, role: {role}, command_topic: ha/{name}/set, "
            f"state_topic: ha/{name}/state, availability_topic: ha/{name}/availability}}"
        )
    if bridge == "shelly":
        return f"{{bridge: shelly, device: shellydimmer2-{name}, role: {role}}}"
    return f"{{bridge: {bridge}, device: {name}, role: {role}}}"


def room_yaml(room: str, devices: int, speaker: bool = False) -> str:
    """A room with a Zigbee2MQTT thermostat and ``devices - 1`` lights over the five bridges."""
    lines = [f"  {room}:", f"    thermostat: {{bridge: zigbee2mqtt, device: {room}-trv}}", "    lights:"]
    for i in range(devices - 1):
        bridge = LIGHT_BRIDGES[i % len(LIGHT_BRIDGES)]
        lines.append(f"      - {light_entry(f'{room}-l{i}', bridge, f'r{i}')}")
    if devices == 1:
        lines[-1] = "    lights: []"
    lines.append("    speaker: {audio_device: auto, ao: 'null'}" if speaker else "    speaker: null")
    return "\n".join(lines) + "\n"


def write_setup(
    folder: Path,
    url: str,
    rooms: dict[str, int],
    *,
    speakers: bool = False,
    durations: dict[str, str] | None = None,
    http: bool = True,
    extra: str = "",
) -> tuple[Path, Config]:
    """``ambience.yaml`` (and bench presets ``bench`` + ``bench-<name>``) in ``folder``."""
    presets = folder / "presets"
    presets.mkdir(parents=True, exist_ok=True)
    music = MUSIC if speakers else ""
    (presets / "bench.yaml").write_text(BENCH_PRESET.format(duration="30m", music=music))
    for name, duration in (durations or {}).items():
        (presets / f"bench-{name}.yaml").write_text(BENCH_PRESET.format(duration=duration, music=music))
    text = (
        f"mqtt: {{url: '{url}'}}\nstate_dir: state\npresets: [presets]\nmusic: [music]\n"
        f"http: {{enabled: {str(http).lower()}, port: {free_port()}}}\n{extra}rooms:\n"
    )
    text += "".join(room_yaml(room, n, speakers) for room, n in rooms.items())
    path = folder / "ambience.yaml"
    path.write_text(text)
    return path, parse_config(text, str(path), folder)


def simulator_yaml(url: str, rooms: dict[str, int]) -> str:
    """A config holding only ``rooms``' devices, for the simulator (e.g. with the baseline's clone rooms)."""
    return f"mqtt: {{url: '{url}'}}\nrooms:\n" + "".join(room_yaml(r, n) for r, n in rooms.items())


class SimProcess:
    """``ambience simulate`` as its own process (in the bench process its threads would hold the
    GIL while the probe stamps arrivals), plus an unstarted :class:`Simulator` to know the topics."""

    def __init__(
        self, url: str, rooms: dict[str, int] | None, folder: Path, tick: float = 5.0, drift: float = 0.0,
        config: Path | None = None,
    ):  # fmt: skip
        path = config or folder / "simulator.yaml"
        if config is None:
            assert rooms is not None
            path.write_text(simulator_yaml(url, rooms))
        self.model = Simulator(parse_config(path.read_text(), str(path), folder), url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ambience", "simulate", "--config", str(path), "--tick", str(tick), "--drift", str(drift)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("simulating"):
                break
        else:
            raise RuntimeError(f"the simulator exited with {self.proc.wait()}")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def device_filters(sim: Simulator) -> dict[str, tuple[str, str]]:
    """Each simulated device's command subscriptions -> (room, device)."""
    return {topic: key for key, dev in sim._devices.items() for topic in dev.subscriptions()}


# ---- the probe --------------------------------------------------------------------------------


class Probe:
    """A raw paho subscriber that stamps each message with ``perf_counter`` and ``time`` on arrival.

    ``filters`` maps a subscription to the device it belongs to; each message is stamped first,
    then tagged with its device (a dict for exact topics, paho's trie for wildcards). It
    subscribes at QoS 0 so the broker's in-flight window to it never throttles what it sees;
    the simulated devices (QoS 1 subscribers) are the real receivers.
    """

    def __init__(self, url: str, filters: dict[str, Any] | Iterable[str]):
        host, port = url.removeprefix("mqtt://").rsplit(":", 1)
        self.filters = dict(filters) if isinstance(filters, dict) else {f: f for f in filters}
        self._exact = {f: k for f, k in self.filters.items() if "+" not in f and "#" not in f}
        self._wild = MQTTMatcher()
        for f, k in self.filters.items():
            if f not in self._exact:
                self._wild[f] = k
        self.log: list[tuple[float, float, str, bytes, Any]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{os.getpid()}-{os.urandom(3).hex()}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_socket_open = lambda c, u, s: set_no_delay(c)
        self.client.connect(host, int(port))
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("the probe could not subscribe")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        client.subscribe([(f, 0) for f in self.filters])

    def _on_message(self, client, userdata, msg) -> None:
        t, wall = time.perf_counter(), time.time()
        key = self._exact.get(msg.topic)
        if key is None:
            key = next(self._wild.iter_match(msg.topic), None)
        with self._cond:
            self.log.append((t, wall, msg.topic, msg.payload, key))
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.log)

    def since(self, mark: int) -> list[tuple[float, float, str, bytes, Any]]:
        with self._cond:
            return self.log[mark:]

    def first(self, want: set, mark: int, after: float, timeout: float) -> dict[Any, float]:
        """The first arrival (perf_counter) for each key of ``want`` after ``after``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        seen: dict[Any, float] = {}
        i = mark
        with self._cond:
            while True:
                for t, _, _, _, key in self.log[i:]:
                    if key in want and key not in seen and t >= after:
                        seen[key] = t
                i = len(self.log)
                left = deadline - time.monotonic()
                if len(seen) == len(want) or left <= 0:
                    return seen
                self._cond.wait(left)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Publisher:
    """A raw paho publisher (QoS 1, TCP_NODELAY) in the bench process."""

    def __init__(self, url: str, name: str = "bench-pub"):
        host, port = url.removeprefix("mqtt://").rsplit(":", 1)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{os.getpid()}-{os.urandom(3).hex()}")
        self.client.on_socket_open = lambda c, u, s: set_no_delay(c)
        ready = threading.Event()
        self.client.on_connect = lambda *a: ready.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        if not ready.wait(10):
            raise TimeoutError("the publisher could not connect")

    def publish(self, topic: str, payload: str | bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# ---- the baseline -----------------------------------------------------------------------------


class Responder:
    """The baseline: ``bench/responder.py``, a minimal program doing the same job with raw paho.

    It gets the same trigger (an MQTT command on ``bench-base/<room>/command`` or an HTTP POST
    to ``/<room>``) and publishes the same device messages (QoS 1) for that room. The
    difference between it and ``ambience serve`` is what ambience adds.
    """

    def __init__(self, url: str, messages: dict[str, list[tuple[str, str]]], folder: Path):
        self.port = free_port()
        spec = folder / "responder.json"
        spec.write_text(json.dumps({"url": url, "port": self.port, "messages": messages}))
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "responder.py"), str(spec)], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"the baseline responder did not start: {line!r}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


# ---- figures ----------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


@dataclass
class Row:
    id: str
    what: str
    figure: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = "—" if self.met is None else ("met" if self.met else "MISSED")
        return [self.id, self.what, self.figure, self.baseline, self.ratio, self.goal, verdict]


@dataclass
class Result:
    """One benchmark's rows, its growth table and notes."""

    rows: list[Row] = field(default_factory=list)
    growth: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row: Any) -> None:
        self.rows.append(Row(*row))


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    info: dict[str, str] = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
        info["cpu"] = f"{models[0] if models else platform.processor()} × {os.cpu_count()}"
    except OSError:
        info["cpu"] = f"{platform.processor()} × {os.cpu_count()}"
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    info["os"] = f"{platform.platform()}"
    info["python"] = platform.python_version()
    try:
        from importlib.metadata import version

        info["paho-mqtt"] = version("paho-mqtt")
        info["APScheduler"] = version("APScheduler")
        info["uvicorn"] = version("uvicorn")
    except Exception:
        pass
    try:
        out = subprocess.run([find_mosquitto() or "mosquitto", "-h"], capture_output=True, text=True, timeout=5)
        info["mosquitto"] = (out.stdout or out.stderr).splitlines()[0].replace("mosquitto version ", "")
    except Exception:
        pass
    try:
        import mpv

        info["libmpv"] = ".".join(map(str, mpv._mpv_client_api_version()))
    except Exception:
        pass
    load = os.getloadavg()
    info["load before the run"] = f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    return info


def median(values: list[float]) -> float:
    return statistics.median(values)
