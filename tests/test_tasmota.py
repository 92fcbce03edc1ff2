"""Tasmota: truthful confirmation, relays, split lights, SetOption4 topics and capabilities from discovery.

Payloads are built as Tasmota builds them (arendst/Tasmota):
- discovery configs: ``TasDiscoverMessage`` in tasmota/tasmota_xdrv_driver/xdrv_12_discovery.ino (keys ``t``,
  ``rl`` 1 relay / 2 light, ``lt_st`` ``LightSubtypes`` 0 none .. 5 RGBCW, ``lk`` CT/RGB linked, ``so``, ``ver``);
- light states: ``ResponseLightState`` in xdrv_04_light.ino (``POWER``/``Dimmer``; unlinked RGBW/RGBCW:
  ``POWER<d>``/``Dimmer1``/``POWER<d+1>``/``Dimmer2``; ``Color``, ``HSBColor``, ``White``, ``CT``, ``Channel``);
- power: ``MqttPublishPowerState`` (tasmota_support/support.ino area, xdrv_02_9_mqtt.ino): the JSON on
  ``stat/<t>/RESULT`` (``stat/<t>/POWER<n>`` with SetOption4 1) then the plain word on ``stat/<t>/POWER<n>``.
"""

from __future__ import annotations

import json

import pytest

from ambience.config.devices import TasmotaDevice
from ambience.devices.base import LightReport, Message
from ambience.devices.capabilities import Capabilities
from ambience.devices.reconciler import Tracked
from ambience.devices.tasmota import DISCOVERY_TOPIC, TasmotaAdapter, tasmota_capabilities
from ambience.model.state import Light, LightTarget

pytestmark = pytest.mark.unit


def discovery(topic: str, rl: list[int], lt_st: int, lk: int = 1, md: str = "Generic", so4: int = 0) -> dict:
    """A discovery config in the shape ``TasDiscoverMessage`` writes (8 friendly names and relays: ESP8266)."""
    relays = rl + [0] * (8 - len(rl))
    return {
        "ip": "192.168.1.50", "dn": "Tasmota", "fn": ["Tasmota"] + [None] * 7, "hn": f"{topic}-1234",
        "mac": "A4CF12ABC123", "md": md, "ty": 0, "if": 0, "ofln": "Offline", "onln": "Online",
        "state": ["OFF", "ON", "TOGGLE", "HOLD"], "sw": "14.3.0", "t": topic, "ft": "%prefix%/%topic%/",
        "tp": ["cmnd", "stat", "tele"], "rl": relays, "swc": [-1] * 8, "swn": [None] * 8, "btn": [0] * 8,
        "so": {"4": so4, "11": 0, "13": 0, "17": 0, "20": 0, "30": 0, "68": 0, "73": 0, "82": 0, "114": 0, "117": 0},
        "lk": lk, "lt_st": lt_st, "bat": 0, "dslp": 0, "sho": [], "sht": [], "ver": 1,
    }  # fmt: skip


def adapter(topic: str = "lamp", **config) -> TasmotaAdapter:
    return TasmotaAdapter(TasmotaDevice(bridge="tasmota", device=topic, **config), "light")


def announced(a: TasmotaAdapter, config: dict) -> TasmotaAdapter:
    caps = a.decode_announcement("tasmota/discovery/A4CF12ABC123/config", json.dumps(config).encode())
    assert caps is not None
    a.learn(caps)
    return a


def lights(reports) -> list[Light]:
    return [r.light for r in reports if isinstance(r, LightReport)]


def say(a: TasmotaAdapter, topic: str, payload) -> list[Light]:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return lights(a.decode(topic, raw.encode()))


# ---- a report confirms only what it carries ------------------------------------------------------


def test_power_alone_after_a_dimmer_command_confirms_no_dim_level():
    lamp = adapter()
    lamp.light(Light(45.0), 0)
    # tele/STATE with only the power (a relay-only firmware, or a rule's report): no dimmer said
    assert say(lamp, "tele/lamp/STATE", {"POWER": "ON"}) == []
    # LightPreparePower -> ResponseLightState(0): the answer to "Dimmer 45" carries the dimmer
    assert say(lamp, "stat/lamp/RESULT", {"POWER": "ON", "Dimmer": 45}) == [Light(45.0)]


def test_a_new_command_forgets_what_the_old_report_said_about_what_it_changes():
    lamp = adapter()
    assert say(lamp, "stat/lamp/RESULT", {"POWER": "ON", "Dimmer": 80}) == [Light(80.0)]
    lamp.light(Light(30.0), 0)
    assert say(lamp, "stat/lamp/POWER", "ON") == []  # the 80 was before "Dimmer 30": it says nothing now
    assert say(lamp, "stat/lamp/RESULT", {"POWER": "ON", "Dimmer": 30}) == [Light(30.0)]


def test_setoption4_answers_on_the_command_topics():
    lamp = adapter()
    lamp.light(Light(30.0, 2700.0), 0)
    # SetOption4 1: MqttPublishPayloadPrefixTopic_P publishes on stat/<t>/<COMMAND> instead of RESULT
    assert say(lamp, "stat/lamp/DIMMER", {"POWER": "ON", "Dimmer": 30, "CT": 370}) == [Light(30.0, 2703.0)]
    # MqttPublishPowerState with SetOption4 1: the JSON on stat/<t>/POWER, then the plain word there too
    assert say(lamp, "stat/lamp/POWER", {"POWER": "OFF"}) == [Light(0.0, 2703.0)]
    assert say(lamp, "stat/lamp/POWER", "ON") == [Light(30.0, 2703.0)]


# ---- capabilities from discovery ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rl, lt_st, lk, expected",
    [
        ([1], 0, 0, dict(kind="switch", brightness=False, color=False, output=1)),
        ([1, 1], 0, 0, dict(kind="switch", brightness=False, color=False, output=None)),
        ([2], 1, 1, dict(kind="light", brightness=True, color_temp=None, color=False, output=1, split_white=False)),
        ([2], 2, 1, dict(kind="light", brightness=True, color_temp=(153, 500), color=False, output=1)),
        ([2], 3, 1, dict(kind="light", brightness=True, color_temp=None, color=True, output=1)),
        ([1, 2], 2, 1, dict(kind="light", color_temp=(153, 500), output=2)),
        ([2, 2], 5, 0, dict(kind="light", color_temp=(153, 500), color=True, output=1, split_white=True)),
        ([2], 5, 1, dict(kind="light", color_temp=(153, 500), color=True, output=1, split_white=False)),
    ],
)
def test_capabilities_from_the_discovery_config(rl, lt_st, lk, expected):
    caps = tasmota_capabilities(discovery("lamp", rl, lt_st, lk, md="Sonoff B1"))
    assert caps.source == "tasmota discovery" and caps.model == "Sonoff B1"
    for key, value in expected.items():
        assert getattr(caps, key) == value, key


def test_an_announcement_is_the_devices_own_only():
    lamp = adapter("lamp")
    assert DISCOVERY_TOPIC in lamp.announcement_topics
    other = json.dumps(discovery("other", [1], 0)).encode()
    assert lamp.decode_announcement("tasmota/discovery/A4CF12ABC124/config", other) is None
    assert lamp.decode_announcement("tasmota/discovery/A4CF12ABC124/sensors", other) is None
    assert lamp.decode_announcement("tasmota/discovery/A4CF12ABC123/config", b"not json") is None
    mine = json.dumps(discovery("lamp", [2], 2)).encode()
    assert lamp.decode_announcement("tasmota/discovery/A4CF12ABC123/config", mine) == tasmota_capabilities(
        discovery("lamp", [2], 2)
    )


# ---- relays ------------------------------------------------------------------------------------


def test_a_plug_announced_relay_only_is_switched_with_power_and_reports_on_off():
    plug = announced(adapter("warmer"), discovery("warmer", [1], 0, md="Sonoff Basic"))
    # Xdrv04 decodes light commands only if TasmotaGlobal.light_type: Dimmer/Speed2/CT are unknown to a plug
    assert plug.light(Light(45.0, 2700.0), 5) == [Message("cmnd/warmer/Power", "ON")]
    assert say(plug, "stat/warmer/RESULT", {"POWER": "ON"}) == [Light(100.0)]
    assert plug.light(Light(0.0), 5) == [Message("cmnd/warmer/Power", "OFF")]
    assert say(plug, "stat/warmer/POWER", "OFF") == [Light(0.0)]


def test_a_configured_relay_wins_over_the_announcement():
    plug = announced(adapter("strip", relay=2), discovery("strip", [1, 1, 1, 1], 0))
    assert plug.capabilities.output == 2 and plug.capabilities.source == "tasmota discovery"
    assert plug.light(Light(60.0), 0) == [Message("cmnd/strip/Power2", "ON")]
    assert say(plug, "stat/strip/POWER1", "ON") == []  # another relay
    assert say(plug, "stat/strip/RESULT", {"POWER2": "ON"}) == [Light(100.0)]


def test_a_relay_only_device_confirms_on_off_only():
    plug = announced(adapter("warmer"), discovery("warmer", [1], 0))
    tracked = Tracked("room1", "warmer", "warmer", plug)
    sent = tracked.want(LightTarget(Light(45.0), Light(45.0), 0), 0.0)
    assert sent == [Message("cmnd/warmer/Power", "ON")]
    for report in plug.decode("stat/warmer/RESULT", b'{"POWER":"ON"}'):
        tracked.report(report, 0.5)
    assert tracked.status == "confirmed"


def test_a_light_on_relay_two_is_switched_off_on_relay_two():
    module = announced(adapter("lamp"), discovery("lamp", [1, 2], 2))
    assert module.light(Light(0.0), 0) == [Message("cmnd/lamp/Backlog", "Speed2 0; Power2 OFF")]
    assert say(module, "stat/lamp/RESULT", {"POWER1": "OFF", "POWER2": "OFF"}) == [Light(0.0)]
    module.light(Light(40.0), 0)
    assert say(module, "stat/lamp/RESULT", {"POWER1": "ON", "POWER2": "ON", "Dimmer": 40}) == [Light(40.0)]


def test_split_white_and_colour_use_their_own_dimmer():
    strip = announced(adapter("strip"), discovery("strip", [2, 2], 5, lk=0))
    assert strip.light(Light(30.0, 2700.0), 0) == [
        Message("cmnd/strip/Backlog", "Speed2 0; Dimmer2 30; Speed2 0; CT 370")
    ]
    # ResponseLightState, unlinked: POWER<d>, Dimmer1 (colour), POWER<d+1>, Dimmer2 (white)
    state = {
        "POWER1": "OFF",
        "Dimmer1": 0,
        "POWER2": "ON",
        "Dimmer2": 30,
        "Color": "000000FF00",
        "White": 30,
        "CT": 370,
    }
    assert say(strip, "stat/strip/RESULT", state) == [Light(30.0, 2703.0)]
    strip.light(Light(50.0, color="#ff0000"), 0)
    state = {"POWER1": "ON", "Dimmer1": 50, "POWER2": "OFF", "Dimmer2": 0, "Color": "FF00000000", "CT": 370}
    assert say(strip, "stat/strip/RESULT", state) == [Light(50.0, None, "#ff0000")]


def test_learned_capabilities_keep_the_configured_ones():
    lamp = adapter("lamp", relay=1)
    lamp.learn(Capabilities(source="tasmota discovery", kind="light", brightness=True, output=1))
    assert lamp.capabilities.brightness is False and lamp.relay_only
