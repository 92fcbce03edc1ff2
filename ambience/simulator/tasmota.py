"""A Tasmota light: ``cmnd/<topic>/<Command>`` in, ``stat/<topic>/RESULT`` out.

Commands (case-insensitive): ``Power`` (ON/OFF/TOGGLE/1/0/2), ``Dimmer`` (0–100, ``+``, ``-``,
``!`` stops a fade), ``CT`` (153–500 mired), ``Color`` (``r,g,b`` / ``#RRGGBB``), ``HSBColor``,
``Fade``, ``Speed``, ``Speed2`` (one-shot), ``Backlog`` (``;``-separated), ``json`` and
``State``. An empty payload is a query. Like Tasmota, the RESULT carries the target at once;
with ``Fade 1`` the light itself moves at ``Speed`` × 0.5 s per 0–100 %. ``tele/<topic>/LWT``
is ``Online``/``Offline`` (retained); ``State`` also publishes ``tele/<topic>/STATE``.

As the firmware does (``tasmota_xdrv_driver/xdrv_04_light.ino``): ``Speed2 N`` (``CmndSpeed``,
index 2) arms a fade for the next change only, by itself, whatever ``Fade`` says (``Speed2 0``:
that change does not fade; ``Speed2 !`` cancels); the fade lasts ``N × 0.5 s`` times the largest
channel change measured after undoing the gamma (``LightApplyFade``, ``fadeGammaReverse`` with
``gamma_table_fast`` of ``xdrv_04_light_utils.ino``), the channels being split and gamma
corrected as ``calcGammaBulbs`` does.

A switch (``kind`` switch: a plug's relay, ``relay`` of the config, 1 by default) runs the firmware's
``PulseTime`` exactly as arendst/Tasmota (tasmota_support/support_command.ino @00012c7, support_tasmota.ino
@0385204) does: ``PulseTime<n> <v>`` stores the setting *and* starts the running timer (``CmndPulsetime``
→ ``SetPulseTimer``, whether the relay is on or off); every ``Power<n>`` command ends with
``SetPulseTimer(n-1, on ? setting : 0)`` (``ExecuteCommandPower``, "Restart PulseTime if powered On"):
``Power ON`` on an on relay restarts it, ``Power OFF`` stops it. 1..111 are tenths of a second, 112..
``value − 100`` seconds. When it runs out (``Every100mSeconds``: ``ExecuteCommandPower(i+1, POWER_OFF,
SRC_PULSETIMER)``) the relay goes off and the change is published as
any other (``MqttPublishPowerState``: ``stat/<t>/RESULT`` ``{"POWER":"OFF"}`` and ``stat/<t>/POWER``
``OFF``), also when the relay was off already. The key is ``POWER`` on a one-relay device, ``POWER<n>``
beyond (``GetPowerDevice``). Every TelePeriod (option ``teleperiod``, default 300 s, 10..3600 as
``CmndTeleperiod`` allows) it publishes ``tele/<t>/STATE`` and, with a meter (a ``load`` in the initial
spec, or the energy-plug profile), ``tele/<t>/SENSOR`` ``{"ENERGY": {…, "Power": W}}``.
A sensor (``kind`` sensor) publishes ``tele/<t>/SENSOR`` ``{"AM2301": {"Temperature", "Humidity",
"DewPoint"}, "TempUnit": "C"}`` (option ``sensor``: the driver's name; ``unit: F`` is ``SetOption8 1``)
each TelePeriod, and answers ``Status 10`` on ``stat/<t>/STATUS10`` ``{"StatusSNS": {…}}``.

Profiles: ``tasmota-ct-bulb`` (light subtype 2) and ``tasmota-plug`` (a relay, no light: every
light command is unknown, ``Xdrv04`` decodes them only ``if (TasmotaGlobal.light_type)``); both
publish ``tasmota/discovery/<mac>/config`` (retained) as ``xdrv_12_discovery.ino``
``TasDiscoverMessage`` builds it (option ``mac``, 12 hex digits); ``tasmota-energy-plug`` a plug with a
power meter (BL0937, ``load`` in W, 60 by default) and ``tasmota-th-sensor`` a Sonoff TH with an AM2301.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from ambience.config.devices import TasmotaDevice
from ambience.devices.base import hex_to_rgb, json_payload, kelvin_to_mired, mired_to_kelvin, parse_json
from ambience.simulator.base import LIGHT, SENSOR, SWITCH, Publish, VirtualDevice, parse_number
from ambience.simulator.colors import color_to_hex, hs_to_rgb, rgb_to_hs
from ambience.simulator.model import LightView

CT_MIN, CT_MAX = 153, 500
_WIFI = {"Wifi": {"AP": 1, "SSId": "ambience-sim", "RSSI": 100, "Signal": -40}}
ON_WORDS = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}
MAX_PULSETIMERS = 8
"""An ESP8266 build's pulse timers (``MAX_PULSETIMERS``)."""
TELE_PERIOD = 300.0
"""Tasmota's default TelePeriod (``TELE_PERIOD``), seconds."""
_INDEXED = re.compile(r"^(power|pulsetime)(\d*)$")


def pulse_seconds(value: int) -> float:
    """``SetPulseTimer``: ``time > 111 ? 1000 * (time - 100) : 100 * time`` ms; 0 is no timer."""
    return float(value - 100) if value > 111 else value / 10 if value > 0 else 0.0


def pulse_remaining(seconds: float) -> int:
    """``GetPulseTimer``: the time left in PulseTime's own units (``> 11100`` ms: ``ms / 1000 + 100``)."""
    ms = int(max(0.0, seconds) * 1000)
    return ms // 1000 + 100 if ms > 11100 else ms // 100


class TasmotaSim(VirtualDevice[TasmotaDevice]):
    bridge = "tasmota"
    kinds = (LIGHT, SWITCH, SENSOR)
    option_names = frozenset({"teleperiod", "unit", "sensor"})
    metered: ClassVar[bool] = False
    """Whether the device has a power meter (an energy plug): ``ENERGY`` in ``tele/<t>/SENSOR``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fade = False
        self.speed = 1
        self.speed2: int | None = None
        """The one-shot ``Speed2`` armed for the next change (0: that change does not fade)."""
        self.pulse = [0] * MAX_PULSETIMERS
        """``Settings->pulse_timer``: each relay's PulseTime setting."""
        self.idle_pulse_at: float | None = None
        """A pulse timer started by ``PulseTime`` while the relay was off: it runs out all the same."""
        period = parse_number(str(self.options.get("teleperiod", TELE_PERIOD)))
        self.teleperiod = TELE_PERIOD if period is None or period == 1 else max(10.0, min(3600.0, period))
        self.next_tele: float | None = None

    @property
    def relay(self) -> int:
        return self.config.relay or 1

    @property
    def has_meter(self) -> bool:
        return self.metered or bool(self.switch and self.switch.load > 0)

    def _topic(self, prefix: str, command: str = "") -> str:
        full = self.config.full_topic if self.config.full_topic.endswith("/") else self.config.full_topic + "/"
        for key in ("%topic%", "%hostname%", "%id%"):
            full = full.replace(key, self.name)
        return full.replace("%prefix%", prefix) + command

    def subscriptions(self) -> list[str]:
        return [self._topic("cmnd", "+")]

    def availability(self, online: bool) -> list[Publish]:
        return [Publish(self._topic("tele", "LWT"), "Online" if online else "Offline", retain=True)]

    def report(self, now: float) -> list[Publish]:
        out = [] if self.kind == SENSOR else [Publish(self._topic("tele", "STATE"), json_payload(self._state()))]
        sensor = self._sensor_data()
        if sensor:
            out.append(Publish(self._topic("tele", "SENSOR"), json_payload(sensor)))
        return out

    def timed(self, now: float) -> list[Publish]:
        """Every TelePeriod: ``tele/<t>/STATE`` and ``tele/<t>/SENSOR`` (``MqttShowState``, ``MqttShowSensor``)."""
        if self.kind == LIGHT:
            return []
        if self.next_tele is None:
            self.next_tele = now + self.teleperiod
        if now < self.next_tele:
            return []
        self.next_tele = now + self.teleperiod
        return self.report(now)

    # ---- a switch's relay and its PulseTime ---------------------------------------------------

    @property
    def power_key(self) -> str:
        """``GetPowerDevice``: ``POWER`` on a one-relay device (SetOption26 0), ``POWER<n>`` beyond."""
        return "POWER" if self.relay == 1 else f"POWER{self.relay}"

    def _power_state(self) -> list[Publish]:
        """``MqttPublishPowerState``: the JSON on ``stat/<t>/RESULT``, then the word on ``stat/<t>/POWER<n>``."""
        assert self.switch is not None
        word = "ON" if self.switch.on else "OFF"
        return self._result({self.power_key: word}) + [Publish(self._topic("stat", self.power_key), word)]

    def _relay_power(self, value: str, now: float) -> list[Publish]:
        """``ExecuteCommandPower``: switch, then restart the pulse timer if on, stop it if off."""
        assert self.switch is not None
        word = value.lower()
        on = (not self.switch.on) if word in ("toggle", "2") else ON_WORDS.get(word)
        if on is not None:
            setting = self.pulse[(self.relay - 1) % MAX_PULSETIMERS]
            self.switch.set(on, now, pulse_seconds(setting) if on and setting else None)
            self.idle_pulse_at = None
        return self._power_state()

    def _pulsetime(self, index: int, value: str, now: float) -> list[Publish]:
        """``CmndPulsetime``: the setting (0..65535) and, at once, ``SetPulseTimer`` with it."""
        assert self.switch is not None
        given = parse_number(value) if value else None
        if given is not None and 0 <= given < 65536:
            self.pulse[index - 1] = int(given)
            if index == self.relay:
                left = pulse_seconds(int(given))
                if self.switch.on:
                    self.switch.off_at = now + left if left else None
                else:  # the timer runs on an off relay too; when it ends, OFF is published again
                    self.idle_pulse_at = now + left if left else None
        left = 0.0
        if index == self.relay:
            ends = self.switch.off_at if self.switch.on else self.idle_pulse_at
            left = ends - now if ends is not None else 0.0
        return self._result({f"PulseTime{index}": {"Set": self.pulse[index - 1], "Remaining": pulse_remaining(left)}})

    def switch_changed(self, now: float) -> list[Publish]:
        return self._power_state()  # Every100mSeconds: ExecuteCommandPower(…, POWER_OFF, SRC_PULSETIMER)

    @property
    def deadline(self) -> float | None:
        times = [t for t in (super().deadline, self.idle_pulse_at) if t is not None]
        return min(times) if times else None

    def update(self, now: float, step: bool) -> list[Publish]:
        out = super().update(now, step)
        if self.idle_pulse_at is not None and now >= self.idle_pulse_at:
            self.idle_pulse_at = None
            if self.answering:
                out += self._power_state()
        return out

    def _sensor_data(self) -> dict[str, Any]:
        """``tele/<t>/SENSOR``: the sensor driver's object, or the energy meter's."""
        stamp = {"Time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if self.sensor is not None:
            fahrenheit = str(self.options.get("unit", "C")).upper() == "F"
            t = self.sensor.temperature
            reading = round(t * 9 / 5 + 32, 1) if fahrenheit else round(t, 1)
            self.sensor.reported = t
            name = str(self.options.get("sensor", "AM2301"))
            dew = round(t - (100 - self.sensor.humidity) / 5, 1)  # the usual approximation; only shown
            values = {"Temperature": reading, "Humidity": round(self.sensor.humidity, 1), "DewPoint": dew}
            return {**stamp, name: values, "TempUnit": "F" if fahrenheit else "C"}
        if self.switch is not None and self.has_meter:
            watts = self.switch.power
            energy = {
                "TotalStartTime": "2024-01-01T00:00:00", "Total": 0.0, "Yesterday": 0.0, "Today": 0.0,
                "Period": 0, "Power": round(watts), "ApparentPower": round(watts), "ReactivePower": 0,
                "Factor": 1.0 if watts else 0.0, "Voltage": 230, "Current": round(watts / 230, 3),
            }  # fmt: skip
            return {**stamp, "ENERGY": energy}
        return {}

    # ---- incoming --------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        command = topic[len(self._topic("cmnd")) :]
        value = payload.decode("utf-8", errors="replace").strip()
        if self._is_query(command, value) or self.accept():
            return self._run(command, value, now)
        return []

    @staticmethod
    def _is_query(command: str, value: str) -> bool:
        name = command.lower()
        return name in ("state", "status") or (value == "" and name not in ("backlog", "backlog0"))

    def _run(self, command: str, value: str, now: float) -> list[Publish]:
        name = command.lower()
        if name in ("backlog", "backlog0"):
            out: list[Publish] = []
            for part in value.split(";"):
                cmd, _, arg = part.strip().partition(" ")
                if cmd:
                    out += self._run(cmd, arg.strip(), now)
            return out
        if name == "json":
            data = parse_json(value.encode())
            if not isinstance(data, Mapping):
                return self._result({"Command": "Error"})
            return [p for key, arg in data.items() for p in self._run(str(key), str(arg), now)]
        if name == "status" and value.strip() in ("8", "10"):  # CmndStatus: the sensors (8: the energy too)
            return [
                Publish(self._topic("stat", f"STATUS{value.strip()}"), json_payload({"StatusSNS": self._sensor_data()}))
            ]
        if name in ("state", "status"):
            state = json_payload(self._state())
            return [Publish(self._topic("stat", "RESULT"), state), Publish(self._topic("tele", "STATE"), state)]
        indexed = _INDEXED.match(name)
        if self.switch is not None and indexed:
            index = int(indexed.group(2) or 1)
            if not 1 <= index <= max(self.relay, 1 if indexed.group(1) == "power" else MAX_PULSETIMERS):
                return self._result({"Command": "Unknown"})
            if indexed.group(1) == "pulsetime":
                return self._pulsetime(index, value, now)
            return self._relay_power(value, now) if index == self.relay else self._result({f"POWER{index}": "OFF"})
        if self.kind != LIGHT:
            return self._result({"Command": "Unknown"})
        handler = {
            "power": self._power,
            "power1": self._power,
            "dimmer": self._dimmer,
            "ct": self._ct,
            "color": self._color,
            "color1": self._color,
            "color2": self._color,
            "hsbcolor": self._hsbcolor,
            "fade": self._fade,
            "speed": self._speed,
            "speed2": self._speed,
        }.get(name)
        if handler is None:
            return self._result({"Command": "Unknown"})
        return handler(name, value, now)

    def _power(self, name: str, value: str, now: float) -> list[Publish]:
        assert self.light is not None
        word = value.lower()
        if word in ("toggle", "2"):
            self._change(now, on=not self.light.target().on)
        elif word in ON_WORDS:
            self._change(now, on=ON_WORDS[word])
        power = self._power_word()
        return self._result({"POWER": power}) + [Publish(self._topic("stat", "POWER"), power)]

    def _dimmer(self, name: str, value: str, now: float) -> list[Publish]:
        assert self.light is not None
        current = self.light.target().level
        if value == "!":
            self.light.stop(now)
        elif value in ("+", "-"):
            self._change(now, level=max(1.0, min(100.0, current + (10 if value == "+" else -10))))
        elif (level := parse_number(value)) is not None:
            self._change(now, level=max(0.0, min(100.0, level)))
        return self._result(self._light_result())

    def _ct(self, name: str, value: str, now: float) -> list[Publish]:
        mired = parse_number(value)
        if mired is not None:
            self._change(now, color_temp=mired_to_kelvin(max(CT_MIN, min(CT_MAX, mired))))
        return self._result(self._light_result())

    def _color(self, name: str, value: str, now: float) -> list[Publish]:
        color = color_to_hex(value) if value else None
        if color is not None:
            self._change(now, color=color)
        return self._result(self._light_result())

    def _hsbcolor(self, name: str, value: str, now: float) -> list[Publish]:
        match [parse_number(p) for p in value.split(",")]:
            case [float() as h, float() as s, float() as b]:
                self._change(now, color=color_to_hex(",".join(str(c) for c in hs_to_rgb(h, s))), level=b)
        return self._result(self._light_result())

    def _fade(self, name: str, value: str, now: float) -> list[Publish]:
        word = value.lower()
        self.fade = (not self.fade) if word in ("toggle", "2") else ON_WORDS.get(word, self.fade)
        return self._result({"Fade": "ON" if self.fade else "OFF"})

    def _speed(self, name: str, value: str, now: float) -> list[Publish]:
        speed = parse_number(value)
        if name == "speed2":
            # CmndSpeed, index 2: "Speed2 !" cancels; 0..40 arms fade_once (on if > 0) and speed_once
            if value == "!":
                self.speed2 = None
                return self._result({"Speed2": "Done"})
            if speed is not None and 0 <= speed <= 40:
                self.speed2 = round(speed)
            return self._result({"Speed2": self.speed2 if self.speed2 is not None else self.speed})
        self.speed = max(1, min(40, round(speed))) if speed is not None else self.speed
        return self._result({"Speed": self.speed})

    # ---- the light ---------------------------------------------------------------------------

    def _change(self, now: float, **change: Any) -> None:
        assert self.light is not None
        end = self.light.plan(**change)
        # LightAnimate: a one-shot Speed2 decides the fade and its speed, then is used up
        fade, speed = (self.speed2 > 0, self.speed2) if self.speed2 is not None else (self.fade, self.speed)
        self.speed2 = None
        duration = fade_seconds(speed, self.light.view(now), end) if fade else 0.0
        self.light.apply(now, end, duration)

    def _power_word(self) -> str:
        assert self.light is not None
        return "ON" if self.light.target().on else "OFF"

    def _light_result(self) -> dict[str, Any]:
        assert self.light is not None
        end = self.light.target()
        result: dict[str, Any] = {"POWER": self._power_word(), "Dimmer": round(end.level)}
        if end.color:
            r, g, b = hex_to_rgb(end.color)
            h, s = rgb_to_hs(r, g, b)
            result.update(Color=end.color.lstrip("#").upper(), HSBColor=f"{round(h)},{round(s)},{round(end.level)}")
        elif end.color_temp:
            result["CT"] = kelvin_to_mired(end.color_temp, CT_MIN, CT_MAX)
        return result

    def _state(self) -> dict[str, Any]:
        if self.switch is not None or self.sensor is not None:
            power = {self.power_key: "ON" if self.switch.on else "OFF"} if self.switch is not None else {}
            return {"Time": time.strftime("%Y-%m-%dT%H:%M:%S"), **power, **_WIFI}
        return {
            "Time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **self._light_result(),
            "Fade": "ON" if self.fade else "OFF",
            "Speed": self.speed,
            "LedTable": "ON",
            **_WIFI,
        }

    def _result(self, data: dict[str, Any]) -> list[Publish]:
        return [Publish(self._topic("stat", "RESULT"), json_payload(data))]


GAMMA_TABLE = ((1, 1), (4, 1), (209, 13), (312, 41), (457, 106), (626, 261), (762, 450), (895, 703), (1023, 1023))
"""xdrv_04_light_utils.ino ``gamma_table`` (10 bits in and out), used by ``ledGamma10_10``."""
GAMMA_TABLE_FAST = ((384, 192), (768, 576), (1023, 1023))
"""xdrv_04_light_utils.ino ``gamma_table_fast``, used by ``ledGammaFast`` / ``leddGammaReverseFast`` when fading."""


def change_scale(value: float, from_lo: float, from_hi: float, to_lo: float, to_hi: float) -> float:
    """Tasmota's ``changeUIntScale`` (without its integer rounding)."""
    if from_hi == from_lo:
        return to_lo
    return to_lo + (value - from_lo) * (to_hi - to_lo) / (from_hi - from_lo)


def led_gamma(v: float, table: tuple[tuple[int, int], ...] = GAMMA_TABLE) -> float:
    """``ledGamma_internal``: the piecewise-linear gamma curve."""
    lo_src = lo_gamma = 0
    for src, gamma in table:
        if v <= src:
            return change_scale(v, lo_src, src, lo_gamma, gamma)
        lo_src, lo_gamma = src, gamma
    return 1023.0


def led_gamma_reverse_fast(vg: float) -> float:
    """``leddGammaReverseFast`` (``ledGammaReverse_internal`` with ``gamma_table_fast``)."""
    lo_src = lo_gamma = 0
    for src, gamma in GAMMA_TABLE_FAST:
        if vg <= gamma:
            return change_scale(vg, lo_gamma, gamma, lo_src, src)
        lo_src, lo_gamma = src, gamma
    return 1023.0


def channels(view: LightView) -> list[float]:
    """The 10-bit PWM values (R, G, B, cold, warm) Tasmota drives for ``view``, gamma corrected.

    White (``calcGammaBulbs``): the level splits between the cold and warm channels by the colour
    temperature (CT_MIN all cold, CT_MAX all warm), the *sum* is gamma corrected and shared out again.
    Colour: each channel on its own (``ledGamma10_10``).
    """
    bri10 = change_scale(view.brightness, 0, 100, 0, 1023)
    if view.color:
        r, g, b = hex_to_rgb(view.color)
        top = max(r, g, b) or 1
        return [led_gamma(bri10 * c / top) for c in (r, g, b)] + [0.0, 0.0]
    mired = kelvin_to_mired(view.color_temp, CT_MIN, CT_MAX) if view.color_temp else CT_MIN
    warm = change_scale(mired, CT_MIN, CT_MAX, 0, 1) * bri10
    cold = bri10 - warm
    total = cold + warm
    if total <= 0:
        return [0.0] * 5
    corrected = led_gamma(total)
    return [0.0, 0.0, 0.0, cold / total * corrected, warm / total * corrected]


def fade_seconds(speed: int, a: LightView, b: LightView) -> float:
    """``LightApplyFade``: ``fade_duration = speed × 500 ms``, then ``distance × fade_duration / 1023 + 1``
    ms, the distance being the largest ``fadeGammaReverse`` channel change."""
    distance = max(
        abs(led_gamma_reverse_fast(y) - led_gamma_reverse_fast(x))
        for x, y in zip(channels(a), channels(b), strict=True)
    )
    if distance <= 0:
        return 0.0
    return (distance * speed * 500 / 1023 + 1) / 1000


MAX_SET = 8
"""MAX_RELAYS_SET, MAX_SWITCHES_SET, MAX_KEYS_SET and MAX_FRIENDLYNAMES of an ESP8266 build."""


class TasmotaProfiled(TasmotaSim):
    """A real Tasmota device: announces itself on ``tasmota/discovery/<mac>/config`` (retained)."""

    option_names = frozenset({"mac"}) | TasmotaSim.option_names
    light_subtype: ClassVar[int] = 0
    """``Light.subtype``: 0 none (a relay), 1 single channel, 2 cold/warm (CT), 3 RGB, 4 RGBW, 5 RGBCW."""
    module: ClassVar[str] = "Generic"

    @property
    def mac(self) -> str:
        given = self.options.get("mac")
        if isinstance(given, str) and len(given) == 12:
            return given.upper()
        return hashlib.sha1(self.name.encode()).hexdigest()[:12].upper()

    def discovery(self) -> list[Publish]:
        # xdrv_12_discovery.ino TasDiscoverMessage, field by field and in its order
        relays = [2 if self.light_subtype else 1] + [0] * (MAX_SET - 1)  # 2: the relay is the light
        config = {
            "ip": "192.0.2.10",
            "dn": "Tasmota",
            "fn": ["Tasmota"] + [None] * (MAX_SET - 1),
            "hn": f"tasmota-{self.mac[-6:]}-{int(self.mac[-4:], 16) & 0x0FFF:04d}",
            "mac": self.mac,
            "md": self.module,
            "ty": 0,
            "if": 0,
            "ofln": "Offline",
            "onln": "Online",
            "state": ["OFF", "ON", "TOGGLE", "HOLD"],
            "sw": "14.3.0",
            "t": self.name,
            "ft": self.config.full_topic,
            "tp": ["cmnd", "stat", "tele"],
            "rl": relays,
            "swc": [-1] * MAX_SET,
            "swn": [None] * MAX_SET,
            "btn": [0] * MAX_SET,
            "so": {k: 0 for k in ("4", "11", "13", "17", "20", "30", "68", "73", "82", "114", "117")},
            "lk": 1 if self.light_subtype else 0,
            "lt_st": self.light_subtype,
            "bat": 0,
            "dslp": 0,
            "sho": [],
            "sht": [],
            "ver": 1,
        }
        return [Publish(f"tasmota/discovery/{self.mac}/config", json_payload(config), retain=True)]


class TasmotaCtBulb(TasmotaProfiled):
    light_subtype = 2
    module = "CT bulb"


class TasmotaPlug(TasmotaProfiled):
    """A relay and no light: ``Xdrv04`` decodes light commands only ``if (TasmotaGlobal.light_type)``,
    so ``Dimmer``, ``CT``, ``Speed2`` … end as ``{"Command":"Unknown"}`` (support_command.ino)."""

    module = "Sonoff S2X"
    LIGHT_COMMANDS: ClassVar[frozenset[str]] = frozenset(
        {"dimmer", "ct", "color", "color1", "color2", "hsbcolor", "fade", "speed", "speed2"}
    )

    def _run(self, command: str, value: str, now: float) -> list[Publish]:
        if command.lower() in self.LIGHT_COMMANDS:
            return self._result({"Command": "Unknown"})
        return super()._run(command, value, now)

    def _change(self, now: float, **change: Any) -> None:
        assert self.light is not None
        self.light.apply(now, self.light.plan(**change, level=100.0), 0.0)

    def _light_result(self) -> dict[str, Any]:
        return {"POWER": self._power_word()}

    def _state(self) -> dict[str, Any]:
        if self.light is None:
            return super()._state()
        return {"Time": time.strftime("%Y-%m-%dT%H:%M:%S"), "POWER": self._power_word(), **_WIFI}


class TasmotaEnergyPlug(TasmotaPlug):
    """A plug with a BL0937 power meter (Gosund SP111, BlitzWolf SHP6): ``ENERGY`` each TelePeriod;
    ``load`` (W, in the initial spec) is what it powers, 60 W when not given."""

    module = "Gosund SP111"
    metered = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.switch is not None and not self.switch.load:
            self.switch.load = 60.0


class TasmotaThSensor(TasmotaProfiled):
    """A Sonoff TH with an AM2301 (DHT21) probe: ``tele/<t>/SENSOR`` ``{"AM2301": {…}, "TempUnit": "C"}``
    each TelePeriod, ``Status 10`` on request; its relay is not used."""

    module = "Sonoff TH"
