"""The MQTT control surface: commands in, results and retained room state out.

Topics (``<base>`` is ``mqtt.base_topic``, ``ambience`` by default; see docs/mqtt.md):

- ``<base>/<room>/command``: a JSON command, e.g. ``{"action": "extend", "by": "10m"}``. The room
  comes from the topic. It runs through the one dispatcher (:class:`~ambience.app.controller.Controller`).
- ``<base>/<room>/command/result``: ``{"ok": true, "status": {...}}`` or ``{"ok": false, "error":
  "...", "issues": [...]}``, never retained; or, when the request carried an MQTT 5 response
  topic, on that topic with the request's correlation data echoed. A response topic must start
  with ``mqtt.response_topic_prefix`` (``<base>/``), have no wildcard and not be one of ambience's
  own topics; a command naming any other is neither run nor answered (one log line a minute):
  anyone who may command a room could otherwise make ambience publish on a device's command
  topic (a Tasmota ``cmnd/<lamp>/Backlog`` runs what the echoed ``id`` says).
- ``<base>/<room>/state`` (retained): the room's status JSON, as in ``ambience status --json`` and
  the HTTP API; published on every change, on every (re)connect and every :data:`REFRESH_S` while
  a session is on (one timer for all rooms; nothing runs while every room is idle). A home visit
  that leaves (``ambience visit leave``) clears it with an empty retained message (:meth:`withdraw`).

A command never takes the daemon down: every failure becomes an error reply. A retained command
is stale by definition (it would replay on every reconnect), so it is not executed but cleared.
Everything here runs on the event loop (the :class:`~ambience.infra.mqtt.Connection` hands messages
over), so it may call the controller directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

from paho.mqtt.client import topic_matches_sub

from ambience.app.commands import CommandInvalid, parse_command
from ambience.app.controller import Controller
from ambience.config import Config
from ambience.errors import AmbienceError, NotFound
from ambience.infra.mqtt import Connection, Received
from ambience.surfaces.errors import INTERNAL, kind_of

log = logging.getLogger(__name__)

MAX_PAYLOAD = 16 * 1024
"""Bytes; a longer command is refused without being parsed."""
REFRESH_S = 30.0
"""Seconds between re-publications of the state of rooms with a session on (``remaining_s``)."""
MAX_ID = 128
"""Characters of a request's ``id`` (echoed in the result)."""
MAX_ISSUES = 20
MAX_TEXT = 300
"""Characters of one issue message in a reply (they quote the bad value)."""
REFUSAL_LOG_S = 60.0
"""Seconds between two log lines about refused response topics: a flood is one line a minute."""


class MqttControl:
    """Commands on ``<base>/+/command``; results; retained ``<base>/<room>/state``."""

    def __init__(self, connection: Connection, controller: Controller, config: Config):
        self.connection = connection
        self.controller = controller
        self.base = config.mqtt.base_topic
        self.command_filter = f"{self.base}/+/command"
        self.response_prefix = config.mqtt.response_prefix
        self._own = (f"{self.base}/status", f"{self.base}/ha/#", self.command_filter, f"{self.base}/+/state",
                     f"{self.base}/+/ha/#")  # fmt: skip
        """ambience's own topics: answers never go there (``<base>/+/command/result`` may)."""
        self._refused = 0
        self._refusal_logged = -REFUSAL_LOG_S
        self._running = False
        self._started = False
        """start() was called: before it the daemon has not taken its sessions back, and a room's state
        published then (on connecting, or as its devices first report) would say idle while a session is on.
        After stop() the changes still go out: the rooms' after states at shutdown end as idle."""
        self._withdrawn = False
        """The room states were cleared (a home visit left): nothing is published again."""
        self._timer: asyncio.TimerHandle | None = None
        self._clearing: set[str] = set()
        """Command topics whose stale retained message we cleared: our own empty echo is ignored."""
        # Subscribed before the connection starts: the Connection renews it on every connect.
        connection.subscribe(self.command_filter, self._on_command)
        connection.on_connect(self._on_connect)
        controller.subscribe(self._on_change)

    # ---- lifetime -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._running = self._started = True
        self.publish_all()

    async def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def withdraw(self) -> list[str]:
        """Clear every room's retained state (an empty retained message) and publish none again: a
        home visit that leaves keeps nothing of ambience on the client's broker. The topics cleared."""
        await self.stop()
        self._withdrawn = True
        cleared = []
        for room_id in self.controller.rooms:
            if self.connection.publish(self.state_topic(room_id), b"", qos=1, retain=True):
                cleared.append(self.state_topic(room_id))
        return cleared

    # ---- topics -------------------------------------------------------------------------------

    def state_topic(self, room_id: str) -> str:
        return f"{self.base}/{room_id}/state"

    def result_topic(self, room_id: str) -> str:
        return f"{self.base}/{room_id}/command/result"

    def _room_of(self, topic: str) -> str:
        """``<base>/<room>/command`` -> ``<room>`` (the subscription guarantees the shape)."""
        return topic[len(self.base) + 1 : -len("/command")]

    # ---- room state ---------------------------------------------------------------------------

    def publish_state(self, room_id: str, status: dict[str, Any] | None = None) -> bool:
        """Publish one room's status (retained); returns whether a session is on in it."""
        if self._withdrawn:
            return False
        if status is None:
            status = self.controller.status(room_id)[0]
        self.connection.publish(self.state_topic(room_id), _json(status), qos=1, retain=True)
        return status.get("state", "idle") != "idle"

    def publish_all(self, *, only_on: bool = False) -> None:
        """Publish every room's state (``only_on``: only rooms with a session on)."""
        if self._withdrawn:
            return
        on = False
        for room_id in self.controller.rooms:
            try:
                status = self.controller.status(room_id)[0]
                active = status.get("state", "idle") != "idle"
                if active or not only_on:
                    self.publish_state(room_id, status)
                on = on or active
            except Exception:
                log.exception("publishing the state of room %s failed", room_id)
        if on:
            self._schedule()

    def _on_change(self, room_id: str) -> None:
        if not self._started:  # seen by the clinic-day soak: a restarted daemon said idle for ~2 s
            return
        if self.publish_state(room_id):
            self._schedule()

    def _on_connect(self) -> None:
        if self._running:  # not before start(): the daemon connects before it takes its sessions back
            self.publish_all()

    def _schedule(self) -> None:
        if self._timer is None and self._running:
            self._timer = asyncio.get_running_loop().call_later(REFRESH_S, self._refresh)

    def _refresh(self) -> None:
        """Keep ``remaining_s`` fresh while sessions are on; stops by itself once all rooms are idle."""
        self._timer = None
        self.publish_all(only_on=True)

    # ---- commands -----------------------------------------------------------------------------

    def _on_command(self, msg: Received) -> None:
        room_id = self._room_of(msg.topic)
        if msg.retained:
            # Stale: sent while we were away, or published with the retain flag. Never replayed.
            if msg.payload:
                log.warning("ignored a retained (stale) command on %s; clearing it", msg.topic)
                if self.connection.publish(msg.topic, b"", qos=1, retain=True):
                    self._clearing.add(msg.topic)
            return
        if not msg.payload and msg.topic in self._clearing:
            self._clearing.discard(msg.topic)  # the echo of our own clearing
            return
        if msg.response_topic is not None:
            why = self.refuse_response_topic(msg.response_topic)
            if why is not None:
                self._log_refusal(msg.topic, msg.response_topic, why)
                return
        if not self._running:
            self._reply(room_id, msg, _error("unavailable", "ambience is starting or stopping; try again"))
            return
        try:
            reply = self._handle(room_id, msg.payload)
        except Exception:
            # _handle maps every error itself; this is the last line of defence.
            log.exception("an MQTT command on %s failed", msg.topic)
            reply = _error("internal", "internal error (see the daemon's log)")
        if not reply["ok"]:
            log.info("MQTT command on %s refused: %s", msg.topic, reply["error"])
        # after the device messages of any commands still arriving (a burst): those are what people feel
        self.connection.background(self._reply, room_id, msg, reply)

    def _handle(self, room_id: str, payload: bytes) -> dict[str, Any]:
        return run_command(self.controller, room_id, payload)

    def refuse_response_topic(self, topic: str) -> str | None:
        """Why ``topic`` may not be answered on (None: it may)."""
        if "+" in topic or "#" in topic or "\0" in topic:
            return "has a wildcard or a NUL"
        if not topic.startswith(self.response_prefix):
            return f"is not under {self.response_prefix!r} (mqtt.response_topic_prefix)"
        if any(topic_matches_sub(own, topic) for own in self._own):
            return "is one of ambience's own topics"
        return None

    def _log_refusal(self, command_topic: str, response_topic: str, why: str) -> None:
        """One warning, then at most one a minute, counting the refusals in between."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged < REFUSAL_LOG_S:
            return
        more = f" ({self._refused - 1} more since the last such line)" if self._refused > 1 else ""
        log.warning("ignored a command on %s: its response topic %r %s; not run, not answered%s",
                    command_topic, _short(response_topic, 200), why, more)  # fmt: skip
        self._refused, self._refusal_logged = 0, now

    def _reply(self, room_id: str, msg: Received, reply: dict[str, Any]) -> None:
        topic = msg.response_topic or self.result_topic(room_id)
        self.connection.publish(topic, _json(reply), qos=1, retain=False, correlation=msg.correlation)


def _error(
    code: str,
    message: str,
    issues: list[tuple[str, str]] | None = None,
    echo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "ok": False,
        **(echo or {}),
        "error": _short(_one_line(message), 2 * MAX_TEXT),
        "code": code,
        "issues": [{"field": f, "message": _short(_one_line(m))} for f, m in (issues or [])[:MAX_ISSUES]],
    }


def _good_id(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_ID
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


__all__ = ["MqttControl", "MAX_PAYLOAD", "REFRESH_S", "run_command"]


def run_command(controller: Controller, room_id: str, payload: bytes) -> dict[str, Any]:
    """One MQTT command (a JSON payload for ``room_id``) through the dispatcher; the result to publish.

    Every error becomes a reply; the Home Assistant buttons use it too, so a press and a JSON
    command are validated and answered alike.
    """
    if len(payload) > MAX_PAYLOAD:
        return _error("too_large", f"the command is {len(payload)} bytes; at most {MAX_PAYLOAD} are accepted")
    if not payload:
        return _error("invalid", "an empty payload is no command; send a JSON object with an action")
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return _error("invalid", "the command is not UTF-8 text")
    except RecursionError:
        return _error("invalid", "the command is not valid JSON: nested too deeply")
    except ValueError as exc:
        where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        return _error("invalid", f"the command is not valid JSON: {getattr(exc, 'msg', exc)}{where}")
    if not isinstance(data, dict):
        return _error("invalid", f"a command is a JSON object with an action, not {_json_type(data)}")

    # ``id`` is echoed in the result; for ``cancel`` it also names the booking to cancel (docs/bookings.md)
    request_id = data.get("id") if data.get("action") == "cancel" else data.pop("id", None)
    echo: dict[str, Any] = {}
    if request_id is not None:
        if not _good_id(request_id):
            msg = f"is echoed in the result: a string of at most {MAX_ID} characters or a finite number"
            return _error("invalid", f"id: {msg}", [("id", msg)])
        echo["id"] = request_id
    if room_id not in controller.rooms:
        known = ", ".join(sorted(controller.rooms)) or "none configured"
        msg = f"unknown room {room_id!r}; known rooms: {known}"
        return _error("not_found", msg, [("room", msg)], echo)
    if "room" in data and data["room"] != room_id:
        msg = f"{_short(repr(data['room']))} differs from the room of the topic, {room_id!r}; leave it out"
        return _error("invalid", f"room: {msg}", [("room", msg)], echo)
    data["room"] = room_id
    try:
        command = parse_command(data, source="mqtt")
        result = controller.execute(command)
    except CommandInvalid as exc:
        issues = [(i.field, i.message) for i in exc.issues]
        first = f"{issues[0][0]}: {issues[0][1]}" if issues and issues[0][0] else (issues[0][1] if issues else "")
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        return _error("invalid", f"invalid command: {first}{more}", issues, echo)
    except AmbienceError as exc:
        named = [(exc.kind, str(exc))] if isinstance(exc, NotFound) else []
        return _error(kind_of(exc).mqtt, str(exc), named, echo)
    except Exception:
        log.exception("the MQTT command %s on room %s failed", _short(repr(data), 200), room_id)
        return _error(INTERNAL.mqtt, "internal error (see the daemon's log)", [], echo)
    status = result.rooms[0] if result.rooms else result.json()
    return {"ok": True, **echo, "status": status}
