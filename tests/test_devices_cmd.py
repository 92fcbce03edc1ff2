"""``ambience devices`` over a real mosquitto: what the bridges announce, listed; the snippet drives the devices.

The Zigbee2MQTT and Tasmota devices are the simulator's real-device profiles, which publish
``bridge/devices`` (z2m ``bridge.ts`` ``publishDevices``, with zigbee-herdsman-converters' definitions)
and ``tasmota/discovery/<mac>/config`` (Tasmota ``TasDiscoverMessage``) retained, as the bridges do.
ESPHome is not profiled in the simulator: its Home Assistant discovery configs are published here,
retained, in ESPHome's form (tests/test_esphome.py, from esphome mqtt_light.cpp / mqtt_climate.cpp).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_esphome import light_config

from ambience.cli import main
from ambience.config import Config, load_config
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto, MqttProbe

pytestmark = pytest.mark.usefixtures("clean_env")

Z = "zigbee2mqtt"
SIMULATED: dict[str, Any] = {  # the clinic's devices, as the simulator runs them
    "sim": {
        "thermostat": {"bridge": Z, "device": "treatment/trv", "setpoint": "current_heating_setpoint"},
        "lights": [
            {"bridge": Z, "device": "treatment/ceiling"},
            {"bridge": Z, "device": "treatment/warmer"},
            {"bridge": "tasmota", "device": "towel-cabinet"},
            {"bridge": "tasmota", "device": "floor-lamp"},
        ],
    }
}
PROFILES = {
    "treatment/trv": {"profile": "tuya-ts0601"},
    "treatment/ceiling": {"profile": "ikea-led1545g12", "availability": True},
    "treatment/warmer": {"profile": "ikea-outlet"},
    "towel-cabinet": {"profile": "tasmota-plug", "mac": "DC4F22123456"},
    "floor-lamp": {"profile": "tasmota-ct-bulb", "mac": "DC4F22ABCDEF"},
}


@pytest.fixture
def sim(broker: Mosquitto, probe: MqttProbe) -> Any:
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": SIMULATED})
    with Simulator(config, tick=0.1, drift=0.5, options=PROFILES) as simulator:
        probe.subscribe("zigbee2mqtt/bridge/devices")
        probe.subscribe("tasmota/discovery/+/config")
        probe.wait_for("zigbee2mqtt/bridge/devices", 5.0)
        probe.publish("homeassistant/light/reading-node/reading/config", reading_light(), retain=True)
        probe.publish("reading-node/status", "online", retain=True)
        yield simulator


def reading_light() -> dict:
    prefix = "reading-node/light/reading"
    return light_config(["color_temp"], 153, 370) | {
        "name": "Reading lamp",
        "stat_t": f"{prefix}/state",
        "cmd_t": f"{prefix}/command",
        "avty_t": "reading-node/status",
    }


def write(path: Path, url: str, rooms: dict | None = None) -> Path:
    path.write_text(json.dumps({"mqtt": {"url": url}, "rooms": rooms or {}}))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_devices_lists_what_the_bridges_announce_and_the_snippet_drives_them(sim, broker, tmp_path, capsys):
    # the installer's config so far: the ceiling bulb is in a room already
    cfg = write(
        tmp_path / "ambience.yaml", broker.url, {"studio": {"lights": [{"bridge": Z, "device": "treatment/ceiling"}]}}
    )
    code, out, err = run(capsys, "devices", "--config", str(cfg), "--timeout", "1s", "--json")
    assert code == 0, err
    listed = {d["name"]: d for d in json.loads(out)}
    assert set(listed) == {
        "treatment/trv",
        "treatment/ceiling",
        "treatment/warmer",
        "towel-cabinet",
        "floor-lamp",
        "reading-node/reading",
    }  # fmt: skip (no Coordinator)
    got = {n: (d["bridge"], d["model"], d["kind"], d["online"], d["room"]) for n, d in listed.items()}
    assert got == {
        "treatment/trv": (Z, "TS0601_thermostat", "climate", None, None),  # availability off: not known
        "treatment/ceiling": (Z, "LED1545G12", "light", True, "studio"),
        "treatment/warmer": (Z, "E160x/E170x/E190x", "switch", None, None),
        "towel-cabinet": ("tasmota", "Sonoff S2X", "switch", True, None),
        "floor-lamp": ("tasmota", "CT bulb", "light", True, None),
        "reading-node/reading": ("esphome", "esp32dev", "light", True, None),
    }
    assert listed["floor-lamp"]["capabilities"]["color_temp"] == [153, 500]

    code, out, _ = run(capsys, "devices", "--config", str(cfg), "--timeout", "1s")
    assert code == 0 and "treatment/ceiling" in out and "studio" in out and "6 device(s)" in out

    names = ["treatment/trv", "towel-cabinet=towel_warmer", "floor-lamp=floor"]
    code, snippet, err = run(
        capsys, "devices", "--config", str(cfg), "--timeout", "1s", "--snippet", *names, "--room", "new"
    )
    assert code == 0, err
    assert "role: towel_warmer}" in snippet and "current_heating_setpoint" in snippet
    applied = tmp_path / "applied.yaml"
    applied.write_text(f"mqtt: {{url: '{broker.url}'}}\n" + snippet)
    config, _ = load_config(applied)  # the snippet loads as config
    room = config.rooms["new"]
    assert {(d.bridge, d.device, kind, role) for d, kind, role in room.devices()} == {
        (Z, "treatment/trv", "climate", "thermostat"),
        ("tasmota", "towel-cabinet", "switch", "towel_warmer"),
        ("tasmota", "floor-lamp", "light", "floor"),
    }
    # and it drives the devices: every one confirms a preset
    code, out, err = run(capsys, "apply", "new", "swedish-relaxation-60", "--config", str(applied), "--timeout", "20s")
    assert code == 0, out + err
    assert "all 2 devices confirmed" in out  # the preset names no switch: the towel cabinet is left alone


def test_a_zigbee2mqtt_plug_in_the_snippet_is_a_switch_that_asks_for_its_role(sim, broker, tmp_path, capsys):
    cfg = write(tmp_path / "ambience.yaml", broker.url)
    code, snippet, err = run(
        capsys, "devices", "--config", str(cfg), "--timeout", "1s", "--snippet", "treatment/warmer"
    )
    assert code == 0, err
    assert (
        "    switches:\n      - {bridge: zigbee2mqtt, device: treatment/warmer, role: plug}  # IKEA E160x/E170x/E190x; a plug: set its role"
        in snippet
    )
    code, snippet, err = run(
        capsys, "devices", "--config", str(cfg), "--timeout", "1s", "--snippet", "treatment/warmer=table_warmer"
    )
    assert (
        "- {bridge: zigbee2mqtt, device: treatment/warmer, role: table_warmer}  # IKEA E160x/E170x/E190x\n" in snippet
    )


def test_devices_snippet_errors_are_one_line(sim, broker, tmp_path, capsys):
    cfg = write(tmp_path / "ambience.yaml", broker.url)
    code, _, err = run(capsys, "devices", "--config", str(cfg), "--timeout", "1s", "--snippet", "treatment/trw")
    assert code == 1 and err.count("\n") == 1 and "unknown device 'treatment/trw'; did you mean 'treatment/trv'?" in err
    code, _, err = run(
        capsys, "devices", "--config", str(cfg), "--timeout", "1", "--snippet", "floor-lamp", "--room", "A B"
    )
    assert code == 1 and "--room 'A B'" in err


def test_devices_says_when_nothing_is_announced(broker, tmp_path, capsys):
    cfg = write(tmp_path / "ambience.yaml", "mqtt://127.0.0.1:1")  # --url wins over the config's broker
    code, out, err = run(capsys, "devices", "--config", str(cfg), "--url", broker.url, "--timeout", "0.5s")
    assert code == 1 and not out
    assert f"no device announced on {broker.url}" in err and "zigbee2mqtt/bridge/devices" in err


def test_devices_refuses_a_bad_timeout_or_url_in_one_line(broker, tmp_path, capsys):
    cfg = write(tmp_path / "ambience.yaml", broker.url)
    with pytest.raises(SystemExit) as refused:  # argparse's usage error (tests/test_cli.py: one line, no traceback)
        run(capsys, "devices", "--config", str(cfg), "--timeout", "soon")
    assert refused.value.code == 2 and "argument --timeout: 'soon' is not a duration" in capsys.readouterr().err
    code, _, err = run(capsys, "devices", "--config", str(cfg), "--url", "http://x")
    assert code == 1 and "--url: 'http://x' is not a broker URL" in err and err.count("\n") == 1
