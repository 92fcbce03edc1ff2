"""Shelly Gen2/Gen3 devices with a real profile: a Plus Wall Dimmer (``Light``), a Plus Plug S (``Switch``)
and an H&T Gen3 (``Temperature``, ``Humidity``: a sleepy battery sensor).

Written from the Shelly Gen2 API documentation (shelly-api-docs.shelly.cloud, version 1.0):

- General/RPCProtocol: a request frame has ``id`` and ``src`` (both required), ``method``, ``params``;
  the response goes to ``<src>/rpc`` as ``{"id", "src": <device id>, "dst": <src>, "result" | "error"}``.
  The ``src`` of replies and notifications is the device id (``shellyplusplugs-80646fd61f2c``), not the
  MQTT topic prefix.
- General/CommonErrors: ``-103`` invalid argument (``"Missing required 'id'"``), ``-105`` not found
  (``"Bad id=7"``). A method the device has no handler for is ``{"code": 404, "message": "No handler for
  <method>"}`` (what a real Gen2 device answers, sdeigm/uni-meter#401): a dimmer has no ``Switch.*``,
  a plug no ``Light.*``.
- General/Notifications: ``NotifyStatus`` on ``<prefix>/events/rpc`` carries only what changed ("some or
  all unchanged attributes … may not be visible"), always with the component's ``id``; a key that
  disappears from the status is sent as ``null``.
- ComponentsAndServices/Light: ``Light.Set {id, on, brightness, transition_duration, toggle_after}``, at
  least one of ``on`` and ``brightness``; ComponentsAndServices/Switch: ``Switch.Set {id, on}`` answers
  ``{"was_on": …}``; status ``output``, ``apower``, ``voltage``, ``current``, ``aenergy``, ``temperature``.
- ComponentsAndServices/Shelly: ``Shelly.GetDeviceInfo`` (``id, mac, model, gen, fw_id, ver, app, auth_en,
  auth_domain``), ``Shelly.GetConfig`` / ``Shelly.GetStatus`` keyed by component (``light:0``, ``switch:0``,
  ``sys``, ``mqtt`` …).

- ComponentsAndServices/Switch ``Switch.Set``: ``toggle_after`` is an "Optional flip-back timer in seconds";
  the status shows ``timer_started_at`` and ``timer_duration`` "if the timer is triggered", and ``source``
  says what last changed the output (the doc's example after the timer ran out: ``"source": "timer"``,
  ``"output": false``). The doc states no range for ``toggle_after`` and does not say what a second
  ``Switch.Set`` does to a running timer: here each ``Switch.Set`` sets the output and replaces the timer
  (a new ``toggle_after`` restarts it, none stops it), the one reading that lets a flip-back timer be
  re-armed at all. A flip-back from *off* to *on* (``"on": false`` with ``toggle_after``) is not simulated:
  ambience never sends it.
- ComponentsAndServices/Temperature (``tC``, ``tF``), Humidity (``rh``), Devices/Gen3/ShellyHTG3.

``<prefix>/online`` is ``true`` when the device connects and ``false`` as its Last Will (the simulator
gives the device its own MQTT connection for that). It sends no status on connecting: ask with
``Shelly.GetStatus`` or ``<Component>.GetStatus``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, ClassVar

from ambience.devices.base import json_payload, parse_json, pct_to_scale
from ambience.simulator.base import LIGHT, SENSOR, SWITCH, Publish, number
from ambience.simulator.shelly import ShellySim

Outcome = dict[str, Any]
SOURCE = "MQTT"
"""What the status says caused a change (the channel the command came over)."""
VOLTS = 230.0


def error(code: int, message: str) -> Outcome:
    return {"error": {"code": code, "message": message}}


class ShellyProfiled(ShellySim):
    """The Shelly side shared by both profiles: RPC frames, device info and config, delta notifications."""

    option_names = frozenset({"mac"})
    component_type: ClassVar[str]
    id_prefix: ClassVar[str]
    model: ClassVar[str]
    app: ClassVar[str]
    fw_id: ClassVar[str]
    ver: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._shown: dict[str, Any] = {}
        """The component's status as last notified (NotifyStatus sends the difference)."""

    # ---- identity ----------------------------------------------------------------------------

    @property
    def component(self) -> str:
        return f"{self.component_type}:{self.config.component}"

    @property
    def mac(self) -> str:
        given = self.options.get("mac")
        if isinstance(given, str) and len(given) == 12:
            return given.upper()
        return hashlib.sha1(self.name.encode()).hexdigest()[:12].upper()

    @property
    def device_id(self) -> str:
        return f"{self.id_prefix}-{self.mac.lower()}"

    def will(self) -> Publish:
        """The Last Will of the device's own MQTT connection."""
        return self.availability(False)[0]

    def report(self, now: float) -> list[Publish]:
        self._shown = self.status(now)
        return []

    # ---- RPC ---------------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        request = parse_json(payload)
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return []
        src, method, params = request.get("src"), request["method"], request.get("params")
        if not isinstance(src, str) or not src or "id" not in request:
            return []  # RPCProtocol: id and src are required; without src there is nowhere to answer
        outcome = self.call(method, params if isinstance(params, dict) else {}, now)
        if outcome is None:
            return []  # drop_first swallowed it
        reply = {"id": request["id"], "src": self.device_id, "dst": src, **outcome}
        return [Publish(f"{src}/rpc", json_payload(reply)), *self._changes(now)]

    def call(self, method: str, params: dict[str, Any], now: float) -> Outcome | None:
        kind = self.component_type.capitalize()
        if method == "Shelly.GetDeviceInfo":
            return {"result": self.device_info()}
        if method == "Shelly.GetConfig":
            return {"result": self.device_config()}
        if method == "Shelly.GetStatus":
            return {"result": {self.component: self.status(now), **self._system_status()}}
        if method not in {f"{kind}.{m}" for m in ("Set", "Toggle", "GetStatus", "GetConfig")}:
            return error(404, f"No handler for {method}")
        if "id" not in params:
            return error(-103, "Missing required 'id'")
        if params["id"] != self.config.component:
            return error(-105, f"Bad id={params['id']}")
        if method.endswith(".GetStatus"):
            return {"result": self.status(now)}
        if method.endswith(".GetConfig"):
            return {"result": self.component_config()}
        return self.change(method.partition(".")[2], params, now)

    def change(self, action: str, params: dict[str, Any], now: float) -> Outcome | None:
        """``Set``/``Toggle``: validate, then :meth:`accept` (None: ``drop_first`` swallowed it), then obey."""
        raise NotImplementedError

    def _changes(self, now: float) -> list[Publish]:
        """NotifyStatus with what changed since the last one (Notifications: a vanished key is ``null``)."""
        status = self.status(now)
        delta = {k: v for k, v in status.items() if self._shown.get(k) != v}
        delta.update({k: None for k in self._shown if k not in status})
        self._shown = status
        if not delta:
            return []
        params = {"ts": round(time.time(), 2), self.component: {"id": self.config.component, **delta}}
        message = {"src": self.device_id, "dst": f"{self.name}/events", "method": "NotifyStatus", "params": params}
        return [Publish(f"{self.name}/events/rpc", json_payload(message))]

    def fade_step(self, now: float, finished: bool) -> list[Publish]:
        return self._changes(now) if finished else []

    # ---- what the device says about itself ---------------------------------------------------

    def status(self, now: float) -> dict[str, Any]:
        raise NotImplementedError

    def component_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def device_info(self) -> dict[str, Any]:
        # ComponentsAndServices/Shelly Shelly.GetDeviceInfo, in the order the devices send it
        return {
            "name": None,
            "id": self.device_id,
            "mac": self.mac,
            "slot": 1,
            "model": self.model,
            "gen": 2,
            "fw_id": self.fw_id,
            "ver": self.ver,
            "app": self.app,
            "auth_en": False,
            "auth_domain": None,
        }

    def device_config(self) -> dict[str, Any]:
        """``Shelly.GetConfig``: every component's configuration, keyed ``<type>:<id>`` (or the type alone)."""
        return {
            **self.extra_components(),
            self.component: self.component_config(),
            "mqtt": {
                "enable": True,
                "server": "192.0.2.1:1883",
                "client_id": self.device_id,
                "user": None,
                "ssl_ca": None,
                "topic_prefix": self.name,
                "rpc_ntf": True,
                "status_ntf": False,
                "use_client_cert": False,
                "enable_rpc": True,
                "enable_control": True,
            },
            "sys": {
                "device": {
                    "name": None,
                    "mac": self.mac,
                    "fw_id": self.fw_id,
                    "discoverable": True,
                    "eco_mode": False,
                },
                "location": {"tz": None, "lat": None, "lon": None},
                "debug": {"level": 2, "file_level": None, "mqtt": {"enable": False}, "websocket": {"enable": False}},
                "ui_data": {},
                "rpc_udp": {"dst_addr": None, "listen_port": None},
                "sntp": {"server": "time.google.com"},
                "cfg_rev": 10,
            },
        }

    def extra_components(self) -> dict[str, Any]:
        return {}

    def _system_status(self) -> dict[str, Any]:
        return {"mqtt": {"connected": True}, "sys": {"mac": self.mac, "restart_required": False}}

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {"device_id": self.device_id}


class ShellyPlusDimmer(ShellyProfiled):
    """Shelly Plus Wall Dimmer (SNDM-0013US): one ``Light`` component, two inputs."""

    component_type = "light"
    id_prefix = "shellywalldimmer"
    model = "SNDM-0013US"
    app = "PlusWallDimmer"
    fw_id = "20231107-164916/1.0.8-gb2b9a85"
    ver = "1.0.8"

    def change(self, action: str, params: dict[str, Any], now: float) -> Outcome | None:
        assert self.light is not None
        if action == "Toggle":
            if not self.accept():
                return None
            self.light.set(now, on=not self.light.target().on)
            return {"result": None}
        on, brightness = params.get("on"), params.get("brightness")
        if on is None and brightness is None:
            return error(-103, "At least one of 'on' and 'brightness' is required")
        if on is not None and not isinstance(on, bool):
            return error(-103, "Invalid argument 'on'")
        level = number(brightness)
        if brightness is not None and (level is None or not 0 <= level <= 100):
            return error(-103, "Invalid argument 'brightness'")
        if not self.accept():
            return None
        change: dict[str, Any] = {"on": self.light.target().on if on is None else on}
        if level is not None:
            change["level"] = level
        transition = number(params.get("transition_duration"))
        self.light.set(now, transition=max(0.0, transition or 0.0), **change)
        return {"result": None}

    def status(self, now: float) -> dict[str, Any]:
        assert self.light is not None
        v, end = self.light.view(now), self.light.target()
        status: dict[str, Any] = {
            "id": self.config.component,
            "source": SOURCE,
            "output": end.on,
            "brightness": pct_to_scale(v.level, 100),
        }
        fade = self.light.fade_window()
        if fade is not None:
            start, duration = fade
            status["transition"] = {
                "target": {"output": end.on, "brightness": pct_to_scale(end.level, 100)},
                "started_at": round(time.time() - (now - start), 2),
                "duration": round(duration, 2),
            }
        return status

    def component_config(self) -> dict[str, Any]:
        return {
            "id": self.config.component,
            "name": None,
            "initial_state": "restore_last",
            "auto_on": False,
            "auto_on_delay": 60.0,
            "auto_off": False,
            "auto_off_delay": 60.0,
            "transition_duration": 3.0,
            "min_brightness_on_toggle": 3,
            "night_mode": {"enable": False, "brightness": 50, "active_between": []},
        }

    def extra_components(self) -> dict[str, Any]:
        return {
            f"input:{i}": {"id": i, "name": None, "type": "button", "invert": False, "factory_reset": True}
            for i in (0, 1)
        }


class ShellyPlusPlug(ShellyProfiled):
    """Shelly Plus Plug S (SNPL-00112EU): one ``Switch`` component with power metering.

    Switching on notifies ``output`` first and the measured power (option ``load``, W) in the next
    NotifyStatus, as the meter reads it after the relay closed."""

    kinds = (LIGHT, SWITCH)
    option_names = frozenset({"mac", "load"})
    component_type = "switch"
    id_prefix = "shellyplusplugs"
    model = "SNPL-00112EU"
    app = "PlusPlugS"
    fw_id = "20230510-081027/0.14.4-g4da93ee"
    ver = "0.14.4"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._metered = False
        """Whether the meter has read the power since the relay last moved."""
        self._minute_ts = int(time.time()) // 60 * 60
        self._source = "init"
        self._timer: tuple[float, float] | None = None
        """The flip-back timer running: (``timer_started_at`` as unix time, ``timer_duration`` s)."""

    @property
    def load(self) -> float:
        watts = number(self.options.get("load"))
        if watts is None and self.switch is not None and self.switch.load:
            watts = self.switch.load
        return 60.0 if watts is None else watts

    @property
    def output(self) -> bool:
        if self.switch is not None:
            return self.switch.on
        assert self.light is not None
        return self.light.target().on

    def change(self, action: str, params: dict[str, Any], now: float) -> Outcome | None:
        was_on = self.output
        timer: float | None = None
        if action == "Toggle":
            on = not was_on
        else:
            asked = params.get("on")
            if not isinstance(asked, bool):
                return error(-103, "Missing required 'on'" if asked is None else "Invalid argument 'on'")
            on = asked
            if "toggle_after" in params:
                timer = number(params["toggle_after"])
                if timer is None or timer <= 0:
                    return error(-103, "Invalid argument 'toggle_after'")
        if not self.accept():
            return None
        if self.switch is not None:
            flip_back = timer if on else None  # an off-to-on flip-back is not simulated (see the module)
            self.switch.set(on, now, flip_back)
            self._timer = (round(time.time(), 2), flip_back) if flip_back else None
        else:
            assert self.light is not None
            self.light.apply(now, self.light.plan(on=on, level=100.0) if on else self.light.plan(on=False), 0.0)
        self._metered = False
        self._source = SOURCE
        return {"result": {"was_on": was_on}}

    def switch_changed(self, now: float) -> list[Publish]:
        """The flip-back timer ran out: the output is off, ``source`` ``timer``, the timer keys gone (``null``)."""
        self._timer, self._source = None, "timer"
        return self._changes(now)

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        out = super().handle(topic, payload, now)
        if not self._metered:  # the meter's reading, a notification of its own
            self._metered = True
            out += self._changes(now)
        return out

    def status(self, now: float) -> dict[str, Any]:
        on = self.output
        watts = self.load if on and self._metered else 0.0
        timer = {"timer_started_at": self._timer[0], "timer_duration": self._timer[1]} if self._timer else {}
        return {
            "id": self.config.component,
            "source": self._source if self.switch is not None else SOURCE,
            "output": on,
            **timer,
            "apower": watts,
            "voltage": VOLTS,
            "current": round(watts / VOLTS, 3),
            "aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": self._minute_ts},
            "temperature": {"tC": 36.3, "tF": 97.4},
        }

    def component_config(self) -> dict[str, Any]:
        return {
            "id": self.config.component,
            "name": None,
            "initial_state": "off",
            "auto_on": False,
            "auto_on_delay": 60.0,
            "auto_off": False,
            "auto_off_delay": 60.0,
            "power_limit": 2500,
            "voltage_limit": 280,
            "current_limit": 12.0,
        }


class ShellyHtGen3(ShellyProfiled):
    """Shelly H&T Gen3 (S3SN-0U12A): ``temperature:0`` and ``humidity:0``, on batteries.

    Asleep, it answers no request. It wakes when the temperature has moved by ``report_thr_C`` since the
    last report (option ``threshold``, °C; the Temperature doc's accepted range is 0.5..5.0, 1.0 here is
    ambience's assumption) or the humidity by 5 %, and every ``wake`` seconds (option, default 3600, also an
    assumption), and then publishes one ``NotifyFullStatus`` on ``<prefix>/events/rpc``."""

    kinds = (SENSOR,)
    option_names = frozenset({"mac", "threshold", "wake"})
    component_type = "temperature"
    id_prefix = "shellyhtg3"
    model = "S3SN-0U12A"
    app = "HTG3"
    fw_id = "20240819-074343/1.4.2-gc2639da"  # a build id of the right shape, not a real one
    ver = "1.4.2"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.threshold = number(self.options.get("threshold")) or 1.0
        self.wake = number(self.options.get("wake")) or 3600.0
        self.next_wake: float | None = None
        self.wakes = 0
        self._humidity: float | None = None

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        return []  # asleep: a request goes nowhere

    def report(self, now: float) -> list[Publish]:
        return self._wake_up(now)  # it wakes when it starts (and reconnects)

    def sensor_step(self, now: float) -> list[Publish]:
        assert self.sensor is not None
        if self.next_wake is None:
            self.next_wake = now + self.wake
        moved = self.sensor.reported is None or abs(self.sensor.temperature - self.sensor.reported) >= self.threshold
        humid = self._humidity is not None and abs(self.sensor.humidity - self._humidity) >= 5
        if moved or humid or now >= self.next_wake:
            return self._wake_up(now)
        return []

    def _wake_up(self, now: float) -> list[Publish]:
        assert self.sensor is not None
        self.next_wake = now + self.wake
        self.sensor.reported, self._humidity = self.sensor.temperature, self.sensor.humidity
        self.wakes += 1
        params = {"ts": round(time.time(), 2), **self.full_status(now)}
        message = {"src": self.device_id, "dst": f"{self.name}/events", "method": "NotifyFullStatus", "params": params}
        return [Publish(f"{self.name}/events/rpc", json_payload(message))]

    def full_status(self, now: float) -> dict[str, Any]:
        assert self.sensor is not None
        c = self.config.component
        return {
            f"temperature:{c}": self.status(now),
            f"humidity:{c}": {"id": c, "rh": round(self.sensor.humidity, 1)},
            "devicepower:0": {"id": 0, "battery": {"V": 5.9, "percent": 96}, "external": {"present": False}},
            **self._system_status(),
        }

    def status(self, now: float) -> dict[str, Any]:
        assert self.sensor is not None
        t = self.sensor.temperature
        return {"id": self.config.component, "tC": round(t, 1), "tF": round(t * 9 / 5 + 32, 1)}

    def component_config(self) -> dict[str, Any]:
        return {"id": self.config.component, "name": None, "report_thr_C": self.threshold, "offset_C": 0.0}

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        return {"device_id": self.device_id, "wakes": self.wakes}
