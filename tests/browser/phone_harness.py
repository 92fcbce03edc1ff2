"""The phone-page browser tests' harness: a real ``ambience serve`` with simulated devices, and screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambience.simulator import Simulator
from ambience.testing.process import DaemonProcess

CHROMIUM = os.environ.get("AMBIENCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 360, "height": 740}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

CONFIG = """
mqtt: {{url: '{url}', base_topic: amb}}
presets: [builtin]
music: []
state_dir: state
http: {{port: 0}}
bookings: {{timezone: UTC}}
reconcile: {{ack_timeout: 0.3s, max_tries: 2, slow_retry: 3s}}
rooms:
  studio:
    name: Treatment room 1
    thermostat: {{bridge: zigbee2mqtt, device: trv}}
    lights:
      - {{bridge: zigbee2mqtt, device: ceiling, role: ceiling}}
      - {{bridge: tasmota, device: lamp, role: lamp}}
    speaker: null
  garden:
    name: Garden room
    lights:
      - {{bridge: zigbee2mqtt, device: garden-lamp, role: lamp}}
      - {{bridge: tasmota, device: garden-spot, role: ceiling}}
    speaker: null
"""
INITIAL = {
    "trv": {"target": 19, "mode": "heat", "local_temperature": 19},
    "ceiling": {"on": False, "brightness": 0},
    "lamp": {"on": True, "brightness": 80, "color_temp": 4000},
}


@dataclass
class Clinic:
    """A running ``ambience serve`` with simulated devices; ``restart()`` brings a killed daemon back."""

    config_file: Path
    state_dir: Path
    daemon: DaemonProcess
    sim: Simulator
    shots: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.daemon.url

    def token(self) -> str:
        return self.daemon.token()

    def api(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        return self.daemon.api(method, path, body, expect)

    def restart(self) -> None:
        self.daemon = DaemonProcess(self.config_file, self.state_dir, port=self.daemon.port).start()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, AMBIENCE_URL=self.url, AMBIENCE_TOKEN=self.token())
        env.pop("AMBIENCE_CONFIG", None)
        return subprocess.run(
            [sys.executable, "-m", "ambience", *args, "--config", str(self.config_file)],
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    def idle(self, room: str = "studio") -> None:
        """End whatever a test left running in the room."""
        if self.api("GET", f"/api/rooms/{room}")["state"] != "idle":
            self.api("POST", f"/api/rooms/{room}/stop", expect=None)


def unexpected(text: str) -> bool:
    """A console error that is not a refused or failed request (those are the point of some tests)."""
    return not ("Failed to load resource" in text or "net::ERR" in text or "status of 40" in text)


def shot(page: Any, name: str, at: Any = None) -> Path:
    """A screenshot of what the phone shows (the 360×740 viewport) in test-artifacts/.

    ``at``: a locator scrolled to the top of the screen first (a room card, say)."""
    if at is not None:
        at.evaluate("element => element.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"phone-{name}.png"
    page.screenshot(path=str(path))
    return path
