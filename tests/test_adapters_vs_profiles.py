"""ambience's Shelly, ESPHome and Tasmota adapters driven against the real-behaving profiles, through mosquitto.

The profiles (``ambience/simulator/shelly_profiles.py``, ``esphome_profiles.py``, checked on their own
against the firmware in tests/test_sim_profiles_shelly_esphome.py) stand in for the devices; the adapters
learn what each can do from its own announcement (Shelly ``Shelly.GetConfig``, ESPHome's Home Assistant
discovery config) and nothing about the device is configured beyond its topic. A test that shows an
adapter wrong against the real behaviour would be marked ``xfail(strict=True)`` with the reason (none is now).

Two layers: each adapter alone (``Wire``: the adapter's own subscriptions and announcement topics on a
real client, its announcements fed to ``decode_announcement``/``learn`` as the issue's contract says),
and the whole path through ``Devices`` (the manager and the reconciler), which is what a clinic runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from test_sim_profiles_shelly_esphome import ROOMS as PROFILE_ROOMS

from ambience.config import Config
from ambience.devices.base import ClimateReport, LightReport, Message
from ambience.devices.esphome import EsphomeAdapter
from ambience.devices.manager import Devices
from ambience.devices.shelly import ShellyAdapter
from ambience.infra.mqtt import Connection
from ambience.model.state import ClimateState, Light, LightTarget
from ambience.simulator import Simulator
from ambience.testing import eventually
from ambience.testing.mosquitto import Mosquitto, MqttProbe

# the Shelly and ESPHome rooms the profiles are checked in on their own, and a Tasmota plug
ROOMS: dict[str, Any] = {
    **PROFILE_ROOMS,
    "ta": {"lights": [{"bridge": "tasmota", "device": "warmer", "role": "warmer"}]},  # no relay: configured
}
PROFILED: dict[str, dict[str, Any]] = {
    "dimmer": {"profile": "shelly-plus-dimmer"},
    "plug": {"profile": "shelly-plus-plug"},
    "esp-heat": {"profile": "esphome-climate"},
    "esp-light": {"profile": "esphome-light"},
    "esp-pump": {"profile": "esphome-heat-cool"},
    "warmer": {"profile": "tasmota-plug"},
}
INITIAL = {"esp-heat": {"target": 18, "local_temperature": 18}, "esp-pump": {"target": 18, "local_temperature": 18}}
Scenario = Callable[[Devices, Simulator], Awaitable[Any]]


def steady(light: Light) -> LightTarget:
    return LightTarget(light, light, 0.0)


def drive(broker: Mosquitto, scenario: Scenario) -> tuple[Simulator, Any]:
    """Run the simulated devices and ambience's Devices manager on ``broker``; ``scenario`` gets the manager."""
    config = Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})
    with Simulator(config, tick=0.1, drift=0.0, options=PROFILED, initial=INITIAL) as sim:

        async def run() -> Any:
            connection = Connection(config.mqtt)
            devices = Devices(connection, config)
            await connection.start(wait=5)
            task = asyncio.create_task(devices.run())
            try:
                return await scenario(devices, sim)
            finally:
                task.cancel()
                await connection.stop()

        return sim, asyncio.run(run())


def config_of(broker: Mosquitto) -> Config:
    return Config.model_validate({"mqtt": {"url": broker.url}, "rooms": ROOMS})


@pytest.fixture
def sim(broker: Mosquitto) -> Iterator[Simulator]:
    with Simulator(config_of(broker), tick=0.1, drift=0.0, options=PROFILED, initial=INITIAL) as started:
        yield started


class Wire:
    """One adapter on a real client: its subscriptions, what it decodes, and what it learns from announcements."""

    def __init__(self, broker: Mosquitto, adapter: ShellyAdapter | EsphomeAdapter):
        self.adapter = adapter
        self.reports: list[Any] = []
        self.learned = threading.Event()
        self.probe = MqttProbe(broker)
        self.probe.client.on_message = self._on_message
        self.probe.subscribe(*adapter.subscriptions(), *adapter.announcement_topics)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        topic, payload = message.topic, bytes(message.payload)
        if topic in self.adapter.announcement_topics or any(
            topic.endswith("/config") and f.endswith("/config") for f in self.adapter.announcement_topics
        ):
            caps = self.adapter.decode_announcement(topic, payload)
            if caps is not None:
                self.adapter.learn(caps)
                self.learned.set()
        self.reports += [r for r in self.adapter.decode(topic, payload) if isinstance(r, (LightReport, ClimateReport))]

    def send(self, messages: list[Message]) -> None:
        for m in messages:
            self.probe.publish(m.topic, m.payload)

    def close(self) -> None:
        self.probe.close()


@pytest.fixture
def wire(broker: Mosquitto) -> Iterator[Callable[[ShellyAdapter | EsphomeAdapter], Wire]]:
    made: list[Wire] = []

    def make(adapter: ShellyAdapter | EsphomeAdapter) -> Wire:
        made.append(Wire(broker, adapter))
        return made[-1]

    yield make
    for w in made:
        w.close()


def device(room: str, name: str) -> Any:
    return next(d for d, _, _ in config_of_rooms().rooms[room].devices() if d.device == name)


def config_of_rooms() -> Config:
    return Config.model_validate({"mqtt": {"url": "mqtt://localhost"}, "rooms": ROOMS})


def status(devices: Devices, room: str, device: str) -> dict[str, Any]:
    return next(d for d in devices.status(room) if d["id"] == device)


async def settle(devices: Devices, room: str, device: str, desired: Any, timeout: float = 10) -> dict[str, Any]:
    devices.want(room, device, desired)
    await devices.wait_settled(room, timeout)
    return status(devices, room, device)


# ---- each adapter alone, told what its device announced ----------------------------------------


def test_shelly_adapter_learns_the_plug_is_a_switch_and_switches_it(sim: Simulator, wire: Callable[..., Wire]) -> None:
    w = wire(ShellyAdapter(device("sh", "plug"), "light", client_id="ambience-test"))
    w.send(w.adapter.query())  # Light.GetStatus (answered 404 by a plug), Shelly.GetDeviceInfo, Shelly.GetConfig
    assert w.learned.wait(5) and w.adapter.is_switch and w.adapter.capabilities.model == "SNPL-00112EU"
    w.send(w.adapter.light(Light(100), 0.0))
    sim.wait_for("sh", "plug", lambda s: s["on"] is True)
    eventually(lambda: LightReport(Light(100.0)) in w.reports)
    w.send(w.adapter.light(Light(0), 0.0))
    sim.wait_for("sh", "plug", lambda s: s["on"] is False)
    eventually(lambda: w.reports[-1] == LightReport(Light(0.0)))


def test_shelly_adapter_reads_the_dimmers_delta_notifications(sim: Simulator, wire: Callable[..., Wire]) -> None:
    w = wire(ShellyAdapter(device("sh", "dimmer"), "light", client_id="ambience-test"))
    w.send(w.adapter.query())
    assert w.learned.wait(5) and not w.adapter.is_switch
    w.send(w.adapter.light(Light(40), 0.0))
    sim.wait_for("sh", "dimmer", lambda s: s["brightness"] == 40 and not s["fading"])
    w.reports.clear()
    w.send(w.adapter.light(Light(25), 0.0))  # the notification carries brightness only: output is remembered
    sim.wait_for("sh", "dimmer", lambda s: s["brightness"] == 25 and not s["fading"])
    eventually(lambda: w.reports and w.reports[-1] == LightReport(Light(25.0)))


def test_esphome_adapter_sets_a_heat_cool_node_through_low_and_high(sim: Simulator, wire: Callable[..., Wire]) -> None:
    w = wire(EsphomeAdapter(device("hc", "esp-pump"), "climate"))
    assert w.learned.wait(5) and w.adapter.two_point
    w.send(w.adapter.climate(ClimateState(21.0)))
    # low and high are two messages: the node keeps them apart until the second comes
    snap = sim.wait_for("hc", "esp-pump", lambda s: s["target"] == 21.0 and s["target_high"] == 23.0)
    assert snap["warnings"] == 0
    eventually(lambda: any(r.target == 21.0 for r in w.reports))


def test_esphome_adapter_does_not_send_a_mode_the_node_lacks(sim: Simulator, wire: Callable[..., Wire]) -> None:
    w = wire(EsphomeAdapter(device("es", "esp-heat"), "climate"))
    assert w.learned.wait(5) and w.adapter.capabilities.modes == ("off", "heat")
    messages = w.adapter.climate(ClimateState(20.0, "auto"))
    assert [m.topic for m in messages] == ["esp-heat/climate/thermostat/target_temperature/command"]
    w.send(messages)
    snap = sim.wait_for("es", "esp-heat", lambda s: s["target"] == 20.0)
    assert snap["warnings"] == 0


def test_esphome_adapter_clamps_colour_temperature_to_the_nodes_range(
    sim: Simulator, wire: Callable[..., Wire]
) -> None:
    w = wire(EsphomeAdapter(device("es", "esp-light"), "light"))
    assert w.learned.wait(5) and w.adapter.capabilities.color_temp == (153, 370)
    (message,) = w.adapter.light(Light(60, 2000), 0.0)
    assert '"color_temp":370' in message.payload.replace(" ", "")


# ---- the whole path: Devices, the reconciler and the adapters ----------------------------------


def test_shelly_dimmer_is_set_and_confirmed(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> list[str]:
        first = await settle(devices, "sh", "dimmer", steady(Light(40)))
        second = await settle(devices, "sh", "dimmer", steady(Light(0)))
        await asyncio.to_thread(sim.wait_for, "sh", "dimmer", lambda s: s["on"] is False and not s["fading"])
        return [first["status"], second["status"]]

    sim, got = drive(broker, scenario)
    assert got == ["confirmed", "confirmed"]


def test_shelly_plug_is_switched_with_switch_set_from_what_its_config_says(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> list[str]:
        on = await settle(devices, "sh", "plug", steady(Light(100)))
        off = await settle(devices, "sh", "plug", steady(Light(0)))
        return [on["status"], off["status"]]

    sim, got = drive(broker, scenario)
    assert got == ["confirmed", "confirmed"]


def test_esphome_light_fades_and_confirms(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> str:
        return (await settle(devices, "es", "esp-light/ceiling", steady(Light(40, 2700))))["status"]

    sim, got = drive(broker, scenario)
    assert got == "confirmed"
    snap = sim.device("es", "esp-light")
    assert snap["brightness"] == pytest.approx(40, abs=0.5) and snap["mired"] == 370


def test_esphome_light_outside_its_own_range_is_confirmed_at_the_end_of_the_range(broker: Mosquitto) -> None:
    # the node announces min_mirs 153 / max_mirs 370 and clamps 2000 K (500 mired) to 370 (light_call.cpp)
    async def scenario(devices: Devices, sim: Simulator) -> str:
        return (await settle(devices, "es", "esp-light/ceiling", steady(Light(60, 2000)), timeout=8))["status"]

    sim, got = drive(broker, scenario)
    assert sim.device("es", "esp-light")["mired"] == 370
    assert got == "confirmed"


def test_esphome_heat_only_thermostat_is_set_and_confirmed(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> str:
        return (await settle(devices, "es", "esp-heat/thermostat", ClimateState(21.5)))["status"]

    sim, got = drive(broker, scenario)
    assert got == "confirmed"
    snap = sim.device("es", "esp-heat")
    assert (snap["target"], snap["mode"], snap["warnings"]) == (21.5, "heat", 0)


def test_esphome_heat_only_thermostat_is_never_sent_auto(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> dict[str, Any]:
        return await settle(devices, "es", "esp-heat/thermostat", ClimateState(20.0, "auto"), timeout=8)

    sim, got = drive(broker, scenario)
    snap = sim.device("es", "esp-heat")
    assert snap["target"] == 20.0  # the setpoint still lands
    assert snap["warnings"] == 0, snap["last_warning"]  # "Mode auto is not supported by this device!" never logged


def test_esphome_heat_cool_is_set_through_its_low_and_high_setpoints(broker: Mosquitto) -> None:
    async def scenario(devices: Devices, sim: Simulator) -> str:
        return (await settle(devices, "hc", "esp-pump/heat_pump", ClimateState(21.0)))["status"]

    sim, got = drive(broker, scenario)
    assert got == "confirmed"
    snap = sim.device("hc", "esp-pump")
    assert (snap["target"], snap["target_high"]) == (21.0, 23.0)


def test_tasmota_plug_learns_from_its_discovery_config_and_is_switched_with_power(broker: Mosquitto) -> None:
    """Nothing configured but the topic: the plug's retained discovery config (rl [1], lt_st 0) says it
    is a relay, so the first command already is Power ON, not a Dimmer it would answer Unknown."""

    async def scenario(devices: Devices, sim: Simulator) -> list[str]:
        on = await settle(devices, "ta", "warmer", steady(Light(100)))
        off = await settle(devices, "ta", "warmer", steady(Light(0)))
        return [on["status"], off["status"]]

    probe = MqttProbe(broker)
    probe.subscribe("cmnd/warmer/#")
    try:
        sim, got = drive(broker, scenario)
        assert got == ["confirmed", "confirmed"]
        assert not sim.device("ta", "warmer")["on"]
        sent = [(m.topic, m.payload.decode()) for m in probe.messages("cmnd/warmer/#")]
    finally:
        probe.close()
    commands = [(t, p) for t, p in sent if not t.endswith("/State")]
    assert commands == [("cmnd/warmer/Power", "ON"), ("cmnd/warmer/Power", "OFF")], sent
