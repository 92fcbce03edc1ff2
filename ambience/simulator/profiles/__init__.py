"""The simulator's device profiles: real devices, each with where its data and behaviour come from.

A simulated device without a profile behaves as its bridge's convention in general (the
simulator's first form, kept for the tests written for it). With ``profile: <name>`` in the
simulator's device spec it behaves as that one device does behind its real bridge: the
Zigbee2MQTT profiles take their ``exposes`` from ``zigbee2mqtt.json`` (dumped from
zigbee-herdsman-converters, see README.md beside it) and their behaviour from the converters
named in each profile's ``source``; the others from the firmware's source (Tasmota, ESPHome) or
the vendor's API documentation (Shelly). docs/simulator.md has the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

ProfileKind = Literal["light", "climate", "switch", "sensor"]
HERE: Final = Path(__file__).parent


@dataclass(frozen=True)
class Profile:
    name: str
    bridge: str
    kind: ProfileKind
    """``switch``: a plug or relay (in a room's ``switches``, or its ``lights`` as before); ``sensor``: a room sensor."""
    device: str
    """The real device, as its maker sells it."""
    family: str
    """Which simulation of the bridge it is (devices of one family share their converters or firmware)."""
    source: str
    """Where the data and the behaviour come from."""
    quirks: tuple[str, ...] = ()
    model: str | None = None
    """The Zigbee2MQTT definition's ``model`` (a key of zigbee2mqtt.json)."""
    battery: bool = False

    def definition(self) -> dict[str, Any]:
        """The Zigbee2MQTT definition (``model``, ``vendor``, ``description``, ``exposes``, ``options``)."""
        if self.model is None:
            raise ValueError(f"profile {self.name} is not a Zigbee2MQTT device")
        return dict(zigbee2mqtt_definitions()[self.model])


@cache
def zigbee2mqtt_definitions() -> Mapping[str, Mapping[str, Any]]:
    data = json.loads((HERE / "zigbee2mqtt.json").read_text(encoding="utf-8"))
    return data["definitions"]


ZHC = "zigbee-herdsman-converters 26.112.0"
_SHELLY = "shelly-api-docs gen2 v1.0: General/RPCProtocol, CommonErrors, Notifications;"
_ESPHOME = "esphome/esphome components (snapshot 33fdbbe):"
_Z2M_LIGHT = "zhc converters/toZigbee light_onoff_brightness + light_colortemp (lib/light clampColorTemp)"
_TUYA_LEGACY = (
    "zhc devices/tuya TS0601_thermostat; lib/legacy tuya_thermostat_force_to_mode, tuya_thermostat_preset, "
    "tuya_thermostat_current_heating_setpoint (set only, no convertGet), fromZigbee tuya_thermostat"
)

PROFILES: Final[dict[str, Profile]] = {
    p.name: p
    for p in (
        Profile(
            "ikea-led1545g12",
            "zigbee2mqtt",
            "light",
            "IKEA TRÅDFRI LED1545G12 (E27 white spectrum, 250–454 mired)",
            "z2m-ikea-light",
            f"zigbee2mqtt.json LED1545G12 ({ZHC}); {_Z2M_LIGHT}; lib/utils getTransition (IKEA)",
            (
                "brightness transition dropped when color_temp or color is in the same message",
                "colour temperature clamped to 250–454 mired",
            ),
            model="LED1545G12",
        ),
        Profile(
            "hue-white-ambiance",
            "zigbee2mqtt",
            "light",
            "Philips Hue White Ambiance E27 (8718696548738, 150–500 mired)",
            "z2m-light",
            f"zigbee2mqtt.json 8718696548738 ({ZHC}); {_Z2M_LIGHT}",
            ("colour temperature clamped to 150–500 mired",),
            model="8718696548738",
        ),
        Profile(
            "tuya-ts0601",
            "zigbee2mqtt",
            "climate",
            "Tuya TS0601 radiator valve (Moes HY368/HY369RT, Silvercrest TVR01 …)",
            "z2m-tuya-trv",
            f"zigbee2mqtt.json TS0601_thermostat ({ZHC}); {_TUYA_LEGACY}",
            (
                "system_mode heat forces the valve fully open (no regulation), off closes it, auto regulates",
                "no /get (no convertGet): nothing is published",
                "no optimistic state: the valve's datapoint report is the answer",
                "preset schedule follows the valve's own programme at its next step",
            ),
            model="TS0601_thermostat",
            battery=True,
        ),
        Profile(
            "danfoss-ally",
            "zigbee2mqtt",
            "climate",
            "Danfoss Ally radiator thermostat (014G2461)",
            "z2m-danfoss",
            f"zigbee2mqtt.json 014G2461 ({ZHC}); devices/danfoss danfossThermostat danfossSetpointConverter "
            "(returns no state); converters/toZigbee thermostat_system_mode",
            (
                "system_mode heat only; any other mode is refused by the valve",
                "no optimistic state after a setpoint write: the next periodic report tells (report_interval)",
                "/get is not answered (a sleeping battery valve)",
                "programming_operation_mode schedule follows the valve's programme at its next step",
            ),
            model="014G2461",
            battery=True,
        ),
        Profile(
            "bosch-bth-ra",
            "zigbee2mqtt",
            "climate",
            "Bosch Radiator thermostat II (BTH-RA)",
            "z2m-bosch",
            f"zigbee2mqtt.json BTH-RA ({ZHC}); lib/bosch raThermostat (systemMode values heat), operatingMode",
            (
                "system_mode heat only; any other mode is refused by the valve",
                "operating_mode schedule follows the valve's programme at its next step; pause closes it",
            ),
            model="BTH-RA",
            battery=True,
        ),
        Profile(
            "aqara-e1",
            "zigbee2mqtt",
            "climate",
            "Aqara Smart Radiator Thermostat E1 (SRTS-A01)",
            "z2m-aqara",
            f"zigbee2mqtt.json SRTS-A01 ({ZHC}); lib/lumi toZigbee lumi_trv (getFromLookup, returns no state)",
            (
                "system_mode off/heat only (getFromLookup throws for others)",
                "system_mode and preset publish no optimistic state; the valve's report follows",
            ),
            model="SRTS-A01",
            battery=True,
        ),
        Profile(
            "ikea-outlet",
            "zigbee2mqtt",
            "switch",
            "IKEA TRÅDFRI control outlet (E1603/E1702/E1708)",
            "z2m-switch",
            f"zigbee2mqtt.json E160x/E170x/E190x ({ZHC}); converters/toZigbee on_off (on_time: onWithTimedOff)",
            (
                "state only: brightness, color_temp and transition have no converter",
                "on_time is refused (UNSUPPORTED_COMMAND) unless the option on_with_timed_off says the firmware has it",
                "on with on_time publishes nothing at once: the plug's onOff report follows",
            ),
            model="E160x/E170x/E190x",
        ),
        Profile(
            "tuya-ts011f-plug",
            "zigbee2mqtt",
            "switch",
            "Tuya TS011F smart plug with power metering",
            "z2m-switch",
            f"zigbee2mqtt.json TS011F_plug_1 ({ZHC}); lib/tuya tz.on_off_countdown, fz.on_off_countdown",
            (
                "state only: brightness, color_temp and transition have no converter",
                "countdown (0–43200 s) switches it off by itself; each state command cancels it, the countdown restarts",
                "reports power (W) while on; countdown every 60 s while it runs, state OFF when it runs out",
            ),
            model="TS011F_plug_1",
        ),
        Profile(
            "aqara-wsdcgq11lm",
            "zigbee2mqtt",
            "sensor",
            "Aqara temperature and humidity sensor (WSDCGQ11LM), battery",
            "z2m-sensor",
            f"zigbee2mqtt.json WSDCGQ11LM ({ZHC}); devices/lumi (toZigbee [], lumi_temperature, quirkCheckinInterval)",
            ("nothing to set and no /get: it reports when its reading changes and at its hourly check-in",),
            model="WSDCGQ11LM",
            battery=True,
        ),
        Profile(
            "sonoff-snzb-02",
            "zigbee2mqtt",
            "sensor",
            "SONOFF temperature and humidity sensor (SNZB-02), battery",
            "z2m-sensor",
            f"zigbee2mqtt.json SNZB-02 ({ZHC}); devices/sonoff (SNZB02_temperature, fz.humidity)",
            ("nothing to set and no /get: it reports when its reading changes",),
            model="SNZB-02",
            battery=True,
        ),
        Profile(
            "tasmota-ct-bulb",
            "tasmota",
            "light",
            "Tasmota CT (cold/warm white) bulb, light subtype 2",
            "tasmota-light",
            "Tasmota xdrv_04_light.ino CmndSpeed, LightApplyFade, calcGammaBulbs; xdrv_04_light_utils.ino "
            "gamma_table_fast; xdrv_12_discovery.ino TasDiscoverMessage",
            (
                "Speed2 N arms a one-shot fade by itself (Speed2 0: none)",
                "fade time from the gamma-reversed channel distance",
                "tasmota/discovery/<mac>/config announces lt_st 2",
            ),
        ),
        Profile(
            "tasmota-plug",
            "tasmota",
            "switch",
            "Tasmota relay plug (Sonoff S26, Gosund SP1 …), no light",
            "tasmota-relay",
            "Tasmota xdrv_04_light.ino Xdrv04 (light commands only with a light); support_command.ino "
            "(Unknown); xdrv_12_discovery.ino TasDiscoverMessage",
            (
                'only Power: Dimmer, CT, Speed2 … answer {"Command":"Unknown"}',
                "tasmota/discovery/<mac>/config announces rl [1], lt_st 0",
            ),
        ),
        Profile(
            "tasmota-energy-plug",
            "tasmota",
            "switch",
            "Tasmota plug with a power meter (Gosund SP111, BlitzWolf SHP6: BL0937), no light",
            "tasmota-energy-plug",
            "Tasmota support_command.ino CmndPulsetime; support_tasmota.ino SetPulseTimer, ExecuteCommandPower, "
            "Every100mSeconds; xdrv_03_energy.ino (ENERGY in tele SENSOR)",
            (
                "PulseTime sets the setting and restarts the running timer; every Power ON restarts it",
                'when PulseTime runs out: stat RESULT {"POWER":"OFF"} and stat POWER OFF',
                "ENERGY.Power (initial load, 60 W by default) in tele/<t>/SENSOR each TelePeriod (option teleperiod)",
            ),
        ),
        Profile(
            "tasmota-th-sensor",
            "tasmota",
            "sensor",
            "Sonoff TH with an AM2301 (DHT21) temperature and humidity probe",
            "tasmota-th-sensor",
            "Tasmota xsns_06_dht.ino (AM2301 Temperature/Humidity/DewPoint), support_command.ino CmndTeleperiod, "
            "CmndStatus (Status 10)",
            (
                'tele/<t>/SENSOR {"AM2301":{"Temperature":…,"Humidity":…},"TempUnit":"C"} each TelePeriod',
                "option unit F: SetOption8 1, TempUnit F",
            ),
        ),
        Profile(
            "shelly-plus-dimmer",
            "shelly",
            "light",
            "Shelly Plus Wall Dimmer (SNDM-0013US), Gen2, one Light component",
            "shelly-light",
            f"{_SHELLY} ComponentsAndServices/Light (Light.Set), Shelly (GetDeviceInfo, GetConfig)",
            (
                "replies from its device id on <src>/rpc; Switch.* and unknown methods: error 404 No handler for",
                "NotifyStatus on <prefix>/events/rpc carries only what changed (light:0)",
                "<prefix>/online true, false as its Last Will; no status on connecting (ask GetStatus)",
            ),
        ),
        Profile(
            "shelly-plus-plug",
            "shelly",
            "switch",
            "Shelly Plus Plug S (SNPL-00112EU), Gen2, one Switch component with power metering",
            "shelly-switch",
            f"{_SHELLY} ComponentsAndServices/Switch (Switch.Set), Shelly (GetDeviceInfo, GetConfig)",
            (
                "Light.Set and other Light.* methods: error 404 No handler for",
                "NotifyStatus switch:0: output first, the metered apower in the next notification",
                "<prefix>/online true, false as its Last Will",
            ),
        ),
        Profile(
            "shelly-ht-gen3",
            "shelly",
            "sensor",
            "Shelly H&T Gen3 (S3SN-0U12A), battery temperature and humidity sensor",
            "shelly-ht",
            f"{_SHELLY} ComponentsAndServices/Temperature, Humidity; Devices/Gen3/ShellyHTG3",
            (
                "asleep: answers no RPC; wakes on a change of report_thr_C (1 °C) / 5 % or every wake seconds",
                "on waking: NotifyFullStatus with temperature:0 {tC, tF}, humidity:0 {rh}, devicepower:0",
            ),
            battery=True,
        ),
        Profile(
            "esphome-light",
            "esphome",
            "light",
            "ESPHome color_temperature light (153–370 mired), MQTT with Home Assistant discovery",
            "esphome-light",
            f"{_ESPHOME} mqtt/mqtt_light.cpp (send_discovery @0d56526), light/light_json_schema.cpp parse_json, "
            "dump_json (@0099fcc), light/light_call.cpp validate_",
            (
                "brightness only as an integer 0–255, color_temp only as an integer, clamped to 153–370 mired",
                "a non-integer transition is ignored: default_transition_length (1 s) applies",
                "the state is the target, retained; discovery config retained with min_mirs/max_mirs",
            ),
        ),
        Profile(
            "esphome-climate",
            "esphome",
            "climate",
            "ESPHome thermostat, heat only (heat_action + idle_action), 10–30 °C in 0.5 °C steps",
            "esphome-thermostat",
            f"{_ESPHOME} mqtt/mqtt_climate.cpp (setup, send_discovery, publish_state_), climate/climate.cpp "
            "ClimateCall::validate_, thermostat/thermostat_climate.cpp traits, control",
            (
                "modes off and heat only: auto is dropped with a warning and the unchanged state republished",
                "a setpoint that is not a number is dropped, nothing published; setpoints clamped to 10–30 °C",
            ),
        ),
        Profile(
            "esphome-heat-cool",
            "esphome",
            "climate",
            "ESPHome thermostat with heat and cool actions: two setpoints (heat_cool)",
            "esphome-heat-cool",
            f"{_ESPHOME} mqtt/mqtt_climate.cpp (two-point topics), thermostat/climate.py (two_points_available), "
            "thermostat_climate.cpp validate_target_temperature_low/high",
            (
                "subscribes only target_temperature_low/high/command; target_temperature/command goes nowhere",
                "setpoints kept set_point_minimum_differential (0.5 °C) apart; modes off, cool, heat, heat_cool",
            ),
        ),
    )
}


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown simulator profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def walk(exposes: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every feature with a ``property`` of a Zigbee2MQTT ``exposes`` list, the containers' features included."""
    for expose in exposes:
        features = expose.get("features")
        if isinstance(features, list) and expose.get("type") in ("light", "switch", "climate", "lock", "fan", "cover"):
            yield from walk(features)
        elif "property" in expose:
            yield expose
