"""Zigbee2MQTT's own announcements through a real mosquitto: ``bridge/devices`` (retained, the real
definitions of test_zigbee2mqtt_capabilities in the form of zigbee2mqtt ``lib/extension/bridge.ts``)
and ``bridge/state``, published by the test itself, and what ambience then sends the devices."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_zigbee2mqtt_capabilities import bridge_entry

from ambience.cli import main
from ambience.config import Config, parse_config
from ambience.devices.manager import Devices
from ambience.infra.mqtt import Connection
from ambience.model.state import ClimateState, Light, LightTarget, RoomState
from ambience.testing import eventually_async

CONFIG = """
mqtt: {{url: '{url}'}}
presets: [presets]
rooms:
  room1:
    thermostat: {{bridge: zigbee2mqtt, device: room1/trv, setpoint: current_heating_setpoint}}
    lights:
      - {{bridge: zigbee2mqtt, device: room1/ceiling, role: ceiling}}
      - {{bridge: zigbee2mqtt, device: room1/group, role: lamp}}
      - {{bridge: zigbee2mqtt, device: room1/candle, role: candle}}
"""
PRESET = "name: Cool down\nduration: 10m\nclimate: {target: 19, mode: 'off'}\n"
BRIDGE_DEVICES = [
    bridge_entry("TS0601_thermostat", "room1/trv", "Battery", ieee_address="0xa4c1380000000001"),
    bridge_entry("LED1545G12", "room1/ceiling", "Mains (single phase)", ieee_address="0x000b57fffe000002"),
    bridge_entry("8718696548738", "room1/candle", "Battery", ieee_address="0x0017880100000003"),
]  # room1/group is a Z2M group: not in bridge/devices, it keeps its configuration


def write(tmp_path: Path, url: str) -> Path:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "cool.yaml").write_text(PRESET)
    cfg = tmp_path / "ambience.yaml"
    cfg.write_text(CONFIG.format(url=url))
    return cfg


def load(cfg: Path) -> Config:
    return parse_config(cfg.read_text(), str(cfg), cfg.parent)


def state(climate: ClimateState, light: Light, fade: float) -> RoomState:
    target = LightTarget(Light(80, 2700), light, fade)
    return RoomState("running", None, 0, 600, 600, 600, climate=climate, lights={"*": target})


def sets(probe, device: str, since: int = 0) -> list[dict]:
    return [m.json() for m in probe.messages(f"zigbee2mqtt/{device}/set", since)]


def test_announced_capabilities_shape_what_is_sent_and_the_bridge_going_down_shows(broker, probe, tmp_path):
    config = load(write(tmp_path, broker.url))
    probe.publish("zigbee2mqtt/bridge/devices", BRIDGE_DEVICES, retain=True)
    probe.publish("zigbee2mqtt/bridge/state", {"state": "online"}, retain=True)
    probe.subscribe("zigbee2mqtt/#")
    probe.settle()

    async def scenario() -> dict:
        connection = Connection(config.mqtt)
        devices = Devices(connection, config)
        await connection.start(wait=5)
        task = asyncio.create_task(devices.run())
        try:
            trv = devices.rooms["room1"]["room1/trv"]
            await eventually_async(lambda: trv.adapter.capabilities.family == "tuya_ts0601", 5)
            candle, ceiling = devices.rooms["room1"]["room1/candle"], devices.rooms["room1"]["room1/ceiling"]
            patience = {
                "candle": (candle.patient, candle.ack_timeout),
                "ceiling": (ceiling.patient, ceiling.ack_timeout),
            }
            mark = probe.mark()
            devices.apply("room1", state(ClimateState(22.0, "heat"), Light(20, 2700), 30.0))
            await asyncio.to_thread(probe.wait_count, "zigbee2mqtt/room1/+/set", 5, 5.0, mark)
            sent = {d: sets(probe, d, mark) for d in ("room1/trv", "room1/ceiling", "room1/group")}
            asked = [m.topic for m in probe.messages("zigbee2mqtt/room1/+/get")]
            # Z2M goes down: every device behind it shows it
            await asyncio.to_thread(probe.publish, "zigbee2mqtt/bridge/state", {"state": "offline"}, retain=True)
            await eventually_async(lambda: all(d["status"] == "offline" for d in devices.status("room1")), 5)
            down = devices.status("room1")
            mark = probe.mark()
            await asyncio.to_thread(probe.publish, "zigbee2mqtt/bridge/state", {"state": "online"}, retain=True)
            await asyncio.to_thread(probe.wait_for, "zigbee2mqtt/room1/trv/set", 5.0, mark)
            again = sets(probe, "room1/trv", mark)
            return {"sent": sent, "asked": asked, "down": down, "again": again, "patience": patience}
        finally:
            task.cancel()
            await connection.stop()

    got = asyncio.run(scenario())
    assert got["sent"]["room1/trv"] == [{"current_heating_setpoint": 22.0, "system_mode": "auto"}]  # never heat
    assert got["sent"]["room1/ceiling"] == [
        {"state": "ON", "brightness": 51, "transition": 30},
        {"color_temp": 370, "transition": 30},
    ]  # an IKEA bulb: two messages, so the brightness fades
    assert got["sent"]["room1/group"] == [{"state": "ON", "brightness": 51, "color_temp": 370, "transition": 30}]
    assert "zigbee2mqtt/room1/trv/get" not in got["asked"]  # the TS0601 cannot be read
    assert "zigbee2mqtt/room1/ceiling/get" in got["asked"]
    assert all(d["bridge"] == "offline" for d in got["down"])
    assert got["again"] == [{"current_heating_setpoint": 22.0, "system_mode": "auto"}]
    assert got["patience"] == {"candle": (True, 300.0), "ceiling": (False, 1.0)}  # a battery light is patient


def test_rooms_check_shows_the_capabilities_and_what_will_and_will_not_be_sent(broker, probe, tmp_path, capsys):
    cfg = write(tmp_path, broker.url)
    danfoss = bridge_entry("014G2461", "room1/trv", "Battery", ieee_address="0x000b57fffe000009")
    probe.publish("zigbee2mqtt/bridge/devices", [danfoss, BRIDGE_DEVICES[1]], retain=True)
    main(["rooms", "check", "room1", "--config", str(cfg), "--timeout", "1s"])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "room1/ceiling: IKEA LED1545G12 (zigbee2mqtt bridge/devices): light, brightness, color_temp 250–454 mired"
        in out
    )
    assert "color_temp clamped to 250–454 mired (the bulb's own range)" in out
    assert "setpoint: current_heating_setpoint, 5–35 °C in steps of 0.5 °C" in out  # the installer's key wins
    assert "mode off not sent: Danfoss 014G2461 has only heat" in out
    assert "preset cool: mode off not sent: Danfoss 014G2461 has only heat" in out
    assert "programming_operation_mode: setpoint for the session if it runs its schedule (put back after)" in out
