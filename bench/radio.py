"""P8: a quiet radio network — messages per device per hour, every retry included.

A 60-minute session on real device profiles (a Tuya TS0601 TRV, a Danfoss Ally TRV, IKEA TRÅDFRI bulbs on
Zigbee2MQTT, a Tasmota plug), run in-process on a virtual clock: ambience's own ``Room`` (the timeline,
its phases) and ``Devices`` (the reconciler, the adapters' codecs, the retry rules) talk through an
in-process broker (:class:`Bus`, MQTT topic matching, retained messages) to the simulator's own virtual
devices (``ambience.simulator``, the profiles of ``*_profiles.py``), stepped with the same clock. Every
message ambience publishes to a device's command topics (``zigbee2mqtt/<dev>/set`` and ``/get``, Tasmota
``cmnd/<topic>/…``) is counted. The valves are slow to answer, as real ones are: the Danfoss Ally tells a new
setpoint only at its periodic report (``report_interval`` 240 s, the profile's default), and the TS0601's
datapoint report is held until its next check-in (``tuya_checkin`` s, default 60: a sleepy end device).

Baseline: the same session under ambience's earlier retry rules (before commit f2ee516): every device,
valves included, waits ``ack_timeout`` 1 s (doubled per try), 4 tries, then retries every ``slow_retry``
30 s until its report matches (no "patient" device, no battery rule). The harness (:class:`Rig`) is shared
with P7 (bench/fades.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import Result
from paho.mqtt.client import topic_matches_sub

from ambience.app.commands import Start
from ambience.app.controller import Controller
from ambience.app.room import Room
from ambience.config import parse_config
from ambience.config.library import Library
from ambience.devices.manager import Devices
from ambience.devices.reconciler import Tracked
from ambience.infra.hass import state_topic
from ambience.infra.mqtt import Received
from ambience.infra.store import Store
from ambience.model.preset import parse_preset
from ambience.simulator.base import Publish
from ambience.simulator.simulator import ONLINE, Simulator
from ambience.simulator.z2m_profiles import Z2mDevice, bridge_devices
from ambience.simulator.zigbee2mqtt import Zigbee2MqttSim
from ambience.testing import Clock

T0 = 1_800_000_000.0
DT = 0.25
"""Seconds of virtual time per step of the loop (the retry rules' shortest wait is 1 s)."""


class FakeHass:
    """The part of the Home Assistant websocket link the devices use (``homeassistant_api``): a light entity
    that takes ``light.turn_on``/``turn_off`` and says its new state at once, as Home Assistant does."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.brightness: dict[str, int] = {}
        """Each light entity's brightness (0–255; 0: off)."""

    def state(self, entity: str) -> None:
        b = self.brightness.get(entity, 0)
        attributes = {"supported_color_modes": ["brightness"], "brightness": b or None}
        self.bus.deliver(state_topic(entity), json.dumps({"state": "on" if b else "off", "attributes": attributes}),
                         retain=True)  # fmt: skip

    def subscribe(self, topic: str, handler: Callable[[Received], None], *, urgent: bool = True) -> None:
        self.bus.subscribe(topic, handler)

    def on_connect(self, callback: Callable[[], None]) -> None:
        self.bus.connect_callbacks.append(callback)

    def command(self, topic: str, payload: str | bytes) -> bool:
        self.bus.command(topic, payload)
        call = json.loads(payload)
        for entity in (call.get("target") or {}).get("entity_id", "").split(","):
            if call.get("service") == "turn_off":
                self.brightness[entity] = 0
            elif call.get("service") == "turn_on":
                self.brightness[entity] = int(call.get("service_data", {}).get("brightness", 255))
            self.state(entity)
        return True


class Bus:
    """An in-process broker between ambience's ``Devices`` (the ``Connection`` it uses) and the simulator."""

    client_id = "bench"
    connected = True

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.handlers: list[tuple[str, Callable[[Received], None]]] = []
        self.connect_callbacks: list[Callable[[], None]] = []
        self.later: list[tuple[Callable[..., None], tuple]] = []
        self.retained: dict[str, bytes] = {}
        self.sent: list[tuple[float, str, bytes]] = []
        """Every message ambience published: (virtual time, topic, payload)."""
        self.sim: Simulator | None = None
        self.hold: Callable[[Publish], bool] = lambda m: False
        """A device message to hold back (a sleepy valve's report waits for its check-in)."""
        self.held: list[Publish] = []
        self._busy = False

    # ---- the Connection side ----
    def subscribe(self, topic: str, handler: Callable[[Received], None], *, urgent: bool = True) -> None:
        self.handlers.append((topic, handler))
        for t, payload in list(self.retained.items()):
            if topic_matches_sub(topic, t):
                handler(Received(t, payload))

    def on_connect(self, callback: Callable[[], None]) -> None:
        self.connect_callbacks.append(callback)

    def command(self, topic: str, payload: str | bytes) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        now = self.clock()
        self.sent.append((now, topic, data))
        if self.sim is not None:
            self.sim._message(topic, data, now)
        return True

    def background(self, fn: Callable[..., None], *args: object) -> None:
        self.later.append((fn, args))  # as the real one: after the current work, not inside it

    def run_background(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            while self.later:
                fn, args = self.later.pop(0)
                fn(*args)
        finally:
            self._busy = False

    # ---- the devices' side ----
    def deliver(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        if retain:
            self.retained[topic] = data
        for sub, handler in list(self.handlers):
            if topic_matches_sub(sub, topic):
                handler(Received(topic, data))
        self.run_background()

    def from_sim(self, messages: list[Publish] | Any) -> None:
        for m in messages:
            if m.topic.startswith("ambience-sim/"):
                continue  # the simulator's own snapshots
            if self.hold(m):
                self.held.append(m)
                continue
            self.deliver(m.topic, m.payload, m.retain)

    def release(self, which: Callable[[Publish], bool]) -> None:
        keep, go = [], []
        for m in self.held:
            (go if which(m) else keep).append(m)
        self.held = keep
        for m in go:
            self.deliver(m.topic, m.payload, m.retain)


class BenchSim(Simulator):
    """The simulator's engine without its MQTT client: what it publishes goes to :class:`Bus`."""

    bus: Bus

    def _publish(self, messages: Any) -> None:
        self.bus.from_sim(list(messages))


@dataclass
class Rig:
    """ambience's ``Room`` + ``Devices`` and the simulator's devices on one virtual clock."""

    config_text: str
    presets: dict[str, str]
    folder: Path
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    initial: dict[str, dict[str, Any]] = field(default_factory=dict)
    earlier_rules: bool = False
    """Before f2ee516: every device gets ``ack_timeout`` / ``max_tries`` / ``slow_retry``, none is patient."""

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = Clock(T0)
        self.config = parse_config(self.config_text, "bench", self.folder)
        self.bus = Bus(self.clock)
        hass = FakeHass(self.bus) if "homeassistant_api" in self.config_text else None
        self.hass = hass
        self.devices = Devices(self.bus, self.config, clock=self.clock, hass=hass)  # type: ignore[arg-type]
        if self.earlier_rules:
            s = self.config.reconcile
            for tracked in self.trackeds():
                tracked.ack_timeout, tracked.max_tries, tracked.slow_retry = s.ack_timeout, s.max_tries, s.slow_retry
                tracked.patient = False
            self.devices._make_patient = lambda tracked, caps: None  # type: ignore[method-assign]
        self.sim = BenchSim(self.config, url="mqtt://127.0.0.1:1", options=self.options, initial=self.initial)
        self.sim.bus = self.bus
        self.bus.sim = self.sim
        self.store = Store(":memory:")
        self.library = Library(presets={k: parse_preset(v, k, f"{k}.yaml") for k, v in self.presets.items()})
        self.rooms = {
            rid: Room(rid, rc, self.config.room_limits(rid), self.devices, self.store, self.library, [], None,
                      self.clock)
            for rid, rc in self.config.rooms.items()
        }  # fmt: skip
        self.controller = Controller(self.rooms, self.library, self.store, self.clock)
        self.wakes: dict[str, float | None] = {rid: None for rid in self.rooms}
        self.timers: list[tuple[float, Callable[[float], None]]] = []

    def trackeds(self) -> list[Tracked]:
        return [t for devices in self.devices.rooms.values() for t in devices.values()]

    def connect(self) -> None:
        """The bridges come up (retained state, ``bridge/devices``), then ambience connects."""
        now = self.clock()
        if any(isinstance(d, Zigbee2MqttSim) for d in self.sim._devices.values()):
            self.bus.deliver("zigbee2mqtt/bridge/state", ONLINE, retain=True)
        profiled = [d for d in self.sim._devices.values() if isinstance(d, Z2mDevice)]
        if profiled:  # as the simulator's bridge: its profiled devices, on bridge/devices
            self.bus.deliver("zigbee2mqtt/bridge/devices", bridge_devices(profiled), retain=True)
        self.sim._announce(now)
        self.reconnect()

    def reconnect(self) -> None:
        """ambience (re)connects to the broker: its connect handlers run, then the retained messages come."""
        for callback in self.bus.connect_callbacks:
            callback()
        for handler_topic in list(self.bus.retained):  # retained messages reach the new subscriptions
            self.bus.deliver(handler_topic, self.bus.retained[handler_topic])

    def at(self, t: float, fn: Callable[[float], None]) -> None:
        """Call ``fn(now)`` at virtual time ``T0 + t`` (a person at the wall, a check-in)."""
        self.timers.append((T0 + t, fn))
        self.timers.sort(key=lambda x: x[0])

    async def run(self, seconds: float) -> None:
        end = self.clock() + seconds
        next_sim_tick = self.clock()
        while self.clock() < end:
            now = self.clock()
            while self.timers and self.timers[0][0] <= now:
                _, fn = self.timers.pop(0)
                fn(now)
            step = now >= next_sim_tick
            if step:
                next_sim_tick = now + self.sim.tick
            self.sim._advance(now, step)
            for rid, room in self.rooms.items():
                wake = self.wakes[rid]
                if wake is None or now >= wake or room._wake.is_set():
                    room._wake.clear()
                    self.wakes[rid] = await room.tick()
            out = []
            for tracked in list(self.devices._active.values()):
                out += tracked.due(now)
            self.devices._publish(out)
            self.bus.run_background()
            self.clock.advance(DT)

    def start(self, room: str, preset: str) -> None:
        self.controller.execute(Start(room=room, preset=preset))
        self.wakes[room] = None


def device_of(rig: Rig) -> Callable[[str], str | None]:
    """The device (``room/id``) a command topic goes to: the simulator device subscribed to it."""

    def find(topic: str) -> str | None:
        for sub, keys in rig.sim._routes.items():
            if topic_matches_sub(sub, topic) or sub.endswith("/+") and topic.rpartition("/")[0] + "/+" == sub:
                return "/".join(keys[0])
        return None

    return find


# ---- P8 ------------------------------------------------------------------------------------------

CONFIG = """
reconcile: {ack_timeout: 1s, max_tries: 4, slow_retry: 30s}
rooms:
  one:
    thermostat: {bridge: zigbee2mqtt, device: trv_tuya, setpoint: current_heating_setpoint, temperature_step: 0.5}
    lights: [{bridge: zigbee2mqtt, device: bulb_one, role: lamp}]
    switches: [{bridge: tasmota, device: plug, role: diffuser}]
    speaker: null
  two:
    thermostat: {bridge: zigbee2mqtt, device: trv_danfoss}
    lights: [{bridge: zigbee2mqtt, device: bulb_two, role: lamp}]
    speaker: null
"""

PRESET = """
name: Deep tissue
duration: {m}s
climate: {{target: 23}}
lights: {{brightness: 60, color_temp: 2700, transition: 10s}}
switches: {{diffuser: {{state: on}}}}
phases:
  - {{name: arrival, at: 0m}}
  - {{name: treatment, at: {treatment}s, climate: {{target: 24}}, lights: {{brightness: 25, transition: {two}s}}}}
  - {{name: rest, at: {rest}s, lights: {{brightness: 10, transition: {fifteen}s}}, switches: {{diffuser: off}}}}
  - {{name: closing, at: -{treatment}s, climate: {{target: 22}}, lights: {{brightness: 40, transition: {one}s}}}}
"""
"""An hour (``m`` s): treatment at 10 min, rest at 30, closing 10 before the end; fades of 2, 15 and 1 min,
all in proportion for a shorter session."""


def session(
    folder: Path,
    earlier: bool,
    minutes: float,
    tuya_checkin: float,
    danfoss_interval: float = 240.0,
    restart_at: float | None = 35 / 60,
) -> dict[str, Any]:
    """One session: messages per device and the shortest gap between two to each device. ``restart_at``
    (a fraction of the session): the broker restarts there and ambience reconnects (its resend included)."""
    options = {
        "one/trv_tuya": {"profile": "tuya-ts0601"},
        "two/trv_danfoss": {"profile": "danfoss-ally", "report_interval": danfoss_interval},
        "one/bulb_one": {"profile": "ikea-led1545g12"},
        "two/bulb_two": {"profile": "ikea-led1545g12"},
        "one/plug": {"profile": "tasmota-plug"},
    }
    initial = {
        "one/trv_tuya": {"target": 19, "mode": "auto", "local_temperature": 19},
        "two/trv_danfoss": {"target": 19, "mode": "heat", "local_temperature": 19},
        "one/bulb_one": {"on": True, "brightness": 80, "color_temp": 4000},
        "two/bulb_two": {"on": True, "brightness": 80, "color_temp": 4000},
    }
    m = minutes * 60
    preset = PRESET.format(m=m, treatment=m / 6, rest=m / 2, two=m / 30, fifteen=m / 4, one=m / 60)
    rig = Rig(CONFIG, {"deep": preset}, folder, options, initial, earlier_rules=earlier)
    rig.bus.hold = lambda m: m.topic == "zigbee2mqtt/trv_tuya"  # the TS0601 tells at its check-in
    t = 0.0
    while t < minutes * 60 + 600:
        t += tuya_checkin
        rig.at(t, lambda now: rig.bus.release(lambda m: m.topic == "zigbee2mqtt/trv_tuya"))

    async def main() -> None:
        rig.connect()
        await rig.run(5)  # the connect-time queries and answers
        rig.start("one", "deep")
        rig.start("two", "deep")
        if restart_at is None:
            await rig.run(minutes * 60)
            return
        await rig.run(minutes * 60 * restart_at)
        rig.reconnect()
        await rig.run(minutes * 60 * (1 - restart_at))

    asyncio.run(main())
    find = device_of(rig)
    per: dict[str, list[float]] = {}
    topics: dict[str, set[str]] = {}
    for when, topic, _ in rig.bus.sent:
        dev = find(topic)
        if dev is None:
            continue
        per.setdefault(dev, []).append(when)
        topics.setdefault(dev, set()).add(topic)
    battery = {f"{k[0]}/{k[1]}" for k, d in rig.sim._devices.items() if d.profile is not None and d.profile.battery}
    out = {}
    for key in sorted(f"{k[0]}/{k[1]}" for k in rig.sim._devices):
        times = sorted(per.get(key, []))
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        out[key] = {
            "messages": len(times),
            "per_hour": len(times) / (minutes / 60),
            "min_gap": min(gaps) if gaps else None,
            "battery": key in battery,
            "profile": rig.sim._devices[tuple(key.split("/"))].profile.name,  # type: ignore[union-attr,index]
        }
    return out


def _gap(g: float | None) -> str:
    return "—" if g is None else f"{g:.1f} s"


def p8(
    folder: Path,
    minutes: float = 60,
    tuya_checkin: float = 60.0,
    growth: tuple[float, ...] = (60, 240),
    restart_at: float | None = 35 / 60,
) -> Result:
    """``minutes`` of session (its phases and fades in proportion; per hour is then counted over fewer minutes,
    so a shorter one is no quick variant: quick is ``growth=()``, about 0.3 s); ``tuya_checkin`` the TS0601's
    report delay; ``growth`` the valves' report delays of the growth table (how a slower valve costs messages);
    ``restart_at`` the fraction of the session at which the broker restarts (None: it does not)."""
    result = Result()
    now = session(folder / "now", False, minutes, tuya_checkin, restart_at=restart_at)
    before = session(folder / "before", True, minutes, tuya_checkin, restart_at=restart_at)
    devices = [k for k in now if not k.startswith("_")]
    battery = [k for k in devices if now[k]["battery"]]

    def busiest(run: dict[str, Any], keys: list[str]) -> tuple[float, str]:
        return max((run[k]["per_hour"], k) for k in keys)

    def shortest(run: dict[str, Any]) -> float | None:
        gaps = [run[k]["min_gap"] for k in battery if run[k]["min_gap"] is not None]
        return min(gaps) if gaps else None

    (worst, who), (worst_before, who_before) = busiest(now, devices), busiest(before, devices)
    (valve, _), (valve_before, _) = busiest(now, battery), busiest(before, battery)
    gap, gap_before = shortest(now), shortest(before)
    result.add(
        "P8", f"{minutes:g}-min session, 5 real profiles: messages per hour to the busiest device (retries included)",
        f"{worst:.0f} /h ({who})", f"{worst_before:.0f} /h ({who_before}, earlier retry rules)",
        f"{worst_before / worst:.1f}× fewer" if worst else "—", "≤ 30 /h per device", worst <= 30,
    )  # fmt: skip
    result.add(
        "P8", "messages per hour to the busiest battery device (TS0601, Danfoss Ally)", f"{valve:.0f} /h",
        f"{valve_before:.0f} /h", f"{valve_before / valve:.1f}× fewer" if valve else "—", "≤ 30 /h", valve <= 30,
    )  # fmt: skip
    result.add(
        "P8", "shortest gap between two messages to a battery device", _gap(gap), _gap(gap_before), "—",
        "≥ 5 s", gap is None or gap >= 5,
    )  # fmt: skip
    for k in devices:
        result.add(
            "P8", f"{k} ({now[k]['profile']}{', battery' if now[k]['battery'] else ''}): messages/h, shortest gap",
            f"{now[k]['per_hour']:.0f} /h, {_gap(now[k]['min_gap'])}",
            f"{before[k]['per_hour']:.0f} /h, {_gap(before[k]['min_gap'])}", "—", "≤ 30 /h"
            + (", gap ≥ 5 s" if now[k]["battery"] else ""),
            now[k]["per_hour"] <= 30 and (not now[k]["battery"] or now[k]["min_gap"] is None or now[k]["min_gap"] >= 5),
        )  # fmt: skip
    rows = []
    for interval in growth:
        rows.append(_by_interval(folder / f"g{interval:g}", minutes, interval, restart_at))
    if rows:
        result.growth.append((
            "P8 by how slow the valves report (TS0601 check-in = Danfoss report interval)",
            ["valve report delay", "TS0601 msgs/h now / before", "Danfoss msgs/h now / before",
             "battery shortest gap now / before"],
            rows,
        ))  # fmt: skip
    result.notes.append(
        f"P8 method: in-process on a virtual clock (bench/radio.py Rig): ambience's Room and Devices (timeline, "
        f"reconciler, adapters, retry rules) and the simulator's profiled devices on one clock through an in-process "
        f"broker; {minutes:g} virtual minutes take about a second. TS0601 reports held to its check-in every "
        f"{tuya_checkin:g} s; Danfoss Ally reports every 240 s (its profile); "
        + (
            "no broker restart. "
            if restart_at is None
            else f"the broker restarts at {minutes * restart_at:g} min "
            "(ambience reconnects: its queries and resends counted). "
        )
        + "Counted: every message ambience "
        "publishes to a device's topics (Z2M /set and /get, Tasmota cmnd/…), connect-time queries included. "
        "A Danfoss setpoint write is two Zigbee frames (danfossSetpointConverter, 'aggressive'); counted once."
    )
    return result


def _by_interval(folder: Path, minutes: float, interval: float, restart_at: float | None) -> list[str]:
    """Both valves answering ``interval`` s late: messages/h to each, now and under the earlier rules."""
    now, before = (
        session(folder / w, w == "before", minutes, interval, interval, restart_at) for w in ("now", "before")
    )
    valves = ("one/trv_tuya", "two/trv_danfoss")
    cells = [f"{now[k]['per_hour']:.0f} / {before[k]['per_hour']:.0f}" for k in valves]

    def shortest(run: dict[str, Any]) -> float | None:
        gaps = [run[k]["min_gap"] for k in valves if run[k]["min_gap"] is not None]
        return min(gaps) if gaps else None

    cells.append(f"{_gap(shortest(now))} / {_gap(shortest(before))}")
    return [f"{interval:g} s", *cells]
