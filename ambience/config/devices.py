"""The rooms and their devices: one model per bridge convention."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ambience.model._base import RoleName, Strict
from ambience.model.limits import Limits
from ambience.model.state import DeviceKind
from ambience.units import Seconds


class DeviceBase(Strict):
    """What every bridge's device model has; a bridge's model adds the topics of its convention."""

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


class Zigbee2MqttDevice(DeviceBase):
    bridge: Literal["zigbee2mqtt"]
    base_topic: str = "zigbee2mqtt"
    setpoint: Literal["occupied_heating_setpoint", "current_heating_setpoint"] = "occupied_heating_setpoint"
    mired_min: Annotated[int, Field(ge=50, le=1000)] = 153
    mired_max: Annotated[int, Field(ge=50, le=1000)] = 500
    temperature_step: Annotated[float, Field(gt=0, le=5)] = 0.5


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
    component: Annotated[int, Field(ge=0, le=16)] = 0
    """The Light (or Switch) component's id: ``Light.Set`` with ``{"id": component}``."""

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
    """A template; fields: {state} {STATE} {on} {brightness} {brightness255} {color_temp} {mired} {target} {mode}."""
    state_topic: str | None = None
    values: dict[str, str] = {}
    """Where each reported value is in a JSON state message, as dotted paths: ``{brightness: light.dim}``."""
    brightness_scale: Annotated[int, Field(ge=1, le=65535)] = 100
    availability_topic: str | None = None
    payload_available: str = "online"
    payload_not_available: str = "offline"
    mode: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "heat"
    """What ``{mode}`` is when the preset asks no mode and the thermostat has not said its own: a template
    cannot leave a field out, so this is the thermostat's normal, regulating mode in its own word."""


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


class RoomDevice(NamedTuple):
    device: Device
    kind: DeviceKind
    role: str
    """The light's role (ceiling, lamp…); ``thermostat`` for the room's climate device."""


class Room(Strict):
    name: str | None = None
    thermostat: Device | None = None
    lights: tuple[Device, ...] = ()
    speaker: Speaker | None = Speaker()
    limits: Limits | None = None
    """This room's own limits; the top-level ``limits`` otherwise."""
    manual: Literal["hold", "reassert"] = "hold"
    """A device changed by hand (at the wall, in another app) mid-session: ``hold`` keeps the person's
    value until the session next changes that device (the next phase); ``reassert`` puts the session's
    value back at once."""

    def devices(self) -> tuple[RoomDevice, ...]:
        """Every device of the room, once, with its kind and role: the one list everything walks."""
        out = [RoomDevice(self.thermostat, "climate", "thermostat")] if self.thermostat else []
        return tuple(out + [RoomDevice(light, "light", light.role) for light in self.lights])

    @model_validator(mode="after")
    def _unique_devices(self) -> Room:
        seen: set[tuple[str, str]] = set()
        for dev, _, _ in self.devices():
            key = (dev.bridge, dev.id)
            if key in seen:
                raise PydanticCustomError("value_error", f"device {dev.id!r} ({dev.bridge}) is listed twice")
            seen.add(key)
        return self
