"""The MQTT connection comes back from a broker that accepts a connection and closes it at once.

That is what a broker looks like while it starts, or behind Docker's port proxy while its container
restarts: the TCP connect succeeds, then the connection is closed before any CONNACK. Found by the
valves soak (bench/soak_valves.py) behind ``ambience.testing.Gate``: when the close reached the event
loop before the reconnect's worker thread had returned, the lost connection asked for a reconnect
while one was still under way — and that one then returned as if connected. The daemon stayed
disconnected for good: every session after it unheard by its devices.
"""

from __future__ import annotations

import asyncio
import time

from ambience.config.sections import MqttConfig
from ambience.infra import mqtt
from ambience.testing import Gate, Mosquitto, MqttProbe


def test_a_connection_closed_before_the_reconnect_returns_is_tried_again(broker: Mosquitto, probe: MqttProbe) -> None:
    probe.subscribe("amb/#")

    async def scenario() -> float:
        with Gate(broker) as gate:
            connection = mqtt.Connection(MqttConfig(url=gate.url, base_topic="amb"))
            reconnect = connection._client.reconnect

            def slow_reconnect() -> object:
                # the worker thread is slow to return (a loaded machine): the gate's close is seen first
                result = reconnect()
                time.sleep(0.3)
                return result

            connection._client.reconnect = slow_reconnect  # type: ignore[method-assign]
            await connection.start(wait=5)
            gate.shut()
            broker.kill()
            broker.start()
            deadline = time.monotonic() + 10
            while gate.refused < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # two reconnects at least met a broker that closed them at once (before the fix: one, then none)
            assert gate.refused >= 2, f"the connection stopped trying after {gate.refused} closed at once"
            opened = time.monotonic()
            gate.open()
            await connection.wait_connected(10)
            back = time.monotonic() - opened
            connection.publish("amb/hello", "again")
            await asyncio.to_thread(probe.wait_for, "amb/hello")
            await connection.stop()
            return back

    back = asyncio.run(scenario())
    assert back < mqtt.RECONNECT_MAX + 1.0
