"""A real Home Assistant Core for tests: its own virtualenv, a private config, an owner and a token.

``HomeAssistant`` runs ``hass -c <dir>`` from a virtualenv of its own (Home Assistant pins its own
versions of aiohttp, SQLAlchemy… and needs a newer Python than ambience's floor), on a free loopback
port, with entities made of Home Assistant's own parts (no pip package beyond Core, no frontend):
an optimistic template light ``light.treatment_lamp`` (brightness and colour temperature), a
``generic_thermostat`` ``climate.room_thermostat`` (``heat``/``off``, 7–30 °C in 0.5 steps) heating
``input_boolean.heater`` from ``sensor.room_temperature`` (a template over ``input_number.room_temperature``),
a cooling-only ``climate.cooler`` (``cool``/``off``: it lacks ``heat``) and a template
``switch.table_warmer``: :data:`ENTITIES`. At the first start it is onboarded through
its own HTTP API, as the browser's onboarding does (``POST /api/onboarding/users``, then
``/auth/token`` with the code it answers), and a long-lived access token is made over the websocket
(``auth/long_lived_access_token``): :attr:`HomeAssistant.token`.

The virtualenv is made once, at ``$AMBIENCE_HA_VENV`` or ``~/.cache/ambience/ha-venv``, with
:data:`HA_VERSION` from PyPI (a few minutes the first time; ``./run test-ha`` does it). Python 3.13
is found as ``$AMBIENCE_HA_PYTHON``, ``python3.13`` on PATH or pyenv's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from ambience.testing.mosquitto import HOST, free_port

HA_VERSION = "2025.4.4"
"""The newest Home Assistant Core that runs on Python 3.13.0 (2025.5 needs 3.13.2)."""
FRONTEND_VERSION = "20250411.0"
"""What that version pins (its ``package_constraints.txt``): without it Home Assistant starts in recovery mode."""
CLIENT_ID = "http://127.0.0.1/"
CONFIG = """\
homeassistant:
  name: ambience test
  unit_system: metric
  time_zone: UTC
  latitude: 52.37
  longitude: 4.89
  elevation: 0
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
onboarding:
logger:
  default: warning
input_boolean:
  heater:
    name: Heater
  cooler:
    name: Cooler
  warmer:
    name: Table warmer
input_number:
  room_temperature:
    name: Room temperature
    min: 5
    max: 35
    step: 0.1
    initial: 19
template:
  - sensor:
      - name: Room temperature
        unique_id: room_temperature
        unit_of_measurement: "°C"
        device_class: temperature
        state: "{{{{ states('input_number.room_temperature') | float }}}}"
light:
  - platform: template
    lights:
      treatment_lamp:
        friendly_name: Treatment lamp
        turn_on: [{{delay: 0}}]
        turn_off: [{{delay: 0}}]
        set_level: [{{delay: 0}}]
        set_temperature: [{{delay: 0}}]
switch:
  - platform: template
    switches:
      table_warmer:
        friendly_name: Table warmer
        value_template: "{{{{ is_state('input_boolean.warmer', 'on') }}}}"
        turn_on: [{{action: input_boolean.turn_on, target: {{entity_id: input_boolean.warmer}}}}]
        turn_off: [{{action: input_boolean.turn_off, target: {{entity_id: input_boolean.warmer}}}}]
climate:
  - platform: generic_thermostat
    name: Room thermostat
    unique_id: room_thermostat
    heater: input_boolean.heater
    target_sensor: sensor.room_temperature
    min_temp: 7
    max_temp: 30
    target_temp: 18
    initial_hvac_mode: "off"
    precision: 0.5
    target_temp_step: 0.5
  - platform: generic_thermostat
    name: Cooler
    unique_id: cooler
    heater: input_boolean.cooler
    target_sensor: sensor.room_temperature
    ac_mode: true
    min_temp: 7
    max_temp: 30
    target_temp: 24
"""
ENTITIES = ("light.treatment_lamp", "climate.room_thermostat", "climate.cooler", "switch.table_warmer")
"""What :data:`CONFIG` makes (besides the input helpers behind them and ``sensor.room_temperature``)."""


def find_python() -> str | None:
    """A Python 3.13 for Home Assistant's virtualenv."""
    explicit = os.environ.get("AMBIENCE_HA_PYTHON")
    if explicit:
        return explicit
    found = shutil.which("python3.13")
    if found:
        return found
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv.glob("3.13.*/bin/python")) if pyenv.is_dir() else []
    return str(candidates[-1]) if candidates else None


def venv_dir() -> Path:
    return Path(os.environ.get("AMBIENCE_HA_VENV") or Path.home() / ".cache" / "ambience" / "ha-venv")


def installed(venv: Path | None = None) -> bool:
    venv = venv or venv_dir()
    return (venv / f".ha-{HA_VERSION}").is_file() and (venv / "bin" / "hass").is_file()


def ensure_venv(venv: Path | None = None) -> Path:
    """The virtualenv with Home Assistant :data:`HA_VERSION`, made if missing. Raises RuntimeError
    without a Python 3.13."""
    venv = venv or venv_dir()
    if installed(venv):
        return venv
    python = find_python()
    if python is None:
        raise RuntimeError("no Python 3.13 for Home Assistant (set AMBIENCE_HA_PYTHON, or install python3.13)")
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    # the frontend is one of the integrations Home Assistant always sets up (bootstrap.py CRITICAL_INTEGRATIONS)
    subprocess.run([*pip, f"homeassistant=={HA_VERSION}", f"home-assistant-frontend=={FRONTEND_VERSION}"], check=True)
    (venv / f".ha-{HA_VERSION}").write_text("installed\n")
    return venv


class HomeAssistant:
    """One Home Assistant Core in a temporary config folder; ``start()`` onboards it the first time."""

    def __init__(self, venv: Path | None = None, folder: Path | None = None):
        self.venv = venv or venv_dir()
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="ambience-ha-"))
        self.port = free_port()
        self.token: str = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log = self.folder / "hass.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 120.0) -> HomeAssistant:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "configuration.yaml").write_text(CONFIG.format(port=self.port))
        with open(self._log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "hass"), "-c", str(self.folder), "--skip-pip"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_up(timeout)
        if not self.token:
            self.token = asyncio.run(self._onboard())
        self.wait_entities(list(ENTITIES), timeout)
        return self

    def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"hass exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/onboarding", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"hass did not answer on {self.url} in {timeout:g} s:\n{self.log_tail()}")

    async def _onboard(self) -> str:
        """An owner made through onboarding, then a long-lived token for it."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            made = await http.post(
                "/api/onboarding/users",
                json={"client_id": CLIENT_ID, "name": "Owner", "username": "owner", "password": "owner-pw-1", "language": "en"},
            )  # fmt: skip
            made.raise_for_status()
            code = made.json()["auth_code"]
            tokens = await http.post(
                "/auth/token", data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID}
            )
            tokens.raise_for_status()
            access = tokens.json()["access_token"]
        reply = await self.ws_command(
            {"type": "auth/long_lived_access_token", "client_name": "ambience tests", "lifespan": 365}, access
        )
        return str(reply)

    async def ws_command(self, command: dict[str, Any], token: str | None = None) -> Any:
        """One websocket command's result (``call_service``, ``get_states``…) with the token."""
        async with websockets.connect(f"ws://{HOST}:{self.port}/api/websocket", max_size=None) as ws:
            await ws.recv()  # auth_required
            await ws.send(json.dumps({"type": "auth", "access_token": token or self.token}))
            auth = json.loads(await ws.recv())
            if auth.get("type") != "auth_ok":
                raise RuntimeError(f"Home Assistant refused the token: {auth}")
            await ws.send(json.dumps({"id": 1, **command}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == 1 and reply.get("type") == "result":
                    if not reply.get("success"):
                        raise RuntimeError(f"{command.get('type')} failed: {reply.get('error')}")
                    return reply.get("result")

    def call(self, domain: str, service: str, entity_id: str, **data: Any) -> None:
        """A service call, as a person in Home Assistant's own UI makes it."""
        asyncio.run(
            self.ws_command(
                {"type": "call_service", "domain": domain, "service": service, "service_data": data,
                 "target": {"entity_id": entity_id}}
            )
        )  # fmt: skip

    def state(self, entity_id: str) -> dict[str, Any]:
        reply = httpx.get(f"{self.url}/api/states/{entity_id}", headers={"Authorization": f"Bearer {self.token}"})
        reply.raise_for_status()
        return dict(reply.json())

    def wait_entities(self, entity_ids: list[str], timeout: float = 60.0) -> None:
        """Until every one of ``entity_ids`` has a state (the demo sets its platforms up after the start)."""
        deadline = time.monotonic() + timeout
        missing = list(entity_ids)
        while time.monotonic() < deadline:
            missing = [e for e in missing if not self._has(e)]
            if not missing:
                return
            time.sleep(0.5)
        raise RuntimeError(f"no state for {', '.join(missing)} in {timeout:g} s:\n{self.log_tail()}")

    def _has(self, entity_id: str) -> bool:
        try:
            return self.state(entity_id).get("state") not in (None, "unavailable")
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> HomeAssistant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
