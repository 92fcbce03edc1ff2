"""The preset library on disk: every preset file of the configured folders.

The daemon holds ONE :class:`Library` that the controller, the rooms, the bookings and every surface
read through; a reload (:func:`load_library` with ``previous``, when :func:`fingerprint` changes)
puts the new contents in with :meth:`Library.replace`, in one step on the event loop, so a reader
sees the old library or the new one, never a mix. A running session keeps the :class:`Preset` it
started with (the room holds its own).
"""

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

    def replace(self, other: Library) -> None:
        """Take ``other``'s contents: new dicts, never the old ones changed, so a reader that holds
        ``presets`` from before keeps a whole library."""
        self.presets, self.sources, self.problems = dict(other.presets), dict(other.sources), list(other.problems)

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


Fingerprint = tuple[tuple[str, int, int, int], ...]
"""Each preset file's path, inode, size and mtime (ns), and each folder's state: what a reload compares."""


def fingerprint(folders: list[Path]) -> Fingerprint:
    """The state of the preset folders from ``stat`` alone (no file read): a new, edited (also
    replaced by an editor's rename) or removed file, or a folder that appears or goes, changes it."""
    marks: list[tuple[str, int, int, int]] = []
    for folder in folders:
        marks.append((str(folder), int(folder.is_dir()), 0, 0))
    for path in preset_files(folders):
        try:
            st = path.stat()
        except OSError:  # removed between the listing and the stat: the next look sees it gone
            continue
        marks.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(marks)


def load_library(folders: list[Path], previous: Library | None = None) -> Library:
    """Every preset of ``folders``. With ``previous`` (a reload): a file that no longer loads keeps
    the preset ``previous`` had from it, with its problems listed and a note that it was kept."""
    lib = Library()
    kept = {path: pid for pid, path in previous.sources.items()} if previous is not None else {}
    for folder in folders:
        if not folder.is_dir():
            lib.problems.append(Issue(str(folder), "", "is not a folder; no presets loaded from it"))
    for path in preset_files(folders):
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            lib.problems += exc.issues
            old = kept.get(path)
            if previous is None or old is None:
                continue
            preset = previous.presets[old]
            lib.problems.append(Issue(str(path), "", f"the last good version of preset {old!r} stays in use"))
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
