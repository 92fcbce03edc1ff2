"""The harness's ``Gate``: a door in front of a real mosquitto (the valves soak lets its probe back first)."""

from __future__ import annotations

import time

import pytest

from ambience.testing import Gate, Mosquitto, MqttProbe


def test_a_client_through_an_open_gate_reaches_the_broker(broker: Mosquitto, probe: MqttProbe) -> None:
    probe.subscribe("door/#")
    with Gate(broker) as gate, MqttProbe(gate.url) as through:
        through.publish("door/open", "hello")
        assert probe.wait_for("door/open").text == "hello"


def test_a_shut_gate_keeps_clients_out_and_lets_them_in_once_open(broker: Mosquitto, probe: MqttProbe) -> None:
    probe.subscribe("door/#")
    with Gate(broker) as gate:
        gate.shut()
        with pytest.raises(TimeoutError):
            MqttProbe(gate.url, timeout=1.5)
        assert gate.refused >= 1
        gate.open()
        with MqttProbe(gate.url) as through:
            through.publish("door/after", "in")
            assert probe.wait_for("door/after").text == "in"


def test_after_a_broker_restart_nothing_reaches_the_broker_through_a_shut_gate_until_it_opens(
    broker: Mosquitto, probe: MqttProbe
) -> None:
    """What the soak relies on: a client that reconnects by itself gets nothing published while the
    probe is still away, because it cannot get in before the gate opens."""
    with Gate(broker) as gate, MqttProbe(gate.url) as through:
        gate.shut()
        broker.kill()
        broker.start()
        time.sleep(2.5)  # the client's reconnects (every 1–2 s) meet the shut gate
        assert not through.connected
        assert gate.refused >= 1
        probe.subscribe("door/#")
        gate.open()
        assert through.wait_connected(5)
        through.publish("door/back", "first")
        assert probe.wait_for("door/back").text == "first"
