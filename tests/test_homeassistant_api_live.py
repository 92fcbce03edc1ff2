"""A light and a thermostat that exist only inside a real Home Assistant Core follow a session.

Slow (``./run test-ha``): Home Assistant runs from its own virtualenv
(:mod:`ambience.testing.homeassistant`, made once, a few minutes), with a template light, a
``generic_thermostat`` and a template switch. ambience drives them over HA's websocket API with the
long-lived token made at onboarding; a person's change made in Home Assistant shows as *manual*.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ambience.cli import main
from ambience.testing import homeassistant as ha
from ambience.testing.clinic import write_clinic
from ambience.testing.live import LiveDaemon
from ambience.testing.mosquitto import Mosquitto
from ambience.testing.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_env")]

ROOM = {
    "name": "HA room",
    "thermostat": {"bridge": "homeassistant_api", "entity_id": "climate.room_thermostat"},
    "lights": [{"bridge": "homeassistant_api", "entity_id": "light.treatment_lamp", "role": "lamp"}],
    "switches": [{"bridge": "homeassistant_api", "entity_id": "switch.table_warmer", "role": "table_warmer"}],
    "speaker": None,
}
PRESET = {
    "name": "Warm and dim",
    "duration": "10m",
    "climate": {"target": 23.5, "mode": "heat"},
    "lights": {"brightness": 40, "color_temp": 2700, "transition": "0s"},
    "switches": {"table_warmer": "on"},
    "after": "restore",
}


@pytest.fixture(scope="module")
def hass() -> Iterator[ha.HomeAssistant]:
    try:
        venv = ha.ensure_venv()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"no Home Assistant virtualenv: {exc}")
    server = ha.HomeAssistant(venv)
    try:
        server.start()
        yield server
    finally:
        server.close()


def device(live: LiveDaemon, device_id: str) -> dict[str, Any]:
    return next(d for d in live.room("haroom")["devices"] if d["id"] == device_id)


def test_a_session_drives_home_assistant_entities_and_a_change_in_home_assistant_is_manual(
    hass: ha.HomeAssistant, broker: Mosquitto, tmp_path: Any
) -> None:
    (tmp_path / "ha-token").write_text(hass.token + "\n")
    clinic = write_clinic(
        tmp_path, {"haroom": ROOM}, mqtt=broker.url, builtin=False, presets={"warm": PRESET},
        homeassistant_api={"url": hass.url, "token_file": "ha-token"},
    )  # fmt: skip
    with LiveDaemon(clinic.config) as live:
        live.wait_reported(timeout=10)
        # found as Home Assistant has them: the lamp off, the thermostat off at 18 °C
        assert device(live, "light.treatment_lamp")["reported"] == {"on": False, "brightness": 0}
        assert device(live, "climate.room_thermostat")["reported"]["target"] == 18

        live.api("POST", "/api/rooms/haroom/start", {"preset": "warm"})
        lamp = eventually(lambda: (s := hass.state("light.treatment_lamp"))["state"] == "on" and s, 10)
        assert lamp["attributes"]["brightness"] == 102  # 40 % of 255
        assert abs(lamp["attributes"]["color_temp_kelvin"] - 2700) <= 10  # the template light keeps mired: 2702
        climate = eventually(lambda: (s := hass.state("climate.room_thermostat"))["state"] == "heat" and s, 10)
        assert climate["attributes"]["temperature"] == 23.5
        eventually(lambda: hass.state("switch.table_warmer")["state"] == "on", 10)
        for entity in ("light.treatment_lamp", "climate.room_thermostat", "switch.table_warmer"):
            eventually(lambda e=entity: device(live, e)["status"] == "confirmed", 10)

        # a person dims the lamp in Home Assistant: held, shown as manual
        hass.call("light", "turn_on", "light.treatment_lamp", brightness=200)
        eventually(lambda: device(live, "light.treatment_lamp")["status"] == "manual", 10)
        assert hass.state("light.treatment_lamp")["attributes"]["brightness"] == 200  # not undone

        # and sets the thermostat: manual too
        hass.call("climate", "set_temperature", "climate.room_thermostat", temperature=21)
        eventually(lambda: device(live, "climate.room_thermostat")["status"] == "manual", 10)

        # the session ends: everything back as it was found (after: restore)
        live.api("POST", "/api/rooms/haroom/stop")
        eventually(lambda: hass.state("light.treatment_lamp")["state"] == "off", 10)
        eventually(lambda: hass.state("climate.room_thermostat")["attributes"]["temperature"] == 18, 10)
        eventually(lambda: hass.state("climate.room_thermostat")["state"] == "off", 10)
        eventually(lambda: hass.state("switch.table_warmer")["state"] == "off", 10)


def test_home_assistant_going_away_makes_its_devices_offline_and_they_come_back(
    hass: ha.HomeAssistant, broker: Mosquitto, tmp_path: Any
) -> None:
    clinic = write_clinic(
        tmp_path, {"haroom": ROOM}, mqtt=broker.url, builtin=False, presets={"warm": PRESET},
        homeassistant_api={"url": hass.url, "token": hass.token},
    )  # fmt: skip
    with LiveDaemon(clinic.config) as live:
        live.wait_reported(timeout=10)
        live.api("POST", "/api/rooms/haroom/start", {"preset": "warm"})
        eventually(lambda: device(live, "light.treatment_lamp")["status"] == "confirmed", 10)
        hass.stop()
        try:
            eventually(lambda: device(live, "light.treatment_lamp")["status"] == "offline", 10)
            assert device(live, "climate.room_thermostat")["status"] == "offline"
        finally:
            hass.start()
        # back: the lamp (an optimistic template light, off after a restart) is sent the session's state again
        eventually(lambda: hass.state("light.treatment_lamp")["state"] == "on", 20)
        eventually(lambda: device(live, "light.treatment_lamp")["status"] == "confirmed", 10)
        live.api("POST", "/api/rooms/haroom/stop")
        eventually(lambda: hass.state("light.treatment_lamp")["state"] == "off", 10)


def test_devices_ha_lists_the_entities_a_room_can_use(hass: ha.HomeAssistant, tmp_path: Any, capsys: Any) -> None:
    clinic = write_clinic(
        tmp_path, {"haroom": ROOM}, builtin=False, homeassistant_api={"url": hass.url, "token": hass.token}
    )
    assert main(["--config", str(clinic.file), "devices", "--ha", "--json"]) == 0
    entities = {e["entity_id"]: e for e in json.loads(capsys.readouterr().out)}
    assert entities["light.treatment_lamp"] == {
        "entity_id": "light.treatment_lamp", "domain": "light", "name": "Treatment lamp", "state": "off", "room": "haroom",
    }  # fmt: skip
    assert entities["climate.cooler"]["room"] is None and entities["switch.table_warmer"]["name"] == "Table warmer"
    assert "sensor.room_temperature" in entities and "input_number.room_temperature" not in entities  # no use in a room

    wrong = write_clinic(tmp_path / "wrong", {}, builtin=False, homeassistant_api={"url": hass.url, "token": "nope"})
    assert main(["--config", str(wrong.file), "devices", "--ha"]) == 1
    assert "refused the token (auth_invalid: Invalid access token or password)" in capsys.readouterr().err


def test_a_refused_token_and_an_entity_home_assistant_lacks_are_said_once_clearly(
    hass: ha.HomeAssistant, broker: Mosquitto, tmp_path: Any, caplog: Any
) -> None:
    room = {**ROOM, "lights": [{"bridge": "homeassistant_api", "entity_id": "light.treatment_lamb", "role": "lamp"}]}
    clinic = write_clinic(
        tmp_path, {"haroom": room}, mqtt=broker.url, builtin=False, presets={"warm": PRESET},
        homeassistant_api={"url": hass.url, "token": hass.token},
    )  # fmt: skip
    with LiveDaemon(clinic.config) as live:
        eventually(lambda: device(live, "light.treatment_lamb")["status"] == "offline" or None, 10)
        eventually(lambda: "has no entity light.treatment_lamb; did you mean light.treatment_lamp?" in caplog.text, 10)
    refused = write_clinic(
        tmp_path / "refused", {"haroom": ROOM}, mqtt=broker.url, builtin=False, presets={"warm": PRESET},
        homeassistant_api={"url": hass.url, "token": "not-a-token"},
    )  # fmt: skip
    with LiveDaemon(refused.config):
        eventually(lambda: "refused the token (auth_invalid" in caplog.text, 10)
    assert caplog.text.count("refused the token") == 1


def test_rooms_check_reads_home_assistant_entities(
    hass: ha.HomeAssistant, broker: Mosquitto, tmp_path: Any, capsys: Any
) -> None:
    clinic = write_clinic(
        tmp_path, {"haroom": ROOM}, mqtt=broker.url, builtin=False,
        homeassistant_api={"url": hass.url, "token": hass.token},
    )  # fmt: skip
    code = main(["rooms", "check", "haroom", "--config", str(clinic.file), "--timeout", "3s"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "climate.room_thermostat: device (home assistant): climate, temperature 7–30 °C, modes heat/off" in out
    assert "setpoint 7–30 °C in steps of 0.5" in out
    assert "light.treatment_lamp: device (home assistant): light, brightness, color_temp 153–500 mired" in out
    assert "relies on ambience: no device-side auto-off timer" in out  # the table warmer
