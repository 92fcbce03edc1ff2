"""The HTTP API: FastAPI served by uvicorn in the daemon's own loop, every command through the dispatcher.

An action is built from the path (room, action) and the JSON body, then validated once by
:func:`~ambience.app.commands.parse_command` and run by :meth:`Controller.execute`. Errors map the
same way on every surface::

    CommandInvalid, a bad body or query   422  {"error": "...", "issues": [{"field", "message"}]}
    the rest of the error tree            ambience.surfaces.errors.TABLE (404, 409, 503 …)  {"error": "...", "code": "..."}
    no or a wrong token                   401  {"error": "..."}  + WWW-Authenticate: Bearer
    a phone's token on an admin route     403  {"error": "..."}  (pairing and revoking phones)
    a wrong, used or expired pairing code 403  {"error": "..."}
    a body over 64 KiB                    413  {"error": "..."}
    every connection busy (http_limits)   503  {"error": "..."}  + Retry-After: 1

What ``/openapi.json`` says of each route is in :mod:`ambience.openapi`; the connection
limits (request timeout, ``http.max_connections``) in :mod:`ambience.http_limits`.

A request may carry the admin token or a paired phone's device token (:class:`~ambience.infra.tokens.Pairing`);
``POST /api/pair`` needs neither: it trades a pairing code for a device token. With ``http.tls`` the
API is served over HTTPS (:mod:`ambience.infra.tls`).

Handlers are ``async def`` so they run on the loop that owns all state, never in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import difflib
import functools
import hashlib
import hmac
import json
import logging
import re
import resource
import socket
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ambience import __version__
from ambience.app.commands import AddClient, ClientAdd, CommandInvalid, Move, RemoveClient, parse_command
from ambience.app.controller import Controller
from ambience.errors import AmbienceError, CalendarError, CommandError, InvalidFile, Issue
from ambience.infra import tokens
from ambience.infra.tls import TlsError, server_certificate, server_context
from ambience.infra.tokens import Pairing, PairingRefused, token_for_daemon, token_path, token_source
from ambience.model._base import Strict
from ambience.model.parse import field_path, issues_from, plain_words
from ambience.surfaces.errors import kind_of
from ambience.surfaces.http import desk
from ambience.surfaces.http import openapi as spec
from ambience.surfaces.http.limits import Connections, LimitedProtocol
from ambience.surfaces.http.phone import mount_web
from ambience.units import Minutes

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
"""Bytes; a command is a few hundred."""
SOURCE = "request body"
MAX_MESSAGE = 300
"""Characters of an error message; a huge bad value is cut in the middle."""


# ---- errors -------------------------------------------------------------------------------------


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    half = MAX_MESSAGE // 2
    return f"{text[:half]} … {text[-half:]}"


def _invalid(issues: list[Issue]) -> JSONResponse:
    shown = [{"field": i.field, "message": _clip(i.message)} for i in issues]
    summary = "; ".join(f"{i['field']}: {i['message']}" if i["field"] else i["message"] for i in shown)
    return JSONResponse({"error": summary, "issues": shown}, status_code=422)


async def _ambience_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidFile):
        return _invalid(exc.issues)
    assert isinstance(exc, AmbienceError)
    kind = kind_of(exc)
    return JSONResponse({"error": _clip(str(exc)), "code": kind.mqtt}, status_code=kind.http)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation (query parameters) answered in the same shape as a bad command."""
    assert isinstance(exc, RequestValidationError)
    issues = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = field_path(loc[1:]) or field_path(loc[:1])
        message = (
            "is required but missing" if err.get("type") == "missing" else plain_words(err, joiner=" is not allowed: ")
        )
        issues.append(Issue(SOURCE, field, message))
    return _invalid(issues)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 405:  # starlette names only the methods of the first route on the path
        methods = _split((headers or {}).get("Allow", "")) | _documented_methods(request)
        headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)


def _split(header: str) -> set[str]:
    return {method.strip() for method in header.split(",") if method.strip()}


def _documented_methods(request: Request) -> set[str]:
    """The methods /openapi.json lists for this request's path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in operations}
    return methods


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "internal error; see the daemon's log"}, status_code=500)


# ---- request plumbing -----------------------------------------------------------------------


_bearer = HTTPBearer(auto_error=False, description="The token from `<state_dir>/token`, or `http.token`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _bearer_check(pairing: Pairing):
    """The admin token or a paired phone's; who it is goes to ``request.state.who``."""

    async def require_token(request: Request, credentials: Credentials) -> None:
        if credentials is None:
            raise HTTPException(401, "no token: send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
        who = pairing.who(credentials.credentials)
        if who is None:
            raise HTTPException(401, "wrong token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        request.state.who = who

    return require_token


async def _admin_only(request: Request) -> None:
    if getattr(request.state, "who", None) != tokens.ADMIN:
        raise HTTPException(403, "a phone's token cannot pair or revoke phones; use the admin token (ambience pair)")


class PairingAsk(Strict):
    valid_for: Annotated[Minutes, Field(gt=0, le=tokens.PAIRING_MAX)] = tokens.PAIRING_FOR
    """How long the code may be used: a length, so a bare number is minutes (docs/units.md)."""


class PairAsk(Strict):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(max_length=200)] | None = None


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _validated(model: type[Strict], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise CommandInvalid(issues_from(exc, model, SOURCE)) from None


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def _known_query(request: Request) -> None:
    """A query parameter the route does not take is refused, as an unknown key in a body is."""
    route = request.scope.get("route")
    known = _query_names(route.dependant) if route else set()
    issues = []
    for key in request.query_params:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(known)) or 'none'}"
            issues.append(Issue("request query", key, f"unknown query parameter; {hint}"))
    if issues:
        raise CommandInvalid(issues)


async def raw_body(request: Request, what: str = "a command is a small JSON object") -> bytes:
    """The body's bytes; more than :data:`MAX_BODY` is refused (413) before it is all read."""
    too_large = HTTPException(413, f"the body is over {MAX_BODY // 1024} KiB; {what}")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise too_large
    raw = bytearray()
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise too_large
    except ClientDisconnect:  # gone, or closed for taking too long: nobody reads the answer
        raise HTTPException(408, "the body did not arrive; the connection is closed") from None
    return bytes(raw)


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object in the body (``{}`` if empty); at most :data:`MAX_BODY` bytes are read."""
    raw = await raw_body(request)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _whole("the body is not UTF-8 text") from None
    except RecursionError:
        raise _whole("the body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise _whole(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError:  # an integer of thousands of digits
        raise _whole("the body holds a number too long to read") from None
    if not isinstance(data, dict):
        raise _whole(f"the body must be a JSON object, not {_JSON_TYPE.get(type(data), type(data).__name__)}")
    return data


_JSON_TYPE = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false"}
_JSON_TYPE[type(None)] = "null"


def _whole(message: str) -> CommandInvalid:
    return CommandInvalid([Issue(SOURCE, "", message)])


def _without_path_keys(issues: list[Issue], path_keys: tuple[str, ...] = ("action", "room")) -> list[Issue]:
    """'allowed keys: action, client, …, room' — but in a body, action and room come from the URL."""
    out = []
    for issue in issues:
        head, sep, keys = issue.message.partition("allowed keys: ")
        if sep:
            keys = ", ".join(k for k in keys.split(", ") if k not in path_keys)
        out.append(Issue(issue.source, issue.field, head + sep + keys))
    return out


def _leave_force(body: dict[str, Any]) -> bool:
    """``force`` of a leave's body (true or false, JSON's own); any other key refused, naming it."""
    issues = [Issue(SOURCE, key, "is not read here; allowed keys: force") for key in body if key != "force"]
    force = body.get("force", False)
    if not isinstance(force, bool):
        issues.append(Issue(SOURCE, "force", f"{_clip(json.dumps(force))} is not true or false"))
    if issues:
        raise CommandInvalid(issues)
    return force


async def _execute(controller: Controller, action: str, room: str, request: Request) -> dict[str, Any]:
    controller.room(room)  # an unknown room is 404 whatever the body
    body = await read_body(request)
    clash = [Issue(SOURCE, key, "comes from the URL; leave it out of the body") for key in ("action", "room")]
    if any(key in body for key in ("action", "room")):
        raise CommandInvalid([issue for issue in clash if issue.field in body])
    try:
        command = parse_command({**body, "action": action, "room": room}, source=SOURCE)
    except CommandInvalid as exc:
        raise CommandInvalid(_without_path_keys(exc.issues)) from None
    return controller.execute(command).json()


def page_settings(controller: Controller, units: str) -> dict[str, Any]:
    """``GET /api/settings``: the favourites only those the library holds now (it may have been reloaded)."""
    known = controller.library.presets
    rooms = {room_id: room.config for room_id, room in controller.rooms.items()}
    return {
        "units": units,
        "home_visit": any(room.home_visit for room in rooms.values()),
        "version": __version__,
        "favourites": {room_id: [p for p in room.favourites if p in known] for room_id, room in rooms.items()},
    }


def create_app(controller: Controller, token: str, pairing: Pairing | None = None, *, units: str = "metric") -> FastAPI:
    """The API and the pages for ``controller``: ``pairing`` defaults to one over the controller's store with
    ``token`` as the admin token; ``units`` (the config's ``units``) is what the pages show."""
    pairing = pairing or Pairing(controller.store, token, controller.clock)
    app = FastAPI(
        title="ambience",
        version=__version__,
        description="Runs massage-room sessions: climate, lights and music. Every endpoint but "
        "`/healthz`, `POST /api/pair` and the webhook needs `Authorization: Bearer <token>`: the admin token, "
        "or a paired phone's.",
        docs_url=None,  # swagger-ui and ReDoc come from a CDN: not on a page that holds the token
        redoc_url=None,
        responses=spec.EVERY_ROUTE,
    )
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return app.openapi_schema or spec.tidy(default_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.pairing = pairing
    app.state.serving = {"scheme": "http", "port": None, "fingerprint": None}
    """How serve_http listens, for the pairing link: scheme, port, the TLS certificate's fingerprint."""
    app.add_exception_handler(AmbienceError, _ambience_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/healthz", tags=["health"], summary="Liveness; needs no token")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    api = APIRouter(
        prefix="/api",
        dependencies=[Depends(_bearer_check(pairing)), Depends(_known_query)],
        responses={401: spec.UNAUTHORIZED, 422: spec.INVALID},
    )

    @api.get("/rooms", tags=["rooms"], summary="Every room's status")
    async def rooms() -> list[dict[str, Any]]:
        return controller.status()

    @api.get("/rooms/{room}", tags=["rooms"], summary="One room's status", responses={404: spec.ROOM_UNKNOWN})
    async def room_status(room: spec.RoomPath) -> dict[str, Any]:
        return controller.status(room)[0]

    @api.post("/rooms/{room}/start", tags=["sessions"], summary="Start a session", openapi_extra=spec.START_BODY,
              responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def start(room: spec.RoomPath, request: Request) -> dict[str, Any]:
        return await _execute(controller, "start", room, request)

    @api.post("/rooms/{room}/pause", tags=["sessions"], summary="Pause: countdown and music freeze",
              openapi_extra=spec.NO_BODY, responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def pause(room: spec.RoomPath, request: Request) -> dict[str, Any]:
        return await _execute(controller, "pause", room, request)

    @api.post("/rooms/{room}/resume", tags=["sessions"], summary="Resume a paused session", openapi_extra=spec.NO_BODY,
              responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def resume(room: spec.RoomPath, request: Request) -> dict[str, Any]:
        return await _execute(controller, "resume", room, request)

    @api.post("/rooms/{room}/extend", tags=["sessions"], summary="Extend (or, negative, shorten)",
              openapi_extra=spec.EXTEND_BODY, responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def extend(room: spec.RoomPath, request: Request) -> dict[str, Any]:
        return await _execute(controller, "extend", room, request)

    @api.post("/rooms/{room}/stop", tags=["sessions"], summary="Stop: the after state at once", openapi_extra=spec.NO_BODY,
              responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def stop(room: spec.RoomPath, request: Request) -> dict[str, Any]:
        return await _execute(controller, "stop", room, request)

    @api.post("/visit/leave", tags=["sessions"], summary="A home visit leaves: the home put back, ambience off "
              "the broker, the daemon stops", openapi_extra=spec.LEAVE_BODY, responses=spec.COMMAND_ERRORS)  # fmt: skip
    async def visit_leave(request: Request) -> JSONResponse:
        force = _leave_force(await read_body(request))
        departure = controller.departure
        if departure is None:
            raise CommandError("leaving is done by the running daemon (ambience serve)")
        report = await departure.leave(force)
        # the daemon stops once the report is sent: the reply is the last thing it says
        return JSONResponse(report, background=BackgroundTask(departure.go))

    @api.get("/presets", tags=["presets"], summary="The preset library")
    async def presets() -> list[dict[str, Any]]:
        return controller.presets()

    @api.get("/clients", tags=["clients"], summary="Clients, their comfort preferences and their last preset")
    async def clients() -> list[dict[str, Any]]:
        last = controller.store.last_presets()
        return [{**client, "last_preset": last.get(client["label"])} for client in controller.clients()]

    @api.get("/settings", tags=["settings"], summary="What the phone page shows and how: units, home visit, favourites",
             response_model=spec.Settings)  # fmt: skip
    async def settings() -> dict[str, Any]:
        return page_settings(controller, units)

    @api.post("/clients", tags=["clients"], summary="Add (or replace) a client", status_code=201,
              openapi_extra=spec.CLIENT_BODY, responses={413: spec.TOO_LARGE, 422: spec.INVALID})  # fmt: skip
    async def add_client(request: Request) -> dict[str, Any]:
        body = await read_body(request)
        try:
            client = ClientAdd.model_validate(body)
        except ValidationError as exc:
            raise CommandInvalid(issues_from(exc, ClientAdd, SOURCE)) from None
        return controller.execute(AddClient(label=client.label, comfort=client.comfort)).json()

    @api.delete("/clients/{label}", tags=["clients"], summary="Remove a client", status_code=204,
                responses={404: spec.error("no client with this label"), 422: spec.INVALID})  # fmt: skip
    async def remove_client(label: spec.LabelPath) -> Response:
        controller.execute(RemoveClient(label=label))
        return Response(status_code=204)

    @api.get("/history", tags=["history"], summary="Past sessions, newest first",
             responses={404: spec.ROOM_UNKNOWN, 422: spec.INVALID})  # fmt: skip
    async def history(
        room: spec.RoomFilter = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        return controller.history(room or None, limit)

    @api.get("/bookings", tags=["bookings"], summary="Future and running bookings",
             responses={404: spec.ROOM_UNKNOWN, 422: spec.INVALID})  # fmt: skip
    async def bookings(
        room: spec.RoomFilter = "",
        day: Annotated[spec.Day, Query(description="Only this day (the clinic's time zone)")] = None,
    ) -> list[dict[str, Any]]:
        return controller.list_bookings(room or None, day)

    @api.post("/bookings", tags=["bookings"], summary="Book a room", status_code=201, openapi_extra=spec.BOOK_BODY,
              responses={**spec.COMMAND_ERRORS, 409: spec.error("the room is booked then, or the time is past")})  # fmt: skip
    async def book(request: Request) -> dict[str, Any]:
        body = await read_body(request)
        if "action" in body:
            raise CommandInvalid([Issue(SOURCE, "action", "comes from the URL; leave it out of the body")])
        room = body.get("room")
        if isinstance(room, str):
            controller.room(room)
        return controller.execute(parse_command({**body, "action": "book"}, source=SOURCE)).json()

    @api.delete("/bookings/{booking_id}", tags=["bookings"], summary="Cancel a booking (a running one ends now)",
                responses={404: spec.error("no booking with this id"), 409: spec.error("the booking has started"),
                           422: spec.INVALID})  # fmt: skip
    async def cancel(booking_id: spec.BookingIdPath) -> dict[str, Any]:
        return controller.execute(parse_command({"action": "cancel", "id": booking_id}, source=SOURCE)).json()

    @api.patch("/bookings/{booking_id}", tags=["bookings"], summary="Move a booking: a new start (room, preset, length)",
               openapi_extra=spec.MOVE_BODY,
               responses={404: spec.error("no booking with this id, or an unknown room or preset"), 413: spec.TOO_LARGE,
                          409: spec.error("the booking has started, the room is booked then, or the time is past")})  # fmt: skip
    async def move(booking_id: spec.BookingIdPath, request: Request) -> dict[str, Any]:
        body = await read_body(request)
        clash = [
            Issue(SOURCE, key, "comes from the URL; leave it out of the body")
            for key in ("action", "id")
            if key in body
        ]
        if clash:
            raise CommandInvalid(clash)
        try:
            command = Move.model_validate({**body, "id": booking_id})
        except ValidationError as exc:
            raise CommandInvalid(_without_path_keys(issues_from(exc, Move, SOURCE), ("action", "id"))) from None
        return controller.execute(command).json()

    @api.get("/day", tags=["bookings"], summary="Every room's day: bookings, pre-heat, sessions, turnover, free")
    async def day(
        date: Annotated[spec.Day, Query(description="The day (the clinic's time zone); today if left out")] = None,
    ) -> dict[str, Any]:
        return desk.day_view(controller, date)

    @api.get("/calendars", tags=["bookings"], summary="The calendar feeds and their last sync")
    async def calendars() -> list[Any]:
        poller = getattr(controller, "calendars", None)
        return poller.status() if poller else []

    @api.post("/calendars/sync", tags=["bookings"], summary="Sync the calendar feeds now",
              responses={404: spec.error("unknown feed")})  # fmt: skip
    async def calendars_sync(
        name: Annotated[str | None, Query(description="Only this feed")] = None,
        dry_run: Annotated[bool, Query(description="Only plan: what the sync would do, nothing changed")] = False,
    ) -> list[Any]:
        poller = getattr(controller, "calendars", None)
        if poller is None:
            return []
        return [report.json() for report in await poller.sync_now(name, dry_run=dry_run)]

    @app.post("/api/calendars/{feed}/webhook", tags=["bookings"], dependencies=[Depends(_known_query)],
              summary="A booking system's signed notice: sync this feed now (no token: an HMAC signature)",
              responses={401: spec.error("no signature, or a wrong one"), 404: spec.error("no feed of this name "
                         "takes a webhook"), 413: spec.TOO_LARGE, 503: spec.error("the feed's secret cannot be read")},
              openapi_extra={"requestBody": WEBHOOK_BODY})  # fmt: skip
    async def calendar_webhook(
        feed: Annotated[str, Path(description="The feed's name", json_schema_extra={"pattern": FEED_NAME})],
        request: Request,
        signature: Annotated[str | None, Header(alias="X-Acuity-Signature", description=SIGNATURE)] = None,
    ) -> dict[str, Any]:
        poller = getattr(controller, "calendars", None)
        found = poller.feeds.get(feed) if poller is not None else None
        try:
            secret = found.webhook_secret() if found is not None else None
        except CalendarError as exc:
            raise HTTPException(503, str(exc)) from None
        if found is None or secret is None:
            raise HTTPException(404, f"no calendar feed {feed!r} takes a webhook (webhook_secret_file or _env)")
        body = await raw_body(request, "a booking system's notice is a few hundred bytes")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, (signature or "").strip().encode("utf-8", "replace")):
            log.warning("calendar %r: a webhook with a missing or wrong signature was refused", feed)
            raise HTTPException(401, "missing or wrong X-Acuity-Signature (base64 HMAC-SHA256 of the body); not synced")
        (report,) = await poller.sync_now(feed)  # type: ignore[union-attr]  # found: the poller is there
        return report.counts()

    @api.post("/pairing", tags=["phones"], summary="A pairing code for a phone (admin token only)", status_code=201,
              dependencies=[Depends(_admin_only)], openapi_extra=spec.PAIRING_BODY,
              responses={403: spec.ADMIN_ONLY, 413: spec.TOO_LARGE, 422: spec.INVALID})  # fmt: skip
    async def pairing_code(request: Request) -> dict[str, Any]:
        ask = _validated(PairingAsk, await read_body(request))
        code, expires = pairing.issue(ask.valid_for)
        serving = app.state.serving
        return {
            "code": code, "shown": tokens.shown_code(code), "expires_at": _iso(expires), "valid_for_s": ask.valid_for,
            "scheme": serving["scheme"], "port": serving["port"] or request.url.port,
            "fingerprint": serving["fingerprint"],
        }  # fmt: skip

    @app.post("/api/pair", tags=["phones"], status_code=201, dependencies=[Depends(_known_query)],
              summary="Trade a pairing code for this phone's own device token (no token needed)",
              openapi_extra=spec.PAIR_BODY,
              responses={403: spec.error("the pairing code is wrong, used or expired"), 413: spec.TOO_LARGE,
                         422: spec.INVALID})  # fmt: skip
    async def pair(request: Request) -> JSONResponse:
        ask = _validated(PairAsk, await read_body(request))
        try:
            phone, device_token = pairing.redeem(ask.code, ask.name or "")
        except PairingRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        body = {"token": device_token, "id": phone.id, "name": phone.name}
        return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})

    @api.get("/phones", tags=["phones"], summary="The paired phones (admin token only)",
             dependencies=[Depends(_admin_only)], responses={403: spec.ADMIN_ONLY})  # fmt: skip
    async def phones() -> list[dict[str, Any]]:
        return [
            {"id": p.id, "name": p.name, "paired": _iso(p.created), "last_seen": _iso(p.last_seen)}
            for p in pairing.store.phones()
        ]

    @api.delete("/phones/{phone}", tags=["phones"], summary="Revoke one phone's token, at once (admin token only)",
                dependencies=[Depends(_admin_only)],
                responses={403: spec.ADMIN_ONLY, 404: spec.error("no paired phone with this id")})  # fmt: skip
    async def revoke(phone: spec.PhonePath) -> dict[str, list[str]]:
        return {"revoked": pairing.revoke(phone)}

    @api.delete("/phones", tags=["phones"], summary="Revoke every phone's token (admin token only)",
                dependencies=[Depends(_admin_only)], responses={403: spec.ADMIN_ONLY})  # fmt: skip
    async def revoke_all() -> dict[str, list[str]]:
        return {"revoked": pairing.revoke_all()}

    app.include_router(api)
    mount_web(app, controller, token, pairing=pairing)
    app.get("/desk", include_in_schema=False)(desk.page)
    return app


FEED_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
SIGNATURE = "base64 of the HMAC-SHA256 of the raw body, keyed with the feed's webhook secret (Acuity's format)"
WEBHOOK_BODY = {
    "description": "Whatever the booking system sends (Acuity: a form with the appointment's id); only signed, never read",
    "required": False,
    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}},
}  # fmt: skip


# ---- serving in the daemon's loop -------------------------------------------------------------

REQUEST_TIMEOUT = 10.0
"""Seconds a connection has to send its request (head and body), from opening or the last response."""
KEEP_ALIVE = 5
"""Seconds a kept-alive connection may send nothing before it is closed (uvicorn's timeout_keep_alive)."""
BACKLOG = 128
"""Connections the kernel holds before we accept them; also how many asyncio accepts in one go, so
it bounds the file descriptors taken before the connection cap sees them."""
FILES_RESERVED = 400
"""Open files kept for all but HTTP connections (database, broker, music, connections being accepted):
http.max_connections is lowered to fit the open-file limit less these."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: SIGTERM/SIGINT stay the daemon's."""

    connections: Connections

    def capture_signals(self):  # uvicorn >= 0.29
        return contextlib.nullcontext()

    def install_signal_handlers(self) -> None:  # older uvicorn
        pass


def _listen(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says it is TCP. Without it uvicorn's response body waited for the
    # client's delayed ACK of the headers: ~40 ms on every request of a kept-alive connection.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _why(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _connection_limit(configured: int) -> int:
    """``http.max_connections``, lowered (and said so) if the open-file limit cannot hold that many."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or configured <= soft - FILES_RESERVED:
        return configured
    fits = max(soft - FILES_RESERVED, 16)
    log.warning(
        "http.max_connections %d is more than %d open files allow (the limit less %d for the rest); using %d",
        configured, soft, FILES_RESERVED, fits,
    )  # fmt: skip
    return fits


async def serve_http(daemon: Any) -> None:
    """Serve the API until cancelled. A port in use or no token switches the API off, not the daemon."""
    http = daemon.config.http
    try:
        token = token_for_daemon(daemon.config)
    except OSError as exc:
        log.error("the HTTP API is off: cannot keep a token in %s: %s", token_path(daemon.config), _why(exc))
        return
    try:
        cert = server_certificate(daemon.config)
        if cert is not None:
            server_context(cert)  # a key that does not fit is said here, in one line
    except TlsError as exc:
        log.error("the HTTP API is off: %s", exc)
        return
    try:
        sock = _listen(http.host, http.port)
    except OSError as exc:
        log.error("the HTTP API is off: cannot listen on %s:%d: %s", http.host, http.port, _why(exc))
        return
    uvicorn_log = logging.getLogger("uvicorn.error")
    if uvicorn_log.level == logging.NOTSET:
        uvicorn_log.setLevel(logging.WARNING)  # its start/stop lines repeat ours
    app = create_app(daemon.controller, token, units=daemon.config.units)
    connections = Connections(_connection_limit(http.max_connections), REQUEST_TIMEOUT)
    config = uvicorn.Config(
        app, host=http.host, port=http.port, log_config=None, lifespan="off", access_log=False,
        timeout_graceful_shutdown=2, http=functools.partial(LimitedProtocol, connections=connections),  # type: ignore[arg-type]
        ws="none", timeout_keep_alive=KEEP_ALIVE, backlog=BACKLOG,
        ssl_certfile=cert.cert if cert else None, ssl_keyfile=cert.key if cert else None,
    )  # fmt: skip
    server = _Server(config)
    server.connections = connections
    daemon.http_app, daemon.http_server = app, server
    scheme, port = ("https" if cert else "http"), sock.getsockname()[1]
    app.state.serving = {"scheme": scheme, "port": port, "fingerprint": cert.fingerprint if cert else None}
    shown = f"; TLS certificate SHA-256 {cert.fingerprint}" if cert else ""
    log.info("HTTP API on %s://%s:%d (token: %s%s)", scheme, http.host, port, token_source(daemon.config), shown)
    try:
        await server.serve(sockets=[sock])
    except asyncio.CancelledError:
        if server.started:
            app.state.web_hub.shutdown()  # end the phone pages' event streams: nothing to wait for
            await server.shutdown(sockets=[sock])
        else:
            sock.close()
        raise


__all__ = ["create_app", "serve_http", "read_body", "MAX_BODY"]
