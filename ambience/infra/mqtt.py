"""The broker connection. Knows MQTT, nothing about devices.

paho-mqtt runs on the asyncio loop itself, as aiomqtt does: the socket is watched with
``add_reader``/``add_writer``, keep-alive runs from a task, and only the blocking TCP/TLS
connect happens in a worker thread. So every message is handled, and every publish written,
on the loop with no thread hand-off (with paho's own network thread a burst of commands waited
on the GIL between the two threads: bench P2). What it does for its users:

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
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ambience.config.sections import MqttConfig
from ambience.errors import DeviceError

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike  # paho defines it for type checkers only: what socket() returns

log = logging.getLogger(__name__)

RECONNECT_MIN, RECONNECT_MAX = 0.5, 1.5
"""Seconds between reconnect attempts (doubling): paho's default doubles up to 120 s."""
BACKGROUND_QUIET, BACKGROUND_MAX_WAIT = 0.002, 0.3
"""Background work waits for 2 ms without a command, 300 ms at most."""
KEEPALIVE = 30
"""Seconds: a PINGREQ when nothing else was sent; a broker silent for 1.5× that is gone."""


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
        self._expiry: dict[float, Properties] = {}
        self._urgent: set[int] = set()
        """The handler lists (by id) of subscriptions whose messages hold background work back."""
        self._background: deque[tuple[Callable[..., None], tuple]] = deque()
        self._background_timer: asyncio.TimerHandle | None = None
        self._background_since = 0.0
        self._urgent_at = 0.0
        self._on_connect: list[Callable[[], None]] = []
        self._on_disconnect: list[Callable[[], None]] = []
        self._connected_event: asyncio.Event | None = None
        self._fatal: asyncio.Future[None] | None = None
        self._will = will
        self._stopping = False
        self._leaving = False
        self.fenced = False
        """Set by :meth:`fence`: nothing is published any more, ``offline`` at the stop included."""
        self.may_send: Callable[[], bool] | None = None
        """A site's leader: publish only while this says yes (its lease, ambience.infra.leadership)."""
        self._loop_thread: int | None = None
        self._fd: int | None = None
        self._closed_event: asyncio.Event | None = None
        self._misc: asyncio.Task | None = None
        self._reconnecting: asyncio.Task | None = None
        self._lost_again = False
        """The connection a reconnect was making was lost before that reconnect returned: it tries again."""
        self._client = self._make_client()
        if will:
            # Another client's Last Will (a daemon that died on this base topic, its restart already
            # running) must not mark this live one offline: say online again.
            self.subscribe(self.status_topic, self._status_seen, urgent=False)

    # ---- set-up ---------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        cfg = self.config
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if self.v5 else paho.MQTTv311,
            clean_session=None if self.v5 else True,  # MQTT 5 has clean_start (on connect) instead
        )
        client.max_inflight_messages_set(0)  # until the broker says its Receive Maximum (on CONNACK)
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
        return client

    def subscribe(self, topic: str, handler: MessageHandler, *, urgent: bool = True) -> None:
        """Call ``handler`` (on the loop) for every message on ``topic`` (wildcards allowed).

        ``urgent=False``: these messages (device reports) do not hold back :meth:`background` work.
        """
        first = topic not in self._subscriptions
        handlers = self._subscriptions.setdefault(topic, [])
        handlers.append(handler)
        if urgent:
            self._urgent.add(id(handlers))
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
        self._loop_thread = threading.get_ident()
        self._connected_event = asyncio.Event()
        self._closed_event = asyncio.Event()
        self._fatal = self.loop.create_future()
        client = self._client
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        cfg = self.config
        try:
            await asyncio.to_thread(client.connect, cfg.host, cfg.port, KEEPALIVE)
        except ssl.SSLError as exc:
            raise DeviceError(f"TLS with the broker at {cfg.url} failed: {exc.reason or exc}") from None
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot reach the broker at {cfg.url}: {_os_error(exc)}"
            log.warning("%s; retrying in the background", self.last_error)
            self._schedule_reconnect()
        self._misc = self.loop.create_task(self._keepalive(), name="mqtt-keepalive")
        if wait is not None:
            await self.wait_connected(wait)

    async def wait_connected(self, timeout: float) -> None:
        assert self._connected_event is not None and self._fatal is not None
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._connected_event.wait()), self._fatal]
        done, _ = await asyncio.wait(
            waiters,
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._fatal in done:
            self._fatal.result()
        if not self.connected:
            raise DeviceError(
                self.last_error or f"no connection to the broker at {self.config.url} within {timeout:g} s"
            )

    def _status_seen(self, msg: Received) -> None:
        if msg.payload == b"offline" and self.connected and not self._stopping and not self._leaving:
            log.warning("%s said offline while this daemon runs (an old Last Will?); saying online", self.status_topic)
            self.publish(self.status_topic, "online", qos=1, retain=True)

    async def stop(self, *, retract: bool = False) -> None:
        """Say ``offline`` (retained) and disconnect cleanly. ``retract``: clear the retained status
        instead (a home visit that leaves: nothing of ambience stays on the broker)."""
        self._leaving = True
        if self.connected and self._will and not self.fenced:
            info = self._client.publish(self.status_topic, b"" if retract else "offline", qos=1, retain=True)
            await asyncio.to_thread(_wait_published, info, 2.0)
        self._stopping = True
        for task in (self._reconnecting, self._misc):
            if task is not None:
                task.cancel()
        if self._client.socket() is not None and self._closed_event is not None:
            self._closed_event.clear()
            self._client.disconnect()  # written by the loop; paho closes the socket after it
            try:
                async with asyncio.timeout(2.0):
                    await self._closed_event.wait()
            except TimeoutError:
                sock = self._client.socket()
                self._unwatch()
                if sock is not None:
                    sock.close()
        self.connected = False

    # ---- paho on the loop --------------------------------------------------------------------

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn`` now if on the loop's thread, else hand it over (the connect runs in a worker)."""
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        elif self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _socket_open(self, client: paho.Client, userdata: Any, sock: SocketLike) -> None:
        set_no_delay(client)
        self._on_loop(self._watch, sock)

    def _watch(self, sock: SocketLike) -> None:
        if self.loop is None or sock.fileno() < 0 or self._client.socket() is not sock:
            return  # already closed again
        self._fd = sock.fileno()
        self.loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        client = self._client
        client.loop_read()
        sock = client.socket()
        # TLS: what the SSL object decrypted already is not readable on the socket any more
        while sock is not None and hasattr(sock, "pending") and sock.pending() > 0:
            client.loop_read()
            sock = client.socket()

    def _socket_close(self, client: paho.Client, userdata: Any, sock: SocketLike) -> None:
        self._on_loop(self._unwatch)

    def _unwatch(self) -> None:
        if self._fd is not None and self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self._fd)
            self.loop.remove_writer(self._fd)
        self._fd = None
        if self._closed_event is not None:
            self._closed_event.set()

    def _register_write(self, client: paho.Client, userdata: Any, sock: SocketLike) -> None:
        self._on_loop(self._want_write, sock)

    def _want_write(self, sock: SocketLike) -> None:
        if self.loop is not None and sock.fileno() >= 0 and self._client.socket() is sock:
            self.loop.add_writer(sock.fileno(), self._client.loop_write)

    def _unregister_write(self, client: paho.Client, userdata: Any, sock: SocketLike) -> None:
        self._on_loop(self._no_write, sock)

    def _no_write(self, sock: SocketLike) -> None:
        if self.loop is not None and sock.fileno() >= 0:
            self.loop.remove_writer(sock.fileno())

    async def _keepalive(self) -> None:
        """paho's housekeeping: PINGREQ when idle, and a dead connection noticed after keep-alive."""
        while True:
            await asyncio.sleep(1.0)
            if self._client.socket() is not None:
                self._client.loop_misc()

    def _schedule_reconnect(self) -> None:
        if self._stopping or self.loop is None:
            return
        if self._reconnecting and not self._reconnecting.done():
            # lost while a reconnect is under way: the connection it is making was closed before the
            # reconnect returned (a broker that accepts and closes at once: one starting up, Docker's
            # port proxy while the container restarts). It must try again, not return as if connected.
            self._lost_again = True
            return
        self._reconnecting = self.loop.create_task(self._reconnect(), name="mqtt-reconnect")

    async def _reconnect(self) -> None:
        """Try again every RECONNECT_MIN … RECONNECT_MAX seconds (doubling) until connected."""
        delay = RECONNECT_MIN
        while not self._stopping:
            await asyncio.sleep(delay)
            self._lost_again = False
            try:
                await asyncio.to_thread(self._client.reconnect)
                if not self._lost_again:
                    return  # CONNACK (or a refusal) arrives through the reader; a loss after it, a new task
                self.last_error = f"the broker at {self.config.url} closed the connection before answering"
                log.debug("%s", self.last_error)
            except (OSError, ValueError, ssl.SSLError) as exc:
                self.last_error = f"cannot reach the broker at {self.config.url}: {_os_error(exc)}"
                log.debug("%s", self.last_error)
            delay = min(RECONNECT_MAX, delay * 2)

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
        if not self.connected or self.fenced or (self.may_send is not None and not self.may_send()):
            return False
        props = None
        if self.v5 and correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            if expiry:
                props.MessageExpiryInterval = max(1, int(expiry))
            props.CorrelationData = correlation
        elif self.v5 and expiry:
            props = self._expiry.get(expiry)
            if props is None:  # built once: paho only reads it, and building one per command showed in profiles
                props = self._expiry[expiry] = Properties(PacketTypes.PUBLISH)
                props.MessageExpiryInterval = max(1, int(expiry))
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def fence(self) -> None:
        """This daemon may no longer speak for its site (it lost the leadership): publish nothing from
        now on — no device command, no status, no ``offline`` when it stops (the new leader says
        ``online``); the clean disconnect at the stop keeps the Last Will from being published too."""
        self.fenced = True

    def command(self, topic: str, payload: str | bytes) -> bool:
        """A device command: QoS 1, never retained, expiring after ``command_expiry``."""
        return self.publish(topic, payload, qos=1, retain=False, expiry=self.config.command_expiry)

    # ---- paho's callbacks (on the loop, or the connect's worker thread) -----------------------

    def _paho_connect(self, client, userdata, flags, reason, properties) -> None:
        if self._stopping:  # a reconnect that finished after stop()
            client.disconnect()
            return
        if reason.is_failure:
            self._on_loop(self._refused, _reason_text(reason))
            return
        # MQTT 5: never more unacknowledged QoS 1 publishes than the broker's Receive Maximum
        # (mosquitto says 20 unless max_inflight_messages is set); paho does not do this itself.
        # Without one (3.1.1, or none said) paho's 0 = unlimited, which also spares paho a walk of
        # every message in flight on each PUBACK (quadratic in a burst: bench P2).
        # The public setter refuses on an open connection; paho reads the field when it next sends.
        client._max_inflight_messages = int(getattr(properties, "ReceiveMaximum", 0) or 0) if self.v5 else 0
        # Subscribing before anything else renews the subscriptions before any message flows.
        topics = list(self._subscriptions)
        if topics:
            client.subscribe([(t, 1) for t in topics])
        if self._will and not self.fenced:
            client.publish(self.status_topic, "online", qos=1, retain=True)
        self._on_loop(self._connected)

    def _paho_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self._on_loop(self._disconnected, str(reason))

    def _paho_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        response = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        self._on_loop(self._dispatch, Received(msg.topic, bytes(msg.payload), bool(msg.retain), response, correlation))

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
        self._schedule_reconnect()

    def _refused(self, reason: str) -> None:
        self.last_error = f"the broker at {self.config.url} refused the connection: {reason}"
        log.error("%s", self.last_error)
        if self._fatal is not None and not self._fatal.done() and self.connects == 0:
            self._fatal.set_exception(DeviceError(self.last_error))

    # ---- background work ------------------------------------------------------------------------

    def background(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop once commands stop arriving for BACKGROUND_QUIET seconds
        (BACKGROUND_MAX_WAIT at most): answers, room state and device reports wait while a burst of
        commands is turned into device messages (bench P2). In order; an error is logged."""
        loop = self.loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop yet: nothing to wait for
                fn(*args)
                return
        self._background.append((fn, args))
        if self._background_timer is None:
            self._background_since = loop.time()
            self._background_timer = loop.call_later(BACKGROUND_QUIET, self._run_background)

    def _run_background(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._urgent_at < BACKGROUND_QUIET and now - self._background_since < BACKGROUND_MAX_WAIT:
            self._background_timer = loop.call_later(BACKGROUND_QUIET, self._run_background)
            return
        self._background_timer = None
        while self._background:
            fn, args = self._background.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("background work %r failed", fn)

    def _dispatch(self, msg: Received) -> None:
        matched = [self._exact.get(msg.topic, ())]
        if self._has_wild:
            matched += list(self._wild.iter_match(msg.topic))
        if self.loop is not None and any(id(handlers) in self._urgent for handlers in matched):
            self._urgent_at = self.loop.time()
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
