"""Shelly Gen2: capabilities from Shelly.GetDeviceInfo/Shelly.GetConfig, and a plug (Switch) driven as a light.

Shapes from shelly-api-docs (gen2, v1.0): ComponentsAndServices/Shelly (``Shelly.GetDeviceInfo`` result:
``id``, ``mac``, ``model``, ``gen``, ``fw_id``, ``ver``, ``app``; ``Shelly.GetConfig`` result: the config of
every component, keyed ``<type>:<id>``), ComponentsAndServices/Switch (``Switch.Set`` ``id``/``on``;
status ``output``), General/Notifications (``NotifyStatus`` on ``<prefix>/events/rpc``, ``params`` keyed
by component), General/RPCProtocol (reply frames ``id``/``src``/``dst``/``result``).
"""

from __future__ import annotations

import json

import pytest

from ambience.config.devices import ShellyDevice
from ambience.devices.base import LightReport
from ambience.devices.reconciler import Tracked
from ambience.devices.shelly import ShellyAdapter, shelly_capabilities
from ambience.model.state import Light, LightTarget

pytestmark = pytest.mark.unit

PLUG = "shellyplusplugs-b8d61a85a970"
INFO = {"name": None, "id": PLUG, "mac": "B8D61A85A970", "slot": 0, "model": "SNPL-00112EU", "gen": 2,
        "fw_id": "20231107-164738/1.0.8-g", "ver": "1.0.8", "app": "PlusPlugS", "auth_en": False, "auth_domain": None}  # fmt: skip
CONFIG = {
    "ble": {"enable": True}, "cloud": {"enable": False}, "mqtt": {"enable": True, "topic_prefix": PLUG},
    "switch:0": {"id": 0, "name": None, "initial_state": "restore_last", "auto_on": False, "auto_off": False},
    "sys": {"device": {"name": None, "mac": "B8D61A85A970"}}, "wifi": {}, "ws": {},
}  # fmt: skip
DIMMER_CONFIG = {"light:0": {"id": 0, "name": None, "initial_state": "restore_last"}, "sys": {}}


def plug(**config) -> ShellyAdapter:
    return ShellyAdapter(ShellyDevice(bridge="shelly", device=PLUG, **config), "light", "ambience")


def reply(frame: dict, result: dict) -> bytes:
    return json.dumps({"id": frame["id"], "src": PLUG, "dst": "ambience", "result": result}).encode()


def announce(adapter: ShellyAdapter) -> None:
    frames = {json.loads(m.payload)["method"]: json.loads(m.payload) for m in adapter.query()}
    assert adapter.decode_announcement("ambience/rpc", reply(frames["Shelly.GetDeviceInfo"], INFO)) is None
    # an announcement's answer is not a state report
    assert adapter.decode("ambience/rpc", reply(frames["Shelly.GetConfig"], CONFIG)) == []
    caps = adapter.decode_announcement("ambience/rpc", reply(frames["Shelly.GetConfig"], CONFIG))
    assert caps is not None
    adapter.learn(caps)


def test_capabilities_say_which_component_the_device_has():
    caps = shelly_capabilities(INFO, CONFIG, 0)
    assert (caps.kind, caps.brightness, caps.model, caps.description) == ("switch", False, "SNPL-00112EU", "PlusPlugS")
    assert (shelly_capabilities(None, DIMMER_CONFIG, 0).kind, shelly_capabilities(None, DIMMER_CONFIG, 0).brightness) == (
        "light", True,
    )  # fmt: skip
    assert shelly_capabilities(INFO, CONFIG, 1).kind is None  # no switch:1


def test_a_plug_is_switched_with_switch_set_and_confirms_on_off_from_notify_status():
    warmer = plug()
    announce(warmer)
    assert warmer.component == "switch:0" and warmer.announcement_topics == ["ambience/rpc"]
    (message,) = warmer.light(Light(45.0, 2700.0), 5)
    frame = json.loads(message.payload)
    assert (message.topic, frame["method"], frame["params"]) == (f"{PLUG}/rpc", "Switch.Set", {"id": 0, "on": True})
    event = {"src": PLUG, "dst": f"{PLUG}/events", "method": "NotifyStatus",
             "params": {"ts": 1700000000.12, "switch:0": {"id": 0, "output": True, "source": "MQTT"}}}  # fmt: skip
    assert warmer.decode(f"{PLUG}/events/rpc", json.dumps(event).encode()) == [LightReport(Light(100.0))]
    event["params"]["switch:0"]["output"] = False  # type: ignore[index]
    assert warmer.decode(f"{PLUG}/events/rpc", json.dumps(event).encode()) == [LightReport(Light(0.0))]


def test_a_plug_confirms_a_dimmed_preset_as_on():
    warmer = plug(switch=True)
    tracked = Tracked("room1", "warmer", "warmer", warmer)
    (message,) = tracked.want(LightTarget(Light(45.0), Light(45.0), 0), 0.0)
    frame = json.loads(message.payload)
    assert frame["method"] == "Switch.Set"
    for report in warmer.decode("ambience/rpc", reply(frame, {"was_on": False})):
        tracked.report(report, 0.2)
    assert tracked.status == "confirmed"


def test_a_configured_switch_wins_and_a_dimmer_stays_a_light():
    dimmer = plug(switch=False)
    dimmer.learn(shelly_capabilities(INFO, CONFIG, 0))
    assert not dimmer.is_switch and json.loads(dimmer.light(Light(30.0), 1)[0].payload)["method"] == "Light.Set"


def test_a_status_asked_before_the_last_set_is_stale_and_says_nothing():
    """The connect-time GetStatus can be answered after a Set that followed it (a slow device, QoS 1
    resend): it tells the state before the Set, which would look like a change by hand."""
    dimmer = ShellyAdapter(ShellyDevice(bridge="shelly", device="shellydimmer-1"), "light", client_id="amb")
    status_frame = json.loads(next(m for m in dimmer.query() if "GetStatus" in m.payload).payload)
    set_frame = json.loads(dimmer.light(Light(40.0), 0)[0].payload)
    late = {"id": status_frame["id"], "src": "shellydimmer-1", "result": {"id": 0, "output": False, "brightness": 0}}
    assert dimmer.decode("amb/rpc", json.dumps(late).encode()) == []
    done = {"id": set_frame["id"], "src": "shellydimmer-1", "result": None}
    assert dimmer.decode("amb/rpc", json.dumps(done).encode()) == [LightReport(Light(40.0))]


def test_a_status_during_a_transition_says_where_the_light_is_going():
    """Shelly's Light status during a transition carries the in-between values and ``transition.target``
    (gen2 ComponentsAndServices/Light, Status): the target is what was asked, not a change by hand."""
    dimmer = ShellyAdapter(ShellyDevice(bridge="shelly", device="shellydimmer-1"), "light", client_id="amb")
    note = {"method": "NotifyStatus", "params": {"light:0": {
        "id": 0, "output": False, "brightness": 3, "transition": {"target": {"output": True, "brightness": 40},
                                                                  "started_at": 1.0, "duration": 0.5}}}}  # fmt: skip
    assert dimmer.decode("shellydimmer-1/events/rpc", json.dumps(note).encode()) == [LightReport(Light(40.0))]
