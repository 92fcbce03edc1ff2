"""A Zigbee2MQTT plug's own auto-off timer over a real mosquitto: the simulator, with nothing of ambience
running, switches the TS011F off when its countdown runs out and says so on its state topic; a room sensor's
reading arrives as Zigbee2MQTT publishes it. What the SIGKILL end-to-end test builds on."""

from __future__ import annotations

import time
from typing import Any

from ambience.config import Config
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto, MqttProbe

Z = "zigbee2mqtt"
ROOMS: dict[str, Any] = {
    "studio": {
        "switches": [{"bridge": Z, "device": "warmer", "role": "table_warmer", "auto_off": "2s"}],
        "sensors": [{"bridge": Z, "device": "probe"}],
    }
}
OPTIONS = {"warmer": {"profile": "tuya-ts011f-plug"}, "probe": {"profile": "sonoff-snzb-02"}}


def test_the_tuya_plug_switches_itself_off_when_its_countdown_runs_out(broker: Mosquitto, probe: MqttProbe):
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})
    probe.subscribe(f"{Z}/#")
    with Simulator(config, tick=0.1, options=OPTIONS, initial={"warmer": {"load": 60}}) as sim:
        assert sim.device("studio", "warmer")["kind"] == "switch"
        mark = probe.mark()
        probe.publish(f"{Z}/warmer/set", {"state": "ON", "countdown": 2})
        # the plug's first state after the command may be one it published before hearing it (its start-up
        # report): wait for the ON, which must come
        assert probe.wait_json(f"{Z}/warmer", lambda s: s["state"] == "ON", since=mark)["state"] == "ON"
        on_at = time.monotonic()
        sim.wait_for("studio", "warmer", lambda s: s["on"] is False, timeout=5)
        assert 1.8 <= time.monotonic() - on_at <= 3.0
        off = probe.wait_json(f"{Z}/warmer", lambda s: s["state"] == "OFF", since=mark)
        assert off["countdown"] == 0  # fz.on_off_countdown: the plug's onTime 0 beside its onOff report
        assert sim.device("studio", "warmer")["timed_offs"] == 1


def test_a_sensor_profile_publishes_its_temperature(broker: Mosquitto, probe: MqttProbe):
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})
    probe.subscribe(f"{Z}/probe")
    with Simulator(config, tick=0.1, options=OPTIONS, initial={"probe": {"temperature": 18.5}}) as sim:
        assert probe.wait_json(f"{Z}/probe")["temperature"] == 18.5
        assert sim.device("studio", "probe")["kind"] == "sensor"
