"""The therapist's phone page: ``GET /``, its files under ``/static/``, and live room events.

The page (``ambience/surfaces/http/static/``: plain HTML, CSS and JavaScript, no build step, nothing fetched
from elsewhere) loads without a token; everything it shows comes from the token-protected
API. ``GET /api/events`` is a server-sent-events stream: on connect one ``event: room`` per
room (its status JSON, as ``GET /api/rooms/{room}``), then one whenever the controller says a
room changed, and a ``: keep-alive`` comment every 15 s so proxies and phones keep it open.

A home-screen app: ``/static/manifest.webmanifest`` (served as ``application/manifest+json``) with
its icons, and the service worker ``/sw.js``, served from the root so its scope is the whole page
(``/``). The worker keeps the page's shell (never ``/api``) for when the daemon cannot be reached;
what the page last knew of the rooms is in the page's own storage (docs/phone.md, "On the home
screen").

``EventSource`` cannot send headers, so this one endpoint also accepts the token as
``?token=``; compared in constant time like the bearer token, which it accepts as well. Either
is the admin token or a paired phone's (:class:`~ambience.infra.tokens.Pairing`); revoking the
phone ends its open streams at once.

``GET /pair`` is the page a pairing link opens (``static/pair.html``, ``pair.js``): it trades the
code in the link's fragment for the phone's device token (docs/phone.md).

The controller has no unsubscribe, so one listener per app fans changes out to a bounded
queue per open stream; a stream removes its queue when the client goes away, and
``app.state.web_hub.shutdown()`` ends them all when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ambience.infra.tokens import Pairing, check

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).with_name("static")
"""index.html, app.css, app.js: data files next to this module (no ``__init__``, so not a package
that would hide this module)."""
KEEPALIVE_S = 15.0
RETRY_MS = 2000
"""Told to EventSource: how soon to reconnect after the stream breaks."""
QUEUE_SIZE = 256
"""Room ids waiting for one slow stream; past that it gets a full refresh instead."""
RESYNC = "*"
"""A queue entry meaning: send every room again."""
CLOSE = ""
"""A queue entry meaning: the server is shutting down; end the stream."""

TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "The API token, for EventSource (which cannot send Authorization)",
}

mimetypes.add_type("application/manifest+json", ".webmanifest")  # Python's table lacks it

SECURITY_HEADERS = {
    # Only this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class Hub:
    """One controller listener, fanned out to a queue per open event stream."""

    def __init__(self, controller: Any):
        self.controller = controller
        self.queues: set[asyncio.Queue[str]] = set()
        self.owners: dict[asyncio.Queue[str], str] = {}
        """Each stream's token holder (``admin`` or a phone's id), so a revoked phone's streams end."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        controller.subscribe(self._changed)

    def open(self, owner: str = "") -> asyncio.Queue[str]:
        self.loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        if self.closed:
            queue.put_nowait(CLOSE)
        else:
            self.queues.add(queue)
            self.owners[queue] = owner
        return queue

    def close(self, queue: asyncio.Queue[str]) -> None:
        self.queues.discard(queue)
        self.owners.pop(queue, None)

    def drop(self, owners: set[str]) -> None:
        """End the streams of these token holders now (their tokens were revoked)."""
        for queue, owner in list(self.owners.items()):
            if owner in owners:
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[str]) -> None:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(CLOSE)

    def shutdown(self) -> None:
        """End every stream now (on the loop): the server's graceful shutdown need not wait for the phones."""
        self.closed = True
        for queue in list(self.queues):
            self._end(queue)

    def _changed(self, room_id: str) -> None:
        if not self.queues:
            return
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            # The controller is used from another thread (tests, tools): hand over to the streams' loop.
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(self._push, room_id)
            return
        self._push(room_id)

    def _push(self, room_id: str) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait(room_id)
            except asyncio.QueueFull:
                # A stalled client: forget what it missed and send it everything once it reads again.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)


def _event(status: dict[str, Any]) -> str:
    return f"event: room\ndata: {json.dumps(status, separators=(',', ':'))}\n\n"


def _unauthorized(message: str, header: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": header})


def _presented_token(request: Request) -> str | None:
    query = request.query_params.get("token")
    if query:
        return query
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


PAGE_PATHS = ("/", "/pair", "/desk", "/sw.js")
"""The page's own answers besides ``/static/``: compressed, like its files."""
COMPRESS_FROM = 1024
"""Bytes: a smaller answer goes as it is (gzip's own overhead would eat the gain)."""


class _CompressPage:
    """gzip the page's files (HTML, CSS, JavaScript: a phone's first load is 3× smaller) for a browser that
    accepts it; the API's answers and the event stream (never buffered) go through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=COMPRESS_FROM)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in PAGE_PATHS or path.startswith("/static/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _PageFiles(StaticFiles):
    """Static files with the page's headers (revalidated each load, so an upgrade shows at once)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def mount_web(
    app: FastAPI, controller: Any, token: str, *, keepalive: float = KEEPALIVE_S, pairing: Pairing | None = None
) -> None:
    """Add the phone page (``/``, ``/pair``, ``/static/``) and the event stream (``/api/events``) to ``app``.

    ``pairing`` says who a token is (default: the app's, else one over the controller's store).
    Calling it again for the same app, controller and token only changes ``keepalive``.
    """
    mounted = getattr(app.state, "web_mount", None)
    if mounted is not None:
        if mounted["controller"] is not controller or not check(token, mounted["token"]):
            raise RuntimeError("the phone page is already mounted on this app for another controller or token")
        mounted["keepalive"] = keepalive
        return
    settings: dict[str, Any] = {"controller": controller, "token": token, "keepalive": keepalive}
    app.state.web_mount = settings
    hub = Hub(controller)
    app.state.web_hub = hub
    access: Pairing = pairing or getattr(app.state, "pairing", None) or Pairing(controller.store, token)
    access.on_revoke.append(hub.drop)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @app.get("/pair", include_in_schema=False)
    async def pair_page() -> Response:
        return FileResponse(PAGE_DIR / "pair.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        return FileResponse(PAGE_DIR / "sw.js", media_type="text/javascript; charset=utf-8", headers=SECURITY_HEADERS)

    @app.get(
        "/api/events",
        tags=["rooms"],
        summary="Live room status as server-sent events",
        description="`event: room` with a room's status JSON: every room on connect, then each room "
        "whenever it changes; a comment every 15 s. The token may be sent as `?token=` (EventSource "
        "cannot send headers) or as `Authorization: Bearer`.",
        responses={200: {"content": {"text/event-stream": {}}}, 401: {"description": "no token, or a wrong one"}},
        openapi_extra={"parameters": [TOKEN_PARAMETER]},
    )
    async def events(request: Request) -> Response:
        presented = _presented_token(request)
        if presented is None:
            return _unauthorized("no token: send ?token=<token> or Authorization: Bearer <token>", "Bearer")
        who = access.who(presented)
        if who is None:
            return _unauthorized("wrong token", 'Bearer error="invalid_token"')

        async def stream() -> AsyncIterator[str]:
            queue = hub.open(who)  # before the first snapshot, so no change falls in between
            try:
                yield f"retry: {RETRY_MS}\n\n"
                for status in controller.status():
                    yield _event(status)
                while True:
                    try:
                        first = await asyncio.wait_for(queue.get(), settings["keepalive"])
                    except TimeoutError:
                        if access.who(presented) is None:  # revoked by another process sharing the store
                            return
                        yield ": keep-alive\n\n"
                        continue
                    pending = [first]
                    while not queue.empty():
                        pending.append(queue.get_nowait())
                    if CLOSE in pending:
                        return
                    if RESYNC in pending:
                        rooms = list(controller.rooms)
                    else:
                        rooms = list(dict.fromkeys(pending))  # each room once, latest state
                    for room_id in rooms:
                        try:
                            status = controller.status(room_id)[0]
                        except Exception:  # a room that went away, or a bug: never kill the stream
                            log.exception("status of room %s for the event stream failed", room_id)
                            continue
                        yield _event(status)
            finally:
                hub.close(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"},
        )

    app.mount("/static", _PageFiles(directory=PAGE_DIR), name="static")
    app.add_middleware(_CompressPage)


__all__ = ["mount_web", "Hub", "PAGE_DIR", "KEEPALIVE_S"]
