"""Zigbee2MQTT devices with a real profile: their exposes from zigbee2mqtt.json, their converters' ways.

What Zigbee2MQTT does with a message (``z2m/lib/extension/publish.ts`` ``onMQTTMessage``): each key
goes to the converter that handles it; a key with no converter logs "No converter available for
'set' 'key'" and is skipped; a converter that throws (or a device that refuses the write) logs
"Publish 'set' 'key' to 'name' failed" and adds nothing; what the converters *return* is merged
into the device's cached state and published at once (the "optimistic" state). Reads (``/get``)
go to ``convertGet``; the device's answer comes back as a report through ``fromZigbee``. Only
the keys the definition exposes with the SET (2) or GET (4) access bit have such converters.

The families below model one set of converters each, citing file and function in
zigbee-herdsman-converters (zhc) 26.112.0. What a device refuses is logged (``simulator`` logger)
and counted in its snapshot (``errors``, ``last_error``); Zigbee2MQTT publishes nothing for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from ambience.devices.base import json_payload, mired_to_kelvin, parse_json, pct_to_scale
from ambience.simulator.base import CLIMATE, LIGHT, SENSOR, SWITCH, Publish, number
from ambience.simulator.profiles import Profile, walk
from ambience.simulator.zigbee2mqtt import Zigbee2MqttSim

log = logging.getLogger("ambience.simulator")

STATE, SET, GET = 1, 2, 4
"""The exposes' ``access`` bits (zhc lib/exposes ``access``)."""
OPTIONS = frozenset({"transition"})
"""Keys of a message that are options for the converters, not keys of their own."""


class Refused(Exception):
    """A converter threw or the device refused the write: Zigbee2MQTT logs it and publishes nothing for it."""


class Z2mDevice(Zigbee2MqttSim):
    """The Zigbee2MQTT side shared by every profile: exposes, the cached state, availability, errors."""

    option_names = frozenset({"availability", "ieee_address"})
    get_fails: ClassVar[str | None] = None
    """Why a ``/get`` is never answered: ``"no converter"`` (no convertGet), ``"timeout"`` (a sleeping
    device that does not answer the read); None: it is answered."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.profile is not None and self.profile.model is not None
        self.definition = self.profile.definition()
        self.features: dict[str, Mapping[str, Any]] = {f["property"]: f for f in walk(self.definition["exposes"])}
        self.unexposed: Collection[str] = ()
        """Keys a converter of the device takes though no expose names them (``on_off``'s ``on_time``)."""
        self.cache: dict[str, Any] = {}
        """Zigbee2MQTT's cached state of the device: what it publishes on ``<base>/<name>``."""
        self.errors = 0
        self.last_error: str | None = None

    # ---- what Zigbee2MQTT announces ----------------------------------------------------------

    @property
    def ieee_address(self) -> str:
        given = self.options.get("ieee_address")
        if isinstance(given, str):
            return given
        return "0x" + hashlib.sha1(f"{self.config.base_topic}/{self.name}".encode()).hexdigest()[:16]

    def bridge_entry(self) -> dict[str, Any]:
        """This device in ``<base>/bridge/devices`` (z2m lib/extension/bridge.ts ``publishDevices``)."""
        assert self.profile is not None
        d = self.definition
        return {
            "ieee_address": self.ieee_address,
            "type": "EndDevice" if self.profile.battery else "Router",
            "network_address": int(self.ieee_address[-4:], 16),
            "supported": True,
            "friendly_name": self.name,
            "disabled": False,
            "description": None,
            "definition": {
                "model": d["model"],
                "vendor": d["vendor"],
                "description": d["description"],
                "exposes": d["exposes"],
                "supports_ota": bool(d.get("supports_ota", False)),
                "options": d.get("options", []),
                "source": "native",
            },
            "power_source": "Battery" if self.profile.battery else "Mains (single phase)",
            "model_id": d["model"],
            "manufacturer": d["vendor"],
            "interviewing": False,
            "interview_completed": True,
            "software_build_id": None,
            "date_code": None,
            "endpoints": {},
        }

    def availability(self, online: bool) -> list[Publish]:
        # z2m lib/extension/availability.ts: off unless the installer enables it (settings.schema.json)
        if not self.options.get("availability"):
            return []
        return [Publish(f"{self.topic}/availability", json_payload({"state": "online" if online else "offline"}), True)]

    def report(self, now: float) -> list[Publish]:
        # bridge/state belongs to the bridge (Simulator's Zigbee2MQTT bridge client), not to a device
        return [self._report(now)]

    def _report(self, now: float) -> Publish:
        """The device reports its state: merged into the cache, the whole cache published."""
        self.cache.update(self.truth(now))
        return self._publish()

    def _publish(self) -> Publish:
        return Publish(self.topic, json_payload(self.cache))

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {"errors": self.errors, "last_error": self.last_error}

    def _error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        log.warning("simulator: zigbee2mqtt: %s", message)

    # ---- incoming ----------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        kind, _, key = topic[len(self.topic) + 1 :].partition("/")
        if key:
            text = payload.decode("utf-8", errors="replace").strip()
            value = parse_json(payload)
            message: Any = {key: text if value is None else value}
        else:
            message = parse_json(payload)
            if not isinstance(message, dict):
                self._error(f"Invalid JSON '{payload.decode('utf-8', errors='replace')[:80]}', skipping...")
                return []
        return self._get(message, now) if kind == "get" else self._set(message, now)

    def _set(self, message: dict[str, Any], now: float) -> list[Publish]:
        if not self.accept():
            return []
        # publish.ts: state and brightness first, then the other keys in the message's order
        first = [k for k in ("state", "brightness") if k in message]
        keys = first + [k for k in message if k not in first]
        optimistic: dict[str, Any] = {}
        done: set[str] = set()
        for key in keys:
            if key in OPTIONS or key in done:
                continue
            feature = self.features.get(key)
            if key not in self.unexposed and (feature is None or not int(feature.get("access", 0)) & SET):
                self._error(f"No converter available for 'set' '{key}' ({json_payload(message[key])})")
                continue
            try:
                handled, state = self.convert_set(key, message, now)
            except Refused as exc:
                self._error(f"Publish 'set' '{key}' to '{self.name}' failed: '{exc}'")
                continue
            done |= handled
            optimistic.update(state or {})
        out = []
        if optimistic:
            self.cache.update(optimistic)
            out.append(self._publish())
        return out + (self.after_set(now) if done else [])

    def _get(self, message: dict[str, Any], now: float) -> list[Publish]:
        readable = []
        for key in message:
            feature = self.features.get(key)
            if feature is None or not int(feature.get("access", 0)) & GET or self.get_fails == "no converter":
                self._error(f"No converter available for 'get' '{key}' ({json_payload(message[key])})")
                continue
            if self.get_fails == "timeout":
                self._error(f"Publish 'get' '{key}' to '{self.name}' failed: 'Read (hvacThermostat) timed out'")
                continue
            readable.append(key)
        if not readable:
            return []
        truth = self.truth(now)
        self.cache.update({k: truth[k] for k in readable if k in truth})
        return [self._publish()]

    # ---- the family's converters (subclasses) ------------------------------------------------

    def truth(self, now: float) -> dict[str, Any]:
        """What the device would report about itself now."""
        raise NotImplementedError

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        """Run the converter for ``key``: the keys it handled and its optimistic state; Refused if it fails."""
        raise NotImplementedError

    def after_set(self, now: float) -> list[Publish]:
        """What the device itself reports right after a command it took (a Tuya datapoint report …)."""
        return []

    def enum(self, key: str, value: Any) -> str:
        values = self.features[key].get("values", [])
        if value not in values:
            raise Refused(f"Key '{value}' not found in: [{', '.join(str(v) for v in values)}]")
        return str(value)


# ---- lights and plugs ------------------------------------------------------------------------


def _range(feature: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if feature is None:
        return None
    return int(feature.get("value_min", 153)), int(feature.get("value_max", 500))


class Z2mLight(Z2mDevice):
    """zhc converters/toZigbee ``light_onoff_brightness`` and ``light_colortemp``; optimistic state at once."""

    kinds: ClassVar[tuple[str, ...]] = (LIGHT,)
    ikea: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.light is not None
        self.mired_range = _range(self.features.get("color_temp"))
        target = self.light.target()
        self.bri = max(1, pct_to_scale(target.level, 254))
        lo, hi = self.mired_range or (153, 500)
        kelvin = target.color_temp or 2700.0
        self.mired = max(lo, min(hi, round(1e6 / kelvin)))
        if target.color_temp is not None:
            self.light.set(0.0, color_temp=mired_to_kelvin(self.mired))

    def truth(self, now: float) -> dict[str, Any]:
        assert self.light is not None
        end = self.light.target()
        state: dict[str, Any] = {"state": "ON" if end.on else "OFF", "brightness": self.bri}
        if self.mired_range is not None:
            state.update(color_mode="color_temp", color_temp=self.mired)
        return state

    def transition(self, key: str, message: Mapping[str, Any]) -> float:
        # zhc src/lib/utils.ts getTransition: for an IKEA entity, "brightness" gets no transition when
        # color or color_temp is in the same message (Koenkk/zigbee2mqtt#1810)
        if self.ikea and key == "brightness" and ("color" in message or "color_temp" in message):
            return 0.0
        value = number(message.get("transition"))
        return max(0.0, value) if value is not None else 0.0

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        if key in ("state", "brightness"):
            return {"state", "brightness"}, self._onoff_brightness(message, now)
        if key == "color_temp":
            return {"color_temp"}, self._colortemp(message, now)
        raise Refused(f"the simulator does not model '{key}'")

    def _onoff_brightness(self, message: dict[str, Any], now: float) -> dict[str, Any]:
        # zhc converters/toZigbee light_onoff_brightness
        assert self.light is not None
        brightness: float | None = None
        if "brightness" in message:
            brightness = number(message["brightness"])
            if brightness == 255:  # "Allow 255 for backwards compatibility"
                brightness = 254
            if brightness is None or not 0 <= brightness <= 254:
                raise Refused(
                    f"Brightness value of message: '{json_payload(message)}' invalid, must be a number >= 0 and =< 254"
                )
        raw = message.get("state")
        state = raw.lower() if isinstance(raw, str) else None
        if raw is not None and state not in ("on", "off", "toggle"):
            raise Refused(f"State value of message: '{json_payload(message)}' invalid, must be 'ON', 'OFF' or 'TOGGLE'")
        if state is None:
            state = "off" if brightness == 0 else "on"
        on = (not self.light.target().on) if state == "toggle" else state == "on"
        transition = self.transition("brightness", message)
        result: dict[str, Any] = {"state": "ON" if on else "OFF"}
        if on and brightness:
            self.bri = round(brightness)
            result["brightness"] = self.bri
            self.light.set(now, transition=transition, on=True, level=self.bri / 254 * 100)
        else:
            self.light.set(now, transition=transition, on=on)
        return result

    def _colortemp(self, message: dict[str, Any], now: float) -> dict[str, Any]:
        # zhc converters/toZigbee light_colortemp: presets by name, then lib/light clampColorTemp to the
        # bulb's own range (findColorTempRange: colorTempPhysicalMin/Max, which the exposes carry)
        assert self.light is not None and self.mired_range is not None
        lo, hi = self.mired_range
        value = message["color_temp"]
        presets = {"warmest": hi, "warm": 454, "neutral": 370, "cool": 250, "coolest": lo}
        if isinstance(value, str) and value in presets:
            value = presets[value]
        mired = number(value) if not isinstance(value, str) else number(_float(value))
        if mired is None or math.isnan(mired):
            raise Refused(f"Value '{value}' is not a number, got {type(value).__name__}")
        self.mired = round(max(lo, min(hi, mired)))
        self.light.set(now, transition=self.transition("color_temp", message), color_temp=mired_to_kelvin(self.mired))
        return {"color_mode": "color_temp", "color_temp": self.mired}

    def fade_step(self, now: float, finished: bool) -> list[Publish]:
        # Zigbee2MQTT published the targets at once; the bulb's attribute report at the end says the same
        return [self._report(now)] if finished else []


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class IkeaLight(Z2mLight):
    """An IKEA TRÅDFRI bulb: zhc lib/utils ``getTransition`` drops its brightness transition next to a colour."""

    ikea = True


class Z2mSwitch(Z2mDevice):
    """A plug, with the converters its definition has (zhc 26.112.0):

    - with a ``countdown`` expose (Tuya TS011F): ``lib/tuya.ts`` ``tuyaModernExtend.tuyaOnOff`` puts
      ``tz.on_off_countdown`` (keys ``state``, ``countdown``) in place of ``on_off`` (``dist/lib/tuya.js:4145-4159``).
      It sends ``on``/``off`` first, which cancels a running countdown, then ``onWithTimedOff`` with the
      countdown in whole seconds (``:2641-2693``: an integer 0–43200, else "countdown must be an integer between
      1 and 43200 (12 hours) or 0 to cancel"), and returns ``{state, countdown}``: every re-arm restarts the full
      time. The countdown toggles the plug (the expose: "Toggle the device after a set duration"); when it runs
      out the plug reports ``onOff`` off and its ``onTime`` 0 (``fz.on_off_countdown``, ``:3259-3274``: "the
      device will report onTime at all multiples of 60" while it runs, which is published too).
    - otherwise ``converters/toZigbee.ts`` ``on_off`` (keys ``state``, ``on_time``, ``off_wait_time``): ``on``
      with ``on_time`` is ZCL ``onWithTimedOff`` (``ontime`` in tenths) *instead of* ``on``, returning no state;
      the plug's ``onOff`` report tells, when its output changed. OnTime becomes the larger of the running one
      and the new one (project-chip connectedhomeip ``on-off-server.cpp`` ``OnWithTimedOffCommand``); a plain
      ``on`` leaves a running timer alone, ``off`` clears it. Whether a plug's firmware has the command is
      not in its definition: the option ``on_with_timed_off`` (default false) says it has; without it the
      plug refuses it (``UNSUPPORTED_COMMAND``, as that function does without the Lighting feature), Z2M logs
      the failure and the plug stays as it was.

    In a room's ``lights`` (kind light) it switches as before, with no timer.
    """

    kinds: ClassVar[tuple[str, ...]] = (LIGHT, SWITCH)
    option_names = Z2mDevice.option_names | {"on_with_timed_off"}
    COUNTDOWN_MAX: ClassVar[int] = 12 * 3600

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.countdown = "countdown" in self.features
        self.keys = {"state", "countdown"} if self.countdown else {"state", "on_time", "off_wait_time"}
        self.unexposed = () if self.countdown else ("on_time", "off_wait_time")
        self._changed = False
        self._minutes: int | None = None
        """The countdown's minutes left when it last reported ``onTime`` (every multiple of 60 s)."""

    @property
    def on(self) -> bool:
        if self.switch is not None:
            return self.switch.on
        assert self.light is not None
        return self.light.target().on

    def truth(self, now: float) -> dict[str, Any]:
        state: dict[str, Any] = {"state": "ON" if self.on else "OFF"}
        if self.switch is not None and "power" in self.features:
            state["power"] = self.switch.power  # haElectricalMeasurement activePower, W
        return state

    def _output(self, on: bool, now: float, timer: float | None = None, keep_timer: bool = False) -> None:
        if self.switch is None:
            assert self.light is not None
            self.light.set(now, on=on, level=100.0)
            return
        self._changed |= on != self.switch.on
        if keep_timer and on and self.switch.on:
            return  # ZCL On leaves a running OnTime alone
        self.switch.set(on, now, timer)
        self._minutes = None

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        self._changed = False
        raw = message.get("state")
        state = raw.lower() if isinstance(raw, str) else None if raw is None else str(raw)
        if raw is not None and state not in ("toggle", "off", "on") or raw is None and not self.countdown:
            raise Refused(f"'{state}' not allowed, choose between: toggle,off,on")
        on = (not self.on) if state == "toggle" else state == "on"
        return self.keys, (
            self._on_off_countdown(state, on, message, now) if self.countdown else self._on_off(on, message, now)
        )

    def _on_off(self, on: bool, message: dict[str, Any], now: float) -> dict[str, Any] | None:
        if not (on and ("on_time" in message or "off_wait_time" in message)):
            self._output(on, now, keep_timer=True)
            return {"state": "ON" if on else "OFF"}
        for key in ("on_time", "off_wait_time"):
            if key in message and (isinstance(message[key], bool) or not isinstance(message[key], (int, float))):
                raise Refused(f"The {key} value must be a number!")
        if not self.options.get("on_with_timed_off"):
            raise Refused("Command genOnOff.onWithTimedOff failed (Status 'UNSUPPORTED_COMMAND')")
        seconds = round(float(message.get("on_time", 0)) * 10) / 10  # ontime: Math.round(onTime * 10) tenths
        if self.switch is not None:
            left = self.switch.off_at - now if self.switch.on and self.switch.off_at is not None else 0.0
            self._output(True, now, max(left, seconds) or None)
        else:
            self._output(True, now)
        return None  # the converter returns nothing: the plug's onOff report tells (after_set)

    def _on_off_countdown(self, state: str | None, on: bool, message: dict[str, Any], now: float) -> dict[str, Any]:
        countdown = message.get("countdown")
        if countdown is not None and not (
            isinstance(countdown, (int, float))
            and not isinstance(countdown, bool)
            and float(countdown).is_integer()
            and 0 <= countdown <= self.COUNTDOWN_MAX
        ):
            raise Refused("countdown must be an integer between 1 and 43200 (12 hours) or 0 to cancel")
        result: dict[str, Any] = {}
        if state is not None:
            self._output(on, now)  # on/off/toggle cancels onWithTimedOff
            result = {"state": "ON" if on else "OFF", "countdown": 0}
        if countdown is not None:
            if self.switch is not None and self.switch.on and countdown > 0:
                self.switch.set(True, now, float(countdown))  # toggles (off) when it runs out
            elif self.switch is not None and countdown == 0:
                self.switch.set(self.switch.on, now, None)
            if state is not None:
                result["countdown"] = int(countdown)
        return result

    def after_set(self, now: float) -> list[Publish]:
        # the plug's own onOff attribute report (fz.on_off) when its output changed and the converter returned
        # nothing; a metering plug's power report follows a change either way
        if self._changed and (not self.countdown or "power" in self.features):
            self._changed = False
            return [self._report(now)]
        return []

    def switch_changed(self, now: float) -> list[Publish]:
        if self.countdown:
            self.cache["countdown"] = 0  # fz.on_off_countdown: onTime 0
        return [self._report(now)]

    def timed(self, now: float) -> list[Publish]:
        sw = self.switch
        if not self.countdown or sw is None or sw.off_at is None:
            return []
        minutes = math.ceil((sw.off_at - now) / 60)
        if self._minutes is None:
            self._minutes = minutes
        elif minutes < self._minutes and minutes > 0:
            self._minutes = minutes
            self.cache["countdown"] = minutes * 60  # onTime reported at each multiple of 60 s
            return [self._publish()]
        return []


class Z2mSensor(Z2mDevice):
    """A battery temperature and humidity sensor (Aqara WSDCGQ11LM: zhc devices/lumi ``toZigbee: []``,
    ``lumi_temperature`` ``measuredValue / 100``; SONOFF SNZB-02): nothing to set, no ``/get`` (no convertGet,
    and it sleeps), it reports when its reading changes (option ``report_delta``, °C, default 0.1) and at its
    check-in (``report_interval``, s, default 3600: zhc ``quirkCheckinInterval("1_HOUR")``)."""

    kinds: ClassVar[tuple[str, ...]] = (SENSOR,)
    get_fails = "no converter"
    option_names = Z2mDevice.option_names | {"report_delta", "report_interval"}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.delta = float(self.options.get("report_delta", 0.1))
        self.interval = float(self.options.get("report_interval", 3600.0))
        self.next_report: float | None = None

    def truth(self, now: float) -> dict[str, Any]:
        assert self.sensor is not None
        state: dict[str, Any] = {
            "temperature": round(self.sensor.temperature, 2),
            "humidity": round(self.sensor.humidity, 2),
        }
        if "battery" in self.features:
            state.update(battery=100, voltage=3000)
        if "pressure" in self.features:
            state["pressure"] = 1013
        return state

    def report(self, now: float) -> list[Publish]:
        assert self.sensor is not None
        self.sensor.reported = self.sensor.temperature
        self.next_report = now + self.interval
        return [self._report(now)]

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        raise Refused(f"the simulator does not model '{key}'")  # never reached: nothing is SET-able

    def sensor_step(self, now: float) -> list[Publish]:
        s = self.sensor
        assert s is not None
        due = self.next_report is not None and now >= self.next_report
        if s.reported is None or abs(s.temperature - s.reported) >= self.delta - 1e-9 or due:
            return self.report(now)
        return []


# ---- thermostats -----------------------------------------------------------------------------


class Z2mThermostat(Z2mDevice):
    """A radiator valve: its setpoint key from the exposes; schedule modes move the setpoint at a step.

    Options: ``schedule_setpoint`` (°C the valve's own programme sets at its next step, default 17),
    ``schedule_interval`` (s between the programme's steps, default 3600; :meth:`schedule_step` runs
    one at once), ``hot`` (°C a fully open radiator heats the room to, default 30).
    """

    kinds: ClassVar[tuple[str, ...]] = (CLIMATE,)
    option_names = Z2mDevice.option_names | {"schedule_setpoint", "schedule_interval", "hot"}
    schedule_key: ClassVar[str | None] = None
    schedule_values: ClassVar[frozenset[str]] = frozenset()
    default_mode: ClassVar[str] = "heat"

    def __init__(self, *args: Any, **kwargs: Any):
        initial = dict(kwargs.get("initial") or {})
        initial.setdefault("mode", self.default_mode)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        assert self.climate is not None
        self.climate.hot = float(self.options.get("hot", 30.0))
        self.setpoint = next(k for k in self.features if k.endswith("heating_setpoint"))
        self.settings: dict[str, str] = {}
        """The mode-like enums the valve keeps (preset, operating_mode …), by key."""
        if self.schedule_key is not None:
            values = self.features[self.schedule_key].get("values", [])
            manual = next(v for v in values if v not in self.schedule_values)
            self.settings[self.schedule_key] = str(initial.get("preset") or manual)
        self.next_step: float | None = None

    @property
    def scheduled(self) -> bool:
        return self.schedule_key is not None and self.settings.get(self.schedule_key) in self.schedule_values

    def truth(self, now: float) -> dict[str, Any]:
        assert self.climate is not None
        c = self.climate
        return {
            "local_temperature": round(c.local, 1),
            self.setpoint: c.target,
            "system_mode": c.mode,
            "running_state": c.running_state,
            **self.settings,
        }

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        assert self.climate is not None
        return {
            **super().snapshot_extra(now),
            "setpoint_key": self.setpoint,
            "scheduled": self.scheduled,
            "running_state": self.climate.running_state,
            **self.settings,
        }

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        assert self.climate is not None
        value = message[key]
        if key == self.setpoint or key.endswith("heating_setpoint_scheduled"):
            target = number(value)
            if target is None:
                raise Refused(f"{key} is not a number, got {type(value).__name__} ({value})")
            self.climate.target = target
            return {key}, self.optimistic_setpoint(key, target)
        if key == "system_mode":
            return {key}, self.set_mode(value)
        if key in self.settings or key == self.schedule_key:
            chosen = self.enum(key, value)
            self.settings[key] = chosen
            self._schedule_changed(now)
            return {key}, {key: chosen}
        raise Refused(f"the simulator does not model '{key}'")

    def optimistic_setpoint(self, key: str, value: float) -> dict[str, Any] | None:
        # zhc converters/toZigbee thermostat_occupied_heating_setpoint: returns {state: {key: value}}
        return {key: value}

    def set_mode(self, value: Any) -> dict[str, Any] | None:
        # zhc converters/toZigbee thermostat_system_mode writes systemMode, returns {state: {system_mode}}
        assert self.climate is not None
        self.climate.mode = self.enum("system_mode", value)
        return {"system_mode": self.climate.mode}

    def _schedule_changed(self, now: float) -> None:
        interval = float(self.options.get("schedule_interval", 3600.0))
        self.next_step = now + interval if self.scheduled else None

    def schedule_step(self, now: float) -> list[Publish]:
        """The valve's own programme reaches its next step: in a schedule mode, the setpoint moves."""
        if not self.scheduled:
            return []
        assert self.climate is not None
        self.climate.target = float(self.options.get("schedule_setpoint", 17.0))
        self._schedule_changed(now)
        return self.step_report(now)

    def step_report(self, now: float) -> list[Publish]:
        return [self._report(now)]

    def timed(self, now: float) -> list[Publish]:
        if self.next_step is not None and now >= self.next_step:
            return self.schedule_step(now)
        return []

    def climate_step(self, now: float) -> list[Publish]:
        return [self._report(now)]


class TuyaTrv(Z2mThermostat):
    """zhc devices/tuya ``TS0601_thermostat`` with lib/legacy's Tuya converters.

    - ``system_mode`` is ``tuya_thermostat_force_to_mode``: it writes the *force* datapoint with
      ``thermostatSystemModes3`` {0 auto, 1 heat, 2 off}; the report (fromZigbee ``tuya_thermostat``
      ``dataPoints.forceMode``) reads it back as ``system_mode`` plus ``force`` {normal, open, close}.
      ``heat`` is "continuously heating, it does not regulate" (the exposes' own description): the
      valve stands fully open whatever the setpoint; ``off`` shuts it.
    - No converter returns a state (set only, no ``convertGet``): nothing is published at once; the
      valve's datapoint report follows. ``/get`` logs "No converter available for 'get'".
    - ``preset`` writes the mode datapoint (``thermostatPresets``); ``schedule`` runs the valve's programme.
    """

    get_fails = "no converter"
    schedule_key = "preset"
    schedule_values = frozenset({"schedule"})
    default_mode = "auto"
    FORCE: ClassVar[dict[str, str]] = {"auto": "normal", "heat": "open", "off": "close"}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        assert self.climate is not None
        self.settings["force"] = self.FORCE.get(self.climate.mode, "normal")
        self._force(self.settings["force"])

    def _force(self, force: str) -> None:
        assert self.climate is not None
        self.settings["force"] = force
        self.climate.mode = {v: k for k, v in self.FORCE.items()}[force]
        self.climate.forced = {"open": "open", "close": "closed"}.get(force)

    def truth(self, now: float) -> dict[str, Any]:
        assert self.climate is not None
        state = super().truth(now)
        state["position"] = self.position
        state["running_state"] = "heat" if self.position else "idle"
        state["away_mode"] = "ON" if self.settings.get("preset") == "away" else "OFF"
        return state

    @property
    def position(self) -> int:
        """The valve opening in % (fromZigbee tuya_thermostat ``dataPoints.valvePos``)."""
        assert self.climate is not None
        c = self.climate
        if c.forced is not None:
            return 100 if c.forced == "open" else 0
        return max(0, min(100, round((c.target - c.local) * 50)))

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {
            **super().snapshot_extra(now),
            "position": self.position,
            "running_state": self.truth(now)["running_state"],
        }

    def optimistic_setpoint(self, key: str, value: float) -> dict[str, Any] | None:
        return None  # legacy tuya_thermostat_current_heating_setpoint returns nothing

    def set_mode(self, value: Any) -> dict[str, Any] | None:
        # legacy tuya_thermostat_force_to_mode: getKey(tuyaThermostatSystemMode) or throw
        if value not in self.FORCE:
            raise Refused(f"TRV system mode {value} is not recognized.")
        self._force(self.FORCE[value])
        return None

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        if key == "force":
            self._force(self.enum(key, message[key]))
            return {key}, None
        if key == "preset":
            # legacy tuya_thermostat_preset: getKey(thermostatPresets) or "TRV preset X is not recognized."
            value = message[key]
            if value not in self.features[key].get("values", []):
                raise Refused(f"TRV preset {value} is not recognized.")
            self.settings["preset"] = str(value)
            self._schedule_changed(now)
            return {key}, None
        handled, _ = super().convert_set(key, message, now)
        return handled, None

    def after_set(self, now: float) -> list[Publish]:
        return [self._report(now)]  # the valve's datapoint report (fromZigbee tuya_thermostat)


class DanfossAlly(Z2mThermostat):
    """zhc devices/danfoss ``danfossThermostat``.

    - The setpoint converter (``danfossSetpointConverter``) sends ``danfossSetpointCommand`` twice
      ("aggressive") and returns **no** state: Zigbee2MQTT publishes nothing; the valve's next
      attribute report tells the new setpoint (option ``report_interval``, s, default 240).
    - ``system_mode`` has only ``heat`` (``systemMode: {values: ["heat"]}``); writing another value
      is refused by the valve (a ZCL write failure), logged, nothing published.
    - It sleeps: a ``/get`` read times out, nothing is published.
    - ``programming_operation_mode`` (``thermostat_programming_operation_mode``, optimistic):
      ``schedule`` / ``schedule_with_preheat`` run the valve's own programme.
    """

    get_fails = "timeout"
    option_names = Z2mThermostat.option_names | {"report_interval"}
    schedule_key = "programming_operation_mode"
    schedule_values = frozenset({"schedule", "schedule_with_preheat"})

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.interval = float(self.options.get("report_interval", 240.0))
        self.next_report: float | None = None

    def optimistic_setpoint(self, key: str, value: float) -> dict[str, Any] | None:
        return None

    def set_mode(self, value: Any) -> dict[str, Any] | None:
        if value != "heat":  # the valve refuses the write: its systemMode is heat only
            raise Refused("Write 'hvacThermostat' 'systemMode' failed (Status 'INVALID_VALUE')")
        return super().set_mode(value)

    def timed(self, now: float) -> list[Publish]:
        out = super().timed(now)
        if self.next_report is None:
            self.next_report = now + self.interval
        elif now >= self.next_report:
            self.next_report = now + self.interval
            out.append(self._report(now))
        return out

    def report_now(self, now: float) -> list[Publish]:
        """Its periodic report, at once (for tests and demos that cannot wait minutes)."""
        self.next_report = now + self.interval
        return [self._report(now)]

    def climate_step(self, now: float) -> list[Publish]:
        return []  # only its periodic reports

    def step_report(self, now: float) -> list[Publish]:
        return []  # a schedule step too is told at the next periodic report


class BoschTrv(Z2mThermostat):
    """zhc lib/bosch ``raThermostat`` (``systemMode: {values: ["heat"]}``) and ``operatingMode``
    (enumLookup, optimistic): ``schedule`` runs the valve's programme, ``pause`` shuts the valve."""

    schedule_key = "operating_mode"
    schedule_values = frozenset({"schedule"})

    def set_mode(self, value: Any) -> dict[str, Any] | None:
        if value != "heat":  # the valve refuses the write: its systemMode is heat only
            raise Refused("Write 'hvacThermostat' 'systemMode' failed (Status 'INVALID_VALUE')")
        return super().set_mode(value)

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        result = super().convert_set(key, message, now)
        assert self.climate is not None
        self.climate.forced = "closed" if self.settings.get("operating_mode") == "pause" else None
        return result


class AqaraE1(Z2mThermostat):
    """zhc lib/lumi toZigbee ``lumi_trv``: ``system_mode`` off/heat and ``preset`` manual/away/auto
    through ``getFromLookup`` (throws "Key 'x' not found in: […]"), returning no state: the valve's
    report follows. The setpoint is ``thermostat_occupied_heating_setpoint`` (optimistic).
    ``preset: auto`` runs the valve's programme."""

    schedule_key = "preset"
    schedule_values = frozenset({"auto"})
    SILENT: ClassVar[frozenset[str]] = frozenset({"system_mode", "preset"})

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._will_report = False

    def convert_set(self, key: str, message: dict[str, Any], now: float) -> tuple[set[str], dict[str, Any] | None]:
        handled, state = super().convert_set(key, message, now)
        if key in self.SILENT:
            self._will_report = True
            return handled, None
        return handled, state

    def after_set(self, now: float) -> list[Publish]:
        if not self._will_report:
            return []
        self._will_report = False
        return [self._report(now)]  # fromZigbee lumi_trv: the valve's attribute report


FAMILIES: dict[str, type[Z2mDevice]] = {
    "z2m-light": Z2mLight,
    "z2m-ikea-light": IkeaLight,
    "z2m-switch": Z2mSwitch,
    "z2m-sensor": Z2mSensor,
    "z2m-tuya-trv": TuyaTrv,
    "z2m-danfoss": DanfossAlly,
    "z2m-bosch": BoschTrv,
    "z2m-aqara": AqaraE1,
}


def family(profile: Profile) -> type[Z2mDevice]:
    return FAMILIES[profile.family]


def bridge_devices(devices: list[Z2mDevice]) -> str:
    """``<base>/bridge/devices``: the coordinator and every device (z2m bridge.ts ``publishDevices``,
    json-stable-stringify: keys sorted)."""
    coordinator = {
        "ieee_address": "0x00124b0000000000",
        "type": "Coordinator",
        "network_address": 0,
        "supported": True,
        "friendly_name": "Coordinator",
        "disabled": False,
        "description": None,
        "definition": None,
        "power_source": None,
        "interviewing": False,
        "interview_completed": True,
        "endpoints": {},
    }
    return json.dumps([coordinator] + [d.bridge_entry() for d in devices], separators=(",", ":"), sort_keys=True)
