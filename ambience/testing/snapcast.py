"""A private ``snapserver`` and ``snapclient`` (Debian's 0.26) for tests: free loopback ports, a tmp dir.

:class:`Snapserver` writes a config naming one pipe stream per room (``pipe://<dir>/snap-<room>``,
48000:16:2, ``mode=create``: the server makes the fifo and keeps reading it), its stream port and its
JSON-RPC control port (TCP) on free ports, HTTP off, and waits until the control port answers.

:class:`Snapclient` runs ``snapclient --player file:filename=stdout`` with a ``--hostID`` of its own and
reads its stdout on a thread: every chunk of raw PCM (48000:16:2) it writes, with the wall time it
arrived (``time.time()``). The file player writes what it plays when it plays it (a timer of its own, one
chunk every few ms), so a sample's arrival time is the client's idea of when it is heard, within a chunk:
the tests measure the room's music and its fade there (:meth:`Snapclient.when`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from ambience.testing.mosquitto import free_port

HOST = "127.0.0.1"
RATE = 48000
FRAME_BYTES = 4
"""One stereo frame of s16."""


def find(binary: str) -> str | None:
    return shutil.which(binary) or next((p for p in (f"/usr/bin/{binary}",) if os.access(p, os.X_OK)), None)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not listen on {port} in {timeout}s") from None
            time.sleep(0.02)


def _end(process: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


class Snapserver:
    """A snapserver with one pipe stream per name in ``streams``, on free ports; ``buffer``: ms (its ``[stream] buffer``)."""

    def __init__(
        self, streams: tuple[str, ...] = ("studio", "garden"), *, buffer: int = 1000, binary: str | None = None
    ):
        binary = binary or find("snapserver")
        if binary is None:
            raise FileNotFoundError("snapserver is not installed (apt-get install snapserver)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="ambience-snapserver-"))
        self.stream_port, self.control_port = free_port(), free_port()
        self.buffer = buffer
        self.pipes = {name: self.dir / f"snap-{name}" for name in streams}
        self.log_file = self.dir / "snapserver.log"
        self.config_file = self.dir / "snapserver.conf"
        sources = "\n".join(
            f"source = pipe://{path}?name={name}&sampleformat=48000:16:2&mode=create"
            for name, path in self.pipes.items()
        )
        self.config_file.write_text(
            f"[server]\ndatadir = {self.dir}\n"
            f"[stream]\nbind_to_address = {HOST}\nport = {self.stream_port}\nbuffer = {buffer}\ncodec = pcm\n{sources}\n"
            f"[tcp]\nenabled = true\nbind_to_address = {HOST}\nport = {self.control_port}\n"
            "[http]\nenabled = false\n"
            "[logging]\nfilter = *:info\n",
            encoding="utf-8",
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def control(self) -> str:
        """``host:port`` of the JSON-RPC control port: what ``speaker: {snapcast: {server: ...}}`` takes."""
        return f"{HOST}:{self.control_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> Snapserver:
        if self.running:
            return self
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_file), "--logging.sink=stderr"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(self.control_port, self._process, "snapserver", self.log_file, timeout)
        _wait_port(self.stream_port, self._process, "snapserver", self.log_file, timeout)
        return self

    def stop(self) -> None:
        _end(self._process)

    def rpc(self, method: str, params: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
        """One JSON-RPC call on the control port (notifications read past); its ``result``."""
        with socket.create_connection((HOST, self.control_port), timeout=timeout) as sock:
            sock.sendall(
                json.dumps({"id": 1, "jsonrpc": "2.0", "method": method, "params": params or {}}).encode() + b"\r\n"
            )
            buffer = b""
            while True:
                while b"\n" not in buffer:
                    more = sock.recv(65536)
                    if not more:
                        raise ConnectionError(f"snapserver closed the control connection during {method}")
                    buffer += more
                line, buffer = buffer.split(b"\n", 1)
                answer = json.loads(line)
                if isinstance(answer, dict) and answer.get("id") == 1:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]

    def clients(self) -> dict[str, dict[str, Any]]:
        """Each client's id → its ``Server.GetStatus`` entry, with its group's ``stream_id`` and ``group`` id added."""
        out = {}
        for group in self.rpc("Server.GetStatus")["server"]["groups"]:
            for client in group["clients"]:
                out[client["id"]] = {**client, "stream_id": group["stream_id"], "group": group["id"]}
        return out

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:] if self.log_file.exists() else ""

    def __enter__(self) -> Snapserver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Snapclient:
    """``snapclient`` named ``host_id`` playing ``server``'s stream into a pipe read here, with arrival times."""

    def __init__(self, server: Snapserver, host_id: str, *, binary: str | None = None):
        binary = binary or find("snapclient")
        if binary is None:
            raise FileNotFoundError("snapclient is not installed (apt-get install snapclient)")
        self.binary = binary
        self.server = server
        self.host_id = host_id
        self.log_file = server.dir / f"snapclient-{host_id}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._data = bytearray()
        self._arrivals: list[tuple[float, int]] = []
        """(wall time, bytes received by then), one per read."""

    def start(self) -> Snapclient:
        log = open(self.log_file, "ab")  # noqa: SIM115 - the child keeps it; closed with the process
        self._process = subprocess.Popen(
            [self.binary, "-h", HOST, "-p", str(self.server.stream_port), "--hostID", self.host_id,
             "--player", "file:filename=stdout", "--logsink", "stderr"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self._thread = threading.Thread(target=self._read, name=f"snapclient-{self.host_id}", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            now = time.time()
            if not chunk:
                return
            with self._lock:
                self._data += chunk
                self._arrivals.append((now, len(self._data)))

    def stop(self) -> None:
        _end(self._process)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Snapclient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what it played ---------------------------------------------------------------------------

    @property
    def frames(self) -> int:
        with self._lock:
            return len(self._data) // FRAME_BYTES

    def samples(self, start: int = 0, end: int | None = None) -> array[int]:
        """The left channel's samples of frames ``start`` to ``end``."""
        with self._lock:
            end = len(self._data) // FRAME_BYTES if end is None else end
            raw = array("h", bytes(self._data[start * FRAME_BYTES : end * FRAME_BYTES]))
        return raw[0::2]

    def when(self, frame: int) -> float | None:
        """The wall time frame ``frame`` arrived (the end of the read that brought it): when the client played it."""
        needed = (frame + 1) * FRAME_BYTES
        with self._lock:
            for at, total in self._arrivals:
                if total >= needed:
                    return at
        return None

    def frame_at(self, wall: float) -> int:
        """The frames received by wall time ``wall``."""
        with self._lock:
            total = 0
            for at, received in self._arrivals:
                if at > wall:
                    break
                total = received
        return total // FRAME_BYTES
