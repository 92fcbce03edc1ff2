"""Devices end to end: ambience's connection and reconciler against the simulator on a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ambience.cli import main
from ambience.config import Config, parse_config
from ambience.devices.manager import BRIDGE_WAIT, Devices, LogLimit
from ambience.errors import DeviceError
from ambience.infra.mqtt import Connection
from ambience.model.state import ClimateState, Light, LightTarget
from ambience.simulator import Simulator
from ambience.testing import eventually, eventually_async
from ambience.testing.mosquitto import Mosquitto, make_tls_files

QUICK = """
name: Quick check
duration: 10m
climate: {target: 24}
lights: {brightness: 30, color_temp: 2700, transition: 1s}
"""

ROOMS = """
rooms:
  studio:
    thermostat: {bridge: zigbee2mqtt, device: studio-trv}
    lights:
      - {bridge: zigbee2mqtt, device: studio-ceiling, role: ceiling}
      - {bridge: tasmota, device: studio-lamp, role: lamp}
      - {bridge: homeassistant, device: studio-floor, role: floor, command_topic: ha/floor/set, state_topic: ha/floor/state, availability_topic: ha/floor/availability}
      - {bridge: esphome, device: studio-esp, object_id: accent, role: accent}
      - {bridge: shelly, device: shellydimmer-1, role: wall}
      - {bridge: generic, device: strip, role: strip, command_topic: strip/cmd, state_topic: strip/state, payload: '{"on": {on}, "level": {brightness}}', values: {state: 'on', brightness: level}}
  ha-room:
    thermostat:
      bridge: homeassistant
      device: ha-trv
      temperature_command_topic: ha/trv/temp/set
      temperature_state_topic: ha/trv/temp
      mode_command_topic: ha/trv/mode/set
      mode_state_topic: ha/trv/mode
      current_temperature_topic: ha/trv/current
  esp-room:
    thermostat: {bridge: esphome, device: esp-trv, object_id: heater}
"""

FAST = "reconcile: {ack_timeout: 0.3s, max_tries: 3, slow_retry: 5s}\n"


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    presets = tmp_path / "presets"
    presets.mkdir(exist_ok=True)
    (presets / "quick.yaml").write_text(QUICK)
    cfg = tmp_path / "ambience.yaml"
    cfg.write_text(f"mqtt: {{url: '{url}'}}\npresets: [builtin, presets]\n{FAST}{ROOMS}{extra}")
    return cfg


def load(cfg: Path) -> Config:
    return parse_config(cfg.read_text(), str(cfg), cfg.parent)


def test_apply_confirms_every_device_one_per_bridge(broker, tmp_path, capsys):
    cfg = write_config(tmp_path, broker.url)
    config = load(cfg)
    with Simulator(config, tick=0.2) as sim:
        for room in ("studio", "ha-room", "esp-room"):
            code = main(["apply", room, "quick", "--config", str(cfg), "--timeout", "15s"])
            out, err = capsys.readouterr()
            assert code == 0, out + err
            assert "confirmed" in out and "all" in out
        for device in ("studio-ceiling", "studio-lamp", "studio-floor", "studio-esp", "shellydimmer-1", "strip"):
            # a command's reply can confirm before the device's own 1 s transition is over
            sim.wait_for("studio", device, lambda s: s["on"] and abs(s["brightness"] - 30) <= 1.5, timeout=3)
        assert sim.device("studio", "studio-trv")["target"] == 24
        assert sim.device("ha-room", "ha-trv")["target"] == 24
        assert sim.device("esp-room", "esp-trv")["target"] == 24


def test_apply_reports_a_dead_device_and_exits_1(broker, tmp_path, capsys):
    cfg = write_config(tmp_path, broker.url)
    with Simulator(load(cfg), tick=0.2, faults={"studio-lamp": {"mute": True}}):
        code = main(["apply", "studio", "quick", "--config", str(cfg), "--timeout", "15s"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "studio-lamp" in err and "did not confirm" in err
    lamp_row = next(line for line in out.splitlines() if "studio-lamp" in line)
    assert "unconfirmed" in lamp_row
    assert sum("confirmed" in line and "unconfirmed" not in line for line in out.splitlines()) == 6


def test_rooms_check_reports_what_devices_say_without_changing_them(broker, tmp_path, capsys):
    cfg = write_config(tmp_path, broker.url)
    config = load(cfg)
    initial = {"studio-ceiling": {"on": True, "brightness": 80, "color_temp": 4000}}
    with Simulator(config, tick=0.2, initial=initial, faults={"studio-esp": {"offline": True}}) as sim:
        code = main(["rooms", "check", "studio", "--config", str(cfg)])
        out, err = capsys.readouterr()
        assert sim.commands("studio", "studio-ceiling") == 0
    # the generic bridge has no query: it is heard only when its state changes
    assert code == 1 and "2 device(s) offline or not answering" in err
    assert "no answer" in next(line for line in out.splitlines() if "strip" in line)
    ceiling = next(line for line in out.splitlines() if "studio-ceiling" in line)
    assert "80 %" in ceiling and "online" in ceiling
    assert "offline" in next(line for line in out.splitlines() if "studio-esp" in line)


async def _running(config: Config):
    connection = Connection(config.mqtt)
    devices = Devices(connection, config)
    await connection.start(wait=5)
    task = asyncio.create_task(devices.run())
    return connection, devices, task


def test_dropped_commands_converge_and_a_silent_device_is_unconfirmed_in_bounded_time(broker, tmp_path):
    config = load(write_config(tmp_path, broker.url))
    faults = {"studio-ceiling": {"drop_first": 2}, "studio-lamp": {"mute": True}}
    with Simulator(config, tick=0.2, faults=faults) as sim:

        async def scenario():
            connection, devices, task = await _running(config)
            try:
                target = LightTarget(Light(40, 2700), Light(40, 2700), 0.0)
                for dev in ("studio-ceiling", "studio-lamp", "studio-floor"):
                    devices.want("studio", dev, target)
                started = time.monotonic()
                await devices.wait_settled("studio", 20)
                return {d["id"]: d["status"] for d in devices.status("studio")}, time.monotonic() - started
            finally:
                task.cancel()
                await connection.stop()

        status, took = asyncio.run(scenario())
        assert status["studio-ceiling"] == "confirmed"
        assert status["studio-floor"] == "confirmed"
        assert status["studio-lamp"] == "unconfirmed"
        # the backoff of three tries and a margin, after the connect-time wait for the Tasmota and ESPHome
        # devices' retained discovery configs (this simulator's plain devices publish none)
        assert took < BRIDGE_WAIT + 0.3 + 0.6 + 1.2 + 1.0
        assert sim.device("studio", "studio-ceiling")["brightness"] == pytest.approx(40, abs=1.5)


def test_broker_outage_reconnects_fast_and_ends_in_the_desired_state(broker, tmp_path):
    config = load(write_config(tmp_path, broker.url))
    with Simulator(config, tick=0.2) as sim:

        async def scenario():
            connection, devices, task = await _running(config)
            try:
                devices.want("studio", "studio-ceiling", LightTarget(Light(20, 2700), Light(20, 2700), 0.0))
                devices.want("studio", "studio-trv", ClimateState(23.0))
                assert await devices.wait_settled("studio", 10)
                broker.kill()
                await asyncio.sleep(0.5)
                assert not connection.connected
                # the room's wish changes while the broker is away: nothing is queued for later
                devices.want("studio", "studio-ceiling", LightTarget(Light(55, 2700), Light(55, 2700), 0.0))
                await asyncio.sleep(1.0)
                await asyncio.to_thread(broker.start)
                back = time.monotonic()
                while not connection.connected:
                    await asyncio.sleep(0.05)
                reconnect = time.monotonic() - back
                assert await devices.wait_settled("studio", 10)
                return reconnect
            finally:
                task.cancel()
                await connection.stop()

        reconnect = asyncio.run(scenario())
        assert reconnect < 3.0
        sim.wait_for("studio", "studio-ceiling", lambda s: abs(s["brightness"] - 55) <= 1.5, timeout=5)
        assert sim.device("studio", "studio-trv")["target"] == 23


def test_last_will_says_offline_when_the_process_dies(broker, probe):
    probe.subscribe("lwt-test/status")
    script = (
        "import asyncio, sys\n"
        "from ambience.config.sections import MqttConfig\n"
        "from ambience.infra.mqtt import Connection\n"
        "async def main():\n"
        f"    c = Connection(MqttConfig(url='{broker.url}', base_topic='lwt-test'))\n"
        "    await c.start(wait=5)\n"
        "    print('up', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        probe.wait_for(lambda m: m.topic == "lwt-test/status" and m.text == "online", timeout=5)
        mark = probe.mark()
        proc.kill()
        probe.wait_for(lambda m: m.topic == "lwt-test/status" and m.text == "offline", timeout=5, since=mark)
    finally:
        proc.kill()
        proc.wait()


def test_commands_are_qos1_not_retained_with_an_expiry(broker, tmp_path):
    import paho.mqtt.client as paho

    config = load(write_config(tmp_path, broker.url))
    got: list = []
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.append(m)
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.subscribe("zigbee2mqtt/studio-ceiling/set", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(5)

        async def scenario():
            connection, devices, task = await _running(config)
            try:
                devices.want("studio", "studio-ceiling", LightTarget(Light(20, 2700), Light(20, 2700), 0.0))
                await asyncio.sleep(0.3)
            finally:
                task.cancel()
                await connection.stop()

        asyncio.run(scenario())
        eventually(lambda: got, 5)
    finally:
        sub.loop_stop()
        sub.disconnect()
    msg = got[0]
    assert json.loads(msg.payload)["state"] == "ON"
    assert msg.qos == 1 and not msg.retain
    assert msg.properties.MessageExpiryInterval == pytest.approx(30, abs=1)


@pytest.fixture
def secure_broker(mosquitto_binary, tmp_path):
    ca, cert, key = make_tls_files(tmp_path / "tls")
    server = Mosquitto(binary=mosquitto_binary, tls=(ca, cert, key), users={"ambience": "correct horse"})
    try:
        server.start()
        yield server, ca
    finally:
        server.close()


def test_tls_and_password_file_work_and_a_wrong_password_is_one_clear_line(secure_broker, tmp_path, capsys):
    server, ca = secure_broker
    url = f"mqtts://127.0.0.1:{server.port}"
    (tmp_path / "mqtt.pass").write_text("correct horse\n")
    cfg = write_config(tmp_path, url)
    text = cfg.read_text().replace(
        f"mqtt: {{url: '{url}'}}",
        f"mqtt: {{url: '{url}', username: ambience, password_file: mqtt.pass, ca_file: '{ca}'}}",
    )
    cfg.write_text(text)
    config = load(cfg)
    with Simulator(config, tick=0.2):
        code = main(["apply", "esp-room", "quick", "--config", str(cfg), "--timeout", "10s"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
    (tmp_path / "mqtt.pass").write_text("wrong\n")
    code = main(["rooms", "check", "--config", str(cfg)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "refused the connection" in lines[0] and "password" in lines[0]
    assert "Traceback" not in err and "wrong" not in err


def test_unreachable_broker_is_one_clear_error(tmp_path):
    from ambience.testing.mosquitto import free_port

    config = parse_config(f"mqtt: {{url: 'mqtt://127.0.0.1:{free_port()}'}}\n", "c.yaml", tmp_path)

    async def scenario():
        await Connection(config.mqtt).start(wait=1.5)

    with pytest.raises(DeviceError, match="cannot reach the broker at mqtt://127.0.0.1:.*connection refused"):
        asyncio.run(scenario())


def test_mqtt_3_1_1_is_selectable(broker, tmp_path):
    cfg = write_config(tmp_path, broker.url)
    cfg.write_text(
        cfg.read_text().replace(f"mqtt: {{url: '{broker.url}'}}", f"mqtt: {{url: '{broker.url}', protocol: 3.1.1}}")
    )
    config = load(cfg)
    assert config.mqtt.protocol == "3.1.1"
    with Simulator(config, tick=0.2) as sim:

        async def scenario():
            connection, devices, task = await _running(config)
            try:
                assert not connection.v5
                devices.want("esp-room", "esp-trv/heater", ClimateState(22.5))
                return await devices.wait_settled("esp-room", 5)
            finally:
                task.cancel()
                await connection.stop()

        assert asyncio.run(scenario())
        assert sim.device("esp-room", "esp-trv")["target"] == 22.5


def test_never_more_unacknowledged_publishes_than_the_brokers_receive_maximum():
    """MQTT 5: the broker says how many QoS 1 publishes may await their PUBACK (mosquitto: its
    max_inflight_messages); paho does not honour it, the Connection does."""
    from ambience.config.sections import MqttConfig

    async def scenario(url: str, protocol: str) -> tuple[int, int]:
        connection = Connection(MqttConfig(url=url, protocol=protocol))
        await connection.start(wait=5)
        try:
            for i in range(50):
                connection.command(f"t/{i}", b"x")
            return connection._client._max_inflight_messages, connection._client._inflight_messages
        finally:
            await connection.stop()

    with Mosquitto(extra_config=["max_inflight_messages 7"]) as broker:
        broker.start()
        limit, in_flight = asyncio.run(scenario(broker.url, "5"))
        assert limit == 7 and 0 < in_flight <= 7
        limit, _ = asyncio.run(scenario(broker.url, "3.1.1"))
        assert limit == 0  # 3.1.1 has no such limit: paho's 0 is unlimited


# ---- bad reports -------------------------------------------------------------------------------------

POISONED_REPORTS = {  # retained, as a broken (or hostile) device might leave them on the broker
    "zigbee2mqtt/studio-trv": b'{"occupied_heating_setpoint":1e308,"system_mode":"heat","local_temperature":20.5}',
    "zigbee2mqtt/studio-ceiling": b'{"state":"ON","brightness":76,"color_temp":1e-310}',
    "stat/studio-lamp/RESULT": b'{"POWER":"ON","Dimmer":40,"CT":1e-310}',
}
GOOD_REPORTS = {
    "ha/floor/state": b'{"state":"ON","brightness":128}',
    "studio-esp/light/accent/state": b'{"state":"ON","color_mode":"brightness","brightness":51}',
    "shellydimmer-1/status/light:0": b'{"output":true,"brightness":60}',
    "strip/state": b'{"on":true,"level":70}',
}
STUDIO_AS_REPORTED = {
    "studio-trv": {"target": None, "mode": "heat", "current": 20.5},  # the setpoint dropped, the rest kept
    "studio-ceiling": {"on": True, "brightness": 29.9},  # the colour temperature dropped
    "studio-lamp": {"on": True, "brightness": 40.0},
    "studio-floor": {"on": True, "brightness": 50.2},
    "studio-esp/accent": {"on": True, "brightness": 20.0},
    "shellydimmer-1": {"on": True, "brightness": 60.0},
    "strip": {"on": True, "brightness": 70.0},
}


def reported(devices: Devices, room: str) -> dict:
    return {d["id"]: d["reported"] for d in devices.status(room)}


def test_a_poisoned_retained_report_is_dropped_in_one_line_and_every_other_report_is_read(
    broker, probe, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="ambience")
    config = load(write_config(tmp_path, broker.url))
    for topic, payload in {**POISONED_REPORTS, **GOOD_REPORTS}.items():
        probe.publish(topic, payload, retain=True)

    async def scenario():
        connection, devices, task = await _running(config)
        try:
            await devices.wait_reported("studio", 5)
            found = reported(devices, "studio")
            # the same poison, again and again: no more lines; a good report behind it is read
            for _ in range(3):
                await asyncio.to_thread(
                    probe.publish, "zigbee2mqtt/studio-ceiling", POISONED_REPORTS["zigbee2mqtt/studio-ceiling"]
                )
            await asyncio.to_thread(probe.publish, "zigbee2mqtt/studio-ceiling", b'{"state":"ON","brightness":127}')
            await eventually_async(lambda: reported(devices, "studio")["studio-ceiling"]["brightness"] == 50.0)
            return found
        finally:
            task.cancel()
            await connection.stop()

    assert asyncio.run(scenario()) == STUDIO_AS_REPORTED
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("ambience.devices")]
    assert lines == [
        "studio/studio-trv: occupied_heating_setpoint 1e+308 dropped: a setpoint is 0–45 °C",
        "studio/studio-ceiling: color_temp 1e-310 dropped: a colour temperature is 50–1000 mired or 1000–20000 K",
        "studio/studio-lamp: CT 1e-310 dropped: Tasmota's CT is 153–500 mired",
    ]


class Exploding:
    """A real adapter whose decoding fails: a stand-in for a decoder bug nobody has found yet."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.kind, self.max_transition = adapter.kind, adapter.max_transition

    def subscriptions(self):
        return self.adapter.subscriptions()

    def light(self, light, transition):
        return self.adapter.light(light, transition)

    def climate(self, climate):
        return self.adapter.climate(climate)

    def query(self):
        return self.adapter.query()

    def decode(self, topic, payload):
        raise RuntimeError("a decoder bug")


def test_a_report_whose_handling_fails_is_logged_once_and_the_reports_behind_it_are_still_read(
    broker, probe, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="ambience")
    config = load(write_config(tmp_path, broker.url))
    probe.publish("zigbee2mqtt/studio-ceiling", b'{"state":"ON","brightness":76}', retain=True)
    for topic, payload in GOOD_REPORTS.items():
        probe.publish(topic, payload, retain=True)

    async def scenario():
        connection = Connection(config.mqtt)
        devices = Devices(connection, config)
        ceiling = devices.rooms["studio"]["studio-ceiling"]
        ceiling.adapter = Exploding(ceiling.adapter)
        await connection.start(wait=5)
        task = asyncio.create_task(devices.run())
        others = ("studio-floor", "studio-esp/accent", "shellydimmer-1", "strip")
        try:
            await eventually_async(lambda: all(reported(devices, "studio")[d] is not None for d in others))
            for _ in range(3):
                await asyncio.to_thread(probe.publish, "zigbee2mqtt/studio-ceiling", b'{"state":"OFF"}')
            await asyncio.to_thread(probe.publish, "ha/floor/state", b'{"state":"OFF"}')
            await eventually_async(lambda: reported(devices, "studio")["studio-floor"]["on"] is False)
            return reported(devices, "studio")["studio-ceiling"]
        finally:
            task.cancel()
            await connection.stop()

    assert asyncio.run(scenario()) is None
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in failures] == [
        "studio/studio-ceiling: a report on zigbee2mqtt/studio-ceiling could not be read; skipped"
    ]
    assert failures[0].exc_info is not None  # the unexpected keeps its traceback


def test_a_repeating_bad_report_is_one_line_a_minute_that_counts_the_ones_held_back(caplog):
    caplog.set_level(logging.WARNING, logger="ambience.test")
    limit = LogLimit(logging.getLogger("ambience.test"), every=60.0)
    for now in (0.0, 1.0, 2.0, 3.0, 61.0, 62.0):
        limit.log("trv", now, logging.WARNING, "trv: bad at %g", now)
        limit.log("lamp", now + 30, logging.WARNING, "lamp: bad at %g", now + 30)
    assert [r.getMessage() for r in caplog.records] == [
        "trv: bad at 0",
        "lamp: bad at 30",  # another device has a minute of its own
        "trv: bad at 61 (3 more since the last line)",
        "lamp: bad at 91 (3 more since the last line)",
    ]
