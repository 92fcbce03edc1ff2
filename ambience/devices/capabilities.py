"""What a device can do, as its bridge announces it. Pure: parsers take the bridge's own messages.

Every bridge tells what its devices are, in its own form:

- Zigbee2MQTT publishes ``<base>/bridge/devices`` (retained): each device's ``definition.exposes``,
  taken from zigbee-herdsman-converters: which setpoint key and its ``value_min``/``value_max``/
  ``value_step``, the ``system_mode`` and ``preset`` values, brightness and colour temperature
  presence and range, and (``access`` bit 4) whether a key can be read with ``/get``;
- Tasmota publishes ``tasmota/discovery/<mac>/config`` (retained) and answers ``Status``;
- Shelly answers ``Shelly.GetDeviceInfo`` and ``Shelly.GetConfig``;
- ESPHome publishes Home Assistant discovery configs (``homeassistant/<component>/<node>/<id>/config``).

A parser turns one of those into a :class:`Capabilities`. A field left ``None`` was not announced:
ambience then uses the device's configuration (and its defaults) as before. A configured value
always wins over an announced one (it is an override the installer chose), see :meth:`Capabilities.over`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

from ambience.model.state import ClimateState

CapabilityKind = Literal["light", "climate", "switch", "sensor"]


@dataclass(frozen=True)
class Capabilities:
    """One device's abilities. ``None``: not announced (unknown), not "cannot"."""

    source: str = "config"
    """Where this came from: ``'zigbee2mqtt bridge/devices'``, ``'tasmota discovery'``, ``'config'`` …"""
    model: str | None = None
    vendor: str | None = None
    description: str | None = None
    kind: CapabilityKind | None = None
    battery: bool | None = None
    """A battery device sleeps: its reports come late, it is written to rarely."""

    # a light
    brightness: bool | None = None
    color_temp: tuple[int, int] | None = None
    """The bulb's own colour temperature range in mired (warmest is the larger number)."""
    color: bool | None = None
    output: int | None = None
    """Which output of a multi-output device drives it, as the bridge numbers them: Tasmota's relay
    (``POWER<n>``, from 1), Shelly's component id (``switch:<n>``/``light:<n>``, from 0)."""
    split_white: bool | None = None
    """The colour and the white channels are two lights with their own power and dimmer (Tasmota
    ``SetOption37`` 128 on an RGBW/RGBCW light: ``POWER1``/``Dimmer1`` colour, ``POWER2``/``Dimmer2`` white)."""

    # a thermostat
    setpoint: str | None = None
    """The key (or topic) of the heating setpoint: ``occupied_heating_setpoint``, ``current_heating_setpoint`` …"""
    setpoint_range: tuple[float, float] | None = None
    """°C the setpoint can take."""
    setpoint_step: float | None = None
    modes: tuple[str, ...] | None = None
    """The device's own ``system_mode`` (or mode) values, as it spells them."""
    presets: tuple[str, ...] | None = None
    """The device's ``preset`` values (``manual``, ``schedule``, ``boost`` …)."""
    settings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Other mode-like settings that change how the setpoint is used, with their values:
    ``operating_mode`` (Bosch), ``programming_operation_mode`` (Danfoss), ``force`` (Tuya) …"""
    two_point: bool | None = None
    """The climate takes a low and a high setpoint (heat+cool), not one target."""
    readable: frozenset[str] | None = None
    """The keys a read request (Z2M ``/get``) answers; ``frozenset()``: none (Tuya valves)."""
    family: str | None = None
    """A device family whose words mean something else than they say, for the adapter's mapping:
    ``'tuya_ts0601'`` (``system_mode: heat`` holds the valve fully open), ``'eurotronic_spirit'``
    (``heat`` is boost). ``None``: the words mean what they say."""

    # a plug or relay
    timer: str | None = None
    """The key that arms the device's own auto-off timer with *on*: Zigbee2MQTT ``countdown`` (a Tuya or
    SONOFF plug's exposes), ``on_time`` (ZCL onWithTimedOff, set by the installer). ``None``: no timer known."""
    auto_off: tuple[float, float] | None = None
    """That timer's range, in seconds."""
    timer_unit: float | None = None
    """Seconds per unit of the timer's value (1; 60 for a countdown in minutes)."""
    power: bool | None = None
    """It measures the power it draws (W)."""

    # a sensor
    temperature_unit: str | None = None
    """``°C`` or ``°F``: the unit its temperature is reported in (ESPHome's ``unit_of_measurement``)."""
    humidity: bool | None = None
    """Its value is a relative humidity (%), not a temperature (an ESPHome sensor entity is one value)."""

    def over(self, configured: Capabilities) -> Capabilities:
        """These announced capabilities with every field the configuration sets taking precedence."""
        changes = {f.name: getattr(configured, f.name) for f in fields(self) if _set(getattr(configured, f.name))}
        changes.pop("source", None)
        return replace(self, **changes)

    def shown(self) -> dict[str, Any]:
        """What ``ambience rooms check`` and the room status show: the announced fields only."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if _set(value):
                out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


def _set(value: Any) -> bool:
    return value is not None and value != {}


UNKNOWN = Capabilities()
"""Nothing announced: everything from the configuration."""


@runtime_checkable
class Learns(Protocol):
    """An adapter that can be told what its device can do (its bridge's announcement).

    The reconciler hands it the announced :class:`Capabilities` when they arrive; from then on
    the adapter encodes within them (a mode the device has, a setpoint in its range and step, a
    colour temperature in its range) and says what it will not send.
    """

    capabilities: Capabilities
    """What the adapter works with now: the announcement with the configured values over it."""

    def learn(self, announced: Capabilities) -> None:
        """Take the bridge's announcement (the configured values the installer set still win)."""
        ...

    def expected(self, command: ClimateState) -> ClimateState:
        """What ``command`` becomes on this device (setpoint rounded and clamped, mode mapped or
        left out): what its report is compared with."""
        ...

    def refusals(self, command: ClimateState) -> list[str]:
        """One line per part of ``command`` this device cannot do (not sent; it blocks nothing)."""
        ...

    def will_send(self) -> list[str]:
        """What ambience will and will not send this device, one rule a line (``rooms check``)."""
        ...


@runtime_checkable
class Announces(Protocol):
    """An adapter whose device (or bridge) says what it can do on topics of its own: Tasmota's
    discovery config, ESPHome's Home Assistant discovery configs, a Shelly's ``GetConfig`` answer.
    (Zigbee2MQTT announces all of a bridge's devices in one ``bridge/devices``, which the manager reads.)"""

    announcement_topics: list[str]
    """Where the announcements come (MQTT wildcards allowed). Unless the adapter says
    ``announcement_retained = False`` (a Shelly is asked), the announcement is retained and the
    device's first query and resend after the start wait a moment for it."""

    def decode_announcement(self, topic: str, payload: bytes) -> Capabilities | None:
        """This device's capabilities from a message on one of :attr:`announcement_topics`;
        ``None`` for another device's message, or one that announces nothing."""
        ...


class Learner:
    """What a :class:`Learns` adapter does where its bridge has nothing to map: it sends what it is
    asked, refuses nothing and has no rules to show. Adapters override what they know better."""

    capabilities: Capabilities
    configured: Capabilities

    def learn(self, announced: Capabilities) -> None:
        self.capabilities = announced.over(self.configured)

    def expected(self, command: ClimateState) -> ClimateState:
        return command

    def refusals(self, command: ClimateState) -> list[str]:
        return []

    def will_send(self) -> list[str]:
        return []


__all__ = ["UNKNOWN", "Announces", "Capabilities", "CapabilityKind", "Learner", "Learns"]
