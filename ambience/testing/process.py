"""``ambience serve`` as a real process for end-to-end tests: start, SIGKILL, restart, talk HTTP(S) and CLI."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from ambience.infra.tls import CERT_FILE, TLS_DIR, TlsError, client_context
from ambience.testing.env import STORE_URL, without_ambience
from ambience.testing.http import ApiClient
from ambience.testing.mosquitto import free_port
from ambience.testing.waiting import eventually


class DaemonProcess(ApiClient):
    """``python -m ambience serve --config FILE`` on a port of its own (``AMBIENCE_HTTP__PORT``).

    ``start()`` waits for ``/healthz``; ``kill()`` is a crash, ``stop()`` a SIGTERM; a later
    ``start()`` runs a new process on the same port and state directory.
    The log of every run goes to ``daemon-<port>.log`` beside the state directory.

    ``tls``: the config serves HTTPS (``http.tls``): ``True`` for ``generate`` (the daemon's own
    certificate, ``<state_dir>/tls/cert.pem``), else the certificate file it serves. The URL is then
    ``https://``, and ``/healthz`` and the API are reached trusting exactly that certificate.
    ``host``: the address the URL names (the config's ``http.host`` when it is not loopback).
    """

    def __init__(
        self,
        config_file: Path,
        state_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
        tls: bool | Path = False,
        host: str = "127.0.0.1",
    ):
        self.config_file = config_file
        self.env = dict(env or {})
        self._store_url = os.environ.get(STORE_URL)
        """The suite's store (AMBIENCE_TEST_STORE=postgres) when this daemon was made: every restart keeps it,
        though a module's daemon outlives the test whose database it was."""
        self.preexec_fn = preexec_fn
        """Run in the child before ``ambience serve`` starts, e.g. to set its resource limits."""
        self.state_dir = state_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir.parent / f"daemon-{self.port}.log"
        self.host = host
        self.cert_file: Path | None = None
        """The certificate the daemon serves (HTTPS), made by the daemon at its first start with ``tls=True``."""
        if tls is not False:
            self.cert_file = state_dir / TLS_DIR / CERT_FILE if tls is True else Path(tls)

    @property
    def url(self) -> str:
        scheme = "http" if self.cert_file is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        """Trust exactly the daemon's own certificate over HTTPS (read now: the daemon may have made it anew)."""
        return True if self.cert_file is None else client_context(self.cert_file)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 15.0, wait: bool = True) -> DaemonProcess:
        """Run ``ambience serve``; ``wait``: until ``/healthz`` answers (a standby does not serve yet)."""
        env = dict(os.environ, AMBIENCE_HTTP__PORT=str(self.port), PYTHONUNBUFFERED="1", **self.env)
        env.pop("AMBIENCE_CONFIG", None)
        if STORE_URL not in self.env:
            env.pop(STORE_URL, None)
            if self._store_url is not None:
                env[STORE_URL] = self._store_url
        log = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ambience", "serve", "--config", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=self.preexec_fn,
        )
        if not wait:
            return self
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 15.0) -> None:
        """Until ``/healthz`` answers; raises if the process exits or ``timeout`` passes first."""

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"ambience serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            return httpx.get(self.url + "/healthz", timeout=0.5, verify=self.verify()).status_code == 200

        try:  # a TlsError: the certificate is not written yet
            eventually(healthy, timeout, ignoring=(httpx.HTTPError, TlsError))
        except AssertionError:
            raise TimeoutError(f"ambience serve did not answer in {timeout} s:\n{self.log_tail()}") from None

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

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """``python -m ambience ARGS --config FILE`` against this daemon, as a therapist would type it."""
        env = dict(without_ambience(), AMBIENCE_URL=self.url, AMBIENCE_TOKEN=self.token())
        return subprocess.run(
            [sys.executable, "-m", "ambience", *args, "--config", str(self.config_file)],
            env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
