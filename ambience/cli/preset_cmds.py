"""``ambience presets list|show|check``: work offline, from the preset files alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context, print_error
from ambience.config.library import Library, load_library, load_preset_file, preset_files
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.errors import Issue, PlayerError, PresetError
from ambience.model.preset import Preset
from ambience.model.state import ALL, Light, LightTarget, RoomState
from ambience.music import sounds
from ambience.music.library import load_playlist
from ambience.units import format_clock, format_duration, format_temperature


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    presets = sub.add_parser("presets", help="list, show and check presets", parents=[common])
    psub = presets.add_subparsers(dest="presets_command", metavar="ACTION", required=True)
    p = psub.add_parser("list", help="the presets: id, name, duration, description", parents=[common])
    p.set_defaults(handler=cmd_list)
    p = psub.add_parser("show", help="one preset, with its phases as a timeline", parents=[common])
    p.add_argument("preset", metavar="ID|FILE")
    p.set_defaults(handler=cmd_show)
    p = psub.add_parser("check", help="check preset files (default: every preset folder)", parents=[common])
    p.add_argument("files", nargs="*", metavar="FILE")
    p.set_defaults(handler=cmd_check)


def library(ctx: Context) -> Library:
    return load_library(ctx.config.preset_folders())


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    lib = library(ctx)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("ID", "NAME", "DURATION", "TECHNIQUE", "DESCRIPTION"):
        table.add_column(col, overflow="fold" if col == "DESCRIPTION" else "ellipsis", no_wrap=col != "DESCRIPTION")
    for pid, preset in sorted(lib.presets.items(), key=lambda kv: (kv[1].technique, kv[1].duration, kv[0])):
        table.add_row(pid, preset.name, format_duration(preset.duration), preset.technique, preset.summary())
    ctx.out.print(table)
    for issue in lib.problems:
        print_error(ctx.err, f"{issue} (skipped)")
    return 0


def _find(ctx: Context, ref: str) -> Preset:
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_preset_file(path)
    return library(ctx).get(ref)


def describe_light(lt: LightTarget) -> str:
    def one(light: Light) -> str:
        if not light.on:
            return "off"
        text = f"{light.brightness:.0f} %"
        if light.color:
            text += f" {light.color}"
        elif light.color_temp:
            text += f" {light.color_temp:.0f} K"
        return text

    if lt.transition > 0 and one(lt.now) != one(lt.target):
        return f"{one(lt.now)} → {one(lt.target)} over {format_duration(round(lt.transition))}"
    return one(lt.now)


def describe(state: RoomState, units: str = "metric") -> dict[str, str]:
    lights = ""
    if state.lights:
        parts = [describe_light(state.lights[ALL])]
        parts += [f"{role}: {describe_light(lt)}" for role, lt in sorted(state.lights.items()) if role != ALL]
        lights = "; ".join(parts)
    climate = ""
    if state.climate and state.climate.target:
        climate = format_temperature(state.climate.target, units) + (
            f" {state.climate.mode}" if state.climate.mode else ""
        )
    music = ""
    if state.music:
        m = state.music
        music = f"{m.playlist} {m.volume:.0f}"
        if m.ramp > 0:
            music += f" → {m.target:.0f} over {format_duration(round(m.ramp))}"
    switches = "; ".join(f"{role} {'on' if sw.on else 'off'}" for role, sw in sorted((state.switches or {}).items()))
    return {"lights": lights, "climate": climate, "music": music, "switches": switches}


def _at(point: float) -> str:
    """A moment of the session as ``presets show`` writes it; before the start (the lead): ``-40:00``."""
    return "-" + format_clock(-point) if point < 0 else format_clock(point)


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    preset = _find(ctx, args.preset)
    out = ctx.out
    out.print(
        f"[bold]{escape(preset.name)}[/bold] ({preset.id}) — {format_duration(preset.duration)}, {preset.technique}"
    )
    if preset.description:
        out.print(escape(preset.description.strip()))
    facts = SessionFacts(started_at=0.0, duration=preset.duration, lead=preset.switch_lead)
    timeline = Timeline(preset, facts)
    columns = ["lights", "climate", "music"] + (["switches"] if preset.switch_roles() else [])
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    for col in ["at", "phase", *columns]:
        table.add_column(col.upper(), overflow="fold")
    previous = None
    lead = sorted({s.start for s in preset.switches.values() if s.start < 0})  # before the start: switches only
    for point in lead + timeline.change_points():
        state = timeline.at(point)
        described = describe(state, ctx.config.units)
        row = [described[c] for c in columns]
        key = (state.phase, tuple(row))
        if key == previous:
            continue
        previous = key
        phase = state.phase or ("ended" if state.status == "ended" else "lead" if point < 0 else "")
        table.add_row(_at(point), phase, *(escape(v) for v in row))
    out.print()
    out.print(table)
    after = preset.after
    if after.restore_all:
        out.print("After: the room is restored as it was found.")
    else:
        kept = [k for k in ("lights", "climate") if getattr(after, k) is None]
        if preset.switch_roles():  # a preset without switches leaves them out of what it says
            kept.append("switches" if after.switches is None else "other switches")
        end = timeline.at(preset.duration)
        text = describe(end, ctx.config.units)
        shown = "; ".join(f"{k} {v}" for k, v in text.items() if v)
        out.print(f"After: {shown}" + (f"; {', '.join(kept)} restored as found" if kept else ""))
    if preset.switch_roles():
        out.print("A switch that heats is never put back on as found (docs/devices.md, Switches).")
    if preset.switch_lead:
        out.print(
            f"A booking of this preset begins its lead at least {format_duration(preset.switch_lead)} before the start."
        )
    return 0


def _undriven_roles(preset: Preset, rooms: dict[str, set[str]]) -> list[str]:
    """The switch roles of ``preset`` that no room of the config has a switch for (none: no rooms)."""
    if not rooms:
        return []
    known = set().union(*rooms.values())
    return sorted(preset.switch_roles() - known)


class Playlists:
    """What ``presets check`` learns of the playlists: each one looked up (and its tracks read) once."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.lengths: dict[str, float | PlayerError] = {}
        self.default_users: list[str] = []
        """Presets playing the built-in ``calm``, a short loop by design: one note for them all."""

    def builtin(self, name: str) -> bool:
        """``calm`` as the daemon makes it: rendered at start-up into the first music folder if it is
        not there yet (so not missing), or already rendered there (its marker file)."""
        if name != sounds.NAME or not self.folders:
            return False
        folder = self.folders[0] / sounds.NAME
        return sounds.needs_generating(self.folders[0]) or (folder / sounds.MARKER).is_file()

    def total(self, name: str) -> float | PlayerError:
        if name not in self.lengths:
            try:
                playlist = load_playlist(name, self.folders)
                if not playlist.tracks:
                    skipped = (
                        f" ({len(playlist.problems)} files skipped, e.g. {playlist.problems[0]})"
                        if playlist.problems
                        else ""
                    )
                    raise PlayerError(f"playlist {name!r} ({playlist.source}) has no playable tracks{skipped}")
                self.lengths[name] = playlist.total
            except PlayerError as exc:
                self.lengths[name] = exc
        return self.lengths[name]

    def check(self, path: Path, preset: Preset) -> tuple[Issue | None, Issue | None]:
        """(error, warning) for the preset's ``music.playlist``: missing or unplayable; would repeat."""
        if preset.music is None or not self.folders:
            return None, None
        name, field = preset.music.playlist, "music.playlist"
        if self.builtin(name):
            if preset.duration > sounds.TOTAL:  # long enough for any usual session; a longer one hears repeats
                self.default_users.append(preset.id)
            return None, None
        total = self.total(name)
        if isinstance(total, PlayerError):
            return Issue(str(path), field, str(total)), None
        if total < preset.duration:
            return None, Issue(
                str(path), field,
                f"playlist {name!r} is {format_duration(total)} long, shorter than the session's "
                f"{format_duration(preset.duration)}: its tracks would repeat (add tracks or choose a longer playlist)",
            )  # fmt: skip
        return None, None

    def default_note(self) -> str | None:
        if not self.default_users:
            return None
        return (
            f"note: the built-in playlist {sounds.NAME!r} ({format_duration(sounds.TOTAL)} of soft piano, warm pads and"
            f" piano over rain the daemon renders in {self.folders[0] / sounds.NAME}) repeats in any longer session;"
            f" presets playing it: {', '.join(self.default_users)}; put your own music in a music folder for variety"
        )


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    files = [Path(f) for f in args.files] if args.files else preset_files(ctx.config.preset_folders())
    if not files:
        print_error(ctx.err, "no preset files found in " + ", ".join(str(p) for p in ctx.config.preset_folders()))
        return 1
    bad = 0
    rooms = {rid: {dev.role for dev in room.switches} for rid, room in ctx.config.rooms.items()}
    playlists = Playlists(list(ctx.config.music))
    for path in files:
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            bad += 1
            for issue in exc.issues:
                print_error(ctx.err, str(issue))
            continue
        missing, repeats = playlists.check(path, preset)
        if missing is not None:
            bad += 1
            print_error(ctx.err, str(missing))
            continue
        ctx.out.print(f"ok  {escape(str(path))}  ({escape(preset.name)}, {format_duration(preset.duration)})")
        if repeats is not None:
            ctx.out.print(f"warning: {escape(str(repeats))}")
        for role in _undriven_roles(preset, rooms):
            ctx.out.print(
                f"note: {escape(str(path))}: switch role {role!r} is in no room's switches; it is not driven"
                f" (the rooms' switch roles: {', '.join(sorted(set().union(*rooms.values()))) or 'none'})"
            )
    note = playlists.default_note()
    if note is not None:
        ctx.out.print(escape(note))
    ctx.out.print(f"{len(files) - bad} of {len(files)} presets valid")
    return 1 if bad else 0
