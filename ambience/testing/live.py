"""A real :class:`~ambience.daemon.Daemon` on an asyncio loop of its own, in a thread of the test.

The daemon runs as ``ambience serve`` runs it (one loop owns every room), while the test talks to
it with plain blocking clients: MQTT probes, httpx, the CLI. Anything read from the daemon's
objects is read on its loop (:meth:`LiveDaemon.call`).

Two ways to run:

- ``mqtt=True`` (default): ``Daemon.start()`` and ``Daemon.stop()`` as in production; it waits
  for the broker connection. The HTTP API runs too if the config enables it.
- ``mqtt=False``: no broker. The rooms run (device commands are dropped) and, if the config
  enables it, the HTTP API; nothing else of ``start()`` (no presence, no bookings service).

With ``http: {port: 0}`` (what :func:`~ambience.testing.clinic.write_clinic` writes) the API
listens on a port the system picks; ``url`` tells which.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ambience.config import Config, parse_config
from ambience.daemon import Daemon
from ambience.infra.tokens import token_for_daemon
from ambience.surfaces.http.app import serve_http
from ambience.testing.http import ApiClient
from ambience.testing.waiting import eventually

T = TypeVar("T")


class LiveDaemon(ApiClient):
    def __init__(
        self,
        config: Config | str | os.PathLike[str],
        *,
        mqtt: bool = True,
        clock: Callable[[], float] = time.time,
        timeout: float = 20.0,
    ):
        if not isinstance(config, Config):
            path = Path(config)
            config = parse_config(path.read_text(encoding="utf-8"), str(path), path.parent)
        self.config = config
        self.mqtt = mqtt
        self.clock = clock
        self.timeout = timeout
        self.daemon: Daemon | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        """The HTTP API's port once started (``None``: the config has no API)."""
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="daemon-loop", daemon=True)

    # ---- lifetime ----------------------------------------------------------------------------

    def start(self) -> LiveDaemon:
        self._thread.start()
        assert self._ready.wait(self.timeout), f"the daemon did not start in {self.timeout} s"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.timeout)
        assert not self._thread.is_alive(), f"the daemon did not stop in {self.timeout} s"
        if self._error is not None:
            raise self._error

    def __enter__(self) -> LiveDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test's thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        daemon = self.daemon = Daemon(self.config, players=False, clock=self.clock)
        if self.mqtt:
            try:
                await daemon.start()
                await daemon.connection.wait_connected(10)
                await self._serving(daemon, daemon._tasks)
                self._ready.set()
                await self._stop.wait()
            finally:
                await daemon.stop()
            return
        tasks = [asyncio.create_task(room.run(), name=f"room-{room.id}") for room in daemon.rooms.values()]
        tasks.append(asyncio.create_task(daemon.watch_presets(), name="presets"))
        if self.config.http.enabled:
            tasks.append(asyncio.create_task(serve_http(daemon), name="http"))
        try:
            await self._serving(daemon, tasks)
            self._ready.set()
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            daemon.store.close()
            os.close(daemon._lock)

    async def _serving(self, daemon: Daemon, tasks: Iterable[asyncio.Task]) -> None:
        """Until the HTTP API listens (if the config has one); learns its port."""
        if not self.config.http.enabled:
            return
        http = next((t for t in tasks if t.get_name() == "http"), None)
        while not getattr(getattr(daemon, "http_server", None), "started", False):
            if http is None or http.done():
                raise RuntimeError("the HTTP API did not start (see the log)")
            await asyncio.sleep(0.01)
        self.port = daemon.http_server.servers[0].sockets[0].getsockname()[1]

    # ---- talking to it -----------------------------------------------------------------------

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn()`` on the daemon's loop and return its result."""

        async def run() -> T:
            return fn()

        return self.run(run(), timeout)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
        """Await ``coroutine`` on the daemon's loop and return its result."""
        assert self.loop is not None, "not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def status(self, room: str) -> dict[str, Any]:
        """The room's status, as the API and the MQTT state topic tell it."""
        controller = self.controller
        return self.call(lambda: controller.status(room)[0])

    def wait_reported(self, rooms: Iterable[str] | None = None, timeout: float = 5.0) -> None:
        """Until the daemon has heard every device of ``rooms`` (default all), so a session's
        snapshot for ``after: restore`` is whole."""
        rooms = list(self.config.rooms if rooms is None else rooms)
        # a sensor is not asked: it reports when it has something to say, and nothing restores it
        sensors = {(r, d.id) for r in rooms for d, kind, _ in self.config.rooms[r].devices() if kind == "sensor"}

        def silent() -> list[str]:
            return [
                d["id"]
                for r in rooms
                for d in self.status(r)["devices"]
                if d["reported"] is None and (r, d["id"]) not in sensors
            ]

        eventually(lambda: not silent(), timeout, describe=lambda: f"the daemon heard nothing from {silent()}")

    def surface(self, kind: type[T]) -> T:
        """The daemon's control surface of that class (``MqttControl``, ``HomeAssistantDiscovery``)."""
        assert self.daemon is not None, "not started"
        return next(s for s in self.daemon.surfaces if isinstance(s, kind))

    @property
    def controller(self) -> Any:
        assert self.daemon is not None, "not started"
        return self.daemon.controller

    @property
    def app(self) -> Any:
        """The FastAPI app of the HTTP API."""
        assert self.daemon is not None, "not started"
        return self.daemon.http_app

    @property
    def server(self) -> Any:
        """The uvicorn server of the HTTP API (its ``connections``, ``server_state``)."""
        assert self.daemon is not None, "not started"
        return self.daemon.http_server

    @property
    def url(self) -> str:
        assert self.port is not None, "the daemon has no HTTP API (http.enabled) or is not started"
        return f"http://127.0.0.1:{self.port}"

    def token(self) -> str:
        return token_for_daemon(self.config)
