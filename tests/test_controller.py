"""Controller and Room on a fake clock, with a fake broker connection and a fake player: every
command's effect on the devices, the store and the answer, in milliseconds, no broker, no mpv."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ambience.app.commands import AddClient, Extend, Pause, RemoveClient, Resume, Start, Status, Stop
from ambience.app.controller import Controller
from ambience.app.room import Room
from ambience.config import parse_config
from ambience.config.library import Library
from ambience.devices.manager import Devices
from ambience.errors import Busy, CommandError, NotFound, StoreError
from ambience.infra.mqtt import Received
from ambience.infra.store import Store
from ambience.model.client import Comfort
from ambience.model.preset import parse_preset

pytestmark = pytest.mark.unit

CONFIG = """
reconcile: {ack_timeout: 1s, max_tries: 2, slow_retry: 10s}
rooms:
  studio:
    thermostat: {bridge: zigbee2mqtt, device: trv}
    lights: [{bridge: zigbee2mqtt, device: lamp, role: lamp}]
    speaker: null
"""
PRESET = """
name: Test
duration: 60s
climate: {target: 24}
lights: {brightness: 30, color_temp: 2700, transition: 0s}
after: restore
"""


class FakeConnection:
    """The part of :class:`ambience.infra.mqtt.Connection` the devices use, recording what is sent."""

    client_id = "test"
    connected = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.handlers: dict[str, list[Callable[[Received], None]]] = {}
        self.later: list[tuple[Callable[..., None], tuple]] = []

    def subscribe(self, topic: str, handler: Callable[[Received], None], *, urgent: bool = True) -> None:
        self.handlers.setdefault(topic, []).append(handler)

    def on_connect(self, callback: Callable[[], None]) -> None:
        pass

    def command(self, topic: str, payload: str | bytes) -> bool:
        self.sent.append((topic, json.loads(payload)))
        return True

    def background(self, fn: Callable[..., None], *args: object) -> None:
        self.later.append((fn, args))  # as the real one: after the current work, not inside it

    def run_background(self) -> None:
        while self.later:
            fn, args = self.later.pop(0)
            fn(*args)

    def report(self, topic: str, data: dict) -> None:
        for handler in self.handlers.get(topic, ()):
            handler(Received(topic, json.dumps(data).encode()))
        self.run_background()

    def last(self, topic: str) -> dict:
        return next(payload for t, payload in reversed(self.sent) if t == topic)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        config = parse_config(CONFIG, "test", tmp_path)
        self.clock = Clock()
        self.connection = FakeConnection()
        self.devices = Devices(self.connection, config, clock=self.clock)  # type: ignore[arg-type]
        self.store = Store(":memory:")
        preset = parse_preset(PRESET, "test", "test.yaml")
        self.library = Library(presets={"test": preset})
        self.room = Room(
            "studio", config.rooms["studio"], config.limits, self.devices, self.store, self.library, [], None,
            self.clock,
        )  # fmt: skip
        self.controller = Controller({"studio": self.room}, self.library, self.store, self.clock)
        # how the room is found
        self.connection.report("zigbee2mqtt/trv", {"occupied_heating_setpoint": 19, "system_mode": "heat"})
        self.connection.report("zigbee2mqtt/lamp", {"state": "ON", "brightness": 203, "color_temp": 250})

    def tick(self) -> float | None:
        return asyncio.run(self.room.tick())

    def answer(self) -> None:
        """Each device reports what it was last sent (Zigbee2MQTT's optimistic state)."""
        for device in ("trv", "lamp"):
            self.connection.report(f"zigbee2mqtt/{device}", self.connection.last(f"zigbee2mqtt/{device}/set"))


@pytest.fixture
def rig(tmp_path):
    return Rig(tmp_path)


def test_start_drives_the_devices_persists_the_session_and_answers_the_status(rig):
    result = rig.controller.execute(Start(room="studio", preset="test"))
    assert result.room is not None and result.room["state"] == "running"
    assert rig.connection.last("zigbee2mqtt/trv/set")["occupied_heating_setpoint"] == 24
    assert rig.connection.last("zigbee2mqtt/lamp/set")["brightness"] == round(30 * 254 / 100)
    assert [r.preset for r in rig.store.sessions()] == ["test"]
    assert result.json() == result.room


def test_pause_resume_and_extend_move_the_end_and_stop_puts_the_room_back(rig):
    rig.controller.execute(Start(room="studio", preset="test"))
    rig.clock.now += 10
    rig.controller.execute(Pause(room="studio"))
    rig.clock.now += 30
    status = rig.controller.execute(Resume(room="studio")).room
    assert status is not None and status["remaining_s"] == 50
    status = rig.controller.execute(Extend(room="studio", by="10m")).room
    assert status is not None and status["remaining_s"] == 650
    rig.controller.execute(Stop(room="studio"))
    rig.tick()
    assert rig.connection.last("zigbee2mqtt/trv/set")["occupied_heating_setpoint"] == 19
    assert rig.connection.last("zigbee2mqtt/lamp/set")["brightness"] == 203
    assert [h["outcome"] for h in rig.store.history()] == ["stopped"]
    assert {o.device for o in rig.store.owed()} == {"trv", "lamp"}
    rig.answer()
    rig.tick()
    assert rig.store.owed() == [] and rig.room.owed == {}


def test_a_busy_room_is_refused_unless_replaced_and_nothing_changes(rig):
    rig.controller.execute(Start(room="studio", preset="test"))
    first = rig.room.session_id
    sent = len(rig.connection.sent)
    with pytest.raises(Busy, match="room 'studio' is busy with 'test'"):
        rig.controller.execute(Start(room="studio", preset="test"))
    assert rig.room.session_id == first and len(rig.connection.sent) == sent
    rig.controller.execute(Start(room="studio", preset="test", replace=True))
    assert rig.room.session_id != first
    assert [h["outcome"] for h in rig.store.history()] == ["replaced"]


def test_a_start_the_store_cannot_write_changes_nothing(rig, monkeypatch):
    def full(*args, **kwargs):
        raise StoreError("cannot start the session: the store ambience.db cannot grow: the disk is full")

    monkeypatch.setattr(rig.store, "start_session", full)
    sent = len(rig.connection.sent)
    with pytest.raises(StoreError, match="the disk is full"):
        rig.controller.execute(Start(room="studio", preset="test"))
    assert not rig.room.active and len(rig.connection.sent) == sent
    assert rig.controller.execute(Status(room="studio")).rooms[0]["state"] == "idle"


def test_the_natural_end_sends_the_after_state_and_the_store_keeps_it_owed_until_confirmed(rig):
    rig.controller.execute(Start(room="studio", preset="test"))
    rig.answer()
    rig.clock.now += 61
    rig.tick()
    assert not rig.room.active
    assert [h["outcome"] for h in rig.store.history()] == ["completed"]
    assert rig.store.sessions() == [] and {o.device for o in rig.store.owed()} == {"trv", "lamp"}
    assert {o["device"] for o in rig.room.status()["owed"]} == {"trv", "lamp"}
    rig.connection.report("zigbee2mqtt/lamp", rig.connection.last("zigbee2mqtt/lamp/set"))
    rig.tick()
    assert [o.device for o in rig.store.owed()] == ["trv"]  # the valve has not answered yet


def test_a_changed_command_that_ended_the_session_is_refused_after(rig):
    rig.controller.execute(Start(room="studio", preset="test"))
    rig.controller.execute(Stop(room="studio"))
    rig.tick()
    with pytest.raises(CommandError, match="has no session running"):
        rig.controller.execute(Pause(room="studio"))


def test_clients_are_added_and_removed_through_the_dispatcher_and_their_comfort_applies(rig):
    added = rig.controller.execute(AddClient(label="A. Smith", comfort=Comfort(temperature_offset=1.5)))
    assert added.client == {"label": "A. Smith", "comfort": {**Comfort().model_dump(), "temperature_offset": 1.5}}
    rig.controller.execute(Start(room="studio", preset="test", client="A. Smith"))
    assert rig.connection.last("zigbee2mqtt/trv/set")["occupied_heating_setpoint"] == 25.5
    rig.controller.execute(RemoveClient(label="A. Smith"))
    with pytest.raises(NotFound, match="unknown client 'A. Smith'"):
        rig.controller.execute(RemoveClient(label="A. Smith"))


def test_a_command_for_an_unknown_room_names_the_rooms(rig):
    with pytest.raises(NotFound, match="unknown room 'studi'; did you mean 'studio'"):
        rig.controller.execute({"action": "stop", "room": "studi"})


def test_a_clock_stepped_back_moves_the_session_with_it_and_forward_ends_it(rig):
    rig.controller.execute(Start(room="studio", preset="test"))
    rig.clock.now += 10
    rig.clock.now -= 600  # the wall clock is set back ten minutes
    rig.room.clock_stepped(-600)
    assert rig.room.status()["remaining_s"] == 50  # not 650: a step back never lengthens a session
    assert rig.store.sessions()[0].facts.started_at == rig.clock.now - 10
    rig.clock.now += 600  # and forward again by more than is left
    rig.room.clock_stepped(600)
    rig.tick()
    assert not rig.room.active and [h["outcome"] for h in rig.store.history()] == ["completed"]


def test_a_shortening_past_the_elapsed_time_stops_the_session_and_history_says_stopped(rig):
    rig.controller.execute(Start(room="studio", preset="test", duration="30m"))
    rig.clock.now += 12 * 60
    status = rig.controller.execute(Extend(room="studio", by="-60m")).room
    assert status is not None and status["state"] == "idle"
    assert "shortened past the elapsed 12m: the session is stopped" in status["notes"]
    rig.tick()
    assert [h["outcome"] for h in rig.store.history()] == ["stopped"]


def test_a_shortening_that_leaves_time_keeps_the_session_running(rig):
    rig.controller.execute(Start(room="studio", preset="test", duration="30m"))
    rig.clock.now += 12 * 60
    status = rig.controller.execute(Extend(room="studio", by="-10m")).room
    assert status is not None and status["state"] == "running" and status["remaining_s"] == 8 * 60
    assert not any("stopped" in n for n in status.get("notes") or ())


def test_a_client_label_close_to_a_known_one_is_refused_naming_it_on_every_surface(rig):
    rig.controller.execute(AddClient(label="A. Smith", comfort=Comfort(temperature_offset=1.5)))
    for command in (
        Start(room="studio", preset="test", client="A Smith"),
        {"action": "start", "room": "studio", "preset": "test", "client": "a.smith"},  # as HTTP and MQTT send it
    ):
        with pytest.raises(NotFound, match=r"^unknown client '(A Smith|a.smith)'; did you mean 'A. Smith'\?$"):
            rig.controller.execute(command)
    assert rig.room.status()["state"] == "idle"  # nothing started with the preferences dropped


def test_a_label_like_no_known_client_starts_without_preferences_and_says_so(rig):
    rig.controller.execute(AddClient(label="A. Smith", comfort=Comfort(temperature_offset=1.5)))
    status = rig.controller.execute(Start(room="studio", preset="test", client="B. Jones")).room
    assert status is not None and status["state"] == "running"
    assert "the client is not on the client list: no comfort preferences apply" in status["notes"]
    assert rig.connection.last("zigbee2mqtt/trv/set")["occupied_heating_setpoint"] == 24
