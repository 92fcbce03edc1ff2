"""The daemon's config (``ambience.yaml``): broker, limits, folders and the rooms with their devices.

Found at ``--config FILE``, else ``$AMBIENCE_CONFIG``, else ``./ambience.yaml`` if present;
without a file the defaults apply. Any value can be overridden from the environment:
``AMBIENCE_MQTT__URL``, ``AMBIENCE_MQTT__PASSWORD``, ``AMBIENCE_STATE_DIR`` …
Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import os
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .calendars import CalendarsConfig, check_feeds
from .errors import ConfigError, Issue
from .ha_discovery import HomeAssistantConfig
from .presets import RoleName, Strict, shipped_presets
from .units import Celsius, Percent, Seconds, Volume
from .validation import issues_from, load_yaml, read_text

ROOM_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_BYTES = 256 * 1024
"""The largest config file read; one for 50 rooms of 10 lights each is 52 KiB (docs/daemon.md)."""
BUILTIN = "builtin"
"""Written in ``presets:``, stands for the preset library shipped with ambience."""


def _protocol(value: Any) -> Any:
    return {5: "5", 3.1: "3.1.1", 311: "3.1.1"}.get(value, value) if not isinstance(value, str) else value


class MqttConfig(Strict):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    base_topic: Annotated[str, Field(pattern=r"^[^#+/][^#+]*[^#+/]$|^[^#+/]$")] = "ambience"
    protocol: Annotated[Literal["5", "3.1.1"], BeforeValidator(_protocol)] = "5"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None
    command_expiry: Seconds = 30.0
    """MQTT 5 message expiry of device commands: a command queued longer is dropped, not late."""
    response_topic_prefix: str | None = None
    """Where an MQTT 5 response topic may point (default ``<base_topic>/``): answers go nowhere else."""

    @field_validator("response_topic_prefix")
    @classmethod
    def _response_prefix(cls, value: str | None) -> str | None:
        if value is not None and (not value.endswith("/") or value.startswith("/") or set(value) & {"+", "#", "\0"}):
            raise PydanticCustomError(
                "value_error",
                f"{value!r} is not allowed; write a topic prefix ending in '/', without '+' or '#', e.g. 'replies/'",
            )
        return value

    @property
    def response_prefix(self) -> str:
        """The prefix every MQTT 5 response topic must start with."""
        return self.response_topic_prefix or f"{self.base_topic}/"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise PydanticCustomError(
                "value_error", f"{value!r} is not a broker URL; write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
            )
        try:
            _ = parts.port
        except ValueError:
            raise PydanticCustomError("value_error", f"{value!r} has a bad port; allowed 1–65535") from None
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def secret(self) -> str | None:
        """The password: from ``password`` (e.g. AMBIENCE_MQTT__PASSWORD) or ``password_file``."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None


class Limits(Strict):
    """Hard bounds for a room; every desired value is clamped to them."""

    min_temperature: Celsius = 16.0
    max_temperature: Celsius = 27.0
    max_volume: Volume = 70
    max_brightness: Percent = 100

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.min_temperature > self.max_temperature:
            raise PydanticCustomError(
                "value_error",
                f"min_temperature {self.min_temperature:g} is above max_temperature {self.max_temperature:g}",
            )
        return self


class HttpConfig(Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8765
    token: SecretStr | None = None
    """The API token; default: generated at first start into ``<state_dir>/token`` (mode 0600)."""
    enabled: bool = True
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 200
    """Open HTTP connections at most (each phone page holds one); past it the one idle longest is closed."""


class RecurringBooking(Strict):
    """A weekly booking template: e.g. room 2, Tuesdays 09:00, express-30."""

    room: Annotated[str, Field(pattern=ROOM_ID)]
    preset: str
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    at: Annotated[str, Field(pattern=r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$")]
    """Local wall time, ``HH:MM``."""
    duration: Seconds | None = None
    lead: Seconds | None = None
    client: str | None = None

    def at_time(self) -> dt_time:
        hour, minute = self.at.split(":")
        return dt_time(int(hour), int(minute))


def _zone(value: Any) -> Any:
    if value is None:
        return value
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "value_error", f"{value!r} is not a time zone; use an IANA name such as 'Europe/London'"
        ) from None
    return value


class BookingsConfig(Strict):
    timezone: Annotated[str | None, BeforeValidator(_zone)] = None
    """The clinic's IANA time zone (default: this machine's)."""
    lead: Seconds = 900.0
    """Pre-heat before a booking: only the climate runs from ``start − lead``."""
    on_busy: Literal["wait", "replace"] = "wait"
    """A manual session still running when a booking is due: wait for it to end, or replace it."""
    horizon_days: Annotated[int, Field(ge=1, le=366)] = 14
    """How far ahead weekly templates are expanded into bookings."""
    recurring: list[RecurringBooking] = []
    store_url: str | None = None
    """A SQLAlchemy URL for the booking store (default: SQLite ``<state_dir>/bookings.db``)."""
    calendars: CalendarsConfig = []
    """ICS feeds of the clinic's booking system, kept in step with the bookings (docs/calendars.md)."""

    def zone(self) -> ZoneInfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        from tzlocal import get_localzone_name

        try:
            return ZoneInfo(get_localzone_name() or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class ReconcileConfig(Strict):
    """How hard to insist on a device that does not confirm a command."""

    ack_timeout: Seconds = 1.0
    """Wait this long for a matching report after a command (plus its transition); doubled per try."""
    max_tries: Annotated[int, Field(ge=1, le=20)] = 4
    """After this many tries without a matching report a device is *unconfirmed*."""
    slow_retry: Seconds = 30.0
    """Seconds between tries once a device is unconfirmed."""


# ---- devices: one model per bridge convention -------------------------------------------


class _Device(Strict):
    device: Annotated[str, Field(min_length=1, max_length=128)]
    """The bridge's name for it: Z2M friendly name, Tasmota topic, ESPHome/Shelly topic prefix…"""
    role: RoleName = "main"
    """What the light is in the room (ceiling, lamp, floor…); presets address lights by role."""
    name: str | None = None
    max_transition: Seconds | None = None
    """The longest fade the device does natively; longer fades are sent as steps."""

    @property
    def id(self) -> str:
        return self.device


class Zigbee2MqttDevice(_Device):
    bridge: Literal["zigbee2mqtt"]
    base_topic: str = "zigbee2mqtt"
    setpoint: Literal["occupied_heating_setpoint", "current_heating_setpoint"] = "occupied_heating_setpoint"
    mired_min: Annotated[int, Field(ge=50, le=1000)] = 153
    mired_max: Annotated[int, Field(ge=50, le=1000)] = 500
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5


class TasmotaDevice(_Device):
    bridge: Literal["tasmota"]
    full_topic: str = "%prefix%/%topic%/"


class HomeAssistantDevice(_Device):
    bridge: Literal["homeassistant"]
    # light (MQTT JSON schema)
    command_topic: str | None = None
    state_topic: str | None = None
    availability_topic: str | None = None
    brightness_scale: Annotated[int, Field(ge=1, le=65535)] = 255
    mired_min: Annotated[int, Field(ge=50, le=1000)] = 153
    mired_max: Annotated[int, Field(ge=50, le=1000)] = 500
    # climate (MQTT climate)
    temperature_command_topic: str | None = None
    temperature_state_topic: str | None = None
    mode_command_topic: str | None = None
    mode_state_topic: str | None = None
    current_temperature_topic: str | None = None
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5


class EsphomeDevice(_Device):
    bridge: Literal["esphome"]
    object_id: Annotated[str, Field(min_length=1)]
    """The light or climate entity's object id: ``<device>/light/<object_id>/command``."""
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5


class ShellyDevice(_Device):
    bridge: Literal["shelly"]
    component: Annotated[int, Field(ge=0, le=16)] = 0
    """The Light component's id: ``Light.Set`` with ``{"id": component}``."""


class GenericDevice(_Device):
    bridge: Literal["generic"]
    command_topic: str
    payload: str = '{"state": "{state}", "brightness": {brightness}}'
    """A template; fields: {state} {STATE} {on} {brightness} {brightness255} {color_temp} {mired} {target} {mode}."""
    state_topic: str | None = None
    values: dict[str, str] = {}
    """Where each reported value is in a JSON state message, as dotted paths: ``{brightness: light.dim}``."""
    brightness_scale: Annotated[int, Field(ge=1, le=65535)] = 100
    availability_topic: str | None = None
    payload_available: str = "online"
    payload_not_available: str = "offline"


Device = Annotated[
    Zigbee2MqttDevice | TasmotaDevice | HomeAssistantDevice | EsphomeDevice | ShellyDevice | GenericDevice,
    Field(discriminator="bridge"),
]
BRIDGES = ("zigbee2mqtt", "tasmota", "homeassistant", "esphome", "shelly", "generic")


class Speaker(Strict):
    audio_device: str = "auto"
    """An mpv audio-device name (``mpv --audio-device=help`` lists them); ``auto`` is the default output."""
    ao: str | None = None
    """mpv audio outputs to try, e.g. ``pipewire,pulse,alsa,null`` (``null``: silent, for demos)."""


class Room(Strict):
    name: str | None = None
    thermostat: Device | None = None
    lights: tuple[Device, ...] = ()
    speaker: Speaker | None = Speaker()
    limits: Limits | None = None
    """This room's own limits; the top-level ``limits`` otherwise."""

    def devices(self) -> tuple[Device, ...]:
        return ((self.thermostat,) if self.thermostat else ()) + self.lights

    @model_validator(mode="after")
    def _unique_devices(self) -> Room:
        seen: set[tuple[str, str]] = set()
        for dev in self.devices():
            key = (dev.bridge, dev.id)
            if key in seen:
                raise PydanticCustomError("value_error", f"device {dev.id!r} ({dev.bridge}) is listed twice")
            seen.add(key)
        return self


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ambience"


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AMBIENCE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    mqtt: MqttConfig = MqttConfig()
    presets: list[Path] = Field(default_factory=lambda: [Path(BUILTIN)])
    music: list[Path] = Field(default_factory=lambda: [Path("music")])
    state_dir: Path = Field(default_factory=_default_state_dir)
    limits: Limits = Limits()
    reconcile: ReconcileConfig = ReconcileConfig()
    http: HttpConfig = HttpConfig()
    bookings: BookingsConfig = BookingsConfig()
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()
    """Home Assistant MQTT discovery (docs/homeassistant.md)."""
    rooms: dict[Annotated[str, Field(pattern=ROOM_ID)], Room] = {}

    @field_validator("rooms")
    @classmethod
    def _one_room_per_device(cls, rooms: dict[str, Room]) -> dict[str, Room]:
        """Two rooms driving one device would fight over it, and each restore the other's state."""
        found: dict[tuple[str, str], list[str]] = {}
        for room_id, room in rooms.items():
            for dev in room.devices():
                found.setdefault((dev.bridge, dev.id), []).append(room_id)
        shared = [
            f"device {device!r} ({bridge}) is in rooms {', '.join(map(repr, ids[:-1]))} and {ids[-1]!r}"
            for (bridge, device), ids in found.items()
            if len(ids) > 1
        ]
        if shared:
            raise PydanticCustomError("value_error", "; ".join(shared) + "; a device belongs to one room only")
        return rooms

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file, which is handed in as init values.
        return (env_settings, init_settings)

    def room_limits(self, room_id: str) -> Limits:
        room = self.rooms[room_id]
        return room.limits or self.limits

    def preset_folders(self) -> list[Path]:
        return [shipped_presets() if str(p) == BUILTIN else p for p in self.presets]


def _resolve(path: Path, base: Path) -> Path:
    if str(path) == BUILTIN:
        return path
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("AMBIENCE_CONFIG")
    if env:
        return Path(env)
    local = Path("ambience.yaml")
    return local if local.is_file() else None


def parse_config(text: str | None, source: str, base: Path) -> Config:
    """Validate config text (None: defaults only) plus environment overrides. Raises ConfigError."""
    data: Any = {}
    if text is not None:
        data, issues = load_yaml(text, source)
        if issues:
            raise ConfigError(issues)
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError([Issue(source, "", "the config is a mapping of keys (mqtt, rooms, ...)")])
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(issues_from(exc, Config, source)) from None
    updates: dict[str, Any] = {
        "presets": [_resolve(p, base) for p in config.presets],
        "music": [_resolve(p, base) for p in config.music],
        "state_dir": _resolve(config.state_dir, base),
    }
    mqtt = config.mqtt
    mqtt_paths = {
        k: _resolve(getattr(mqtt, k), base)
        for k in ("password_file", "ca_file", "cert_file", "key_file")
        if getattr(mqtt, k) is not None
    }
    if mqtt_paths:
        updates["mqtt"] = mqtt.model_copy(update=mqtt_paths)
    if config.bookings.calendars:
        feeds = [f.resolved(base) for f in config.bookings.calendars]
        updates["bookings"] = config.bookings.model_copy(update={"calendars": feeds})
    issues = check_feeds(config.bookings.calendars, config.rooms, None, source)
    for key, path in mqtt_paths.items():
        if not path.is_file():
            issues.append(Issue(source, f"mqtt.{key}", f"{str(path)!r} does not exist or is not a file"))
    if issues:
        raise ConfigError(issues)
    return config.model_copy(update=updates)


def load_config(path: str | os.PathLike[str] | None = None) -> tuple[Config, Path | None]:
    """Load the config file (see :func:`find_config_file`); returns the config and the file used."""
    file = find_config_file(path)
    if file is None:
        return parse_config(None, "defaults", Path.cwd()), None
    text, issues = read_text(file, MAX_BYTES, "config file")
    if text is None:
        raise ConfigError(issues)
    return parse_config(text, str(file), file.resolve().parent), file


__all__ = ["Config", "Room", "Limits", "MqttConfig", "Device", "BRIDGES", "load_config", "parse_config"]
