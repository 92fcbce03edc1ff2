"""One adapter per configured device, chosen by its ``bridge``."""

from __future__ import annotations

from ambience.config.devices import (
    BridgeDevice,
    EsphomeDevice,
    GenericDevice,
    HomeAssistantApiDevice,
    HomeAssistantDevice,
    ShellyDevice,
    TasmotaDevice,
    Zigbee2MqttDevice,
)
from ambience.devices.base import Adapter
from ambience.devices.codec import check_kind
from ambience.devices.esphome import EsphomeAdapter
from ambience.devices.generic import GenericAdapter
from ambience.devices.homeassistant import HomeAssistantAdapter
from ambience.devices.homeassistant_api import HomeAssistantApiAdapter
from ambience.devices.shelly import ShellyAdapter
from ambience.devices.tasmota import TasmotaAdapter
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter

ADAPTERS = {
    "zigbee2mqtt": Zigbee2MqttAdapter,
    "tasmota": TasmotaAdapter,
    "homeassistant": HomeAssistantAdapter,
    "homeassistant_api": HomeAssistantApiAdapter,
    "esphome": EsphomeAdapter,
    "shelly": ShellyAdapter,
    "generic": GenericAdapter,
}


def make_adapter(
    device: BridgeDevice,
    kind: str,
    client_id: str = "ambience",
) -> Adapter:
    """The adapter for ``device`` as a ``'light'`` or a ``'climate'``.

    ``client_id`` is ambience's MQTT client id; Shelly uses it as the RPC ``src`` (its replies come
    on ``<client_id>/rpc``). Raises :class:`~ambience.errors.DeviceError` for a device that cannot be
    that kind (a Tasmota or Shelly thermostat) or lacks a topic it needs.
    """
    check_kind(kind)
    if isinstance(device, ShellyDevice):
        return ShellyAdapter(device, kind, client_id)
    if isinstance(device, Zigbee2MqttDevice):
        return Zigbee2MqttAdapter(device, kind)
    if isinstance(device, TasmotaDevice):
        return TasmotaAdapter(device, kind)
    if isinstance(device, HomeAssistantDevice):
        return HomeAssistantAdapter(device, kind)
    if isinstance(device, HomeAssistantApiDevice):
        return HomeAssistantApiAdapter(device, kind)
    if isinstance(device, EsphomeDevice):
        return EsphomeAdapter(device, kind)
    if isinstance(device, GenericDevice):
        return GenericAdapter(device, kind)
    raise ValueError(f"no adapter for bridge {getattr(device, 'bridge', device)!r}; known: {', '.join(ADAPTERS)}")


__all__ = ["ADAPTERS", "make_adapter"]
