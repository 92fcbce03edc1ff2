"""The preset library on disk: every preset file of the configured folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ambience.errors import Issue, NotFound, PresetError
from ambience.model.parse import read_text
from ambience.model.preset import Preset, parse_preset

MAX_BYTES = 64 * 1024
"""The largest preset file read; the shipped ones are under 2 KiB (docs/daemon.md, presets/README.md)."""


@dataclass
class Library:
    """The presets found in some folders, and the problems met on the way."""

    presets: dict[str, Preset] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)

    def get(self, preset_id: str) -> Preset:
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
    here = Path(__file__).resolve().parent.parent  # ambience/
    packaged = here / "preset_library"
    return packaged if packaged.is_dir() else here.parent / "presets"


def load_preset_file(path: Path) -> Preset:
    text, issues = read_text(path, MAX_BYTES, "preset file")
    if text is None:
        raise PresetError(issues)
    return parse_preset(text, path.stem, str(path))
