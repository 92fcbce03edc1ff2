"""The timeline: what a room should look like at any moment of a session. Pure.

``Timeline(preset, facts, limits).at(now)`` returns the desired :class:`RoomState`;
``.next_change(now)`` the next wall time at which it changes (``None``: not until a command).
No clock is read and nothing is sent: the daemon, ``presets show`` and the tests all ask the
same function, which is what lets a restarted daemon, or a reconnect, put the room right.

Semantics
- Phases are cumulative: each one changes only what it names, from its ``at`` (negative:
  counted back from the end, so they move with an extension), with a transition.
- Light settings go to every light, then ``roles`` to the lights of that role.
- A pause freezes the countdown and the music; lights, climate and switches hold their value.
  A switch holds too, a heater included: a pause is a short interruption (the client turns over,
  takes a call) after which they lie back on the same table, which a warmer switched off would
  have let cool; a heat-class switch held on stays bounded by the room's maximum on-time and its
  device-side auto-off timer, re-armed only while ambience runs (docs/devices.md). A switch due at
  a later phase waits, as the phases do.
- During a lead time the climate is active, and every switch whose ``from`` is before the start
  is on (or off) from ``start + from``.
- Switches, per role: the preset's ``switches`` from their ``from`` (default: the start), then each
  phase's, cumulative like the lights; a role nothing has named yet is left alone.
- Comfort preferences apply on top; the room's limits clamp every value, and say so in ``notes``.
- After the end (or a stop) the ``after`` state; what it does not name is restored as found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ambience.core import lightness
from ambience.core.session import SessionFacts
from ambience.model.limits import Limits
from ambience.model.preset import DEFAULT_TRANSITION, Lights, LightSettings, Preset, Turnover
from ambience.model.state import ALL, ClimateState, Light, LightTarget, MusicState, RoomState, Switch

DEFAULT_MUSIC_TRANSITION = 10.0

V = TypeVar("V")
"""What a track holds: a :class:`Light` for the lights, a float (%) for the music volume."""


@dataclass(frozen=True)
class _Key(Generic[V]):
    """From session time ``t``, fade to ``target`` over ``transition`` seconds."""

    t: float
    target: V
    transition: float


def _lerp(a: float, b: float, f: float) -> float:
    return b if f >= 1 else a + (b - a) * f


def _mix(a: Light, b: Light, f: float) -> Light:
    """``f`` of the way from ``a`` to ``b``: the brightness evenly in perceived lightness (:mod:`lightness`)."""
    if f >= 1:
        return b
    ct = b.color_temp if a.color_temp is None or b.color_temp is None else _lerp(a.color_temp, b.color_temp, f)
    return Light(lightness.mix(a.brightness, b.brightness, f), ct, b.color)


def _value(keys: list[_Key[V]], e: float, start: V, blend: Callable[[V, V, float], V]) -> V:
    """The value at session time ``e`` of a keyframe track; ``blend(a, b, f)`` is the way ``f`` from a to b."""
    value = start
    for i, key in enumerate(keys):
        if key.t > e:
            break
        end = keys[i + 1].t if i + 1 < len(keys) else e
        until = min(e, end)
        f = 1.0 if key.transition <= 0 else (until - key.t) / key.transition
        value = blend(value, key.target, f)
    return value


def _active_key(keys: list[_Key[V]], e: float) -> _Key[V] | None:
    current = None
    for key in keys:
        if key.t <= e:
            current = key
    return current


class Timeline:
    def __init__(
        self, preset: Preset, facts: SessionFacts, limits: Limits | None = None, turnover: Turnover | None = None
    ):
        self.preset, self.facts, self.limits = preset, facts, limits or Limits()
        self.turnover = turnover or Turnover()
        """The room's turnover settings: the state while ``facts.turnover`` is on."""
        self.length = facts.length
        self.music_from = (
            0.0 if facts.turnover is None else min(facts.length, max(0.0, facts.turnover[1] - facts.started_at))
        )
        """Session time the music begins (fading in): after a turnover that took the session's first minutes."""
        self.notes: list[str] = []
        self.phases = sorted(
            ((preset.phase_at(p.at, self.length), i, p) for i, p in enumerate(preset.phases)),
            key=lambda x: (x[0], x[1]),
        )
        self.phases = [(t, i, p) for t, i, p in self.phases if t < self.length or self.length == 0 and t == 0]
        self.climate_keys = self._climate_keys()
        self.light_keys = self._light_keys() if preset.lights or any(p.lights for _, _, p in self.phases) else None
        music = preset.music
        self.music_keys = self._music_keys() if music and not facts.comfort.no_music else None
        self.switch_keys = self._switch_keys()
        self._after_state = self._after_parts()
        self.notes = list(dict.fromkeys(self.notes))

    # ---- building the tracks ------------------------------------------------------------

    def _clamp_temp(self, value: float, what: str) -> float:
        lo, hi = self.limits.min_temperature, self.limits.max_temperature
        clamped = min(hi, max(lo, value))
        if clamped != value:
            self.notes.append(f"{what} {value:g} °C clamped to {clamped:g} °C (room limits {lo:g}–{hi:g} °C)")
        return clamped

    def _climate_keys(self) -> list[tuple[float, ClimateState]] | None:
        blocks = [(0.0, self.preset.climate)] + [(t, p.climate) for t, _, p in self.phases]
        if not any(b and b.target is not None for _, b in blocks):
            return None
        keys: list[tuple[float, ClimateState]] = []
        target: float | None = None
        mode: str | None = None  # no mode unless a preset asks for one
        offset = self.facts.comfort.temperature_offset
        for t, block in blocks:
            if block is None:
                continue
            target = block.target if block.target is not None else target
            mode = block.mode or mode
            if target is not None:
                keys.append((t, ClimateState(self._clamp_temp(target + offset, "climate target"), mode)))
        return keys

    def _light_settings(self, t: float, block: Lights | None, channel: str, acc: dict) -> float | None:
        """Fold ``block`` into ``acc`` for ``channel``; returns the transition it asks for."""
        if block is None:
            return None
        parts: list[LightSettings] = [block]
        if channel != ALL and channel in block.roles:
            parts.append(block.roles[channel])
        transition = None
        for part in parts:
            for key in ("state", "brightness", "color_temp", "color"):
                value = getattr(part, key)
                if value is not None:
                    acc[key] = value
                    if key == "color":
                        acc.pop("color_temp", None)
                    if key == "color_temp":
                        acc.pop("color", None)
            if part.transition is not None:
                transition = part.transition
        return transition

    def _light_of(self, acc: dict) -> Light:
        brightness = 0.0 if acc.get("state") == "off" else float(acc.get("brightness", 100))
        cap = self.limits.max_brightness
        comfort_cap = self.facts.comfort.max_brightness
        if comfort_cap is not None and brightness > comfort_cap:
            brightness = float(comfort_cap)
        if brightness > cap:
            self.notes.append(f"brightness {brightness:g} % clamped to {cap} % (room limit)")
            brightness = float(cap)
        return Light(brightness, acc.get("color_temp"), acc.get("color"))

    def _light_keys(self) -> dict[str, list[_Key[Light]]]:
        preset = self.preset
        blocks = [(0.0, preset.lights)] + [(t, p.lights) for t, _, p in self.phases]
        channels = {ALL} | {r for _, b in blocks if b for r in b.roles}
        base_transition = preset.lights.transition if preset.lights and preset.lights.transition is not None else None
        tracks: dict[str, list[_Key[Light]]] = {}
        for channel in sorted(channels):
            acc: dict = {}
            keys: list[_Key[Light]] = []
            for t, block in blocks:
                if block is None:
                    continue
                asked = self._light_settings(t, block, channel, acc)
                transition = asked if asked is not None else base_transition
                key = _Key(t, self._light_of(acc), DEFAULT_TRANSITION if transition is None else transition)
                if keys and keys[-1].t == t:
                    keys[-1] = _Key(t, key.target, key.transition if asked is not None else keys[-1].transition)
                else:
                    keys.append(key)
            tracks[channel] = keys
        return tracks

    def _music_keys(self) -> list[_Key[float]]:
        music = self.preset.music
        assert music is not None
        offset = self.facts.comfort.volume_offset
        cap = self.limits.max_volume

        def level(volume: int) -> float:
            value = min(100, max(0, volume + offset))
            if value > cap:
                self.notes.append(f"volume {value} clamped to {cap} (room limit max_volume)")
                value = cap
            return float(value)

        keys = [_Key(0.0, level(music.volume), 0.0)]
        for t, _, phase in self.phases:
            if phase.music and phase.music.volume is not None:
                transition = phase.music.transition if phase.music.transition is not None else DEFAULT_MUSIC_TRANSITION
                key = _Key(t, level(phase.music.volume), transition if t > 0 else 0.0)
                if keys[-1].t == t:
                    keys[-1] = key
                else:
                    keys.append(key)
        return keys

    def _switch_keys(self) -> dict[str, list[tuple[float, bool]]]:
        """Per role, (session time, on) sorted: the preset's own switches at their ``from``, then every
        phase naming the role at its time (at the same time, the phase wins: it comes later in the file's
        order of things, as it does for the lights)."""
        keys: dict[str, list[tuple[float, int, bool]]] = {}
        for role, switch in self.preset.switches.items():
            keys.setdefault(role, []).append((switch.start, 0, switch.state == "on"))
        for n, (t, _, phase) in enumerate(self.phases, start=1):
            for role, state in phase.switches.items():
                keys.setdefault(role, []).append((t, n, state == "on"))
        return {role: [(t, on) for t, _, on in sorted(ks)] for role, ks in keys.items()}

    def _switches(self, e: float) -> dict[str, Switch] | None:
        """The switch roles named by session time ``e`` (negative: during the lead), on or off."""
        out = {}
        for role, keys in self.switch_keys.items():
            on = next((on for t, on in reversed(keys) if t <= e), None)
            if on is not None:
                out[role] = Switch(on)
        return out or None

    # ---- asking it --------------------------------------------------------------------

    def _volume(self, e: float) -> float:
        assert self.music_keys is not None and self.preset.music is not None
        if e >= self.length:
            return 0.0
        level = _value(self.music_keys, e, self.music_keys[0].target, _lerp)
        fi, fo = self.preset.music.fade_in, self.preset.music.fade_out
        env = 1.0
        if e < self.music_from:
            return 0.0
        if fi > 0 and e < self.music_from + fi:
            env *= max(0.0, e - self.music_from) / fi
        if fo > 0 and self.length - e < fo:
            env *= max(0.0, self.length - e) / fo
        return level * min(1.0, env)

    def change_points(self) -> list[float]:
        """Every session time at which something starts or stops changing, sorted."""
        points = {0.0, self.length}
        for t, _, _ in self.phases:
            points.add(t)
        for track in self.switch_keys.values():
            points |= {t for t, _ in track}
        for keys in (self.light_keys or {}).values():
            for k in keys:
                points |= {k.t, k.t + k.transition}
        if self.music_keys is not None and self.preset.music is not None:
            for m in self.music_keys:
                points |= {m.t, m.t + m.transition}
            start = self.music_from
            points |= {start, start + self.preset.music.fade_in, self.length - self.preset.music.fade_out}
        return sorted(p for p in points if 0 <= p <= self.length)

    def _phase(self, e: float) -> str | None:
        name = None
        for t, _, p in self.phases:
            if t <= e:
                name = p.name
        return name

    def at(self, now: float) -> RoomState:
        facts = self.facts
        ends_at = facts.ends_at(now)
        notes = tuple(self.notes)
        if facts.stopped_at is not None and now >= facts.stopped_at or now >= ends_at:
            return self._after(facts.elapsed(now), ends_at, notes)
        e = facts.elapsed(now)
        remaining = max(0.0, ends_at - now)
        climate = None
        if self.climate_keys:
            climate = next((c for t, c in reversed(self.climate_keys) if t <= max(e, 0.0)), None)
        if facts.turning_over(now):
            return self._turning_over(e, remaining, ends_at, climate, notes)
        if now < facts.started_at - facts.lead:
            return RoomState("scheduled", None, 0.0, remaining, self.length, ends_at, notes=notes)
        if now < facts.started_at:
            return RoomState(
                "preconditioning", None, 0.0, remaining, self.length, ends_at, climate=climate,
                switches=self._switches(now - facts.started_at), notes=notes,
            )  # fmt: skip
        paused = facts.paused
        lights = None
        if self.light_keys is not None:
            lights = {}
            for channel, keys in self.light_keys.items():
                value = _value(keys, e, keys[0].target, _mix)
                key = _active_key(keys, e)
                left = 0.0 if paused or key is None else max(0.0, key.t + key.transition - e)
                target = key.target if key is not None and left > 0 else value
                if not (target.on or value.on):
                    value, left = target, 0.0  # an off light has no colour to fade
                elif target == value:
                    left = 0.0
                lights[channel] = LightTarget(value, target, left)
        music = None
        if self.music_keys is not None and self.preset.music is not None:
            volume = self._volume(e)
            nxt = next((p for p in self.change_points() if p > e), self.length)
            ramping = not paused and abs(self._volume((e + nxt) / 2) - volume) > 1e-9
            music = MusicState(
                playlist=self.preset.music.playlist,
                shuffle=self.preset.music.shuffle,
                playing=not paused,
                position=e,
                volume=volume,
                target=self._volume(nxt) if ramping else volume,
                ramp=nxt - e if ramping else 0.0,
            )
        return RoomState(
            "paused" if paused else "running",
            self._phase(e),
            e,
            remaining,
            self.length,
            ends_at,
            climate=climate,
            lights=lights,
            music=music,
            switches=self._switches(e),
            notes=notes,
        )

    def _turning_over(
        self, e: float, remaining: float, ends_at: float, climate: ClimateState | None, notes: tuple[str, ...]
    ) -> RoomState:
        """Between the session before and this one: working light, music off, this session's climate and
        switches (a table warmer warming from its ``from``)."""
        lights = self.turnover.lights
        acc = {key: getattr(lights, key) for key in ("state", "brightness", "color_temp", "color")}
        light = self._light_of({key: value for key, value in acc.items() if value is not None})
        fade = DEFAULT_TRANSITION if lights.transition is None else lights.transition
        return RoomState(
            "turnover", None, max(0.0, e), remaining, self.length, ends_at, climate=climate,
            lights={ALL: LightTarget(light, light, fade)}, switches=self._switches(e), notes=notes,
        )  # fmt: skip

    def _after_parts(
        self,
    ) -> tuple[ClimateState | None, dict[str, LightTarget] | None, dict[str, Switch] | None, frozenset[str]]:
        """The after state's climate, lights, switches and parts to restore: computed once (``at`` mutates
        nothing). ``'switches'`` is always restored: the roles ``after.switches`` does not name (the
        timeline does not know which roles the room has) are put back as found by
        :func:`ambience.core.after.after_states`, a switch that heats never back on."""
        after = self.preset.after
        climate = None
        restore = {"switches"}
        switches = {role: Switch(state == "on") for role, state in (after.switches or {}).items()} or None
        if after.climate is not None:
            target = after.climate.target
            if target is not None:
                target = self._clamp_temp(target, "after climate target")
            climate = ClimateState(target, after.climate.mode)
        else:
            restore.add("climate")
        lights = None
        if after.lights is not None:
            lights = {}
            channels = {ALL} | set(after.lights.roles)
            for channel in channels:
                acc: dict = {}
                asked = self._light_settings(0.0, after.lights, channel, acc)
                light = self._light_of(acc)
                lights[channel] = LightTarget(light, light, DEFAULT_TRANSITION if asked is None else asked)
        else:
            restore.add("lights")
        return climate, lights, switches, frozenset(restore)

    def _after(self, elapsed: float, ends_at: float, notes: tuple[str, ...]) -> RoomState:
        climate, lights, switches, restore = self._after_state
        return RoomState(
            "ended",
            None,
            min(max(elapsed, 0.0), self.length),
            0.0,
            self.length,
            ends_at,
            climate=climate,
            lights=lights,
            switches=switches,
            restore=restore,
            notes=notes,
        )

    def next_change(self, now: float) -> float | None:
        """The next wall time after ``now`` at which :meth:`at` changes by more than a fade step."""
        facts = self.facts
        if facts.stopped_at is not None and now >= facts.stopped_at:
            return None
        ends_at = facts.ends_at(now)
        if now >= ends_at:
            return None
        if facts.turning_over(now):
            assert facts.turnover is not None
            after = self._next_session_change(now, ends_at)
            return facts.turnover[1] if after is None else min(after, facts.turnover[1])
        return self._next_session_change(now, ends_at)

    def _next_session_change(self, now: float, ends_at: float) -> float | None:
        facts = self.facts
        if now < facts.started_at - facts.lead:
            return facts.started_at - facts.lead
        if now < facts.started_at:
            e = now - facts.started_at
            lead_points = (t for keys in self.switch_keys.values() for t, _ in keys if e < t < 0)
            return facts.started_at + min(lead_points, default=0.0)
        if facts.paused:
            return None
        e = facts.elapsed(now)
        for point in self.change_points():
            if point > e:
                return facts.to_wall(point, now)
        return ends_at
