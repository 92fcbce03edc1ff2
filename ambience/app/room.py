"""One room at run time: its session, pushed to its devices and player from the timeline.

The room never sleeps through a change: it asks the timeline for the desired state now,
hands it to the devices and the player, and sleeps until the timeline's next change (or a
command wakes it; never longer than ``MAX_SLEEP`` while a session is on, so a step of the wall
clock is noticed). A session's end is the timeline's deadline, never a chain of sleeps.

Ending is an obligation (:mod:`ambience.after`): the after state of every device is written down
(with the history row, in the transaction that removes the session) and then sent; each device
*owes* it until it confirms, across restarts, outages and later sessions, and a device that owes
one is taken "as found" at its owed state by the next session. A store that cannot be written
never stops the after state: it is sent from memory, the write is retried every
``STORE_RETRY`` seconds and the status says so.

Commands are atomic: a start, pause, resume or extend is persisted before it takes effect, or
refused (:class:`~ambience.errors.StoreError`) with nothing changed. A stop is an ending, so it
always takes effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ambience.infra.store import Store

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ambience.config.devices import Room as RoomConfig
from ambience.config.library import Library
from ambience.core.after import DeviceRef, after_states, from_json, to_json
from ambience.core.daily import daily_on, next_daily_switch_change
from ambience.core.fitting import FittedPlaylist, fit
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.devices.manager import Devices, state_words
from ambience.errors import AmbienceError, Busy, CommandError, StoreError
from ambience.infra.aio import wait_event
from ambience.infra.records import Owed, SessionRecord
from ambience.model.client import Comfort
from ambience.model.limits import Limits
from ambience.model.preset import Preset
from ambience.model.state import RoomState, Switch
from ambience.music.base import Player
from ambience.music.library import Playlist, load_playlist
from ambience.units import format_clock, format_duration, format_temperature, say_time

log = logging.getLogger(__name__)

OWED_POLL = 1.0
"""Seconds between checks that a device confirmed the after state it owes."""
MAX_SLEEP = 5.0
"""Seconds a room with a session on sleeps at most: a step of the wall clock is seen in time."""
STORE_RETRY = 5.0
"""Seconds between tries to write what the store refused."""


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).astimezone().isoformat(timespec="seconds")


def snapshot_of(devices: Devices, room_id: str, owed: dict[str, Owed] | None = None) -> dict[str, Any]:
    """How the room is found, for ``after: restore``: what each device still owes, else what it
    last reported (in ambience units)."""
    owed = owed or {}
    out: dict[str, Any] = {}
    for dev_id, tracked in devices.rooms[room_id].items():
        found = owed[dev_id].state if dev_id in owed else tracked.describe()["reported"]
        if found is not None:
            out[dev_id] = found
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
        player: Player | None,
        clock: Callable[[], float],
        on_change: Callable[[str], None] = lambda room: None,
        zone: ZoneInfo | None = None,
        units: str = "metric",
        twelve: bool = False,
    ):
        self.id = room_id
        self.units = units
        self.twelve = twelve
        """Times in messages with am/pm (the config's ``clock``)."""
        """``metric`` or ``imperial``: how the status's words show a temperature."""
        self.zone = zone or ZoneInfo("UTC")
        """The clinic's time zone: switches' daily schedules are in its local time."""
        self.daily = {dev.id: dev for dev in config.switches if dev.daily is not None}
        """Switches kept on for the working day (a towel cabinet), by device id."""
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
        self.owed: dict[str, Owed] = {}
        """After states the room's devices have not confirmed yet (mirrors the store's owed rows)."""
        self.put_back: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        """The after state the last session that ended here sent (device -> state JSON), and how it
        found the room (the departure of a home visit tells it)."""
        self.store_error: str | None = None
        """The last store write that failed and is still to be retried, in words."""
        self._unsaved: list[Callable[[], None]] = []
        """Store writes that failed, retried in order every STORE_RETRY seconds."""
        self._retry_store_at = 0.0
        self._tick_started: float | None = None
        self._fit_tried = False
        """The session's playlist was fitted (or failed to be): not tried again on every tick."""
        self._wake = asyncio.Event()
        self._last_phase: tuple | None = None
        self._stop_outcome = "stopped"
        self.successor: Callable[[str, str], bool] = lambda room, outcome: False
        """Asked when a session here is over (the controller sets it): start the booked session that
        follows straight on, through a turnover (:meth:`start` with ``follows``)? True if it did."""

    # ---- commands (each persists before it returns) --------------------------------------

    # ---- what others may read (the controller, the scheduler, the daemon) ---------------------

    @property
    def active(self) -> bool:
        """A session is on (running, paused, pre-heating or waiting for its lead time)."""
        return self.record is not None and self.record.outcome is None

    @property
    def session_id(self) -> str | None:
        return self.record.id if self.active and self.record is not None else None

    @property
    def session_booking(self) -> dict[str, Any] | None:
        """The booking (its job kwargs) that started the session on, if a booking did."""
        record = self.record
        return record.booking if self.active and record is not None and isinstance(record.booking, dict) else None

    @property
    def ends_at(self) -> float | None:
        """When the session ends if nothing changes (``None``: no session)."""
        return self.record.facts.ends_at(self.clock()) if self.active and self.record is not None else None

    @property
    def session_preset(self) -> str | None:
        return self.record.preset if self.active and self.record is not None else None

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
        follows: str | None = None,
    ) -> None:
        """Start a session; persisted before anything changes, or :class:`StoreError` and nothing did.

        ``follows``: the session running now is over (with this outcome) and this one follows it straight
        on: the room is turned over (``turnover`` of the room) from now, never put back in between."""
        self.devices.catch_up(self.id)  # what the room's devices said so far, before taking it as found
        self.flush_store()
        if self._unsaved:
            raise StoreError(f"cannot start the session: {self.store_error}")
        now = self.clock()
        snapshot = snapshot_of(self.devices, self.id, self.owed)
        replaced: tuple[SessionRecord, float] | None = None
        before = self.timeline
        if self.record is not None:
            if self.active and not replace and follows is None:
                raise Busy(
                    f"room {self.id!r} is busy with {self.record.preset!r} until "
                    f"{self._said(self.record.facts.ends_at(now))}; stop it first or start with replace"
                )
            # the room as found is the first session's snapshot, not what this one left
            snapshot = self.record.snapshot
            replaced = (self.record, min(now, self.record.facts.ends_at(now)))
        facts = SessionFacts(
            started_at=now + lead if started_at is None else started_at,
            duration=duration or preset.duration,
            lead=lead,
            comfort=comfort or Comfort(),
            seed=random.randrange(1 << 31),
            turnover=(now, now + self.config.turnover.length) if follows is not None and replaced else None,
        )
        record = SessionRecord(uuid.uuid4().hex[:12], self.id, preset.id, facts, client, snapshot, None, booking)
        self.store.start_session(record, replaced, follows or "replaced")  # raises StoreError: nothing has changed
        if replaced is not None:
            log.info("%s: session %s %s", self.id, replaced[0].preset, "replaced" if follows is None else follows)
        self.record = record
        self._stop_outcome = "stopped"
        self.preset = preset
        self.fitted, self.playlist, self._fit_tried = None, None, False
        self._set_timeline()
        if follows is not None and before is not None and replaced is not None:
            self._put_back_unnamed_switches(before, replaced[0], now)
        log.info("%s: started %s for %ss", self.id, preset.id, facts.length)
        self._apply_now()
        self.wake()

    def _put_back_unnamed_switches(self, before: Timeline, record: SessionRecord, now: float) -> None:
        """The switches the session before named and this one never does get that session's after state
        (a heater it ran is switched off at the turnover), kept until confirmed like any after state."""
        assert self.timeline is not None
        named = set(self.timeline.switch_keys)
        refs = [
            DeviceRef(dev.id, kind, role, heats=dev.heat_class, restore_on=dev.restore_on)
            for dev, kind, role in self.config.devices()
            if kind == "switch" and role in before.switch_keys and role not in named and dev.id not in self.daily
        ]
        if not refs:
            return
        desired = after_states(before.at(max(now, record.facts.ends_at(now))), refs, record.snapshot, self.limits)
        for dev_id, state in desired.items():
            self.owed[dev_id] = Owed(self.id, dev_id, to_json(state), record.id, now)
            self.devices.want(self.id, dev_id, state)

    def pause(self) -> None:
        self._change(lambda f, now: f.pause(now))

    def resume(self) -> None:
        self._change(lambda f, now: f.resume(now))

    def extend(self, by: float) -> str | None:
        """Add ``by`` seconds (negative shortens). A shortening that takes the end to or before now stops
        the session (outcome ``stopped``, not ``completed``: it did not run its length) and says so."""
        if by < 0 and self.active:
            assert self.record is not None
            now, facts = self.clock(), self.record.facts
            if facts.stopped_at is None and now < facts.ends_at(now) <= now - by:
                elapsed = max(0.0, facts.elapsed(now))
                self.stop()
                return f"shortened past the elapsed {format_duration(round(elapsed))}: the session is stopped"
        self._change(lambda f, now: f.extend(by, now))
        self.fitted = self._refit(self.fitted)
        return None

    def stop(self, outcome: str = "stopped") -> None:
        """End the session now. An ending always takes effect: a store error does not keep a room heated."""
        self._change(lambda f, now: f.stop(now), ending=True)
        self._stop_outcome = outcome

    def _change(self, fn: Callable[[SessionFacts, float], SessionFacts], ending: bool = False) -> None:
        if not self.active:
            raise CommandError(f"room {self.id!r} has no session running")
        assert self.record is not None
        facts = fn(self.record.facts, self.clock())
        record = dataclasses.replace(self.record, facts=facts)
        try:
            self.store.save_session(record)
        except StoreError as exc:
            if not ending:
                raise  # nothing has changed
            self._failed_write(exc, lambda: None)  # the ending persists the outcome; nothing else to keep
        self.record = record
        self._set_timeline()
        self._apply_now()
        self.wake()

    def clock_stepped(self, delta: float) -> None:
        """The wall clock jumped by ``delta`` seconds. Forward: the session is that much further on
        (it may be over). Back: the session is moved with it, so it never runs longer than planned."""
        if not self.active or delta >= 0:
            self.wake()
            return
        assert self.record is not None
        self.record = dataclasses.replace(self.record, facts=self.record.facts.shifted(delta))
        try:
            self.store.save_session(self.record)
        except StoreError as exc:
            record = self.record
            self._failed_write(exc, lambda: self.store.save_session(record))
        self._set_timeline()
        self.wake()

    def take_owed(self, owed: Owed) -> None:
        """After a restart: a device still owes an after state; keep sending it until it confirms."""
        tracked = self.devices.rooms[self.id].get(owed.device)
        if tracked is None:
            log.warning("%s: device %r owes an after state but is no longer configured; dropped", self.id, owed.device)
            self._write(lambda: self.store.settle_owed(self.id, [(owed.device, owed.session)]))
            return
        self.owed[owed.device] = owed
        self.devices.want(self.id, owed.device, from_json(tracked.kind, owed.state))
        self.wake()

    def recover(self, record: SessionRecord, now: float) -> str:
        """A session stored by an earlier run: resumed if still in its time, else ended now (its after
        state sent). Returns ``'resumed'``, ``'recovered'`` (ended while ambience was down) or ``'ended'``
        (a row of an older ambience that had already ended it); ``'followed'``: it ended while ambience was
        down and the booking after it follows straight on, through the room's turnover, not the after state."""
        self.restore(record)
        assert self.timeline is not None
        if record.outcome is not None:
            self.end(now, None)
            return "ended"
        if self.timeline.at(now).status == "ended":
            if self._hand_over("recovered", now):
                return "followed"
            self.end(now, "recovered")
            return "recovered"
        return "resumed"

    def restore(self, record: SessionRecord) -> None:
        """Take a session back after a restart (its preset must still exist)."""
        self.record = record
        try:
            self.preset = self.library.get(record.preset)
        except AmbienceError:
            log.error("%s: preset %r of the stored session is gone; ending the session", self.id, record.preset)
            self.preset = Preset.model_validate(
                {
                    "id": record.preset,
                    "name": record.preset,
                    "duration": f"{min(max(1.0, record.facts.duration), 6 * 3600)}s",
                }
            )
            record.facts = record.facts.stop(self.clock()) if record.facts.stopped_at is None else record.facts
        self.fitted, self._fit_tried = None, False
        self._set_timeline()
        self.wake()

    def _set_timeline(self) -> None:
        assert self.record is not None and self.preset is not None
        self.timeline = Timeline(self.preset, self.record.facts, self.limits, self.config.turnover)

    def wake(self) -> None:
        self._wake.set()

    def _apply_now(self) -> None:
        """Send the devices what the command changed before anything else (the tick that follows
        finds them asked already); a session that ended is left to the tick's after state."""
        assert self.timeline is not None
        state = self.timeline.at(self.clock())
        if state.status != "ended":
            self._push(state)
            self._last_phase = (state.status, state.phase)  # the command's caller tells the listeners

    def _push(self, state: RoomState) -> None:
        """The session's state to the devices; a device the session leaves alone keeps what it owes,
        and a switch with a daily schedule that the session does not name follows its schedule."""
        daily = self._daily_left(state)
        self.devices.apply(self.id, state, keep=set(self.owed) | set(daily))
        self._follow_daily(daily, self.clock())

    def _daily_left(self, state: RoomState | None) -> list[str]:
        """The daily-scheduled switches ``state`` leaves alone (all of them when no session runs)."""
        named = state.switches or {} if state is not None else {}
        return [dev_id for dev_id, dev in self.daily.items() if dev.role not in named]

    def _follow_daily(self, dev_ids: list[str], now: float) -> None:
        """Each of these switches as its daily schedule wants it now. An after state it still owes
        gives way: the schedule drives it from now on."""
        settled = []
        for dev_id in dev_ids:
            schedule = self.daily[dev_id].daily
            assert schedule is not None
            want = Switch(daily_on(schedule, now, self.zone))
            owed = self.owed.get(dev_id)
            if owed is not None and owed.state != to_json(want):
                settled.append((dev_id, owed.session))
                del self.owed[dev_id]
            self.devices.want(self.id, dev_id, want)
        if settled:
            self._write(lambda: self.store.settle_owed(self.id, settled))

    def _next_daily(self, now: float) -> float | None:
        schedules = {dev_id: dev.daily for dev_id, dev in self.daily.items() if dev.daily is not None}
        return next_daily_switch_change(schedules, now, self.zone) if schedules else None

    # ---- the loop -------------------------------------------------------------------------------

    def ticking_for(self, monotonic_now: float) -> float:
        """Seconds the room has been in its current tick (0 between ticks): the watchdog asks."""
        return 0.0 if self._tick_started is None else monotonic_now - self._tick_started

    async def run(self) -> None:
        while True:
            self._tick_started = time.monotonic()
            try:
                wake_at = await self.tick()
            except Exception:
                log.exception("%s: tick failed", self.id)
                wake_at = self.clock() + 5
            self._tick_started = None
            self._wake.clear()
            now = self.clock()
            if self.record is not None:
                wake_at = min(wake_at if wake_at is not None else now + MAX_SLEEP, now + MAX_SLEEP)
            delay = None if wake_at is None else max(0.0, wake_at - now)
            await wait_event(self._wake, delay)

    async def tick(self) -> float | None:
        """Push the desired state now; returns when to look again (``None``: not until woken)."""
        now = self.clock()
        wakes = []
        record, timeline = self.record, self.timeline
        if record is not None and timeline is not None:
            state: RoomState | None = timeline.at(now)
            assert state is not None
            if state.status == "ended":
                outcome = None if record.outcome is not None else self._stop_outcome
                if record.facts.stopped_at is None and outcome is not None:
                    outcome = "completed"
                if outcome is not None and self._hand_over(outcome, now):
                    timeline = self.timeline
                    assert timeline is not None
                    state = timeline.at(now)
                else:
                    self.end(now, outcome)
                    await self._music(None)
                    state = None
            if state is not None and timeline is not None:
                self._push(state)
                await self._music(state, now)
                key = (state.status, state.phase)
                if key != self._last_phase:
                    self._last_phase = key
                    self.on_change(self.id)
                wakes.append(timeline.next_change(now))
        if self.record is None and self.daily:
            self._follow_daily(self._daily_left(None), now)
        wakes += [self._settle_owed(now), self._retry_store(now), self._next_daily(now)]
        times = [t for t in wakes if t is not None]
        return min(times) if times else None

    def _hand_over(self, outcome: str, now: float) -> bool:
        """The session is over with ``outcome``: does a booked one follow straight on (it started)?"""
        self._stop_outcome = outcome
        try:
            return self.successor(self.id, outcome)
        except Exception:  # the ending must happen whatever the hand-over does
            log.exception("%s: starting the next booked session failed; the room goes to its after state", self.id)
            return False

    def end(self, now: float, outcome: str | None) -> None:
        """The session is over: write down its after state with its history (``outcome`` None: the
        history has it already), then send it; each device owes it until it confirms."""
        record, timeline = self.record, self.timeline
        assert record is not None and timeline is not None
        ended_at = min(now, record.facts.ends_at(now))
        after = timeline.at(max(now, record.facts.ends_at(now)))
        refs = [
            DeviceRef(dev.id, kind, role, heats=kind == "switch" and dev.heat_class, restore_on=dev.restore_on)
            for dev, kind, role in self.config.devices()
        ]
        desired = after_states(after, refs, record.snapshot, self.limits)
        for dev_id, dev in self.daily.items():  # back to the working day, not as found
            assert dev.daily is not None
            desired[dev_id] = Switch(daily_on(dev.daily, now, self.zone))
        owed = {dev: to_json(state) for dev, state in desired.items()}
        try:
            self.store.end_session(record, ended_at, outcome, owed, now)
        except StoreError as exc:  # the after state goes out all the same, from memory
            self._failed_write(exc, lambda: self.store.end_session(record, ended_at, outcome, owed, now))
        for dev_id, state in owed.items():
            self.owed[dev_id] = Owed(self.id, dev_id, state, record.id, now)
        self.put_back = (owed, dict(record.snapshot))
        for dev_id in self.devices.rooms[self.id]:
            self.devices.want(self.id, dev_id, desired.get(dev_id))
        log.info("%s: session %s %s; after state sent", self.id, record.preset, outcome or "over")
        self.record, self.timeline, self.preset, self.fitted, self.playlist = None, None, None, None, None
        self._last_phase = None
        self.on_change(self.id)
        self.wake()

    def _settle_owed(self, now: float) -> float | None:
        """Forget the owed states their devices confirmed; when to look again while any is owed."""
        if not self.owed:
            return None
        done = []
        for dev_id, owed in list(self.owed.items()):
            tracked = self.devices.rooms[self.id][dev_id]
            described = tracked.describe()
            if tracked.status == "confirmed" and described["desired"] == owed.state:
                done.append((dev_id, owed.session))
                del self.owed[dev_id]
                log.info("%s: %s confirmed its after state", self.id, dev_id)
        if done:
            self._write(lambda: self.store.settle_owed(self.id, done))
            self.on_change(self.id)
        return now + OWED_POLL if self.owed else None

    # ---- the store failing -------------------------------------------------------------------

    def _write(self, write: Callable[[], None]) -> None:
        """A store write that may wait for the store to work again (kept in order)."""
        if self._unsaved:
            self._unsaved.append(write)
            return
        try:
            write()
        except StoreError as exc:
            self._failed_write(exc, write)

    def _failed_write(self, exc: StoreError, write: Callable[[], None]) -> None:
        if self.store_error is None:
            log.error("%s: %s; retrying every %g s (the room goes on from memory)", self.id, exc, STORE_RETRY)
        self.store_error = str(exc)
        self._unsaved.append(write)
        self._retry_store_at = self.clock() + STORE_RETRY
        self.on_change(self.id)

    def flush_store(self) -> None:
        """Write what the store refused before, in order, as far as it goes now."""
        while self._unsaved:
            try:
                self._unsaved[0]()
            except StoreError as exc:
                self.store_error = str(exc)
                self._retry_store_at = self.clock() + STORE_RETRY
                return
            self._unsaved.pop(0)
        if self.store_error is not None:
            log.info("%s: the store works again; everything is written", self.id)
            self.store_error = None
            self.on_change(self.id)

    def _retry_store(self, now: float) -> float | None:
        if not self._unsaved:
            return None
        if now >= self._retry_store_at:
            self.flush_store()
        return self._retry_store_at if self._unsaved else None

    # ---- music ------------------------------------------------------------------------------

    async def _music(self, state: RoomState | None, at: float | None = None) -> None:
        if self.player is None:
            return
        music = state.music if state is not None else None
        record, preset = self.record, self.preset
        if music is not None and self.fitted is None and not self._fit_tried and record and preset and preset.music:
            # Reading the tracks' lengths is file I/O: a worker does it and hands back a value; the
            # loop takes it only if the session it was for is still the room's (a --replace meanwhile).
            length, order = record.facts.length, list(record.music_order)
            result = await asyncio.to_thread(fit_playlist, preset, self.music_folders, length, record.facts.seed, order)
            if self.record is not record:
                return  # another session started while this one's music was being fitted
            self._take_fit(result, length)
            if self.record is not None and self.record.facts.length != length:
                self.fitted = self._refit(self.fitted)  # extended while the worker fitted
        if self.record is not record:
            return
        await self.player.follow(music if self.fitted is not None else None, self.fitted, at)

    def _take_fit(self, result: FitResult, length: float) -> None:
        self._fit_tried = True
        self.playlist, self.fitted, self.music_problem = result.playlist, result.fitted, result.problem
        if result.problem is not None:
            log.warning("%s: no music: %s", self.id, result.problem)
        if result.fitted is not None:
            self._remember(result.fitted)

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
            record = self.record
            self._write(lambda: self.store.save_session(record))

    # ---- status -------------------------------------------------------------------------------

    def _said(self, ts: float) -> str:
        """A time for a person: in the clinic's zone, ``19:30`` today, ``Tue 2 Dec 19:30`` another day."""
        today = datetime.fromtimestamp(self.clock(), self.zone).date()
        return say_time(datetime.fromtimestamp(ts, self.zone), today, twelve=self.twelve)

    def status(self) -> dict[str, Any]:
        now = self.clock()
        record, timeline = self.record, self.timeline
        devices = self.devices.status(self.id)
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
            "devices": devices,
            "temperature": self.devices.temperature(self.id),
            "owed": [
                {"device": o.device, "state": o.state, "since": iso(o.since), "status": t.shown_status}
                for o in self.owed.values()
                for t in (self.devices.rooms[self.id][o.device],)
            ],
            "store_error": self.store_error,
        }
        state: RoomState | None = None
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
                booked = self.session_booking
                if booked is not None:
                    start = datetime.fromisoformat(booked["start"]).timestamp()
                    if record.facts.started_at > start + 1:  # it waited for the room: shifted whole
                        out["booked_start"] = iso(start)
            else:
                state = None
        wanted = state.climate.target if state is not None and state.climate is not None else None
        out["climate"] = self.devices.climate(self.id, wanted)
        out["music"] = self._music_status(state)
        out["attention"] = self.attention(devices)
        out["words"] = room_words(out, self.units)
        return out

    def attention(self, devices: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The devices that need a person, by name: offline, unconfirmed, changed by hand, or still
        owing their after state (and not just on their way to it)."""
        names = self.devices.names.get(self.id, {})
        out = []
        for dev in devices if devices is not None else self.devices.status(self.id):
            dev_id, status = dev["id"], dev.get("status")
            name = names.get(dev_id, dev_id)
            owed = self.owed.get(dev_id)
            back = f" to {state_words(owed.state, self.units)}" if owed is not None else ""
            if status == "offline":
                why = "owed" if owed is not None else "offline"
                words = f"{name} is offline" + (" (its bridge is offline)" if dev.get("bridge") == "offline" else "")
                if owed is not None:
                    words += f" and has still to go back{back}"
            elif status == "unconfirmed":
                why = "owed" if owed is not None else "unconfirmed"
                words = f"{name} did not confirm it is back{back}" if owed is not None else f"{name} did not confirm"
                words += " — check it by hand"
            elif status == "manual":
                why, words = "manual", f"{name} was changed by hand"
            else:
                continue
            out.append({"device": dev_id, "name": name, "why": why, "words": _sentence(words)})
        return out

    def _music_status(self, state: RoomState | None = None) -> dict[str, Any]:
        """The player's status, with ``state``, ``title``, ``problem`` (a code and plain words) and
        ``words`` (docs/api.md). mpv's own words stay in the log."""
        if self.player is None:
            return {"playing": False, "track": None, "title": None, "volume": 0, "error": None, "silent": False,
                    "state": "off", "problem": None, "words": "no speaker configured for this room"}  # fmt: skip
        status: dict[str, Any] = dict(self.player.status())
        wants = state is not None and state.music is not None and state.music.playing
        problem = status.get("problem")
        if problem is None and self.music_problem:
            problem = {"code": "no_music", "text": f"no music: {self.music_problem}"}
        skipped = len(self.playlist.problems) if self.playlist is not None else 0
        if problem is None and skipped and wants:
            files = "a file" if skipped == 1 else f"{skipped} files"
            problem = {"code": "unreadable", "text": f"{files} of the playlist could not be read and are skipped"}
        title = status.get("title") or status.get("track")
        if status.get("playing") and (status.get("silent") or (problem and problem["code"] == "no_output")):
            shown = "silent"
        elif status.get("playing"):
            shown = "playing"
        elif wants and problem is not None and problem["code"] in ("no_speaker", "no_output"):
            shown = "silent"
        elif status.get("track") is not None:
            shown = "paused"
        else:
            shown = "stopped"
        volume = round(float(status.get("volume") or 0))
        if shown == "playing":
            words = f"playing {_quoted(title)}, volume {volume}"
            if problem is not None:
                words += f" ({problem['text']})"
        elif problem is not None:
            words = problem["text"]
        elif shown == "paused":
            words = f"paused: {_quoted(title)}"
        elif state is not None and state.music is None:
            words = "no music in this session"
        else:
            words = "no music playing"
        again = self.fitted.repeats() if self.fitted is not None and self.record is not None else None
        repeats = None
        if again is not None:
            repeats = {"from_s": round(again.at, 1), "track": again.track.name, "times": again.times}
            if shown in ("playing", "paused"):
                words += (
                    f"; the playlist repeats from {format_clock(again.at)} (a track plays up to {again.times} times)"
                )
        status.update(state=shown, title=title, problem=problem, error=problem["text"] if problem else None,
                      words=words, repeats=repeats)  # fmt: skip
        return status


def _quoted(title: str | None) -> str:
    return f"'{title}'" if title else "a track"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def room_words(status: dict[str, Any], units: str = "metric") -> str:
    """The room in a sentence or two (the CLI, Home Assistant): the session, the climate, the music,
    what needs a person. ``Swedish, 60 minutes: treatment, 42:10 left. 23.5 °C, heating to 24 °C.
    Playing 'First light', volume 25.``"""
    parts: list[str] = []
    state = status.get("state", "idle")
    if state != "idle":
        what = status.get("phase") or state
        if state == "paused":
            what = "paused"
        left = status.get("remaining_s")
        clock = f", {format_clock(left)} left" if isinstance(left, (int, float)) else ""
        parts.append(f"{status.get('preset_name') or status.get('preset')}: {what}{clock}.")
    else:
        parts.append("No session.")
    climate = status.get("climate") or {}
    current, target = climate.get("current"), climate.get("target")
    if isinstance(current, (int, float)) and isinstance(target, (int, float)):
        shown = format_temperature(current, units)
        if target > current + 0.2:
            parts.append(f"{shown}, heating to {format_temperature(target, units)}.")
        else:
            parts.append(f"{shown}, target {format_temperature(target, units)}.")
    elif isinstance(current, (int, float)):
        parts.append(f"{format_temperature(current, units)}.")
    elif isinstance(target, (int, float)):
        parts.append(f"Target {format_temperature(target, units)}.")
    music = status.get("music") or {}
    if music.get("state") not in (None, "off") and (state != "idle" or music.get("problem")):
        parts.append(_sentence(music.get("words") or "") + ".")
    attention = status.get("attention") or []
    if attention:
        more = f" (and {len(attention) - 1} more)" if len(attention) > 1 else ""
        parts.append(attention[0]["words"].rstrip(".") + more + ".")
    return " ".join(p for p in parts if p.strip(". "))


@dataclasses.dataclass(frozen=True)
class FitResult:
    playlist: Playlist | None
    fitted: FittedPlaylist | None
    problem: str | None


def fit_playlist(preset: Preset, folders: list, length: float, seed: int, order: list[str]) -> FitResult:
    """The session's playlist fitted to ``length`` (``order``: a stored fit to keep). Touches no room:
    run in a worker thread, its value is applied by the loop."""
    assert preset.music is not None
    try:
        playlist = load_playlist(preset.music.playlist, folders)
        by_name = {t.name: t for t in playlist.tracks}
        stored = [by_name[n] for n in order if n in by_name]
        fitted = fit(
            playlist.tracks, length, seed, fade_out=preset.music.fade_out, shuffle=preset.music.shuffle,
            keep=stored if len(stored) == len(order) else (),
        )  # fmt: skip
    except AmbienceError as exc:
        return FitResult(None, None, str(exc))
    return FitResult(playlist, fitted, None)
