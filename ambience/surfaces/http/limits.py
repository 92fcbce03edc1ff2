"""The HTTP server's own limits: a request must arrive in time, and only so many connections stay open.

uvicorn closes a kept-alive connection that says nothing for ``timeout_keep_alive`` seconds, but
never a fresh one that sends nothing, or a request head trickled in a byte at a time, and it has
no cap on open connections (``limit_concurrency`` answers 503 only once a request arrives, while
the connection, and its file descriptor, stay open). :class:`LimitedProtocol` is uvicorn's h11
protocol with those added:

- **request timeout**: from the moment a connection opens, or a response on it ends, the next
  request (head and body) has ``request_timeout`` seconds to arrive in full, or the connection
  is closed. A request that has arrived (an event stream, a slow sync) is never timed out.
- **connection cap**: at most ``limit`` connections are open. A new one past the cap closes the
  connection that has been idle longest (no request being answered: waiting for a request, or
  for the rest of a body nobody will read). If every connection is busy answering, the new
  one is answered ``503`` and closed.

:class:`Connections` is the bookkeeping shared by one server's connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

REFUSE_LINGER = 1.0
"""Seconds a refused connection waits for its request, so the 503 is read rather than reset."""
MAX_REFUSING = 32
"""Refused connections waiting at once; past that a new one is closed without an answer."""


def _refusal(limit: int) -> bytes:
    body = json.dumps(
        {"error": f"the API is busy: {limit} connections are open, each answering (http.max_connections); try again"}
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class Connections:
    """One server's open connections: idle ones oldest first, busy ones, and the refused still lingering."""

    def __init__(self, limit: int, request_timeout: float):
        self.limit = limit
        self.request_timeout = request_timeout
        self.idle: dict[LimitedProtocol, None] = {}
        """Insertion order is the order they became idle: the first is evicted first."""
        self.busy: set[LimitedProtocol] = set()
        self.refusing = 0
        self.evicted = 0
        self.refusal = _refusal(limit)

    @property
    def open(self) -> int:
        return len(self.idle) + len(self.busy)

    def admit(self) -> bool:
        """Room for one more connection, made by closing the longest-idle one if need be."""
        while self.open >= self.limit and self.idle:
            oldest = next(iter(self.idle))
            self.forget(oldest)
            self.evicted += 1
            log.warning("%d HTTP connections open (http.max_connections): closed the one idle longest", self.limit)
            oldest.close()
        return self.open < self.limit

    def idle_now(self, protocol: LimitedProtocol) -> None:
        self.busy.discard(protocol)
        self.idle.pop(protocol, None)
        self.idle[protocol] = None

    def busy_now(self, protocol: LimitedProtocol) -> None:
        self.idle.pop(protocol, None)
        self.busy.add(protocol)

    def forget(self, protocol: LimitedProtocol) -> None:
        self.idle.pop(protocol, None)
        self.busy.discard(protocol)


class LimitedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a request timeout and a place under the connection cap."""

    def __init__(self, *args: Any, connections: Connections, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = connections
        self._deadline: asyncio.TimerHandle | None = None
        self._admitted = False
        self._refusing = False

    # ---- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self.limits.admit():
            self._refuse(transport)
            return
        self._admitted = True
        super().connection_made(transport)
        self._update()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            if self._refusing:
                self.transport.write(self.limits.refusal)
            self.close()
            return
        super().data_received(data)
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if not self._admitted:
            if self._refusing:
                self._refusing = False
                self.limits.refusing -= 1
            return
        self.limits.forget(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    # ---- state ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close now, telling h11 (as uvicorn's own keep-alive timeout does)."""
        if self.transport.is_closing():
            return
        if self._admitted:
            try:
                self.conn.send(h11.ConnectionClosed())
            except h11.LocalProtocolError:  # in the middle of a response
                pass
        self.transport.close()

    def _update(self) -> None:
        """After h11 took in bytes or a response ended: idle or busy, and is a request still coming?"""
        if self.transport.is_closing():
            self._cancel_deadline()
            self.limits.forget(self)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.limits.busy_now(self)
        elif self not in self.limits.idle:
            self.limits.idle_now(self)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):  # the request is in
            self._cancel_deadline()
        elif self._deadline is None:
            self._deadline = self.loop.call_later(self.limits.request_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        log.debug("HTTP: closed a connection whose request did not arrive in %g s", self.limits.request_timeout)
        self.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, transport: asyncio.Transport) -> None:
        """Every connection is busy: answer 503 to the request when it comes, or close after a moment."""
        self.transport = transport
        log.warning(
            "%d HTTP connections open (http.max_connections), each busy: a new one is refused", self.limits.limit
        )
        if self.limits.refusing >= MAX_REFUSING:
            transport.close()
            return
        self._refusing = True
        self.limits.refusing += 1
        self._deadline = self.loop.call_later(REFUSE_LINGER, self.close)


__all__ = ["Connections", "LimitedProtocol"]
