"""``ambience playlists list|check|fit`` and ``ambience play``: the music, without the daemon."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ambience.cli import Context, print_error
from ambience.config.devices import AnySpeaker, Speaker
from ambience.core.fitting import FittedPlaylist, fit
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.errors import CommandError, Issue, NotFound, PlayerError
from ambience.model.limits import Limits
from ambience.model.preset import Music, Preset
from ambience.model.state import MusicState
from ambience.music import sounds
from ambience.music.base import Player
from ambience.music.default_library.compose import Piece
from ambience.music.library import Playlist, list_playlists, load_playlist
from ambience.music.registry import make_player
from ambience.music.sounds import NAME as DEFAULT_PLAYLIST
from ambience.music.sounds import ensure_default_playlist
from ambience.units import format_clock, format_duration, parse_duration

STOP_FADE = 3.0
"""Seconds of the fade when ``play`` is interrupted (the first second is audio mpv has already filtered)."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    playlists = sub.add_parser(
        "playlists", help="list, check and fit the playlists of the music folders", parents=[common]
    )
    psub = playlists.add_subparsers(dest="playlists_command", metavar="ACTION", required=True)
    p = psub.add_parser("list", help="each playlist with its track count and total length", parents=[common])
    p.set_defaults(handler=cmd_list)
    p = psub.add_parser(
        "check",
        help="report unreadable files, zero-length tracks and paths outside the music folders (exit 1 if any)",
        parents=[common],
    )
    p.set_defaults(handler=cmd_check)
    p = psub.add_parser("fit", help="the order a session would play: start offsets, total, fade-out", parents=[common])
    p.add_argument("playlist", metavar="PLAYLIST")
    p.add_argument("length", metavar="LENGTH", help="the session length, e.g. 60m or 1h30m")
    p.add_argument("--seed", type=int, default=0, help="the session's shuffle seed (default 0)")
    p.add_argument("--fade-out", default="60s", metavar="DURATION", help="the final fade-out (default 60s)")
    p.add_argument("--no-shuffle", action="store_true", help="keep the playlist's order")
    p.set_defaults(handler=cmd_fit)

    p = sub.add_parser(
        "play",
        help="play a playlist fitted to a length, with fade-in and fade-out (a quick check of a speaker)",
        parents=[common],
    )
    p.add_argument("playlist", metavar="PLAYLIST")
    p.add_argument("--for", dest="length", required=True, metavar="LENGTH", help="how long, e.g. 2m")
    p.add_argument("--volume", type=_volume, default=35, metavar="N", help="0–100 (default 35)")
    p.add_argument("--room", help="use this room's speaker and volume limit")
    p.add_argument("--audio-device", metavar="DEVICE", help="an mpv audio device, e.g. pulse/<sink> (default: auto)")
    p.add_argument("--ao", metavar="OUTPUTS", help="mpv audio outputs to try, e.g. pulse,alsa (or null: silent)")
    p.add_argument("--fade-in", default="20s", metavar="DURATION", help="default 20s")
    p.add_argument("--fade-out", default="60s", metavar="DURATION", help="default 60s")
    p.add_argument("--seed", type=int, help="shuffle seed (default: a random one, printed)")
    p.set_defaults(handler=cmd_play)


def _volume(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; allowed 0–100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed 0–100")
    return value


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _duration(value: str, what: str, *, positive: bool = False) -> float:
    """A fade (a bare number: seconds) or, ``positive``, a session's length (a bare number: minutes, at most 6 h)."""
    try:
        seconds = parse_duration(value, bare=60.0 if positive else 1.0)
    except ValueError as exc:
        raise CommandError(f"{what}: {exc}") from None
    if positive and seconds <= 0:
        raise CommandError(f"{what}: {value!r} must be more than 0")
    if positive and seconds > 6 * 3600:
        raise CommandError(f"{what}: {value!r} is too long; at most 6h")
    return seconds


def _folders(ctx: Context) -> list[Path]:
    folders = list(ctx.config.music)
    if not folders:
        raise PlayerError("no music folder is configured; add one under 'music:' in the config")
    return folders


def _default_state(folders: list[Path]) -> sounds.Progress | None:
    """How far the default library is in the first music folder; None if a ``calm`` of one's own is used."""
    if any(sounds.progress(f) is None for f in folders):
        return None
    return sounds.progress(folders[0])


def _ensure_default(ctx: Context, folders: list[Path]) -> None:
    """Render the default library (all of it: a fit needs every length) unless one's own ``calm`` is used."""
    state = _default_state(folders)
    if state is None or state.complete:
        return
    folder = folders[0] / DEFAULT_PLAYLIST
    ctx.err.print(
        f"rendering the default playlist {DEFAULT_PLAYLIST!r} into {escape(str(folder))}: {state.total - state.done} "
        f"of {state.total} tracks to go, about 10 s each (once) …"
    )

    def report(now: sounds.Progress, piece: Piece) -> None:
        ctx.err.print(f"  {now.done}/{now.total} {escape(piece.mood)}/{escape(piece.stem)}")

    ensure_default_playlist(folders[0], report=report)
    ctx.err.print(f"rendered the default playlist {DEFAULT_PLAYLIST!r} in {escape(str(folder))}")


def _load(ctx: Context, name: str) -> Playlist:
    folders = _folders(ctx)
    if name.strip().strip("/").split("/")[0] == DEFAULT_PLAYLIST:
        _ensure_default(ctx, folders)
    playlist = load_playlist(name, folders)
    for issue in playlist.problems:
        print_error(ctx.err, str(issue))
    if not playlist.tracks:
        raise PlayerError(f"playlist {name!r} has no playable tracks ({escape(str(playlist.source))})")
    return playlist


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    folders = _folders(ctx)
    default = _default_state(folders)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("PLAYLIST", "TRACKS", "LENGTH", "SKIPPED", "WHERE"):
        table.add_column(col, justify="right" if col in ("TRACKS", "LENGTH", "SKIPPED") else "left")
    names = list_playlists(folders)
    if default is not None and DEFAULT_PLAYLIST not in names:
        names = sorted([*names, DEFAULT_PLAYLIST], key=str.casefold)
    for name in names:
        note = f" ({default}; the daemon renders it, or: ambience playlists fit calm 90m)"
        if name == DEFAULT_PLAYLIST and default is not None and not default.done:
            table.add_row(name, "0", "0s", "", escape(str(folders[0] / name)) + note)
            continue
        try:
            pl = load_playlist(name, folders)
        except PlayerError as exc:
            print_error(ctx.err, str(exc))
            continue
        skipped = str(len(pl.problems)) if pl.problems else ""
        where = escape(str(pl.source)) + (note if name == DEFAULT_PLAYLIST and default and not default.complete else "")
        table.add_row(escape(name), str(len(pl.tracks)), format_duration(round(pl.total)), skipped, where)
    ctx.out.print(table)
    return 0


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    folders = _folders(ctx)
    problems: list[Issue] = []
    for folder in folders:
        if not folder.is_dir():
            problems.append(Issue(str(folder), "", "is not a folder (a configured music folder)"))
    names = list_playlists(folders)
    for name in names:
        try:
            pl = load_playlist(name, folders)
        except PlayerError as exc:
            problems.append(Issue(name, "", str(exc)))
            continue
        problems += pl.problems
        if not pl.tracks:
            problems.append(Issue(str(pl.source), "", "has no playable tracks"))
        ctx.out.print(
            f"{'ok ' if not pl.problems and pl.tracks else '!! '} {escape(name)}  "
            f"({_count(len(pl.tracks), 'track')}, {format_duration(round(pl.total))})"
        )
    for issue in problems:
        print_error(ctx.err, str(issue))
    ctx.out.print(f"{_count(len(names), 'playlist')}, {_count(len(problems), 'problem')}")
    return 1 if problems else 0


def fitted_table(fitted: FittedPlaylist) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "START", "LENGTH", "TRACK", ""):
        table.add_column(col, justify="right" if col in ("#", "START", "LENGTH") else "left")
    for e in fitted.entries:
        notes = []
        if e.start <= fitted.fade_out_at < e.end and fitted.fade_out > 0:
            notes.append(f"fade-out begins {format_duration(round(fitted.fade_out_at - e.start))} in")
        if e.end > fitted.length:
            notes.append(f"ends with the session, {format_duration(round(fitted.cut, 1))} before the track's end")
        table.add_row(
            str(e.index + 1),
            format_clock(e.start),
            format_duration(round(e.track.length)),
            escape(e.track.name),
            "; ".join(notes),
        )
    return table


def cmd_fit(args: argparse.Namespace, ctx: Context) -> int:
    length = _duration(args.length, "LENGTH", positive=True)
    fade_out = _duration(args.fade_out, "--fade-out")
    playlist = _load(ctx, args.playlist)
    fitted = fit(playlist.tracks, length, args.seed, fade_out=fade_out, shuffle=not args.no_shuffle)
    ctx.out.print(fitted_table(fitted))
    ctx.out.print(
        f"total {format_duration(round(fitted.total, 1))} of music for a {format_duration(length)} session "
        f"({_count(len(fitted.entries), 'track')}, seed {args.seed}); the end leaves {format_duration(round(fitted.cut, 1))} "
        "of the last track unplayed"
    )
    ctx.out.print(f"fade-out begins at {format_clock(fitted.fade_out_at)} ({format_duration(fade_out)} before the end)")
    ctx.out.print(escape(repeats(fitted, playlist.total)))
    return 0


def repeats(fitted: FittedPlaylist, total: float) -> str:
    """Whether the session hears a track twice: from when, and how often at most (issue 18, point 3)."""
    again = fitted.repeats()
    if again is None:
        return "no track plays twice"
    return (
        f"the playlist ({format_duration(round(total))}) is shorter than the session: it repeats from "
        f"{format_clock(again.at)} ({again.track.name} again); a track plays up to {again.times} times"
    )


def cmd_play(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    length = _duration(args.length, "--for", positive=True)
    fade_in = _duration(args.fade_in, "--fade-in")
    fade_out = _duration(args.fade_out, "--fade-out")
    if fade_in + fade_out > length:
        raise CommandError(
            f"--fade-in {format_duration(fade_in)} + --fade-out {format_duration(fade_out)} is longer than "
            f"--for {format_duration(length)}"
        )
    limits: Limits = config.limits
    speaker: AnySpeaker = Speaker()
    if args.room is not None:
        if args.room not in config.rooms:
            raise NotFound("room", args.room, list(config.rooms))
        limits = config.room_limits(args.room)
        speaker = config.rooms[args.room].speaker or speaker
    overrides = {k: v for k, v in {"audio_device": args.audio_device, "ao": args.ao}.items() if v is not None}
    if overrides and not isinstance(speaker, Speaker):  # a Snapcast stream: its mpv writes into the stream's pipe
        raise CommandError(
            f"--audio-device and --ao are for a speaker on this machine; room {args.room}'s is a Snapcast stream"
        )
    speaker = speaker.model_copy(update=overrides)
    playlist = _load(ctx, args.playlist)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    music = Music(playlist=args.playlist, volume=args.volume, shuffle=True, fade_in=fade_in, fade_out=fade_out)
    preset = Preset.model_validate({"id": "play", "name": "play", "duration": f"{length}s", "music": music})
    fitted = fit(playlist.tracks, length, seed, fade_out=fade_out)
    player = make_player(
        speaker, max_volume=limits.max_volume, name="play", loudness_cache=config.state_dir / "loudness.json"
    )
    asyncio.run(_play(ctx, player, preset, limits, fitted, seed))
    return 0


async def _play(
    ctx: Context, player: Player, preset: Preset, limits: Limits, fitted: FittedPlaylist, seed: int
) -> None:
    try:
        if not await player.open():
            raise PlayerError(player.status()["error"] or "music is off")
        facts = SessionFacts(started_at=time.time(), duration=preset.duration, seed=seed)
        timeline = Timeline(preset, facts, limits)
        for note in timeline.notes:
            ctx.err.print(f"note: {escape(note)}")
        assert preset.music is not None
        ctx.out.print(
            f"playing {escape(preset.music.playlist)!r} for {format_duration(preset.duration)}: "
            f"{_count(len(fitted.entries), 'track')} (seed {seed}), volume {preset.music.volume}, "
            f"fade-in {format_duration(preset.music.fade_in)}, fade-out {format_duration(preset.music.fade_out)}"
        )
        try:
            await _follow(ctx, player, timeline, fitted)
        except asyncio.CancelledError:  # Ctrl-C: fade out quickly, then stop
            await _fade_away(player, timeline, fitted)
            ctx.err.print("stopped")
            raise
        ctx.out.print("done")
    finally:
        await player.follow(None, None)
        await player.close()


async def _follow(ctx: Context, player: Player, timeline: Timeline, fitted: FittedPlaylist) -> None:
    facts, shown, told = timeline.facts, None, False
    while True:
        now = time.time()
        state = timeline.at(now)
        if state.status == "ended" or state.music is None:
            return
        await player.follow(state.music, fitted)
        wake = timeline.next_change(now) or state.ends_at
        while (left := wake - time.time()) > 0:
            await asyncio.sleep(min(0.2, left))
            status = player.status()
            if status["error"] and not status["playing"]:
                if facts.elapsed(time.time()) > 0.5:
                    raise PlayerError(status["error"])
            elif status["error"] and not told:
                ctx.err.print(f"note: {escape(status['error'])}")
                told = True
            if status["track"] and status["track"] != shown:
                shown = status["track"]
                output = f"  ({player.output})" if player.output else ""
                ctx.out.print(f"{format_clock(facts.elapsed(time.time()))}  {escape(shown)}{output}")


async def _fade_away(player: Player, timeline: Timeline, fitted: FittedPlaylist) -> None:
    status = player.status()
    position = player.position
    if not status["playing"] or position is None or status["volume"] <= 0:
        return
    music = MusicState(
        playlist="",
        shuffle=True,
        playing=True,
        position=position,
        volume=status["volume"],
        target=0.0,
        ramp=STOP_FADE,
    )
    await player.follow(music, fitted)
    await asyncio.sleep(STOP_FADE + 0.5)
