"""The MQTT control surface end to end: real mosquitto, the device simulator, the whole daemon.

The daemon runs as in production (``Daemon.start()`` ... ``Daemon.stop()``) on a loop in a thread
of its own (:class:`ambience.testing.LiveDaemon`), so the tests (and hypothesis) can talk to it over
the broker with plain blocking paho clients.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ambience.config import Config
from ambience.simulator import Simulator
from ambience.surfaces import mqtt_control
from ambience.surfaces.mqtt_control import MAX_PAYLOAD, MqttControl
from ambience.testing import LiveDaemon, Mosquitto, MqttProbe, draws, write_clinic

BASE = "spa/ambience"
"""A base topic of two levels, so the room is found by position, not by splitting on '/'."""
PRESETS = (
    "deep-tissue-60", "deep-tissue-90", "express-30", "home-visit-60", "hot-stone-75",
    "myofascial-release-60", "swedish-relaxation-60", "swedish-relaxation-90", "trigger-point-45",
)  # fmt: skip
ROOMS: dict[str, Any] = {
    "room1": {
        "name": "Room 1",
        "thermostat": {"bridge": "zigbee2mqtt", "device": "r1-thermostat"},
        "lights": [
            {"bridge": "zigbee2mqtt", "device": "r1-lamp", "role": "lamp"},
            {"bridge": "tasmota", "device": "r1-ceiling", "role": "ceiling"},
        ],
    },
    "room2": {
        "thermostat": {"bridge": "zigbee2mqtt", "device": "r2-thermostat"},
        "lights": [{"bridge": "tasmota", "device": "r2-lamp", "role": "lamp"}],
    },
}
INITIAL = {
    "r1-lamp": {"on": True, "brightness": 80, "color_temp": 4000},
    "r1-ceiling": {"on": True, "brightness": 100},
    "r1-thermostat": {"target": 19, "mode": "heat", "local_temperature": 18},
}


def command_topic(room: str) -> str:
    return f"{BASE}/{room}/command"


def result_topic(room: str) -> str:
    return f"{BASE}/{room}/command/result"


def state_topic(room: str) -> str:
    return f"{BASE}/{room}/state"


def make_config(tmp_path: Path, broker: Mosquitto) -> Config:
    return write_clinic(
        tmp_path, ROOMS, mqtt=broker.url, base_topic=BASE, music=["music"], http=False, reconcile={"ack_timeout": 0.5}
    ).config


@pytest.fixture
def config(tmp_path: Path, broker: Mosquitto) -> Config:
    return make_config(tmp_path, broker)


@pytest.fixture
def sim(config: Config) -> Iterator[Simulator]:
    with Simulator(config, tick=0.2, initial=INITIAL) as simulator:
        yield simulator


@pytest.fixture
def live(config: Config, sim: Simulator) -> Iterator[LiveDaemon]:
    daemon = LiveDaemon(config).start()
    try:
        daemon.wait_reported()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def results(broker: Mosquitto) -> Iterator[MqttProbe]:
    """Subscribed to every room's results and state (subscribed before the daemon starts)."""
    with MqttProbe(broker, f"{BASE}/+/command/result", f"{BASE}/+/state") as probe:
        yield probe


def send(probe: MqttProbe, room: str, payload: Any, timeout: float = 5.0) -> dict[str, Any]:
    """Publish a command and return the next result for that room."""
    mark = probe.mark()
    probe.publish(command_topic(room), payload)
    message = probe.wait_for(result_topic(room), timeout=timeout, since=mark)
    assert not message.retain
    return message.json()


def retained_state(broker: Mosquitto, room: str) -> dict[str, Any]:
    """What a newcomer gets on the room's state topic: the retained message."""
    with MqttProbe(broker, state_topic(room)) as newcomer:
        message = newcomer.wait_for(state_topic(room), timeout=3)
        assert message.retain
        return message.json()


# ---- sessions over MQTT -----------------------------------------------------------------------


def test_a_start_command_runs_a_session_that_drives_the_devices(broker, sim, live, results):
    command = {"action": "start", "preset": "swedish-relaxation-60", "duration": "45m", "client": "A. Smith"}
    reply = send(results, "room1", {**command, "id": "req-1"})
    assert reply["ok"] is True, reply
    assert reply["id"] == "req-1"
    status = reply["status"]
    assert (status["room"], status["state"], status["preset"], status["client"]) == (
        "room1", "running", "swedish-relaxation-60", "A. Smith",
    )  # fmt: skip
    assert status["phase"] == "arrival"
    assert 2690 < status["remaining_s"] <= 2700
    assert re.search(r"[+-]\d\d:\d\d$", status["ends_at"]), "ISO 8601 with a timezone"

    # the preset's arrival state reaches the simulated devices
    sim.wait_for(
        "room1", "r1-lamp", lambda s: s["on"] and abs(s["brightness"] - 50) < 1 and abs(s["color_temp"] - 2700) < 30
    )
    # (Zigbee2MQTT speaks mireds: 2700 K arrives as 370 mired = 2703 K)
    sim.wait_for("room1", "r1-ceiling", lambda s: not s["on"])
    sim.wait_for("room1", "r1-thermostat", lambda s: s["target"] == 24)

    state = retained_state(broker, "room1")
    assert (state["state"], state["preset"], state["client"]) == ("running", "swedish-relaxation-60", "A. Smith")
    assert {d["id"] for d in state["devices"]} == {"r1-thermostat", "r1-lamp", "r1-ceiling"}
    assert set(state) >= {"room", "phase", "started_at", "ends_at", "remaining_s", "music"}
    assert retained_state(broker, "room2")["state"] == "idle"
    # the dispatcher's own view agrees with what MQTT said
    assert live.status("room1")["ends_at"] == status["ends_at"]


def test_pause_resume_extend_and_stop_over_mqtt(broker, sim, live, results):
    assert send(results, "room1", {"action": "start", "preset": "swedish-relaxation-60"})["ok"]
    sim.wait_for("room1", "r1-lamp", lambda s: abs(s["brightness"] - 50) < 1)

    paused = send(results, "room1", {"action": "pause"})
    assert paused["ok"] and paused["status"]["state"] == "paused", paused
    results.wait_json(state_topic("room1"), lambda s: s["state"] == "paused")
    assert retained_state(broker, "room1")["state"] == "paused"

    resumed = send(results, "room1", {"action": "resume"})
    assert resumed["ok"] and resumed["status"]["state"] == "running", resumed
    before = resumed["status"]["remaining_s"]

    extended = send(results, "room1", {"action": "extend", "by": "10m"})
    assert extended["ok"], extended
    assert extended["status"]["remaining_s"] == pytest.approx(before + 600, abs=2)
    shortened = send(results, "room1", {"action": "extend", "by": "-5m"})
    assert shortened["status"]["remaining_s"] == pytest.approx(before + 300, abs=2)

    status = send(results, "room1", {"action": "status"})
    assert status["ok"] and status["status"]["room"] == "room1" and status["status"]["state"] == "running"

    stopped = send(results, "room1", {"action": "stop"})
    assert stopped["ok"] and stopped["status"]["state"] == "idle", stopped
    results.wait_json(state_topic("room1"), lambda s: s["state"] == "idle")
    # after: restore puts the room back as found
    sim.wait_for("room1", "r1-lamp", lambda s: s["on"] and abs(s["brightness"] - 80) < 1)
    sim.wait_for("room1", "r1-thermostat", lambda s: s["target"] == 19)
    assert retained_state(broker, "room1")["state"] == "idle"

    again = send(results, "room1", {"action": "stop"})
    assert again["ok"] is False and again["code"] == "refused" and "no session" in again["error"]


def test_the_result_goes_to_the_mqtt5_response_topic_with_the_correlation_data(broker, live, results):
    got: list[paho.MQTTMessage] = []
    arrived = threading.Event()
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="v5-requester", protocol=paho.MQTTv5)
    client.on_message = lambda c, u, m: (got.append(m), arrived.set())
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe(f"{BASE}/replies/7", qos=1)
        assert subscribed.wait(5)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = f"{BASE}/replies/7"
        props.CorrelationData = b"\x00corr-42\xff"
        mark = results.mark()
        payload = json.dumps({"action": "start", "preset": "express-30", "id": 7})
        client.publish(command_topic("room2"), payload, qos=1, properties=props).wait_for_publish(5)
        assert arrived.wait(5), "no reply on the response topic"
        reply = got[0]
        assert reply.properties.CorrelationData == b"\x00corr-42\xff"
        assert not reply.retain
        body = json.loads(reply.payload)
        assert body["ok"] is True and body["id"] == 7 and body["status"]["preset"] == "express-30"

        # an error reply takes the same way
        arrived.clear()
        props.CorrelationData = b"second"
        client.publish(command_topic("room2"), "{not json", qos=1, properties=props).wait_for_publish(5)
        assert arrived.wait(5)
        assert got[1].properties.CorrelationData == b"second"
        assert json.loads(got[1].payload)["ok"] is False

        # nothing went to the default result topic; the state topic did change
        results.wait_json(state_topic("room2"), lambda s: s["state"] == "running", since=mark)
        time.sleep(0.2)  # a window for a wrong answer to show; nothing is to come
        assert results.messages(f"{BASE}/+/command/result", since=mark) == []
    finally:
        client.disconnect()
        client.loop_stop()


def publish_v5(broker: Mosquitto, topic: str, payload: Any, response_topic: str, correlation: bytes = b"c") -> None:
    """Publish as an MQTT 5 client naming ``response_topic`` (the probe speaks 5 but sets no properties)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"v5-{time.monotonic_ns()}", protocol=paho.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = response_topic
        props.CorrelationData = correlation
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        client.publish(topic, body, qos=1, properties=props).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_response_topic_outside_the_prefix_gets_no_answer_and_the_lamp_does_not_move(
    broker, sim, live, results, caplog, monkeypatch
):
    # The attack: a refused pause whose answer, published on a Tasmota lamp's Backlog topic, would
    # be run by the lamp (the echoed id holds commands). Nothing may be published there.
    lamp = sim.device("room2", "r2-lamp")
    obeyed = sim.commands("room2", "r2-lamp")
    with MqttProbe(broker, "cmnd/#", f"{BASE}/#") as watcher:
        mark = watcher.mark()
        attack = {"action": "pause", "id": "x; Power ON; Dimmer 100"}
        with caplog.at_level(logging.WARNING, logger="ambience.surfaces.mqtt_control"):
            for _ in range(5):
                publish_v5(broker, command_topic("room2"), attack, "cmnd/r2-lamp/Backlog")
            # a wildcard, and ambience's own topics under the base (a Home Assistant button), are refused too
            publish_v5(broker, command_topic("room2"), {"action": "status"}, f"{BASE}/+/command/result")
            publish_v5(broker, command_topic("room1"), {"action": "status"}, f"{BASE}/room1/ha/start")
            publish_v5(broker, command_topic("room1"), {"action": "status"}, f"{BASE}/room1/command")
            # commands are handled in order: once a later one is answered, the refused ones were handled
            assert send(results, "room2", {"action": "status", "id": "barrier"})["id"] == "barrier"
            watcher.wait_json(result_topic("room2"), lambda r: r.get("id") == "barrier", since=mark)
        heard = watcher.messages(since=mark)
    assert [m.topic for m in heard if m.topic.startswith("cmnd/")] == [], "something was published under cmnd/"
    answers = [m for m in heard if m.topic.startswith(f"{BASE}/") and "command" in m.topic]
    assert [(m.topic, m.json().get("id")) for m in answers if m.topic.endswith("/result")] == [
        (result_topic("room2"), "barrier")
    ], "the refused commands got no answer anywhere"
    assert sim.commands("room2", "r2-lamp") == obeyed
    assert {k: sim.device("room2", "r2-lamp")[k] for k in ("on", "brightness")} == {
        k: lamp[k] for k in ("on", "brightness")
    }
    assert live.status("room1")["state"] == "idle", "the Home Assistant Start button was not pressed"
    refusals = [r.getMessage() for r in caplog.records if "response topic" in r.getMessage()]
    assert len(refusals) == 1, refusals  # one line for the burst (rate-limited), naming the topic and the rule
    assert "'cmnd/r2-lamp/Backlog'" in refusals[0] and f"'{BASE}/'" in refusals[0], refusals[0]
    assert "\n" not in refusals[0]
    # the next line, once the minute is over, counts the refusals it did not log
    monkeypatch.setattr(mqtt_control, "REFUSAL_LOG_S", 0.0)
    with caplog.at_level(logging.WARNING, logger="ambience.surfaces.mqtt_control"):
        publish_v5(broker, command_topic("room2"), attack, "cmnd/r2-lamp/Backlog")
        assert send(results, "room2", {"action": "status", "id": "barrier"})["ok"]
    refusals = [r.getMessage() for r in caplog.records if "response topic" in r.getMessage()]
    assert len(refusals) == 2 and refusals[1].endswith("not run, not answered (7 more since the last such line)")


def test_the_response_topic_prefix_is_configurable(tmp_path, broker, sim, results):
    config = make_config(tmp_path, broker)
    config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"response_topic_prefix": "replies/"})})
    live = LiveDaemon(config).start()
    try:
        with MqttProbe(broker, "replies/#", f"{BASE}/replies/#", f"{BASE}/+/command/result") as watcher:
            publish_v5(broker, command_topic("room1"), {"action": "status", "id": 1}, "replies/tablet")
            assert watcher.wait_json("replies/tablet")["id"] == 1
            mark = watcher.mark()
            publish_v5(broker, command_topic("room1"), {"action": "status", "id": 2}, f"{BASE}/replies/tablet")
            assert send(results, "room1", {"action": "status", "id": "barrier"})["ok"]
            watcher.wait_json(result_topic("room1"), lambda r: r.get("id") == "barrier", since=mark)
            assert [m.json()["id"] for m in watcher.messages(since=mark)] == ["barrier"]
    finally:
        live.stop()


# ---- refusals ------------------------------------------------------------------------------------


def test_unknown_room_busy_room_and_other_refusals(broker, live, results):
    unknown = send(results, "attic", {"action": "start", "preset": "express-30", "id": "a"})
    assert unknown["ok"] is False and unknown["code"] == "not_found" and unknown["id"] == "a"
    assert "attic" in unknown["error"] and "room1, room2" in unknown["error"]

    first = send(results, "room1", {"action": "start", "preset": "express-30"})
    assert first["ok"], first
    busy = send(results, "room1", {"action": "start", "preset": "deep-tissue-60"})
    assert busy["ok"] is False and busy["code"] == "busy" and "busy" in busy["error"], busy
    after = live.status("room1")
    assert (after["preset"], after["started_at"]) == ("express-30", first["status"]["started_at"])

    for lax in ("yes", 1):  # only true replaces
        refused = send(results, "room1", {"action": "start", "preset": "deep-tissue-60", "replace": lax})
        assert refused["error"] == f"invalid command: replace: {lax!r} is not true or false", refused
        assert live.status("room1")["preset"] == "express-30"
    replaced = send(results, "room1", {"action": "start", "preset": "deep-tissue-60", "replace": True})
    assert replaced["ok"] and replaced["status"]["preset"] == "deep-tissue-60", replaced

    other_room = send(results, "room1", {"action": "stop", "room": "room2"})
    assert other_room["ok"] is False and other_room["issues"][0]["field"] == "room"
    assert live.status("room1")["state"] == "running"
    same_room = send(results, "room1", {"action": "status", "room": "room1"})
    assert same_room["ok"] is True

    no_preset = send(results, "room2", {"action": "start", "preset": "no-such-preset"})
    assert no_preset["ok"] is False and no_preset["code"] == "not_found" and no_preset["issues"][0]["field"] == "preset"

    invalid = send(results, "room2", {"action": "start", "preset": "Bad Preset", "duration": "soon", "colour": 1})
    assert invalid["ok"] is False and invalid["code"] == "invalid"
    assert {i["field"] for i in invalid["issues"]} == {"preset", "duration", "colour"}
    assert "\n" not in invalid["error"]

    for junk, expected in [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"action":"extend","by":' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"[1, 2]", "not an array"),
        (b"", "empty payload"),
    ]:
        refused = send(results, "room1", junk)
        assert refused["ok"] is False and refused["code"] == "invalid" and expected in refused["error"], refused
    huge = send(results, "room2", b'{"action":"status","x":"' + b"x" * MAX_PAYLOAD + b'"}')
    assert huge["ok"] is False and huge["code"] == "too_large"
    assert live.status("room2")["state"] == "idle"


def test_a_booking_is_cancelled_over_mqtt_by_its_id(broker, live, results):
    # docs/bookings.md: {"action": "cancel", "id": ...}; that id names the booking (and is echoed too)
    at = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%d 10:00")
    booked = send(results, "room2", {"action": "book", "preset": "express-30", "at": at})
    assert booked["ok"], booked
    booking_id = booked["status"]["booking"]["id"]
    assert live.call(lambda: [b.id for b in live.daemon.bookings.bookings()]) == [booking_id]
    cancelled = send(results, "room2", {"action": "cancel", "id": booking_id})
    assert cancelled["ok"] is True and cancelled["id"] == booking_id, cancelled
    assert live.call(lambda: live.daemon.bookings.bookings()) == []
    missing = send(results, "room2", {"action": "cancel"})
    assert missing["ok"] is False and [i["field"] for i in missing["issues"]] == ["id"]


def test_a_retained_stale_command_is_not_executed_but_cleared(broker, config, sim, results):
    with MqttProbe(broker, command_topic("room1")) as watcher:
        watcher.publish(command_topic("room1"), {"action": "start", "preset": "express-30"}, retain=True)
        mark = watcher.mark()
        live = LiveDaemon(config).start()
        try:
            # the daemon clears it with an empty retained message ...
            watcher.wait_for(lambda m: m.topic == command_topic("room1") and m.payload == b"", since=mark)
            with MqttProbe(broker) as newcomer:
                newcomer.subscribe(command_topic("room1"))
                newcomer.settle()  # a retained message would have come by now
                assert newcomer.messages(command_topic("room1")) == [], "the stale command is still retained"
            # ... did not run it, and did not answer it (nobody asked just now)
            assert live.status("room1")["state"] == "idle"
            assert results.messages(result_topic("room1")) == []
            # and still takes live commands
            assert send(results, "room1", {"action": "start", "preset": "express-30"})["ok"]
        finally:
            live.stop()


# ---- the retained state --------------------------------------------------------------------------


def test_state_is_refreshed_while_a_session_runs_and_not_while_idle(broker, sim, config, results, monkeypatch):
    monkeypatch.setattr(mqtt_control, "REFRESH_S", 0.25)
    live = LiveDaemon(config).start()
    try:
        live.wait_reported()
        time.sleep(0.5)  # device reports at start-up are room changes too: let them be published first
        assert send(results, "room1", {"action": "start", "preset": "express-30"})["ok"]
        mark = results.mark()
        results.wait_count(state_topic("room1"), 3, timeout=5, since=mark)  # a refresh every 0.25 s
        refreshed = results.messages(f"{BASE}/+/state", since=mark)
        assert len([m for m in refreshed if m.topic == state_topic("room1")]) >= 3
        assert [m for m in refreshed if m.topic == state_topic("room2")] == [], "an idle room is not re-published"
        left = [m.json()["remaining_s"] for m in refreshed if m.topic == state_topic("room1")]
        assert left == sorted(left, reverse=True) and left[0] > left[-1], "remaining_s counts down"

        assert send(results, "room1", {"action": "stop"})["ok"]
        results.wait_json(state_topic("room1"), lambda s: s["state"] == "idle")
        # the after state settles: express-30's after lights fade for 10 s, reporting as they go
        sim.wait_for("room1", "r1-lamp", lambda s: abs(s["brightness"] - 80) < 0.5, timeout=15)
        time.sleep(0.6)  # the last report's room change (debounced) goes out
        mark = results.mark()
        time.sleep(0.8)  # over three refresh periods: the window in which nothing may be published
        late = results.messages(f"{BASE}/+/state", since=mark)
        assert late == [], "nothing is published while all is idle"
        assert live.call(lambda: live.surface(MqttControl)._timer) is None, "no timer runs while all rooms are idle"
    finally:
        live.stop()


def test_state_is_published_again_after_the_broker_comes_back(broker, live, results):
    assert send(results, "room2", {"action": "start", "preset": "express-30", "client": "B"})["ok"]
    broker.stop()  # no persistence: the retained states are gone with it
    broker.start()
    with MqttProbe(broker, f"{BASE}/+/state") as newcomer:
        one = newcomer.wait_json(state_topic("room1"), timeout=10)
        two = newcomer.wait_json(state_topic("room2"), timeout=10)
    assert one["state"] == "idle"
    assert (two["state"], two["preset"], two["client"]) == ("running", "express-30", "B")


# ---- fuzzing ----------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30)
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
KNOWN_KEYS = {"action", "room", "id", "preset", "duration", "client", "replace", "lead", "by"}
FIELDS = {
    "start": {"preset", "duration", "client", "replace", "lead"},
    "extend": {"by"},
    "pause": set(),
    "resume": set(),
    "stop": set(),
    "status": set(),
}
VALID = [
    {"action": "start", "preset": "express-30"},
    {"action": "start", "preset": "swedish-relaxation-60", "duration": "45m", "client": "A. Smith", "lead": "1m"},
    {"action": "pause"},
    {"action": "resume"},
    {"action": "stop"},
    {"action": "status"},
    {"action": "extend", "by": "10m"},
]
ROOM_NAMES = st.sampled_from(["room1", "room2", "attic", "Room1", "room1 "])


def _not_a_duration_text(text: str) -> bool:
    """Contains something no duration has (durations: digits, '.', h/m/s, a sign, spaces)."""
    return re.search(r"[^0-9.hms+\-\s]", text) is not None or not re.search(r"\d", text)


NOT_DURATION = st.one_of(
    st.booleans(),
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
    st.text(max_size=20).filter(_not_a_duration_text),
    st.just(float("nan")),
    st.just(float("inf")),
)
BAD_VALUES = {
    "preset": st.one_of(JUNK.filter(lambda v: not isinstance(v, str)), st.text(max_size=70)).filter(
        lambda v: v not in PRESETS
    ),
    "duration": NOT_DURATION | st.floats(min_value=6 * 3600 + 1, max_value=1e300) | st.floats(max_value=0),
    "lead": NOT_DURATION | st.floats(min_value=3 * 3600 + 1, max_value=1e300) | st.floats(max_value=-0.001),
    "by": NOT_DURATION
    | st.floats(min_value=6 * 3600 + 1, max_value=1e300)
    | st.floats(max_value=-6 * 3600 - 1, min_value=-1e300),
    "client": st.one_of(
        st.just(""),
        st.text(min_size=61, max_size=3000),
        JUNK.filter(lambda v: v is not None and not isinstance(v, str)),
    ),
    "replace": st.one_of(
        st.lists(SCALARS, max_size=3),
        st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
        st.floats(0.1, 0.9),
        st.sampled_from(["yes", "no", "true", "false", "on", "off", "1", "0", 1, 0, 1.0, None]),
    ),
}


@st.composite
def defective_commands(draw: st.DrawFn) -> tuple[str, bytes]:
    """A well-formed-looking command with exactly one thing wrong, to a known or unknown room."""
    room = draw(ROOM_NAMES)
    command = dict(draw(st.sampled_from(VALID)))
    action = command["action"]
    defect = draw(st.sampled_from(["extra", "foreign", "value", "missing", "action", "room", "id"]))
    if defect == "extra":
        command[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in KNOWN_KEYS))] = draw(JUNK)
    elif defect == "foreign":
        command[draw(st.sampled_from(sorted(KNOWN_KEYS - FIELDS[action] - {"action", "room", "id"})))] = draw(JUNK)
    elif defect == "value" and FIELDS[action]:
        field = draw(st.sampled_from(sorted(FIELDS[action])))
        command[field] = draw(BAD_VALUES[field])
    elif defect == "missing" and action in ("start", "extend"):
        del command["preset" if action == "start" else "by"]
    elif defect == "room":
        command["room"] = draw(JUNK.filter(lambda r: r != room))
    elif defect == "id":
        command["id"] = draw(
            st.one_of(
                st.booleans(),
                st.lists(SCALARS, max_size=3),
                st.dictionaries(st.text(max_size=5), SCALARS, max_size=2),
                st.text(min_size=129, max_size=400),
                st.just(float("nan")),
                st.integers(min_value=2**63),
            )
        )
    else:  # "action", or a defect that does not apply to this action: a wrong action
        command["action"] = draw(
            st.one_of(
                JUNK.filter(lambda a: not isinstance(a, str) or a not in FIELDS),
                st.sampled_from(["START", "Stop", " pause", "stop "]),
            )
        )
    return room, json.dumps(command).encode()


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


PAYLOADS = st.one_of(
    defective_commands(),
    defective_commands(),
    defective_commands(),
    st.tuples(ROOM_NAMES, st.binary(max_size=64).map(lambda b: b"\xff" + b)),  # not UTF-8
    st.tuples(ROOM_NAMES, st.text(min_size=1, max_size=64).map(lambda s: "{" + s).filter(_not_json).map(str.encode)),
    st.tuples(ROOM_NAMES, st.just(b"")),
    st.tuples(ROOM_NAMES, JUNK.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())),
    st.tuples(  # an object without a valid action
        ROOM_NAMES,
        st.dictionaries(st.text(max_size=10).filter(lambda k: k != "action"), JUNK, max_size=5).map(
            lambda d: json.dumps(d).encode()
        ),
    ),
    st.tuples(  # huge strings: above the limit, and just under it
        ROOM_NAMES,
        st.integers(100, 4 * MAX_PAYLOAD).map(
            lambda n: json.dumps({"action": "start", "preset": "express-30", "client": "x" * n}).encode()
        ),
    ),
    st.tuples(ROOM_NAMES, st.integers(1_100, 8_000).map(lambda n: b"[" * n + b"]" * n)),  # nested too deeply
    st.tuples(ROOM_NAMES, st.integers(4_400, 10_000).map(lambda n: b'{"action":"extend","by":' + b"9" * n + b"}")),
)


def snapshot(live: LiveDaemon) -> dict[str, Any]:
    """Everything about the rooms that a command could change (not the clock-driven remaining_s)."""
    controller = live.controller

    def take() -> dict[str, Any]:
        out = {}
        for room_id, status in ((s["room"], s) for s in controller.status()):
            record = controller.rooms[room_id].record
            out[room_id] = (
                {k: status[k] for k in ("state", "preset", "phase", "client", "started_at", "ends_at")},
                [(d["id"], d["desired"]) for d in status["devices"]],
                None if record is None else (record.id, record.preset, record.client, record.facts, record.outcome),
            )
        return out

    return live.call(take)


def test_fuzzed_payloads_are_all_refused_change_nothing_and_the_daemon_stays_up(broker, live, results, caplog):
    assert send(results, "room1", {"action": "start", "preset": "swedish-relaxation-60"})["ok"]
    initial = snapshot(live)
    codes: Counter[str] = Counter()

    @settings(
        max_examples=draws(200),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(PAYLOADS)
    # each kind of refusal at least once, whatever the draw (200 random draws may miss the rare ones)
    @example(("room1", b'{"action":"status","x":"' + b"x" * MAX_PAYLOAD + b'"}'))
    @example(("room2", b'{"action":"start","preset":"no-such-preset"}'))
    @example(("room1", b"{}"))
    def one(case: tuple[str, bytes]) -> None:
        room, payload = case
        reply = send(results, room, payload)
        codes[reply.get("code", "?")] += 1
        assert reply["ok"] is False, (payload[:300], reply)
        assert isinstance(reply["error"], str) and reply["error"] and "\n" not in reply["error"]
        assert len(reply["error"]) <= 600
        assert all(set(i) == {"field", "message"} for i in reply["issues"])
        assert snapshot(live) == initial, payload[:300]

    started = time.monotonic()
    one()
    elapsed = time.monotonic() - started
    examples = sum(codes.values())
    print(f"{examples} fuzzed commands in {elapsed:.1f} s: {dict(codes)}")
    assert examples >= 100 and elapsed < 30
    assert {"invalid", "not_found", "too_large"} <= set(codes), codes
    assert "internal" not in codes, "a fuzzed command raised something unexpected (see the log)"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # still up and answering
    answer = send(results, "room1", {"action": "status", "id": "final"})
    assert answer["ok"] is True and answer["id"] == "final" and answer["status"]["state"] == "running"
    assert live.daemon is not None and live.daemon.connection.connected
