"""``ambience serve``: wiring, start-up and shutdown. One asyncio loop owns all state.

Start in order, stop in reverse: store → broker connection → devices → rooms (owed after
states and sessions restored) → control surfaces (MQTT commands, HTTP). SIGTERM/SIGINT stop it
cleanly; sessions stay persisted and continue on the next start — except in a room with
``on_shutdown: end`` (a home visit's default), where the session ends and the daemon waits for the
devices to confirm the after state (up to the room's ``shutdown_wait``) before it exits.

Four watchers run beside the rooms: the wall clock (a step re-evaluates every room at once,
:mod:`ambience.clockwatch`), systemd's watchdog (``WATCHDOG=1`` while the rooms' loop is alive),
the site's presence (one daemon per base topic, :mod:`ambience.presence`) and the preset folders
(a new, edited or removed file reloads the library, :meth:`Daemon.reload_presets`).
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ambience.app.calendars import CalendarPoller
from ambience.app.controller import Controller
from ambience.app.presence import SitePresence
from ambience.app.room import Room
from ambience.app.scheduler import BookingService
from ambience.config import Config
from ambience.config.calendars import check_feeds
from ambience.config.devices import check_favourites
from ambience.config.library import fingerprint, load_library
from ambience.core.clockwatch import CHECK_EVERY, ClockWatch
from ambience.devices.manager import Devices, state_words
from ambience.errors import AmbienceError, Busy, CommandError, DeviceError, StoreError
from ambience.infra.hass import HassLink
from ambience.infra.leadership import Leadership
from ambience.infra.logsafe import RateLimit
from ambience.infra.mqtt import Connection
from ambience.infra.store import Store
from ambience.music.base import Player
from ambience.music.registry import make_player
from ambience.surfaces.ha_discovery import HomeAssistantDiscovery
from ambience.surfaces.http.app import serve_http
from ambience.surfaces.mqtt_control import MqttControl

log = logging.getLogger(__name__)

PRESET_POLL = 2.0
"""Seconds between looks at the preset folders (``stat`` only; a change reloads the library)."""
STUCK_TICK = 30.0
DAY = 86400.0
PRUNE_EVERY = DAY
"""Seconds between two prunings of the history (``history.keep_days``)."""
"""Seconds a room may take over one tick before the watchdog stops vouching for the daemon."""


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] | None = None,
        players: bool = True,
        player_options: dict[str, Any] | None = None,
    ):
        self.config = config
        self.clock = clock
        self.monotonic = monotonic if monotonic is not None else (time.monotonic if clock is time.time else None)
        """Compared with ``clock`` to notice steps of the wall clock (``None``: a test's own clock, not watched)."""
        self.exit_code = 0
        self._preset_marks = fingerprint(config.preset_folders())  # before loading: a change meanwhile is seen
        self.library = load_library(config.preset_folders())
        """The one library every reader goes through; a reload replaces its contents in one step."""
        self._logged_problems: set[str] = set()
        self._log_preset_problems()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_state_dir(config.state_dir)
        self.store = Store(config.store_where(), site=config.mqtt.base_topic)
        self.leadership: Leadership | None = None
        """On PostgreSQL: the site's lock; this daemon leads, or waits as the standby (docs/failover.md)."""
        if self.store.postgres:
            http = f"{config.http.host}:{config.http.port}" if config.http.enabled else None
            self.leadership = Leadership(
                self.store.url, config.mqtt.base_topic, {"state_dir": str(config.state_dir), "http": http}, clock
            )
            self.leadership.rooms = list(config.rooms)
        self.fenced = False
        """The leadership was lost: nothing is commanded or published any more; the daemon stops."""
        self.connection = Connection(config.mqtt)
        self.hass = hass_link(config)
        """The websocket to Home Assistant for ``bridge: homeassistant_api`` devices (``None`` without the section)."""
        self.devices = Devices(self.connection, config, clock=clock, hass=self.hass)
        self.players: dict[str, Player] = {}
        if players:
            for room_id, room in config.rooms.items():
                if room.speaker is not None:
                    self.players[room_id] = make_player(
                        room.speaker,
                        max_volume=config.room_limits(room_id).max_volume,
                        name=room_id,
                        clock=clock,
                        **{"loudness_cache": config.state_dir / "loudness.json", **(player_options or {})},
                    )
        self.rooms = {
            room_id: Room(
                room_id,
                room,
                config.room_limits(room_id),
                self.devices,
                self.store,
                self.library,
                list(config.music),
                self.players.get(room_id),
                clock,
                zone=config.bookings.zone(),
                units=config.units,
                twelve=config.twelve_hour(),
            )  # fmt: skip
            for room_id, room in config.rooms.items()
        }
        self.controller = Controller(self.rooms, self.library, self.store, clock)
        self.controller.defer = self.connection.background
        self.devices.on_change(self.controller.changed)
        self.bookings = BookingService(
            rooms=self.rooms, library=self.library, store=self.store, config=config.bookings,
            state_dir=config.state_dir, clock=clock, on_change=self.controller.changed, twelve=config.twelve_hour(),
            url=config.bookings_store_url(),
        )  # fmt: skip
        self.controller.bookings = self.bookings
        self.bookings.dispatch = self.controller.execute  # a booking that fires is a command like any other
        self.controller.subscribe(self._room_changed)
        self.surfaces: list[Any] = []
        self.discovery: HomeAssistantDiscovery | None = None
        self._tasks: list[asyncio.Task] = []
        self._rendering: asyncio.Task | None = None
        """The default library being rendered in the background (not a task the watchdog waits on: it ends)."""
        self._stop_event: asyncio.Event | None = None
        self.http_app: Any = None
        """The HTTP API's FastAPI app and uvicorn server, once serve_http runs them (tests read them)."""
        self.http_server: Any = None
        self.presence = SitePresence(self.connection, config.mqtt.base_topic, clock, self._conflict)
        self._departing = False
        """A home visit is leaving (:meth:`leave`): once is enough."""
        self._retract = False
        """Left: the connection clears its retained status as it closes, rather than saying offline."""
        self.controller.departure = self

    # ---- lifetime ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.leadership is not None:
            self.presence.epoch = await self.leadership.acquire()  # the standby waits here, its rooms untouched
            self.connection.may_send = self.leadership.valid  # the lease: nothing goes out once it lapses
            if self.hass is not None:
                self.hass.may_send = self.leadership.valid
            self._tasks.append(asyncio.create_task(self._keep_leading(), name="leadership"))
        self.surfaces.append(MqttControl(self.connection, self.controller, self.config))
        self.discovery = HomeAssistantDiscovery(self.connection, self.controller, self.config)
        self.surfaces.append(self.discovery)
        if self.players and self.config.music:
            from ambience.music.sounds import needs_generating

            if needs_generating(self.config.music[0]):  # sessions play what is there meanwhile
                self._rendering = asyncio.create_task(self._render_default(), name="default-library")
        await self.connection.start()
        if self.hass is not None:
            await self.hass.start(wait=3.0)  # its devices then say how they are found, as the broker's do
        try:
            await self.connection.wait_connected(3.0)
            # learn how each room was found before anyone can start a session (for after: restore)
            await asyncio.gather(self.presence.check(), *(self.devices.wait_reported(r, 2.0) for r in self.rooms))
        except DeviceError as exc:
            log.warning("%s; rooms run on and catch up when the broker is back", exc)
        except CommandError:
            await self.connection.stop()
            raise
        self._take_up()
        self.prune_history()
        for issue in check_favourites(self.config.rooms, self.library.presets, "config"):
            log.warning("%s; the phone page leaves it out", issue)
        if self.config.bookings.calendars:
            for issue in check_feeds(self.config.bookings.calendars, self.config.rooms, self.library.presets, "config"):
                log.warning("calendar: %s", issue)
            self.controller.calendars = CalendarPoller(
                self.config.bookings.calendars, self.controller.execute, self.clock, self.config.bookings.zone()
            )
            self._tasks.append(asyncio.create_task(self.controller.calendars.run(), name="calendars"))
        self._tasks.append(asyncio.create_task(self.devices.run(), name="devices"))
        self._tasks.append(asyncio.create_task(self.watch_presets(), name="presets"))
        self._tasks.append(asyncio.create_task(self._prune_daily(), name="history"))
        for room in self.rooms.values():
            self._tasks.append(asyncio.create_task(room.run(), name=f"room-{room.id}"))
        if self.monotonic is not None:
            self._tasks.append(asyncio.create_task(self._watch_clock(), name="clock"))
        interval = watchdog_interval()
        if interval is not None:
            self._tasks.append(asyncio.create_task(self._watchdog(interval), name="watchdog"))
        if self.config.http.enabled:
            self._tasks.append(asyncio.create_task(serve_http(self), name="http"))
        for surface in self.surfaces:
            await surface.start()
        # What start-up built lives as long as the daemon: out of the collector's sight, a full
        # collection no longer walks it (one took ~80 ms in a burst of 200 starts, bench P2).
        gc.freeze()

    def _take_up(self) -> None:
        """The bookings, then what an earlier run left (:meth:`_recover`), in one step on the loop.

        The booking service is started first so that a session which ended while ambience was down can hand
        the room over to the booking that follows it straight on, through a turnover, as it would have had
        ambience been up (docs/bookings.md, back to back), rather than go through the after state. No due
        booking fires before the sessions are back all the same: APScheduler's asyncio scheduler looks at its
        jobs only when the loop runs next (``wakeup`` is ``call_soon``), and nothing here awaits."""
        self.bookings.start()
        self._recover()

    def _recover(self) -> None:
        """What an earlier run left: after states still owed, sessions to resume, sessions that ended
        while ambience was down (their after state is applied now)."""
        now = self.clock()
        for owed in self.store.owed():
            room = self.rooms.get(owed.room)
            if room is None:
                log.warning("an after state owed in unknown room %r is dropped", owed.room)
                self.store.settle_owed(owed.room, [(owed.device, owed.session)])
                continue
            room.take_owed(owed)
        for record in self.store.sessions():
            room = self.rooms.get(record.room)
            if room is None:
                log.warning("stored session for unknown room %r dropped", record.room)
                self.store.delete_session(record.room)
                continue
            what = room.recover(record, now)
            if what == "recovered":
                log.info("%s: session %s ended while ambience was down; after state applied", room.id, record.preset)
            elif what == "followed":
                log.info("%s: session %s ended while ambience was down; the booking after it follows on", room.id,
                         record.preset)  # fmt: skip
            elif what == "resumed":
                log.info("%s: resuming %s, %.0f s left", room.id, record.preset, room.status()["remaining_s"] or 0)

    def prune_history(self) -> int:
        """Forget the sessions that ended more than ``history.keep_days`` ago; how many went."""
        keep = self.config.history.keep_days
        try:
            gone = self.store.prune_history(self.clock() - keep * DAY)
        except StoreError as exc:  # kept a day longer: nothing else depends on it
            log.warning("%s; tried again in a day", exc)
            return 0
        if gone:
            log.info("history: %d session%s older than %d days forgotten", gone, "s" * (gone != 1), keep)
        return gone

    async def _prune_daily(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            self.prune_history()

    async def _watch_clock(self) -> None:
        """Every CHECK_EVERY seconds: did the wall clock step? Then every room looks again at once."""
        assert self.monotonic is not None
        watch = ClockWatch()
        watch.observe(self.clock(), self.monotonic())
        while True:
            await asyncio.sleep(CHECK_EVERY)
            delta = watch.observe(self.clock(), self.monotonic())
            if delta is None:
                continue
            log.warning(
                "the wall clock jumped %s by %.0f s; sessions follow it (a jump back never makes one longer)",
                "forward" if delta > 0 else "back", abs(delta),
            )  # fmt: skip
            for room in self.rooms.values():
                room.clock_stepped(delta)
            self.bookings.clock_stepped()

    async def watch_presets(self) -> None:
        """Every PRESET_POLL seconds: did a preset file change? Then the library is reloaded."""
        while True:
            await asyncio.sleep(PRESET_POLL)
            try:
                await self.reload_presets()
            except Exception:  # a surprise in one reload must not end the watching
                log.exception("reloading the presets failed; the library is unchanged")

    async def reload_presets(self) -> bool:
        """Reload the library if the preset folders changed since the last look (``stat`` only on the
        loop; the files are read in a worker). A file that no longer loads keeps its last good preset;
        a removed file's preset is gone for new starts; running sessions keep the preset they started
        with (each room holds its own). Home Assistant's preset select is announced again if the list
        changed. Whether anything changed."""
        folders = self.config.preset_folders()
        marks = fingerprint(folders)
        if marks == self._preset_marks:
            return False
        self._preset_marks = marks
        fresh = await asyncio.to_thread(load_library, folders, self.library)
        before, listed = self.library.presets, self.controller.presets()
        self.library.replace(fresh)  # one step on the loop: every reader sees the old library or the new
        self._log_preset_problems()
        added = sorted(fresh.presets.keys() - before.keys())
        removed = sorted(before.keys() - fresh.presets.keys())
        edited = sorted(pid for pid in fresh.presets.keys() & before.keys() if fresh.presets[pid] != before[pid])
        if added or removed or edited:
            log.info(
                "presets reloaded: %d presets (added: %s; edited: %s; removed: %s); running sessions keep theirs",
                len(fresh.presets), ", ".join(added) or "none", ", ".join(edited) or "none",
                ", ".join(removed) or "none",
            )  # fmt: skip
        if self.discovery is not None and self.controller.presets() != listed:
            self.discovery.presets_changed()
        return True

    def _log_preset_problems(self) -> None:
        """Each problem of the library once, while it lasts (fixed and broken again: logged again)."""
        now = {str(issue) for issue in self.library.problems}
        for issue in self.library.problems:
            if str(issue) not in self._logged_problems:
                log.warning("preset file: %s", issue)
        self._logged_problems = now

    async def _watchdog(self, interval: float) -> None:
        """``WATCHDOG=1`` every half interval while the loop runs and no room is stuck in a tick."""
        while True:
            await asyncio.sleep(interval / 2)
            stuck = [room.id for room in self.rooms.values() if room.ticking_for(time.monotonic()) > STUCK_TICK]
            dead = [task.get_name() for task in self._tasks if task.done()]
            if stuck or dead:
                log.error("watchdog: not vouching for the daemon (stuck rooms: %s; stopped tasks: %s)", stuck, dead)
                continue
            sd_notify("WATCHDOG=1")

    def _conflict(self, why: str) -> None:
        if self.leadership is not None and self.presence.epoch is not None:
            self.fence(why)  # a later leader of this site is connected: this one must not touch a device
            return
        log.error("%s", why)
        self.exit_code = 1
        if self._stop_event is not None:
            self._stop_event.set()

    def _room_changed(self, room_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None and not room.active:
            self.bookings.room_freed(room_id)

    async def _render_default(self) -> None:
        from ambience.music.sounds import render_in_background

        try:
            await render_in_background(self.config.music[0])
        except AmbienceError as exc:
            log.warning("no default playlist: %s", exc)

    async def _stand_by(self, starting: asyncio.Task) -> None:
        """While the standby waits for the site: systemd hears it is up (READY, a STATUS saying standby)
        and its watchdog is fed, so ``Type=notify`` and ``WatchdogSec`` do not restart a healthy standby."""
        await asyncio.sleep(1.0)  # a leader that takes the lock at once says READY when it has started
        if starting.done():
            return
        sd_notify(f"READY=1\nSTATUS=standby for site {self.config.mqtt.base_topic!r}")
        interval = watchdog_interval()
        while interval is not None and not starting.done():
            sd_notify("WATCHDOG=1")
            await asyncio.sleep(interval / 2)

    async def _keep_leading(self) -> None:
        assert self.leadership is not None
        reason = await self.leadership.watch()
        self.fence(reason)

    def fence(self, reason: str) -> None:
        """The site may be led by another daemon now: stop commanding at once, then stop (exit 75, so a
        supervisor restarts this one as the standby)."""
        log.critical("site %r: %s; this daemon stops commanding devices and exits", self.config.mqtt.base_topic, reason)
        self.fenced = True
        self.connection.fence()
        if self.hass is not None:
            self.hass.fence()
        self.exit_code = 75
        if self._stop_event is not None:
            self._stop_event.set()

    async def stop(self) -> None:
        if self._rendering is not None:
            self._rendering.cancel()  # ends the child; the next start resumes where it stopped
            await asyncio.wait({self._rendering}, timeout=5)
        for surface in reversed(self.surfaces):
            await surface.stop()
        self.bookings.stop()
        if not self.fenced:  # a fenced daemon ends nothing: the sessions are the new leader's
            await self._end_sessions()
        for task in reversed(self._tasks):
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=5)
            for task in stuck:
                log.error("task %s did not stop in 5 s; going on", task.get_name())
        self._tasks.clear()
        for player in self.players.values():
            await player.close()
        await self.connection.stop(retract=self._retract)
        if self.hass is not None:
            await self.hass.stop()
        if self.leadership is not None:
            await self.leadership.close()  # only now may the standby take over: nothing is sent from here
        self.store.close()
        os.close(self._lock)

    async def _end_sessions(self) -> None:
        """Rooms with ``on_shutdown: end``: the session ends now, and the daemon waits (the rooms and
        the devices still run) until every device there has confirmed its after state, or the room's
        ``shutdown_wait`` is over. A home is left as it was found, not at the session's 24 °C."""
        ending = [r for r in self.rooms.values() if r.config.shutdown == "end" and (r.active or r.owed)]
        if not ending:
            return
        for room in ending:
            if room.active:
                log.info("%s: ending the session before the daemon stops (on_shutdown: end)", room.id)
                room.stop()
        if await self._wait_back(ending):
            log.info("every room with on_shutdown: end is back as it was found")

    async def _wait_back(self, rooms: list[Room]) -> bool:
        """Until every device of ``rooms`` confirmed its after state (True), or the longest of their
        ``shutdown_wait`` is over (False: what is still owed stays stored, sent again at the next start)."""
        if not rooms:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(room.config.shutdown_wait for room in rooms)
        while loop.time() < deadline:
            if not [r for r in rooms if r.active or r.owed]:
                return True
            await asyncio.sleep(0.05)
        for room in rooms:
            if room.active or room.owed:
                log.warning(
                    "%s: %s still owe their after state after %g s; it is stored and sent again at the next start",
                    room.id,
                    ", ".join(sorted(room.owed)) or "the session",
                    room.config.shutdown_wait,
                )
        return False

    # ---- a home visit's departure (``ambience visit leave``) --------------------------------------

    async def leave(self, force: bool = False) -> dict[str, Any]:
        """End every session, put the home back (each after state confirmed, up to ``shutdown_wait``),
        then take ambience off the client's broker: Home Assistant's devices removed (empty retained
        discovery), every retained topic of ambience cleared. :meth:`go` then stops the daemon (exit 0):
        staying would announce it all again. What did not confirm stays owed in the store.

        Refused unless a room is a home visit (``home_visit: true``), or with ``force``."""
        if self._departing:
            raise Busy("ambience is leaving already")
        if not force and not any(room.config.home_visit for room in self.rooms.values()):
            raise CommandError(
                "no room here is a home visit (home_visit: true): leaving ends every session, removes "
                "ambience from Home Assistant and stops the daemon; add force to do it all the same"
            )
        self._departing = True
        log.info("leaving: ending the sessions, putting the home back, clearing ambience off the broker")
        self.bookings.stop()  # no booked session starts while the home is put back
        ended = []
        for room in self.rooms.values():
            room.put_back = ({}, {})
            if room.active:
                assert room.record is not None
                ended.append(room.id)
                room.stop()
        back = await self._wait_back([r for r in self.rooms.values() if r.active or r.owed])
        cleared: list[str] = []
        for surface in self.surfaces:
            if isinstance(surface, MqttControl):
                cleared += await surface.withdraw()
            elif isinstance(surface, HomeAssistantDiscovery):
                cleared += await surface.remove()
        if self.connection.publish(self.connection.status_topic, b"", qos=1, retain=True):
            cleared.append(self.connection.status_topic)
        self._retract = True
        rooms = [departure_of(r, self.devices.names.get(r.id, {}), self.config.units) for r in self.rooms.values()]
        for report in rooms:
            for line in report["words"]:
                log.info("%s: %s", report["room"], line)
        log.info("left: %d topics cleared; the daemon stops", len(cleared))
        return {"left": True, "ended": ended, "confirmed": back, "rooms": rooms, "cleared": cleared}

    def go(self) -> None:
        """After :meth:`leave` has answered: stop, exit 0."""
        if self._stop_event is not None:
            self._stop_event.set()

    async def run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        stop = self._stop_event = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(self.start(), name="start")
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        standing_by = asyncio.create_task(self._stand_by(starting), name="standby") if self.leadership else None
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if standing_by is not None:
            standing_by.cancel()
        if not starting.done():  # stopped while the standby waited for the site's leadership
            starting.cancel()
            await asyncio.wait({starting})
            if self.leadership is not None:
                await self.leadership.close()
            self.store.close()
            os.close(self._lock)
            log.info("stopped as the standby")
            return
        stopping.cancel()
        starting.result()
        sd_notify(f"READY=1\nSTATUS=leading site {self.config.mqtt.base_topic!r}" if self.leadership else "READY=1")
        log.info("ambience is running: %d rooms, %d presets", len(self.rooms), len(self.library.presets))
        await stop.wait()
        sd_notify("STOPPING=1")
        log.info("stopping")
        await self.stop()


def hass_link(config: Config) -> HassLink | None:
    """The link to the configured Home Assistant's websocket API; ``None`` without ``homeassistant_api:``."""
    hass = config.homeassistant_api
    if hass is None:
        return None
    return HassLink(hass.websocket_url, hass.secret, ca_file=str(hass.ca_file) if hass.ca_file else None)


def departure_of(room: Room, names: dict[str, str], units: str = "metric") -> dict[str, Any]:
    """What a departure put back in ``room``, per device in words: ``Heater: off, confirmed``,
    ``Thermostat: 19 °C as found, confirmed``, ``Table warmer did not confirm off — check it by hand``."""
    sent, found = room.put_back
    owed = {dev_id: o.state for dev_id, o in room.owed.items()}
    devices = []
    for dev_id, state in {**sent, **owed}.items():
        name = names.get(dev_id, dev_id)
        name = name[:1].upper() + name[1:]
        shown = state_words(state, units)
        was = found.get(dev_id)
        as_found = " as found" if isinstance(was, dict) and all(was.get(k) == v for k, v in state.items()) else ""
        confirmed = dev_id not in owed
        words = (
            f"{name}: {shown}{as_found}, confirmed"
            if confirmed
            else f"{name} did not confirm {shown} — check it by hand"
        )
        devices.append({"device": dev_id, "name": names.get(dev_id, dev_id), "state": state, "as_found": bool(as_found),
                        "confirmed": confirmed, "words": words})  # fmt: skip
    return {
        "room": room.id,
        "name": room.config.name or room.id,
        "devices": devices,
        "words": [d["words"] for d in devices] or ["nothing to put back"],
    }


def _lock_state_dir(state_dir: Path) -> int:
    """One daemon per state directory: a second one would run the same sessions twice."""
    fd = os.open(state_dir / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise CommandError(
            f"another ambience serve (pid {other}) is running with the state directory {state_dir}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def watchdog_interval() -> float | None:
    """systemd's ``WatchdogSec`` in seconds (``$WATCHDOG_USEC``, for this process), or ``None``."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6


def sd_notify(state: str) -> None:
    """Tell systemd (``Type=notify``) how we are; nothing without ``$NOTIFY_SOCKET``."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)


def setup_logging(verbose: bool = False) -> RateLimit:
    """One line per event on stderr (the journal adds the time under systemd); a flood is cut to a count."""
    journald = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, stream=sys.stderr, force=True)
    return RateLimit().install(logging.getLogger().handlers[0])


def raise_open_files_limit() -> int:
    """The soft limit on open files up to the hard one, as systemd advises services (its soft default is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # macOS: no "unlimited" soft limit
            log.warning("cannot raise the open-file limit from %d to %s: %s", soft, hard, exc)
    log.info("open files: up to %s", "unlimited" if soft == resource.RLIM_INFINITY else soft)
    return soft


def serve(config: Config, verbose: bool = False) -> int:
    rate_limit = setup_logging(verbose)
    raise_open_files_limit()
    try:
        daemon = Daemon(config)
        asyncio.run(daemon.run_until_signal())
    finally:
        rate_limit.flush()
    return daemon.exit_code


__all__ = ["Daemon", "serve", "sd_notify"]
