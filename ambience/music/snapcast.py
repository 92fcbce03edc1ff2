"""A room's network speakers through Snapcast: the room's mpv writes PCM into a snapserver stream, and the
room's snapclients are put on that stream over the snapserver's JSON-RPC API. See docs/music.md.

``speaker: {snapcast: {server, stream, pipe, clients, buffer}}`` (:class:`~ambience.config.devices.Snapcast`).
One snapserver serves any number of rooms: one pipe source per room (``pipe://<pipe>?name=<stream>
&sampleformat=48000:16:2&mode=create``), one :class:`SnapcastPlayer` per room.

- Sound: an :class:`~ambience.music.mpv.MpvPlayer` with ``ao=pcm`` writing raw s16 48 kHz stereo into the
  fifo. ao_pcm does not pace itself; the fifo does: snapserver reads it at the real-time rate, so mpv's
  writes block once the pipe is full. The volume envelope stays in mpv's filter (sample-exact in the
  music's own time); the clients' volumes are set to 100 % unmuted once, when each is first seen.
- Latency: a client plays a chunk ``buffer`` ms after snapserver read it (the server's ``[stream] buffer``),
  and snapserver reads from the moment mpv starts writing. So the player runs :data:`START` + ``buffer``
  seconds ahead of the session (``MpvPlayer(lead=...)``): the music is heard where the session is, and the
  fade-out reaches silence at the session end *at the client* (tests/test_snapcast.py measures it). A change
  made mid-session (pause, a fade asked for now) is heard that much later.
- Control (:class:`SnapcastControl`): connects (``snapcast`` library), then keeps the room's clients in
  groups of their own on the room's stream: ``Group.SetClients`` takes other rooms' clients out of a shared
  group, ``Group.SetStream`` puts it on the stream, ``Group.SetMute`` unmutes it. It looks again on every
  notification (a client connecting: ``Client.OnConnect``; ``Server.OnUpdate``) and every
  :data:`POLL` seconds. A server that cannot be reached: the room's music status says so in words, mpv
  plays nothing (it is never left writing into a fifo nobody reads, nor into a file where the fifo should
  be), and the control tries again every ``retry_after`` seconds; once it answers, the music is picked up
  where the session is. What mpv wrote that the lost server did not read is thrown away first
  (:meth:`PipedMpv.drop`): a restarted server opens the same fifo at once and would play it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ambience.config.devices import Snapcast, SnapcastSpeaker
from ambience.core.envelope import Plan
from ambience.core.fitting import FittedPlaylist
from ambience.errors import PlayerError
from ambience.model.state import MusicState
from ambience.music.base import RETRY_AFTER, MusicProblem, PlayerStatus
from ambience.music.library import Track
from ambience.music.loudness import LoudnessCache
from ambience.music.mpv import MpvPlayer

log = logging.getLogger(__name__)

PCM: dict[str, Any] = {
    "ao_pcm_waveheader": False,
    "audio_samplerate": 48000,
    "audio_format": "s16",
    "audio_channels": "stereo",
}
"""mpv writes what a ``sampleformat=48000:16:2`` pipe source reads: raw s16 stereo at 48 kHz."""
BYTES_PER_SECOND = 48000 * 2 * 2
START = 0.03
"""Seconds from mpv's load to the first sample snapserver reads, beyond the stream's buffer: measured here
(tests/test_snapcast.py), it centres the fade-out's end at the client on the session end; the end wanders
by about ±70 ms from run to run (docs/music.md)."""
POLL = 5.0
"""Seconds between looks at the server's clients when no notification comes."""
TIMEOUT = 5.0
"""Seconds a JSON-RPC call (or connecting) may take before the server counts as unreachable."""
DRAIN_FOR = 2.0
"""Seconds at most that :class:`Drain` reads on once mpv has stopped: longer than one ao_pcm write (1.37 s)."""


def unreachable(config: Snapcast, why: object) -> MusicProblem:
    return MusicProblem(
        "no_speaker",
        f"the Snapcast server at {config.server} cannot be reached — check that snapserver runs there",
        f"no speaker: the Snapcast server at {config.server} cannot be reached ({why}); music is off, retrying",
    )


def no_stream(config: Snapcast, streams: list[str]) -> MusicProblem:
    return MusicProblem(
        "no_speaker",
        f"the Snapcast server at {config.server} has no stream {config.stream!r}",
        f"no speaker: the Snapcast server at {config.server} has no stream {config.stream!r} "
        f"(it has: {', '.join(streams) or 'none'}); add its pipe source to snapserver.conf",
    )


def no_pipe(config: Snapcast) -> MusicProblem:
    return MusicProblem(
        "no_speaker",
        f"the Snapcast stream {config.stream!r} has no pipe at {config.pipe}",
        f"no speaker: {config.pipe} is not a fifo: the snapserver on this machine must have the source "
        f"pipe://{config.pipe}?name={config.stream}&sampleformat=48000:16:2&mode=create",
    )


def is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def ours(client: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """Whether a client of ``Server.GetStatus`` is one of ``names``: by its id (``--hostID``) or its given name."""
    given = (client.get("config") or {}).get("name") or ""
    return client.get("id") in names or (bool(given) and given in names)


class SnapcastControl:
    """Keeps a room's snapclients on its stream; :attr:`problem` says why it cannot, ``on_ready`` is called
    (on the loop) each time the server is reached and the stream is there."""

    def __init__(self, config: Snapcast, *, name: str, retry_after: float = RETRY_AFTER, on_ready: Callable[[], None]):
        self.config = config
        self.name = name
        self.retry_after = retry_after
        self.on_ready = on_ready
        self.problem: MusicProblem | None = unreachable(config, "not connected yet")
        self.ready = False
        self.assigned: set[str] = set()
        """The clients put on the stream (ids), as last seen."""
        self._volumes_set: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._logged: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"snapcast-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _say(self, problem: MusicProblem | None) -> None:
        self.problem = problem
        text = None if problem is None else problem.detail
        if text != self._logged and text is not None:
            log.warning("%s: %s", self.name, text)
        self._logged = text

    async def _run(self) -> None:
        import snapcast.control  # the library only where a room has Snapcast speakers

        loop = asyncio.get_running_loop()
        while True:
            server = snapcast.control.Snapserver(loop, self.config.host, self.config.port)
            # Its notification handlers keep the library's own copy of the server, which this does not use
            # (it reads Server.GetStatus itself), and they raise on a group they have not seen yet (one that
            # Group.SetClients just made), which would close the connection: each only wakes the look.
            server._callbacks = {method: self._guarded(handler) for method, handler in server._callbacks.items()}
            try:
                await asyncio.wait_for(server.start(), TIMEOUT)
            except (OSError, TimeoutError) as exc:
                self._say(unreachable(self.config, exc or "no answer"))
                await asyncio.sleep(self.retry_after)
                continue
            lost = asyncio.Event()

            def disconnected(_exc: object, lost: asyncio.Event = lost) -> None:
                lost.set()
                self._wake.set()

            server.set_on_disconnect_callback(disconnected)
            log.info("%s: connected to the Snapcast server at %s", self.name, self.config.server)
            try:
                while not lost.is_set():
                    self._wake.clear()
                    await asyncio.wait_for(self._assign(server), TIMEOUT)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL)
            except (OSError, TimeoutError, KeyError, TypeError) as exc:
                self._say(unreachable(self.config, exc or "no answer"))
            finally:
                server.stop()
            self.ready = False
            if self.problem is None:
                self._say(unreachable(self.config, "the connection was lost"))
            self.on_ready()  # not ready any more: the player stops writing
            await asyncio.sleep(min(1.0, self.retry_after))

    def _guarded(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        def handle(data: Any) -> None:
            try:
                handler(data)
            except Exception as exc:  # the library's bookkeeping; what counts is read afresh
                log.debug("%s: snapcast library: %s", self.name, exc)
            self._wake.set()

        return handle

    async def _call(self, server: Any, method: str, *args: Any) -> Any:
        answer = await getattr(server, method)(*args)
        if isinstance(answer, dict) and "code" in answer and "message" in answer:  # a JSON-RPC error
            raise OSError(f"{method}: {answer['message']}")
        return answer

    async def _assign(self, server: Any) -> None:
        status, error = await server.status()
        if error or not isinstance(status, dict):
            raise OSError(f"Server.GetStatus: {error}")
        state = status["server"]
        streams = [s["id"] for s in state.get("streams", [])]
        if self.config.stream not in streams:
            self._become(False, no_stream(self.config, streams))
            return
        names, assigned = self.config.clients, set()
        for group in state.get("groups", []):
            clients = group.get("clients", [])
            mine = [c for c in clients if ours(c, names)]
            if not mine:
                continue
            if len(mine) < len(clients):  # shared with clients of another room: ours get a group of their own
                await self._call(server, "group_clients", group["id"], [c["id"] for c in mine])
                self._wake.set()  # look again: the group's ids changed
                continue
            if group.get("stream_id") != self.config.stream:
                await self._call(server, "group_stream", group["id"], self.config.stream)
                log.info("%s: Snapcast clients %s now play stream %s", self.name,
                         ", ".join(c["id"] for c in mine), self.config.stream)  # fmt: skip
            if group.get("muted"):
                await self._call(server, "group_mute", group["id"], False)
            for c in mine:
                assigned.add(c["id"])
                if c["id"] not in self._volumes_set:  # once: the fade is mpv's, not the client's
                    await self._call(server, "client_volume", c["id"], {"percent": 100, "muted": False})
                    self._volumes_set.add(c["id"])
        self.assigned = assigned
        self._become(True, None)

    def _become(self, ready: bool, problem: MusicProblem | None) -> None:
        self._say(problem)
        if ready != self.ready:
            self.ready = ready
            self.on_ready()


class Drain:
    """Reads a fifo on a thread of its own from now on, throwing the PCM away, until :meth:`finish`: then on
    until no writer has it open (mpv closed its output) or nothing came for ``quiet`` seconds, and at most
    :data:`DRAIN_FOR` seconds after that. Does nothing when the fifo cannot be opened."""

    def __init__(self, pipe: str, *, name: str = "drain", quiet: float = 0.1):
        self.quiet = quiet
        self.dropped = 0
        self.released = False
        self._stop = threading.Event()
        self._until = float("inf")
        try:
            self._fd: int | None = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            self._fd = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self._fd
        if fd is None:
            return
        last = time.monotonic()
        try:
            while (now := time.monotonic()) < self._until:
                readable, _, _ = select.select([fd], [], [], 0.01)
                try:
                    chunk = os.read(fd, 1 << 16) if readable else None
                except BlockingIOError:
                    chunk = None
                if chunk:
                    self.dropped, self.released, last = self.dropped + len(chunk), False, now
                    continue
                self.released = chunk == b""  # no writer
                if self._stop.is_set() and (self.released or now - last >= self.quiet):
                    break
                if self.released:
                    time.sleep(0.01)  # a fifo without a writer is always readable
        finally:
            os.close(fd)

    def finish(self) -> tuple[int, bool]:
        """Stop once the fifo is empty; the bytes thrown away, and whether the writer had let go. Idempotent."""
        if not self._stop.is_set():
            self._until = time.monotonic() + DRAIN_FOR
            self._stop.set()
        self._thread.join(DRAIN_FOR + 1)
        return self.dropped, self.released


class PipedMpv(MpvPlayer):
    """mpv writing into a fifo. Its ``playback-time`` moves in steps of ao_pcm's writes (64 Ki frames,
    1.37 s, measured), too coarse to tell whether the music is at its place (``keeping``: 1.5 s); the pipe
    paces mpv at the real-time rate, so where it plays is told by the clock since the load, paused time
    left out."""

    _at = 0.0
    """Session seconds (mpv's, ``lead`` ahead) of the load, plus what played before the last pause."""
    _since: float | None = None
    """The clock when it last began playing; ``None`` while paused or stopped."""

    def _load(self, plan: Plan[Track], offset: float, paused: bool) -> None:
        super()._load(plan, offset, paused)
        self._at = plan.fitted.entries[plan.base].start + offset
        self._since = None if paused else self.clock()

    def _set(self, name: str, value: Any) -> None:
        if name == "pause":
            if value and self._since is not None:
                self._at, self._since = self._at + self.clock() - self._since, None
            elif not value and self._since is None:
                self._since = self.clock()
        super()._set(name, value)

    def _stop(self) -> None:
        super()._stop()
        self._since = None

    def _apply(
        self, music: MusicState | None, fitted: FittedPlaylist[Track] | None, force: bool, at: float | None = None
    ) -> None:
        plan = self._plan
        if music is not None and plan is not None and fitted is not None and self._decoded_all():
            if fitted.length <= plan.fitted.length + 1e-6:  # not an extension: nothing is left to write
                return  # mpv decoded its last file to the session end already: what is in the pipe plays out
        super()._apply(music, fitted, force, at)

    def _decoded_all(self) -> bool:
        return self._get("path") is None or bool(self._get("idle-active")) or bool(self._get("eof-reached"))

    def _requeue(self, plan: Plan[Track]) -> bool:
        """As mpv's, but the last file decoded to its end meanwhile (mpv runs ahead of the pipe) is no reason
        to load anew: the rest of the session is in the pipe already."""
        last = plan.base == len(plan.fitted.entries) - 1
        try:
            if super()._requeue(plan):
                return True
        except SystemError:  # its file-local options went with the file
            if not (last and self._decoded_all()):
                raise
            return True
        return last and self._decoded_all()

    async def drop(self) -> None:
        """Stop, and throw away what mpv wrote that the stream's reader has not read: for a server that went
        away. Its next one (a restart takes milliseconds) opens the same fifo before ambience hears of the
        loss, and mpv's write in progress (ao_pcm writes up to 1.37 s at a time; mpv's core, and so its stop
        and the next load, wait for it) goes on into it, old music that was played first: the music came
        back up to 1.7 s behind the session, and its fade-out ended that late (the Snapcast soak). The fifo
        is read from now on (mpv's write ends at once, into nothing) until mpv has stopped; a load after it
        starts from an empty fifo, where the session is then. Never raises."""
        if self._closed or self._mpv is None or (self._plan is None and self._seen.get("idle-active", True)):
            return
        pipe = str(self._options.get("ao_pcm_file") or "")
        drainer = Drain(pipe, name=f"drain-{self.name}") if is_fifo(pipe) else None
        try:
            await self._call(self._drop, drainer)
        except Exception as exc:
            log.warning("%s: %s", self.name, exc, exc_info=True)
        finally:
            if drainer is not None:  # done already, unless mpv's worker failed before it got to it
                await asyncio.to_thread(drainer.finish)

    def _drop(self, drainer: Drain | None) -> None:
        """On mpv's worker: a load queued after it runs once the fifo is read empty."""
        try:
            self._stop()
            self._get("idle-active")  # waits for mpv's core, which waits for the output's last write
        finally:
            if drainer is not None:
                dropped, released = drainer.finish()
                log.info("%s: dropped %.2f s of music the Snapcast server had not read (mpv %s)", self.name,
                         dropped / BYTES_PER_SECOND, "let go of the fifo" if released else "holds the fifo")  # fmt: skip

    def _written(self) -> float:
        return self._at + (0.0 if self._since is None else self.clock() - self._since)

    def _where(self) -> tuple[int, float] | None:
        """Where the written music is, by the clock: also once mpv has decoded its last file (it is idle then,
        and the pipe still plays it)."""
        plan = self._plan
        if plan is None:
            return None
        slot = plan.fitted.at(self._written())
        return None if slot is None or slot.position < plan.base else (slot.position, slot.offset)

    @property
    def position(self) -> float | None:
        """Session seconds of the music heard now: what mpv writes, ``lead`` behind."""
        return None if self._plan is None else max(0.0, self._written() - self.lead)


class SnapcastPlayer:
    """A :class:`~ambience.music.base.Player` for ``speaker: {snapcast: ...}``: mpv into the stream's fifo,
    the clients kept on the stream. Keyword arguments as :class:`~ambience.music.mpv.MpvPlayer`'s."""

    def __init__(
        self,
        speaker: SnapcastSpeaker,
        *,
        max_volume: float = 100,
        name: str = "music",
        clock: Callable[[], float] = time.time,
        retry_after: float = RETRY_AFTER,
        options: Mapping[str, Any] | None = None,
        loudness_cache: Path | LoudnessCache | None = None,
        **mpv: Any,
    ):
        self.config = speaker.snapcast
        self.name = name
        self.clock = clock
        self.mpv = PipedMpv(
            ao="pcm",
            options={**PCM, **(options or {}), "ao_pcm_file": self.config.pipe},
            max_volume=max_volume,
            name=name,
            clock=clock,
            retry_after=retry_after,
            loudness=speaker.loudness,
            loudness_cache=loudness_cache,
            lead=START + self.config.buffer / 1000,
            **mpv,
        )
        self.control = SnapcastControl(self.config, name=name, retry_after=retry_after, on_ready=self._ready_changed)
        self._wanted: tuple[MusicState | None, FittedPlaylist[Track] | None, float | None] = (None, None, None)
        self._pipe_missing = False
        self._closed = False

    @property
    def max_volume(self) -> float:
        return self.mpv.max_volume

    @property
    def lead(self) -> float:
        return self.mpv.lead

    async def open(self) -> bool:
        if self._closed:
            return False
        self.control.start()
        return await self.mpv.open()

    async def follow(
        self, music: MusicState | None, fitted: FittedPlaylist[Track] | None, at: float | None = None
    ) -> None:
        if self._closed:
            return
        self.control.start()
        self._wanted = (music, fitted, self.clock() if at is None else at)
        await self._apply()

    async def _apply(self) -> None:
        music, fitted, at = self._wanted
        self._pipe_missing = music is not None and self.control.ready and not is_fifo(self.config.pipe)
        if not self.control.ready:  # the server went: what it did not read is not for the next one
            await self.mpv.drop()
            return
        if self._pipe_missing:  # never write where nobody reads
            music, fitted = None, None
        await self.mpv.follow(music, fitted, at)

    def _ready_changed(self) -> None:
        if not self._closed:
            asyncio.get_running_loop().create_task(self._apply(), name=f"snapcast-follow-{self.name}")

    def status(self) -> PlayerStatus:
        status = self.mpv.status()
        problem = self.control.problem or (no_pipe(self.config) if self._pipe_missing else None)
        if problem is not None and status["problem"] is None:
            status["error"], status["problem"] = problem.detail, problem.shown()
        return status

    @property
    def position(self) -> float | None:
        return self.mpv.position

    @property
    def output(self) -> str | None:
        return f"snapcast/{self.config.stream}"

    async def wait_until_idle(self, timeout: float) -> bool:
        return await self.mpv.wait_until_idle(timeout)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.control.stop()
        await self.mpv.close()


@dataclass(frozen=True)
class SnapcastClient:
    """A snapclient as a snapserver knows it, for ``ambience speakers``."""

    server: str
    id: str
    """Its ``--hostID`` (else its MAC address): what ``clients:`` takes."""
    name: str
    """The name given it (Snapweb, ``Client.SetName``), else its host's name."""
    connected: bool
    group: str
    stream: str
    pipe: str | None
    """Its stream's pipe on the server's machine, if the stream is a pipe source."""

    def config_line(self) -> str:
        """The room config that plays to this client on its stream."""
        pipe = json.dumps(self.pipe or f"/run/ambience/snap-{self.stream}")
        return (
            f"speaker: {{snapcast: {{server: {json.dumps(self.server)}, stream: {json.dumps(self.stream)}, "
            f"pipe: {pipe}, clients: [{json.dumps(self.id)}]}}}}"
        )


async def _status(server: str) -> dict[str, Any]:
    import snapcast.control

    config = Snapcast(stream="-", pipe="/", clients=("-",), server=server)
    try:
        control = await asyncio.wait_for(
            snapcast.control.create_server(asyncio.get_running_loop(), config.host, config.port), TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        raise PlayerError(f"the Snapcast server at {server} cannot be reached ({exc or 'no answer'})") from None
    try:
        status, error = await asyncio.wait_for(control.status(), TIMEOUT)
    finally:
        control.stop()
    if error or not isinstance(status, dict):
        raise PlayerError(f"the Snapcast server at {server} did not tell its clients ({error})")
    return status["server"]


def snapcast_clients(server: str) -> list[SnapcastClient]:
    """Every client ``server`` (``host:port`` of its control port) knows, connected or not.

    Raises :class:`~ambience.errors.PlayerError` saying why when it cannot be asked."""
    state = asyncio.run(_status(server))
    pipes = {
        s["id"]: s.get("uri", {}).get("path")
        for s in state.get("streams", [])
        if s.get("uri", {}).get("scheme") == "pipe"
    }
    return [
        SnapcastClient(
            server=server,
            id=str(c["id"]),
            name=str((c.get("config") or {}).get("name") or (c.get("host") or {}).get("name") or ""),
            connected=bool(c.get("connected")),
            group=str(g["id"]),
            stream=str(g.get("stream_id", "")),
            pipe=pipes.get(g.get("stream_id")),
        )
        for g in state.get("groups", [])
        for c in g.get("clients", [])
    ]
