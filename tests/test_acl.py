"""The least-privilege mosquitto ACL of docs/mqtt.md, exactly as written there, on a real broker.

A session runs end to end in the rooms of ``./run demo`` with ambience as the user ``ambience``,
the simulator as ``sim`` and commands from ``tablet``, each with the ACL the docs give it (the
simulator, playing every device, may use every topic). The broker logs every publish it denies:
ambience must have none, and ambience's user must be refused outside its topics.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from ambience.cli.demo import DEMO_CONFIG
from ambience.config import Config, parse_config
from ambience.simulator import Simulator
from ambience.testing import LiveDaemon, Mosquitto, MqttProbe, eventually

DOCS = Path(__file__).resolve().parent.parent / "docs" / "mqtt.md"
PASSWORDS = {"ambience": "amb-secret", "sim": "sim-secret", "tablet": "tab-secret", "observer": "obs-secret"}
TEST_USERS = """
user sim
topic readwrite #

user observer
topic read #
topic write homeassistant/status
"""
INITIAL = {
    "studio-trv": {"target": 19, "mode": "heat", "local_temperature": 19},
    "studio-ceiling": {"on": True, "brightness": 90, "color_temp": 4000},
    "studio-lamp": {"on": True, "brightness": 80, "color_temp": 4000},
    "shellydimmer2-studio": {"on": True, "brightness": 70},
    "garden-node": {"target": 18, "mode": "heat", "local_temperature": 18},
    "garden-lamp": {"on": True, "brightness": 60, "color_temp": 4000},
    "garden-ceiling": {"on": True, "brightness": 50, "color_temp": 4000},
}
OUTSIDE = [
    "cmnd/studio-lamp/Restart",  # a Tasmota command other than those ambience sends (Backlog, State, Power<n>)
    "zigbee2mqtt/bridge/request/restart",
    "homeassistant/light/x/config",
    "homeassistant/status",
    "shellydimmer2-other/rpc",
    "garden-lamp/light/other/command",
    "other-node/climate/heater/mode/command",
    "replies/tablet",
    "anything",
]


def acl_block(name: str) -> str:
    """The ```text block after ``<!-- acl: <name> ... -->`` in docs/mqtt.md."""
    found = re.search(rf"<!-- acl: {name}\b[^>]*-->\s*```text\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/mqtt.md has no ACL block for {name}"
    return found.group(1)


def demo_config(tmp_path: Path, broker: Mosquitto, user: str) -> Config:
    text = DEMO_CONFIG.format(mqtt_port=broker.port, http_port=0)
    config = parse_config(text, "demo config", tmp_path)
    mqtt = config.mqtt.model_copy(update={"username": user, "password": SecretStr(PASSWORDS[user])})
    return config.model_copy(update={"mqtt": mqtt, "http": config.http.model_copy(update={"enabled": False})})


@pytest.fixture
def acl_broker(mosquitto_binary: str, tmp_path: Path):
    acl = tmp_path / "acl"
    acl.write_text(acl_block("ambience") + "\n" + acl_block("tablet") + TEST_USERS, encoding="utf-8")
    # debug: the broker logs each publish it denies. mosquitto's default queue: with the harness's
    # max_queued_messages 0, mosquitto 2.0 drops a client whose QoS 1 publish it denies
    extra = ["log_type debug", "max_queued_messages 1000"]
    server = Mosquitto(binary=mosquitto_binary, users=PASSWORDS, acl_file=acl, extra_config=extra)
    try:
        yield server.start()
    finally:
        server.close()


def publish_as(broker: Mosquitto, user: str, topics: list[str]) -> dict[str, str]:
    """Publish QoS 1 on each topic as ``user``: ``accepted``, or the broker's reason for refusing (its PUBACK)."""
    answers: dict[int, str] = {}
    connected = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-probe", protocol=paho.MQTTv5)
    client.username_pw_set(user, PASSWORDS[user])
    client.on_connect = lambda c, u, flags, reason, props: connected.set() if not reason.is_failure else None
    # a success is "Success" or "No matching subscribers"
    client.on_publish = lambda c, u, mid, reason, props: answers.__setitem__(
        mid, str(reason) if reason.is_failure else "accepted"
    )
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert connected.wait(5), f"{user} could not connect"
        mids = {topic: client.publish(topic, "x", qos=1) for topic in topics}
        for info in mids.values():
            info.wait_for_publish(5)
        try:
            eventually(lambda: len(answers) == len(mids), 5, 0.01)
        except AssertionError:
            pass  # the missing ones say "no answer"
        return {topic: answers.get(info.mid, "no answer") for topic, info in mids.items()}
    finally:
        client.disconnect()
        client.loop_stop()


def confirmed(live: LiveDaemon, room: str) -> dict[str, Any]:
    """The status of each device the session asks something of (a switch or sensor it leaves alone is idle)."""
    return {d["id"]: d["status"] for d in live.status(room)["devices"] if d["desired"] is not None}


def wait_confirmed(live: LiveDaemon, room: str, timeout: float = 10.0) -> None:
    """Until every device of ``room`` reported what it was told."""
    eventually(lambda: set(confirmed(live, room).values()) == {"confirmed"}, timeout,
               describe=lambda: f"{room} not confirmed: {confirmed(live, room)}")  # fmt: skip


def test_a_session_runs_with_exactly_the_documented_acl_and_nothing_is_denied(acl_broker, tmp_path):
    broker = acl_broker
    config = demo_config(tmp_path, broker, "ambience")
    with (
        MqttProbe(broker, "#", username="observer", password=PASSWORDS["observer"]) as observer,
        MqttProbe(broker, username="tablet", password=PASSWORDS["tablet"]) as tablet,
        Simulator(
            demo_config(tmp_path, broker, "sim"),
            tick=0.2,
            initial=INITIAL,
            options={"visit-heater": {"profile": "shelly-plus-plug"}},  # the plain Shelly sim has no switch
        ) as sim,
    ):
        tablet.subscribe("ambience/+/command/result", "ambience/+/state")
        live = LiveDaemon(config).start()
        try:
            live.wait_reported()  # every device's report came in: ambience may read each state topic
            client_id = live.daemon.connection.client_id
            # Home Assistant discovery: announced, and again on Home Assistant's birth message
            configs = observer.wait_count("homeassistant/device/+/config", 3)
            assert {m.topic for m in configs} == {
                "homeassistant/device/ambience_studio/config",
                "homeassistant/device/ambience_garden/config",
                "homeassistant/device/ambience_visit/config",
            }
            mark = observer.mark()
            observer.publish("homeassistant/status", "online")
            observer.wait_count("homeassistant/device/+/config", 3, timeout=8, since=mark)

            for room in ("studio", "garden"):
                mark = tablet.mark()
                tablet.publish(f"ambience/{room}/command", {"action": "start", "preset": "express-30", "id": room})
                reply = tablet.wait_json(f"ambience/{room}/command/result", lambda r, i=room: r["id"] == i, since=mark)
                assert reply["ok"], reply
                tablet.wait_json(f"ambience/{room}/state", lambda s: s["state"] == "running", since=mark)
            # every device did what it was told and said so
            for room in ("studio", "garden"):
                wait_confirmed(live, room)
            sim.wait_for("studio", "studio-lamp", lambda s: s["brightness"] != 80)
            sim.wait_for("studio", "shellydimmer2-studio", lambda s: s["brightness"] != 70)
            sim.wait_for("garden", "garden-node", lambda s: s["target"] != 18)

            # stopped: the after state (express-30's `after`: every light at 80 %, the climate as found)
            for room in ("studio", "garden"):
                mark = tablet.mark()
                tablet.publish(f"ambience/{room}/command", {"action": "stop", "id": f"stop-{room}"})
                assert tablet.wait_json(f"ambience/{room}/command/result", since=mark)["ok"]
            for room in ("studio", "garden"):
                wait_confirmed(live, room, timeout=20)
            for room, light in (
                ("studio", "studio-lamp"),
                ("studio", "shellydimmer2-studio"),
                ("garden", "garden-ceiling"),
            ):
                sim.wait_for(room, light, lambda s: s["on"] and abs(s["brightness"] - 80) < 1 and not s.get("fading"))
            sim.wait_for("studio", "studio-trv", lambda s: s["target"] == 19)
            sim.wait_for("garden", "garden-node", lambda s: s["target"] == 18)
            subscribed = live.call(lambda: list(live.daemon.connection._subscriptions))  # every filter, devices' too
        finally:
            live.stop()

        # everything ambience published was allowed (the broker logs each publish it denies) ...
        log = broker.log_file.read_text(errors="replace")
        assert client_id in log
        denied = [line for line in log.splitlines() if "Denied" in line and client_id in line]
        assert denied == [], "\n".join(denied)
        # ... and it may read every topic it subscribes to: one message on each, heard with its client id
        topics = sorted({t.replace("+", "studio").replace("#", "probe") for t in subscribed})
        assert len(topics) >= 25, topics  # the own ones, the birth topic and each device's
        reader = MqttProbe(broker, *topics, username="ambience", password=PASSWORDS["ambience"], client_id=client_id)
        with reader, MqttProbe(broker, username="sim", password=PASSWORDS["sim"]) as writer:
            for topic in topics:
                writer.publish(topic, "probe")
            heard: set[str] = set()

            def all_heard(_: Any) -> bool:
                heard.update(m.topic for m in reader.messages() if m.payload == b"probe" and not m.retain)
                return heard == set(topics)

            try:
                reader.wait_for(all_heard, timeout=5)
            except AssertionError:
                pytest.fail(f"ambience's user may not read {sorted(set(topics) - heard)}")


def test_ambience_s_user_cannot_publish_outside_its_topics(acl_broker):
    with MqttProbe(acl_broker, "#", username="observer", password=PASSWORDS["observer"]) as observer:
        inside = ["ambience/studio/state", "zigbee2mqtt/studio-trv/set", "cmnd/studio-lamp/Backlog"]
        answers = publish_as(acl_broker, "ambience", OUTSIDE + inside)
        assert {t: answers[t] for t in OUTSIDE} == dict.fromkeys(OUTSIDE, "Not authorized")
        assert {t: answers[t] for t in inside} == dict.fromkeys(inside, "accepted")
        observer.wait_count("#", len(inside))
        assert sorted(m.topic for m in observer.messages()) == sorted(inside)
    # and the tablet may send commands, nothing else
    answers = publish_as(acl_broker, "tablet", ["ambience/studio/command", "ambience/studio/state", "cmnd/x/Backlog"])
    assert answers == {
        "ambience/studio/command": "accepted",
        "ambience/studio/state": "Not authorized",
        "cmnd/x/Backlog": "Not authorized",
    }
