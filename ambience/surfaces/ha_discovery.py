"""Home Assistant MQTT discovery: every room appears in Home Assistant as a device.

One retained *device-based* discovery config per room, on ``<prefix>/device/<node>_<room>/config``
(``<prefix>`` is ``homeassistant.prefix``; ``<node>`` is ``mqtt.base_topic`` with every character
outside ``[a-zA-Z0-9_-]`` made ``_``, so ``ambience`` by default). Its components:

- a ``select`` *Preset*: the preset the *Start* button starts. Its command topic
  ``<base>/<room>/ha/preset/set`` stores the choice; its state is retained on ``<base>/<room>/ha/preset``.
  It follows the preset of every session that starts, from whichever surface. Home Assistant shows the
  presets' **names** (``options``); the topics carry preset **ids**: the select's ``command_template`` turns
  the chosen name into its id and its ``value_template`` the id on the state topic into its name
  (homeassistant/components/mqtt/select.py ``async_select_option`` renders ``command_template`` with the
  option as ``value``; ``message_received`` renders ``value_template`` and needs the result in ``options``).
  Two presets of the same name are told apart as ``Name (id)``.
- ``button`` s *Start*, *Pause*, *Resume*, *Stop*, *Extend 10 min* on ``<base>/<room>/ha/<action>``.
  A press runs the same command as ``{"action": ...}`` on ``<base>/<room>/command`` (the code of
  :class:`~ambience.surfaces.mqtt_control.MqttControl`, so it is validated and executed exactly like the
  CLI's); its answer goes to ``<base>/<room>/command/result`` with ``"id": "ha:<action>"``.
- ``sensor`` s *Remaining time* (``duration``, s), *End time* (``timestamp``), *Phase* and *State*
  (``enum``), read with templates from the retained room state ``<base>/<room>/state`` that
  :class:`~ambience.surfaces.mqtt_control.MqttControl` publishes; and, in a room with a thermostat or
  temperature sensors, *Temperature* (``temperature``, °C, ``measurement``): the room's measured
  temperature (``temperature.current`` of the room state; unknown until something has measured one).

Every component carries ``qos: 1``: the root-level ``qos`` is inherited by the components only in newer
Home Assistant (``SHARED_OPTIONS`` in homeassistant/components/mqtt/schemas.py has no ``qos`` before 2026.x,
home-assistant/core#170166), so an older one would press the buttons at QoS 0. Device-based discovery
needs Home Assistant 2024.11 or newer.

Availability is ``<base>/status`` (``online``, and ``offline`` as the connection's Last Will).
The configs are published at start and after every (re)connect, and again 0–2 s after Home
Assistant announces ``online`` on its birth topic. Which rooms were announced under which prefix
is kept retained on ``<base>/ha/rooms``; a room that left the config (or an old prefix) gets an
empty retained config, which makes Home Assistant remove the device. With ``discovery: false``
nothing is announced and what an earlier run announced is removed the same way; so is every room
when a home visit leaves (``ambience visit leave``, :meth:`HomeAssistantDiscovery.remove`).

Only the model :class:`HomeAssistantConfig` is imported at module level by ``ambience.config``,
so this module imports nothing that imports the config at its top.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import uuid
from collections import Counter
from typing import Annotated, Any

from pydantic import Field, ValidationError

from ambience import __version__
from ambience.app.controller import Controller
from ambience.config import Config
from ambience.config.sections import TOPIC, HomeAssistantConfig
from ambience.infra.mqtt import Connection, Received
from ambience.model._base import Strict
from ambience.model.parse import issues_from
from ambience.surfaces.mqtt_control import _error, _json, run_command
from ambience.units import format_duration

log = logging.getLogger(__name__)


ACTIONS = ("start", "pause", "resume", "stop", "extend")
"""The buttons, in the order Home Assistant shows them."""
STATES = ("idle", "preconditioning", "turnover", "running", "paused")
"""``state`` in a room's status JSON (``scheduled`` is shown as running; ``ended`` is idle again)."""
BIRTH_DELAY = (0.0, 2.0)
"""Seconds (random within) between Home Assistant's ``online`` and our re-publication."""
RECORD_WAIT = 2.0
"""Seconds to wait for the retained record of what was announced before (it normally takes milliseconds)."""
_ICONS = {
    "preset": "mdi:spa-outline",
    "start": "mdi:play",
    "pause": "mdi:pause",
    "resume": "mdi:play-pause",
    "stop": "mdi:stop",
    "extend": "mdi:timer-plus-outline",
    "remaining": "mdi:timer-sand",
    "ends_at": "mdi:clock-end",
    "phase": "mdi:progress-clock",
    "state": "mdi:information-outline",
    "temperature": "mdi:thermometer",
}


def node_id(base_topic: str) -> str:
    """The id prefix of devices and entities: the base topic with ``[^a-zA-Z0-9_-]`` made ``_``."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", base_topic)


QOS = 1
"""The QoS of every command and state topic, given in each component (see the module's docstring)."""


def preset_labels(presets: list[dict[str, Any]]) -> dict[str, str]:
    """Preset id -> what Home Assistant's select shows: its name, ``Name (id)`` where names repeat."""
    names = [(p.get("name") or p["id"]).strip() or p["id"] for p in presets]
    counts = Counter(name.casefold() for name in names)
    return {
        p["id"]: name if counts[name.casefold()] == 1 else f"{name} ({p['id']})"
        for p, name in zip(presets, names, strict=True)
    }


def _lookup_template(mapping: dict[str, str]) -> str:
    """A Home Assistant template that maps ``value`` through ``mapping`` (unknown values pass through)."""
    return "{{ " + json.dumps(mapping, ensure_ascii=True) + ".get(value, value) }}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


class HomeAssistantDiscovery:
    """Announces the rooms to Home Assistant and runs its preset select and buttons."""

    def __init__(
        self,
        connection: Connection,
        controller: Controller,
        config: Config,
        settings: HomeAssistantConfig | None = None,
    ):
        self._error, self._json = _error, _json
        self.connection = connection
        self.controller = controller
        self.config = config
        self.settings = settings or getattr(config, "homeassistant", None) or HomeAssistantConfig()
        self.version = __version__
        self.base = config.mqtt.base_topic
        self.node = node_id(self.base)
        self.prefix = self.settings.prefix
        self.enabled = self.settings.discovery
        self.record_topic = f"{self.base}/ha/rooms"
        self.sync_topic = f"{self.base}/ha/sync"
        self._running = False
        self._record: dict[str, Any] | None = None
        """What the broker says was announced: ``{"prefix": ..., "rooms": [...]}``."""
        self._record_read = False
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_again = False
        self._birth_timer: asyncio.TimerHandle | None = None
        self._selected: dict[str, str] = {}
        self._session_preset: dict[str, str | None] = {}
        self._clearing: set[str] = set()
        # Subscribed now: the Connection renews them on every connect (before on_connect handlers run).
        connection.subscribe(self.record_topic, self._on_record)
        connection.subscribe(self.sync_topic, self._on_sync)
        if self.enabled:
            connection.subscribe(f"{self.base}/+/ha/#", self._on_room_topic)
            connection.subscribe(self.settings.birth_topic, self._on_birth)
            controller.subscribe(self._on_change)
        connection.on_connect(self._on_connect)

    # ---- lifetime -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Announce (or, disabled, withdraw) the rooms now if connected; otherwise on connecting."""
        self._running = True
        for room_id in self.controller.rooms:
            self._session_preset[room_id] = self._session_of(room_id)
        if self.connection.connected:
            self._request_sync()
            if self._sync_task is not None:
                await asyncio.shield(self._sync_task)

    async def stop(self) -> None:
        """Stop answering; the configs stay (the rooms show *unavailable* while ambience is away)."""
        self._running = False
        if self._birth_timer is not None:
            self._birth_timer.cancel()
            self._birth_timer = None
        task, self._sync_task = self._sync_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def remove(self) -> list[str]:
        """Take ambience out of Home Assistant for good (a home visit that leaves): stop answering, then
        an empty retained config for every room announced (the current rooms and any the record names,
        under any prefix), which makes Home Assistant remove the device and its entities; the rooms'
        retained preset choice and the record itself cleared too. Nothing is announced again, even on a
        reconnect or Home Assistant's birth. The topics cleared."""
        await self.stop()
        self.enabled = False
        record = self._record or {}
        rooms = [(self.prefix, r) for r in self.controller.rooms]
        rooms += [(record.get("prefix") or self.prefix, r) for r in record.get("rooms") or []]
        topics = []
        for prefix, room_id in dict.fromkeys(rooms):
            topics += [self.config_topic(room_id, prefix), self.room_topic(room_id, "preset")]
        topics.append(self.record_topic)
        cleared = [t for t in dict.fromkeys(topics) if self.connection.publish(t, b"", qos=1, retain=True)]
        self._record = None
        log.info(
            "removed %d rooms from Home Assistant (%d topics cleared)", len(set(r for _, r in rooms)), len(cleared)
        )
        return cleared

    # ---- topics -------------------------------------------------------------------------------

    def device_id(self, room_id: str) -> str:
        return f"{self.node}_{room_id}"

    def config_topic(self, room_id: str, prefix: str | None = None) -> str:
        return f"{prefix or self.prefix}/device/{self.device_id(room_id)}/config"

    def room_topic(self, room_id: str, tail: str) -> str:
        return f"{self.base}/{room_id}/ha/{tail}"

    def result_topic(self, room_id: str) -> str:
        return f"{self.base}/{room_id}/command/result"

    # ---- the discovery payload ----------------------------------------------------------------

    def payload(self, room_id: str) -> dict[str, Any]:
        """The device-based discovery config of one room (long key names; HA accepts both)."""
        room = self.config.rooms.get(room_id)
        name = (room.name if room is not None else None) or room_id
        dev_id = self.device_id(room_id)
        state_topic = f"{self.base}/{room_id}/state"
        labels = preset_labels(self.controller.presets())
        presets = list(labels)

        def entity(key: str, platform: str, label: str, **more: Any) -> dict[str, Any]:
            return {"p": platform, "unique_id": f"{dev_id}_{key}", "name": label, "icon": _ICONS[key], "qos": QOS,
                    **more}  # fmt: skip

        components: dict[str, dict[str, Any]] = {}
        if presets:
            components["preset"] = entity(
                "preset", "select", "Preset", options=list(labels.values()),
                command_topic=self.room_topic(room_id, "preset/set"), state_topic=self.room_topic(room_id, "preset"),
                command_template=_lookup_template({label: pid for pid, label in labels.items()}),
                value_template=_lookup_template(labels),
            )  # fmt: skip
        names = {"extend": f"Extend {_minutes(self.settings.extend_by)}"}
        for action in ACTIONS:
            if action == "start" and not presets:
                continue
            components[action] = entity(
                action, "button", names.get(action, action.capitalize()),
                command_topic=self.room_topic(room_id, action), payload_press="PRESS",
            )  # fmt: skip
        components["remaining"] = entity(
            "remaining", "sensor", "Remaining time", state_topic=state_topic,
            device_class="duration", unit_of_measurement="s", suggested_display_precision=0,
            value_template="{{ (value_json.remaining_s or 0) | round(0) | int }}",
        )  # fmt: skip
        components["ends_at"] = entity(
            "ends_at", "sensor", "End time", state_topic=state_topic, device_class="timestamp",
            # ends_at is ISO 8601 with its UTC offset; "None" makes the sensor unknown while idle.
            value_template="{{ value_json.ends_at or 'None' }}",
        )  # fmt: skip
        components["phase"] = entity(
            "phase", "sensor", "Phase", state_topic=state_topic,
            value_template="{{ value_json.phase or value_json.state }}",
        )  # fmt: skip
        components["state"] = entity(
            "state", "sensor", "State", state_topic=state_topic, device_class="enum", options=list(STATES),
            value_template="{{ value_json.state }}",
            json_attributes_topic=state_topic,
            json_attributes_template=(
                "{{ {'preset': value_json.preset, 'preset_name': value_json.preset_name,"
                " 'started_at': value_json.started_at} | tojson }}"
            ),
        )  # fmt: skip
        if room is not None and (room.thermostat is not None or room.sensors):
            # HA's MQTT sensor schema (homeassistant/components/mqtt/sensor.py _PLATFORM_SCHEMA_BASE): a numeric
            # device class with its unit; _update_state takes the rendered "None" as unknown (nothing measured yet)
            components["temperature"] = entity(
                "temperature", "sensor", "Temperature", state_topic=state_topic, device_class="temperature",
                unit_of_measurement="°C", state_class="measurement", suggested_display_precision=1,
                value_template="{{ value_json.temperature.current if value_json.temperature else 'None' }}",
            )  # fmt: skip
        return {
            "dev": {"ids": [dev_id], "name": name, "mf": "ambience", "mdl": "Treatment room", "sw": self.version},
            "o": {"name": "ambience", "sw": self.version},
            "availability_topic": self.connection.status_topic,
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": QOS,
            "cmps": components,
        }

    # ---- announcing ---------------------------------------------------------------------------

    def _on_connect(self) -> None:
        if self._running:
            self._request_sync()

    def _request_sync(self) -> None:
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_again = True
            return
        self._sync_task = asyncio.get_running_loop().create_task(self._sync(), name="ha-discovery")

    async def _sync(self) -> None:
        while True:
            self._sync_again = False
            if not self._record_read:
                await self._wait_for_record()
            if not self.connection.connected:
                return  # on_connect asks again
            try:
                self._announce() if self.enabled else self._withdraw()
            except Exception:
                log.exception("Home Assistant discovery failed")
            if not self._sync_again:
                return

    async def _wait_for_record(self) -> None:
        """Until the retained ``<base>/ha/rooms`` (if any) is here: a message of our own, published
        after subscribing, comes back after every retained message of the earlier subscriptions."""
        token = uuid.uuid4().hex
        arrived = asyncio.get_running_loop().create_future()
        self._barriers[token] = arrived
        try:
            if self.connection.publish(self.sync_topic, token, qos=1, retain=False):
                await asyncio.wait_for(arrived, RECORD_WAIT)
                self._record_read = True
        except TimeoutError:
            log.warning("no echo on %s within %g s; going on without the record of earlier rooms",
                        self.sync_topic, RECORD_WAIT)  # fmt: skip
            self._record_read = True
        finally:
            self._barriers.pop(token, None)

    def _on_sync(self, msg: Received) -> None:
        arrived = self._barriers.get(msg.payload.decode("ascii", errors="replace"))
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    def _on_record(self, msg: Received) -> None:
        if not msg.retained:
            return  # the echo of our own update
        self._record = _parse_record(msg.payload, msg.topic)
        if self._record_read and self._running and self._stale():
            self._request_sync()  # arrived late: clean up now

    def _stale(self) -> list[tuple[str, str]]:
        """(prefix, room) announced before and not now."""
        record = self._record or {}
        prefix, rooms = record.get("prefix") or self.prefix, record.get("rooms") or []
        if not self.enabled:
            return [(prefix, r) for r in rooms]
        return [(prefix, r) for r in rooms if prefix != self.prefix or r not in self.controller.rooms]

    def _announce(self) -> None:
        publish = self.connection.publish
        for prefix, room_id in self._stale():
            log.info("removing room %s from Home Assistant (%s)", room_id, self.config_topic(room_id, prefix))
            publish(self.config_topic(room_id, prefix), b"", qos=1, retain=True)
            if room_id not in self.controller.rooms:
                publish(self.room_topic(room_id, "preset"), b"", qos=1, retain=True)
        for room_id in self.controller.rooms:
            publish(self.config_topic(room_id), self._json(self.payload(room_id)), qos=1, retain=True)
            self._publish_selection(room_id)
        record = {"prefix": self.prefix, "rooms": sorted(self.controller.rooms)}
        if record != self._record:
            publish(self.record_topic, self._json(record), qos=1, retain=True)
            self._record = record
        log.info("announced %d rooms to Home Assistant under %s/device/", len(self.controller.rooms), self.prefix)

    def _withdraw(self) -> None:
        stale = self._stale()
        for prefix, room_id in stale:
            log.info("discovery is off: removing room %s from Home Assistant", room_id)
            self.connection.publish(self.config_topic(room_id, prefix), b"", qos=1, retain=True)
            self.connection.publish(self.room_topic(room_id, "preset"), b"", qos=1, retain=True)
        if self._record is not None:
            self.connection.publish(self.record_topic, b"", qos=1, retain=True)
            self._record = None

    def _on_birth(self, msg: Received) -> None:
        if msg.retained or msg.payload.strip() != b"online" or not self._running:
            return  # a retained "online" is no restart; our (re)connect announced already
        if self._birth_timer is not None:
            self._birth_timer.cancel()
        delay = random.uniform(*BIRTH_DELAY)
        log.info("Home Assistant is online; announcing the rooms again in %.1f s", delay)
        self._birth_timer = asyncio.get_running_loop().call_later(delay, self._birth_due)

    def _birth_due(self) -> None:
        self._birth_timer = None
        if self._running and self.connection.connected:
            self._request_sync()

    # ---- the preset select --------------------------------------------------------------------

    def presets_changed(self) -> None:
        """The library was reloaded with another list: the select's options are announced again, and a
        choice whose preset is gone falls back to the default one."""
        presets = self.controller.library.presets
        for room_id in [r for r, pid in self._selected.items() if pid not in presets]:
            del self._selected[room_id]
        if self._running and self.connection.connected:
            self._request_sync()

    def selection(self, room_id: str) -> str | None:
        """The preset *Start* starts: chosen in HA, else the room's last session's, else the first."""
        chosen = self._selected.get(room_id)
        if chosen is not None:
            return chosen
        presets = self.controller.library.presets
        try:
            last = next((h["preset"] for h in self.controller.history(room_id, 5) if h["preset"] in presets), None)
        except Exception:
            last = None
        first = next((p["id"] for p in self.controller.presets()), None)
        return last or first

    def _publish_selection(self, room_id: str) -> None:
        preset = self.selection(room_id)
        if preset is not None:
            self.connection.publish(self.room_topic(room_id, "preset"), preset, qos=1, retain=True)

    def _select(self, room_id: str, msg: Received) -> dict[str, Any]:
        wanted = msg.payload.decode("utf-8", errors="replace").strip()
        presets = self.controller.library.presets
        preset = wanted if wanted in presets else None
        if preset is None:  # a preset's name works too (e.g. from an automation)
            preset = next((p.id for p in presets.values() if p.name.casefold() == wanted.casefold()), None)
        if preset is None:
            self._publish_selection(room_id)  # HA's select shows the valid choice again
            known = ", ".join(sorted(presets)) or "none"
            message = f"unknown preset {wanted[:80]!r}; known presets: {known}"
            return self._error("not_found", message, [("preset", message)], {"id": "ha:preset"})
        self._selected[room_id] = preset
        self._publish_selection(room_id)
        return {"ok": True, "id": "ha:preset", "preset": preset}

    def _session_of(self, room_id: str) -> str | None:
        room = self.controller.rooms.get(room_id)
        record = getattr(room, "record", None)
        return record.preset if record is not None and getattr(record, "outcome", None) is None else None

    def _on_change(self, room_id: str) -> None:
        """A session that starts (from any surface) becomes the select's choice."""
        if not self._running:
            return
        preset = self._session_of(room_id)
        before = self._session_preset.get(room_id)
        self._session_preset[room_id] = preset
        if preset and preset != before and preset in self.controller.library.presets:
            if self._selected.get(room_id) != preset:
                self._selected[room_id] = preset
                self._publish_selection(room_id)

    # ---- commands from Home Assistant ----------------------------------------------------------

    def _on_room_topic(self, msg: Received) -> None:
        parts = msg.topic[len(self.base) + 1 :].split("/")
        if len(parts) < 3 or parts[1] != "ha":
            return
        room_id, tail = parts[0], "/".join(parts[2:])
        if tail == "preset":
            # Our own retained choice, read back at start; live echoes of our updates are ignored.
            wanted = msg.payload.decode("utf-8", errors="replace")
            if msg.retained and room_id not in self._selected and wanted in self.controller.library.presets:
                self._selected[room_id] = wanted
            return
        if tail != "preset/set" and tail not in ACTIONS:
            return
        if msg.retained:
            # A retained press would replay on every reconnect: never run, cleared (as MqttControl does).
            if msg.payload:
                log.warning("ignored a retained (stale) Home Assistant command on %s; clearing it", msg.topic)
                if self.connection.publish(msg.topic, b"", qos=1, retain=True):
                    self._clearing.add(msg.topic)
            return
        if not msg.payload:
            self._clearing.discard(msg.topic)  # the echo of our own clearing (HA never sends empty)
            return
        if not self._running:
            reply = self._error("unavailable", "ambience is starting or stopping; try again", [], {"id": f"ha:{tail}"})
        elif room_id not in self.controller.rooms:
            known = ", ".join(sorted(self.controller.rooms)) or "none configured"
            message = f"unknown room {room_id!r}; known rooms: {known}"
            reply = self._error("not_found", message, [("room", message)], {"id": f"ha:{tail}"})
        elif tail == "preset/set":
            reply = self._select(room_id, msg)
        else:
            reply = self._press(room_id, tail)
        if not reply["ok"]:
            log.warning("Home Assistant %s in room %s refused: %s", tail, room_id, reply["error"])
        self.connection.publish(self.result_topic(room_id), self._json(reply), qos=1, retain=False)

    def _press(self, room_id: str, action: str) -> dict[str, Any]:
        command: dict[str, Any] = {"action": action, "id": f"ha:{action}"}
        if action == "start":
            preset = self.selection(room_id)
            if preset is None:
                return self._error("invalid", "no preset to start: the preset library is empty", [], {"id": "ha:start"})
            command["preset"] = preset
        elif action == "extend":
            command["by"] = format_duration(self.settings.extend_by)  # with its unit: a bare number is minutes
        return run_command(self.controller, room_id, json.dumps(command).encode())


MAX_RECORD = 64 * 1024
"""Bytes of the retained record of announced rooms; 1,000 rooms take about 35 KiB."""


class AnnouncedRooms(Strict):
    """The retained ``<base>/ha/rooms``: under which prefix which rooms were announced.

    Anyone who may publish there can leave any retained message, and it is read at every start:
    it is validated like a file, and one that is not this is ignored (one log line).
    """

    prefix: Annotated[str, Field(pattern=TOPIC)] | None = None
    rooms: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")], ...] = ()


def _parse_record(payload: bytes, topic: str) -> dict[str, Any] | None:
    """``{"prefix": ..., "rooms": [...]}``; a bare list of rooms is read with the current prefix.

    Anything else is ignored with one warning: rooms announced before are then not removed from
    Home Assistant, and the next announcement replaces it with ours.
    """
    if not payload:
        return None
    problem = None
    if len(payload) > MAX_RECORD:
        problem = f"{len(payload):,} bytes; at most {MAX_RECORD:,} are read"
    else:
        try:
            data = json.loads(payload)
        except RecursionError:
            problem = "not JSON: nested too deeply"
        except ValueError as exc:
            problem = f"not JSON: {getattr(exc, 'msg', exc)}"
        else:
            try:
                record = AnnouncedRooms.model_validate({"rooms": data} if isinstance(data, list) else data)
            except ValidationError as exc:
                issues = issues_from(exc, AnnouncedRooms, topic)
                problem = "; ".join(f"{i.field}: {i.message}" if i.field else i.message for i in issues[:3])
            else:
                return {"prefix": record.prefix, "rooms": list(record.rooms)}
    problem = problem if len(problem) <= 300 else problem[:299] + "…"
    log.warning("ignored the retained record of announced rooms on %s: %s", topic, problem)
    return None


__all__ = ["HomeAssistantConfig", "HomeAssistantDiscovery", "ACTIONS", "STATES", "node_id"]
