"""``ambience serve`` as a real process for end-to-end tests: start, SIGKILL, restart, talk HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from mosquitto import free_port


class DaemonProcess:
    def __init__(
        self,
        config_file: Path,
        state_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ):
        self.config_file = config_file
        self.env = dict(env or {})
        self.preexec_fn = preexec_fn
        """Run in the child before ``ambience serve`` starts, e.g. to set its resource limits."""
        self.state_dir = state_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir.parent / f"daemon-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> DaemonProcess:
        env = dict(os.environ, AMBIENCE_HTTP__PORT=str(self.port), PYTHONUNBUFFERED="1", **self.env)
        env.pop("AMBIENCE_CONFIG", None)
        log = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ambience", "serve", "--config", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=self.preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ambience serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"ambience serve did not answer in {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def token(self) -> str:
        return (self.state_dir / "token").read_text().strip()

    def api(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        response = httpx.request(
            method, self.url + path, json=body, headers={"Authorization": f"Bearer {self.token()}"}, timeout=10
        )
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    def room(self, room: str) -> dict:
        return self.api("GET", f"/api/rooms/{room}")
