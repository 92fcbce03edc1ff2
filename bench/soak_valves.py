"""Valves under broker restarts (issue 20): sessions on the real radiator-valve profiles — a Tuya
TS0601, a Danfoss Ally and a Bosch BTH-RA, one per room, all three rooms in a session at once —
with the broker SIGKILLed and started again on the same port between sessions.

    ./run soak --only valves            # 20 sessions (about 6 minutes)

Each session is drawn from the seed: two or three phases of random length, each a new setpoint
(some asking ``mode: heat``, which on a TS0601 would mean *forced open*), the rooms started a
random moment apart, ``after: restore`` back to the 19 °C the valves were found at, then the broker
down for a random time. Three checks, each able to fail:

- **0 forced-open writes.** Every ``/set`` the daemon sends, heard by a raw probe, against the
  writes that force that profile's valve fully open. The list is derived from the profiles' own
  Zigbee2MQTT exposes (ambience/simulator/profiles/zigbee2mqtt.json, zigbee-herdsman-converters)
  and every key and value in it is checked to exist there (:func:`forced_open_rules`), not taken
  from ambience's adapter. The simulated TS0601's own ``force`` is watched too.
- **≤ 3 setpoint writes per change.** The probe's ``current_heating_setpoint`` /
  ``occupied_heating_setpoint`` writes per valve, grouped by the desired change they carry.
- **Every setpoint landed.** For each phase and each after state: the simulated valve's setpoint
  equals the desired one *and* the daemon shows the valve confirmed with it, before the phase ends.

The probe must hear every command a valve got, or a forced-open write could pass unseen: the daemon
and the simulator reach the broker through a :class:`~ambience.testing.Gate`, shut before each kill
and opened only once the probe is back and subscribed (they would otherwise race it back, and a
write sent before the probe's subscription was lost to it).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soaklib import Progress, Result, quiet

from ambience.simulator import Simulator
from ambience.simulator.profiles import PROFILES, zigbee2mqtt_definitions
from ambience.testing import DaemonProcess, Gate, Mosquitto, MqttProbe, eventually, write_clinic

Z = "zigbee2mqtt"
VALVES = {  # room -> (device, profile, simulator options)
    "tuya": ("trv-tuya", "tuya-ts0601", {}),
    "danfoss": ("trv-danfoss", "danfoss-ally", {"report_interval": 1.5}),
    "bosch": ("trv-bosch", "bosch-bth-ra", {}),
}
"""The Danfoss reports every 1.5 s instead of its 4 minutes (its setpoint write returns no state: the
report is the answer), so a session of seconds can see it confirmed."""
FOUND = 19.0
"""Each valve's setpoint as found; ``after: restore`` puts it back."""
TARGETS = [t / 2 for t in range(40, 53)]  # 20.0 … 26.0 in the valves' 0.5 °C step
MAX_WRITES = 3
STEADY = 1.5
"""A setpoint counts as landed once sim and daemon agree for this long (not a passing report)."""


# ---- what forces a valve fully open, from the profiles' exposes ----------------------------------


@dataclass(frozen=True)
class Rule:
    key: str
    forces: Callable[[Any], bool]
    why: str


def _exposes(model: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(e: dict[str, Any]) -> None:
        for f in e.get("features", []):
            walk(f)
        if "property" in e:
            found[e["property"]] = e

    for e in zigbee2mqtt_definitions()[model]["exposes"]:
        walk(e)
    return found


def forced_open_rules(profile: str) -> list[Rule]:
    """The writes that force ``profile``'s valve fully open, each checked against its exposes.

    TS0601_thermostat: ``system_mode: heat`` ("continuously heating, i.e. it does not regulate";
    lib/legacy tuya_thermostat_force_to_mode writes force=open), ``force: open`` ("Force the valve
    position"), ``preset: boost`` (the valve open for ``boost_time``). Danfoss 014G2461:
    ``mounted_mode_control: true`` (Mounting Mode: the pin retracted, the valve open).
    Bosch BTH-RA: ``boost_heating: ON`` ("opens TRV for 5 minutes"), ``pi_heating_demand: 100``
    ("100% is fully open"). Every profile: a setpoint at its exposed maximum (the valve opens until
    a room reaches 30–35 °C, i.e. it does not regulate in a room).
    """
    model = PROFILES[profile].model
    assert model is not None
    exposes = _exposes(model)
    setpoint = next(k for k in exposes if k.endswith("heating_setpoint"))
    top = float(exposes[setpoint]["value_max"])
    rules = [Rule(setpoint, lambda v: _num(v) is not None and _num(v) >= top, f"{setpoint} at its maximum {top:g}")]  # type: ignore[operator]

    def enum(key: str, value: str, why: str) -> None:
        values = exposes[key].get("values")
        assert value in values, f"{model}: {key} has no value {value!r}: {values}"
        rules.append(Rule(key, lambda v: v == value, why))

    def binary(key: str, why: str) -> None:
        on = exposes[key]["value_on"]
        rules.append(Rule(key, lambda v: v == on or v is True or str(v).upper() == "ON", why))

    def numeric(key: str, why: str) -> None:
        most = float(exposes[key]["value_max"])
        rules.append(Rule(key, lambda v: _num(v) is not None and _num(v) >= most, why))  # type: ignore[operator]

    if model == "TS0601_thermostat":
        enum("system_mode", "heat", "system_mode heat: continuously heating, no regulation (force open)")
        enum("force", "open", "force open")
        enum("preset", "boost", "preset boost: open for boost_time")
        assert "boost_time" in exposes
    elif model == "014G2461":
        binary("mounted_mode_control", "mounted_mode_control true: Mounting Mode, pin retracted")
    elif model == "BTH-RA":
        binary("boost_heating", "boost_heating: opens the TRV for 5 minutes")
        numeric("pi_heating_demand", "pi_heating_demand 100: fully open")
    else:
        raise ValueError(f"no forced-open rules for {profile} ({model})")
    for rule in rules:
        assert rule.key in exposes and exposes[rule.key].get("access", 0) & 2, f"{model}: {rule.key} is not settable"
    return rules


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def forced_open(rules: list[Rule], payload: dict[str, Any]) -> list[str]:
    return [f"{r.why} ({r.key}: {payload[r.key]!r})" for r in rules if r.key in payload and r.forces(payload[r.key])]


# ---- the sessions --------------------------------------------------------------------------------


@dataclass
class Plan:
    targets: list[float]
    lengths: list[float]
    heat: list[bool]
    stagger: dict[str, float] = field(default_factory=dict)
    down: float = 1.0

    def preset(self, name: str) -> str:
        phases, at = [], 0.0
        for target, length, heat in zip(self.targets, self.lengths, self.heat, strict=True):
            mode = ", mode: heat" if heat else ""
            phases.append(f"  - {{name: p{len(phases)}, at: {at:.1f}s, climate: {{target: {target:g}{mode}}}}}")
            at += length
        return (
            f"name: {name}\nduration: {at:.1f}s\nclimate: {{target: {self.targets[0]:g}}}\n"
            "phases:\n" + "\n".join(phases) + "\nafter: restore\n"
        )


def plan(rng: random.Random) -> Plan:
    count = rng.choice((2, 3))
    targets: list[float] = []
    for _ in range(count):
        targets.append(rng.choice([t for t in TARGETS if not targets or t != targets[-1]]))
    return Plan(
        targets=targets,
        lengths=[round(rng.uniform(5.0, 8.0), 1) for _ in range(count)],
        heat=[rng.random() < 0.5 for _ in range(count)],
        stagger={room: round(rng.uniform(0.0, 1.5), 2) for room in VALVES},
        down=round(rng.uniform(0.2, 3.0), 2),
    )


def valve_sessions(n: int = 20, *, seed: int = 8, progress: Progress = quiet) -> Result:
    """``n`` sessions in three rooms (TS0601, Danfoss Ally, Bosch BTH-RA), a broker restart after each."""
    result = Result("valves under broker restarts")
    rng = random.Random(f"valves-{seed}")
    began = time.monotonic()
    plans = [plan(rng) for _ in range(n)]
    rules = {room: forced_open_rules(profile) for room, (_, profile, _) in VALVES.items()}
    rooms = {
        room: {"thermostat": {"bridge": Z, "device": dev}, "speaker": None} for room, (dev, _, _) in VALVES.items()
    }
    presets = {f"v{i}": p.preset(f"Valve session {i + 1}") for i, p in enumerate(plans)}
    forced: list[str] = []
    writes = states = 0
    landed = [0, 0]  # landed, desired
    groups: dict[str, list[tuple[float, int]]] = {room: [] for room in VALVES}
    mismatch: list[str] = []
    unheard: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="ambience-soak-valves-") as tmp,
        Mosquitto() as broker,
        Gate(broker) as gate,
    ):
        # the daemon and the simulated valves reach the broker through the gate, the probe directly: after
        # each restart the gate opens only once the probe is back and subscribed, so it hears every command
        clinic = write_clinic(Path(tmp), rooms, mqtt=gate.url, base_topic="amb", presets=presets, builtin=False)
        probe = MqttProbe(broker, f"{Z}/+/set", "ambience-sim/+/+/state", "amb/status")
        probe.settle()
        daemon = DaemonProcess(clinic.file, clinic.state_dir)
        try:
            daemon.start()  # first, so it hears each valve as its bridge announces it (a TS0601 cannot be asked)
            options = {dev: {"profile": profile, **opts} for dev, profile, opts in VALVES.values()}
            initial = {dev: {"target": FOUND, "local_temperature": FOUND} for dev, _, _ in VALVES.values()}
            with Simulator(clinic.config, tick=0.2, drift=0.5, options=options, initial=initial) as sim:
                eventually(
                    lambda: all(d["reported"] for r in VALVES for d in daemon.room(r)["devices"]),
                    15,
                    ignoring=(Exception,),
                )
                for i, p in enumerate(plans):
                    problems = _session(daemon, sim, f"v{i}", p, landed)
                    mark = probe.mark()
                    gate.shut()
                    broker.kill()
                    time.sleep(p.down)
                    broker.start()
                    back = _probe_back(probe)
                    gate.open()
                    back = back or _restarted(probe, sim, daemon, mark)
                    if back:
                        problems.append(back)
                    result.tried += 1
                    if problems:
                        result.failures += [f"session {i + 1}: {x}" for x in problems]
                    else:
                        result.held += 1
                    progress(f"valve session {i + 1}/{n}: {'held' if not problems else problems}")
                probe.settle()
                for room, (dev, _, _) in VALVES.items():
                    sent = [m.json() for m in probe.messages(f"{Z}/{dev}/set")]
                    writes += len(sent)
                    for payload in sent:
                        forced += [f"{dev}: {why}" for why in forced_open(rules[room], payload)]
                    groups[room] = _setpoint_groups(sent)
                    # what the probe heard is what was checked for forced-open writes: it must hold all the valve
                    # got; it may hold more (a write the simulated valve missed while it reconnected)
                    if (seen := sim.device(room, dev)["commands"]) > len(sent):
                        mismatch.append(f"{dev}: the valve got {seen} commands, the probe heard {len(sent)}")
                    elif seen < len(sent):
                        unheard[dev] = len(sent) - seen
                    truth = [m.json() for m in probe.messages(f"ambience-sim/{room}/{dev}/state")]
                    states += len(truth)
                    forced += [
                        f"{dev}: the simulated valve stood forced open" for s in truth if s.get("force") == "open"
                    ]
        finally:
            daemon.stop()
            probe.close()
    opened = sum(1 for f in forced if "stood forced open" not in f)
    result.check("writes that force no valve open", writes - opened, writes)
    result.check("valve states (the simulator's) not forced open", states - (len(forced) - opened), states)
    result.failures += forced[:20]
    result.notes.append(f"{len(forced)} forced-open writes or states in {writes} writes")
    over = [(room, v, c) for room, gs in groups.items() for v, c in gs if c > MAX_WRITES]
    changes = sum(len(gs) for gs in groups.values())
    result.check(f"changes with ≤ {MAX_WRITES} setpoint writes", changes - len(over), changes)
    result.failures += [f"{room}: {c} setpoint writes for {v:g} °C" for room, v, c in over]
    result.check("setpoints landed (valve and daemon)", landed[0], landed[1])
    result.check("every command the valves got heard by the probe", len(VALVES) - len(mismatch), len(VALVES))
    if unheard:
        result.notes.append(
            "writes the probe heard that the simulated valve did not count (e.g. sent while it was reconnecting): "
            + ", ".join(f"{dev} {n}" for dev, n in sorted(unheard.items()))
        )
    result.failures += mismatch
    for room, gs in groups.items():
        if gs:
            counts = [c for _, c in gs]
            result.notes.append(
                f"{VALVES[room][1]}: {len(gs)} changes, setpoint writes per change median "
                f"{statistics.median(counts):g}, max {max(counts)}"
            )
    result.details.append(
        "forced-open writes looked for: "
        + "; ".join(f"{VALVES[r][1]}: " + ", ".join(x.why for x in rs) for r, rs in rules.items())
    )
    result.seconds = time.monotonic() - began
    return result


def _setpoint_groups(sent: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """The setpoint writes as (value, how many in a row): one group per desired change."""
    groups: list[tuple[float, int]] = []
    for payload in sent:
        value = next((_num(v) for k, v in payload.items() if k.endswith("heating_setpoint")), None)
        if value is None:
            continue
        if groups and groups[-1][0] == value:
            groups[-1] = (value, groups[-1][1] + 1)
        else:
            groups.append((value, 1))
    return groups


def _state(daemon: DaemonProcess, room: str) -> tuple[str | None, float | None, float | None, str]:
    status = daemon.room(room)
    dev = status["devices"][0]
    desired = (dev.get("desired") or {}).get("target")
    reported = (dev.get("reported") or {}).get("target")
    return status["phase"] if status["state"] == "running" else None, desired, reported, dev["status"]


def _session(daemon: DaemonProcess, sim: Simulator, preset: str, p: Plan, landed: list[int]) -> list[str]:
    """Start the rooms staggered; follow every phase and the after state until each lands (or not)."""
    problems: list[str] = []
    order = sorted(VALVES, key=lambda r: p.stagger[r])
    t0 = time.monotonic()
    starts: dict[str, float] = {}
    for room in order:
        time.sleep(max(0.0, t0 + p.stagger[room] - time.monotonic()))
        daemon.api("POST", f"/api/rooms/{room}/start", {"preset": preset})
        starts[room] = time.monotonic()
    wanted = {room: [*p.targets, FOUND] for room in VALVES}  # each phase's setpoint, then the after state
    done: dict[str, list[bool]] = {room: [False] * len(wanted[room]) for room in VALVES}
    agreed: dict[tuple[str, int], float] = {}
    ends = max(starts.values()) + sum(p.lengths) + 12.0  # the after state: 12 s to land
    while time.monotonic() < ends and not all(all(d) for d in done.values()):
        for room, (dev, _, _) in VALVES.items():
            try:
                phase, desired, reported, status = _state(daemon, room)
            except Exception:  # noqa: BLE001 - asked again at the next poll
                continue
            index = int(phase[1:]) if phase else None
            if index is None:
                index = len(p.targets) if time.monotonic() > starts[room] + 1.0 else None
            if index is None or done[room][index]:
                continue
            target = wanted[room][index]
            valve = sim.device(room, dev)["target"]
            if valve == target and desired == target and reported == target and status == "confirmed":
                since = agreed.setdefault((room, index), time.monotonic())
                if time.monotonic() - since >= STEADY or index == len(p.targets):
                    done[room][index] = True
            else:
                agreed.pop((room, index), None)
        time.sleep(0.2)
    for room in VALVES:
        landed[0] += sum(done[room])
        landed[1] += len(done[room])
        for index, ok in enumerate(done[room]):
            if not ok:
                what = "after state" if index == len(p.targets) else f"phase {index + 1}"
                _, desired, reported, status = _state(daemon, room)
                problems.append(
                    f"{room} {what}: {wanted[room][index]:g} °C did not land (valve "
                    f"{sim.device(room, VALVES[room][0])['target']}, daemon desired {desired} reported {reported} {status})"
                )
    return problems


def _probe_back(probe: MqttProbe) -> str | None:
    """The probe reconnected and subscribed again (its settle round trip follows the subscribe that its
    reconnect sent, on the same connection), else what is not."""
    if not probe.wait_connected(10):
        return "the probe did not reconnect within 10 s"
    try:
        probe.settle(10)
    except TimeoutError:
        return "the probe did not subscribe again within 10 s"
    return None


def _restarted(probe: MqttProbe, sim: Simulator, daemon: DaemonProcess, mark: int) -> str | None:
    """The simulator and the daemon back on the restarted broker (else what is not)."""
    if not sim.wait_ready(10):
        return "the simulator did not reconnect within 10 s"
    try:
        probe.wait_for(lambda m: m.topic == "amb/status" and m.payload == b"online", timeout=10, since=mark)
    except AssertionError:
        return "the daemon did not say online within 10 s of the restart"
    try:
        daemon.wait_healthy(5)
    except Exception as e:  # noqa: BLE001
        return f"the daemon did not answer: {e}"
    return None
