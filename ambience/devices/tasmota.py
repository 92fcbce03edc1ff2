"""Tasmota lights (PWM, CT, RGB, RGBCW bulbs and dimmers) and relays (plugs). Tasmota has no thermostat here.

Topics come from the device's ``full_topic`` (default ``%prefix%/%topic%/``, ``%topic%`` being the
``device`` field, ``%prefix%`` one of ``cmnd``/``stat``/``tele``).

Commands: one ``cmnd/<topic>/Backlog``, e.g. ``Speed2 40; Dimmer 30; Speed2 40; CT 370``
    ``Speed2 N``   a one-shot fade for the *next* light change only: N half-seconds for a 0→100 %
                   change, 1..40 (``0``: no fade). It arms a fade by itself, so the stored ``Fade``
                   setting is left alone; and as it is used up by the first change, it is given again
                   before the second. The persistent ``Fade``/``Speed`` are never touched.
    ``Dimmer D``   0..100, first: with ``SetOption20 0`` (the default) it also switches the light on,
                   at the new level rather than the old one.
    ``CT M``       153..500 mired; or ``Color2 #rrggbb`` for a colour (``Color2`` keeps the Dimmer,
                   where ``Color`` would set the brightness from the colour).
    Off is ``Speed2 N; Power OFF`` (Tasmota fades out too).
    A light on relay n > 1 (a module with a relay and a light) is switched off with ``Power<n> OFF``.
    A relay-only device (a plug: ``relay`` configured, or Tasmota's discovery says it has no light) knows
    no light command (``Xdrv04`` decodes them only ``if (TasmotaGlobal.light_type)``): it gets
    ``cmnd/<topic>/Power<n>`` ``ON``/``OFF`` and nothing else, and confirms on/off only.
    With ``SetOption37 128`` (colour and white split, discovery ``lk`` 0 on RGBW/RGBCW) the white half is
    ``Dimmer2`` and the colour half ``Dimmer1`` (``CmndDimmer``).
Query: ``cmnd/<topic>/State`` with an empty payload; the answer comes on ``stat/<topic>/RESULT``
(or ``stat/<topic>/STATE`` with ``SetOption4 1``).
State: ``stat/<topic>/RESULT`` and ``tele/<topic>/STATE`` (JSON with ``POWER``/``POWER<n>``, ``Dimmer`` or
``Dimmer1``/``Dimmer2``, ``CT``, ``Color``, built by ``ResponseLightState`` in xdrv_04_light.ino);
``stat/<topic>/POWER<n>`` (``ON``/``OFF``, and with ``SetOption4 1`` the JSON too); with ``SetOption4 1``
a command's answer goes to ``stat/<topic>/<COMMAND>`` instead of ``RESULT`` (``MqttPublishPayloadPrefixTopic_P``:
``stat/<topic>/DIMMER``, ``…/CT``, ``…/COLOR``; ``CommandHandler`` strips the index); availability
``tele/<topic>/LWT`` (``Online``/``Offline``).

Only what the device says is reported, never ambience's own command: a command forgets what the device
said about the values it changes, so ``{"POWER":"ON"}`` alone after ``Dimmer 30`` confirms nothing
until a message carrying ``Dimmer`` comes. A report is made once the power (and, for a light that is on,
its dimmer) has been said.

A switch (``kind="switch"``: a table warmer, towel cabinet or heater on a plug or relay module) is
``cmnd/<topic>/Power<n>`` ``ON``/``OFF``, ``n`` the device's ``relay`` (1 unless configured; ``Power`` for 1).
Its device-side auto-off timer is Tasmota's ``PulseTime``, read from arendst/Tasmota (tasmota/tasmota_support/
support_command.ino @00012c7, support_tasmota.ino @0385204; functions cited by name):
    units   ``SetPulseTimer`` (support_tasmota.ino): ``time > 111 ? millis() + 1000 * (time - 100)
            : time > 0 ? millis() + 100 * time : 0``: 1..111 are tenths of a second (0.1–11.1 s), 112 and
            above are ``value − 100`` seconds, 0 is no timer. ``CmndPulsetime`` (support_command.ino) takes
            0..65535; the documented top is 64900 (64800 s, 18 h), the one ambience keeps to.
    arming  ``CmndPulsetime`` stores ``Settings->pulse_timer[n-1]`` (a setting: it survives a restart, and
            is written to flash only when it changed, ``SettingsSave``: "Save parameters to Flash ONLY if any
            parameter has changed") *and* calls ``SetPulseTimer``, so it also (re)starts the running timer.
    re-arm  ``ExecuteCommandPower`` (support_tasmota.ino) ends every ``Power`` command with "Restart PulseTime if
            powered On": ``SetPulseTimer(device-1, power & mask ? Settings->pulse_timer[device-1] : 0)``.
            ``Power ON`` on a relay that is already on restarts the timer; ``Power OFF`` stops it (the setting
            stays).
    run-out ``Every100mSeconds`` (support_tasmota.ino): ``if (TimeReached(pulse_timer[i])) …
            ExecuteCommandPower(i+1, POWER_OFF, SRC_PULSETIMER)``: the relay goes off and, as any power change,
            is published (``MqttPublishPowerState``: ``stat/<t>/RESULT`` ``{"POWER":"OFF"}`` and
            ``stat/<t>/POWER`` ``OFF``). With ``PowerOnState 5`` the timer switches *on* instead: not for ambience.
So *on* with ``auto_off`` is ``Backlog PulseTime<n> <v>; Power<n> ON``: the timer is set before the relay
closes (a Backlog cut short leaves the relay off, never on without a timer), and the same Backlog sent again
re-arms it (the unchanged setting costs no flash write). *Off* is ``Backlog Power<n> OFF; PulseTime<n> 0``
when ambience arms this device's timer (``auto_off``, or a heat-class role): the setting would otherwise
stay, and a warmer switched on later at its own button would be cut after ``auto_off`` with nobody
knowing why; a therapist expects a plug's button to keep working as it did before ambience. If ambience
dies mid-session the setting is still there, and the relay goes off within ``auto_off``. An ``auto_off``
outside 0.1 s–18 h is clamped (:meth:`TasmotaAdapter.will_send` says so). A switch ambience arms no timer
for gets ``Power<n> ON``/``OFF`` only: a PulseTime the clinic set on the device itself is left alone.
A switch reports ``POWER<n>`` (``stat/<t>/POWER<n>``, ``RESULT``, ``tele/<t>/STATE``); an energy-monitoring
plug also ``tele/<t>/SENSOR`` ``{"ENERGY": {"Power": W}}`` (an array, one per channel, on multi-channel
meters) each TelePeriod: the power is kept and sent with the on/off the device last said, never alone.

A sensor (``kind="sensor"``) is read from ``tele/<t>/SENSOR`` (each TelePeriod) and the answer to
``Status 10`` (``stat/<t>/STATUS10`` ``{"StatusSNS": {…}}``): the first sensor object with a
``Temperature`` (``{"DS18B20": {"Temperature": 21.3}, "TempUnit": "C"}``, ``AM2301``, ``SHT3X``, ``BME280``,
``SI7021``, ``DHT11``…), its ``Humidity`` if it has one; ``"TempUnit": "F"`` (``SetOption8 1``) is converted.

Capabilities: Tasmota's retained discovery ``tasmota/discovery/<mac>/config`` (``TasDiscoverMessage`` in
xdrv_12_discovery.ino): ``t`` the topic, ``rl`` one entry per relay (1 relay, 2 light, 3 shutter),
``lt_st`` the light subtype (0 none, 1 single channel, 2 cold/warm, 3 RGB, 4 RGBW, 5 RGBCW: ``LightSubtypes``),
``lk`` whether colour and white are linked, ``md`` the module, ``bat`` battery. :func:`tasmota_capabilities`
reads it; a configured ``relay`` wins over it.

Fade timing: unless ``SetOption117 1`` is set, Tasmota fades at a fixed *rate*: a fade lasts
``N × 0.5 s × distance``, the distance being the largest channel change (0..1). N is chosen from
the transition and the distance from the last known state (a full 0→100 % change if nothing is
known yet, so a fade is never slower than asked). The slowest rate is 0→100 % in 20 s, hence
``max_transition`` 20 s; a small change asked to take long still ends sooner (20 s × distance).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ambience.config.devices import TasmotaDevice
from ambience.devices.base import (
    HUMIDITY,
    PERCENT,
    POWER,
    TEMPERATURE,
    Bounds,
    Dropped,
    LightReport,
    Message,
    Reading,
    Report,
    SensorReport,
    SwitchReport,
    hex_to_rgb,
    kelvin_to_mired,
    mired_to_kelvin,
    number,
    pct_to_scale,
)
from ambience.devices.capabilities import UNKNOWN, Capabilities, Learner
from ambience.devices.codec import (
    check_kind,
    clamp_transition,
    json_of,
    native_max,
    normalized_hex,
    online_payload,
    text,
    wrong_kind,
)
from ambience.errors import DeviceError
from ambience.model.state import ClimateState, Light, Switch

MAX_SPEED = 40
"""``Speed2`` 40: 20 s for a 0→100 % fade."""
HARD_MAX_TRANSITION = MAX_SPEED / 2
CT_MIN, CT_MAX = 153, 500
CT = Bounds("Tasmota's CT", CT_MIN, CT_MAX, " mired")
GAMMA_INV = 1 / 2.2
DISCOVERY_TOPIC = "tasmota/discovery/+/config"
"""Where Tasmota announces itself, retained (``TasDiscovery``: ``tasmota/discovery/%s/config``, the MAC)."""
MAX_POWER_TOPICS = 8
"""``stat/<topic>/POWER1`` … ``POWER8`` are listened to (an ESP8266 has at most 8 relays)."""
RL_RELAY, RL_LIGHT = 1, 2
LST_COLDWARM, LST_RGB, LST_RGBW, LST_RGBCW = 2, 3, 4, 5
PULSE_TENTHS_MAX = 111
"""``PulseTime`` 1..111: tenths of a second; 112 and above: ``value − 100`` seconds (``SetPulseTimer``)."""
PULSE_MAX = 64900
"""The documented top of ``PulseTime`` (``CmndPulsetime`` itself takes up to 65535)."""
AUTO_OFF_RANGE = (0.1, float(PULSE_MAX - 100))
CHIP_SENSORS = frozenset({"ESP32"})
"""An ESP32 build adds the chip's own temperature (``"ESP32":{"Temperature":53.3}``, the example in
``GetSensorValues``, support_tasmota.ino): never the room's."""
_TOKEN = re.compile(r"%[a-z]+%")
_HEX = re.compile(r"^#?(?:[0-9a-fA-F]{2})+$")


def _channels(color: str) -> list[int] | None:
    """Tasmota's ``Color``: hex ``FF9A40[WW..]`` or decimal ``255,154,64[,..]``."""
    color = color.strip()
    if "," in color:
        try:
            values = [int(part) for part in color.split(",")]
        except ValueError:
            return None
        return values if values and all(0 <= v <= 255 for v in values) else None
    if _HEX.match(color):
        raw = color.lstrip("#")
        return [int(raw[i : i + 2], 16) for i in range(0, len(raw), 2)]
    return None


def _output(light: Light, ct_default: float) -> list[float]:
    """Roughly the channel levels (0..1: R, G, B, cold, warm) Tasmota drives for ``light``."""
    level = max(0.0, min(1.0, light.brightness / 100)) if light.on else 0.0
    if light.color:
        r, g, b = hex_to_rgb(light.color)
        top = max(r, g, b) or 1
        return [level * r / top, level * g / top, level * b / top, 0.0, 0.0]
    warm = _warmth(light.color_temp) if light.color_temp else ct_default
    # Tasmota gamma-corrects the white level, then splits it between the cold and warm channels; the
    # fade distance is measured after undoing the gamma per channel, so each share counts as share^(1/2.2).
    return [0.0, 0.0, 0.0, level * (1 - warm) ** GAMMA_INV, level * warm**GAMMA_INV]


def _warmth(kelvin: float) -> float:
    return (kelvin_to_mired(kelvin, CT_MIN, CT_MAX) - CT_MIN) / (CT_MAX - CT_MIN)


def distance(before: Light | None, after: Light) -> float:
    """The largest channel change (0..1) from ``before`` to ``after``; 1 when ``before`` is unknown."""
    if before is None:
        return 1.0
    warm = _warmth(after.color_temp) if after.color_temp else _warmth(before.color_temp) if before.color_temp else 0.0
    a, b = _output(before, warm), _output(after, warm)
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def speed(transition: float, change: float) -> int:
    """``Speed2`` for a fade of ``change`` (0..1) over ``transition`` seconds; 0 is no fade."""
    if transition <= 0:
        return 0
    return max(1, min(MAX_SPEED, round(2 * transition / max(change, 0.01))))


def pulse_time(seconds: float) -> int:
    """The ``PulseTime`` value for an auto-off of ``seconds``, clamped to :data:`AUTO_OFF_RANGE`; never longer
    than asked but for a tenth's rounding (from 12 s on, whole seconds, rounded down)."""
    lo, hi = AUTO_OFF_RANGE
    s = min(max(seconds, lo), hi) if seconds == seconds else lo
    if s < 12:
        return max(1, min(PULSE_TENTHS_MAX, round(s * 10)))
    return int(s) + 100


def pulse_seconds(value: int) -> float:
    """What a ``PulseTime`` value lasts (``SetPulseTimer``); 0 is no timer."""
    if value > PULSE_TENTHS_MAX:
        return float(value - 100)
    return value / 10 if value > 0 else 0.0


def tasmota_capabilities(config: dict[str, Any]) -> Capabilities:
    """What a Tasmota device can do, from its discovery config (``tasmota/discovery/<mac>/config``)."""
    rl = config.get("rl")
    relays = [v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in rl] if isinstance(rl, list) else []
    subtype = config.get("lt_st")
    subtype = subtype if isinstance(subtype, int) and not isinstance(subtype, bool) and 0 <= subtype <= 5 else None
    model = config.get("md") if isinstance(config.get("md"), str) else None
    battery = bool(config["bat"]) if isinstance(config.get("bat"), int) else None
    base = Capabilities(source="tasmota discovery", model=model, vendor="Tasmota", battery=battery)
    lights = [i + 1 for i, kind in enumerate(relays) if kind == RL_LIGHT]
    plain = [i + 1 for i, kind in enumerate(relays) if kind == RL_RELAY]
    if subtype:
        return replace(
            base,
            kind="light",
            brightness=True,
            color_temp=(CT_MIN, CT_MAX) if subtype in (LST_COLDWARM, LST_RGBCW) else None,
            color=subtype >= LST_RGB,
            output=lights[0] if lights else None,
            split_white=subtype >= LST_RGBW and config.get("lk") == 0,
        )
    if subtype == 0 and plain:
        return replace(base, kind="switch", brightness=False, color=False, output=plain[0] if len(plain) == 1 else None)
    return base


class TasmotaAdapter(Learner):
    announcement_topics = [DISCOVERY_TOPIC]

    def __init__(self, device: TasmotaDevice, kind: str):
        self.device = device
        self.kind = check_kind(kind)
        if kind == "climate":
            raise DeviceError(
                f"tasmota device {device.device!r} cannot be a thermostat here: ambience drives Tasmota lights and "
                "relays; for Tasmota's thermostat driver or a TuyaMCU thermostat use a generic device"
            )
        full = device.full_topic.strip()
        unknown = sorted(set(_TOKEN.findall(full)) - {"%prefix%", "%topic%"})
        if unknown or "%prefix%" not in full:
            raise DeviceError(
                f"tasmota device {device.device!r}: full_topic {device.full_topic!r} must contain %prefix% and "
                f"may contain %topic%{'; write ' + ', '.join(unknown) + ' out literally' if unknown else ''}"
            )
        self._full = (full if full.endswith("/") else full + "/").replace("%topic%", device.device)
        self.max_transition = native_max(device.max_transition, HARD_MAX_TRANSITION, HARD_MAX_TRANSITION)
        self.configured = (
            Capabilities(kind="switch", brightness=False, output=device.relay) if device.relay is not None else UNKNOWN
        )
        """What the configuration says; it wins over what Tasmota announces."""
        self.capabilities = self.configured
        # What the device said (never what ambience asked): None is "not said since the last command".
        self._power: bool | None = None
        self._dimmer: float | None = None
        self._ct: float | None = None
        self._color: str | None = None
        self._mode: str | None = None  # 'color' or 'white'
        self._want_color = False
        self._estimate: Light | None = None
        """The light as far as anyone knows (reports, then commands): only for the fade distance."""
        json_topics = ["RESULT", "STATE", "DIMMER", "CT", "COLOR"]
        self._json_topics = {self.topic("stat", t) for t in json_topics} | {self.topic("tele", "STATE")}
        self._power_topics = {self.topic("stat", "POWER")} | {
            self.topic("stat", f"POWER{n}") for n in range(1, MAX_POWER_TOPICS + 1)
        }
        self._lwt = self.topic("tele", "LWT")
        self._sensor_topics = {self.topic("tele", "SENSOR"), self.topic("stat", "STATUS10")}
        self._watts: float | None = None
        """The power an energy-monitoring plug last measured (``ENERGY.Power``), W."""

    def topic(self, prefix: str, command: str) -> str:
        return self._full.replace("%prefix%", prefix) + command

    def subscriptions(self) -> list[str]:
        if self.kind == "sensor":
            return sorted(self._sensor_topics) + [self._lwt]
        energy = [self.topic("tele", "SENSOR")] if self.kind == "switch" else []
        return sorted(self._json_topics) + sorted(self._power_topics) + energy + [self._lwt]

    # ---- capabilities ----------------------------------------------------------------------

    def decode_announcement(self, topic: str, payload: bytes) -> Capabilities | None:
        """This device's capabilities from a discovery config on :data:`DISCOVERY_TOPIC`; ``None`` if it
        is another device's (its ``t`` is not this device's topic) or not a discovery config."""
        parts = topic.split("/")
        if len(parts) != 4 or parts[:2] != ["tasmota", "discovery"] or parts[3] != "config":
            return None
        data = json_of(payload)
        if not isinstance(data, dict) or data.get("t") != self.device.device:
            return None
        return tasmota_capabilities(data)

    @property
    def relay_only(self) -> bool:
        return self.kind == "switch" or self.capabilities.kind == "switch" or self.capabilities.brightness is False

    @property
    def _output(self) -> int:
        return self.capabilities.output or 1

    @property
    def _split(self) -> bool:
        return bool(self.capabilities.split_white)

    def _power_command(self, n: int) -> str:
        return "Power" if n == 1 else f"Power{n}"

    # ---- commands --------------------------------------------------------------------------

    def switch(self, switch: Switch) -> list[Message]:
        """``Power<n> ON``/``OFF``; with ``auto_off``, ``Backlog PulseTime<n> <v>; Power<n> ON`` (sent again, it
        re-arms: ``ExecuteCommandPower`` restarts the pulse timer on every ``Power ON``); off also clears the
        ``PulseTime`` ambience set (see the module's docstring)."""
        if self.kind != "switch":
            raise wrong_kind(self, "switch")
        n = self._output
        power = self._power_command(n)
        self._power = None  # what the device said before this command confirms nothing
        if switch.on and switch.auto_off:
            return [Message(self.topic("cmnd", "Backlog"), f"PulseTime{n} {pulse_time(switch.auto_off)}; {power} ON")]
        if not switch.on and self.device.dead_man is not None:
            return [Message(self.topic("cmnd", "Backlog"), f"{power} OFF; PulseTime{n} 0")]
        return [Message(self.topic("cmnd", power), "ON" if switch.on else "OFF")]

    def auto_off_range(self) -> tuple[float, float] | None:
        """``PulseTime``: 0.1 s to 18 h (``SetPulseTimer``, ``CmndPulsetime``); a sensor or light has none."""
        return AUTO_OFF_RANGE if self.kind == "switch" else None

    def will_send(self) -> list[str]:
        lines = super().will_send()
        if self.kind != "switch":
            return lines
        n, wanted = self._output, self.device.dead_man
        if wanted is None:
            return [*lines, f"Power{n} ON/OFF; no PulseTime: a PulseTime set on the device itself is left alone"]
        value = pulse_time(wanted)
        lines.append(
            f"on: Backlog PulseTime{n} {value}; Power{n} ON (auto-off {pulse_seconds(value):g} s, re-armed by "
            f"sending it again); off: Backlog Power{n} OFF; PulseTime{n} 0"
        )
        lo, hi = AUTO_OFF_RANGE
        if not lo <= wanted <= hi:
            lines.append(
                f"auto_off {wanted:g} s is outside PulseTime's {lo:g}–{hi:g} s: clamped to {pulse_seconds(value):g} s"
            )
        return lines

    def light(self, light: Light, transition: float) -> list[Message]:
        if self.kind != "light":
            raise wrong_kind(self, "light")
        if self.relay_only:
            self._power = None
            return [Message(self.topic("cmnd", self._power_command(self._output)), "ON" if light.on else "OFF")]
        t = clamp_transition(transition, self.max_transition)
        n_out = self._output
        if not light.on:
            n = speed(t, distance(self._estimate, Light(0.0)))
            commands = [f"Speed2 {n}", f"{self._power_command(n_out)} OFF"]
            if self._split:
                commands += [f"Speed2 {n}", f"{self._power_command(n_out + 1)} OFF"]
            self._estimate = Light(0.0, self._estimate.color_temp if self._estimate else None)
            self._power = None
        else:
            dimmer = pct_to_scale(light.brightness, 100)
            target = Light(float(dimmer), light.color_temp, light.color)
            n = speed(t, distance(self._estimate, target))
            self._want_color = bool(light.color)
            which = ("1" if light.color else "2") if self._split else ""
            commands = [f"Speed2 {n}", f"Dimmer{which} {dimmer}"]
            if light.color:
                commands += [f"Speed2 {n}", f"Color2 {light.color.lower()}"]
                self._color = self._mode = None
            elif light.color_temp:
                mired = kelvin_to_mired(light.color_temp, CT_MIN, CT_MAX)
                commands += [f"Speed2 {n}", f"CT {mired}"]
                target = Light(float(dimmer), float(round(mired_to_kelvin(mired))))
                self._ct = self._mode = None
            self._estimate = target
            self._power = self._dimmer = None
        return [Message(self.topic("cmnd", "Backlog"), "; ".join(commands))]

    def climate(self, climate: ClimateState) -> list[Message]:
        raise wrong_kind(self, "climate")

    def query(self) -> list[Message]:
        if self.kind == "sensor":  # the answer: stat/<t>/STATUS10 {"StatusSNS": {...}} (CmndStatus, payload 10)
            return [Message(self.topic("cmnd", "Status"), "10")]
        return [Message(self.topic("cmnd", "State"), "")]

    # ---- reports ---------------------------------------------------------------------------

    def reported(self) -> Light | None:
        """What the device has said it shows (since the last command changed it); ``None``: not said."""
        if self._power is None:
            return None
        ct = self._ct if self._mode != "color" else None
        color = self._color if self._mode == "color" else None
        if not self._power:
            return Light(0.0, ct, color)
        if self.relay_only:
            return Light(100.0)  # a relay on is at full output; it has no dim level to say
        if self._dimmer is None:
            return None
        return Light(self._dimmer, ct, color)

    def decode(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        if topic == self._lwt:
            return online_payload(payload, "Online", "Offline")
        if self.kind == "sensor":
            return self._decode_sensor(topic, payload) if topic in self._sensor_topics else []
        if self.kind == "switch":
            return self._decode_switch(topic, payload)
        reading = Reading()
        said = self._read_state(topic, payload, reading)
        if said is None:
            return []
        if not said:
            return reading.out()
        light = self.reported()
        if light is not None:
            self._estimate = light
        return reading.out(None if light is None else LightReport(light))

    def _read_state(self, topic: str, payload: bytes, reading: Reading) -> bool | None:
        """Take a ``stat/<t>/POWER<n>``, ``RESULT`` or ``STATE`` message into the device's state: whether it
        said anything of it (its bad values noted in ``reading``); ``None`` for a topic that is not one."""
        if topic in self._power_topics:
            data = json_of(payload)
            if isinstance(data, dict):  # SetOption4 1: the JSON answer comes here too
                return self._merge(data, reading)
            key = topic.rsplit("/", 1)[1]
            if key not in self._power_keys():
                return None
            power = reading.switch(key, text(payload))
            if power is None:
                return False
            self._power = power
            return True
        if topic in self._json_topics:
            data = reading.json_object(payload)
            return data is not None and self._merge(data, reading)
        return None

    def _power_keys(self, n: int | None = None) -> tuple[str, ...]:
        """The keys (and ``stat`` topics) of relay ``n``'s power: ``POWER`` is relay 1 on a one-relay device."""
        n = self._output if n is None else n
        return ("POWER", "POWER1") if n == 1 else (f"POWER{n}",)

    def _merge(self, data: dict, reading: Reading) -> bool:
        """Take what a RESULT/STATE message says about the light; whether it said anything."""
        said = False
        split = not self.relay_only and ("Dimmer1" in data or "Dimmer2" in data or self._split)
        white = split and not self._want_color
        n = self._output + (1 if white else 0)
        key = next((k for k in self._power_keys(n) if k in data), None)
        if key is not None:
            power = reading.switch(key, data.get(key))
            if power is not None:
                self._power, said = power, True
        if self.relay_only:
            return said
        dimmer_key = ("Dimmer2" if white else "Dimmer1") if split else "Dimmer"
        dimmer = reading.number(dimmer_key, data.get(dimmer_key), PERCENT)
        if dimmer is not None:
            self._dimmer, said = dimmer, True
        ct = reading.number("CT", data.get("CT"), CT)
        if ct is not None:
            self._ct, said = float(round(mired_to_kelvin(ct))), True
            if split:
                self._mode = "white" if white else self._mode
        color = data.get("Color")
        channels = _channels(color) if isinstance(color, str) else None
        if color is not None and channels is None:
            reading.drop("Color", color, "Tasmota's Color is hex (FF9A40) or 0–255 channels (255,154,64)")
        if channels:
            rgb, white_channels = channels[:3], channels[3:]
            if split:
                self._mode = "white" if white else "color"
                if not white and len(rgb) == 3 and any(rgb):
                    self._color = normalized_hex(*rgb)
            elif len(rgb) == 3 and any(rgb) and not any(white_channels):
                self._mode, self._color = "color", normalized_hex(*rgb)
            else:
                self._mode = "white"
            said = True
        return said

    # ---- a switch and a sensor -------------------------------------------------------------

    def _decode_switch(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        reading = Reading()
        if topic == self.topic("tele", "SENSOR"):
            data = reading.json_object(payload)
            if data is None or not self._energy(data, reading) or self._power is None:
                return reading.out()  # a power alone: shown with the next on/off the device says
        else:
            said = self._read_state(topic, payload, reading)
            if said is None:
                return []
            if not said:  # e.g. the PulseTime answer {"PulseTime1":{"Set":220,"Remaining":220}}
                return reading.out()
        assert self._power is not None
        # off draws nothing; on, the last measured power (None: not a metering plug, or not measured yet)
        watts = self._watts if self._power else (0.0 if self._watts is not None else None)
        return reading.out(SwitchReport(self._power, watts))

    def _energy(self, data: dict, reading: Reading) -> bool:
        """``ENERGY.Power`` (``xnrg`` drivers: ``"Power": 12.5``, or one value per channel): whether it was said."""
        energy = data.get("ENERGY")
        if not isinstance(energy, dict) or "Power" not in energy:
            return False
        value = energy["Power"]
        if isinstance(value, list):
            i = self._output - 1
            value = value[i] if i < len(value) else None
        watts = reading.number("ENERGY.Power", value, POWER)
        if watts is None:
            return False
        self._watts = watts
        return True

    def _decode_sensor(self, topic: str, payload: bytes) -> list[Report | Dropped]:
        reading = Reading()
        data = reading.json_object(payload)
        if data is None:
            return reading.out()
        if topic.endswith("/STATUS10"):
            data = data.get("StatusSNS")
            if not isinstance(data, dict):
                return reading.out()
        fahrenheit = str(data.get("TempUnit", "C")).upper() == "F"
        temperature = humidity = None
        for name, value in data.items():
            if name in CHIP_SENSORS or not isinstance(value, dict) or "Temperature" not in value:
                continue
            raw = number(value["Temperature"])
            celsius = (raw - 32) * 5 / 9 if raw is not None and fahrenheit else raw
            unit = " (°F converted)" if fahrenheit else ""
            if celsius is None or celsius not in TEMPERATURE:
                reading.drop(f"{name}.Temperature", value["Temperature"], f"{TEMPERATURE}{unit}")
                continue
            temperature = round(celsius, 2)
            humidity = reading.number(f"{name}.Humidity", value.get("Humidity"), HUMIDITY)
            break
        if temperature is None:
            return reading.out()
        return reading.out(SensorReport(temperature, humidity))
