"""A Shelly Gen2/3 dimmer speaking RPC over MQTT (``<prefix>`` = the configured device name).

Requests on ``<prefix>/rpc``: ``{"id", "src", "method", "params"}`` with ``Light.Set``
(``id``, ``on``, ``brightness`` 0–100, ``transition_duration`` s), ``Light.Toggle``,
``Light.GetStatus`` and ``Shelly.GetStatus``. The reply goes to ``<src>/rpc`` as
``{"id", "src": <prefix>, "dst": <src>, "result" | "error"}``; every change is announced as a
``NotifyStatus`` on ``<prefix>/events/rpc`` (at the start of a transition, with its target, and
at its end). ``<prefix>/online`` is ``true``/``false``, retained.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from ambience.config.devices import ShellyDevice
from ambience.devices.base import json_payload, parse_json, pct_to_scale
from ambience.simulator.base import LIGHT, Publish, VirtualDevice, number

TOP = 100


class ShellySim(VirtualDevice[ShellyDevice]):
    bridge = "shelly"
    kinds: ClassVar[tuple[str, ...]] = (LIGHT,)

    @property
    def component(self) -> str:
        return f"light:{self.config.component}"

    def subscriptions(self) -> list[str]:
        return [f"{self.name}/rpc"]

    def availability(self, online: bool) -> list[Publish]:
        return [Publish(f"{self.name}/online", "true" if online else "false", retain=True)]

    def report(self, now: float) -> list[Publish]:
        return [self._notify(now)]

    def _status(self, now: float) -> dict[str, Any]:
        assert self.light is not None
        v, end = self.light.view(now), self.light.target()
        status: dict[str, Any] = {
            "id": self.config.component,
            "source": "mqtt",
            "output": v.on,
            "brightness": pct_to_scale(v.level, TOP) if v.level > 0 else 0,
        }
        fade = self.light.fade_window()
        if fade is not None:
            start, duration = fade
            status["transition"] = {
                "target": {"output": end.on, "brightness": pct_to_scale(end.level, TOP)},
                "started_at": round(time.time() - (now - start), 2),
                "duration": round(duration, 2),
            }
        return status

    def _notify(self, now: float) -> Publish:
        params = {"ts": round(time.time(), 2), self.component: self._status(now)}
        message = {"src": self.name, "dst": f"{self.name}/events", "method": "NotifyStatus", "params": params}
        return Publish(f"{self.name}/events/rpc", json_payload(message))

    # ---- incoming and time -------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        request = parse_json(payload)
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return []
        src, method = request.get("src"), request["method"]
        params = request.get("params")
        if not isinstance(params, dict):
            params = {}
        changes = method in ("Light.Set", "Light.Toggle")
        if method.startswith("Light.") and params.get("id", 0) != self.config.component:
            outcome: dict[str, Any] = {
                "error": {"code": -105, "message": f"Argument 'id', value {params.get('id')} not found!"}
            }
        elif changes and not self.accept():
            return []
        elif method == "Light.Set":
            outcome = self._set(params, now)
        elif method == "Light.Toggle":
            assert self.light is not None
            self.light.set(now, on=not self.light.target().on)
            outcome = {"result": None}
        elif method == "Light.GetStatus":
            outcome = {"result": self._status(now)}
        elif method == "Shelly.GetStatus":
            outcome = {"result": {self.component: self._status(now)}}
        else:
            outcome = {"error": {"code": 404, "message": f"No handler for {method}"}}
        out = []
        if isinstance(src, str) and src:
            reply = {"id": request.get("id"), "src": self.name, "dst": src, **outcome}
            out.append(Publish(f"{src}/rpc", json_payload(reply)))
        if changes and "result" in outcome:
            out.append(self._notify(now))
        return out

    def _set(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        assert self.light is not None
        on = params.get("on")
        if on is not None and not isinstance(on, bool):
            return {"error": {"code": -103, "message": "Invalid argument 'on'!"}}
        change: dict[str, Any] = {"on": self.light.target().on if on is None else on}
        brightness = number(params.get("brightness"))
        if brightness is not None:  # sets the level; switches on only with "on": true
            change["level"] = max(0.0, min(100.0, brightness))
        transition = max(0.0, number(params.get("transition_duration")) or 0.0)
        self.light.set(now, transition=transition, **change)
        return {"result": None}

    def fade_step(self, now: float, finished: bool) -> list[Publish]:
        return [self._notify(now)] if finished else []
