"""The config's sections other than rooms: broker, HTTP, reconciling, bookings, history, Home Assistant."""

from __future__ import annotations

from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ambience.config.calendars import CalendarsConfig
from ambience.model._base import ROOM_ID, Strict
from ambience.units import Lead, Seconds, SessionLength


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


class TlsConfig(Strict):
    """``http.tls``: ``generate`` (written as that word), or a certificate you have as ``{cert, key}``."""

    cert: Path | None = None
    """A PEM certificate, followed by any intermediate ones (relative to the config's folder)."""
    key: Path | None = None
    """Its PEM private key, unencrypted."""
    generate: bool = False
    """Make a self-signed certificate into ``<state_dir>/tls/`` (what ``tls: generate`` means)."""

    @model_validator(mode="after")
    def _one_way(self) -> TlsConfig:
        if self.generate and (self.cert or self.key):
            raise PydanticCustomError("value_error", "either generate or cert and key, not both")
        if not self.generate and (self.cert is None or self.key is None):
            missing = "key" if self.cert else "cert"
            raise PydanticCustomError(
                "value_error", f"{missing} is missing; write {{cert: FILE, key: FILE}}, or tls: generate"
            )
        return self


def _tls(value: Any) -> Any:
    if value == "generate":
        return {"generate": True}
    if value is not None and not isinstance(value, dict | TlsConfig):
        raise PydanticCustomError(
            "value_error",
            f"{value!r} is not allowed; write 'generate' (a self-signed certificate in the state directory), "
            "{cert: FILE, key: FILE}, or null for plain HTTP",
        )
    return value


class HttpConfig(Strict):
    host: str = "127.0.0.1"
    """Where the daemon listens: 127.0.0.1 (this machine only), or 0.0.0.0 so a phone on the LAN reaches it."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8765
    token: SecretStr | None = None
    """The API token; default: generated at first start into ``<state_dir>/token`` (mode 0600)."""
    tls: Annotated[TlsConfig | None, BeforeValidator(_tls)] = None
    """Serve HTTPS: ``generate`` (a self-signed certificate kept in ``<state_dir>/tls/``) or a
    ``{cert, key}`` you have; ``null``: plain HTTP (docs/phone.md)."""
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
    duration: SessionLength | None = None
    lead: Lead | None = None
    client: str | None = None

    def at_time(self) -> dt_time:
        hour, minute = self.at.split(":")
        return dt_time(int(hour), int(minute))


def _store_url(value: Any) -> Any:
    """A SQLAlchemy URL of a database ambience can keep its store in: SQLite or PostgreSQL (psycopg 3)."""
    if value is None or not isinstance(value, str):
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    allowed = "sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
    try:
        url = make_url(value)
    except ArgumentError:
        raise PydanticCustomError(
            "value_error", "{value} is not a database URL; use {allowed}", {"value": repr(value), "allowed": allowed}
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and driver not in ("psycopg", "psycopg_async"):
        raise PydanticCustomError(
            "value_error",
            "{value} names the {driver} driver; ambience talks to PostgreSQL with psycopg 3: postgresql+psycopg://…",
            {"value": repr(url.render_as_string(hide_password=True)), "driver": driver},
        )
    if backend not in ("sqlite", "postgresql"):
        raise PydanticCustomError(
            "value_error",
            "{value} is a {backend} database; the store can be {allowed}",
            {"value": repr(url.render_as_string(hide_password=True)), "backend": backend, "allowed": allowed},
        )
    return value


StoreUrl = Annotated[str | None, BeforeValidator(_store_url)]
"""Where the store is (docs/store.md): ``sqlite:///FILE`` or ``postgresql+psycopg://…``."""


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
    lead: Lead = 900.0
    """Pre-heat before a booking: only the climate runs from ``start − lead``."""
    on_busy: Literal["wait", "replace"] = "wait"
    """A manual session still running when a booking is due: wait for it to end, or replace it."""
    horizon_days: Annotated[int, Field(ge=1, le=366)] = 14
    """How far ahead weekly templates are expanded into bookings."""
    recurring: list[RecurringBooking] = []
    store_url: StoreUrl = None
    """A SQLAlchemy URL for the booking store alone (default: the top-level ``store_url``, else SQLite
    ``<state_dir>/bookings.db``)."""
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


class HistoryConfig(Strict):
    """How long the history of sessions is kept (docs/privacy.md)."""

    keep_days: Annotated[int, Field(ge=1, le=36600)] = 365
    """Sessions that ended longer ago than this are forgotten: at start-up and once a day."""


class ReconcileConfig(Strict):
    """How hard to insist on a device that does not confirm a command."""

    ack_timeout: Seconds = 1.0
    """Wait this long for a matching report after a command (plus its transition); doubled per try."""
    max_tries: Annotated[int, Field(ge=1, le=20)] = 4
    """After this many tries without a matching report a device is *unconfirmed*."""
    slow_retry: Seconds = 30.0
    """Seconds between tries once a device is unconfirmed."""
    thermostat_ack_timeout: Seconds = 300.0
    """Thermostats and battery devices: wait this long for a report after a command, doubled per try.
    A sleepy valve reports when it next wakes; its report confirms whenever it comes."""
    thermostat_max_tries: Annotated[int, Field(ge=1, le=10)] = 3
    """Thermostats and battery devices: writes of one change at most (each one wakes the valve's motor);
    after them it is *unconfirmed* until it reports, and not written again."""


TOPIC = r"^[^#+/][^#+]*[^#+/]$|^[^#+/]$"
"""A topic to publish on: no wildcards, no leading or trailing slash."""


class HomeAssistantConfig(Strict):
    """``homeassistant:`` in ambience.yaml (docs/homeassistant.md)."""

    discovery: bool = True
    """Announce the rooms to Home Assistant; ``false`` also removes what was announced before."""
    prefix: Annotated[str, Field(pattern=TOPIC)] = "homeassistant"
    """Home Assistant's discovery prefix (MQTT integration → options)."""
    birth_topic: Annotated[str, Field(pattern=TOPIC)] = "homeassistant/status"
    """Where Home Assistant says ``online`` after it (re)starts. Its default does not follow the prefix."""
    extend_by: SessionLength = 600.0
    """What the *Extend* button adds."""


class HomeAssistantApiConfig(Strict):
    """``homeassistant_api:`` in ambience.yaml: the Home Assistant whose own entities (any light, climate,
    switch…) rooms use with ``bridge: homeassistant_api``, over its websocket API (docs/homeassistant.md).
    Not the ``homeassistant:`` section, which is about MQTT discovery of the rooms."""

    url: str
    """Home Assistant's address as a browser opens it (``http://homeassistant.local:8123``); the websocket
    is ``/api/websocket`` there (``ws://`` or ``wss://`` URLs are taken as they are)."""
    token: SecretStr | None = None
    """A long-lived access token (HA: your profile → Security → Long-lived access tokens); or ``token_file``,
    or the environment's ``AMBIENCE_HOMEASSISTANT_API__TOKEN``."""
    token_file: Path | None = None
    """A file holding the token (relative to the config's folder)."""
    ca_file: Path | None = None
    """For ``https``: the CA certificate that signed Home Assistant's own (a self-signed one); left out,
    the system's CAs."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise PydanticCustomError(
                "value_error",
                f"{value!r} is not Home Assistant's address; write http://HOST:8123 (or https://, ws://, wss://)",
            )
        try:
            _ = parts.port
        except ValueError:
            raise PydanticCustomError("value_error", f"{value!r} has a bad port; allowed 1–65535") from None
        return value

    @model_validator(mode="after")
    def _a_token(self) -> HomeAssistantApiConfig:
        if self.token is None and self.token_file is None:
            raise PydanticCustomError(
                "value_error",
                "no token; write token: <a long-lived access token> or token_file: FILE (HA: your profile → "
                "Security → Long-lived access tokens → Create token)",
            )
        return self

    @property
    def websocket_url(self) -> str:
        """``ws(s)://host:port/api/websocket`` from :attr:`url`."""
        parts = urlsplit(self.url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/")
        if not path.endswith("/api/websocket"):
            path += "/api/websocket"
        return f"{scheme}://{parts.netloc}{path}"

    def secret(self) -> str:
        """The token: ``token`` (or AMBIENCE_HOMEASSISTANT_API__TOKEN), else the first line of ``token_file``.
        Raises OSError when the file cannot be read."""
        if self.token is not None:
            return self.token.get_secret_value().strip()
        assert self.token_file is not None
        return self.token_file.read_text(encoding="utf-8").strip()
