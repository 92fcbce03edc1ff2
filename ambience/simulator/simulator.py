"""The simulator: every device of every room, one paho client and one engine thread.

paho's network thread only subscribes (in ``on_connect``, so a reconnect restores everything)
and hands each message to the engine through a queue; the engine thread alone touches the
virtual devices: it handles messages, ticks fades and thermostats, and publishes. The snapshots
that the Python API reads are the one thing shared, under a condition variable.

Test and demo topics, besides each bridge's own:

- ``ambience-sim/<room>/<device>/state`` (retained): the device's true state in ambience units.
- ``ambience-sim/<room>/<device>/fault``: ``{"drop_first": 2}``, ``{"offline": true}``,
  ``{"mute": true}``; ``{}`` clears. Each message replaces the device's faults.
- ``ambience-sim/status`` (retained): ``online`` / ``offline`` (the client's will).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ambience.config import Config
from ambience.devices.base import json_payload, parse_json
from ambience.errors import DeviceError
from ambience.infra.mqtt import set_no_delay
from ambience.simulator.base import LIGHT, Publish, VirtualDevice
from ambience.simulator.esphome import EsphomeSim
from ambience.simulator.esphome_profiles import EsphomeCtLight, EsphomeHeatCool, EsphomeThermostat
from ambience.simulator.faults import Faults
from ambience.simulator.generic import GenericSim
from ambience.simulator.homeassistant import HomeAssistantSim
from ambience.simulator.profiles import Profile
from ambience.simulator.profiles import get as get_profile
from ambience.simulator.shelly import ShellySim
from ambience.simulator.shelly_profiles import ShellyHtGen3, ShellyPlusDimmer, ShellyPlusPlug
from ambience.simulator.tasmota import TasmotaCtBulb, TasmotaEnergyPlug, TasmotaPlug, TasmotaSim, TasmotaThSensor
from ambience.simulator.thermal import Thermal
from ambience.simulator.z2m_profiles import Z2mDevice, bridge_devices
from ambience.simulator.z2m_profiles import family as z2m_family
from ambience.simulator.zigbee2mqtt import Zigbee2MqttSim

log = logging.getLogger("ambience.simulator")

PREFIX = "ambience-sim"
SIMULATORS: dict[str, type[VirtualDevice[Any]]] = {
    cls.bridge: cls for cls in (Zigbee2MqttSim, TasmotaSim, HomeAssistantSim, EsphomeSim, ShellySim, GenericSim)
}
Key = tuple[str, str]
"""(room id, device key): the key is the device's id (``<id>@<bridge>`` for a second one of that id)."""
Specs = Mapping[str, Mapping[str, Any]]
"""Per-device settings keyed by ``"<device>"`` or ``"<room>/<device>"``."""
_STOP = object()
ONLINE, OFFLINE = '{"state":"online"}', '{"state":"offline"}'
"""Zigbee2MQTT's ``bridge/state`` payloads (z2m lib/mqtt.ts, retained)."""


class Simulator:
    """Virtual devices for every device of every room in ``config``, on the broker at ``url``.

    ``faults``, ``initial`` and ``options`` map ``"<device>"`` or ``"<room>/<device>"`` to a dict:
    faults as on the fault topic; the initial state (``{"on": true, "brightness": 80,
    "color_temp": 4000}`` or ``{"target": 19, "mode": "heat", "local_temperature": 18}``);
    bridge options (``{"legacy_availability": true}`` for Zigbee2MQTT 1.x). ``tick`` is the
    seconds between fade reports and thermostat drift steps of ``drift`` °C. ``thermal`` maps a
    room with a heater thermostat to its air's rates (:mod:`ambience.simulator.thermal`:
    ``{"heating": 6, "cooling": 2, "ambient": 15}`` °C/min and °C).
    """

    def __init__(
        self,
        config: Config,
        url: str | None = None,
        faults: Specs | None = None,
        initial: Specs | None = None,
        tick: float = 1.0,
        *,
        drift: float = 0.1,
        options: Specs | None = None,
        prefix: str = PREFIX,
        client_id: str | None = None,
        thermal: Specs | None = None,
    ):
        if tick <= 0:
            raise ValueError(f"tick {tick!r} must be more than 0 seconds")
        self.config = config
        self.url = url or config.mqtt.url
        self.tick = float(tick)
        self.prefix = prefix
        self.client_id = client_id or f"ambience-sim-{os.getpid()}-{os.urandom(3).hex()}"
        self._devices = self._build(config, initial or {}, options or {}, drift)
        self._thermal = Thermal.link(config, self._devices.values(), thermal or {})
        """The air of each room with a heater thermostat (simulator/thermal.py), stepped on every tick."""
        for name, spec in (faults or {}).items():
            for dev_key in self._resolve(name):
                self._devices[dev_key].faults = Faults.parse(spec)
        self._routes: dict[str, list[Key]] = {}
        """Subscription -> devices; a subscription is an exact topic or ends in ``/+``."""
        for key, dev in self._devices.items():
            for topic in dev.subscriptions():
                self._routes.setdefault(topic, []).append(key)
        self._fault_topics = {self._topic(key, "fault"): key for key in self._devices}
        self._z2m: dict[str, list[Z2mDevice]] = {}
        """Zigbee2MQTT base topic -> its profiled devices: that bridge announces them on ``bridge/devices``."""
        for dev in self._devices.values():
            if isinstance(dev, Z2mDevice):
                self._z2m.setdefault(dev.config.base_topic, []).append(dev)
        self._bridges: list[_Bridge] = []
        self._nodes: list[_Node] = []
        """The devices with an MQTT connection of their own (Shelly, ESPHome profiles): their Last Will."""
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cond = threading.Condition()
        now = time.monotonic()
        self._snapshots = {key: dev.snapshot(now) for key, dev in self._devices.items()}  # under _cond
        self._published: dict[Key, dict[str, Any]] = {}  # engine thread only
        self._fading: set[Key] = set()  # engine thread only
        self._online = threading.Event()
        self._ready = threading.Event()
        self._sub_mid: int | None = None  # network thread only
        self._client: mqtt.Client | None = None
        self._engine: threading.Thread | None = None
        self._last_info: mqtt.MQTTMessageInfo | None = None

    # ---- building ----------------------------------------------------------------------------

    @staticmethod
    def _build(config: Config, initial: Specs, options: Specs, drift: float) -> dict[Key, VirtualDevice[Any]]:
        devices: dict[Key, VirtualDevice[Any]] = {}
        wanted = set(initial) | set(options)
        for room_id, room in config.rooms.items():
            for dev, kind, _ in room.devices():
                if dev.bridge not in SIMULATORS:  # homeassistant_api: it lives in Home Assistant, not on the broker
                    continue
                # named as the bridge names it (an ESPHome node, a Tasmota topic) unless the room has two of those
                key = next(k for k in (dev.device, dev.id, f"{dev.id}@{dev.bridge}") if (room_id, k) not in devices)
                spec_keys = (f"{room_id}/{key}", key)
                spec = next((initial[k] for k in spec_keys if k in initial), None)
                opts: dict[str, Any] = dict(next((options[k] for k in spec_keys if k in options), {}))
                wanted -= set(spec_keys)
                profile = None
                if "profile" in opts:
                    profile = _profile_for(f"{room_id}/{key}", opts.pop("profile"), dev.bridge, kind)
                    cls = profiled_class(profile)
                else:
                    cls = SIMULATORS[dev.bridge]
                if kind not in cls.kinds:
                    log.warning("%s/%s: no %s simulation of a %s; simulated as a light", room_id, key, dev.bridge, kind)
                    kind = LIGHT
                extra: dict[str, Any] = {"profile": profile} if profile is not None else {}
                devices[(room_id, key)] = cls(room_id, dev, kind, initial=spec, options=opts, drift=drift, **extra)
        if wanted:
            raise ValueError(f"no device {sorted(wanted)[0]!r} in the config; known: {_known(devices)}")
        return devices

    def _resolve(self, name: str) -> list[Key]:
        """The devices a ``"<device>"`` or ``"<room>/<device>"`` key names."""
        room, _, dev = name.partition("/")
        if (room, dev) in self._devices:
            return [(room, dev)]
        found = [key for key in self._devices if key[1] == name]
        if not found:
            raise ValueError(f"no device {name!r} in the config; known: {_known(self._devices)}")
        return found

    def _topic(self, key: Key, leaf: str) -> str:
        return f"{self.prefix}/{key[0]}/{key[1]}/{leaf}"

    # ---- lifetime ----------------------------------------------------------------------------

    def start(self, timeout: float | None = 10.0) -> Simulator:
        """Connect and start; wait up to ``timeout`` s until subscribed (None: don't wait).

        Raises DeviceError if the broker did not let it subscribe in time.
        """
        if self._engine is not None:
            return self
        self._client = self._make_client()
        self._bridges = [self._bridge(base, devices) for base, devices in self._z2m.items()]
        wills = [dev for dev in self._devices.values() if hasattr(dev, "will")]
        self._nodes = [self._node(dev, n) for n, dev in enumerate(wills)]
        self._engine = threading.Thread(target=self._run, name="ambience-sim", daemon=True)
        self._engine.start()
        self._client.loop_start()
        connections: list[_Bridge | _Node] = [*self._bridges, *self._nodes]
        for bridge in connections:
            bridge.client.loop_start()
        deadline = None if timeout is None else time.monotonic() + timeout
        ready = timeout is None or (
            self._ready.wait(timeout)
            and all(b.announced.wait(max(0.0, deadline - time.monotonic())) for b in connections)  # type: ignore[operator]
        )
        if not ready:
            self.stop()
            raise DeviceError(f"simulator: could not connect to and subscribe on {self.url} within {timeout:g}s")
        return self

    def stop(self) -> None:
        """Publish every device's offline availability, then disconnect."""
        engine, client = self._engine, self._client
        if engine is None or client is None:
            return
        self._inbox.put(_STOP)
        engine.join(10)
        info = self._last_info
        if info is not None and self._online.is_set():
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass
        client.disconnect()
        client.loop_stop()
        for bridge in self._bridges:
            bridge.stop()
        for node in self._nodes:
            node.stop()
        self._bridges, self._nodes = [], []
        self._engine = self._client = None
        self._online.clear()
        self._ready.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ready(self) -> bool:
        """Connected, subscribed and announced right now."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    # ---- the Python API ----------------------------------------------------------------------

    def devices(self) -> list[Key]:
        """Every simulated device as (room id, device key)."""
        return list(self._devices)

    def device(self, room_id: str, device_id: str) -> dict[str, Any]:
        """The device's current snapshot (as on ``ambience-sim/<room>/<device>/state``)."""
        key = self._key(room_id, device_id)
        with self._cond:
            return dict(self._snapshots[key])

    def commands(self, room_id: str, device_id: str) -> int:
        """How many commands the device obeyed."""
        return int(self.device(room_id, device_id)["commands"])

    def wait_for(
        self, room_id: str, device_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until the device's snapshot satisfies ``predicate``; TimeoutError otherwise."""
        key = self._key(room_id, device_id)
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self._snapshots[key]), timeout):
                raise TimeoutError(f"{room_id}/{device_id} did not get there in {timeout:g}s: {self._snapshots[key]}")
            return dict(self._snapshots[key])

    def set_faults(self, room_id: str, device_id: str, faults: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Replace the device's faults (``set_faults(room, dev, drop_first=2)``; no arguments clears)."""
        key = self._key(room_id, device_id)
        parsed = Faults.parse({**(faults or {}), **more})
        self._call(lambda now: self._apply_faults(key, parsed, now))

    def schedule_step(self, room_id: str, device_id: str) -> None:
        """The valve's own programme reaches its next step now (a profiled thermostat in a schedule mode
        then moves its setpoint, as the real one would at its next programmed time)."""
        self._profiled_call(room_id, device_id, "schedule_step")

    def report_now(self, room_id: str, device_id: str) -> None:
        """A sleepy profiled valve (Danfoss Ally) sends its periodic report now instead of at ``report_interval``."""
        self._profiled_call(room_id, device_id, "report_now")

    def _profiled_call(self, room_id: str, device_id: str, method: str) -> None:
        key = self._key(room_id, device_id)
        dev = self._devices[key]
        if not hasattr(dev, method):
            raise ValueError(f"{room_id}/{device_id} has no {method.replace('_', ' ')} (its profile: {dev.profile})")

        def call(now: float) -> None:
            out = getattr(dev, method)(now)
            self._refresh(key, now)
            self._publish(out if dev.answering else [])

        self._call(call)

    def set_room_temperature(self, room_id: str, celsius: float) -> None:
        """The air of a room with a heater thermostat is ``celsius`` now; its sensors report it at their next tick."""
        if room_id not in self._thermal.rooms:
            self._thermal.set(room_id, celsius)  # raises ValueError, naming the rooms that have one
        self._call(lambda now: self._thermal.set(room_id, celsius))

    def describe(self) -> list[str]:
        """One line per device: where it is, its bridge and the topics it listens on."""
        lines = []
        for (room, key), dev in self._devices.items():
            faults = f"  faults {json_payload(dev.faults.as_dict())}" if dev.faults.as_dict() else ""
            what = f"{dev.bridge} {dev.profile.name}" if dev.profile else f"{dev.bridge} {dev.kind}"
            lines.append(f"{room}/{key}  {what}  <- {', '.join(dev.subscriptions())}{faults}")
        return lines

    def _key(self, room_id: str, device_id: str) -> Key:
        """The device named as the simulator names it (as its bridge does), or by ambience's device id
        (``garden-node/heater`` for the thermostat of ESPHome node ``garden-node``)."""
        key = (room_id, device_id)
        if key in self._devices:
            return key
        found = [k for k, dev in self._devices.items() if k[0] == room_id and dev.config.id == device_id]
        if len(found) != 1:
            raise KeyError(f"no simulated device {room_id}/{device_id}; known: {_known(self._devices)}")
        return found[0]

    def _call(self, fn: Callable[[float], None]) -> None:
        """Run ``fn(now)`` on the engine thread and wait for it (directly when not started)."""
        engine = self._engine
        if engine is None or not engine.is_alive():
            fn(time.monotonic())
            return
        done = threading.Event()
        self._inbox.put(("call", fn, done))
        if not done.wait(10):
            raise TimeoutError("the simulator's engine did not answer in 10 s")

    # ---- paho (network thread) ---------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = self._new_client(self.client_id, f"{self.prefix}/status", "offline")
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._connect(client)
        return client

    def _bridge(self, base: str, devices: list[Z2mDevice]) -> _Bridge:
        """Zigbee2MQTT itself for ``base``: its own MQTT client, whose Last Will is ``bridge/state`` offline
        (z2m lib/mqtt.ts: will ``{"state":"offline"}`` retained; ``{"state":"online"}`` on connect)."""
        client = self._new_client(f"{self.client_id}-z2m-{len(self._bridges)}", f"{base}/bridge/state", OFFLINE)
        bridge = _Bridge(base, devices, client)
        client.on_connect = bridge.on_connect
        self._connect(client)
        return bridge

    def _node(self, dev: VirtualDevice[Any], number: int) -> _Node:
        """The device's own connection, as the firmware has one: its Last Will is the device's offline
        availability (Shelly ``<prefix>/online`` false, ESPHome ``<prefix>/status`` offline)."""
        will: Publish = dev.will()  # type: ignore[attr-defined]
        client = self._new_client(f"{self.client_id}-node-{number}", will.topic, will.payload)
        node = _Node(dev, client)
        client.on_connect = node.on_connect
        self._connect(client)
        return node

    def _connect(self, client: mqtt.Client) -> None:
        parts = urlsplit(self.url)
        tls = parts.scheme == "mqtts"
        port = parts.port or (8883 if tls else 1883)
        # paho's default, the only one v3.1.1 takes
        clean_start = True if self.config.mqtt.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY
        client.connect_async(parts.hostname or "", port, keepalive=15, clean_start=clean_start)

    def _new_client(self, client_id: str, will_topic: str, will_payload: str) -> mqtt.Client:
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"{self.url!r} is not a broker URL; write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        settings = self.config.mqtt
        v5 = settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        )
        username = unquote(parts.username) if parts.username else settings.username
        password = unquote(parts.password) if parts.password else settings.secret()
        if username:
            client.username_pw_set(username, password)
        tls = parts.scheme == "mqtts"
        if tls:
            files = (settings.ca_file, settings.cert_file, settings.key_file)
            ca, cert, key = (str(f) if f else None for f in files)
            client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
        client.reconnect_delay_set(1, 2)
        client.will_set(will_topic, will_payload, qos=1, retain=True)
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("simulator: the broker at %s refused the connection: %s", self.url, reason_code)
            return
        set_no_delay(client)
        topics = list(self._routes) + list(self._fault_topics)
        _, self._sub_mid = client.subscribe([(t, 1) for t in topics])
        self._online.set()
        log.info("simulator: connected to %s", self.url)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if mid != self._sub_mid:
            return
        refused = [rc for rc in reason_codes if rc.is_failure]
        if refused:
            log.warning("simulator: %d subscriptions refused (%s)", len(refused), refused[0])
        self._inbox.put(("subscribed",))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self._online.clear()
        self._ready.clear()
        log.info("simulator: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(("message", message.topic, bytes(message.payload)))

    # ---- the engine thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick
        while True:
            wake = min([next_tick] + [d for k in self._fading if (d := self._devices[k].deadline) is not None])
            try:
                item = self._inbox.get(timeout=max(0.0, wake - time.monotonic()))
            except queue.Empty:
                item = None
            now = time.monotonic()
            if item is _STOP:
                self._shutdown(now)
                return
            try:
                if item is not None:
                    self._process(item, now)
                step = now >= next_tick
                if step:
                    next_tick = max(next_tick + self.tick, now + self.tick / 2)
                if step or wake <= now:
                    self._advance(now, step)
            except Exception:  # a bug in one device must not stop the others
                log.exception("simulator: error handling %r", item)

    def _process(self, item: tuple[Any, ...], now: float) -> None:
        kind = item[0]
        if kind == "message":
            self._message(item[1], item[2], now)
        elif kind == "subscribed":
            self._announce(now)
        elif kind == "call":
            try:
                item[1](now)
            finally:
                item[2].set()

    def _announce(self, now: float) -> None:
        """Availability, state and snapshots of every device, as bridges do on (re)connecting.

        Ready once the broker acknowledged the last of them: a client subscribing after
        :meth:`start` returned gets them all as retained messages.
        """
        for key, dev in self._devices.items():
            self._refresh(key, now, force=True)
            # a device with a connection of its own says it is online from that one, when it has connected
            # (as the firmware does): said from here too, "online" could come before the Last Will is set
            self._publish(dev.announce(now, availability=not hasattr(dev, "will")))
        self._publish([Publish(f"{self.prefix}/status", "online", retain=True)])
        info = self._last_info
        if info is not None:
            try:
                info.wait_for_publish(5.0)
            except (RuntimeError, ValueError):
                pass
            if not info.is_published():
                return  # disconnected meanwhile: the next connection announces again
        self._ready.set()

    def _message(self, topic: str, payload: bytes, now: float) -> None:
        if topic in self._fault_topics:
            key = self._fault_topics[topic]
            data = parse_json(payload) if payload.strip() else {}
            try:
                faults = Faults.parse(data)
            except ValueError as exc:
                log.warning("simulator: %s: %s", topic, exc)
                return
            self._apply_faults(key, faults, now)
            return
        targets = self._routes.get(topic, []) + self._routes.get(topic.rpartition("/")[0] + "/+", [])
        for key in dict.fromkeys(targets):
            out = self._devices[key].receive(topic, payload, now)
            self._refresh(key, now)
            self._publish(out)

    def _apply_faults(self, key: Key, faults: Faults, now: float) -> None:
        out = self._devices[key].set_faults(faults, now)
        self._refresh(key, now)
        self._publish(out)

    def _advance(self, now: float, step: bool) -> None:
        if step:
            self._thermal.step(now)  # the rooms' air first: the sensors report what it is now
        for key, dev in self._devices.items():
            deadline = dev.deadline
            if step or (deadline is not None and deadline <= now):
                out = dev.update(now, step)
                self._refresh(key, now)
                self._publish(out)

    def _refresh(self, key: Key, now: float, force: bool = False) -> None:
        """Update the device's snapshot (before its own messages go out, so a test that got a
        device's reply reads a current snapshot)."""
        dev = self._devices[key]
        if dev.deadline is None:
            self._fading.discard(key)
        else:
            self._fading.add(key)
        snap = dev.snapshot(now)
        if not force and snap == self._published.get(key):
            return
        with self._cond:
            self._snapshots[key] = snap
            self._cond.notify_all()
        self._published[key] = snap
        self._publish([Publish(self._topic(key, "state"), json_payload(snap), retain=True)])

    def _publish(self, messages: Iterable[Publish]) -> None:
        client = self._client
        if client is None or not self._online.is_set():
            return  # like a bridge: what happens while disconnected is re-announced on reconnect
        for m in messages:
            self._last_info = client.publish(m.topic, m.payload, qos=1, retain=m.retain)

    def _shutdown(self, now: float) -> None:
        for dev in self._devices.values():
            self._publish(dev.availability(False))
        self._publish([Publish(f"{self.prefix}/status", "offline", retain=True)])


def _known(devices: Iterable[Key]) -> str:
    return ", ".join(f"{room}/{key}" for room, key in devices) or "none"


def _when_published(infos: list[mqtt.MQTTMessageInfo], done: threading.Event) -> None:
    """Set ``done`` once the broker acknowledged every one of ``infos`` (waits on a thread of its own)."""

    def wait() -> None:
        try:
            for info in infos:
                info.wait_for_publish(10)
        except (RuntimeError, ValueError):
            return
        if all(info.is_published() for info in infos):
            done.set()

    threading.Thread(target=wait, daemon=True).start()


class _Bridge:
    """One Zigbee2MQTT instance: ``bridge/state`` and ``bridge/devices`` (retained) from its own client."""

    def __init__(self, base: str, devices: list[Z2mDevice], client: mqtt.Client):
        self.base = base
        self.devices = devices
        self.client = client
        self.announced = threading.Event()

    def on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            return
        set_no_delay(client)
        client.publish(f"{self.base}/bridge/state", ONLINE, qos=1, retain=True)
        # z2m lib/extension/bridge.ts publishDevices: retained (qos 0 there; 1 here so a test can wait for it)
        info = client.publish(f"{self.base}/bridge/devices", bridge_devices(self.devices), qos=1, retain=True)
        _when_published([info], self.announced)

    def stop(self) -> None:
        """Zigbee2MQTT stopping: ``bridge/state`` offline (z2m lib/mqtt.ts ``disconnect``); device
        availability stays as it was (lib/extension/availability.ts ``stop`` publishes nothing)."""
        if self.client.is_connected():
            info = self.client.publish(f"{self.base}/bridge/state", OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()


PROFILED: dict[str, type[VirtualDevice[Any]]] = {
    "tasmota-light": TasmotaCtBulb,
    "tasmota-relay": TasmotaPlug,
    "tasmota-energy-plug": TasmotaEnergyPlug,
    "tasmota-th-sensor": TasmotaThSensor,
    "shelly-light": ShellyPlusDimmer,
    "shelly-switch": ShellyPlusPlug,
    "shelly-ht": ShellyHtGen3,
    "esphome-light": EsphomeCtLight,
    "esphome-thermostat": EsphomeThermostat,
    "esphome-heat-cool": EsphomeHeatCool,
}
"""The simulation of each profile family outside Zigbee2MQTT (``Profile.family``)."""


class _Node:
    """A device's own MQTT connection: its availability when it connects, its Last Will when it drops."""

    def __init__(self, device: VirtualDevice[Any], client: mqtt.Client):
        self.device = device
        self.client = client
        self.announced = threading.Event()

    def on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            return
        set_no_delay(client)
        infos = [
            client.publish(p.topic, p.payload, qos=1, retain=p.retain)
            for p in self.device.availability(not self.device.faults.offline)
        ]
        _when_published(infos, self.announced)

    def stop(self) -> None:
        """A clean goodbye (the simulator published the offline availability already): no Last Will."""
        self.client.disconnect()
        self.client.loop_stop()


def profiled_class(profile: Profile) -> type[VirtualDevice[Any]]:
    """The simulation of ``profile``'s device."""
    if profile.bridge == "zigbee2mqtt":
        return z2m_family(profile)
    if profile.family in PROFILED:
        return PROFILED[profile.family]
    raise ValueError(f"profile {profile.name}: no simulation of {profile.bridge} profiles")


def _profile_for(where: str, name: Any, bridge: str, kind: str) -> Profile:
    """The profile a device spec names, checked against the device's bridge and kind; ValueError if it does not fit."""
    if not isinstance(name, str):
        raise ValueError(f"{where}: profile {name!r} is not a profile name")
    try:
        profile = get_profile(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if profile.bridge != bridge:
        raise ValueError(f"profile {name} is a {profile.bridge} device, but {where} is on {bridge}")
    wanted = profile.kind if profile.kind in ("climate", "switch", "sensor") else "light"
    if wanted != kind and not (wanted == "switch" and kind == "light"):  # a plug listed with the lights: as before
        what = {"climate": "a thermostat", "light": "a light", "switch": "a plug or relay", "sensor": "a sensor"}
        places = {"climate": "the room's thermostat", "switch": "one of the room's switches", "sensor": "a sensor"}
        place = places.get(kind, "one of the room's lights")
        raise ValueError(f"profile {name} is {what[profile.kind]}, but {where} is {place}")
    return profile
