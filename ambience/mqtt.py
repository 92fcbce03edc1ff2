"""The broker connection. Knows MQTT, nothing about devices.

paho-mqtt runs its network thread; every event it raises is handed to the asyncio loop
(``loop.call_soon_threadsafe``) before anything else sees it, so no ambience state is ever
touched from paho's thread. What it does for its users:

- MQTT 5 by default (3.1.1 selectable), ``mqtt://`` or ``mqtts://`` with a CA file and an
  optional client certificate, a username and password (never logged);
- a Last Will: ``<base>/status`` = ``offline`` (retained), ``online`` once connected;
- automatic reconnect with a short backoff, subscriptions restored on every connect;
- commands are QoS 1, never retained, with an MQTT 5 message expiry; nothing is published
  while disconnected — after a reconnect the users re-send their *current* state instead
  of a stale backlog (``on_connect`` handlers are told).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .config import MqttConfig
from .errors import DeviceError

log = logging.getLogger(__name__)

RECONNECT_MIN, RECONNECT_MAX = 0.5, 1.5
"""Seconds between reconnect attempts: paho's default doubles up to 120 s."""


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool = False
    response_topic: str | None = None
    correlation: bytes | None = None


MessageHandler = Callable[[Received], None]


def _reason_text(reason: ReasonCode | int) -> str:
    text = str(reason)
    return {
        "Bad user name or password": "bad user name or password",
        "Not authorized": "not authorised (check the user name, password and the broker's ACL)",
    }.get(text, text)


class Connection:
    """One MQTT client for the daemon, with an asyncio face."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str | None = None,
        will: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
    ):
        self.config = config
        self.loop = loop
        self.client_id = client_id or config.client_id or f"ambience-{uuid.uuid4().hex[:8]}"
        self.status_topic = f"{config.base_topic}/status"
        self.v5 = config.protocol == "5"
        self.connected = False
        self.last_error: str | None = None
        self.connects = 0
        self._subscriptions: dict[str, list[MessageHandler]] = {}
        # Dispatch index: a dict for exact topics, a trie only for the few with wildcards. Matching
        # every message against every subscription took 74 % of the loop with 50 rooms (bench P1).
        self._exact: dict[str, list[MessageHandler]] = {}
        self._wild = MQTTMatcher()
        self._has_wild = False
        self._on_connect: list[Callable[[], None]] = []
        self._on_disconnect: list[Callable[[], None]] = []
        self._connected_event: asyncio.Event | None = None
        self._fatal: asyncio.Future[None] | None = None
        self._will = will
        self._stopping = False
        self._client = self._make_client()

    # ---- set-up ---------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        cfg = self.config
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if self.v5 else paho.MQTTv311,
            **({} if self.v5 else {"clean_session": True}),
        )
        client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)  # type: ignore[arg-type]
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.secret())
        if cfg.tls:
            try:
                client.tls_set(
                    ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                    certfile=str(cfg.cert_file) if cfg.cert_file else None,
                    keyfile=str(cfg.key_file) if cfg.key_file else None,
                )
            except (OSError, ssl.SSLError) as exc:
                raise DeviceError(f"TLS set-up for {cfg.url} failed: {exc}") from None
        if self._will:
            client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_message = self._paho_message
        client.on_connect_fail = self._paho_connect_fail
        return client

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Call ``handler`` (on the loop) for every message on ``topic`` (wildcards allowed)."""
        first = topic not in self._subscriptions
        handlers = self._subscriptions.setdefault(topic, [])
        handlers.append(handler)
        if "+" in topic or "#" in topic:
            self._wild[topic] = handlers
            self._has_wild = True
        else:
            self._exact[topic] = handlers
        if first and self.connected:
            self._client.subscribe(topic, qos=1)

    def on_connect(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the loop) after every (re)connect, subscriptions already renewed."""
        self._on_connect.append(callback)

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        self._on_disconnect.append(callback)

    # ---- lifetime ---------------------------------------------------------------------------

    async def start(self, wait: float | None = None) -> None:
        """Connect and keep connected. With ``wait``, raise :class:`DeviceError` if not up by then."""
        self.loop = self.loop or asyncio.get_running_loop()
        self._connected_event = asyncio.Event()
        self._fatal = self.loop.create_future()
        cfg = self.config
        try:
            await asyncio.to_thread(self._client.connect, cfg.host, cfg.port, 30)
        except ssl.SSLError as exc:
            raise DeviceError(f"TLS with the broker at {cfg.url} failed: {exc.reason or exc}") from None
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot reach the broker at {cfg.url}: {_os_error(exc)}"
            log.warning("%s; retrying in the background", self.last_error)
            self._client.connect_async(cfg.host, cfg.port, 30)
        self._client.loop_start()
        if wait is not None:
            await self.wait_connected(wait)

    async def wait_connected(self, timeout: float) -> None:
        assert self._connected_event is not None and self._fatal is not None
        done, _ = await asyncio.wait(
            [asyncio.ensure_future(self._connected_event.wait()), self._fatal],
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._fatal in done:
            self._fatal.result()
        if not self.connected:
            raise DeviceError(
                self.last_error or f"no connection to the broker at {self.config.url} within {timeout:g} s"
            )

    async def stop(self) -> None:
        """Say ``offline`` (retained) and disconnect cleanly."""
        if self.connected and self._will:
            info = self._client.publish(self.status_topic, "offline", qos=1, retain=True)
            await asyncio.to_thread(_wait_published, info, 2.0)
        self._stopping = True
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected = False

    # ---- publishing -------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: str | bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry: float | None = None,
        correlation: bytes | None = None,
    ) -> bool:
        """Publish now if connected; returns False (and sends nothing, later or ever) if not."""
        if not self.connected:
            return False
        props = None
        if self.v5 and (expiry or correlation is not None):
            props = Properties(PacketTypes.PUBLISH)
            if expiry:
                props.MessageExpiryInterval = max(1, int(expiry))
            if correlation is not None:
                props.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def command(self, topic: str, payload: str | bytes) -> bool:
        """A device command: QoS 1, never retained, expiring after ``command_expiry``."""
        return self.publish(topic, payload, qos=1, retain=False, expiry=self.config.command_expiry)

    # ---- paho's thread -> the loop ------------------------------------------------------------

    def _call(self, fn, *args) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _paho_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            self._call(self._refused, _reason_text(reason))
            return
        set_no_delay(client)
        # Subscribing here (paho's thread) renews the subscriptions before any message flows.
        topics = list(self._subscriptions)
        if topics:
            client.subscribe([(t, 1) for t in topics])
        if self._will:
            client.publish(self.status_topic, "online", qos=1, retain=True)
        self._call(self._connected)

    def _paho_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self._call(self._disconnected, str(reason))

    def _paho_connect_fail(self, client, userdata) -> None:
        self._call(self._connect_failed)

    def _paho_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        response = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        received = Received(msg.topic, msg.payload, bool(msg.retain), response, correlation)
        self._call(self._dispatch, received)

    # ---- on the loop -------------------------------------------------------------------------

    def _connected(self) -> None:
        was = self.connected
        self.connected = True
        self.last_error = None
        self.connects += 1
        if self._connected_event is not None:
            self._connected_event.set()
        log.info("connected to %s%s", self.config.url, " again" if self.connects > 1 else "")
        if not was:
            for callback in list(self._on_connect):
                try:
                    callback()
                except Exception:
                    log.exception("an on-connect handler failed")

    def _disconnected(self, reason: str) -> None:
        if self.connected and not self._stopping:
            log.warning("lost the broker at %s (%s); reconnecting", self.config.url, reason)
        self.connected = False
        if self._connected_event is not None:
            self._connected_event.clear()
        for callback in list(self._on_disconnect):
            callback()

    def _refused(self, reason: str) -> None:
        self.last_error = f"the broker at {self.config.url} refused the connection: {reason}"
        log.error("%s", self.last_error)
        if self._fatal is not None and not self._fatal.done() and self.connects == 0:
            self._fatal.set_exception(DeviceError(self.last_error))

    def _connect_failed(self) -> None:
        if self.last_error is None:
            self.last_error = f"cannot reach the broker at {self.config.url}"

    def _dispatch(self, msg: Received) -> None:
        matched = [self._exact.get(msg.topic, ())]
        if self._has_wild:
            matched += list(self._wild.iter_match(msg.topic))
        for handlers in matched:
            for handler in list(handlers):
                try:
                    handler(msg)
                except Exception:
                    log.exception("handling a message on %s failed", msg.topic)

def set_no_delay(client: paho.Client) -> None:
    """Nagle's algorithm held small MQTT packets ~40 ms on loopback; paho does not turn it off."""
    sock = client.socket()
    try:
        if sock is not None and hasattr(sock, "setsockopt"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _wait_published(info: paho.MQTTMessageInfo, timeout: float) -> None:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError):
        pass


def _os_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running?)"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
