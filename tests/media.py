"""Hostile media files for the tests, and two witnesses: a local HTTP server that records every request,
and an inotify watch that sees every open of a file in a folder.

An attacker's ``.mp3`` is an mpv EDL ("# mpv EDL v0") naming another file or a URL, followed by a
comment line of real MPEG frames: mutagen reads it as MP3 audio, and mpv, left to sniff the content,
plays what the EDL names.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FRAME = b"\xff\xfb\x90\x64" + bytes(413)
"""One MPEG-1 layer III frame, 128 kbit/s, 44.1 kHz, silent: 1152 samples (26 ms)."""


def disguised_edl(path: Path, target: str, frames: int = 8) -> Path:
    """An ``.mp3`` that mpv would read as an EDL playing ``target`` (a file or a URL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"# mpv EDL v0\n" + target.encode() + b"\n#" + FRAME * frames)
    return path


class Requests:
    """A local HTTP server on 127.0.0.1 that answers every GET with ``body`` and keeps the paths asked for."""

    def __init__(self, body: bytes = b""):
        self.paths: list[str] = []
        seen, answer = self.paths, body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Requests:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


IN_ACCESS, IN_OPEN = 0x001, 0x020


@contextlib.contextmanager
def opens(folder: Path) -> Iterator[list[str]]:
    """Watch ``folder`` with inotify: the list yielded holds the name of every file opened or read in it,
    filled in when the block ends. (inotify through libc: the standard library has no binding.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1 failed")
    names: list[str] = []
    try:
        if libc.inotify_add_watch(fd, os.fsencode(folder), IN_OPEN | IN_ACCESS) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        yield names
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            i = 0
            while i < len(data):
                _, _, _, size = struct.unpack_from("iIII", data, i)
                names.append(data[i + 16 : i + 16 + size].rstrip(b"\0").decode())
                i += 16 + size
    finally:
        os.close(fd)
