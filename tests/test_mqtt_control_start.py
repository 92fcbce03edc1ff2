"""The room states are not published (on connecting, or as devices report) before the daemon has its sessions
back (issue 20: the clinic-day soak saw a restarted daemon publish ``idle`` for rooms it then resumed)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ambience.surfaces.mqtt_control import MqttControl

pytestmark = pytest.mark.unit


class Connection:
    def __init__(self) -> None:
        self.connects: list = []
        self.published: list[tuple[str, bytes]] = []

    def subscribe(self, topic, handler) -> None:
        pass

    def on_connect(self, callback) -> None:
        self.connects.append(callback)

    def publish(self, topic, payload, qos=0, retain=False) -> bool:
        self.published.append((topic, payload))
        return True


class Controller:
    rooms = {"studio": None}
    listeners: list = []

    def subscribe(self, listener) -> None:
        self.listeners.append(listener)

    def status(self, room_id):
        return [{"room": room_id, "state": "running"}]


def test_a_connect_before_start_publishes_no_room_state_and_start_does():
    connection = Connection()
    config = SimpleNamespace(mqtt=SimpleNamespace(base_topic="amb", response_prefix="amb/replies"))
    controller = Controller()
    control = MqttControl(connection, controller, config)  # type: ignore[arg-type]
    for callback in connection.connects:
        callback()  # the daemon's first connect: its sessions are not back yet
    for listener in controller.listeners:
        listener("studio")  # its devices' first reports, before the sessions are back
    assert connection.published == []

    async def running() -> list[list[str]]:
        await control.start()
        seen = [[topic for topic, _ in connection.published]]
        connection.published.clear()
        for callback in connection.connects:
            callback()  # a reconnect once running: the broker may have lost the retained states
        seen.append([topic for topic, _ in connection.published])
        await control.stop()
        connection.published.clear()
        for listener in controller.listeners:
            listener("studio")  # the after state at shutdown, once stopped: still said
        seen.append([topic for topic, _ in connection.published])
        return seen

    assert asyncio.run(running()) == [["amb/studio/state"]] * 3
