"""Home Assistant's websocket API as a link the devices manager uses like its MQTT connection.

The ``homeassistant_api`` adapter stays pure, as the MQTT ones: it reads and writes *pseudo-topics*
that this link carries over the websocket (the plain protocol of
homeassistant/components/websocket_api, with the ``websockets`` package on the daemon's loop):

``hass:state/<entity_id>``
    The entity's whole state, as JSON ``{"state": "on", "attributes": {...}, "unit": "°C"}`` (``unit``:
    Home Assistant's temperature unit, from ``get_config``): once at every connect, then at every
    change. An entity Home Assistant does not have, or removed, is ``{"state": "unavailable"}``.
``hass:connection``
    ``offline`` when the websocket is lost (every entity is then unreachable); the states that come
    after the next connect say the rest.
``hass:call``
    A service call to make, as JSON ``{"domain", "service", "service_data", "target"}``. One that
    Home Assistant refuses is logged with its message (rate-limited); it is not retried here (the
    reconciler retries what is not confirmed).

The link connects (``auth`` with a long-lived access token), reads ``get_config``, then
``subscribe_entities`` with the entity ids subscribed (the compressed state format of
websocket_api/messages.py: ``a`` adds whole states, ``c`` changes them by ``+``/``-`` diffs, ``r``
removes them). Lost, it reconnects with backoff (1 s doubling to 30 s); a token Home Assistant
rejects (``auth_invalid``) is logged once, clearly, and tried again every :data:`AUTH_RETRY` seconds
(the token file may be fixed meanwhile: it is read at every try).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ambience.errors import DeviceError
from ambience.infra.mqtt import MessageHandler, Received

log = logging.getLogger(__name__)

STATE_PREFIX = "hass:state/"
CONNECTION_TOPIC = "hass:connection"
CALL_TOPIC = "hass:call"
PREFIX = "hass:"
"""Every topic this link carries starts with it (no MQTT topic of a configured device does)."""
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
AUTH_RETRY = 300.0
"""Seconds between two tries with a token Home Assistant refused."""
MAX_MESSAGE = 64 * 1024 * 1024
"""The largest websocket message read (``get_states`` of a big installation is a few MB)."""
ERROR_EVERY = 60.0


def state_topic(entity_id: str) -> str:
    return f"{STATE_PREFIX}{entity_id}"


class AuthInvalid(DeviceError):
    """Home Assistant refused the token."""


class HassLink:
    """One websocket to one Home Assistant; the same small surface as :class:`~ambience.infra.mqtt.Connection`
    that :class:`~ambience.devices.manager.Devices` uses: ``subscribe``, ``command``, ``on_connect``."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str],
        *,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self._token = token
        self._ca_file = ca_file
        self.clock = clock
        self.client_id = "ambience"
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._connect_callbacks: list[Callable[[], None]] = []
        self._states: dict[str, dict[str, Any]] = {}
        self.unit = "°C"
        self._ws: ClientConnection | None = None
        self._next_id = 1
        self._calls: dict[int, str] = {}
        """Service calls awaiting their result: id -> what was called (for the log line of a refusal)."""
        self._task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._logged: dict[str, float] = {}
        self.auth_error: str | None = None
        """Home Assistant's message when it refused the token (``None``: not refused)."""

    # ---- the Connection surface --------------------------------------------------------------

    def subscribe(self, topic: str, handler: MessageHandler, *, urgent: bool = True) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def on_connect(self, callback: Callable[[], None]) -> None:
        self._connect_callbacks.append(callback)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    fenced = False
    """Set by :meth:`fence`: no service call is sent any more (the site is another daemon's)."""
    may_send: Callable[[], bool] | None = None
    """A site's leader: call only while this says yes (its lease, ambience.infra.leadership)."""

    def fence(self) -> None:
        """This daemon lost its site's leadership: send nothing more (docs/failover.md)."""
        self.fenced = True

    def command(self, topic: str, payload: str | bytes) -> bool:
        """Send a service call (``hass:call``); ``False`` when not connected (the reconciler sends again
        what is wanted when the link is back)."""
        if topic != CALL_TOPIC:
            raise ValueError(f"{topic!r} is not a topic of the Home Assistant link")
        ws = self._ws
        if ws is None or not self.connected or self.fenced or (self.may_send is not None and not self.may_send()):
            return False
        call = json.loads(payload)
        msg_id = self._take_id()
        self._calls[msg_id] = f"{call['domain']}.{call['service']} on {_target(call)}"
        message = {"id": msg_id, "type": "call_service", **call}
        asyncio.get_running_loop().create_task(self._send(ws, message))
        return True

    @property
    def entity_ids(self) -> list[str]:
        return sorted(t[len(STATE_PREFIX) :] for t in self._handlers if t.startswith(STATE_PREFIX))

    # ---- lifetime ----------------------------------------------------------------------------

    async def start(self, wait: float | None = None) -> None:
        """Connect in the background (and reconnect whenever lost); with ``wait``, up to that many
        seconds for the first connect."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="homeassistant-api")
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), wait)

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            why = f": {self.auth_error}" if self.auth_error else ""
            raise DeviceError(f"Home Assistant at {self.url} not reached in {timeout:g} s{why}") from None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._connected.clear()

    async def _run(self) -> None:
        tries = 0
        while True:
            try:
                await self._session()
                tries = 0  # it had connected: the next try comes soon
                delay = BACKOFF[0]
            except asyncio.CancelledError:
                raise
            except AuthInvalid as exc:
                if self.auth_error != str(exc):
                    log.error("%s", exc)
                self.auth_error = str(exc)
                delay = AUTH_RETRY
            except (OSError, websockets.WebSocketException, TimeoutError, ValueError, KeyError) as exc:
                self._error("connect", "Home Assistant at %s: %s; trying again", self.url, _why(exc))
                delay = BACKOFF[min(tries, len(BACKOFF) - 1)]
                tries += 1
            finally:
                self._lost()
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        ssl_context = None
        if self.url.startswith("wss:"):
            ssl_context = ssl.create_default_context(cafile=self._ca_file)
        async with websockets.connect(self.url, ssl=ssl_context, max_size=MAX_MESSAGE, open_timeout=10) as ws:
            await self._authenticate(ws)
            self._ws = ws
            config = await self._request(ws, {"type": "get_config"})
            self.unit = str((config.get("unit_system") or {}).get("temperature") or "°C")
            self._states.clear()
            subscribe_id = self._take_id()
            entity_ids = self.entity_ids
            first = True
            if entity_ids:  # an empty list would subscribe every entity (websocket_api/commands.py)
                await ws.send(json.dumps({"id": subscribe_id, "type": "subscribe_entities", "entity_ids": entity_ids}))
            else:
                first = False
                self._now_connected(0)
            async for raw in ws:
                data = json.loads(raw)
                if not isinstance(data, dict):
                    continue
                if data.get("type") == "result":
                    self._result(data, subscribe_id)
                elif data.get("type") == "event" and data.get("id") == subscribe_id:
                    event = data.get("event") or {}
                    if first:  # the states at the connect: the devices are told they are back, then their states
                        first = False
                        self._now_connected(len(entity_ids))
                        self._apply(event)
                        await self._missing(ws, entity_ids, event.get("a") or {})
                    else:
                        self._apply(event)

    def _now_connected(self, followed: int) -> None:
        self.auth_error = None
        self._connected.set()
        log.info("Home Assistant at %s: connected, %d entities followed", self.url, followed)
        for callback in list(self._connect_callbacks):
            callback()

    async def _authenticate(self, ws: ClientConnection) -> None:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "auth_required":
            raise ValueError(f"not Home Assistant's websocket API (it said {str(hello)[:80]})")
        try:
            token = self._token()
        except OSError as exc:
            raise AuthInvalid(f"Home Assistant at {self.url}: the token cannot be read: {exc}") from None
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if answer.get("type") == "auth_invalid":
            raise AuthInvalid(
                f"Home Assistant at {self.url} refused the token (auth_invalid: {answer.get('message', '')}); "
                "make a long-lived access token (your profile → Security → Long-lived access tokens) and put it in "
                "homeassistant_api.token or token_file"
            )
        if answer.get("type") != "auth_ok":
            raise ValueError(f"unexpected answer to auth: {str(answer)[:80]}")

    async def _request(self, ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
        """One command's result, before the subscription runs (nothing else is read meanwhile)."""
        msg_id = self._take_id()
        await ws.send(json.dumps({"id": msg_id, **message}))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if reply.get("id") == msg_id and reply.get("type") == "result":
                if not reply.get("success"):
                    raise ValueError(f"{message['type']} failed: {reply.get('error')}")
                result = reply.get("result")
                return result if isinstance(result, dict) else {"result": result}

    async def _missing(self, ws: ClientConnection, wanted: list[str], found: dict[str, Any]) -> None:
        """Entities configured that Home Assistant does not have: one line each, with what it has nearby."""
        missing = [e for e in wanted if e not in found]
        if not missing:
            return
        msg_id = self._take_id()
        self._calls[msg_id] = "get_states"
        await ws.send(json.dumps({"id": msg_id, "type": "get_states"}))
        for entity_id in missing:
            self._deliver(entity_id, UNAVAILABLE)

    def _result(self, data: dict[str, Any], subscribe_id: int) -> None:
        msg_id = data.get("id")
        if not isinstance(msg_id, int) or msg_id == subscribe_id:
            if msg_id == subscribe_id and not data.get("success"):
                raise ValueError(f"subscribe_entities failed: {data.get('error')}")
            return
        what = self._calls.pop(msg_id, None)
        if what == "get_states" and data.get("success"):
            known = [s.get("entity_id", "") for s in data.get("result") or [] if isinstance(s, dict)]
            for entity_id in self.entity_ids:
                if entity_id not in known and entity_id not in self._states:
                    self._not_found(entity_id, known)
        elif what is not None and not data.get("success"):
            error = data.get("error") or {}
            self._error(what, "Home Assistant refused %s: %s", what, error.get("message") or error.get("code"))

    def _not_found(self, entity_id: str, known: list[str]) -> None:
        domain = entity_id.split(".", 1)[0]
        same = [k for k in known if k.startswith(f"{domain}.")]
        close = difflib.get_close_matches(entity_id, same, n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; its {domain} entities: {', '.join(same[:8]) or 'none'}"
        )
        log.error(
            "Home Assistant at %s has no entity %s%s (ambience devices --ha lists them)", self.url, entity_id, hint
        )

    def _apply(self, event: dict[str, Any]) -> None:
        for entity_id, state in merge_event(self._states, event):
            self._deliver(entity_id, state)

    def _deliver(self, entity_id: str, state: dict[str, Any]) -> None:
        topic = state_topic(entity_id)
        payload = json.dumps({**state, "unit": self.unit}).encode()
        for handler in list(self._handlers.get(topic, ())):
            handler(Received(topic, payload))

    def _lost(self) -> None:
        self._ws = None
        self._calls.clear()
        if self._connected.is_set():
            self._connected.clear()
            log.warning("Home Assistant at %s: connection lost; its entities are offline until it is back", self.url)
            for handler in list(self._handlers.get(CONNECTION_TOPIC, ())):
                handler(Received(CONNECTION_TOPIC, b"offline"))

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        try:
            await ws.send(json.dumps(message))
        except websockets.WebSocketException as exc:  # the connection went: the reader notices and reconnects
            self._error("send", "Home Assistant at %s: a service call was not sent: %s", self.url, _why(exc))

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _error(self, key: str, msg: str, *args: object) -> None:
        now = self.clock()
        if now < self._logged.get(key, 0.0):
            return
        self._logged[key] = now + ERROR_EVERY
        log.warning(msg, *args)


UNAVAILABLE: dict[str, Any] = {"state": "unavailable", "attributes": {}}


def merge_event(states: dict[str, dict[str, Any]], event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One ``subscribe_entities`` event applied to ``states`` (entity id -> ``{"state", "attributes"}``),
    in place: ``a`` adds whole (compressed) states, ``c`` changes them by ``+`` (the new state ``s`` and the
    attributes ``a`` that changed) and ``-`` (the attribute names ``a`` removed), ``r`` removes entities
    (homeassistant/components/websocket_api/messages.py ``_state_diff_event``). Returns each entity
    changed with its whole state now; a removed one is unavailable."""
    changed: list[tuple[str, dict[str, Any]]] = []
    added = event.get("a")
    for entity_id, compressed in (added if isinstance(added, dict) else {}).items():
        if not isinstance(compressed, dict):
            continue
        attributes = compressed.get("a")
        states[entity_id] = {
            "state": compressed.get("s"),
            "attributes": dict(attributes) if isinstance(attributes, dict) else {},
        }
        changed.append((entity_id, states[entity_id]))
    diffs = event.get("c")
    for entity_id, diff in (diffs if isinstance(diffs, dict) else {}).items():
        if not isinstance(diff, dict):
            continue
        state = states.setdefault(entity_id, {"state": None, "attributes": {}})
        plus: dict[str, Any] = diff["+"] if isinstance(diff.get("+"), dict) else {}
        if "s" in plus:
            state["state"] = plus["s"]
        if isinstance(plus.get("a"), dict):
            state["attributes"].update(plus["a"])
        minus: dict[str, Any] = diff["-"] if isinstance(diff.get("-"), dict) else {}
        for key in minus.get("a") or []:
            state["attributes"].pop(key, None)
        changed.append((entity_id, state))
    removed = event.get("r")
    for entity_id in removed if isinstance(removed, list) else []:
        states.pop(entity_id, None)
        changed.append((entity_id, UNAVAILABLE))
    return changed


def _target(call: dict[str, Any]) -> str:
    target = call.get("target") or {}
    entity = target.get("entity_id") if isinstance(target, dict) else None
    return str(entity or "?")


def _why(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def fetch_states(url: str, token: str, ca_file: str | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every entity's state, once (``ambience devices --ha``). Raises :class:`AuthInvalid`, OSError,
    TimeoutError or ``websockets`` errors."""
    link = HassLink(url, lambda: token, ca_file=ca_file)
    ssl_context = ssl.create_default_context(cafile=ca_file) if url.startswith("wss:") else None
    async with websockets.connect(url, ssl=ssl_context, max_size=MAX_MESSAGE, open_timeout=timeout) as ws:
        await asyncio.wait_for(link._authenticate(ws), timeout)
        result = await asyncio.wait_for(link._request(ws, {"type": "get_states"}), timeout)
    states = result.get("result")
    return [s for s in states if isinstance(s, dict)] if isinstance(states, list) else []


__all__ = [
    "CALL_TOPIC",
    "CONNECTION_TOPIC",
    "PREFIX",
    "STATE_PREFIX",
    "AuthInvalid",
    "HassLink",
    "fetch_states",
    "merge_event",
    "state_topic",
]
