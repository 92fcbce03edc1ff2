"""One site, one daemon: a daemon that finds another live one on its base topic refuses to start.

Two daemons on one base topic would both run every command and drive every device; and one's
Last Will would mark the other ``offline``. So at every connect a daemon says *hello* on
``<base>/daemon/hello``; a live daemon on that base topic answers on ``<base>/daemon/here``. A
daemon that hears an answer from another within :data:`ANSWER_WAIT` at start-up refuses to start
(:meth:`SitePresence.check`); one that hears of an older daemon later (after a reconnect: the
two started while the broker was away) stops. A SIGKILLed daemon answers nothing, so its
restart is never refused.

The payloads are small JSON objects (``instance``, ``host``, ``pid``, ``started_at``, and ``epoch`` for a
daemon that leads a site on PostgreSQL); anything else on those topics is ignored.

On a site with a standby (docs/failover.md) the site's lock decides, not who started first: a daemon
leading with epoch *n* ignores a peer that says a lower epoch (an old leader about to fence itself,
whose answer crossed the take-over), and stops for a peer with a higher one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ambience.errors import CommandError
from ambience.infra.mqtt import Connection, Received

log = logging.getLogger(__name__)

ANSWER_WAIT = 1.0
"""Seconds to wait for another daemon's answer at start-up (after our own hello came back)."""
MAX_PAYLOAD = 1024


@dataclass(frozen=True)
class Peer:
    instance: str
    host: str
    pid: int
    started_at: float
    epoch: int | None = None
    """The site's leader number, for a daemon holding a site's lock on PostgreSQL."""

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started_at, UTC).astimezone().isoformat(timespec="seconds")
        return f"on {self.host} (pid {self.pid}, running since {since})"


def parse_peer(payload: bytes) -> Peer | None:
    """A hello/here payload, or ``None`` for anything that is not one."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    instance, host, pid, started = (data.get(k) for k in ("instance", "host", "pid", "started_at"))
    epoch = data.get("epoch")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 < epoch < 1 << 62):
        return None
    if not (isinstance(instance, str) and 0 < len(instance) <= 64 and isinstance(host, str) and len(host) <= 255):
        return None
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 1 << 32:
        return None
    if isinstance(started, bool) or not isinstance(started, (int, float)) or not 0 <= started < 1e11:
        return None
    return Peer(instance, host, pid, float(started), epoch)


class SitePresence:
    """Say hello on every connect, answer other daemons' hellos, notice another live daemon."""

    def __init__(
        self, connection: Connection, base_topic: str, clock: Callable[[], float], on_conflict: Callable[[str], None]
    ):
        self.connection = connection
        self.me = Peer(uuid.uuid4().hex[:16], socket.gethostname(), os.getpid(), clock())
        self.hello_topic = f"{base_topic}/daemon/hello"
        self.here_topic = f"{base_topic}/daemon/here"
        self.others: dict[str, Peer] = {}
        self._echo = asyncio.Event()
        self._started = False
        self._on_conflict = on_conflict
        self.epoch: int | None = None
        """This daemon's leader number on its site (set once it holds the site's lock)."""
        connection.subscribe(self.hello_topic, self._hello)
        connection.subscribe(self.here_topic, self._here)
        connection.on_connect(self._say_hello)

    def _payload(self) -> str:
        me = self.me
        data = {"instance": me.instance, "host": me.host, "pid": me.pid, "started_at": me.started_at}
        if self.epoch is not None:
            data["epoch"] = self.epoch
        return json.dumps(data)

    def _superseded(self, peer: Peer) -> bool:
        """The peer led this site before us (a lower epoch): the lock is ours, it is stopping."""
        if self.epoch is not None and peer.epoch is not None and peer.epoch < self.epoch:
            log.warning(
                "the site's previous leader %s is still connected; it stops commanding (fenced)", peer.describe()
            )
            return True
        return False

    def _outranks(self, peer: Peer) -> bool:
        """The peer is the extra daemon, not us: by the site's lock where both hold epochs, else by age."""
        if self.epoch is not None and peer.epoch is not None:
            return peer.epoch > self.epoch
        return peer.started_at < self.me.started_at

    def _say_hello(self) -> None:
        self.connection.publish(self.hello_topic, self._payload(), qos=1)

    def _hello(self, msg: Received) -> None:
        peer = parse_peer(msg.payload)
        if peer is None:
            return
        if peer.instance == self.me.instance:
            self._echo.set()
            return
        self.connection.publish(self.here_topic, self._payload(), qos=1)
        if self._started and self._outranks(peer):
            self._conflict(peer)  # an older daemon said hello after a reconnect: we are the extra one

    def _here(self, msg: Received) -> None:
        peer = parse_peer(msg.payload)
        if peer is None or peer.instance == self.me.instance or self._superseded(peer):
            return
        self.others[peer.instance] = peer
        if self._started and self._outranks(peer):
            self._conflict(peer)

    def _conflict(self, peer: Peer) -> None:
        self._on_conflict(
            f"another ambience daemon {peer.describe()} runs on this base topic; this one (started later) stops"
        )

    async def check(self) -> None:
        """Raise :class:`CommandError` if another live daemon answered our hello (connected only)."""
        if not self.connection.connected:
            return  # checked again at the connect (see _hello/_here)
        if not self._echo.is_set():
            try:
                async with asyncio.timeout(ANSWER_WAIT * 2):
                    await self._echo.wait()
            except TimeoutError:
                pass
        if not self.others:
            await asyncio.sleep(ANSWER_WAIT / 4)  # their answers follow our echo within a round trip
        self._started = True
        if self.others:
            peer = next(iter(self.others.values()))
            raise CommandError(
                f"another ambience daemon {peer.describe()} runs on the broker with the base topic "
                f"{self.hello_topic.rsplit('/', 2)[0]!r}: one site, one daemon. Stop it, or give this one "
                f"its own mqtt.base_topic"
            )
