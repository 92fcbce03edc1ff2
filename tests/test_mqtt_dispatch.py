"""Routing of received messages to subscribers (pure: no broker needed)."""

from __future__ import annotations

import pytest

from ambience.config.sections import MqttConfig
from ambience.infra.mqtt import Connection, Received

pytestmark = pytest.mark.unit


def test_each_message_reaches_exact_and_wildcard_subscribers_only():
    connection = Connection(MqttConfig(url="mqtt://127.0.0.1:1"))
    got: list[tuple[str, str]] = []
    for pattern in ("zigbee2mqtt/trv", "zigbee2mqtt/+", "stat/lamp/+", "ambience/#", "#"):
        connection.subscribe(pattern, lambda msg, p=pattern: got.append((p, msg.topic)))
    for i in range(500):  # a clinic's worth of other subscriptions
        connection.subscribe(f"zigbee2mqtt/dev{i}/availability", lambda msg: got.append(("other", msg.topic)))

    for topic in ("zigbee2mqtt/trv", "stat/lamp/RESULT", "ambience/r1/command", "$SYS/broker/uptime", "nothing/here"):
        connection._dispatch(Received(topic, b"{}"))

    assert sorted(got) == sorted([
        ("zigbee2mqtt/trv", "zigbee2mqtt/trv"), ("zigbee2mqtt/+", "zigbee2mqtt/trv"), ("#", "zigbee2mqtt/trv"),
        ("stat/lamp/+", "stat/lamp/RESULT"), ("#", "stat/lamp/RESULT"),
        ("ambience/#", "ambience/r1/command"), ("#", "ambience/r1/command"),
        ("#", "nothing/here"),  # and "#" never matches a $SYS topic
    ])  # fmt: skip


def test_a_handler_that_fails_does_not_stop_the_others(caplog):
    connection = Connection(MqttConfig(url="mqtt://127.0.0.1:1"))
    got = []
    connection.subscribe("a/+", lambda msg: 1 / 0)
    connection.subscribe("a/+", lambda msg: got.append(msg.topic))
    connection._dispatch(Received("a/b", b""))
    assert got == ["a/b"] and "handling a message on a/b failed" in caplog.text


def _timeline(monkeypatch, quiet: float, max_wait: float, topic: str, every: float, for_s: float) -> float:
    """When background work ran, while ``topic`` messages came every ``every`` s for ``for_s`` s."""
    import asyncio

    import ambience.infra.mqtt as mqtt

    monkeypatch.setattr(mqtt, "BACKGROUND_QUIET", quiet)
    monkeypatch.setattr(mqtt, "BACKGROUND_MAX_WAIT", max_wait)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        connection = Connection(MqttConfig(url="mqtt://127.0.0.1:1"))
        connection.loop = loop
        connection.subscribe("ambience/r1/command", lambda msg: None)
        connection.subscribe("zigbee2mqtt/lamp", lambda msg: None, urgent=False)
        ran: list[float] = []
        start = loop.time()
        connection.background(lambda: ran.append(loop.time() - start))
        while loop.time() - start < for_s:
            connection._dispatch(Received(topic, b"{}"))
            await asyncio.sleep(every)
        while not ran:
            await asyncio.sleep(0.005)
        return ran[0]

    return asyncio.run(scenario())


def test_background_work_waits_while_commands_arrive(monkeypatch):
    took = _timeline(monkeypatch, quiet=0.05, max_wait=5, topic="ambience/r1/command", every=0.005, for_s=0.3)
    assert 0.3 <= took < 1.0  # not before the commands stopped, soon after


def test_device_reports_do_not_hold_background_work_back(monkeypatch):
    took = _timeline(monkeypatch, quiet=0.05, max_wait=5, topic="zigbee2mqtt/lamp", every=0.005, for_s=0.3)
    assert took < 0.25


def test_background_work_waits_no_longer_than_the_maximum(monkeypatch):
    took = _timeline(monkeypatch, quiet=0.05, max_wait=0.2, topic="ambience/r1/command", every=0.005, for_s=1.0)
    assert 0.2 <= took < 0.6


def test_a_rooms_reports_are_handled_before_a_command_changes_the_room(tmp_path):
    import asyncio

    from ambience.config import parse_config
    from ambience.devices.manager import Devices

    config = parse_config(
        "rooms:\n"
        "  a: {lights: [{bridge: zigbee2mqtt, device: lamp-a, role: lamp}]}\n"
        "  b: {lights: [{bridge: zigbee2mqtt, device: lamp-b, role: lamp}]}\n",
        "ambience.yaml",
        tmp_path,
    )

    async def scenario() -> None:
        connection = Connection(config.mqtt)
        connection.loop = asyncio.get_running_loop()
        devices = Devices(connection, config)
        for dev in ("lamp-a", "lamp-b"):
            connection._dispatch(Received(f"zigbee2mqtt/{dev}", b'{"state": "ON", "brightness": 127}'))
        assert devices.rooms["a"]["lamp-a"].reported is None  # waiting as background work
        devices.catch_up("a")
        assert devices.rooms["a"]["lamp-a"].reported is not None
        assert devices.rooms["b"]["lamp-b"].reported is None
        await asyncio.sleep(0.05)  # the background work ran
        assert devices.rooms["b"]["lamp-b"].reported is not None

    asyncio.run(scenario())
