"""P7: fades nobody sees stepping — a long dim, per bridge profile, in perceived lightness.

A session dims every light of a room from 60 % to 10 % over ``minutes`` (30) minutes, one room per
bridge profile ambience supports, on the in-process rig of P8 (bench/radio.py ``Rig``: ambience's own
``Room`` — the timeline — and ``Devices`` — the reconciler that cuts a fade longer than the device does
natively into steps, and the adapters' codecs — with the simulator's profiled devices, on a virtual
clock). Every command ambience publishes to the light is decoded *by the simulated device*: the level it
takes (its integer scale: Z2M 0–254, Tasmota ``Dimmer`` 0–100, Shelly 0–100, ESPHome and Home Assistant
0–255) and the fade it runs to it (its own ``transition`` / Tasmota's ``Speed2`` rate); the
``homeassistant_api`` light (no broker device: Home Assistant's entity) is decoded from the service call.

What the lamp shows is then rebuilt second by second: a straight line (in level) from where it was to each
commanded level over the device's own fade, held in the device's resolution (a lamp cannot show a level
between two of its steps). Lightness: Y = level / 100 (brightness taken as linear light, as the issue says),
CIE L* = 116·Y^(1/3) − 16 (903.3·Y below Y = 0.008856). Reported per profile:

- the largest step in L* the lamp makes in one second (a jump between two commands, or one step of its
  resolution during its own fade) — goal ≤ 1 ΔL*;
- the largest ΔL* between two consecutive commanded levels (what ambience sends, before the lamp's fade);
- the worst deviation of L*(t) from the straight line in L* from start to end (equal times, equal perceived
  change), in ΔL* and in % of the whole change.

Baseline: the same dim with the previous curve (linear in brightness), measured in the same run by putting
``ambience.core.lightness.mix`` back to a plain linear mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import Result
from radio import T0, Rig

from ambience.core import lightness
from ambience.devices import reconciler

START, END = 60.0, 10.0
LEAD = 60.0
"""Seconds of the session before the dim begins (the lamp settles at the start level)."""

# bridge profile -> (config of the light, simulator options, the device's resolution in % of full)
PROFILES: dict[str, tuple[str, dict[str, Any], float]] = {
    "zigbee2mqtt IKEA LED1545G12": (
        "{bridge: zigbee2mqtt, device: lamp, role: lamp}", {"profile": "ikea-led1545g12"}, 100 / 254),
    "zigbee2mqtt Hue White Ambiance": (
        "{bridge: zigbee2mqtt, device: lamp, role: lamp}", {"profile": "hue-white-ambiance"}, 100 / 254),
    "tasmota CT bulb": ("{bridge: tasmota, device: lamp, role: lamp}", {"profile": "tasmota-ct-bulb"}, 1.0),
    "shelly Plus Dimmer": ("{bridge: shelly, device: lamp, role: lamp}", {"profile": "shelly-plus-dimmer"}, 1.0),
    "esphome light": (
        "{bridge: esphome, device: node, object_id: lamp, role: lamp}", {"profile": "esphome-light"}, 100 / 255),
    "homeassistant MQTT JSON light": (
        "{bridge: homeassistant, device: lamp, command_topic: light/lamp/set, state_topic: light/lamp/state, "
        "role: lamp}", {}, 100 / 255),
    "generic MQTT (default template)": (
        "{bridge: generic, device: lamp, command_topic: lamp/set, state_topic: lamp/state, "
        "values: {state: state, brightness: brightness}, role: lamp}", {}, 1.0),
    "homeassistant_api light": ("{bridge: homeassistant_api, entity_id: light.lamp, role: lamp}", {}, 100 / 255),
}  # fmt: skip


def lstar(level: float) -> float:
    """CIE L* of a brightness in % (taken as linear light)."""
    y = max(0.0, level) / 100
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


@contextlib.contextmanager
def linear_curve() -> Iterator[None]:
    """The previous curve: brightness mixed linearly in time (the baseline)."""
    saved, steps = lightness.mix, reconciler.CURVE_STEPS
    lightness.mix = lambda a, b, f: a + (b - a) * f  # type: ignore[assignment]
    reconciler.CURVE_STEPS = 1  # and a fade the device can do natively left to it in one command
    try:
        yield
    finally:
        lightness.mix, reconciler.CURVE_STEPS = saved, steps  # type: ignore[assignment]


def commands(folder: Path, profile: str, minutes: float) -> list[tuple[float, float, float]]:
    """The dim's commands as the device takes them: (seconds since the dim began, level %, its own fade s)."""
    light, opts, _ = PROFILES[profile]
    config = f"rooms:\n  room:\n    lights: [{light}]\n    speaker: null\n"
    hass = "homeassistant_api" in light
    if hass:
        config = "homeassistant_api: {url: 'ws://127.0.0.1:1/api/websocket', token: x}\n" + config
    preset = (
        f"name: Dim\nduration: {minutes + 5:g}m\nlights: {{brightness: {START:g}, transition: 0s}}\n"
        f"phases:\n  - {{name: settle, at: 0m}}\n"
        f"  - {{name: dim, at: {LEAD:g}s, lights: {{brightness: {END:g}, transition: {minutes:g}m}}}}\n"
    )
    initial = {"room/lamp": {"on": True, "brightness": START}} if not hass else {}
    if "esphome" in light:
        initial = {"room/node": {"on": True, "brightness": START}}
    rig = Rig(config, {"dim": preset}, folder, {("room/node" if "esphome" in light else "room/lamp"): opts}
              if opts else {}, initial)  # fmt: skip
    key = next(iter(rig.sim._devices), None)
    out: list[tuple[float, float, float]] = []
    original = rig.bus.command

    def command(topic: str, payload: str | bytes) -> bool:
        now = rig.clock()
        ok = original(topic, payload)
        if hass:
            data = json.loads(payload)
            service = data.get("service_data", {})
            if data.get("service") == "turn_on" and "brightness" in service:
                out.append((now, service["brightness"] / 255 * 100, float(service.get("transition", 0))))
            elif data.get("service") == "turn_off":
                out.append((now, 0.0, float(service.get("transition", 0))))
        elif key is not None:
            dev = rig.sim._devices[key]
            assert dev.light is not None
            target = dev.light.target()
            level = target.level if target.on else 0.0
            fade = (dev.light.deadline or now) - now if dev.light.fading else 0.0
            out.append((now, level, fade))
        return ok

    rig.bus.command = command  # type: ignore[method-assign]

    if rig.hass is not None:
        rig.hass.brightness["light.lamp"] = round(START * 255 / 100)
        rig.hass.state("light.lamp")

    async def main() -> None:
        rig.connect()
        await rig.run(5)
        rig.start("room", "dim")
        await rig.run(LEAD + minutes * 60 + 10)

    asyncio.run(main())
    begin = T0 + 5 + LEAD
    return [(t - begin, level, fade) for t, level, fade in out]


def shown(cmds: list[tuple[float, float, float]], seconds: float, quantum: float) -> list[float]:
    """The lamp's level each second from the dim's start to ``seconds``: each command fades linearly (in
    level) from where the lamp is to its level over its fade; held in the device's resolution."""
    before = [c for c in cmds if c[0] < -0.5]
    level = before[-1][1] if before else START
    seg = (0.0, level, level, 0.0)  # (since, from, to, fade)
    later = [c for c in cmds if c[0] >= -0.5]
    out = []
    i = 0
    for s in range(int(seconds) + 1):
        while i < len(later) and later[i][0] <= s:
            t, to, fade = later[i]
            seg = (t, _at(seg, t), to, fade)
            i += 1
        value = _at(seg, s)
        out.append(round(value / quantum) * quantum if quantum else value)
    return out


def _at(seg: tuple[float, float, float, float], t: float) -> float:
    since, a, b, fade = seg
    if fade <= 0 or t >= since + fade:
        return b
    return a + (b - a) * (t - since) / fade


def measure(folder: Path, profile: str, minutes: float) -> dict[str, float]:
    cmds = commands(folder, profile, minutes)
    quantum = PROFILES[profile][2]
    seconds = minutes * 60
    levels = shown(cmds, seconds, quantum)
    ls = [lstar(v) for v in levels]
    steps = [abs(b - a) for a, b in zip(ls, ls[1:], strict=False)]
    l0, l1 = lstar(START), lstar(END)
    line = [l0 + (l1 - l0) * s / seconds for s in range(len(ls))]
    deviation = max(abs(a - b) for a, b in zip(ls, line, strict=False))
    dim = [c for c in cmds if -0.5 <= c[0] <= seconds + 1]
    prev = [c for c in cmds if c[0] < -0.5]
    sent = ([prev[-1][1]] if prev else [START]) + [c[1] for c in dim]
    commanded = max((abs(lstar(b) - lstar(a)) for a, b in zip(sent, sent[1:], strict=False)), default=0.0)
    return {
        "steps": len(dim),
        "shown_step": max(steps),
        "commanded_step": commanded,
        "deviation": deviation,
        "deviation_pct": deviation / abs(l1 - l0) * 100,
        "end": levels[-1],
    }


def p7(folder: Path, minutes: float = 30, profiles: tuple[str, ...] | None = None,
       growth: tuple[float, ...] = (5, 30, 60)) -> Result:  # fmt: skip
    """``minutes`` of dim from 60 % to 10 %; ``profiles`` (default all of :data:`PROFILES`); ``growth`` the
    fade lengths of the "by fade length" table (on the first profile)."""
    result = Result()
    names = list(profiles or PROFILES)
    rows = []
    worst_step = worst_dev = 0.0
    worst_step_before = worst_dev_before = 0.0
    for i, name in enumerate(names):
        now = measure(folder / f"now{i}", name, minutes)
        with linear_curve():
            before = measure(folder / f"before{i}", name, minutes)
        worst_step, worst_dev = max(worst_step, now["shown_step"]), max(worst_dev, now["deviation_pct"])
        worst_step_before = max(worst_step_before, before["shown_step"])
        worst_dev_before = max(worst_dev_before, before["deviation_pct"])
        result.add(
            "P7", f"{minutes:g}-min dim 60→10 %, {name}: largest step the lamp shows / worst deviation from the "
            "L* line", f"{now['shown_step']:.2f} ΔL* / {now['deviation']:.1f} ΔL* ({now['deviation_pct']:.1f} %)",
            f"{before['shown_step']:.2f} ΔL* / {before['deviation']:.1f} ΔL* ({before['deviation_pct']:.1f} %) "
            "(linear in brightness)",
            f"{before['deviation'] / now['deviation']:.0f}× closer" if now["deviation"] > 0 else "—",
            "≤ 1 ΔL* step", now["shown_step"] <= 1.0,
        )  # fmt: skip
        rows.append([
            name, str(now["steps"]), f"{now['commanded_step']:.2f}", f"{now['shown_step']:.2f}",
            f"{now['deviation']:.2f} ({now['deviation_pct']:.1f} %)",
            f"{before['deviation']:.2f} ({before['deviation_pct']:.1f} %)", f"{now['end']:.2f} %",
        ])  # fmt: skip
    result.growth.append((
        f"P7 per bridge profile ({minutes:g}-min dim 60→10 %)",
        ["profile", "commands sent", "largest ΔL* between commands", "largest ΔL* the lamp shows (1 s)",
         "worst deviation from the L* line", "same, linear in brightness (before)", "ends at"],
        rows,
    ))  # fmt: skip
    by_length = []
    for length in growth:
        m = measure(folder / f"len{length:g}", names[0], length)
        with linear_curve():
            b = measure(folder / f"lenb{length:g}", names[0], length)
        by_length.append([
            f"{length:g} min", str(m["steps"]), f"{m['shown_step']:.2f}", f"{m['deviation_pct']:.1f} %",
            f"{b['deviation_pct']:.1f} %",
        ])  # fmt: skip
    if by_length:
        result.growth.append((
            f"P7 by fade length ({names[0]})",
            ["dim 60→10 % over", "commands sent", "largest ΔL* shown", "worst deviation", "before (linear)"],
            by_length,
        ))  # fmt: skip
    for name in names:
        q = PROFILES[name][2]
        one = lstar(END + q) - lstar(END)
        if one > 1.0:
            floor = next(b / 10 for b in range(1, 1001) if lstar(b / 10 + q) - lstar(b / 10) <= 1.0)
            result.notes.append(
                f"P7 {name}: its resolution is {q:.2g} % of full brightness; at {END:g} % one step of it is "
                f"{one:.2f} ΔL* (≤ 1 ΔL* only from {floor:g} % up), so no curve can keep this dim's end at or "
                "under 1 ΔL*: the miss is the device's scale (a generic device with a finer brightness_scale does better)."
            )
    result.notes.append(
        "P7 method: in-process on a virtual clock (bench/radio.py Rig), ambience's Room/Devices driving the "
        "simulator's profiled lights; each command decoded by the simulated device (its integer scale, its own "
        "fade); the lamp's level rebuilt each second in its resolution; L* of brightness taken as linear light."
    )
    return result
