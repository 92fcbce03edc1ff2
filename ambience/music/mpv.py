"""The mpv player: one mpv per room, following the timeline's music state. See docs/music.md.

The daemon calls ``await player.follow(state.music, fitted)`` whenever the timeline changes (a
change point, pause, resume, extension) and ``follow(None, None)`` at the end. ``follow`` is
idempotent: it compares what mpv plays with what should play and only then acts.

How the volume is done (sample-accurate in real time and in a faster-than-real-time WAV render):

- mpv's ``volume`` property is set once, to the room's ``max_volume``: a hard ceiling.
- Each file gets its own lavfi filter ``volume=eval=frame`` whose expression is the session's
  volume envelope, piecewise linear in *session seconds* = the file's timestamp ``t`` + the
  session second at which the file starts. Frames are cut to 256 samples first (5 ms at 48 kHz),
  so long and short fades move in small steps. The gain is ``(V / max_volume)³``: with the
  ceiling it gives mpv's own cubic volume curve for ``V``, and it can never exceed ``max_volume``.
- The same expression carries the track's loudness gain, a constant factor that brings it to the room's
  target (``speaker.loudness``, :mod:`ambience.music.loudness`), so it moves with the file exactly.
  A file not measured yet plays at factor 1 and is measured in the background for next time.
- The envelope (:mod:`ambience.core.envelope`) is the state's ramp, then its target held until the
  fitted fade-out begins, then a straight line to silence at the session end; the file that covers
  the end stops there (mpv's ``end``). So a fade that the daemon starts runs to its end inside mpv,
  with no timer, and the fade-out ends with the session even in a fast render. Whether to keep the
  playing file or load anew is decided there too (``plan_for``, ``keeping``), as for every player.

Threads: mpv calls run on one worker thread of their own (in order), never on the event loop;
mpv's callbacks only hand values to the loop with ``call_soon_threadsafe``. No libmpv, or no audio
output: ``status()`` says why and nothing is raised into the room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ambience.core.envelope import Envelope, Plan, keeping, late, plan_for
from ambience.core.fitting import Entry, FittedPlaylist
from ambience.errors import PlayerError
from ambience.model.state import MusicState
from ambience.music.base import (
    RETRY_AFTER,
    MusicProblem,
    PlayerStatus,
    failed,
    no_output,
    playing,
    silent_output,
    unavailable,
)
from ambience.music.library import Track
from ambience.music.loudness import LoudnessCache, Measurer, factor, gain_db

log = logging.getLogger(__name__)

DEFAULT_AO = "pipewire,pulse,alsa"
"""Audio outputs tried in order when the room names no device (``null`` left out: silence is an error)."""
FRAME = 256
"""Samples per step of the envelope."""
STARTUP = 0.0
"""First guess of the seconds between loading a file and hearing it: none until measured; learnt per player
(see _learn), and below 0 where the output reports ahead of its clock (mpv's null output: ~-30 ms)."""
COLD_STARTUP = 0.08
"""The same for a player's first file, which also opens the audio output (~50-140 ms here); learnt too."""
LABEL = "ambience"
OBSERVED = ("idle-active", "pause", "playlist-playing-pos", "playback-time", "current-ao")
CONTAINED: dict[str, Any] = {
    "demuxer": "lavf",
    "access_references": False,
    "demuxer_lavf_o": "protocol_whitelist=file",
    "load_unsafe_playlists": False,
    "ordered_chapters": False,
    "autoload_files": False,
    "sub_auto": "no",
    "audio_file_auto": "no",
    "cover_art_auto": "no",
    "sid": "no",
    "ytdl": False,
    "config": False,
    "load_scripts": False,
    "load_auto_profiles": False,
    "load_stats_overlay": False,
    "load_osd_console": False,
    "resume_playback": False,
}
"""mpv opens the file it is given and nothing else (docs/music.md): every file through libavformat with
the demuxer its checked type names (per file, ``demuxer-lavf-format``), so no content is sniffed into an
EDL, a playlist, a cue sheet or a linked timeline; libavformat opens nothing nested
(``access-references``) and, should it try, only local files; no external subtitle, audio or cover
files, no youtube-dl, no config file, scripts or saved positions. Applied over ``options``."""
_END_FILE_ERROR = 4
_AO_INIT_FAILED = -14
_ERRORS = {-13: "loading failed", -16: "nothing to play", -17: "unrecognized file format"}


def load_mpv() -> ModuleType:
    """Import python-mpv (which loads libmpv). Raises ImportError or OSError when it cannot."""
    import mpv

    return mpv


@dataclass(frozen=True)
class AudioDevice:
    """An audio output mpv can play to, as ``audio-device-list`` names it."""

    name: str
    """What ``speaker: {audio_device: ...}`` takes: ``pulse/<sink>``, ``pipewire/<node>``, ``alsa/<device>``, ``auto``."""
    description: str
    """What the sound system calls it, for people."""

    @property
    def output(self) -> str:
        """The mpv audio output it belongs to (``pulse``, ``alsa`` ...); ``auto`` for the default device."""
        return self.name.split("/", 1)[0]

    @property
    def bluetooth(self) -> bool:
        """A Bluetooth speaker: PulseAudio's ``bluez_sink.*``, PipeWire's ``bluez_output.*``, BlueALSA's."""
        text = f"{self.name} {self.description}".casefold()
        return any(word in text for word in ("bluez", "bluealsa", "bluetooth"))


def audio_devices(load: Callable[[], ModuleType] = load_mpv) -> list[AudioDevice]:
    """Every audio output libmpv sees, from every audio output it has (``mpv --audio-device=help``).

    Raises :class:`~ambience.errors.PlayerError` saying why when libmpv cannot be loaded or started."""
    try:
        module = load()
    except (ImportError, OSError, AttributeError) as exc:
        raise PlayerError(f"libmpv cannot be loaded ({exc}); install libmpv (apt install libmpv2)") from None
    try:
        m = module.MPV(idle=True, vid="no", input_default_bindings=False, **CONTAINED)
    except Exception as exc:
        raise PlayerError(f"mpv could not start ({exc})") from None
    try:
        listed = m.audio_device_list or []
    finally:
        m.terminate()
    return [AudioDevice(str(d.get("name", "")), str(d.get("description", ""))) for d in listed if d.get("name")]


def _num(x: float) -> str:
    return f"{x:.6f}"


def gain(envelope: Envelope, offset: float, cap: float, level: float = 1.0) -> str:
    """An ffmpeg expression of the gain (``level · (V / cap)³``) of a file starting at session second ``offset``;
    ``level``: the track's loudness factor."""
    if cap <= 0:
        return "0"
    at = f"(t+{_num(offset)})"  # the frame's start in session seconds
    pts = envelope.points
    expr = _num(pts[-1][1])
    for (s0, v0), (s1, v1) in reversed(list(zip(pts, pts[1:], strict=False))):
        if s1 <= s0:
            continue
        slope = (v1 - v0) / (s1 - s0)
        expr = f"if(lt({at},{_num(s1)}),{_num(v0)}+({slope:.9f})*({at}-{_num(s0)}),{expr})"
    expr = f"if(lt({at},{_num(pts[0][0])}),{_num(pts[0][1])},{expr})"
    scale = "" if level == 1.0 else f"{level:.6f}*"
    return f"if(isnan(t),0,{scale}pow(clip(({expr})/{_num(cap)},0,1),3))"


def _quote(value: str) -> str:
    """mpv's length-prefixed quoting for a value inside a ``key=value,...`` list."""
    return f"%{len(value.encode('utf-8'))}%{value}"


class MpvPlayer:
    """One room's music. Construct, then ``await follow(...)`` as the timeline changes; ``await close()``.

    ``audio_device``: an mpv device name (``pulse/<sink>``, ``alsa/<device>``, see
    ``mpv --audio-device=help``) or ``auto``. ``ao``: the audio outputs to try (default
    :data:`DEFAULT_AO` with ``auto``; with a named device, the device's own output). ``options``:
    more mpv options (``{"ao_pcm_file": ...}``). ``load``: returns the python-mpv module.
    ``meter``: measure the level after the envelope, for :meth:`level`. ``clock``: the clock the
    ``at`` of :meth:`follow` is read on (the daemon's). ``loudness``: the LUFS every track is brought to
    (``None``, the default here: played as they are; a room's is ``speaker.loudness``, -23). ``loudness_cache``: the JSON file (or cache) of measured tracks; by
    default one in memory only. ``lead``: seconds the speaker plays behind what mpv writes (a Snapcast
    stream's pipe, :mod:`ambience.music.snapcast`): the music runs that far ahead of the session, so it is
    heard where the session is and its fade-out ends with it; no start-up delay is learnt then.
    """

    learnt = STARTUP
    """The start-up delay the last player learnt (all rooms share one audio stack)."""
    learnt_cold = COLD_STARTUP
    """The same for a player's first file (the audio output opens then)."""

    def __init__(
        self,
        *,
        audio_device: str = "auto",
        ao: str | None = None,
        max_volume: float = 100,
        options: Mapping[str, Any] | None = None,
        load: Callable[[], ModuleType] = load_mpv,
        name: str = "music",
        retry_after: float = RETRY_AFTER,
        meter: bool = False,
        clock: Callable[[], float] = time.time,
        loudness: float | None = None,
        loudness_cache: Path | LoudnessCache | None = None,
        lead: float = 0.0,
    ):
        self.lead = max(0.0, lead)
        self.audio_device = audio_device or "auto"
        self.ao = ao if ao is not None else (DEFAULT_AO if self.audio_device == "auto" else None)
        self.max_volume = float(min(100.0, max(0.0, max_volume)))
        self.name = name
        self.retry_after = retry_after
        self.meter = meter
        self._options = dict(options or {})
        self._load_module = load
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mpv-{name}")
        self._mpv: Any = None
        self._opened = False
        self._opening: asyncio.Event | None = None
        """Set once :meth:`open` is done: a second caller waits for the first one's mpv."""
        self._closed = False
        self._unavailable: MusicProblem | None = None
        self._problem: MusicProblem | None = None
        self._ao_failed_at: float | None = None
        self._told_silent = False
        self._plan: Plan[Track] | None = None
        self._seen: dict[str, Any] = {"idle-active": True, "pause": False}
        self.clock = clock
        self.reloads = 0
        self.startup = MpvPlayer.learnt
        """Seconds mpv takes from a load until it plays, learnt: a load starts this far ahead so the music
        is where the session is when it is heard (bench P3: it was ~140 ms behind the clock)."""
        self._loaded: tuple[float, float, float, bool] | None = None
        self._cold = True
        self.loudness = loudness
        if isinstance(loudness_cache, LoudnessCache):
            cache = loudness_cache
        else:  # a file: the one cache of it (the rooms share it); none: this player's own, in memory
            cache = LoudnessCache() if loudness_cache is None else LoudnessCache.at(loudness_cache)
        self.measurer = Measurer(cache, load, name=f"loudness-{name}")
        self._unmeasured: set[Path] = set()
        self._levels: dict[tuple[Path, float], float] = {}
        """The loudness factor each queued entry (file, session start) was given: the playing file keeps it when
        its envelope changes, though it was measured meanwhile (no jump)."""
        """How many times the playlist was loaded into mpv (a start or a seek); ``follow`` is idempotent."""

    # ---- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> MpvPlayer:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def available(self) -> bool:
        return self._mpv is not None

    async def open(self) -> bool:
        """Start mpv (in the worker). Never raises: on failure the player is unavailable and says why.
        A call while another is starting mpv waits for it (a follow then is not dropped for want of mpv)."""
        if self._opened:
            if self._opening is not None:
                await self._opening.wait()
            return self.available
        self._opened = True
        self._opening = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            try:
                module = await self._call(self._load_module)
            except (ImportError, OSError, AttributeError) as exc:
                self._unavailable = unavailable(f"libmpv cannot be loaded ({exc})")
                log.warning("%s: %s", self.name, self._unavailable.detail)
                return False
            try:
                self._mpv = await self._call(self._create, module)
            except Exception as exc:  # any mpv option or init error
                self._unavailable = unavailable(f"mpv could not start ({exc})")
                log.warning("%s: %s", self.name, self._unavailable.detail)
                return False
            return True
        finally:
            self._opening.set()

    async def close(self) -> None:
        """Stop the music and shut mpv down. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._mpv is not None:
            try:
                await self._call(self._terminate)
            except Exception as exc:
                log.warning("%s: closing mpv: %s", self.name, exc)
        self._plan = None
        self._worker.shutdown(wait=False)
        self.measurer.close()

    # ---- what the daemon calls -----------------------------------------------------------------

    async def follow(
        self, music: MusicState | None, fitted: FittedPlaylist[Track] | None, at: float | None = None
    ) -> None:
        """Make the music what ``music`` says, playing ``fitted``; ``None`` stops. Idempotent, never raises.

        ``at``: the moment (of :attr:`clock`) ``music`` is for. Music that plays is then started where
        the session is when mpv gets to it, plus what mpv takes to be heard (:attr:`startup`).
        """
        if self._closed:
            return
        await self.open()  # at once if it is open; else started, or waited for if another call is starting it
        if self._mpv is None:
            return
        force = False
        if music is not None and self._ao_failed_at is not None:
            if time.monotonic() - self._ao_failed_at < self.retry_after:
                return
            self._ao_failed_at, self._problem, force = None, None, True
        try:
            await self._call(self._apply, music, fitted, force, at)
        except Exception as exc:
            log.warning("%s: %s", self.name, exc, exc_info=True)
            self._problem = failed(exc)

    def status(self) -> PlayerStatus:
        """What mpv plays, as last reported; see :class:`~ambience.music.base.PlayerStatus`."""
        if self._unavailable:
            return playing(None, None, None, False, self._unavailable, self.max_volume)
        entry = None if self._seen.get("idle-active", True) else self._entry()
        silent = self._output_note()
        problem = self._problem or silent
        return playing(
            self._plan,
            entry,
            self.position,
            bool(self._seen.get("pause")),
            problem,
            self.max_volume,
            silent is not None,
        )

    @property
    def position(self) -> float | None:
        """Session seconds of the music mpv plays now, as last reported."""
        entry, t = self._entry(), self._seen.get("playback-time")
        return None if entry is None or t is None else max(0.0, entry.start + max(0.0, t) - self.lead)

    @property
    def output(self) -> str | None:
        """The audio output in use (``current-ao``)."""
        return self._seen.get("current-ao")

    async def wait_until_idle(self, timeout: float) -> bool:
        """Wait until mpv has nothing more to play (e.g. the session end was reached). False on timeout."""
        deadline = time.monotonic() + timeout
        while self._mpv is not None:
            if await self._call(self._get, "playlist-pos") in (None, -1):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def level(self) -> float | None:
        """The RMS level (dB of full scale) of the last frame that left the envelope; needs ``meter=True``."""
        if self._mpv is None or not self.meter:
            return None
        stats = await self._call(self._get, "af-metadata/meter")
        try:
            return float(stats["lavfi.astats.Overall.RMS_level"])
        except (TypeError, KeyError, ValueError):
            return None

    # ---- on the event loop ---------------------------------------------------------------------

    def _entry(self) -> Entry[Track] | None:
        plan, pos = self._plan, self._seen.get("playlist-playing-pos")
        if plan is None or pos is None or pos < 0 or plan.base + pos >= len(plan.fitted.entries):
            return None
        return plan.fitted.entries[plan.base + pos]

    def _output_note(self) -> MusicProblem | None:
        """Playing silently: mpv fell back to the null output after the outputs before it failed."""
        tried = [a.strip() for a in (self.ao or "").split(",") if a.strip()]
        if self._seen.get("current-ao") == "null" and tried and tried[0] != "null":
            note = silent_output(self.audio_device, tried)
            if not self._told_silent:
                self._told_silent = True
                log.warning("%s: %s", self.name, note.detail)
            return note
        return None

    def _ended(self, reason: int, error: int) -> None:
        if reason != _END_FILE_ERROR:
            return
        if error == _AO_INIT_FAILED:
            if self._ao_failed_at is None:
                self._problem = no_output(self.audio_device, self.ao, self.retry_after)
                log.warning("%s: %s", self.name, self._problem.detail)
            self._ao_failed_at = time.monotonic()
        else:
            log.warning("%s: a track could not be played (%s); skipped", self.name, _ERRORS.get(error, error))

    # ---- mpv's threads: hand everything to the loop --------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _observe(self, name: str, value: Any) -> None:
        self._post(self._seen.__setitem__, name, value)
        if name == "playback-time" and value is not None and self._loaded is not None:
            self._learn(self.clock(), float(value))

    def _learn(self, now: float, file_time: float) -> None:
        """Once per load, half a second in (mpv's thread): how far the music is heard behind the session,
        learnt into :attr:`startup` (an average: one slow load does not throw the next far ahead). A seek
        to make it good at once was tried: mpv reports its position in ~50 ms steps, so it overshot."""
        loaded = self._loaded
        if loaded is None or now - loaded[0] < 0.5:
            return
        self._loaded = None
        at, position, entry_start, cold = loaded
        behind = position + (now - at) - (entry_start + file_time)
        if abs(behind) >= 1.0:  # a seek or a pause, not start-up
            return
        if cold:
            MpvPlayer.learnt_cold = min(0.5, max(-0.2, MpvPlayer.learnt_cold + 0.5 * behind))
        else:
            self.startup = min(0.5, max(-0.2, self.startup + 0.5 * behind))
            MpvPlayer.learnt = self.startup  # the next player starts from what this one learnt

    def _event(self, event: Any) -> None:
        if event.event_id.value == self._end_file_id:
            self._post(self._ended, int(event.data.reason), int(event.data.error))

    def _log(self, level: str, prefix: str, text: str) -> None:
        log.log(
            logging.INFO if level in ("fatal", "error") else logging.DEBUG,
            "%s: mpv %s: %s",
            self.name,
            prefix,
            text.strip(),
        )

    # ---- the worker thread: every mpv call -----------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = self._loop or asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, fn, *args)

    def _create(self, module: ModuleType) -> Any:
        options: dict[str, Any] = {
            "vid": "no",
            "idle": True,
            "volume": self.max_volume,
            "volume_max": 100,
            "hr_seek": "yes",
            "input_default_bindings": False,
        }
        if self.audio_device != "auto":
            options["audio_device"] = self.audio_device
        if self.ao:
            options["ao"] = self.ao
        options.update(self._options)
        options.update(CONTAINED)
        self._end_file_id = module.MpvEventID.END_FILE
        m = module.MPV(log_handler=self._log, loglevel="warn", **options)
        for name in OBSERVED:
            m.observe_property(name, self._observe)
        m.register_event_callback(self._event)
        return m

    def _terminate(self) -> None:
        m, self._mpv = self._mpv, None
        if m is not None:
            m.terminate()

    def _get(self, name: str) -> Any:
        m = self._mpv
        return None if m is None else getattr(m, name)

    def _set(self, name: str, value: Any) -> None:
        text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        self._mpv.command("set", name, text)

    def loudness_factor(self, track: Track) -> float:
        """The linear loudness factor ``track`` plays with: 1 when off, or while it is not measured yet."""
        if self.loudness is None:
            return 1.0
        measured = self.measurer.cache.get(track.path)
        if measured is None:
            if track.path not in self._unmeasured:
                self._unmeasured.add(track.path)
                log.info("%s: %s is not measured yet; it plays at its own loudness this time", self.name, track.name)
            return 1.0
        return factor(gain_db(measured, self.loudness))

    def _af(self, envelope: Envelope, entry: Entry[Track], keep: bool = False) -> str:
        key = (entry.track.path, entry.start)
        level = self._levels.get(key) if keep else None
        if level is None:
            level = self._levels[key] = self.loudness_factor(entry.track)
        expr = gain(envelope, entry.start, self.max_volume, level)
        chain = f"@{LABEL}:lavfi=[asetnsamples=n={FRAME}:p=0,volume=volume='{expr}':eval=frame]"
        return chain + (",@meter:lavfi=[astats=metadata=1:reset=1]" if self.meter else "")

    def _file_options(
        self, fitted: FittedPlaylist[Track], entry: Entry[Track], envelope: Envelope, start: float
    ) -> str:
        options = [f"demuxer-lavf-format={_quote(entry.track.format)}", f"af={_quote(self._af(envelope, entry))}"]
        if start > 0:
            options.append(f"start={start:.3f}")
        if entry.end > fitted.length:
            options.append(f"end={fitted.length - entry.start:.3f}")
        return ",".join(options)

    def _apply(
        self, music: MusicState | None, fitted: FittedPlaylist[Track] | None, force: bool, at: float | None = None
    ) -> None:
        if self._mpv is None:
            return
        if music is not None and music.playing and (at is not None or self.lead):
            lag = 0.0 if at is None else max(0.0, self.clock() - at)  # opening mpv, fitting, the worker's queue
            music = late(music, lag + self.lead)
        planned = plan_for(music, fitted, self.max_volume)
        if music is None or planned is None:
            self._stop()
            return
        new, slot = planned
        if self.loudness is not None:
            self.measurer.ask((e.track.path, e.track.format) for e in new.fitted.entries[new.base :])
        kept = None if force else keeping(self._plan, self._where(), music.position, new)
        if kept is not None and (kept is self._plan or self._requeue(kept)):
            self._set("pause", not music.playing)
            if not music.playing:
                self._loaded = None  # the time paused is not start-up: learn nothing from this load
            return
        self._load(new, slot.offset, paused=not music.playing)

    def _where(self) -> tuple[int, float] | None:
        """The plan's entry index mpv plays now and how far into it, if it plays one."""
        plan = self._plan
        if plan is None or self._get("idle-active"):
            return None
        pos, t = self._get("playlist-playing-pos"), self._get("playback-time")
        if pos is None or pos < 0 or t is None or plan.base + pos >= len(plan.fitted.entries):
            return None
        return plan.base + pos, max(0.0, t)

    def _stop(self) -> None:
        if self._plan is not None or not self._get("idle-active"):
            self._mpv.command("stop")
        self._plan = None

    def _load(self, plan: Plan[Track], offset: float, paused: bool) -> None:
        """Queue ``plan``'s order from its first entry, ``offset`` seconds into it, and play (or hold it paused)."""
        m = self._mpv
        m.command("stop")
        self._levels.clear()
        self.reloads += 1
        self._set("pause", paused)
        fitted, first = plan.fitted, plan.fitted.entries[plan.base]
        cold, self._cold = self._cold and not paused, self._cold and paused
        ahead = 0.0 if paused or self.lead else MpvPlayer.learnt_cold if cold else self.startup
        ahead = max(-offset, min(ahead, max(0.0, first.track.length - offset - 0.05)))  # within the file
        for k, entry in enumerate(fitted.entries[plan.base :]):
            options = self._file_options(fitted, entry, plan.envelope, offset + ahead if k == 0 else 0.0)
            m.command("loadfile", str(entry.track.path), "append", options)
        self._loaded = None if paused or self.lead else (self.clock(), first.start + offset, first.start, cold)
        self._plan = plan
        m.command("playlist-play-index", "0")
        log.info("%s: playing %s from %.1fs", self.name, first.track.name, offset)

    def _requeue(self, plan: Plan[Track]) -> bool:
        """Give the playing file ``plan``'s envelope and end, and queue the rest anew. False if mpv moved on meanwhile."""
        m = self._mpv
        fitted, entry = plan.fitted, plan.fitted.entries[plan.base]
        path = self._get("path")
        if self._plan is None or plan.envelope != self._plan.envelope:
            self._set("af", self._af(plan.envelope, entry, keep=True))
        self._set(
            "file-local-options/end", f"{fitted.length - entry.start:.3f}" if entry.end > fitted.length else "none"
        )
        m.command("playlist-clear")
        if self._get("path") != path or self._get("idle-active"):
            return False
        for later in fitted.entries[plan.base + 1 :]:
            m.command(
                "loadfile", str(later.track.path), "append", self._file_options(fitted, later, plan.envelope, 0.0)
            )
        self._plan = plan
        return True
