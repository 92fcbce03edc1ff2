"""The one command dispatcher. CLI, HTTP, MQTT and scheduled jobs all come through here.

``Controller.execute(command)`` takes a validated command (:mod:`ambience.commands`) and
returns the room's status as JSON-able data, or raises an :class:`~ambience.errors.AmbienceError`
that every surface maps the same way: ``CommandInvalid`` → 422, ``NotFound`` → 404,
``Busy``/``CommandError`` → 409.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .clients import Client
from .commands import ClientAdd, Extend, Pause, Resume, Start, Status, Stop, parse_command
from .errors import NotFound
from .presets import Library
from .room import Room
from .store import Store
from .units import format_duration

log = logging.getLogger(__name__)

Listener = Callable[[str], None]


class Controller:
    def __init__(self, rooms: dict[str, Room], library: Library, store: Store, clock: Callable[[], float]):
        self.rooms = rooms
        self.library = library
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []
        for room in rooms.values():
            room.on_change = self.changed

    # ---- commands ---------------------------------------------------------------------------

    def execute(self, command: Any) -> dict[str, Any]:
        """Run one command (a model, or a dict/JSON to validate first); returns the room's status."""
        if not isinstance(command, (Start, Pause, Resume, Extend, Stop, Status)):
            command = parse_command(command)
        if isinstance(command, Status):
            return {"rooms": self.status(command.room)}
        room = self.room(command.room)
        if isinstance(command, Start):
            preset = self.library.get(command.preset)
            comfort = None
            if command.client:
                known = self.store.client(command.client)
                comfort = known.comfort if known else None
            room.start(
                preset, duration=command.duration, client=command.client, comfort=comfort,
                lead=command.lead, replace=command.replace,
            )  # fmt: skip
            log.info("start %s %s%s", room.id, preset.id, f" for {format_duration(command.duration)}" if command.duration else "")
        elif isinstance(command, Pause):
            room.pause()
        elif isinstance(command, Resume):
            room.resume()
        elif isinstance(command, Extend):
            room.extend(command.by)
        elif isinstance(command, Stop):
            room.stop()
        self.changed(room.id)
        return room.status()

    # ---- queries ------------------------------------------------------------------------------

    def room(self, room_id: str) -> Room:
        try:
            return self.rooms[room_id]
        except KeyError:
            raise NotFound("room", room_id, list(self.rooms)) from None

    def status(self, room_id: str | None = None) -> list[dict[str, Any]]:
        if room_id is not None:
            return [self.room(room_id).status()]
        return [room.status() for room in self.rooms.values()]

    def presets(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p.id,
                "name": p.name,
                "technique": p.technique,
                "duration_s": p.duration,
                "description": p.description.strip(),
                "summary": p.summary(),
            }
            for p in sorted(self.library.presets.values(), key=lambda p: (p.technique, p.duration, p.id))
        ]

    def history(self, room: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if room is not None:
            self.room(room)
        return self.store.history(room, limit)

    def clients(self) -> list[dict[str, Any]]:
        return [c.model_dump() for c in self.store.clients()]

    def add_client(self, body: ClientAdd) -> dict[str, Any]:
        client = Client(label=body.label, comfort=body.comfort)
        self.store.add_client(client)
        return client.model_dump()

    def remove_client(self, label: str) -> None:
        self.store.remove_client(label)

    # ---- change notifications ---------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener(room_id)`` after anything about a room changed (on the loop)."""
        self._listeners.append(listener)

    def changed(self, room_id: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(room_id)
            except Exception:
                log.exception("a change listener failed")
