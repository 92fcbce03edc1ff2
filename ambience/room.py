"""One room at run time: its session, pushed to its devices and player from the timeline.

The room never sleeps through a change: it asks the timeline for the desired state now,
hands it to the devices and the player, and sleeps until the timeline's next change (or a
command wakes it). A session's end is the timeline's deadline, never a chain of sleeps; the
after state is applied at once and the session row kept until the devices have settled, so
a crash in between re-applies it on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .aio import wait_event
from .clients import Comfort
from .config import Limits
from .config import Room as RoomConfig
from .devices.manager import Devices
from .errors import AmbienceError, Busy, CommandError
from .playlists import FittedPlaylist, Playlist, fit, load_playlist
from .presets import DEFAULT_TRANSITION, Library, Preset
from .session import SessionFacts
from .store import SessionRecord, Store
from .timeline import ClimateState, Light, LightTarget, RoomState, Timeline

log = logging.getLogger(__name__)

FINISH_POLL = 0.5
"""Seconds between checks that the after state has settled."""


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).astimezone().isoformat(timespec="seconds")


def snapshot_of(devices: Devices, room_id: str) -> dict[str, Any]:
    """What each device last reported, in ambience units, for ``after: restore``."""
    out: dict[str, Any] = {}
    for dev_id, tracked in devices.rooms[room_id].items():
        rep = tracked.describe()["reported"]
        if rep is not None:
            out[dev_id] = rep
    return out


class Room:
    def __init__(
        self,
        room_id: str,
        config: RoomConfig,
        limits: Limits,
        devices: Devices,
        store: Store,
        library: Library,
        music_folders: list,
        player: Any | None,
        clock: Callable[[], float],
        on_change: Callable[[str], None] = lambda room: None,
    ):
        self.id = room_id
        self.config = config
        self.limits = limits
        self.devices = devices
        self.store = store
        self.library = library
        self.music_folders = music_folders
        self.player = player
        self.clock = clock
        self.on_change = on_change
        self.record: SessionRecord | None = None
        self.preset: Preset | None = None
        self.timeline: Timeline | None = None
        self.fitted: FittedPlaylist | None = None
        self.playlist: Playlist | None = None
        self.music_problem: str | None = None
        self._wake = asyncio.Event()
        self._last_phase: tuple | None = None
        self._stop_outcome = "stopped"

    # ---- commands (each persists before it returns) --------------------------------------

    @property
    def active(self) -> bool:
        return self.record is not None and self.record.outcome is None

    def start(
        self,
        preset: Preset,
        *,
        duration: float | None = None,
        client: str | None = None,
        comfort: Comfort | None = None,
        lead: float = 0.0,
        replace: bool = False,
        booking: dict[str, Any] | None = None,
        started_at: float | None = None,
    ) -> None:
        self.devices.catch_up(self.id)  # what the room's devices said so far, before taking it as found
        now = self.clock()
        snapshot = snapshot_of(self.devices, self.id)
        if self.record is not None:
            if self.active and not replace:
                raise Busy(
                    f"room {self.id!r} is busy with {self.record.preset!r} until "
                    f"{iso(self.record.facts.ends_at(now))}; stop it first or start with replace"
                )
            # the room as found is the first session's snapshot, not what this one left
            snapshot = self.record.snapshot
            if self.active:
                self._end(now, "replaced", apply_after=False)
        facts = SessionFacts(
            started_at=now + lead if started_at is None else started_at,
            duration=duration or preset.duration,
            lead=lead,
            comfort=comfort or Comfort(),
            seed=random.randrange(1 << 31),
        )
        self.record = SessionRecord(uuid.uuid4().hex[:12], self.id, preset.id, facts, client, snapshot, None, booking)
        self._stop_outcome = "stopped"
        self.preset = preset
        self.fitted, self.playlist = None, None
        self._set_timeline()
        self.store.save_session(self.record)
        log.info("%s: started %s for %ss", self.id, preset.id, facts.length)
        self._apply_now()
        self.wake()

    def pause(self) -> None:
        self._change(lambda f, now: f.pause(now))

    def resume(self) -> None:
        self._change(lambda f, now: f.resume(now))

    def extend(self, by: float) -> None:
        self._change(lambda f, now: f.extend(by, now))
        self.fitted = self._refit(self.fitted)

    def stop(self, outcome: str = "stopped") -> None:
        self._stop_outcome = outcome
        self._change(lambda f, now: f.stop(now))

    def _change(self, fn: Callable[[SessionFacts, float], SessionFacts]) -> None:
        if not self.active:
            raise CommandError(f"room {self.id!r} has no session running")
        assert self.record is not None
        self.record.facts = fn(self.record.facts, self.clock())
        self._set_timeline()
        self.store.save_session(self.record)
        self._apply_now()
        self.wake()

    def restore(self, record: SessionRecord) -> None:
        """Take a session back after a restart (its preset must still exist)."""
        self.record = record
        try:
            self.preset = self.library.get(record.preset)
        except AmbienceError:
            log.error("%s: preset %r of the stored session is gone; ending the session", self.id, record.preset)
            self.preset = Preset(id=record.preset, name=record.preset, duration=max(1.0, record.facts.duration))
            record.facts = record.facts.stop(self.clock()) if record.facts.stopped_at is None else record.facts
        self.fitted = None
        self._set_timeline()
        self.wake()

    def _set_timeline(self) -> None:
        assert self.record is not None and self.preset is not None
        self.timeline = Timeline(self.preset, self.record.facts, self.limits)

    def wake(self) -> None:
        self._wake.set()

    def _apply_now(self) -> None:
        """Send the devices what the command changed before anything else (the tick that follows
        finds them asked already); a session that ended is left to the tick's after state."""
        assert self.timeline is not None
        state = self.timeline.at(self.clock())
        if state.status != "ended":
            self.devices.apply(self.id, state)
            self._last_phase = (state.status, state.phase)  # the command's caller tells the listeners

    # ---- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                wake_at = await self.tick()
            except Exception:
                log.exception("%s: tick failed", self.id)
                wake_at = self.clock() + 5
            self._wake.clear()
            delay = None if wake_at is None else max(0.0, wake_at - self.clock())
            await wait_event(self._wake, delay)

    async def tick(self) -> float | None:
        """Push the desired state now; returns when to look again (``None``: not until woken)."""
        record, timeline = self.record, self.timeline
        if record is None or timeline is None:
            return None
        now = self.clock()
        state = timeline.at(now)
        if state.status == "ended":
            if record.outcome is None:
                self._end(now, self._stop_outcome if record.facts.stopped_at is not None else "completed")
            return await self._finishing()
        self.devices.apply(self.id, state)
        await self._music(state, now)
        key = (state.status, state.phase)
        if key != self._last_phase:
            self._last_phase = key
            self.on_change(self.id)
        return timeline.next_change(now)

    def _end(self, now: float, outcome: str, apply_after: bool = True) -> None:
        record = self.record
        assert record is not None and self.timeline is not None
        ended_at = min(now, record.facts.ends_at(now))
        record.outcome = outcome
        self.store.record_history(record, ended_at, outcome)
        self.store.save_session(record)
        log.info("%s: session %s %s", self.id, record.preset, outcome)
        if apply_after:
            self._apply_after(self.timeline.at(max(now, record.facts.ends_at(now))))
        self.on_change(self.id)

    def _apply_after(self, state: RoomState) -> None:
        record = self.record
        assert record is not None
        for dev_id, tracked in self.devices.rooms[self.id].items():
            snap = record.snapshot.get(dev_id)
            if tracked.kind == "climate":
                desired: Any = state.climate
                if "climate" in state.restore:
                    desired = self._restored_climate(snap)
            else:
                desired = state.light(tracked.role)
                if "lights" in state.restore:
                    desired = _restored_light(snap)
            if desired is not None or tracked.kind == "light":
                self.devices.want(self.id, dev_id, desired)

    def _restored_climate(self, snap: dict | None) -> ClimateState:
        # A thermostat never heard from is set to the room's minimum: no heater is left on high.
        if not snap or snap.get("target") is None:
            return ClimateState(self.limits.min_temperature, (snap or {}).get("mode") or "heat")
        return ClimateState(float(snap["target"]), snap.get("mode") or "heat")

    async def _finishing(self) -> float | None:
        await self._music(None)
        if self.devices.settled(self.id):
            self.store.delete_session(self.id)
            self.record, self.timeline, self.preset, self.fitted, self.playlist = None, None, None, None, None
            self._last_phase = None
            self.on_change(self.id)
            return None
        return self.clock() + FINISH_POLL

    # ---- music ------------------------------------------------------------------------------

    async def _music(self, state: RoomState | None, at: float | None = None) -> None:
        if self.player is None:
            return
        music = state.music if state is not None else None
        if music is not None and self.fitted is None:
            self.fitted = await asyncio.to_thread(self._fit)
        await self.player.follow(music if self.fitted is not None else None, self.fitted, at)

    def _fit(self) -> FittedPlaylist | None:
        record, preset = self.record, self.preset
        if record is None or preset is None or preset.music is None:
            return None
        try:
            playlist = load_playlist(preset.music.playlist, self.music_folders)
            self.playlist = playlist
            by_name = {t.name: t for t in playlist.tracks}
            stored = [by_name[n] for n in record.music_order if n in by_name]
            fitted = fit(
                playlist.tracks,
                record.facts.length,
                record.facts.seed,
                fade_out=preset.music.fade_out,
                shuffle=preset.music.shuffle,
                keep=stored if len(stored) == len(record.music_order) else (),
            )
        except AmbienceError as exc:
            self.music_problem = str(exc)
            log.warning("%s: no music: %s", self.id, exc)
            return None
        self.music_problem = None
        self._remember(fitted)
        return fitted

    def _refit(self, fitted: FittedPlaylist | None) -> FittedPlaylist | None:
        """After an extension: keep what has played, fit the rest to the new length."""
        record, preset = self.record, self.preset
        playlist = self.playlist
        if fitted is None or playlist is None or record is None or preset is None or preset.music is None:
            return fitted
        position = record.facts.elapsed(self.clock())
        played = fitted.played(max(0.0, position))
        refit = fit(
            playlist.tracks, record.facts.length, record.facts.seed, fade_out=preset.music.fade_out,
            shuffle=preset.music.shuffle, keep=played,
        )  # fmt: skip
        self._remember(refit)
        return refit

    def _remember(self, fitted: FittedPlaylist) -> None:
        assert self.record is not None
        order = [e.track.name for e in fitted.entries]
        if order != self.record.music_order:
            self.record.music_order = order
            self.store.save_session(self.record)

    # ---- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = self.clock()
        record, timeline = self.record, self.timeline
        out: dict[str, Any] = {
            "room": self.id,
            "name": self.config.name or self.id,
            "state": "idle",
            "preset": None,
            "preset_name": None,
            "phase": None,
            "client": None,
            "started_at": None,
            "ends_at": None,
            "remaining_s": None,
            "devices": self.devices.status(self.id),
        }
        if record is not None and timeline is not None and record.outcome is None:
            state = timeline.at(now)
            if state.status != "ended":
                out.update(
                    state="running" if state.status == "scheduled" else state.status,
                    preset=record.preset,
                    preset_name=self.preset.name if self.preset else record.preset,
                    phase=state.phase,
                    client=record.client,
                    started_at=iso(record.facts.started_at),
                    ends_at=iso(state.ends_at),
                    remaining_s=round(state.remaining, 1),
                    notes=list(state.notes),
                )
        out["music"] = self._music_status()
        return out

    def _music_status(self) -> dict[str, Any]:
        if self.player is None:
            return {"playing": False, "track": None, "volume": 0, "error": "no speaker configured for this room"}
        status = dict(self.player.status())
        if self.music_problem and not status.get("error"):
            status["error"] = self.music_problem
        return status


def _restored_light(snap: dict | None) -> LightTarget | None:
    """The light as found; never heard from: left as it is."""
    if not snap:
        return None
    light = Light(
        float(snap.get("brightness", 0)) if snap.get("on") else 0.0, snap.get("color_temp"), snap.get("color")
    )
    return LightTarget(light, light, DEFAULT_TRANSITION)
