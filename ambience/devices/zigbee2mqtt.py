"""Zigbee2MQTT lights, groups and thermostats (TRVs).

Topics (``<base>`` is the device's ``base_topic``, ``<fn>`` its friendly name, the ``device`` field)
    ``<base>/<fn>/set``           commands, JSON
    ``<base>/<fn>/get``           read requests; the answer comes on the state topic
    ``<base>/<fn>``               state, always JSON and not retained by default
    ``<base>/<fn>/availability``  Z2M 2.x ``{"state":"online"}``, 1.x ``online`` (both are understood)
    ``<base>/bridge/devices``     every device and its definition (retained): read by :func:`z2m_bridge_devices`
    ``<base>/bridge/state``       Z2M itself, ``{"state":"online"|"offline"}`` (retained)

Light: ``{"state":"ON","brightness":0-254,"color_temp":<mired>,"transition":<s>}``, with
``"color":{"hex":"#rrggbb"}`` instead of ``color_temp`` when the light has a colour; off is
``{"state":"OFF","transition":<s>}``. ``transition`` is always sent (``0`` too), so a per-device
default ``transition`` option in Z2M does not stretch an instant change. Tenths of a second are
kept, as Z2M converts the value to ZCL tenths. ``color_temp`` is clamped to the bulb's own range
(announced, else configured) and left out of a fade when it is what the bulb last reported: Z2M
drops the brightness transition of a device with an IKEA member whenever ``color`` or ``color_temp``
is in the same message (zigbee-herdsman-converters ``src/lib/utils.ts`` ``getTransition``), so on
an IKEA device a fade that changes both is sent as two messages.

Thermostat: ``{"<setpoint>":21.5}``, the setpoint key being the device's (``occupied_heating_setpoint``
or ``current_heating_setpoint``), rounded to its step and clamped to its range. A mode is sent only
when the command has one, and only a mode the device has, as its family spells it
(:data:`FAMILIES`: a Tuya TS0601 in ``heat`` holds its valve fully open, so ``heat`` is sent as
``auto``). A valve that reports running its own schedule (:data:`SCHEDULE`) is put on manual with
the setpoint.

Switch (a plug or relay, ``kind: switch``): ``{"state":"ON"|"OFF"}``; the state message
``{"state":"ON","power":<W>,…}`` is a :class:`SwitchReport`. Its device-side auto-off timer, where it has one:

- a ``countdown`` expose (Tuya TS011F and other Tuya/SONOFF plugs, :func:`z2m_capabilities` reads its
  unit and ``value_min``/``value_max``): ``{"state":"ON","countdown":<n>}``. zhc ``lib/tuya.ts``
  ``tz.on_off_countdown`` (26.112.0 ``dist/lib/tuya.js:2641-2693``) sends genOnOff ``on`` first ("the order of the
  commands matters because 'on/off/toggle' cancels 'onWithTimedOff'"), then ``onWithTimedOff`` with
  ``ontime: countdown`` (whole seconds, Tuya's own use of the command, at most 43200), and publishes
  ``{"state":"ON","countdown":<n>}`` at once: every re-arm restarts the full time. When it runs out the plug
  toggles off and reports ``onOff`` (``fz.on_off``), so Z2M publishes ``"state":"OFF"``.
- ``on_time`` (``on_time: true`` in the device's config, for a plug whose firmware the installer knows to
  honour ZCL onWithTimedOff): ``{"state":"ON","on_time":<s>}``. zhc ``src/converters/toZigbee.ts``
  ``on_off`` (:28-59 @013e17f; ``dist/converters/toZigbee.js:50-82`` in 26.112.0) sends ``onWithTimedOff``
  with ``ontime: round(on_time * 10)`` (ZCL tenths) *instead of* ``on``, and returns no state: the plug's
  own ``onOff`` report confirms. The ZCL cluster sets OnTime to the larger of the one running and the new
  one (project-chip/connectedhomeip ``src/app/clusters/on-off-server/on-off-server.cpp``
  ``OnWithTimedOffCommand``), so the same command re-arms it; a device without the Lighting feature answers
  ``UNSUPPORTED_COMMAND`` (same function) and does not switch on at all, which is why it is not sent unasked.

Sensor (``kind: sensor``, an Aqara WSDCGQ11LM, a SONOFF SNZB-02): ``{"temperature":21.3,"humidity":40,
"battery":…}`` is a :class:`SensorReport`; nothing is sent, and nothing is asked (a sleeping battery
sensor does not answer a read; it reports when its reading changes).

``max_transition``: ZCL transition times are tenths of a second in a uint16, so 6553 s at most,
but many bulbs misbehave on very long fades (colour temperature especially); the default is 600 s
and longer fades are sent as steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ambience.config.devices import Zigbee2MqttDevice
from ambience.devices.base import (
    HUMIDITY,
    MIRED,
    POWER,
    SETPOINT,
    TEMPERATURE,
    Availability,
    ClimateReport,
    Dropped,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    json_payload,
    kelvin_to_mired,
    number,
    parse_json,
    step_temperature,
)
from ambience.devices.capabilities import Capabilities
from ambience.devices.codec import (
    JsonLightState,
    check_kind,
    clamp_transition,
    json_light_command,
    json_of,
    native_max,
    online_payload,
    seconds,
    wrong_kind,
)
from ambience.model.state import ClimateState, Light, Switch

DEFAULT_MAX_TRANSITION = 600.0
HARD_MAX_TRANSITION = 6553.0
BRIGHTNESS_MAX = 254
SETPOINT_KEYS = ("occupied_heating_setpoint", "current_heating_setpoint")
SOURCE = "zigbee2mqtt bridge/devices"

# ---- what bridge/devices says a device can do ---------------------------------------------------

ACCESS_GET = 0b100
"""zigbee-herdsman-converters ``src/lib/exposes.ts`` ``access.GET``: "the property can be retrieved
with a /get command" (``STATE`` 0b001: it is reported; ``SET`` 0b010: it can be set)."""
ACCESS_SET = 0b010
TIMER_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "min": 60.0, "m": 60.0, "minutes": 60.0}
"""The units zhc's ``countdown`` exposes are written in: ``s`` (``tuya.exposes.countdown``, ``lib/tuya.ts``;
SONOFF ``ewelinkExtend.countdown``), ``seconds`` (AVATTO), ``min``/``m`` (Tuya valves and some switches)."""
ON_TIME_RANGE = (1.0, 6553.0)
"""ZCL onWithTimedOff's OnTime: a uint16 of tenths of a second, at most 0xFFFE (zhc ``devices/ewelink.ts``
``ewelink_countdown``: "onTime is a uint16 capped at 0xFFFE")."""
SETTING_KEYS = ("operating_mode", "programming_operation_mode", "force", "trv_mode")
"""Mode-like enums beside ``system_mode`` that change how a valve uses its setpoint."""
MAINS = ("Mains (single phase)", "Mains (3 phase)", "DC Source", "Emergency mains constantly powered")
"""zigbee-herdsman's ``powerSource`` words (``Battery`` and ``Unknown`` are the others)."""
TS0601_HEAT = "continuously heating"
"""In the ``system_mode`` description of every legacy Tuya valve (``tuya.ts``): ``heat`` is no regulation."""


def _walk(exposes: Any) -> Iterator[dict]:
    """Every expose and every feature inside one, depth first."""
    if not isinstance(exposes, list):
        return
    for item in exposes:
        if isinstance(item, dict):
            yield item
            yield from _walk(item.get("features"))


def _words(values: Any) -> tuple[str, ...] | None:
    if not isinstance(values, list):
        return None
    return tuple(str(v) for v in values if isinstance(v, (str, int)) and not isinstance(v, bool))


def _range(feature: Mapping[str, Any]) -> tuple[float, float] | None:
    lo, hi = number(feature.get("value_min")), number(feature.get("value_max"))
    return None if lo is None or hi is None or lo > hi else (lo, hi)


def _countdown(every: list[dict]) -> dict[str, Any]:
    """The auto-off timer a ``countdown`` expose gives a plug: a settable number in seconds or minutes at the
    top level (``countdown_l1`` of a multi-gang switch belongs to an endpoint ambience does not switch)."""
    for e in every:
        access = e.get("access")
        if e.get("property") != "countdown" or e.get("type") != "numeric" or not isinstance(access, int):
            continue
        unit = TIMER_UNITS.get(str(e.get("unit") or "").strip().lower())
        span = _range(e)
        if access & ACCESS_SET and unit is not None and span is not None and span[1] >= 1:
            return {"timer": "countdown", "timer_unit": unit, "auto_off": (max(span[0], 1.0) * unit, span[1] * unit)}
    return {}


def z2m_capabilities(definition: Mapping[str, Any], power_source: str | None = None) -> Capabilities:
    """What a device can do, from its ``definition`` in ``bridge/devices`` (``exposes`` as
    zigbee-herdsman-converters resolves them) and its ``power_source``. Never raises: what is not
    there, or not in the form Z2M writes it, is left ``None`` (not announced)."""
    exposes = definition.get("exposes")
    top = [e for e in exposes if isinstance(e, dict)] if isinstance(exposes, list) else []
    light = next((e for e in top if e.get("type") == "light"), None)
    climate = next((e for e in top if e.get("type") == "climate"), None)
    switch = next(
        (
            e
            for e in top
            if e.get("type") == "switch" and any(f.get("property") == "state" for f in _walk(e.get("features")))
        ),
        None,
    )
    every = list(_walk(top))
    measures = any(e.get("property") == "temperature" and e.get("type") == "numeric" for e in every)
    kind = "light" if light else "climate" if climate else "switch" if switch else "sensor" if measures else None
    readable = frozenset(
        str(e["property"])
        for e in every
        if isinstance(e.get("property"), str) and isinstance(e.get("access"), int) and e["access"] & ACCESS_GET
    )
    caps: dict[str, Any] = {"kind": kind, "readable": readable if isinstance(exposes, list) else None}
    if kind == "switch":  # a plug: zhc toZigbee on_off is its only converter, no brightness, no colour
        caps.update(brightness=False, color=False, **_countdown(every))
        caps["power"] = any(e.get("property") == "power" and e.get("type") == "numeric" for e in every)
    if kind == "sensor":
        caps["temperature_unit"] = "°C"  # zhc reports temperature in °C (lib/exposes ``temperature()``)
    if light is not None:
        features = {f.get("name"): f for f in _walk(light.get("features"))}
        caps["brightness"] = "brightness" in features
        caps["color"] = "color_xy" in features or "color_hs" in features
        ct = _range(features["color_temp"]) if "color_temp" in features else None
        if ct is not None and ct[0] in MIRED and ct[1] in MIRED:
            caps["color_temp"] = (round(ct[0]), round(ct[1]))
    if climate is not None:
        features = {f.get("name"): f for f in _walk(climate.get("features"))}
        key = next((k for k in SETPOINT_KEYS if k in features), None)
        if key is not None:
            caps["setpoint"] = key
            span = _range(features[key])
            if span is not None and span[0] in SETPOINT and span[1] in SETPOINT:
                caps["setpoint_range"] = span
            step = number(features[key].get("value_step"))
            caps["setpoint_step"] = step if step is not None and 0 < step <= 5 else None
        if "system_mode" in features:
            caps["modes"] = _words(features["system_mode"].get("values"))
        if "preset" in features:
            caps["presets"] = _words(features["preset"].get("values"))
        caps["two_point"] = "occupied_cooling_setpoint" in features
        described = str(features.get("system_mode", {}).get("description") or "")
        model = definition.get("model")
        if model == "TS0601_thermostat" or TS0601_HEAT in described:
            caps["family"] = "tuya_ts0601"
        elif model == "SPZB0001":
            caps["family"] = "eurotronic_spirit"
    settings = {}
    for e in every:
        if e.get("type") == "enum" and e.get("name") in SETTING_KEYS and e.get("property") == e.get("name"):
            values = _words(e.get("values"))
            if values:
                settings[str(e["name"])] = values
    if power_source == "Battery":
        caps["battery"] = True
    elif power_source in MAINS:
        caps["battery"] = False
    elif any(e.get("property") in ("battery", "battery_low") for e in every):
        caps["battery"] = True
    for key in ("model", "vendor", "description"):
        if isinstance(definition.get(key), str):
            caps[key] = definition[key]
    return Capabilities(source=SOURCE, settings=settings, **caps)


def z2m_bridge_devices(payload: bytes) -> dict[str, Capabilities] | None:
    """Each device's capabilities from a ``<base>/bridge/devices`` message, by friendly name (and by
    IEEE address); devices without a definition (the coordinator, unsupported ones) are left out.
    ``None``: the message is not a list of devices (an empty payload clears the retained one)."""
    data = parse_json(payload)
    if not isinstance(data, list):
        return None
    out: dict[str, Capabilities] = {}
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("definition"), dict):
            continue
        power = entry.get("power_source")
        caps = z2m_capabilities(entry["definition"], power if isinstance(power, str) else None)
        for key in (entry.get("friendly_name"), entry.get("ieee_address")):
            if isinstance(key, str) and key:
                out.setdefault(key, caps)
    return out


def z2m_bridge_state(payload: bytes) -> bool | None:
    """``<base>/bridge/state``: ``{"state":"online"}`` (Z2M 1.18+) or plain ``online``; ``None``: neither."""
    return next((item.online for item in _availability(payload) if isinstance(item, Availability)), None)


def configured_capabilities(device: Zigbee2MqttDevice, announced: Capabilities | None = None) -> Capabilities:
    """The values the installer set in the configuration (pydantic ``model_fields_set``): they win
    over what the bridge announces. A colour temperature range set at one end keeps the other
    announced one."""
    given = device.model_fields_set
    ct = None
    if "mired_min" in given or "mired_max" in given:
        lo, hi = announced.color_temp if announced and announced.color_temp else (device.mired_min, device.mired_max)
        ct = (device.mired_min if "mired_min" in given else lo, device.mired_max if "mired_max" in given else hi)
    return Capabilities(
        source="config",
        setpoint=device.setpoint if "setpoint" in given else None,
        setpoint_step=device.temperature_step if "temperature_step" in given else None,
        color_temp=ct,
    )


# ---- what the words mean on a device ------------------------------------------------------------


@dataclass(frozen=True)
class ModeFamily:
    """How a device family spells ambience's modes, where its own words mean something else."""

    instead: dict[str, str]
    """ambience's mode -> the device's word for it."""
    why: str


FAMILIES = {
    "tuya_ts0601": ModeFamily({"heat": "auto"}, "TS0601 heat forces the valve open"),
    # zhc tuya.ts: "in the `heat` mode the TS0601 will remain continuously heating ... use mode `auto`";
    # legacy.ts writes heat as the "force open" datapoint.
    "eurotronic_spirit": ModeFamily({"heat": "auto"}, "Spirit heat is boost"),
    # zigbee2mqtt.io SPZB0001: "When set to `heat` the boost host flags will be set".
}

SCHEDULE: dict[str, tuple[tuple[str, ...], str]] = {
    "preset": (("schedule",), "manual"),  # Tuya TS0601 (tuya.ts withPreset)
    "operating_mode": (("schedule",), "manual"),  # Bosch BTH-RA (bosch.ts: schedule, manual, pause)
    "programming_operation_mode": (("schedule", "schedule_with_preheat"), "setpoint"),  # Danfoss Ally
}
"""A setting that makes a valve follow its own programme (which overrides ambience's setpoint at its
next step), with the value that makes it follow the setpoint instead."""

AMBIENCE_MODES = ("heat", "auto", "off")


@dataclass(frozen=True)
class Plan:
    """One thermostat command on this device: the payload, what the device should report, what is left out."""

    data: dict[str, Any]
    expected: ClimateState
    refused: tuple[str, ...]


class Zigbee2MqttAdapter:
    def __init__(self, device: Zigbee2MqttDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        self.max_transition = native_max(device.max_transition, DEFAULT_MAX_TRANSITION, HARD_MAX_TRANSITION)
        self.topic = f"{device.base_topic.rstrip('/')}/{device.device}"
        self.availability_topic = f"{self.topic}/availability"
        self._state = JsonLightState(BRIGHTNESS_MAX)
        self.capabilities = configured_capabilities(device)
        self._settings: dict[str, str] = {}
        """What the valve last said of its :data:`SCHEDULE` settings."""

    # ---- capabilities ------------------------------------------------------------------------

    def learn(self, announced: Capabilities) -> None:
        self.capabilities = announced.over(configured_capabilities(self.device, announced))

    @property
    def mired_range(self) -> tuple[int, int]:
        return self.capabilities.color_temp or (self.device.mired_min, self.device.mired_max)

    @property
    def setpoint_key(self) -> str:
        return self.capabilities.setpoint or self.device.setpoint

    @property
    def temperature_step(self) -> float:
        return self.capabilities.setpoint_step or self.device.temperature_step

    @property
    def ikea(self) -> bool:
        return self.capabilities.vendor == "IKEA"

    def _name(self) -> str:
        caps = self.capabilities
        return " ".join(x for x in (caps.vendor, caps.model) if x) or "this device"

    def _values(self, key: str) -> tuple[str, ...] | None:
        """The values of a setting (``preset`` …): ``()`` if the bridge announced a device without it,
        ``None`` if nothing was announced."""
        caps = self.capabilities
        values = caps.presets if key == "preset" else caps.settings.get(key)
        return () if values is None and caps.source != "config" else values

    def subscriptions(self) -> list[str]:
        return [self.topic, self.availability_topic]

    # ---- plugs -------------------------------------------------------------------------------

    @property
    def timer(self) -> tuple[str, float, tuple[float, float]] | None:
        """The key that arms the plug's auto-off timer, seconds per unit of it, and its range in seconds:
        an announced ``countdown`` first, else ``on_time`` when the installer says the firmware has it."""
        caps = self.capabilities
        if caps.timer == "countdown" and caps.auto_off is not None:
            return "countdown", caps.timer_unit or 1.0, caps.auto_off
        if self.device.on_time:
            return "on_time", 1.0, ON_TIME_RANGE
        return None

    def switch(self, switch: Switch) -> list[Message]:
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        data: dict[str, Any] = {"state": "ON" if switch.on else "OFF"}
        timer = self.timer
        if switch.on and switch.auto_off and timer is not None:
            key, unit, (lo, hi) = timer
            value = min(hi, max(lo, switch.auto_off))
            # countdown: an integer (tuya.ts throws otherwise), whole units rounded down: never longer than asked
            data[key] = max(math.ceil(lo / unit), math.floor(value / unit)) if key == "countdown" else seconds(value)
        return [Message(f"{self.topic}/set", json_payload(data))]

    def auto_off_range(self) -> tuple[float, float] | None:
        timer = self.timer
        return None if timer is None else timer[2]

    # ---- lights ------------------------------------------------------------------------------

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        if self.capabilities.kind == "switch":  # a plug takes state alone: any other key has no converter
            return [Message(f"{self.topic}/set", json_payload({"state": "ON" if light.on else "OFF"}))]
        t = clamp_transition(transition, self.max_transition)
        lo, hi = self.mired_range
        data = json_light_command(light, t, scale=BRIGHTNESS_MAX, mired_lo=lo, mired_hi=hi, color="hex")
        if t > 0 and "color_temp" in data and self._unchanged_color_temp(data["color_temp"]):
            del data["color_temp"]  # next to a fade it would cost the brightness transition on IKEA
        tone: dict[str, Any] = {}
        if self.ikea and t > 0:
            tone = {k: data.pop(k) for k in ("color_temp", "color") if k in data}
        if tone:
            tone["transition"] = data["transition"]
            return [Message(f"{self.topic}/set", json_payload(data)), Message(f"{self.topic}/set", json_payload(tone))]
        return [Message(f"{self.topic}/set", json_payload(data))]

    def _unchanged_color_temp(self, mired: int) -> bool:
        """The bulb last reported this colour temperature (a white light, not a colour)."""
        last = self._state.light
        if last is None or last.color or not last.color_temp:
            return False
        lo, hi = self.mired_range
        return abs(kelvin_to_mired(last.color_temp, lo, hi) - mired) <= 1

    # ---- thermostats -------------------------------------------------------------------------

    def climate(self, climate: ClimateState) -> list[Message]:
        if self.kind != "climate":
            raise wrong_kind(self, "climate")
        data = self.plan(climate).data
        return [Message(f"{self.topic}/set", json_payload(data))] if data else []

    def expected(self, command: ClimateState) -> ClimateState:
        return self.plan(command).expected

    def refusals(self, command: ClimateState) -> list[str]:
        return list(self.plan(command).refused)

    def plan(self, climate: ClimateState) -> Plan:
        caps = self.capabilities
        refused: list[str] = []
        target = None
        if climate.target is not None:
            value = climate.target
            if caps.setpoint_range is not None:
                value = min(caps.setpoint_range[1], max(caps.setpoint_range[0], value))
            target = step_temperature(value, self.temperature_step)
        mode, why = self._mode(climate.mode)
        if why:
            refused.append(why)
        before: dict[str, str] = {}  # settings that make the setpoint count go first
        after: dict[str, str] = {}
        if climate.settings:  # an after state putting back what was found
            for key, word in climate.settings:
                values = self._values(key)
                if key in SCHEDULE and (values is None or word in values):
                    after[key] = word
                else:
                    refused.append(f"{key} {word} not sent: {self._name()} has no such setting")
        elif target is not None:
            for key, (scheduled, manual) in SCHEDULE.items():
                values = self._values(key)
                if self._settings.get(key) in scheduled and values is not None and manual in values:
                    before[key] = manual
        data: dict[str, Any] = dict(before)
        if target is not None:
            data[self.setpoint_key] = target
        if mode is not None:
            data["system_mode"] = mode
        data |= after
        settings = tuple(sorted((before | after).items()))
        return Plan(data, ClimateState(target, mode, settings), tuple(refused))

    def _mode(self, asked: str | None) -> tuple[str | None, str | None]:
        """The device's word for mode ``asked``, or why it is not sent."""
        if asked is None:
            return None, None
        caps = self.capabilities
        family = FAMILIES.get(caps.family or "")
        word = family.instead.get(asked, asked) if family else asked
        if caps.modes is None or word in caps.modes:
            return word, None
        return None, f"mode {asked} not sent: {self._name()} has only {', '.join(caps.modes) or 'no mode'}"

    # ---- reading -----------------------------------------------------------------------------

    def query(self) -> list[Message]:
        caps = self.capabilities
        if self.kind == "sensor":
            return []  # a sleeping battery sensor does not answer a read: it reports when its reading changes
        if self.kind == "light":
            # ``state`` reads genOnOff only; ``brightness`` reads the level (Z2M uses each key's converter).
            keys = ["state", "brightness"]
        elif self.kind == "switch":
            keys = ["state"]  # on_off / on_off_countdown convertGet: genOnOff onOff
        else:
            keys = [self.setpoint_key, "system_mode", "local_temperature"]
            keys += [k for k in SCHEDULE if self._values(k)]
        if caps.readable is not None:  # no /get for what the device cannot be asked (Tuya valves: nothing)
            keys = [k for k in keys if k in caps.readable]
        return [Message(f"{self.topic}/get", json_payload(dict.fromkeys(keys, "")))] if keys else []

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self.availability_topic:
            return _availability(payload)
        if topic != self.topic:
            return []
        if self.kind == "light":
            return self._state.decode(payload)
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        if self.kind == "switch":
            on = reading.switch("state", data.get("state"))
            power = reading.number("power", data.get("power"), POWER)
            return reading.out(None if on is None else SwitchReport(on, power))
        if self.kind == "sensor":
            temperature = reading.number("temperature", data.get("temperature"), TEMPERATURE)
            humidity = reading.number("humidity", data.get("humidity"), HUMIDITY)
            if temperature is None and humidity is None:
                return reading.out()
            return reading.out(SensorReport(temperature, humidity))
        # the device's setpoint key, else the other one if the device says that instead
        keys = (self.setpoint_key,) + tuple(k for k in SETPOINT_KEYS if k != self.setpoint_key)
        target = next((v for v in (reading.number(k, data.get(k), SETPOINT) for k in keys) if v is not None), None)
        mode = reading.mode("system_mode", data.get("system_mode"))
        current = reading.number("local_temperature", data.get("local_temperature"), TEMPERATURE)
        settings = {}
        for key in SCHEDULE:
            value = reading.mode(key, data.get(key))
            if value is not None:
                settings[key] = self._settings[key] = value
        if target is None and mode is None and current is None and not settings:
            return reading.out()
        return reading.out(ClimateReport(target, mode, current, tuple(sorted(settings.items()))))

    # ---- what ambience will send ---------------------------------------------------------------

    def will_send(self) -> list[str]:
        caps = self.capabilities
        lines = []
        own = caps.source != "config"
        if self.kind == "switch":
            lines += self._switch_rules()
        elif self.kind == "sensor":
            lines.append("nothing: a sensor is only listened to (temperature, humidity)")
        elif self.kind == "light":
            lo, hi = self.mired_range
            lines.append(f"color_temp clamped to {lo}–{hi} mired" + (" (the bulb's own range)" if own else ""))
            lines.append("color_temp left out of a fade when the bulb already shows it")
            if self.ikea:
                lines.append("a fade of brightness and colour sent as two messages (IKEA drops the fade otherwise)")
        else:
            step = self.temperature_step
            span = caps.setpoint_range
            where = f", {span[0]:g}–{span[1]:g} °C" if span else ""
            lines.append(f"setpoint: {self.setpoint_key}{where} in steps of {step:g} °C")
            lines.append("mode: sent only when a preset asks for one")
            family = FAMILIES.get(caps.family or "")
            for asked in AMBIENCE_MODES:
                word, why = self._mode(asked)
                if why:
                    lines.append(why)
                elif family and word != asked:
                    lines.append(f"mode: sends {word} for {asked} ({family.why})")
            for key, (scheduled, manual) in SCHEDULE.items():
                values = self._values(key)
                if values is not None and manual in values and any(v in values for v in scheduled):
                    lines.append(f"{key}: {manual} for the session if it runs its schedule (put back after)")
        if caps.readable is not None and not caps.readable:
            lines.append("no /get: the device cannot be asked for its state, it reports when it does")
        return lines

    def _switch_rules(self) -> list[str]:
        lines = ['state: {"state":"ON"|"OFF"}']
        timer = self.timer
        if timer is None:
            where = "announced no countdown" if self.capabilities.source != "config" else "announced nothing yet"
            lines.append(
                f"no device-side auto-off: {self._name()} {where} (on_time: true if its firmware has onWithTimedOff)"
            )
            return lines
        key, unit, (lo, hi) = timer
        if key == "countdown":
            span = f"{lo / unit:g}–{hi / unit:g} {'min' if unit == 60 else 's'}"
            lines.append(
                f"auto-off: countdown ({span}) sent with every on; each one restarts it (Tuya on_off_countdown)"
            )
        else:
            lines.append(
                f"auto-off: on_time ({lo:g}–{hi:g} s, ZCL onWithTimedOff) sent with every on: asked by the "
                "configuration (on_time: true), not verified: a plug without the command refuses it and stays off"
            )
        return lines


def _availability(payload: bytes) -> list[Report | Dropped]:
    data = json_of(payload)
    if isinstance(data, dict):
        state = data.get("state")
        return online_payload(state) if isinstance(state, str) else []
    if isinstance(data, str):
        return online_payload(data)
    return online_payload(payload)


__all__ = [
    "FAMILIES",
    "SCHEDULE",
    "Zigbee2MqttAdapter",
    "configured_capabilities",
    "z2m_bridge_devices",
    "z2m_bridge_state",
    "z2m_capabilities",
]
