"""A clinic on disk for a test or a benchmark: ``ambience.yaml``, its presets folder and the parsed config.

    clinic = write_clinic(tmp_path, {"studio": STUDIO}, mqtt=broker.url, presets={"tiny": TINY})
    Simulator(clinic.config, initial=FOUND); DaemonProcess(clinic.file, clinic.state_dir)

Rooms, presets and sections are the YAML's own shapes (dicts, or a preset's YAML text), so a test
reads like the config it stands for. A test whose point is the literal YAML writes it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ambience.config import Config, parse_config

STUDIO: dict[str, Any] = {
    "name": "Treatment room 1",
    "thermostat": {"bridge": "zigbee2mqtt", "device": "trv"},
    "lights": [
        {"bridge": "zigbee2mqtt", "device": "ceiling", "role": "ceiling"},
        {"bridge": "tasmota", "device": "lamp", "role": "lamp"},
    ],
    "speaker": None,
}
"""The room of the end-to-end tests: a Zigbee valve, a Zigbee ceiling light and a Tasmota lamp."""

FOUND: dict[str, dict[str, Any]] = {
    "trv": {"target": 19, "mode": "heat", "local_temperature": 19},
    "ceiling": {"on": False, "brightness": 0},
    "lamp": {"on": True, "brightness": 80, "color_temp": 4000},
}
"""How the simulator finds STUDIO's devices (``initial=``): the valve at 19 °C, the ceiling off, the lamp at 80 %."""

TWO_ROOMS: dict[str, Any] = {
    "studio": {
        "name": "Treatment room 1",
        "thermostat": {"bridge": "zigbee2mqtt", "device": "studio-trv"},
        "lights": [{"bridge": "zigbee2mqtt", "device": "studio-lamp", "role": "lamp"}],
        "speaker": None,
    },
    "garden": {"lights": [{"bridge": "zigbee2mqtt", "device": "garden-ceiling", "role": "ceiling"}], "speaker": None},
}
"""The clinic of the API and CLI tests, which run without a broker: a named room and one without a name."""

TINY = """\
name: Tiny session
duration: 8s
climate: {target: 25}
lights: {brightness: 20, color_temp: 2500, transition: 0s}
after: restore
"""
"""An 8-second session at 25 °C with ``after: restore``: long enough to see, short enough to end in a test."""


@dataclass(frozen=True)
class Clinic:
    """What :func:`write_clinic` wrote: the folder, the config file and the config as ambience reads it."""

    folder: Path
    file: Path
    config: Config

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @property
    def presets(self) -> Path:
        return self.folder / "presets"


def write_clinic(
    folder: Path,
    rooms: dict[str, Any] | None = None,
    *,
    mqtt: str | None = None,
    base_topic: str | None = None,
    presets: dict[str, str | dict[str, Any]] | None = None,
    builtin: bool = True,
    music: list[str] | None = None,
    http: dict[str, Any] | bool = True,
    name: str = "ambience.yaml",
    **sections: Any,
) -> Clinic:
    """Write ``folder/name`` (and ``folder/presets/<id>.yaml`` for each of ``presets``) and parse it.

    ``rooms``: room id -> the room's YAML as a dict (default: ``{"studio": STUDIO}``). ``mqtt``: the
    broker's URL (omitted: ambience's default). ``builtin``: list the preset library too. ``music``:
    the music folders (default none). ``http``: True for an API on a port the system picks (a
    :class:`DaemonProcess` sets its own), False for none, or the section as a dict. ``sections``:
    any other top-level section as a dict (``reconcile=``, ``bookings=``, ``limits=`` ...).
    The state directory is ``folder/state``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}
    if mqtt is not None or base_topic is not None:
        data["mqtt"] = {k: v for k, v in (("url", mqtt), ("base_topic", base_topic)) if v is not None}
    if presets:
        (folder / "presets").mkdir(exist_ok=True)
        for preset_id, preset in presets.items():
            text = preset if isinstance(preset, str) else yaml.safe_dump(preset, sort_keys=False)
            (folder / "presets" / f"{preset_id}.yaml").write_text(text, encoding="utf-8")
    data["presets"] = (["builtin"] if builtin else []) + (["presets"] if presets else [])
    data["music"] = list(music or [])
    data["state_dir"] = "state"
    data["http"] = http if isinstance(http, dict) else ({"port": 0} if http else {"enabled": False})
    data.update(sections)
    data["rooms"] = {"studio": STUDIO} if rooms is None else rooms
    text = yaml.safe_dump(data, sort_keys=False)
    file = folder / name
    file.write_text(text, encoding="utf-8")
    return Clinic(folder, file, parse_config(text, str(file), folder))
