"""The harness of the tests and the benchmarks; nothing else in ambience imports it (lint-imports checks).

- :mod:`~ambience.testing.mosquitto`: ``Mosquitto`` (a private broker per test), ``MqttProbe`` (a
  recording paho client), ``Gate`` (a door in front of a broker), ``free_port``, password and TLS files.
- :mod:`~ambience.testing.process`: ``DaemonProcess``, ``ambience serve`` as a process.
- :mod:`~ambience.testing.live`: ``LiveDaemon``, the daemon on its own loop in a thread of the test.
- :mod:`~ambience.testing.clinic`: ``write_clinic``, an ``ambience.yaml`` and presets from a few arguments.
- :mod:`~ambience.testing.waiting`: ``eventually`` (instead of a fixed sleep) and ``Clock``, a fake clock.
- :mod:`~ambience.testing.env`: ``clean_env``, no ``AMBIENCE_*`` variable of the developer's leaks in.
- :mod:`~ambience.testing.properties`: ``draws(n)``, a property test's examples (a tenth in ``-m unit``).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FOUND": "clinic", "STUDIO": "clinic", "TINY": "clinic", "TWO_ROOMS": "clinic", "Clinic": "clinic", "write_clinic": "clinic",
    "clean_env": "env", "without_ambience": "env", "ApiClient": "http", "LiveDaemon": "live",
    "Mosquitto": "mosquitto", "MqttProbe": "mosquitto", "Received": "mosquitto", "find_mosquitto": "mosquitto",
    "free_port": "mosquitto", "Gate": "mosquitto", "DaemonProcess": "process", "Clock": "waiting", "eventually": "waiting",
    "eventually_async": "waiting", "draws": "properties",
}  # fmt: skip
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """``from ambience.testing import X`` loads X's module only then: a pure test that needs only a
    Clock does not pay for the daemon, FastAPI and uvicorn (a lazy import, for start-up speed)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ambience.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ambience.testing.{module}"), name)
