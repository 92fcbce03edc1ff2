"""The daemon's config (``ambience.yaml``): broker, limits, folders and the rooms with their devices.

Found at ``--config FILE``, else ``$AMBIENCE_CONFIG``, else ``./ambience.yaml`` if present;
without a file the defaults apply. A file named by ``--config`` or ``$AMBIENCE_CONFIG`` must exist
(``config file /x.yaml does not exist``); only the implicit ``./ambience.yaml`` is optional. Any value can be overridden from the environment:
``AMBIENCE_MQTT__URL``, ``AMBIENCE_MQTT__PASSWORD``, ``AMBIENCE_STATE_DIR`` …
Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ambience.config.calendars import check_feeds
from ambience.config.devices import Room
from ambience.config.library import shipped_presets
from ambience.config.sections import (
    BookingsConfig,
    HistoryConfig,
    HomeAssistantApiConfig,
    HomeAssistantConfig,
    HttpConfig,
    MqttConfig,
    ReconcileConfig,
    StoreUrl,
)
from ambience.errors import ConfigError, Issue
from ambience.model._base import ROOM_ID
from ambience.model.limits import Limits
from ambience.model.parse import issues_from, load_yaml, read_text
from ambience.units import twelve_hour

MAX_BYTES = 256 * 1024
"""The largest config file read; one for 50 rooms of 10 lights each is 52 KiB (docs/daemon.md)."""
BUILTIN = "builtin"
"""Written in ``presets:``, stands for the preset library shipped with ambience."""


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
    store_url: StoreUrl = None
    """Where sessions, history, clients, phones and bookings are kept (docs/store.md): a SQLAlchemy URL,
    ``sqlite:///FILE`` or ``postgresql+psycopg://USER:PASSWORD@HOST/DATABASE``; left out, SQLite files
    in ``state_dir``."""
    limits: Limits = Limits()
    reconcile: ReconcileConfig = ReconcileConfig()
    http: HttpConfig = HttpConfig()
    bookings: BookingsConfig = BookingsConfig()
    history: HistoryConfig = HistoryConfig()
    """How long past sessions are kept (docs/privacy.md)."""
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()
    """Home Assistant MQTT discovery (docs/homeassistant.md)."""
    homeassistant_api: HomeAssistantApiConfig | None = None
    """The Home Assistant whose own entities ``bridge: homeassistant_api`` devices are (docs/homeassistant.md)."""
    units: Literal["metric", "imperial"] = "metric"
    """How temperatures are shown to people: ``metric`` (°C) or ``imperial`` (°F). Values are held in °C;
    a temperature may be written ``24``, ``24C`` or ``75F`` whatever this says (docs/units.md)."""
    clock: Literal["auto", "12h", "24h"] = "auto"
    """How the daemon and the CLI write a time of day: ``12h`` (``7:00 pm``), ``24h`` (``19:00``), or ``auto``:
    the locale's way (``LANG``/``LC_TIME``; with none, 12-hour for ``units: imperial``). The phone page
    follows the phone's own locale (docs/units.md)."""
    rooms: dict[Annotated[str, Field(pattern=ROOM_ID)], Room] = {}

    @field_validator("rooms")
    @classmethod
    def _one_room_per_device(cls, rooms: dict[str, Room]) -> dict[str, Room]:
        """Two rooms driving one device would fight over it, and each restore the other's state."""
        found: dict[tuple[str, str], list[str]] = {}
        for room_id, room in rooms.items():
            for dev, _, _ in room.devices():
                found.setdefault((dev.bridge, dev.id), []).append(room_id)
        shared = [
            f"device {device!r} ({bridge}) is in rooms {', '.join(map(repr, ids[:-1]))} and {ids[-1]!r}"
            for (bridge, device), ids in found.items()
            if len(ids) > 1
        ]
        if shared:
            raise PydanticCustomError("value_error", "; ".join(shared) + "; a device belongs to one room only")
        return rooms

    def twelve_hour(self) -> bool:
        """Times are written with am/pm (:func:`ambience.units.twelve_hour`)."""
        return twelve_hour(self.clock, self.units, dict(os.environ))

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

    def store_where(self) -> str | Path:
        """The store's URL, or its SQLite file (``<state_dir>/ambience.db``) when ``store_url`` is left out."""
        return self.store_url or self.state_dir / "ambience.db"

    def bookings_store_url(self) -> str:
        """The booking job store: ``bookings.store_url``, else the store's own database, else ``bookings.db``."""
        return self.bookings.store_url or self.store_url or f"sqlite:///{self.state_dir}/bookings.db"

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
    tls = config.http.tls
    tls_paths = {k: _resolve(getattr(tls, k), base) for k in ("cert", "key") if tls and getattr(tls, k)}
    if tls is not None and tls_paths:
        updates["http"] = config.http.model_copy(update={"tls": tls.model_copy(update=tls_paths)})
    if config.bookings.calendars:
        feeds = [f.resolved(base) for f in config.bookings.calendars]
        updates["bookings"] = config.bookings.model_copy(update={"calendars": feeds})
    issues = check_feeds(config.bookings.calendars, config.rooms, None, source)
    hass_paths, more = _homeassistant_api(config, base, source)
    issues += more
    if hass_paths and config.homeassistant_api is not None:
        updates["homeassistant_api"] = config.homeassistant_api.model_copy(update=hass_paths)
    for key, path in mqtt_paths.items():
        if not path.is_file():
            issues.append(Issue(source, f"mqtt.{key}", f"{str(path)!r} does not exist or is not a file"))
    for key, path in tls_paths.items():
        if not path.is_file():
            issues.append(Issue(source, f"http.tls.{key}", f"{str(path)!r} does not exist or is not a file"))
    if issues:
        raise ConfigError(issues)
    return config.model_copy(update=updates)


def _homeassistant_api(config: Config, base: Path, source: str) -> tuple[dict[str, Path], list[Issue]]:
    """The ``homeassistant_api`` section's files, resolved, and what is wrong with them; a room with a
    ``bridge: homeassistant_api`` device needs the section."""
    hass = config.homeassistant_api
    if hass is None:
        issues = [
            Issue(
                source,
                f"rooms.{room_id}",
                f"device {dev.id!r} has bridge: homeassistant_api but there is no top-level homeassistant_api "
                "section; write homeassistant_api: {url: http://HOST:8123, token_file: FILE}",
            )
            for room_id, room in config.rooms.items()
            for dev, _, _ in room.devices()
            if dev.bridge == "homeassistant_api"
        ]
        return {}, issues[:1]
    paths = {k: _resolve(getattr(hass, k), base) for k in ("token_file", "ca_file") if getattr(hass, k) is not None}
    issues = [
        Issue(source, f"homeassistant_api.{key}", f"{str(path)!r} does not exist or is not a file")
        for key, path in paths.items()
        if not path.is_file() and not (key == "token_file" and hass.token is not None)
    ]
    return paths, issues


def load_config(path: str | os.PathLike[str] | None = None) -> tuple[Config, Path | None]:
    """Load the config file (see :func:`find_config_file`); returns the config and the file used."""
    file = find_config_file(path)
    if file is None:
        return parse_config(None, "defaults", Path.cwd()), None
    if not file.exists():  # named by --config or $AMBIENCE_CONFIG: the defaults in its place would be a surprise
        how = "named by --config" if path else "named by $AMBIENCE_CONFIG"
        raise ConfigError([Issue(f"config file {file} does not exist ({how})", "", "")])
    text, issues = read_text(file, MAX_BYTES, "config file")
    if text is None:
        raise ConfigError(issues)
    return parse_config(text, str(file), file.resolve().parent), file


__all__ = ["Config", "find_config_file", "load_config", "parse_config"]
