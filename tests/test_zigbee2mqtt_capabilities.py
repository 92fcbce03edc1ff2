"""What Zigbee2MQTT's ``bridge/devices`` says a device can do, read from real definitions.

The definitions are ``ambience/simulator/profiles/zigbee2mqtt.json``: dumped from
zigbee-herdsman-converters 26.112.0 by ``make_zigbee2mqtt.mjs`` (not written by hand). The
``bridge/devices`` entry around each is in the form of zigbee2mqtt ``lib/extension/bridge.ts``
``publishDevices`` (``ieee_address``, ``friendly_name``, ``type``, ``power_source``, ``supported``,
``disabled``, ``definition``). The expected values below are the ones the converters' source
gives (``withSetpoint("current_heating_setpoint", 5, 35, 0.5, ea.STATE_SET)`` for the TS0601 …).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ambience.config.devices import Zigbee2MqttDevice
from ambience.devices.zigbee2mqtt import configured_capabilities, z2m_bridge_devices, z2m_capabilities

pytestmark = pytest.mark.unit

PROFILES = Path(__file__).parent.parent / "ambience" / "simulator" / "profiles" / "zigbee2mqtt.json"
DEFINITIONS: dict[str, dict] = json.loads(PROFILES.read_text())["definitions"]

EXPECTED = {
    "LED1545G12": dict(kind="light", vendor="IKEA", brightness=True, color=False, color_temp=(250, 454)),
    "8718696548738": dict(kind="light", vendor="Philips", brightness=True, color=False, color_temp=(150, 500)),
    "TS0601_thermostat": dict(
        kind="climate",
        setpoint="current_heating_setpoint",
        setpoint_range=(5.0, 35.0),
        setpoint_step=0.5,
        modes=("heat", "auto", "off"),
        presets=("schedule", "manual", "boost", "complex", "comfort", "eco", "away"),
        settings={"force": ("normal", "open", "close")},
        readable=frozenset(),  # every key is ea.STATE_SET (3): the Tuya datapoints have no convertGet
        family="tuya_ts0601",
        battery=True,  # battery_low
    ),
    "014G2461": dict(
        kind="climate",
        vendor="Danfoss",
        setpoint="occupied_heating_setpoint",
        setpoint_range=(5.0, 35.0),
        setpoint_step=0.5,
        modes=("heat",),
        presets=None,
        settings={"programming_operation_mode": ("setpoint", "schedule", "schedule_with_preheat", "eco")},
        family=None,
        battery=True,
    ),
    "BTH-RA": dict(
        kind="climate",
        setpoint="occupied_heating_setpoint",
        setpoint_range=(5.0, 30.0),
        modes=("heat",),
        settings={"operating_mode": ("schedule", "manual", "pause")},
    ),
    "SRTS-A01": dict(
        kind="climate", setpoint_range=(5.0, 30.0), modes=("off", "heat"), presets=("manual", "away", "auto")
    ),
    "TRVZB": dict(kind="climate", setpoint_range=(4.0, 35.0), modes=("off", "auto", "heat"), settings={}),
    "SPZB0001": dict(
        kind="climate",
        setpoint="occupied_heating_setpoint",  # it exposes both keys: the standard one is taken
        modes=("off", "auto", "heat"),
        settings={"trv_mode": ("1", "2")},
        family="eurotronic_spirit",
    ),
    "E160x/E170x/E190x": dict(kind="switch", vendor="IKEA", brightness=False, color=False, color_temp=None),
    # devices/lumi WSDCGQ11LM and devices/sonoff SNZB-02: temperature, humidity, battery; toZigbee []
    "WSDCGQ11LM": dict(kind="sensor", vendor="Aqara", battery=True, temperature_unit="°C", readable=frozenset()),
    "SNZB-02": dict(kind="sensor", vendor="SONOFF", battery=True, temperature_unit="°C", readable=frozenset()),
    "TS011F_plug_1": dict(
        kind="switch",
        brightness=False,  # on_off is a plug's only converter
        timer="countdown",  # lib/tuya.ts tuyaExposes.countdown, 0–43200 s
        auto_off=(1.0, 43200.0),
        power=True,
        modes=None,
        readable=frozenset({"state", "indicator_mode", "power_outage_memory", "switch_type_button"}),
    ),
}


def bridge_entry(model: str, friendly_name: str, power_source: str | None = "Battery", **kw) -> dict:
    """One element of ``bridge/devices`` as Zigbee2MQTT publishes it."""
    return {
        "ieee_address": kw.pop("ieee_address", "0x00158d0001000001"),
        "type": "EndDevice",
        "network_address": 12345,
        "supported": True,
        "friendly_name": friendly_name,
        "disabled": False,
        "definition": DEFINITIONS[model],
        "power_source": power_source,
        "model_id": model,
        "interview_completed": True,
        **kw,
    }


def test_every_profile_has_its_expectation():
    assert set(EXPECTED) == set(DEFINITIONS)


@pytest.mark.parametrize("model", sorted(DEFINITIONS))
def test_capabilities_of_each_real_definition(model):
    caps = z2m_capabilities(DEFINITIONS[model])
    assert caps.source == "zigbee2mqtt bridge/devices" and caps.model == model
    for field, value in EXPECTED[model].items():
        assert getattr(caps, field) == value, field


def test_readable_keys_follow_the_access_get_bit():
    danfoss = z2m_capabilities(DEFINITIONS["014G2461"]).readable
    assert {"occupied_heating_setpoint", "system_mode", "local_temperature", "programming_operation_mode"} <= danfoss
    assert "pi_heating_demand" not in danfoss  # access 1: reported, never read
    lamp = z2m_capabilities(DEFINITIONS["LED1545G12"]).readable
    assert {"state", "brightness", "color_temp"} <= lamp and "effect" not in lamp  # effect: access 2, set only


def test_power_source_says_battery_before_the_exposes_do():
    plug = DEFINITIONS["TS011F_plug_1"]
    assert z2m_capabilities(plug, "Mains (single phase)").battery is False
    assert z2m_capabilities(plug).battery is None  # not announced
    assert z2m_capabilities(DEFINITIONS["LED1545G12"], "Battery").battery is True
    assert z2m_capabilities(DEFINITIONS["014G2461"], "Unknown").battery is True  # its battery expose


def test_a_bridge_devices_message_by_friendly_name_and_ieee_address():
    coordinator = {"ieee_address": "0x00124b0001", "type": "Coordinator", "friendly_name": "Coordinator",
                   "definition": None, "supported": False, "disabled": False}  # fmt: skip
    unsupported = {**bridge_entry("TS0601_thermostat", "odd"), "definition": None, "supported": False}
    message = [
        coordinator,
        bridge_entry("LED1545G12", "room1/ceiling", "Mains (single phase)", ieee_address="0x000b57fffe000001"),
        bridge_entry("TS0601_thermostat", "room1/trv", ieee_address="0xa4c1380000000002"),
        unsupported,
    ]
    found = z2m_bridge_devices(json.dumps(message).encode())
    assert found is not None
    assert set(found) == {"room1/ceiling", "0x000b57fffe000001", "room1/trv", "0xa4c1380000000002"}
    assert found["room1/ceiling"] == found["0x000b57fffe000001"]
    assert found["room1/ceiling"].battery is False and found["room1/ceiling"].color_temp == (250, 454)
    assert found["room1/trv"].family == "tuya_ts0601"


@pytest.mark.parametrize("payload", [b"", b"not json", b'{"devices": []}', b"3", b"[1, null, []]"])
def test_a_bridge_devices_message_that_is_not_a_list_says_nothing(payload):
    found = z2m_bridge_devices(payload)
    assert found is None or found == {}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
KEYS = st.sampled_from(["type", "features", "name", "property", "access", "value_min", "value_max", "values"])


@given(
    st.dictionaries(
        st.sampled_from(["exposes", "model", "vendor"]),
        st.lists(st.dictionaries(KEYS, JSON, max_size=6), max_size=4) | JSON,
    )
)
def test_any_definition_is_read_without_raising(definition):
    z2m_capabilities(definition).shown()


def test_configured_values_win_and_one_configured_end_keeps_the_announced_other():
    announced = z2m_capabilities(DEFINITIONS["LED1545G12"])
    device = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="lamp", mired_max=400)
    assert announced.over(configured_capabilities(device, announced)).color_temp == (250, 400)
    plain = Zigbee2MqttDevice(bridge="zigbee2mqtt", device="lamp")  # defaults are not the installer's choice
    assert announced.over(configured_capabilities(plain, announced)).color_temp == (250, 454)
    trv = Zigbee2MqttDevice(
        bridge="zigbee2mqtt", device="trv", temperature_step=1, setpoint="occupied_heating_setpoint"
    )
    tuya = z2m_capabilities(DEFINITIONS["TS0601_thermostat"])
    mine = tuya.over(configured_capabilities(trv, tuya))
    assert (mine.setpoint, mine.setpoint_step, mine.source) == ("occupied_heating_setpoint", 1, tuya.source)
