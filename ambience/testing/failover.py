"""The active/standby rig of docs/failover.md, shared by tests/test_failover.py and the bench and soak.

Two real ``ambience serve`` processes (``a`` and ``b``: own state_dir and HTTP port, one ``store_url`` on
PostgreSQL and one base topic) in front of a simulator, on a mosquitto that logs every PUBLISH with the
client id that sent it (``log_type debug``): :func:`device_commands` reads that log, so each device
command is attributed to the daemon that sent it (each daemon runs with the MQTT client id
``daemon-<name>``). A subscriber cannot see who published a message; the broker can.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ambience.simulator import Simulator
from ambience.testing.clinic import FOUND, write_clinic
from ambience.testing.mosquitto import Mosquitto
from ambience.testing.process import DaemonProcess

LONG = """
name: Long session
duration: 30m
climate: {target: 24}
lights: {brightness: 30, color_temp: 2700, transition: 0s}
after: restore
"""
"""A 30-minute session: long enough that every take-over of a test lands in it."""
BASE = "amb"
PUBLISH = re.compile(r"Received PUBLISH from (\S+) \(d\d, q\d, r\d, m\d+, '([^']+)'")
COMMAND_TOPICS = ("zigbee2mqtt/trv/set", "zigbee2mqtt/ceiling/set", "cmnd/lamp/#")
"""Where the daemons command STUDIO's devices (what a raw probe subscribes to, to see them)."""


def logged_broker(binary: str | None = None) -> Mosquitto:
    """A mosquitto (not started) that logs every PUBLISH with the client that sent it."""
    return Mosquitto(binary=binary, extra_config=["log_type debug"])


@contextmanager
def site(
    broker: Mosquitto, folder: Path, url: str, presets: dict[str, str | dict[str, Any]] | None = None
) -> Iterator[tuple[DaemonProcess, DaemonProcess, Simulator]]:
    """Two daemons of one site (``a`` and ``b``), not started, and the simulator of their devices."""
    daemons = []
    for name in ("a", "b"):
        clinic = write_clinic(
            folder / name, mqtt=broker.url, base_topic=BASE, presets=presets or {"long": LONG},
            reconcile={"ack_timeout": "0.3s", "max_tries": 3, "slow_retry": "3s"},
        )  # fmt: skip
        env = {"AMBIENCE_STORE_URL": url, "AMBIENCE_MQTT__CLIENT_ID": f"daemon-{name}"}
        daemons.append(DaemonProcess(clinic.file, clinic.state_dir, env=env))
    with Simulator(clinic.config, tick=0.2, initial=FOUND) as sim:
        try:
            yield daemons[0], daemons[1], sim
        finally:
            for daemon in daemons:
                daemon.stop()


def device_commands(broker: Mosquitto) -> list[tuple[str, str]]:
    """(sender, topic) of each command a daemon sent to a device, in the order the broker took them."""
    found = PUBLISH.findall(broker.log_file.read_text(errors="replace"))
    return [(who, topic) for who, topic in found if who.startswith("daemon-") and not topic.startswith(BASE + "/")]


def leader_id(daemon: DaemonProcess, a: DaemonProcess) -> str:
    """The MQTT client id of ``daemon`` (``a`` is the site's first)."""
    return "daemon-a" if daemon is a else "daemon-b"


def standing_by(daemon: DaemonProcess) -> bool:
    return f"standby: site '{BASE}' is led by" in daemon.log.read_text(errors="replace")


def standbys(daemon: DaemonProcess) -> int:
    """How many times ``daemon`` said it stands by (one per start that found a leader)."""
    return daemon.log.read_text(errors="replace").count("standby: site")
