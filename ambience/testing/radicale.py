"""A private Radicale (a real CalDAV server, from PyPI) for the CalDAV feed tests.

``Radicale`` starts ``python -m radicale`` on a free loopback port with its calendars in a temporary
folder and no authentication (any user name, any password), waits until it answers, and ``close()``
stops it and removes the folder. ``url`` is the server's root; a calendar is made with the ``caldav``
client (:meth:`Radicale.calendar`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ambience.testing.mosquitto import HOST, free_port

USER = "desk"
"""The user whose calendars the tests make (Radicale without authentication takes any)."""


class Radicale:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ambience-radicale-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self, timeout: float = 10.0) -> None:
        args = [sys.executable, "-m", "radicale", "--server-hosts", f"{HOST}:{self.port}", "--auth-type", "none",
                "--storage-filesystem-folder", str(self.folder / "collections"), "--logging-level", "warning",
                "--auth-delay", "0"]  # fmt: skip
        log = (self.folder / "radicale.log").open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"radicale exited: {(self.folder / 'radicale.log').read_text()[-2000:]}")
            try:
                httpx.get(self.url, timeout=0.5)
                return
            except httpx.TransportError:
                time.sleep(0.05)  # a poll of the port until it answers
        raise RuntimeError(f"radicale did not answer on {self.url} within {timeout:g} s")

    def calendar(self, name: str) -> Any:
        """A new calendar named ``name`` of :data:`USER`, as a ``caldav`` Calendar to put events in."""
        from caldav.davclient import DAVClient

        client = DAVClient(url=self.url, username=USER, password="any")
        return client.principal().make_calendar(name=name)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["Radicale", "USER"]
