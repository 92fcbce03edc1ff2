"""The asyncio shell around the reconciler: routes messages, publishes, sleeps until due.

One :class:`Devices` serves every room over one :class:`~ambience.infra.mqtt.Connection`, and the
devices with ``bridge: homeassistant_api`` over a :class:`~ambience.infra.hass.HassLink` (the same
surface: their adapters' topics start with ``hass:``). All of it runs on the event loop; the
connections have already handed every message over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from ambience.config import Config
from ambience.config.devices import HomeAssistantApiDevice, Zigbee2MqttDevice
from ambience.config.devices import Room as RoomConfig
from ambience.config.sections import ReconcileConfig
from ambience.devices.base import Availability, ClimateReport, Dropped, Message, SensorReport
from ambience.devices.capabilities import Announces, Capabilities
from ambience.devices.heater import HeaterLoop, HeaterSettings
from ambience.devices.reconciler import Desired, Tracked
from ambience.devices.registry import make_adapter
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter, z2m_bridge_devices, z2m_bridge_state
from ambience.errors import DeviceError
from ambience.infra import hass as hass_link
from ambience.infra.aio import wait_event
from ambience.infra.mqtt import Connection, Received
from ambience.model.state import PART, DeviceKind, RoomState, Switch
from ambience.units import state_words  # noqa: F401 (re-exported: a state in words lives with the units, light for the CLI)

log = logging.getLogger(__name__)

NOTIFY_DELAY = 0.25
"""Seconds to gather device reports into one room change notification."""
LOG_EVERY = 60.0
"""Seconds between two log lines about one device's bad reports (the ones in between are counted)."""
BRIDGE_WAIT = 2.0
"""Seconds a device's first query and resend wait, after a connect, for a retained announcement (its
Zigbee2MQTT bridge's ``bridge/devices``, its Tasmota or ESPHome discovery config): until it comes, it
is not known what the device can be asked or sent."""


class LogLimit:
    """At most one log line per key every ``every`` seconds; the next one says how many were held back.

    A retained or repeating bad report would otherwise write a line per message, all day.
    """

    def __init__(self, logger: logging.Logger, every: float = LOG_EVERY):
        self.logger = logger
        self.every = every
        self._next: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def log(self, key: object, now: float, level: int, msg: str, *args: object, exc_info: bool = False) -> None:
        if now < self._next.get(key, now):
            self._held[key] = self._held.get(key, 0) + 1
            return
        self._next[key] = now + self.every
        held = self._held.pop(key, 0)
        more = f" ({held} more since the last line)" if held else ""
        self.logger.log(level, msg + "%s", *args, more, exc_info=exc_info)


class Devices:
    def __init__(
        self,
        connection: Connection,
        config: Config,
        clock: Callable[[], float] = time.time,
        hass: hass_link.HassLink | None = None,
    ):
        self.connection = connection
        self.hass = hass
        """The link to Home Assistant's websocket API, for the ``homeassistant_api`` devices."""
        self._on_hass: set[int] = set()
        """The devices behind :attr:`hass`."""
        self.clock = clock
        self.rooms: dict[str, dict[str, Tracked]] = {}
        self._routes: dict[str, list[Tracked]] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[str], None]] = []
        self._notify_pending: set[str] = set()
        self._inbox: deque[Received] = deque()
        """Reports not handled yet: they wait for a burst of commands to be sent (see catch_up)."""
        self._log_limit = LogLimit(log)
        self._active: dict[int, Tracked] = {}
        """Devices with a retry or fade step ahead (or just touched): the only ones the loop looks at.
        Walking every device of every room after each report was quadratic in a burst (bench P2)."""
        self.settings: ReconcileConfig = config.reconcile
        settings = self.settings
        self._bridge_topics: dict[str, str] = {}
        """Zigbee2MQTT's own topics (``<base>/bridge/devices``, ``<base>/bridge/state``) -> which of them."""
        self._heard: set[str] = set()
        """The ``bridge/devices`` topics heard from since the start (or waited for in vain once)."""
        self._announcements: dict[str, list[Tracked]] = {}
        """The topics (wildcards allowed) where devices say what they can do -> the devices listening
        (Tasmota's discovery, ESPHome's discovery configs, a Shelly's GetConfig answer)."""
        self._held: dict[int, Tracked] = {}
        self._learned: set[int] = set()
        """Devices whose own announcement (retained: Tasmota's, ESPHome's) came, or was waited for in vain."""
        """Devices whose connect-time query and resend wait for their bridge's ``bridge/devices``."""
        self.heaters: dict[str, Heater] = {}
        """Rooms whose thermostat is a heater switch run from a sensor (``thermostat: {bridge: heater}``)."""
        self.sensors: dict[str, list[Tracked]] = {}
        """Each room's temperature sensors (``sensors:``), in the order configured."""
        self.names: dict[str, dict[str, str]] = {room_id: device_names(room) for room_id, room in config.rooms.items()}
        """Each room's devices by what people call them (:func:`device_names`)."""
        for room_id, room in config.rooms.items():
            limits = config.room_limits(room_id)
            devices = {}
            for dev, kind, role in room.devices():
                adapter = make_adapter(dev, kind, f"{connection.client_id}-{room_id}-{dev.id}")
                link: Connection | hass_link.HassLink = connection
                if isinstance(dev, HomeAssistantApiDevice):
                    if hass is None:
                        raise DeviceError(
                            f"{room_id}/{dev.id}: bridge homeassistant_api needs the homeassistant_api section"
                        )
                    link = hass
                climate = kind == "climate"
                heats = kind == "switch" and (dev.heat_class or role == "thermostat")
                tracked = Tracked(
                    room_id,
                    dev.id,
                    role,
                    adapter,
                    mired_range=(getattr(dev, "mired_min", 153), getattr(dev, "mired_max", 500)),
                    temperature_step=getattr(dev, "temperature_step", None) or 0.5,
                    temperature_limits=(limits.min_temperature, limits.max_temperature),
                    ack_timeout=settings.thermostat_ack_timeout if climate else settings.ack_timeout,
                    max_tries=settings.thermostat_max_tries if climate else settings.max_tries,
                    slow_retry=settings.slow_retry,
                    patient=climate,
                    manual=room.manual,
                    auto_off=dev.dead_man if kind == "switch" else None,
                    heats=heats,
                    max_on=limits.max_on(dev.role) if heats else None,
                )
                devices[dev.id] = tracked
                if link is not connection:
                    self._on_hass.add(id(tracked))
                if kind == "sensor" and role == "sensor":
                    self.sensors.setdefault(room_id, []).append(tracked)
                topics = adapter.subscriptions()
                if isinstance(dev, Zigbee2MqttDevice):
                    base = dev.base_topic.rstrip("/")
                    for which in ("devices", "state"):
                        topics.append(f"{base}/bridge/{which}")
                        self._bridge_topics[f"{base}/bridge/{which}"] = which
                for topic in topics:
                    if topic not in self._routes:
                        self._routes[topic] = []
                        link.subscribe(topic, self._receive, urgent=False)
                    self._routes[topic].append(tracked)
                if isinstance(adapter, Announces):
                    for topic in adapter.announcement_topics:
                        if topic not in self._announcements:
                            self._announcements[topic] = []
                            link.subscribe(topic, functools.partial(self._on_announcement, topic), urgent=False)
                        self._announcements[topic].append(tracked)
            self.rooms[room_id] = devices
            heater = room.heater
            if heater is not None:
                rules = HeaterSettings(
                    heater.hysteresis, heater.min_cycle, heater.sensor_timeout, limits.max_temperature
                )
                self.heaters[room_id] = Heater(HeaterLoop(rules), devices[heater.switch.id], devices[heater.sensor.id])
        connection.on_connect(functools.partial(self._on_connect, False))
        if hass is not None:
            hass.on_connect(functools.partial(self._on_connect, True))

    # ---- what rooms want ---------------------------------------------------------------------

    def apply(
        self,
        room_id: str,
        state: RoomState,
        parts: Iterable[str] = ("climate", "lights", "switches"),
        keep: Collection[str] = (),
    ) -> None:
        """Make the room's devices follow ``state`` (only the ``parts`` named). A device in ``keep``
        that ``state`` leaves alone keeps what it was asked before (an after state it owes)."""
        now = self.clock()
        out: list[Message] = []
        heater = self.heaters.get(room_id)
        for tracked in self.rooms[room_id].values():
            kind: DeviceKind = tracked.kind  # type: ignore[assignment]
            if heater is not None and tracked is heater.switch:
                # the room's thermostat: its climate goes to the controller, whose on/off goes to the switch
                if "climate" in parts and (state.climate is not None or tracked.id not in keep):
                    heater.loop.want(state.climate)
                    out += self._heat(heater, now)
                continue
            if kind == "sensor" or PART[kind] not in parts:
                continue
            desired = state.desired(kind, tracked.role)
            if desired is not None or tracked.id not in keep:
                out += self._unless_held(tracked, tracked.want(desired, now))
            self._active[id(tracked)] = tracked
        self._publish(out)

    def want(self, room_id: str, device_id: str, desired: Desired | None) -> None:
        tracked = self.rooms[room_id][device_id]
        now = self.clock()
        heater = self.heaters.get(room_id)
        if heater is not None and tracked is heater.switch:
            # an after state (always off, core/after.py) or an owed one: no session runs the heater now, so
            # whatever the sensor says next, the controller keeps it off
            heater.loop.want(None)
            heater.loop.step(now)
        self._active[id(tracked)] = tracked
        self._publish(self._unless_held(tracked, tracked.want(desired, now)))

    def _unless_held(self, tracked: Tracked, messages: list[Message]) -> list[Message]:
        """A device waiting for its announcement is sent nothing yet: what it is wanted to be goes out
        when the announcement comes (or the wait ends), spelled as the device needs."""
        return [] if id(tracked) in self._held else messages

    def query(self, room_id: str | None = None) -> None:
        """Ask devices to report their state (``/get`` or equivalent)."""
        for rid, devices in self.rooms.items():
            if room_id is None or rid == room_id:
                for tracked in devices.values():
                    if id(tracked) not in self._held:  # it is asked when its bridge has said what it can be asked
                        self._publish(tracked.adapter.query())

    def _heat(self, heater: Heater, now: float) -> list[Message]:
        """Run the room's heater thermostat now; its on/off goes to the heater switch."""
        loop = heater.loop
        if not loop.engaged:
            return []  # nothing asked of the heater yet (no session since the start): left as it is
        sensor = heater.sensor
        loop.sensor_offline = sensor.reachable is False
        was = (loop.heating, None if loop.last is None else loop.last.reason)
        check_at = loop.check_at
        decision = loop.step(now)
        if (decision.on, decision.reason) != was:
            self._notify(heater.switch.room)
        if loop.check_at != check_at:
            self._wake.set()  # the loop sleeps until the controller's next check too
        self._active[id(heater.switch)] = heater.switch
        return self._unless_held(heater.switch, heater.switch.want(Switch(decision.on), now))

    def on_change(self, listener: Callable[[str], None]) -> None:
        """``listener(room_id)`` soon after a device of the room reports something new (debounced)."""
        self._listeners.append(listener)

    def _notify(self, room_id: str) -> None:
        if not self._listeners or room_id in self._notify_pending:
            return
        self._notify_pending.add(room_id)

        def fire() -> None:
            self._notify_pending.discard(room_id)
            for listener in list(self._listeners):
                listener(room_id)

        asyncio.get_running_loop().call_later(NOTIFY_DELAY, fire)

    # ---- status --------------------------------------------------------------------------------

    def status(self, room_id: str) -> list[dict]:
        """Each device as the room status shows it; a heater thermostat's switch adds ``thermostat``
        (its target, the measured temperature, whether it heats and why)."""
        heater = self.heaters.get(room_id)
        out = []
        for tracked in self.rooms[room_id].values():
            shown = tracked.describe()
            if heater is not None and tracked is heater.switch:
                shown["thermostat"] = heater.loop.shown()
            out.append(shown)
        return out

    def temperature(self, room_id: str) -> dict | None:
        """The room's measured temperature: the first configured room sensor that has reported one,
        else its thermostat's (a heater thermostat's sensor, a thermostat's ``current``); ``None``:
        nothing measured yet. ``{"current": °C, "device": id}``."""
        devices = self.rooms[room_id]
        thermostats = [t for t in devices.values() if t.role == "thermostat" and t.kind in ("climate", "sensor")]
        for tracked in [*self.sensors.get(room_id, ()), *thermostats]:
            reported = tracked.reported
            value = None
            if isinstance(reported, SensorReport):
                value = reported.temperature
            elif isinstance(reported, ClimateReport):
                value = reported.current
            if value is not None:
                return {"current": value, "device": tracked.id}
        return None

    def climate(self, room_id: str, wanted: float | None = None) -> dict:
        """The room's climate for people: ``{"current": °C|None, "target": °C|None, "device": id|None}``.
        ``current`` as :meth:`temperature`; ``target`` is ``wanted`` (what a session asks for now), else
        what the thermostat reports as its own target (a heater thermostat: its controller's)."""
        measured = self.temperature(room_id)
        devices = self.rooms[room_id]
        thermostat = next((t for t in devices.values() if t.role == "thermostat"), None)
        target = wanted
        if target is None:
            heater = self.heaters.get(room_id)
            if heater is not None:
                target = heater.loop.shown()["target"]
            elif thermostat is not None and isinstance(thermostat.reported, ClimateReport):
                target = thermostat.reported.target
        device = measured["device"] if measured else (thermostat.id if thermostat is not None else None)
        return {"current": measured["current"] if measured else None, "target": target, "device": device}

    def settled(self, room_id: str) -> bool:
        """Every device that is asked something is confirmed, unconfirmed or offline."""
        return all(t.shown_status != "pending" for t in self.rooms[room_id].values())

    async def wait_settled(self, room_id: str, timeout: float) -> bool:
        return await self._wait_until(lambda: self.settled(room_id), timeout)

    async def wait_reported(self, room_id: str, timeout: float) -> None:
        """Until every device of the room has said something (state or availability), or ``timeout``."""
        devices = self.rooms[room_id].values()
        await self._wait_until(lambda: all(t.reported is not None or t.online is False for t in devices), timeout)

    async def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Check ``done`` after every device report (and at least once a second) until ``timeout``."""
        deadline = self.clock() + timeout
        while not done():
            left = deadline - self.clock()
            if left <= 0:
                return False
            self._changed.clear()
            await wait_event(self._changed, min(left, 1.0))
        return True

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Retries and fade steps, on time. Sleeps until the next one; no polling while idle."""
        while True:
            now = self.clock()
            wakes = [t for h in self.heaters.values() if (t := h.loop.check_at) is not None]
            for tracked in list(self._active.values()):
                wake = tracked.wake_at()
                if wake is None:
                    del self._active[id(tracked)]
                else:
                    wakes.append(wake)
            delay = max(0.0, min(wakes) - now) if wakes else None
            self._wake.clear()
            await wait_event(self._wake, delay)
            now = self.clock()
            out: list[Message] = []
            for heater in self.heaters.values():
                check_at = heater.loop.check_at
                if check_at is not None and now >= check_at:
                    out += self._heat(heater, now)
            for tracked in list(self._active.values()):
                out += tracked.due(now)
            self._publish(out)
            self._changed.set()

    def _publish(self, messages: list[Message]) -> None:
        for m in messages:
            if m.topic.startswith(hass_link.PREFIX) and self.hass is not None:
                self.hass.command(m.topic, m.payload)
            else:
                self.connection.command(m.topic, m.payload)
        if messages:
            self._wake.set()

    def _receive(self, msg: Received) -> None:
        if not self._inbox:
            self.connection.background(self.catch_up)
        self._inbox.append(msg)

    def catch_up(self, room_id: str | None = None) -> None:
        """Handle the reports received so far (only the room's with ``room_id``), in order.

        A room's reports are handled before a command changes the room, so what a session finds
        (its snapshot for ``after: restore``) is never older than what has arrived. A message whose
        handling fails is logged and skipped: the ones behind it are still handled.
        """
        if room_id is None:
            while self._inbox:
                self._handle(self._inbox.popleft())
            return
        keep: deque[Received] = deque()
        while self._inbox:
            msg = self._inbox.popleft()
            if any(t.room == room_id for t in self._routes.get(msg.topic, ())):
                self._handle(msg)
            else:
                keep.append(msg)
        self._inbox = keep

    def _handle(self, msg: Received) -> None:
        try:
            self._on_message(msg)
        except Exception:
            self._log_limit.log(
                msg.topic,
                self.clock(),
                logging.ERROR,
                "a message on %s could not be handled; skipped",
                msg.topic,
                exc_info=True,
            )

    def _on_message(self, msg: Received) -> None:
        if msg.topic in self._bridge_topics:
            self._on_bridge(msg)
            return
        now = self.clock()
        out: list[Message] = []
        for tracked in self._routes.get(msg.topic, ()):
            self._active[id(tracked)] = tracked
            before = _visible(tracked)
            try:
                for item in tracked.adapter.decode(msg.topic, msg.payload):
                    if isinstance(item, Dropped):
                        key = (tracked.room, tracked.id)
                        self._log_limit.log(key, now, logging.WARNING, "%s/%s: %s", *key, item)
                    else:
                        out += tracked.report(item, now)
                        out += self._heard_by_heater(tracked, item, now)
            except Exception:  # one device's trouble is not the others' on the same topic
                failed = (tracked.room, tracked.id, "failed")
                self._log_limit.log(
                    failed,
                    now,
                    logging.ERROR,
                    "%s/%s: a report on %s could not be read; skipped",
                    *failed[:2],
                    msg.topic,
                    exc_info=True,
                )
            if _visible(tracked) != before:
                self._notify(tracked.room)
        self._publish(out)
        self._changed.set()
        self._wake.set()

    def _heard_by_heater(self, tracked: Tracked, item: object, now: float) -> list[Message]:
        """A heater thermostat's sensor reported (a temperature, or its availability): the controller runs again."""
        heater = self.heaters.get(tracked.room)
        if heater is None or tracked is not heater.sensor:
            return []
        if isinstance(item, SensorReport) and item.temperature is not None:
            heater.loop.reading(item.temperature, now)
        elif not isinstance(item, Availability):
            return []
        return self._heat(heater, now)

    def _on_bridge(self, msg: Received) -> None:
        """Zigbee2MQTT's ``bridge/devices`` (what each device can do) or ``bridge/state`` (Z2M itself)."""
        now = self.clock()
        behind = self._routes.get(msg.topic, [])
        out: list[Message] = []
        if self._bridge_topics[msg.topic] == "devices":
            announced = z2m_bridge_devices(msg.payload)
            if announced is None:
                if msg.payload.strip():
                    self._log_limit.log(
                        msg.topic, now, logging.WARNING, "%s dropped: it is not a list of devices", msg.topic
                    )
                return
            for tracked in behind:
                assert isinstance(tracked.adapter, Zigbee2MqttAdapter)  # only they are behind a bridge topic
                caps = announced.get(tracked.adapter.device.device)
                if caps is None:
                    continue  # a group, or a device Z2M does not know: as configured
                self._make_patient(tracked, caps)
                learned = tracked.learn(caps, now)
                out += [] if id(tracked) in self._held else learned  # a held one is sent all below
                self._active[id(tracked)] = tracked
            self._heard.add(msg.topic)
            out += self._release(msg.topic)
        else:
            online = z2m_bridge_state(msg.payload)
            if online is None:
                return
            for tracked in behind:
                out += tracked.bridge(online, now)
                out += self._heard_by_heater(tracked, Availability(online), now)
                self._active[id(tracked)] = tracked
        for room in {t.room for t in behind}:
            self._notify(room)
        self._publish(out)
        self._changed.set()
        self._wake.set()

    def _make_patient(self, tracked: Tracked, caps: Capabilities) -> None:
        """A battery device sleeps: it is given a thermostat's patience, whatever its kind."""
        if caps.battery and not tracked.patient:
            s = self.settings
            tracked.patient, tracked.ack_timeout, tracked.max_tries = (
                True,
                s.thermostat_ack_timeout,
                s.thermostat_max_tries,
            )

    def _on_announcement(self, subscription: str, msg: Received) -> None:
        """A device said what it can do (on one of its adapter's ``announcement_topics``)."""
        now = self.clock()
        out: list[Message] = []
        rooms: set[str] = set()
        for tracked in self._announcements.get(subscription, ()):
            adapter = tracked.adapter
            assert isinstance(adapter, Announces)
            try:
                caps = adapter.decode_announcement(msg.topic, msg.payload)
            except Exception:  # a bad announcement is one device's trouble, never the loop's
                key = (tracked.room, tracked.id, "announcement")
                self._log_limit.log(
                    key, now, logging.ERROR, "%s/%s: an announcement on %s could not be read; skipped",
                    *key[:2], msg.topic, exc_info=True,
                )  # fmt: skip
                continue
            if caps is None:
                continue
            self._make_patient(tracked, caps)
            learned = tracked.learn(caps, now)
            self._learned.add(id(tracked))
            if self._held.pop(id(tracked), None) is not None:
                learned = tracked.reconnected(now)  # held since the connect: asked and sent only now
            out += learned
            self._active[id(tracked)] = tracked
            rooms.add(tracked.room)
        for room in rooms:
            self._notify(room)
        self._publish(out)
        if rooms:
            self._changed.set()
            self._wake.set()

    def _on_connect(self, hass: bool) -> None:
        """The broker (``hass`` False) or Home Assistant's websocket (True) is connected: its devices
        are sent what is wanted of them (after their announcement, where one comes)."""
        now = self.clock()
        out: list[Message] = []
        for devices in self.rooms.values():
            for tracked in devices.values():
                if (id(tracked) in self._on_hass) != hass:
                    continue
                if self._awaits_announcement(tracked):
                    self._held[id(tracked)] = tracked
                    continue
                out += tracked.reconnected(now)
                self._active[id(tracked)] = tracked
        self._publish(out)
        if self._held:
            asyncio.get_running_loop().call_later(BRIDGE_WAIT, self._waited)

    def _waited(self) -> None:
        """No ``bridge/devices`` in time (an old Z2M, retain off): the devices go as configured, and
        their bridge is not waited for again (its message is still read if it comes)."""
        self._heard |= {t for t in map(self._bridge_devices_topic, self._held.values()) if t}
        self._learned |= set(self._held)
        self._publish(self._release())

    def _awaits_announcement(self, tracked: Tracked) -> bool:
        """Whether the device's connect-time query and resend wait (up to :data:`BRIDGE_WAIT`) for a
        retained announcement of what it can do: its Zigbee2MQTT bridge's ``bridge/devices``, or its own
        discovery config. (A Shelly is asked, so it does not wait.)"""
        if self._bridge_devices_topic(tracked) not in (None, *self._heard):
            return True
        adapter = tracked.adapter
        retained = isinstance(adapter, Announces) and getattr(adapter, "announcement_retained", True)
        return retained and id(tracked) not in self._learned

    @staticmethod
    def _bridge_devices_topic(tracked: Tracked) -> str | None:
        adapter = tracked.adapter
        if not isinstance(adapter, Zigbee2MqttAdapter):
            return None
        return f"{adapter.device.base_topic.rstrip('/')}/bridge/devices"

    def _release(self, topic: str | None = None) -> list[Message]:
        """The connect-time query and resend of the devices held for ``topic`` (``None``: all of them,
        their bridge said nothing in time: they go as configured)."""
        now = self.clock()
        out: list[Message] = []
        for key, tracked in list(self._held.items()):
            if topic is None or self._bridge_devices_topic(tracked) == topic:
                del self._held[key]
                out += tracked.reconnected(now)
                self._active[key] = tracked
        return out


@dataclass(frozen=True)
class Heater:
    """A room's heater thermostat: its controller's state, the heater switch and the sensor it is run from."""

    loop: HeaterLoop
    switch: Tracked
    sensor: Tracked


def _visible(tracked: Tracked) -> tuple:
    """What a room's status shows of a device, less the measured temperature (it drifts all day)."""
    reported = tracked.reported
    shown = (reported.target, reported.mode, reported.settings) if isinstance(reported, ClimateReport) else reported
    return tracked.status, tracked.online, tracked.bridge_online, shown


_KIND_WORDS = {"climate": "thermostat", "sensor": "temperature sensor"}


def device_names(room: RoomConfig) -> dict[str, str]:
    """Each device of ``room`` as people call it: its configured ``name``; else its role in words (a
    switch ``table_warmer`` is "table warmer", a ``ceiling`` light "ceiling light", the thermostat
    "thermostat", a heater thermostat's plug "heater"); else its id. Two alike get their ids added."""
    words: dict[str, str] = {}
    for dev, kind, role in room.devices():
        named = dev.name or (
            getattr(room.heater, "name", None) if room.heater is not None and dev is room.heater.switch else None
        )
        if named:
            words[dev.id] = named.strip()
            continue
        if role == "thermostat":
            text = {"switch": "heater", "sensor": "temperature sensor"}.get(kind, "thermostat")
        elif kind == "light":
            said = role.replace("_", " ")
            text = "light" if role == "main" else said if any(w in said for w in ("light", "lamp")) else f"{said} light"
        elif kind == "switch":
            text = role.replace("_", " ") if role != "main" else "switch"
        else:
            text = _KIND_WORDS.get(kind, dev.id)
        words[dev.id] = text
    counts: dict[str, int] = {}
    for text in words.values():
        counts[text] = counts.get(text, 0) + 1
    return {
        dev_id: f"{text} ({dev_id})" if counts[text] > 1 and text != dev_id else text for dev_id, text in words.items()
    }
