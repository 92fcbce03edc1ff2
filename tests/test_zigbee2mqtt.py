"""The Zigbee2MQTT adapter told what its device can do (real definitions, see test_zigbee2mqtt_capabilities).

What each family's words mean comes from zigbee-herdsman-converters: TS0601 ``system_mode: heat`` is
"continuously heating, it does not regulate ... use mode auto" (``tuya.ts``) and writes the valve's
*force open* datapoint (``legacy.ts``); Danfoss Ally and Bosch BTH-RA have only ``heat``
(``danfoss.ts``, ``lib/bosch.ts``); an entity with an IKEA member loses its brightness transition
when ``color``/``color_temp`` is in the same message (``src/lib/utils.ts`` ``getTransition``).
"""

from __future__ import annotations

import json

import pytest
from test_zigbee2mqtt_capabilities import DEFINITIONS

from ambience.config.devices import Zigbee2MqttDevice
from ambience.devices.zigbee2mqtt import Zigbee2MqttAdapter, z2m_capabilities
from ambience.model.state import ClimateState, Light

pytestmark = pytest.mark.unit


def adapter(model: str | None, kind: str = "climate", **config) -> Zigbee2MqttAdapter:
    a = Zigbee2MqttAdapter(Zigbee2MqttDevice(bridge="zigbee2mqtt", device="dev", **config), kind)
    if model is not None:
        a.learn(z2m_capabilities(DEFINITIONS[model], "Battery" if kind == "climate" else "Mains (single phase)"))
    return a


def sent(messages) -> list[dict]:
    assert all(m.topic == "zigbee2mqtt/dev/set" for m in messages)
    return [json.loads(m.payload) for m in messages]


# ---- modes ---------------------------------------------------------------------------------------


def test_no_mode_is_sent_unless_the_command_has_one():
    for model in (None, "TS0601_thermostat", "014G2461", "TRVZB"):
        for payload in sent(adapter(model).climate(ClimateState(21.0))):
            assert "system_mode" not in payload, model


def test_a_ts0601_is_never_sent_heat_it_is_asked_auto_which_regulates():
    trv = adapter("TS0601_thermostat")
    assert sent(trv.climate(ClimateState(21.0, "heat"))) == [{"current_heating_setpoint": 21.0, "system_mode": "auto"}]
    assert trv.expected(ClimateState(21.0, "heat")).mode == "auto"
    assert sent(trv.climate(ClimateState(None, "off"))) == [{"system_mode": "off"}]
    assert "mode: sends auto for heat (TS0601 heat forces the valve open)" in trv.will_send()


def test_the_eurotronic_spirit_is_not_put_in_boost_for_heat():
    assert sent(adapter("SPZB0001").climate(ClimateState(21.0, "heat"))) == [
        {"occupied_heating_setpoint": 21.0, "system_mode": "auto"}
    ]


@pytest.mark.parametrize("model", ["014G2461", "BTH-RA"])
def test_a_heat_only_valve_is_never_sent_off_or_auto_and_says_so_once(model):
    trv = adapter(model)
    for mode in ("off", "auto"):
        assert sent(trv.climate(ClimateState(20.0, mode))) == [{"occupied_heating_setpoint": 20.0}]
        assert trv.expected(ClimateState(20.0, mode)) == ClimateState(20.0, None)
        [line] = trv.refusals(ClimateState(20.0, mode))
        assert line.startswith(f"mode {mode} not sent:") and line.endswith("has only heat")
    assert trv.climate(ClimateState(None, "off")) == []  # nothing it can do: nothing sent
    assert trv.refusals(ClimateState(20.0, "heat")) == [] and trv.refusals(ClimateState(20.0)) == []
    assert sum("not sent" in line for line in trv.will_send()) == 2


def test_a_device_not_announced_is_sent_the_mode_as_asked():
    assert sent(adapter(None).climate(ClimateState(21.0, "heat"))) == [
        {"occupied_heating_setpoint": 21.0, "system_mode": "heat"}
    ]


# ---- a valve on its schedule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "report", "manual"),
    [
        ("TS0601_thermostat", {"current_heating_setpoint": 17, "preset": "schedule"}, {"preset": "manual"}),
        ("BTH-RA", {"occupied_heating_setpoint": 17, "operating_mode": "schedule"}, {"operating_mode": "manual"}),
        (
            "014G2461",
            {"occupied_heating_setpoint": 17, "programming_operation_mode": "schedule_with_preheat"},
            {"programming_operation_mode": "setpoint"},
        ),
    ],
)
def test_a_valve_running_its_schedule_is_put_on_manual_with_the_setpoint(model, report, manual):
    trv = adapter(model)
    key = trv.setpoint_key
    assert sent(trv.climate(ClimateState(22.0))) == [{key: 22.0}]  # nothing said of a schedule yet
    [decoded] = trv.decode("zigbee2mqtt/dev", json.dumps(report).encode())
    assert dict(decoded.settings) == {k: v for k, v in report.items() if k != key}
    assert sent(trv.climate(ClimateState(22.0))) == [{**manual, key: 22.0}]  # manual first, then the setpoint
    assert trv.expected(ClimateState(22.0)).settings == tuple(manual.items())


def test_the_schedule_found_is_put_back_after_the_setpoint():
    trv = adapter("TS0601_thermostat")
    assert sent(trv.climate(ClimateState(19.0, None, (("preset", "schedule"),)))) == [
        {"current_heating_setpoint": 19.0, "preset": "schedule"}
    ]
    assert trv.refusals(ClimateState(19.0, None, (("operating_mode", "schedule"),))) == [
        "operating_mode schedule not sent: Tuya TS0601_thermostat has no such setting"
    ]


# ---- setpoints and reading ------------------------------------------------------------------------


def test_the_setpoint_is_clamped_to_the_devices_range_and_rounded_to_its_step():
    bosch = adapter("BTH-RA")  # 5–30 °C
    assert sent(bosch.climate(ClimateState(33.0))) == [{"occupied_heating_setpoint": 30.0}]
    assert bosch.expected(ClimateState(33.0)).target == 30.0
    coarse = adapter("BTH-RA", temperature_step=1)  # the installer's step wins
    assert sent(coarse.climate(ClimateState(21.4))) == [{"occupied_heating_setpoint": 21.0}]


def test_no_get_to_a_device_whose_keys_cannot_be_read():
    assert adapter("TS0601_thermostat").query() == []
    [danfoss] = adapter("014G2461").query()
    assert json.loads(danfoss.payload) == dict.fromkeys(
        ["occupied_heating_setpoint", "system_mode", "local_temperature", "programming_operation_mode"], ""
    )
    [unknown] = adapter(None).query()  # not announced: as before
    assert json.loads(unknown.payload) == dict.fromkeys(
        ["occupied_heating_setpoint", "system_mode", "local_temperature"], ""
    )


# ---- lights -------------------------------------------------------------------------------------


def test_color_temp_is_clamped_to_the_bulbs_own_range():
    hue, ikea = adapter("8718696548738", "light"), adapter("LED1545G12", "light")
    assert sent(hue.light(Light(50, 1800), 0)) == [
        {"state": "ON", "brightness": 127, "color_temp": 500, "transition": 0}
    ]
    assert sent(hue.light(Light(50, 2000), 0))[0]["color_temp"] == 500
    assert sent(ikea.light(Light(50, 5000), 0))[0]["color_temp"] == 250  # 200 mired asked, the bulb's coolest is 250
    assert sent(adapter(None, "light").light(Light(50, 5000), 0))[0]["color_temp"] == 200
    assert "color_temp clamped to 250–454 mired (the bulb's own range)" in ikea.will_send()


@pytest.mark.parametrize("model", ["E160x/E170x/E190x", "TS011F_plug_1"])
def test_a_plug_is_sent_its_state_alone(model):
    # zhc toZigbee on_off is a plug's only converter: brightness, color_temp would be "No converter available"
    plug = adapter(model, "light")
    assert sent(plug.light(Light(40, 2700), 30)) == [{"state": "ON"}]
    assert sent(plug.light(Light(0), 0)) == [{"state": "OFF"}]


def test_an_unchanged_color_temp_is_left_out_of_a_fade():
    hue = adapter("8718696548738", "light")
    hue.decode("zigbee2mqtt/dev", b'{"state":"ON","brightness":200,"color_temp":370,"color_mode":"color_temp"}')
    assert sent(hue.light(Light(20, 2700), 30)) == [{"state": "ON", "brightness": 51, "transition": 30}]
    assert sent(hue.light(Light(20, 3000), 30)) == [
        {"state": "ON", "brightness": 51, "color_temp": 333, "transition": 30}
    ]
    assert sent(hue.light(Light(20, 2700), 0))[0]["color_temp"] == 370  # no fade: nothing to lose


def test_an_ikea_fade_of_brightness_and_color_temp_is_two_messages():
    ikea = adapter("LED1545G12", "light")
    assert sent(ikea.light(Light(20, 2700), 30)) == [
        {"state": "ON", "brightness": 51, "transition": 30},
        {"color_temp": 370, "transition": 30},
    ]
    assert sent(ikea.light(Light(20, 2700), 0)) == [
        {"state": "ON", "brightness": 51, "color_temp": 370, "transition": 0}
    ]
    ikea.decode("zigbee2mqtt/dev", b'{"state":"ON","brightness":200,"color_temp":370}')
    assert sent(ikea.light(Light(20, 2700), 30)) == [{"state": "ON", "brightness": 51, "transition": 30}]
    assert sent(ikea.light(Light(0), 30)) == [{"state": "OFF", "transition": 30}]
