"""Presets: what a session feels like. One YAML file per preset; the file's stem is its id.

The models are strict (unknown keys refused, frozen) and carry their units in their types
(:mod:`ambience.units`): a bare number is minutes for the session's times (``duration``, a phase's
``at``, a switch's ``from``, a turnover's ``length``) and seconds for fades and transitions; a
temperature may be written ``24``, ``24C`` or ``75F``. :func:`parse_preset` reports every problem of a file at once;
:func:`load_library` loads every preset of some folders, skipping (and reporting) bad ones.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from ambience.errors import Issue, PresetError
from ambience.model._base import OnOff, RoleName, Strict
from ambience.model.parse import issues_from, load_yaml
from ambience.units import (
    Celsius,
    HexColor,
    Kelvin,
    Minutes,
    Percent,
    Seconds,
    SessionLength,
    SignedMinutes,
    Volume,
    format_duration,
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
Technique = Literal["swedish", "deep-tissue", "myofascial", "trigger-point", "express", "home-visit", "other"]
TECHNIQUES: tuple[str, ...] = get_args(Technique)
DEFAULT_TRANSITION = 3.0
"""Seconds a light change takes when neither the phase nor the preset says."""


class LightSettings(Strict):
    """Settings for lights; every key is optional so a phase changes only what it names."""

    state: OnOff | None = None
    brightness: Percent | None = None
    color_temp: Kelvin | None = None
    color: HexColor | None = None
    transition: Seconds | None = None


class Lights(LightSettings):
    """Settings for every light of the room, with per-role exceptions (``roles: {ceiling: {state: off}}``)."""

    roles: dict[RoleName, LightSettings] = {}


class Turnover(Strict):
    """A room between two sessions that follow each other: the linen is changed in working light, the
    music is off, the climate is held at the next session's target (``turnover:`` of a room)."""

    length: Annotated[Minutes, Field(le=3600)] = 300.0
    """Seconds of turnover from the end of one session (it may take the first minutes of the next)."""
    lights: LightSettings = LightSettings(state="on", brightness=80, color_temp=4000)
    music: Literal["off"] = "off"
    """Music is off while the room is turned over (the only choice: nobody relaxes while linen is changed)."""


class Climate(Strict):
    target: Celsius | None = None
    mode: Literal["heat", "auto", "off"] | None = None


class Music(Strict):
    playlist: str
    volume: Volume = 35
    shuffle: bool = True
    fade_in: Seconds = 20.0
    fade_out: Seconds = 60.0

    @field_validator("playlist")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value.replace("\\", "/"))
        if not value.strip() or path.is_absolute() or ".." in path.parts:
            raise PydanticCustomError(
                "value_error",
                f"{value!r} is not allowed; a playlist is a folder or .m3u named relative to a music folder",
            )
        return value


class MusicChange(Strict):
    volume: Volume | None = None
    transition: Seconds | None = None


SWITCH_HINT = "write on, off or {state: on, from: -40m}"


def _switch_at(value: Any) -> Any:
    """A preset's switch: a bare ``on``/``off`` (YAML 1.1 reads them as booleans) is ``{state: ...}``."""
    if isinstance(value, bool) or isinstance(value, str) and value.lower() in ("on", "off"):
        return {"state": value}
    if not isinstance(value, dict):
        raise PydanticCustomError("value_error", f"{value!r} is not allowed; {SWITCH_HINT}")
    return value


class SwitchAt(Strict):
    """A switch role in the preset's top-level ``switches``: ``state`` from ``from`` (session time, counted
    from the start; negative: before it, during a booking's lead time)."""

    state: OnOff
    start: Annotated[SignedMinutes, Field(alias="from")] = 0.0


SwitchSetting = Annotated[SwitchAt, BeforeValidator(_switch_at)]


def _phase_switch(value: Any) -> Any:
    if isinstance(value, dict):
        raise PydanticCustomError(
            "value_error",
            "a phase switches a role on or off at the phase's time: write on or off "
            "(a 'from' belongs in the preset's top-level switches)",
        )
    if isinstance(value, bool) or isinstance(value, str) and value.lower() in ("on", "off"):
        return value
    raise PydanticCustomError("value_error", f"{value!r} is not allowed; write on or off")


PhaseSwitch = Annotated[OnOff, BeforeValidator(_phase_switch)]
"""A switch role in a phase or in ``after``: on or off, nothing else (no ``from``)."""


class Phase(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    at: SignedMinutes
    lights: Lights | None = None
    climate: Climate | None = None
    music: MusicChange | None = None
    switches: dict[RoleName, PhaseSwitch] = {}


def _after(value: Any) -> Any:
    if value == "restore":
        return {}
    if isinstance(value, str):
        raise PydanticCustomError("value_error", f"{value!r} is not allowed; write 'restore' or a state block")
    return value


class After(Strict):
    """The room after the session. Whatever is not given is put back as it was found."""

    lights: Lights | None = None
    climate: Climate | None = None
    switches: dict[RoleName, PhaseSwitch] | None = None
    """On or off per role; a role not named is put back as found (a switch that heats never back on)."""

    @property
    def restore_all(self) -> bool:
        return self.lights is None and self.climate is None and self.switches is None


class Preset(Strict):
    id: str
    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    technique: Technique = "other"
    duration: SessionLength
    climate: Climate | None = None
    lights: Lights | None = None
    music: Music | None = None
    switches: dict[RoleName, SwitchSetting] = {}
    """On or off per switch role from the start, or from ``from`` (``table_warmer: {state: on, from: -40m}``)."""
    phases: tuple[Phase, ...] = ()
    after: Annotated[After, BeforeValidator(_after)] = After()

    @property
    def switch_lead(self) -> float:
        """Seconds before the start the earliest switch is on from (``from: -40m`` -> 2400; none: 0): a
        booking fires at least this long before its start."""
        return max((-s.start for s in self.switches.values() if s.start < 0), default=0.0)

    def switch_roles(self) -> set[str]:
        """Every switch role the preset names (top level, phases, after)."""
        roles = set(self.switches) | {r for p in self.phases for r in p.switches}
        return roles | set(self.after.switches or {})

    def summary(self) -> str:
        return self.description.strip().splitlines()[0] if self.description.strip() else ""

    def phase_at(self, at: float, length: float) -> float:
        """Seconds from the session start of a phase ``at`` (negative counts back from ``length``)."""
        return max(0.0, length + at) if at < 0 else at


def _cross_check(preset: Preset, source: str) -> list[Issue]:
    """What a single field cannot say about itself."""
    issues = []
    length = preset.duration
    if length <= 0:
        issues.append(Issue(source, "duration", "must be more than 0"))
    names: set[str] = set()
    for i, phase in enumerate(preset.phases):
        if phase.at >= length or -phase.at > length:
            issues.append(
                Issue(
                    source,
                    f"phases[{i}].at",
                    f"{format_duration(phase.at)} is outside the session; allowed from "
                    f"-{format_duration(length)} to under {format_duration(length)}",
                )
            )
        if phase.name in names:
            issues.append(Issue(source, f"phases[{i}].name", f"{phase.name!r} is used by an earlier phase"))
        names.add(phase.name)
    for role, switch in preset.switches.items():
        if switch.start >= length > 0:
            issues.append(
                Issue(
                    source,
                    f"switches.{role}.from",
                    f"{format_duration(switch.start)} is not before the session's end; allowed: under "
                    f"{format_duration(length)} (counted from the start, negative before it)",
                )
            )
    music = preset.music
    if music and music.fade_in + music.fade_out > length:
        issues.append(
            Issue(
                source,
                "music.fade_out",
                f"fade_in {format_duration(music.fade_in)} + fade_out {format_duration(music.fade_out)} "
                f"is longer than the session ({format_duration(length)})",
            )
        )
    return issues


def parse_preset(text: str, preset_id: str, source: str) -> Preset:
    """Parse one preset's YAML text. Raises :class:`PresetError` listing every problem."""
    data, issues = load_yaml(text, source)
    if issues:
        raise PresetError(issues)
    if not ID_PATTERN.match(preset_id):
        issues.append(
            Issue(source, "", f"the file name {preset_id!r} is not a preset id; use lowercase letters, digits, - and _")
        )
    if not isinstance(data, dict):
        raise PresetError(issues + [Issue(source, "", "a preset is a mapping of keys (name, duration, ...)")])
    if "id" in data:
        issues.append(Issue(source, "id", "unknown key 'id'; the preset id is the file name"))
        data = {k: v for k, v in data.items() if k != "id"}
    try:
        preset = Preset.model_validate({"id": preset_id, **data})
    except ValidationError as exc:
        raise PresetError(issues + issues_from(exc, Preset, source)) from None
    issues += _cross_check(preset, source)
    if issues:
        raise PresetError(issues)
    return preset
