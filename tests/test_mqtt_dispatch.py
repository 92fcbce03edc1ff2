"""Routing of received messages to subscribers (pure: no broker needed)."""

from __future__ import annotations

from ambience.config import MqttConfig
from ambience.mqtt import Connection, Received


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
