"""Home Assistant MQTT devices: a light in HA's *JSON schema* and an MQTT *climate*.

Light (``light.mqtt`` with ``schema: json``)
    command_topic       ``{"state":"ON","brightness":0..brightness_scale,"color_temp":mired,"transition":s}``
                        or ``"color":{"r":..,"g":..,"b":..}`` instead of ``color_temp`` for a colour;
                        off is ``{"state":"OFF","transition":s}``.
    state_topic         the same keys (plus ``color_mode``); ``color`` may also be ``{h,s}`` or ``{x,y}``.
    With ``color_temp_kelvin: true`` (HA's option, homeassistant/components/mqtt/light/schema_json.py:
    ``CONF_COLOR_TEMP_KELVIN``, used for the command and the state alike) ``color_temp`` is in kelvin,
    within the kelvin range of ``mired_min``/``mired_max``.
    availability_topic  ``online`` / ``offline``.

Climate (``climate.mqtt``)
    temperature_command_topic  a plain number, rounded to ``temperature_step`` (``21.5``)
    mode_command_topic         ``heat`` / ``auto`` / ``off`` (optional: without it the mode is not sent)
    temperature_state_topic, mode_state_topic, current_temperature_topic: plain payloads
    (``21.5``, ``heat``); JSON numbers and strings are accepted too. A device that publishes a JSON
    object (``{"temperature": 21.5, "mode": "heat"}``, often on one topic for all three) is read with
    ``temperature_state_path``, ``mode_state_path``, ``current_temperature_path``: dotted paths as the generic
    device's ``values`` (what HA's ``temperature_state_template: "{{ value_json.temperature }}"`` picks,
    homeassistant/components/mqtt/climate.py). Other templates are not supported.

Switch (``switch.mqtt``)
    command_topic       ``payload_on`` / ``payload_off`` (default ``ON`` / ``OFF``)
    state_topic         ``state_on`` / ``state_off``, which default to ``payload_on`` / ``payload_off``
                        (homeassistant/components/mqtt/switch.py ``DEFAULT_PAYLOAD_ON``/``_OFF``,
                        ``_setup_from_config``: ``state_on if state_on else payload_on``), compared exactly, as
                        HA does; with ``state_path`` the value at that path of a JSON state; ``power_path`` W.
    An MQTT switch has no device-side timer: a heater on it relies on ambience.
Sensor (``sensor.mqtt``)
    state_topic         the temperature, plain, or at ``temperature_path`` (and ``humidity_path``) in a JSON
                        state; ``unit_of_measurement: °F`` is converted. ``None``/``unknown`` say nothing.

HA has no standard "report your state" request, so :meth:`HomeAssistantAdapter.query` is empty.

The module also holds the helpers the other adapters share: the JSON light schema (ESPHome
speaks it, and Zigbee2MQTT's state messages use the same keys), colour conversions and
tolerant payload parsing, every value checked through a :class:`~.base.Reading`. None of them
raises on a bad payload.
"""

from __future__ import annotations

from typing import Any

from ambience.config.devices import HomeAssistantDevice
from ambience.devices.base import (
    HUMIDITY,
    POWER,
    Dropped,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    json_payload,
    mired_to_kelvin,
    step_temperature,
)
from ambience.devices.codec import (
    MISSING,
    JsonLightState,
    PlainClimate,
    at_path,
    celsius,
    check_kind,
    clamp_transition,
    json_light_command,
    json_of,
    native_max,
    no_reading,
    online_payload,
    plain,
    wrong_kind,
)
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light, Switch

# ---- helpers shared by the adapters ---------------------------------------------------------


# ---- the adapter ----------------------------------------------------------------------------

DEFAULT_MAX_TRANSITION = 60.0
"""HA passes the transition on to whatever firmware is behind the entity; one minute is safe for most."""


class HomeAssistantAdapter:
    def __init__(self, device: HomeAssistantDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, 6553.0)
        self._state = JsonLightState(device.brightness_scale)
        self._climate = PlainClimate(
            device.temperature_state_topic,
            device.mode_state_topic,
            device.current_temperature_topic,
            {
                "target": device.temperature_state_path,
                "mode": device.mode_state_path,
                "current": device.current_temperature_path,
            },
        )
        if kind == "light" and not device.command_topic:
            raise DeviceError(
                f"homeassistant light {device.device!r} has no command_topic; "
                "write the light's JSON-schema command_topic (and state_topic)"
            )
        if kind == "switch" and not device.command_topic:
            raise DeviceError(
                f"homeassistant switch {device.device!r} has no command_topic; write the switch's command_topic "
                "(and state_topic, payload_on/payload_off if not ON/OFF)"
            )
        if kind == "sensor" and not device.state_topic:
            raise DeviceError(
                f"homeassistant sensor {device.device!r} has no state_topic; write it (and temperature_path for JSON)"
            )
        if kind == "climate" and not device.temperature_command_topic:
            raise DeviceError(
                f"homeassistant thermostat {device.device!r} has no temperature_command_topic; "
                "write it (and mode_command_topic, temperature_state_topic, mode_state_topic)"
            )

    def subscriptions(self) -> list[str]:
        d = self.device
        if self.kind != "climate":
            topics = [d.state_topic, d.availability_topic]
        else:
            topics = [d.temperature_state_topic, d.mode_state_topic, d.current_temperature_topic, d.availability_topic]
        return list(dict.fromkeys(t for t in topics if t))

    def switch(self, switch: Switch) -> list[Message]:
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        d = self.device
        assert d.command_topic is not None
        return [Message(d.command_topic, d.payload_on if switch.on else d.payload_off)]

    def auto_off_range(self) -> tuple[float, float] | None:
        return None  # an MQTT switch has no device-side timer: relies on ambience

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        d = self.device
        t = clamp_transition(transition, self.max_transition)
        data = json_light_command(light, t, scale=d.brightness_scale, mired_lo=d.mired_min, mired_hi=d.mired_max)
        if d.color_temp_kelvin and "color_temp" in data:
            data["color_temp"] = round(mired_to_kelvin(data["color_temp"]))
        assert d.command_topic is not None
        return [Message(d.command_topic, json_payload(data))]

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        d = self.device
        out: list[Message] = []
        target = None if climate.target is None else step_temperature(climate.target, d.temperature_step)
        if target is not None and d.temperature_command_topic:
            out.append(Message(d.temperature_command_topic, str(target)))
        if climate.mode and d.mode_command_topic:
            out.append(Message(d.mode_command_topic, climate.mode))
        return out

    def query(self) -> list[Message]:
        return []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        d = self.device
        if d.availability_topic and topic == d.availability_topic:
            return online_payload(payload)
        if self.kind == "light":
            return self._state.decode(payload) if d.state_topic and topic == d.state_topic else []
        if self.kind in ("switch", "sensor"):
            return self._switch_or_sensor(payload) if topic == d.state_topic else []
        return self._climate.decode(topic, payload)

    def _switch_or_sensor(self, payload: bytes) -> list[Report | Dropped]:
        d = self.device
        reading = Reading()
        data = json_of(payload)

        def get(path: str | None) -> tuple[str, Any]:
            if path is None:
                return "state", plain(payload)
            value = at_path(data, path) if data is not None else MISSING
            return f"state at {path}", None if value is MISSING else value

        if self.kind == "switch":
            field, value = get(d.state_path)
            words = {d.state_on or d.payload_on: True, d.state_off or d.payload_off: False}
            on = None if no_reading(value) else words.get(str(value).strip())  # a template renders True as "True"
            if on is None and not no_reading(value):
                reading.drop(field, value, f"the switch's state is {' or '.join(words)}")
            power = reading.number(*get(d.power_path), POWER) if d.power_path else None
            return reading.out(None if on is None else SwitchReport(on, power))
        temperature = celsius(reading, *get(d.temperature_path), d.unit_of_measurement)
        humidity = None
        if d.humidity_path:
            field, value = get(d.humidity_path)
            humidity = None if no_reading(value) else reading.number(field, value, HUMIDITY)
        if temperature is None and humidity is None:
            return reading.out()
        return reading.out(SensorReport(temperature, humidity))
