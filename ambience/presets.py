"""Presets: what a session feels like. One YAML file per preset; the file's stem is its id.

The models are strict (unknown keys refused, frozen) and carry their units in their types
(:mod:`ambience.units`). :func:`parse_preset` reports every problem of a file at once;
:func:`load_library` loads every preset of some folders, skipping (and reporting) bad ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .errors import Issue, PresetError
from .units import Celsius, HexColor, Kelvin, Percent, Seconds, SignedSeconds, Volume, format_duration
from .validation import issues_from, load_yaml, read_text

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TECHNIQUES = ("swedish", "deep-tissue", "myofascial", "trigger-point", "express", "home-visit", "other")
MAX_BYTES = 64 * 1024
"""The largest preset file read; the shipped ones are under 1.5 KiB (docs/daemon.md, presets/README.md)."""
DEFAULT_TRANSITION = 3.0
"""Seconds a light change takes when neither the phase nor the preset says."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _on_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as False and `on` as True.
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value.lower() if isinstance(value, str) else value


OnOff = Annotated[Literal["on", "off"], BeforeValidator(_on_off)]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


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


class Phase(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    at: SignedSeconds
    lights: Lights | None = None
    climate: Climate | None = None
    music: MusicChange | None = None


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

    @property
    def restore_all(self) -> bool:
        return self.lights is None and self.climate is None


class Preset(Strict):
    id: str
    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    technique: Literal[TECHNIQUES] = "other"  # type: ignore[valid-type]
    duration: Seconds
    climate: Climate | None = None
    lights: Lights | None = None
    music: Music | None = None
    phases: tuple[Phase, ...] = ()
    after: Annotated[After, BeforeValidator(_after)] = After()

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


def load_preset_file(path: Path) -> Preset:
    text, issues = read_text(path, MAX_BYTES, "preset file")
    if text is None:
        raise PresetError(issues)
    return parse_preset(text, path.stem, str(path))


@dataclass
class Library:
    """The presets found in some folders, and the problems met on the way."""

    presets: dict[str, Preset] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)

    def get(self, preset_id: str) -> Preset:
        from .errors import NotFound

        try:
            return self.presets[preset_id]
        except KeyError:
            raise NotFound("preset", preset_id, list(self.presets)) from None


def preset_files(folders: list[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return files


def load_library(folders: list[Path]) -> Library:
    lib = Library()
    for folder in folders:
        if not folder.is_dir():
            lib.problems.append(Issue(str(folder), "", "is not a folder; no presets loaded from it"))
    for path in preset_files(folders):
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            lib.problems += exc.issues
            continue
        if preset.id in lib.presets:
            lib.problems.append(
                Issue(str(path), "", f"preset id {preset.id!r} is already taken by {lib.sources[preset.id]}; skipped")
            )
            continue
        lib.presets[preset.id] = preset
        lib.sources[preset.id] = path
    return lib


def shipped_presets() -> Path:
    """The preset library that comes with ambience (in a wheel, or the checkout's presets/)."""
    here = Path(__file__).resolve().parent
    packaged = here / "preset_library"
    return packaged if packaged.is_dir() else here.parent / "presets"
