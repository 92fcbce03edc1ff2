"""Running the simulator as a program: ``ambience simulate`` / ``python -m ambience.simulator``."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ambience.config import Config, load_config
from ambience.errors import AmbienceError
from ambience.model.parse import load_yaml
from ambience.simulator.simulator import Simulator


def run(config: Config, url: str | None = None, *, out: TextIO | None = None, **options: Any) -> None:
    """Simulate every device of ``config`` until SIGINT or SIGTERM (``options`` go to :class:`Simulator`).

    Prints one line per device once started; waits for the broker as long as it takes. Called
    outside the main thread it installs no signal handlers, and runs until the process ends.
    """
    out = out or sys.stdout
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim = Simulator(config, url, **options)
    try:
        sim.start(timeout=None)
        if not sim.wait_ready(5):
            print(f"waiting for the broker at {sim.url} ...", file=out, flush=True)
        print(f"simulating {len(sim.devices())} devices on {sim.url} (Ctrl-C stops)", file=out)
        for line in sim.describe():
            print(f"  {line}", file=out)
        print(f"  state: {sim.prefix}/<room>/<device>/state   faults: {sim.prefix}/<room>/<device>/fault", file=out)
        out.flush()
        stop.wait()
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


SPEC_KEYS = ("initial", "faults")
"""Keys of a device spec that are not bridge options (``profile`` and the rest are)."""


def device_specs(path: str | Path) -> dict[str, dict[str, Any]]:
    """A simulator devices file as :class:`Simulator` keyword arguments (``options``, ``initial``, ``faults``).

    The file (YAML)::

        devices:
          studio/studio-trv: {profile: tuya-ts0601, initial: {target: 19}}
          studio-ceiling: {profile: ikea-led1545g12, availability: true}

    keys ``"<room>/<device>"`` or ``"<device>"``; per device ``profile`` (docs/simulator.md),
    ``initial`` (the state it starts in), ``faults`` and the bridge's options. An optional
    ``thermal:`` mapping gives a room with a heater thermostat its air's rates
    (``visit: {heating: 1.5, cooling: 0.2, ambient: 14}``, :mod:`ambience.simulator.thermal`).
    ValueError naming the file and the bad entry.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot read the simulator devices file: {exc}") from None
    data, issues = load_yaml(text, where)
    if issues:
        raise ValueError(f"{issues[0]} (the simulator devices file)")
    devices = data.get("devices") if isinstance(data, Mapping) else None
    if not isinstance(devices, Mapping) or set(data) - {"devices", "thermal"}:
        raise ValueError(
            f"{where}: write a 'devices:' mapping of '<room>/<device>' to a spec (and optionally 'thermal:'), "
            "and nothing else"
        )
    out: dict[str, dict[str, Any]] = {"options": {}, "initial": {}, "faults": {}}
    thermal = data.get("thermal", {})
    if not isinstance(thermal, Mapping) or not all(isinstance(v, Mapping) for v in thermal.values()):
        raise ValueError(
            f"{where}: thermal is {thermal!r}; write a mapping of room to rates, such as visit: {{heating: 1}}"
        )
    if thermal:
        out["thermal"] = {str(room): dict(rates) for room, rates in thermal.items()}
    for name, spec in devices.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where}: devices.{name} is {spec!r}; write a mapping such as {{profile: tuya-ts0601}}")
        options = {k: v for k, v in spec.items() if k not in SPEC_KEYS}
        for key in SPEC_KEYS:
            if key in spec:
                out[key][str(name)] = _yaml11_words(spec[key])
        if options:
            out["options"][str(name)] = options
    return out


def _yaml11_words(value: Any) -> Any:
    """YAML 1.1 reads a bare ``on:`` key as True: in a state or fault mapping it is the word ``on``."""
    if isinstance(value, Mapping):
        return {({True: "on", False: "off"}.get(k, k) if isinstance(k, bool) else k): v for k, v in value.items()}
    return value


def main(config_path: str | None, url: str | None = None, devices: str | None = None, **options: Any) -> int:
    """Load the config (``--config``, ``$AMBIENCE_CONFIG``, ``./ambience.yaml``) and the simulator's
    devices file (``--devices``), and :func:`run`; the exit code."""
    try:
        config, _ = load_config(config_path)
        if not config.rooms:
            print("error: the config has no rooms, so there is no device to simulate", file=sys.stderr)
            return 1
        specs: dict[str, Any] = device_specs(devices) if devices else {}
        run(config, url, **options, **specs)
    except AmbienceError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
