"""Home Assistant MQTT discovery end to end: real mosquitto, the simulator, the whole daemon.

Home Assistant itself is played by a probe: it reads the retained discovery configs, publishes to the
command topics they name (as HA's select and buttons do) and announces ``online`` on its birth topic.
The daemon runs as in tests/test_mqtt_control.py (:class:`ambience.testing.LiveDaemon`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError
from test_mqtt_control import INITIAL, ROOMS

from ambience.config import Config
from ambience.config.sections import HomeAssistantConfig
from ambience.model.state import Status
from ambience.simulator import Simulator
from ambience.surfaces import ha_discovery
from ambience.surfaces.ha_discovery import ACTIONS, STATES, node_id, preset_labels
from ambience.testing import LiveDaemon, Mosquitto, MqttProbe, write_clinic

PREFIX = "homeassistant"
ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def make_config(tmp_path: Path, broker: Mosquitto, *, base: str = "ambience", rooms: dict | None = None,
                ha: dict | None = None) -> Config:  # fmt: skip
    sections = {} if ha is None else {"homeassistant": ha}
    return write_clinic(
        tmp_path, ROOMS if rooms is None else rooms, mqtt=broker.url, base_topic=base, music=["music"], http=False,
        reconcile={"ack_timeout": 0.5}, **sections,
    ).config  # fmt: skip


def config_topic(room: str, node: str = "ambience", prefix: str = PREFIX) -> str:
    return f"{prefix}/device/{node}_{room}/config"


def retained(broker: Mosquitto, topic: str, timeout: float = 1.0) -> list[Any]:
    """What a newcomer gets on ``topic`` (a filter): the retained messages, as (topic, payload) pairs."""
    with MqttProbe(broker, topic) as newcomer:
        time.sleep(timeout)  # the daemon's publishes are not acknowledged to it: a window for them to land
        got = newcomer.messages(topic)
    assert all(m.retain for m in got)
    return [(m.topic, m.payload) for m in got]


@pytest.fixture
def sim(tmp_path: Path, broker: Mosquitto) -> Iterator[Simulator]:
    with Simulator(make_config(tmp_path, broker), tick=0.2, initial=INITIAL) as simulator:
        yield simulator


def run(config: Config) -> LiveDaemon:
    daemon = LiveDaemon(config).start()
    daemon.wait_reported()
    return daemon


# ---- the model ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_config_section_and_the_ids():
    default = HomeAssistantConfig()
    assert (default.discovery, default.prefix, default.birth_topic, default.extend_by) == (
        True, "homeassistant", "homeassistant/status", 600.0,
    )  # fmt: skip
    assert HomeAssistantConfig(extend_by="5m", prefix="ha/discovery").extend_by == 300.0
    for bad in ({"prefix": "ha/#"}, {"prefix": "/ha"}, {"extend_by": 0}, {"discover": False}):
        with pytest.raises(ValidationError):
            HomeAssistantConfig(**bad)
    assert node_id("ambience") == "ambience" and node_id("spa/ambience") == "spa_ambience"
    # the State sensor's enum options are every state a room's status can say
    assert set(STATES) == (set(get_args(Status)) - {"scheduled", "ended"}) | {"idle"}


# ---- discovery payloads ---------------------------------------------------------------------------


def test_each_room_is_announced_as_a_device_following_the_conventions(broker, sim, tmp_path):
    config = make_config(tmp_path, broker)
    live = run(config)
    try:
        configs = dict(retained(broker, f"{PREFIX}/device/+/config"))
        assert set(configs) == {config_topic("room1"), config_topic("room2")}
        listed = live.call(lambda: live.controller.presets())
        presets = [p["id"] for p in listed]

        for room, name in (("room1", "Room 1"), ("room2", "room2")):
            topic = config_topic(room)
            assert ID.match(topic.split("/")[2])
            doc = json.loads(configs[topic])
            # device-based discovery: dev + o at the root, components in cmps
            assert set(doc) == {"dev", "o", "cmps", "availability_topic", "payload_available",
                                "payload_not_available", "qos"}  # fmt: skip
            assert doc["dev"]["ids"] == [f"ambience_{room}"]
            assert doc["dev"]["name"] == name
            assert doc["dev"]["mf"] == "ambience" and doc["dev"]["mdl"] and doc["dev"]["sw"]
            assert doc["o"]["name"] == "ambience" and doc["o"]["sw"]
            assert (doc["availability_topic"], doc["payload_available"], doc["payload_not_available"]) == (
                "ambience/status", "online", "offline",
            )  # fmt: skip

            cmps = doc["cmps"]
            assert set(cmps) == {"preset", *ACTIONS, "remaining", "ends_at", "phase", "state", "temperature"}
            for key, comp in cmps.items():
                assert ID.match(key)
                assert comp["p"] in ("select", "button", "sensor")
                assert comp["unique_id"] == f"ambience_{room}_{key}"
                for field, value in comp.items():
                    if field.endswith("topic"):
                        assert "+" not in value and "#" not in value, (key, field)

            select = cmps["preset"]
            assert select["p"] == "select"
            # the names are shown; the topics carry the ids (command_template/value_template map them)
            assert select["options"] == list(preset_labels(listed).values()) and "hot-stone-75" in presets
            assert all(comp["qos"] == 1 for comp in cmps.values())
            assert select["command_topic"] == f"ambience/{room}/ha/preset/set"
            assert select["state_topic"] == f"ambience/{room}/ha/preset"
            for action in ACTIONS:
                assert cmps[action]["p"] == "button"
                assert cmps[action]["command_topic"] == f"ambience/{room}/ha/{action}"
            assert cmps["extend"]["name"] == "Extend 10 min"

            remaining, ends = cmps["remaining"], cmps["ends_at"]
            assert (remaining["p"], remaining["device_class"], remaining["unit_of_measurement"]) == (
                "sensor", "duration", "s",
            )  # fmt: skip
            assert (ends["p"], ends["device_class"]) == ("sensor", "timestamp")
            assert "unit_of_measurement" not in ends  # HA refuses a unit on a timestamp
            assert "'None'" in ends["value_template"]  # idle: unknown, never a time without a zone
            assert cmps["state"]["device_class"] == "enum" and cmps["state"]["options"] == list(STATES)
            temperature = cmps["temperature"]
            assert (temperature["device_class"], temperature["unit_of_measurement"]) == ("temperature", "°C")
            for key in ("remaining", "ends_at", "phase", "state", "temperature"):
                assert cmps[key]["state_topic"] == f"ambience/{room}/state"
                assert "value_json." in cmps[key]["value_template"]

        # the topics the payloads point at: availability and room state are retained, the select has its state
        assert retained(broker, "ambience/status", 0.3) == [("ambience/status", b"online")]
        state = json.loads(dict(retained(broker, "ambience/room1/state", 0.3))["ambience/room1/state"])
        assert (state["state"], state["remaining_s"], state["ends_at"]) == ("idle", None, None)
        assert dict(retained(broker, "ambience/+/ha/preset", 0.3)) == {
            "ambience/room1/ha/preset": presets[0].encode(), "ambience/room2/ha/preset": presets[0].encode(),
        }  # fmt: skip
        assert json.loads(dict(retained(broker, "ambience/ha/rooms", 0.3))["ambience/ha/rooms"]) == {
            "prefix": "homeassistant", "rooms": ["room1", "room2"],
        }  # fmt: skip
    finally:
        live.stop()


# ---- HA's select and buttons ------------------------------------------------------------------------


def test_the_select_and_buttons_drive_the_room_as_the_cli_would(broker, sim, tmp_path):
    base = "spa/ambience"  # two levels: the room is found by position
    live = run(make_config(tmp_path, broker, base=base))
    ha = MqttProbe(broker, f"{base}/+/command/result", f"{base}/+/ha/preset", f"{base}/+/state")

    def status() -> dict[str, Any]:
        return live.status("room1")

    def press(action: str, payload: str = "PRESS", room: str = "room1") -> dict[str, Any]:
        mark = ha.mark()
        topic = f"{base}/{room}/ha/{action}"
        ha.publish(topic, payload)
        message = ha.wait_for(f"{base}/{room}/command/result", since=mark)
        assert not message.retain
        return message.json()

    try:
        node = "spa_ambience"
        doc = json.loads(dict(retained(broker, config_topic("room1", node), 0.3))[config_topic("room1", node)])
        assert doc["cmps"]["start"]["command_topic"] == f"{base}/room1/ha/start"

        # choose a preset in the select: stored, and its state (retained) follows
        reply = press("preset/set", "hot-stone-75")
        assert reply == {"ok": True, "id": "ha:preset", "preset": "hot-stone-75"}
        assert dict(retained(broker, f"{base}/room1/ha/preset", 0.3)) == {f"{base}/room1/ha/preset": b"hot-stone-75"}
        refused = press("preset/set", "no-such-preset")
        assert (refused["ok"], refused["code"]) == (False, "not_found") and "hot-stone-75" in refused["error"]
        assert status()["state"] == "idle"

        # Start starts the chosen preset; the devices follow it
        started = press("start")
        assert started["ok"] is True and started["id"] == "ha:start", started
        assert (started["status"]["state"], started["status"]["preset"]) == ("running", "hot-stone-75")
        assert (status()["state"], status()["preset"]) == ("running", "hot-stone-75")
        sim.wait_for("room1", "r1-thermostat", lambda s: s["target"] == 23)
        sim.wait_for("room1", "r1-ceiling", lambda s: not s["on"])
        ends = status()["ends_at"]
        assert re.search(r"[+-]\d\d:\d\d$", ends), "the End time sensor gets ISO 8601 with a timezone"

        # a second Start is refused like the CLI's (busy), reported on the result topic
        busy = press("start")
        assert (busy["ok"], busy["code"], busy["id"]) == (False, "busy", "ha:start")
        assert status()["preset"] == "hot-stone-75"

        paused = press("pause")
        assert paused["ok"] and paused["status"]["state"] == "paused", paused
        assert status()["state"] == "paused"
        resumed = press("resume")
        assert resumed["ok"] and status()["state"] == "running", resumed
        before = resumed["status"]["remaining_s"]
        extended = press("extend")
        assert extended["ok"], extended
        assert extended["status"]["remaining_s"] == pytest.approx(before + 600, abs=2)
        assert status()["remaining_s"] == pytest.approx(before + 600, abs=2)

        stopped = press("stop")
        assert stopped["ok"] and stopped["status"]["state"] == "idle", stopped
        assert status()["state"] == "idle"
        sim.wait_for("room1", "r1-thermostat", lambda s: s["target"] == 19)  # the after state: as found

        # a session started elsewhere (here: an MQTT command, the CLI's twin) becomes room2's choice
        mark = ha.mark()
        ha.publish(f"{base}/room2/command", {"action": "start", "preset": "express-30"})
        assert ha.wait_for(f"{base}/room2/command/result", since=mark).json()["ok"]
        assert ha.wait_for(lambda m: m.topic == f"{base}/room2/ha/preset" and m.payload == b"express-30", since=mark)
        assert press("stop", room="room2")["ok"]

        unknown = press("start", room="room9")
        assert (unknown["ok"], unknown["code"]) == (False, "not_found")
    finally:
        ha.close()
        live.stop()


# ---- re-announcing, removal, switching off --------------------------------------------------------


def test_home_assistant_coming_online_gets_the_configs_again(broker, sim, tmp_path, monkeypatch):
    monkeypatch.setattr(ha_discovery, "BIRTH_DELAY", (0.0, 0.2))
    live = run(make_config(tmp_path, broker))
    try:
        with MqttProbe(broker, f"{PREFIX}/device/+/config") as ha:
            ha.wait_count(f"{PREFIX}/device/+/config", 2)  # the retained ones
            mark = ha.mark()
            ha.publish(f"{PREFIX}/status", "offline")
            time.sleep(0.4)  # longer than the birth delay: a wrong announcement would be here
            assert ha.messages(f"{PREFIX}/device/+/config", mark) == []
            ha.publish(f"{PREFIX}/status", "online")
            again = ha.wait_count(f"{PREFIX}/device/+/config", 2, timeout=3, since=mark)
            assert {m.topic for m in again} == {config_topic("room1"), config_topic("room2")}
            assert all(json.loads(m.payload)["cmps"]["preset"]["p"] == "select" for m in again)
    finally:
        live.stop()


def test_a_room_that_left_the_config_is_removed_and_stale_presses_are_not_run(broker, sim, tmp_path):
    run(make_config(tmp_path, broker)).stop()
    with MqttProbe(broker, f"{PREFIX}/device/+/config") as ha:
        ha.wait_count(f"{PREFIX}/device/+/config", 2)
        # a press left retained on the broker while ambience was away must not run when it comes back
        ha.publish("ambience/room1/ha/start", "PRESS", retain=True)
        mark = ha.mark()
        live = run(make_config(tmp_path, broker, rooms={"room1": ROOMS["room1"]}))
        try:
            removal = ha.wait_for(config_topic("room2"), since=mark)
            assert removal.payload == b""
            assert [t for t, _ in retained(broker, f"{PREFIX}/device/+/config", 0.5)] == [config_topic("room1")]
            record = json.loads(dict(retained(broker, "ambience/ha/rooms", 0.3))["ambience/ha/rooms"])
            assert record == {"prefix": "homeassistant", "rooms": ["room1"]}
            assert retained(broker, "ambience/room1/ha/start", 0.3) == [], "the stale press is cleared"
            assert live.status("room1")["state"] == "idle", "and was not run"
        finally:
            live.stop()


def test_discovery_off_publishes_nothing_and_withdraws_an_earlier_announcement(broker, sim, tmp_path):
    with MqttProbe(broker, f"{PREFIX}/#", "ambience/ha/rooms", "ambience/+/ha/#") as ha:
        # never announced: nothing at all under the prefix, no record, no select state
        run(make_config(tmp_path, broker, ha={"discovery": False})).stop()
        ha.settle()  # the daemon has stopped: whatever it published has reached the broker
        assert ha.messages() == []

        # announced by an earlier run, then switched off: empty retained configs, the record cleared
        run(make_config(tmp_path, broker)).stop()
        ha.wait_count(f"{PREFIX}/device/+/config", 2)
        mark = ha.mark()
        run(make_config(tmp_path, broker, ha={"discovery": False})).stop()
        cleared = ha.wait_count(f"{PREFIX}/device/+/config", 2, since=mark)
        assert {(m.topic, m.payload) for m in cleared} == {(config_topic("room1"), b""), (config_topic("room2"), b"")}
        ha.wait_for(lambda m: m.topic == "ambience/ha/rooms" and m.payload == b"", since=mark)
    assert retained(broker, f"{PREFIX}/#", 0.3) == []
    assert retained(broker, "ambience/ha/rooms", 0.3) == []
    assert retained(broker, "ambience/+/ha/#", 0.3) == []


@pytest.mark.parametrize(
    "record, problem",
    [
        (b'{"prefix": "homeassistant/#", "rooms": ["room1"]}', "prefix: 'homeassistant/#' is not allowed"),
        (b'{"prefix": 5}', "prefix: 5 is not text"),
        (b'{"rooms": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "not JSON: nested too deeply"),
        (b'{"rooms": ["' + b"x" * 70_000 + b'"]}', "70,015 bytes; at most 65,536 are read"),
        (b'{"prefix": "homeassistant", "rooms": ["room1", "Room 2"], "extra": 1}', "rooms[1]: 'Room 2' is not"),
    ],
    ids=["wildcard-prefix", "number-prefix", "deep", "huge", "bad-room"],
)
def test_a_bad_retained_record_is_ignored_with_one_line_and_discovery_works(
    broker, sim, tmp_path, caplog, record, problem
):
    with MqttProbe(broker, f"{PREFIX}/device/+/config") as ha:
        ha.publish("ambience/ha/rooms", record, retain=True)
        live = run(make_config(tmp_path, broker))
        try:
            announced = ha.wait_count(f"{PREFIX}/device/+/config", 2)
            assert {m.topic for m in announced} == {config_topic("room1"), config_topic("room2")}
            assert all(json.loads(m.payload)["dev"]["ids"] for m in announced)
            # the broker's record is ours again
            stored = json.loads(dict(retained(broker, "ambience/ha/rooms", 0.3))["ambience/ha/rooms"])
            assert stored == {"prefix": "homeassistant", "rooms": ["room1", "room2"]}
        finally:
            live.stop()
    lines = [r for r in caplog.records if "ambience/ha/rooms" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert problem in lines[0].getMessage() and "\n" not in lines[0].getMessage()
    assert [r.getMessage()[:200] for r in caplog.records if r.exc_info or r.levelname == "ERROR"] == []


def test_a_new_preset_file_is_announced_in_the_preset_select_without_a_restart(broker, sim, tmp_path, monkeypatch):
    from ambience import daemon

    monkeypatch.setattr(daemon, "PRESET_POLL", 0.1)
    config = write_clinic(
        tmp_path, ROOMS, mqtt=broker.url, music=["music"], http=False, reconcile={"ack_timeout": 0.5},
        presets={"quick": "name: Quick\nduration: 30m\n"}, builtin=False,
    ).config  # fmt: skip
    live = run(config)
    try:
        with MqttProbe(broker, f"{PREFIX}/device/+/config") as ha:
            first = ha.wait_count(f"{PREFIX}/device/+/config", 2)
            assert all(json.loads(m.payload)["cmps"]["preset"]["options"] == ["Quick"] for m in first)
            mark = ha.mark()
            (tmp_path / "presets" / "long.yaml").write_text("name: Long\nduration: 90m\n")
            again = ha.wait_count(f"{PREFIX}/device/+/config", 2, timeout=5, since=mark)
            assert {m.topic for m in again} == {config_topic("room1"), config_topic("room2")}
            assert all(set(json.loads(m.payload)["cmps"]["preset"]["options"]) == {"Quick", "Long"} for m in again)
    finally:
        live.stop()
