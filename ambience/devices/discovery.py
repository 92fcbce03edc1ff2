"""What the broker's bridges announce: every device found, and a room-config entry for each. Pure.

``ambience devices`` (ambience/cli/devices_cmd.py) listens a few seconds to the bridges' retained
announcements and hands each message to :meth:`Discovery.feed`; nothing here touches a socket.
The announcements are read by the bridges' own parsers (the adapters' modules):

- Zigbee2MQTT ``<base>/bridge/devices`` (:func:`~ambience.devices.zigbee2mqtt.z2m_capabilities` per
  entry; the ``Coordinator`` and disabled devices left out), ``<base>/bridge/state`` and, once a
  device is known, its ``<base>/<friendly name>/availability`` (retained where availability is on);
- Tasmota ``tasmota/discovery/<mac>/config`` (:func:`~ambience.devices.tasmota.tasmota_capabilities`;
  ``t`` is the topic, ``fn`` the friendly names, ``ft`` the full topic) and ``tele/<t>/LWT``
  (``onln``/``ofln`` the words);
- ESPHome's Home Assistant discovery configs ``<prefix>/light/<node>/<id>/config`` and
  ``…/climate/…`` (:func:`~ambience.devices.esphome.esphome_capabilities`; a config is ESPHome's when
  its ``dev.sw`` says ``esphome``, and its command topic ``<topic prefix>/<component>/<object id>/…``
  gives the names ambience needs) and its availability topic.

Shelly Gen2 devices announce nothing retained (they answer ``Shelly.GetDeviceInfo`` when asked):
they are not found here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ambience.config import Config
from ambience.devices.base import Availability, parse_json
from ambience.devices.capabilities import Capabilities, CapabilityKind
from ambience.devices.codec import online_payload
from ambience.devices.esphome import esphome_capabilities, expanded_discovery
from ambience.devices.tasmota import DISCOVERY_TOPIC, tasmota_capabilities
from ambience.devices.zigbee2mqtt import SETPOINT_KEYS, SOURCE, z2m_bridge_state, z2m_capabilities
from ambience.errors import DeviceError, NotFound

Z2M_DEFAULT_BASE = "zigbee2mqtt"
HA_DEFAULT_PREFIX = "homeassistant"
ESPHOME_COMPONENTS = ("light", "climate")
TASMOTA_FULL_TOPIC = "%prefix%/%topic%/"
PLUG_NOTES = {
    "tasmota": "a plug: driven as a light, on/off only and confirmed on on/off (issue 15 brings a switch kind)",
    "zigbee2mqtt": (
        "a plug: driven as a light it is switched on and off, but never confirmed, as it reports no brightness "
        "(issue 15 brings a switch kind)"
    ),
}
PLUG_NOTE = "a plug: driven as a light, on/off only (issue 15 brings a switch kind)"


@dataclass(frozen=True)
class Found:
    """One device a bridge announced."""

    bridge: str
    name: str
    """The bridge's name for it, what ``--snippet`` takes: Z2M friendly name, Tasmota topic,
    ESPHome ``<topic prefix>/<object id>``."""
    capabilities: Capabilities
    online: bool | None
    """``None``: the bridge says nothing (Z2M availability is off unless enabled)."""
    device: dict[str, Any]
    """Its entry in a room's config (``bridge``, ``device`` and what else ambience needs), no role."""
    key: tuple[str, ...]
    """What identifies it in a config: :func:`placements`' key."""
    label: str | None = None
    """The device's own display name where the bridge has one besides ``name`` (Tasmota ``fn``, ESPHome's entity name)."""
    relays: int | None = None
    """Tasmota: how many plain relays it has."""
    room: str | None = None
    """The config's room it is already in."""

    @property
    def kind(self) -> CapabilityKind | None:
        return self.capabilities.kind

    @property
    def plug_note(self) -> str | None:
        """What to know about a plug in a room today (``None``: not a plug)."""
        return PLUG_NOTES.get(self.bridge, PLUG_NOTE) if self.kind == "switch" else None

    @property
    def qualified(self) -> str:
        return f"{self.bridge}:{self.name}"

    def shown(self) -> dict[str, Any]:
        """The machine-readable form (``ambience devices --json``)."""
        caps = self.capabilities.shown()
        caps.pop("source", None)
        return {
            "bridge": self.bridge,
            "name": self.name,
            "label": self.label,
            "model": self.capabilities.model,
            "vendor": self.capabilities.vendor,
            "description": self.capabilities.description,
            "kind": self.kind,
            "online": self.online,
            "room": self.room,
            "config": self.device,
            "capabilities": caps,
        }


def device_key(device: Any) -> tuple[str, ...]:
    """How a configured device is matched to a found one (a config device model from ambience.config.devices)."""
    if device.bridge == "zigbee2mqtt":
        return ("zigbee2mqtt", device.base_topic, device.device)
    if device.bridge == "esphome":
        return ("esphome", device.device.rstrip("/"), device.object_id)
    return (device.bridge, device.device)


def placements(config: Config) -> dict[tuple[str, ...], str]:
    """Every device of the config's rooms, by :func:`device_key`, with its room."""
    return {device_key(d): room_id for room_id, room in config.rooms.items() for d, _, _ in room.devices()}


def placed(found: list[Found], config: Config) -> list[Found]:
    """``found`` with the room each device is already in (``room``), as the config says."""
    rooms = placements(config)
    return [replace(f, room=rooms.get(f.key)) for f in found]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Discovery:
    """Collects the announcements; :meth:`topics` grows as devices are found (their availability)."""

    def __init__(
        self,
        z2m_bases: list[str] | tuple[str, ...] = (Z2M_DEFAULT_BASE,),
        ha_prefixes: list[str] | tuple[str, ...] = (HA_DEFAULT_PREFIX,),
    ):
        self.z2m_bases = tuple(dict.fromkeys(b.strip("/") for b in z2m_bases if b.strip("/")))
        self.ha_prefixes = tuple(dict.fromkeys(p.strip("/") for p in ha_prefixes if p.strip("/")))
        self._z2m: dict[str, list[dict[str, Any]]] = {}
        self._tasmota: dict[str, dict[str, Any]] = {}
        self._esphome: dict[str, dict[str, Any]] = {}
        self._said: dict[str, bytes] = {}
        """Availability payloads by topic."""

    # ---- what to listen to ---------------------------------------------------------------

    def topics(self) -> list[str]:
        """The announcement topics, then the availability topic of every device found so far."""
        out = [f"{b}/bridge/{t}" for b in self.z2m_bases for t in ("devices", "state")] + [DISCOVERY_TOPIC]
        out += [f"{p}/{c}/+/+/config" for p in self.ha_prefixes for c in ESPHOME_COMPONENTS]
        for base, entries in self._z2m.items():
            out += [f"{base}/{e['friendly_name']}/availability" for e in entries]
        out += [t for t in (self._tasmota_lwt(c) for c in self._tasmota.values()) if t]
        out += [t for t in (_str(c.get("availability_topic")) for c in self._esphome.values()) if t]
        return list(dict.fromkeys(out))

    def feed(self, topic: str, payload: bytes) -> None:
        """One message from the broker (a retained announcement or an availability)."""
        parts = topic.split("/")
        if parts[-2:] == ["bridge", "devices"] and "/".join(parts[:-2]) in self.z2m_bases:
            self._z2m_devices("/".join(parts[:-2]), payload)
        elif len(parts) == 4 and parts[:2] == ["tasmota", "discovery"] and parts[3] == "config":
            data = parse_json(payload)
            if isinstance(data, dict) and _str(data.get("t")):
                self._tasmota[parts[2]] = data
            else:
                self._tasmota.pop(parts[2], None)  # an empty retained message clears it
        elif len(parts) >= 5 and parts[-1] == "config" and parts[-4] in ESPHOME_COMPONENTS:
            if "/".join(parts[:-4]) in self.ha_prefixes:
                self._esphome_config(topic, parts[-4], payload)
        else:
            self._said[topic] = payload

    def _z2m_devices(self, base: str, payload: bytes) -> None:
        data = parse_json(payload)
        if not isinstance(data, list):
            self._z2m.pop(base, None)
            return
        self._z2m[base] = [
            e
            for e in data
            if isinstance(e, dict)
            and _str(e.get("friendly_name"))
            and e.get("type") != "Coordinator"
            and e.get("disabled") is not True
        ]

    def _esphome_config(self, topic: str, component: str, payload: bytes) -> None:
        data = parse_json(payload)
        c = expanded_discovery(data) if isinstance(data, dict) else {}
        device = c.get("device")
        sw = device.get("sw_version", device.get("sw")) if isinstance(device, dict) else None
        names = _esphome_names(c, component)
        if names is None or (isinstance(sw, str) and "esphome" not in sw.lower()):
            self._esphome.pop(topic, None)
            return
        self._esphome[topic] = c | {"_raw": data, "_component": component, "_names": names}

    # ---- what was found --------------------------------------------------------------------

    def found(self) -> list[Found]:
        """Every device announced, by bridge and name."""
        out = [self._z2m_found(base, e) for base, entries in self._z2m.items() for e in entries]
        out += [self._tasmota_found(c) for c in self._tasmota.values()]
        out += [self._esphome_found(topic, c) for topic, c in self._esphome.items()]
        return sorted(out, key=lambda f: (f.bridge, f.name))

    def _availability(self, topic: str | None, online: str = "online", offline: str = "offline") -> bool | None:
        if topic is None or topic not in self._said:
            return None
        return next(
            (r.online for r in online_payload(self._said[topic], online, offline) if isinstance(r, Availability)), None
        )

    def _z2m_found(self, base: str, entry: dict[str, Any]) -> Found:
        name = entry["friendly_name"]
        definition, power = entry.get("definition"), entry.get("power_source")
        if isinstance(definition, dict):
            caps = z2m_capabilities(definition, power if isinstance(power, str) else None)
        else:  # not supported by zigbee-herdsman-converters: Z2M does not know what it is
            caps = Capabilities(
                source=SOURCE, model=_str(entry.get("model_id")), vendor=_str(entry.get("manufacturer"))
            )
        bridge_up = (
            z2m_bridge_state(self._said[f"{base}/bridge/state"]) if f"{base}/bridge/state" in self._said else None
        )
        topic = f"{base}/{name}/availability"
        online = False if bridge_up is False else z2m_bridge_state(self._said[topic]) if topic in self._said else None
        device: dict[str, Any] = {"bridge": "zigbee2mqtt", "device": name}
        if base != Z2M_DEFAULT_BASE:
            device["base_topic"] = base
        if caps.kind == "climate" and caps.setpoint in SETPOINT_KEYS:
            device["setpoint"] = caps.setpoint
        return Found("zigbee2mqtt", name, caps, online, device, ("zigbee2mqtt", base, name))

    @staticmethod
    def _tasmota_lwt(config: dict[str, Any]) -> str | None:
        full = _str(config.get("ft")) or TASMOTA_FULL_TOPIC
        full = full if full.endswith("/") else full + "/"
        topic = full.replace("%prefix%", "tele").replace("%topic%", str(config["t"])) + "LWT"
        return None if "%" in topic else topic

    def _tasmota_found(self, config: dict[str, Any]) -> Found:
        name = str(config["t"])
        caps = tasmota_capabilities(config)
        rl = config.get("rl")
        relays = sum(1 for r in rl if r == 1) if isinstance(rl, list) else 0
        online = self._availability(
            self._tasmota_lwt(config), _str(config.get("onln")) or "Online", _str(config.get("ofln")) or "Offline"
        )
        fn = config.get("fn")
        label = _str(fn[0]) if isinstance(fn, list) and fn else _str(config.get("dn"))
        device: dict[str, Any] = {"bridge": "tasmota", "device": name}
        ft = _str(config.get("ft"))
        if ft and ft != TASMOTA_FULL_TOPIC:
            device["full_topic"] = ft
        if caps.kind == "switch":
            device["relay"] = caps.output or 1
        return Found("tasmota", name, caps, online, device, ("tasmota", name), label=label, relays=relays)

    def _esphome_found(self, topic: str, c: dict[str, Any]) -> Found:
        prefix, object_id = c["_names"]
        caps = esphome_capabilities(c["_raw"])
        online = self._availability(
            _str(c.get("availability_topic")),
            _str(c.get("payload_available")) or "online",
            _str(c.get("payload_not_available")) or "offline",
        )
        device: dict[str, Any] = {"bridge": "esphome", "device": prefix, "object_id": object_id}
        discovery_prefix = "/".join(topic.split("/")[:-4])
        if discovery_prefix != HA_DEFAULT_PREFIX:
            device["discovery_prefix"] = discovery_prefix
        name = f"{prefix}/{object_id}"
        return Found("esphome", name, caps, online, device, ("esphome", prefix, object_id), label=_str(c.get("name")))


def _esphome_names(c: dict[str, Any], component: str) -> tuple[str, str] | None:
    """The node's topic prefix and the entity's object id, from its command topic
    (``<prefix>/light/<id>/command``, ``<prefix>/climate/<id>/mode/command``: esphome mqtt_component.cpp)."""
    command = _str(c.get("command_topic" if component == "light" else "mode_command_topic"))
    parts = command.split("/") if command else []
    tail = ["command"] if component == "light" else ["mode", "command"]
    n = len(tail)
    if len(parts) < n + 3 or parts[-n:] != tail or parts[-n - 2] != component:
        return None
    prefix, object_id = "/".join(parts[: -n - 2]), parts[-n - 1]
    return (prefix, object_id) if prefix and object_id else None


# ---- choosing devices and writing their room config ---------------------------------------------


def choose(found: list[Found], names: list[str]) -> list[Found]:
    """The devices ``names`` name (``NAME`` or ``bridge:NAME`` where two bridges have one name), in that order."""
    out: list[Found] = []
    for name in names:
        hits = [f for f in found if f.name == name] or [f for f in found if f.qualified == name]
        if not hits:
            raise NotFound("device", name, [f.name for f in found])
        if len(hits) > 1:
            raise DeviceError(
                f"{name!r} is the name of several devices: write one of {', '.join(h.qualified for h in hits)}"
            )
        if hits[0] not in out:
            out.append(hits[0])
    return out


def snippet(chosen: list[tuple[Found, str | None]], room_id: str) -> dict[str, Any]:
    """A room's config for the chosen devices, each with the role asked (``None``: ``main``, a plug ``plug``):
    the thermostat under ``thermostat:``, lights and plugs under ``lights:``. Raises :class:`DeviceError`
    for a device ambience cannot place (its kind unknown, a second thermostat)."""
    room: dict[str, Any] = {}
    lights: list[dict[str, Any]] = []
    for found, role in chosen:
        if found.kind is None:
            raise DeviceError(
                f"{found.qualified}: its bridge does not say what it is (light, thermostat or plug); "
                "write its entry by hand (docs/devices.md)"
            )
        if found.kind == "climate":
            if "thermostat" in room:
                raise DeviceError(
                    f"{found.qualified}: a room has one thermostat, and {room['thermostat']['device']!r} is chosen already"
                )
            room["thermostat"] = dict(found.device)
        elif found.kind == "sensor":  # a room's temperature sensor (Aqara, SONOFF): its own list
            room.setdefault("sensors", []).append(dict(found.device))
        else:
            lights.append(dict(found.device) | {"role": role or ("plug" if found.kind == "switch" else "main")})
    if lights:
        room["lights"] = lights
    return {"rooms": {room_id: room}}


__all__ = ["Discovery", "Found", "choose", "device_key", "placed", "placements", "snippet"]
