"""The rooms and their devices: one model per bridge convention."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ambience.errors import Issue, NotFound
from ambience.model._base import RoleName, Strict
from ambience.model.limits import Limits
from ambience.model.preset import Turnover
from ambience.model.state import DEFAULT_AUTO_OFF, HEAT_ROLES, DeviceKind
from ambience.units import Seconds

TimeOfDay = Annotated[str, Field(pattern=r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$")]
"""Local wall time, ``HH:MM``."""
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DailySchedule(Strict):
    """A switch kept on for the working day (a towel cabinet): on at ``on``, off at ``off``, local time.
    ``off`` before ``on`` runs over midnight. A session that names the switch's role wins while it runs."""

    on: TimeOfDay
    off: TimeOfDay
    days: tuple[Weekday, ...] = WEEKDAYS

    @model_validator(mode="before")
    @classmethod
    def _yaml11(cls, data: Any) -> Any:
        """YAML 1.1 reads a bare ``on:``/``off:`` key as true/false and an unquoted ``19:00`` as the
        base-60 number 1140: both are taken as they were meant."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            key = {True: "on", False: "off"}.get(key, key) if isinstance(key, bool) else key
            if key in ("on", "off") and isinstance(value, int) and not isinstance(value, bool) and 60 <= value < 1440:
                value = f"{value // 60:02d}:{value % 60:02d}"
            out[key] = value
        return out


class DeviceBase(Strict):
    """What every bridge's device model has; a bridge's model adds the topics of its convention."""

    device: Annotated[str, Field(min_length=1, max_length=128)]
    """The bridge's name for it: Z2M friendly name, Tasmota topic, ESPHome/Shelly topic prefix…"""
    role: RoleName = "main"
    """What the light is in the room (ceiling, lamp, floor…); presets address lights by role."""
    name: str | None = None
    max_transition: Seconds | None = None
    """The longest fade the device does natively; longer fades are sent as steps."""
    # ---- a switch's own keys (a device in a room's ``switches``, or a heater thermostat's ``switch``)
    auto_off: Seconds | None = None
    """The device-side auto-off timer ambience arms with *on* and re-arms while the switch should stay on
    (a dead-man switch). A heat-class switch gets ``DEFAULT_AUTO_OFF`` when none is given."""
    heats: bool | None = None
    """Whether the switch heats; left out, its role says (heater, table_warmer, towel_warmer, stone_heater)."""
    restore_on: bool = False
    """A heat-class switch found *on* is put back on by ``after: restore`` only with ``restore_on: true``."""
    daily: DailySchedule | None = None
    """Keep the switch on for the working day (towel cabinet: on at opening, off at closing)."""

    @property
    def id(self) -> str:
        return self.device

    @property
    def heat_class(self) -> bool:
        return self.heats if self.heats is not None else self.role in HEAT_ROLES

    @property
    def dead_man(self) -> float | None:
        """The auto-off timer to arm, seconds: the configured one, or the default for a switch that heats."""
        if self.auto_off is not None:
            return self.auto_off
        return DEFAULT_AUTO_OFF if self.heat_class else None


class Zigbee2MqttDevice(DeviceBase):
    bridge: Literal["zigbee2mqtt"]
    base_topic: str = "zigbee2mqtt"
    setpoint: Literal["occupied_heating_setpoint", "current_heating_setpoint"] = "occupied_heating_setpoint"
    mired_min: Annotated[int, Field(ge=50, le=1000)] = 153
    mired_max: Annotated[int, Field(ge=50, le=1000)] = 500
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5
    on_time: bool = False
    """A plug whose firmware honours ZCL onWithTimedOff: its ``auto_off`` is armed with Z2M's ``on_time``. Off by
    default, as a plug without that command refuses it and does not switch on; a plug that announces a
    ``countdown`` (Tuya, SONOFF) needs nothing here."""


class TasmotaDevice(DeviceBase):
    bridge: Literal["tasmota"]
    full_topic: str = "%prefix%/%topic%/"
    relay: Annotated[int, Field(ge=1, le=32)] | None = None
    """A plug or relay module: switch this relay (``Power<n>``) on and off, no dimmer. Left out, Tasmota's
    own discovery (``tasmota/discovery/<mac>/config``) says whether the device has a light or only relays."""

    @property
    def id(self) -> str:
        """A board's relays are separate devices (a Sonoff 4CH: table warmer and towel cabinet):
        ``<topic>/<relay>`` from relay 2 on."""
        return self.device if self.relay in (None, 1) else f"{self.device}/{self.relay}"


class HomeAssistantDevice(DeviceBase):
    bridge: Literal["homeassistant"]
    # light (MQTT JSON schema)
    command_topic: str | None = None
    state_topic: str | None = None
    availability_topic: str | None = None
    brightness_scale: Annotated[int, Field(ge=1, le=65535)] = 255
    mired_min: Annotated[int, Field(ge=50, le=1000)] = 153
    mired_max: Annotated[int, Field(ge=50, le=1000)] = 500
    color_temp_kelvin: bool = False
    """HA's option of the same name: ``color_temp`` is in kelvin, in commands and states."""
    # climate (MQTT climate)
    temperature_command_topic: str | None = None
    temperature_state_topic: str | None = None
    mode_command_topic: str | None = None
    mode_state_topic: str | None = None
    current_temperature_topic: str | None = None
    temperature_state_path: str | None = None
    """Where the setpoint is in a JSON state (``temperature`` for ``{"temperature": 21.5, "mode": "heat"}``): a
    dotted path, as the generic device's ``values``; what HA's ``temperature_state_template`` would pick."""
    mode_state_path: str | None = None
    current_temperature_path: str | None = None
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5
    # switch (MQTT switch: command_topic, state_topic) and sensor (MQTT sensor: state_topic)
    payload_on: str = "ON"
    payload_off: str = "OFF"
    state_on: str | None = None
    """What the state topic says when the switch is on; left out, ``payload_on`` (as HA's MQTT switch)."""
    state_off: str | None = None
    state_path: str | None = None
    """Where the switch's state is in a JSON state message (what HA's ``value_template`` would pick); left out,
    the whole payload."""
    power_path: str | None = None
    """Where the power (W) is in the switch's JSON state, if it measures one."""
    temperature_path: str | None = None
    """Where a sensor's temperature is in its JSON state (``temperature`` for ``{"temperature": 21.3}``); left out,
    the whole payload is the number."""
    humidity_path: str | None = None
    unit_of_measurement: Literal["°C", "°F"] = "°C"
    """The sensor's temperature unit (HA's key of the same name): °F is converted."""


ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
"""An entity id as Home Assistant checks it (homeassistant/core.py ``VALID_ENTITY_ID``): ``light.treatment_lamp``."""
ENTITY_DOMAINS: dict[str, tuple[str, ...]] = {
    "light": ("light",),
    "climate": ("climate",),
    "switch": ("switch", "input_boolean", "media_player"),
    "sensor": ("sensor",),
}
"""The Home Assistant domains each kind of device can be (``bridge: homeassistant_api``)."""


class HomeAssistantApiDevice(DeviceBase):
    """An entity of Home Assistant itself, driven through its websocket API (``homeassistant_api:``)."""

    bridge: Literal["homeassistant_api"]
    entity_id: str
    temperature_step: Annotated[float, Field(gt=0, le=5)] | None = None
    """A thermostat's setpoint step; left out, the entity's ``target_temp_step`` (else 0.5)."""

    @model_validator(mode="before")
    @classmethod
    def _device_is_entity(cls, data: Any) -> Any:
        """The entity id names the device: ``device`` need not be written."""
        if isinstance(data, dict) and "device" not in data and isinstance(data.get("entity_id"), str):
            data = {**data, "device": data["entity_id"]}
        return data

    @field_validator("entity_id")
    @classmethod
    def _entity_id(cls, value: str) -> str:
        if not ENTITY_ID.match(value):
            raise PydanticCustomError(
                "value_error",
                "{value} is not a Home Assistant entity id; write <domain>.<object_id> in lower case, "
                "e.g. light.treatment_lamp (Settings → Entities shows it)",
                {"value": repr(value)},
            )
        return value

    @property
    def id(self) -> str:
        return self.entity_id

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]


def check_entity_kind(device: Any, kind: str, where: str) -> None:
    """A ``homeassistant_api`` device whose entity's domain is not one ``kind`` can be: one clear message."""
    if not isinstance(device, HomeAssistantApiDevice):
        return
    allowed = ENTITY_DOMAINS.get(kind, ())
    if device.domain not in allowed:
        words = " or ".join(f"{d}.<name>" for d in allowed)
        raise PydanticCustomError(
            "value_error",
            f"{where}: {device.entity_id!r} is a {device.domain} entity; a {kind} here is {words}",
        )


class EsphomeDevice(DeviceBase):
    bridge: Literal["esphome"]
    object_id: Annotated[str, Field(min_length=1)]
    """The light or climate entity's object id: ``<device>/light/<object_id>/command``."""

    @property
    def id(self) -> str:
        """``<node>/<object_id>``: one node's light and thermostat are two devices of a room."""
        return f"{self.device}/{self.object_id}"

    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5
    two_point: bool | None = None
    """A heat+cool climate with a low (heating) and a high (cooling) setpoint. Left out, the node's own
    Home Assistant discovery config says (``temperature_low_command_topic``)."""
    two_point_gap: Annotated[float, Field(gt=0, le=10)] = 2.0
    """°C between the heating setpoint ambience sets and the cooling setpoint it sets with it."""
    discovery_prefix: str = "homeassistant"
    """Where the node publishes its Home Assistant discovery configs (ESPHome's ``mqtt: discovery_prefix``)."""


class ShellyDevice(DeviceBase):
    bridge: Literal["shelly"]
    component: Annotated[int, Field(ge=0, le=199)] = 0
    """The Light (or Switch) component's id: ``Light.Set`` with ``{"id": component}``; for a sensor the
    ``temperature:<id>`` one (0 on an H&T; a Plus Add-on's probes are 100..104)."""

    @property
    def id(self) -> str:
        """``<prefix>/<component>`` from component 1 on (a Shelly Pro 2's two relays are two devices)."""
        return self.device if self.component == 0 else f"{self.device}/{self.component}"

    switch: bool | None = None
    """A plug or relay (the Switch component, ``Switch.Set``) driven as a light: on/off only. Left out, the
    Shelly's ``Shelly.GetConfig`` says which component ``component`` is."""


class GenericDevice(DeviceBase):
    bridge: Literal["generic"]
    command_topic: str
    payload: str = '{"state": "{state}", "brightness": {brightness}}'
    """A template; fields: {state} {STATE} {on} {brightness} {brightness255} {color_temp} {mired} {target} {mode}
    {auto_off} (a switch's device-side timer, seconds, with ``auto_off_max``)."""
    state_topic: str | None = None
    values: dict[str, str] = {}
    """Where each reported value is in a JSON state message, as dotted paths: ``{brightness: light.dim}``."""
    brightness_scale: Annotated[int, Field(ge=1, le=65535)] = 100
    availability_topic: str | None = None
    payload_available: str = "online"
    payload_not_available: str = "offline"
    auto_off_max: Seconds | None = None
    """A switch whose firmware has an auto-off timer that ``{auto_off}`` in the payload arms: its longest time.
    Left out, the switch has no timer ambience can arm (it relies on ambience)."""
    mode: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "heat"
    """What ``{mode}`` is when the preset asks no mode and the thermostat has not said its own: a template
    cannot leave a field out, so this is the thermostat's normal, regulating mode in its own word."""


BridgeDevice = (
    Zigbee2MqttDevice
    | TasmotaDevice
    | HomeAssistantDevice
    | HomeAssistantApiDevice
    | EsphomeDevice
    | ShellyDevice
    | GenericDevice
)
"""A device of any one bridge."""
Device = Annotated[BridgeDevice, Field(discriminator="bridge")]


BRIDGES = ("zigbee2mqtt", "tasmota", "homeassistant", "homeassistant_api", "esphome", "shelly", "generic")


SWITCH_KEYS = ("auto_off", "heats", "restore_on", "daily")
"""Keys that only a switch takes."""


class HeaterThermostat(Strict):
    """A thermostat made of a heater on a switch and a temperature sensor, run by ambience
    (Home Assistant's ``generic_thermostat``, for treatment rooms)."""

    bridge: Literal["heater"]
    switch: Device
    """The heater's plug or relay (its ``auto_off`` is armed and re-armed while it heats)."""
    sensor: Device
    """The room's temperature sensor the heater is run from."""
    hysteresis: Annotated[float, Field(ge=0.1, le=3)] = 0.3
    """°C either side of the target: on below ``target − hysteresis``, off above ``target + hysteresis``."""
    min_cycle: Seconds = 60.0
    """The shortest time the heater stays on, or off, before it is switched again (heaters and relays wear)."""
    sensor_timeout: Seconds = 600.0
    """The heater is off while the sensor has said nothing for this long."""
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _heater_role(cls, data: Any) -> Any:
        """The switch heats: it is a ``heater`` (auto-off timer, maximum on-time) unless given a heat role."""
        if isinstance(data, dict) and isinstance(data.get("switch"), dict) and "role" not in data["switch"]:
            data = {**data, "switch": {**data["switch"], "role": "heater"}}
        return data

    @property
    def id(self) -> str:
        return self.switch.id

    @property
    def device(self) -> str:
        return self.switch.device

    @property
    def role(self) -> str:
        return "thermostat"


class Speaker(Strict):
    audio_device: str = "auto"
    """An mpv audio-device name (``mpv --audio-device=help`` lists them); ``auto`` is the default output."""
    ao: str | None = None
    """mpv audio outputs to try, e.g. ``pipewire,pulse,alsa,null`` (``null``: silent, for demos)."""
    loudness: float | None = Field(default=-23.0, ge=-40.0, le=-10.0)
    """LUFS every track is brought to at full volume (EBU R128; measured once per file, cached in the state
    directory); the envelope and ``max_volume`` only lower it. ``null``: tracks play at their own loudness."""


SnapcastName = Annotated[str, Field(min_length=1, max_length=128)]


class Snapcast(Strict):
    """A room's speakers as a Snapcast stream: mpv writes the room's music into the snapserver's pipe
    source ``pipe``, and ambience puts the room's ``clients`` on ``stream`` over JSON-RPC (docs/music.md)."""

    server: str = "127.0.0.1:1705"
    """The snapserver's JSON-RPC control port, ``host:port`` (1705 when no port is given)."""
    stream: SnapcastName
    """The stream's name (its source's ``name=``)."""
    pipe: str
    """The stream's pipe source on this machine: the path of its ``pipe://`` source (``mode=create``)."""
    clients: tuple[SnapcastName, ...] = Field(min_length=1)
    """The room's snapclients: their id (``--hostID``, else the MAC address) or the name given them
    (``ambience speakers`` lists both)."""
    buffer: Annotated[int, Field(ge=20, le=10000)] = 1000
    """The snapserver's ``[stream] buffer``, ms (its JSON-RPC does not tell it): the clients play that far
    behind what the server reads, so ambience plays that far ahead and the fade-out ends with the session."""

    @field_validator("server")
    @classmethod
    def _host_port(cls, server: str) -> str:
        host, _, port = server.rpartition(":") if ":" in server else (server, "", "1705")
        if not re.fullmatch(r"[A-Za-z0-9.\-]{1,253}", host) or not (port.isdigit() and 0 < int(port) < 65536):
            raise PydanticCustomError(
                "value_error",
                "{server} is not host:port; give the snapserver's JSON-RPC control port, e.g. 127.0.0.1:1705",
                {"server": repr(server)},
            )
        return server

    @field_validator("pipe")
    @classmethod
    def _absolute(cls, pipe: str) -> str:
        if not pipe.startswith("/"):
            raise PydanticCustomError(
                "value_error",
                "{pipe} is not an absolute path; give the path of the stream's pipe:// source, "
                "e.g. /run/ambience/snap-studio",
                {"pipe": repr(pipe)},
            )
        return pipe

    @property
    def host(self) -> str:
        return self.server.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.server.rsplit(":", 1)[1]) if ":" in self.server else 1705


class SnapcastSpeaker(Strict):
    """``speaker: {snapcast: {...}}``: network speakers through a snapserver."""

    snapcast: Snapcast
    loudness: float | None = Field(default=-23.0, ge=-40.0, le=-10.0)
    """As :attr:`Speaker.loudness`."""

    @model_validator(mode="before")
    @classmethod
    def _no_mpv_keys(cls, data: Any) -> Any:
        mpv_keys = sorted(k for k in ("audio_device", "ao") if isinstance(data, dict) and k in data)
        if mpv_keys:
            raise PydanticCustomError(
                "value_error",
                "{keys} is for a speaker on this machine; a Snapcast speaker plays to its stream: leave it out",
                {"keys": " and ".join(mpv_keys)},
            )
        return data

    @property
    def audio_device(self) -> str:
        """What ``ambience speakers`` and the room's words call it: ``snapcast/<stream>``."""
        return f"snapcast/{self.snapcast.stream}"


def _speaker_kind(value: Any) -> str:
    snapcast = isinstance(value, SnapcastSpeaker) or (isinstance(value, dict) and "snapcast" in value)
    return "speaker[snapcast]" if snapcast else "speaker[mpv]"


AnySpeaker = Annotated[
    Annotated[Speaker, Tag("speaker[mpv]")] | Annotated[SnapcastSpeaker, Tag("speaker[snapcast]")],
    Discriminator(_speaker_kind),
]
"""A room's speaker: a local audio device through mpv, or a Snapcast stream (``snapcast:``)."""


class RoomDevice(NamedTuple):
    device: Device
    kind: DeviceKind
    role: str
    """The light's or switch's role (ceiling, table_warmer…); ``thermostat`` for the room's climate device
    (a heater thermostat's switch and sensor too), ``sensor`` for a room sensor."""


Thermostat = Annotated[
    Zigbee2MqttDevice
    | TasmotaDevice
    | HomeAssistantDevice
    | HomeAssistantApiDevice
    | EsphomeDevice
    | ShellyDevice
    | GenericDevice
    | HeaterThermostat,
    Field(discriminator="bridge"),
]


class Room(Strict):
    name: str | None = None
    thermostat: Thermostat | None = None
    """The room's thermostat; or ``bridge: heater``, a heater switch run by ambience from a temperature sensor."""
    lights: tuple[Device, ...] = ()
    switches: tuple[Device, ...] = ()
    """Plugs and relays, by role (table_warmer, towel_warmer, heater, stone_heater, diffuser, fan, …)."""
    sensors: tuple[Device, ...] = ()
    """Temperature sensors: the room's measured temperature is theirs (the first that reports)."""
    home_visit: bool = False
    """A room in a client's home (a therapist's kit): sessions end when the daemon is stopped."""
    on_shutdown: Literal["end", "resume"] | None = None
    """When the daemon is stopped mid-session: ``end`` puts the room back (the after state, confirmed)
    before it exits; ``resume`` leaves the session to go on after a restart. Left out: ``end`` for a
    home visit, ``resume`` otherwise."""
    shutdown_wait: Seconds = 60.0
    """With ``on_shutdown: end``: how long a stopping daemon waits for the devices to confirm the after
    state (then it exits all the same; what is still owed is stored and sent again at the next start)."""
    speaker: AnySpeaker | None = Speaker()
    limits: Limits | None = None
    """This room's own limits; the top-level ``limits`` otherwise."""
    turnover: Turnover = Turnover()
    """Between two sessions that follow each other (back-to-back bookings): ``length`` of working light,
    music off, the climate held for the next session (docs/bookings.md, "Back to back")."""
    favourites: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(default=(), max_length=12)
    """Preset ids shown first, as big buttons, on the phone page for this room (docs/phone.md); each
    must name a preset of the library (:func:`check_favourites`, at the daemon's start)."""
    manual: Literal["hold", "reassert"] = "hold"
    """A device changed by hand (at the wall, in another app) mid-session: ``hold`` keeps the person's
    value until the session next changes that device (the next phase); ``reassert`` puts the session's
    value back at once."""

    @field_validator("favourites")
    @classmethod
    def _favourites_once(cls, favourites: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({f for f in favourites if favourites.count(f) > 1})
        if twice:
            raise PydanticCustomError(
                "value_error", "{ids} listed twice; name each preset once", {"ids": ", ".join(map(repr, twice))}
            )
        return favourites

    @property
    def shutdown(self) -> Literal["end", "resume"]:
        """What stopping the daemon does to a running session here."""
        if self.on_shutdown is not None:
            return self.on_shutdown
        return "end" if self.home_visit else "resume"

    @property
    def heater(self) -> HeaterThermostat | None:
        return self.thermostat if isinstance(self.thermostat, HeaterThermostat) else None

    def devices(self) -> tuple[RoomDevice, ...]:
        """Every device of the room, once, with its kind and role: the one list everything walks.
        A heater thermostat is its switch (kind ``switch``, role ``thermostat``) and its sensor."""
        out: list[RoomDevice] = []
        heater = self.heater
        if heater is not None:
            out += [
                RoomDevice(heater.switch, "switch", "thermostat"),
                RoomDevice(heater.sensor, "sensor", "thermostat"),
            ]
        elif self.thermostat is not None:
            out.append(RoomDevice(self.thermostat, "climate", "thermostat"))  # type: ignore[arg-type]
        out += [RoomDevice(light, "light", light.role) for light in self.lights]
        out += [RoomDevice(switch, "switch", switch.role) for switch in self.switches]
        out += [RoomDevice(sensor, "sensor", "sensor") for sensor in self.sensors]
        return tuple(out)

    @model_validator(mode="after")
    def _unique_devices(self) -> Room:
        seen: set[tuple[str, str]] = set()
        for dev, _, _ in self.devices():
            key = (dev.bridge, dev.id)
            if key in seen:
                raise PydanticCustomError("value_error", f"device {dev.id!r} ({dev.bridge}) is listed twice")
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _entity_kinds(self) -> Room:
        """A Home Assistant entity is put where its domain fits (a ``switch.`` entity is not a light)."""
        heater = self.heater
        where = {id(d): f"lights[{i}]" for i, d in enumerate(self.lights)}
        where |= {id(d): f"switches[{i}]" for i, d in enumerate(self.switches)}
        where |= {id(d): f"sensors[{i}]" for i, d in enumerate(self.sensors)}
        if heater is not None:
            where |= {id(heater.switch): "thermostat.switch", id(heater.sensor): "thermostat.sensor"}
        for dev, kind, _ in self.devices():
            check_entity_kind(dev, kind, where.get(id(dev), "thermostat"))
        return self

    @model_validator(mode="after")
    def _switch_keys(self) -> Room:
        """``auto_off`` and the other switch keys mean nothing on a light, a thermostat or a sensor."""
        heater = self.heater
        switches = set(map(id, self.switches)) | ({id(heater.switch)} if heater else set())
        for dev, kind, _ in self.devices():
            if id(dev) in switches:
                continue
            given = [key for key in SWITCH_KEYS if key in dev.model_fields_set]
            if given:
                raise PydanticCustomError(
                    "value_error",
                    f"{given[0]} is set on {kind} {dev.id!r}; it is allowed only on a device in switches "
                    "(or a heater thermostat's switch)",
                )
        if any(s.role == "thermostat" for s in self.switches):
            raise PydanticCustomError(
                "value_error", "switch role 'thermostat' is kept for a heater thermostat (thermostat: {bridge: heater})"
            )
        return self


def check_favourites(rooms: Mapping[str, Room], presets: Iterable[str], source: str) -> list[Issue]:
    """Every room's favourite that names no preset of the library, one issue each (with a did-you-mean)."""
    known = sorted(presets)
    return [
        Issue(source, f"rooms.{room_id}.favourites", str(NotFound("preset", preset, known)))
        for room_id, room in rooms.items()
        for preset in room.favourites
        if preset not in known
    ]
