"""Preset, config and unit parsing: what users write by hand, and the messages they get."""

from __future__ import annotations

import pytest

from ambience.config import parse_config
from ambience.config.library import load_library
from ambience.errors import ConfigError, PresetError
from ambience.model.preset import parse_preset
from ambience.units import format_duration, parse_duration

pytestmark = pytest.mark.unit

MINIMAL = "name: Test\nduration: 30m\n"


@pytest.mark.parametrize(
    "text, seconds",
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("1h", 3600), (90, 90), (1.5, 1.5), ("45", 45), ("2m30s", 150)]
    + [("90m", 5400), ("1h30", 5400), ("1h05", 3900), ("1.5h", 5400), ("45s", 45), ("2h", 7200), ("1H30M", 5400)]
    + [("1 h 30", 5400), ("0.5m", 30)],
)
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


def test_signed_durations_count_back():
    assert parse_duration("-5m", signed=True) == -300
    with pytest.raises(ValueError, match="negative"):
        parse_duration("-5m")


@pytest.mark.parametrize(
    "bad", ["5 minutes", "m", "", "1x", True, None, float("inf"), "an hour", "1h75", "1.5h30", "1h30s15", "h30"]
)
def test_bad_durations_say_how_to_write_one(bad):
    with pytest.raises(ValueError, match=r"write e.g. 45s, 90m, 1h30 \(or 1h30m\), 1.5h or a number of seconds"):
        parse_duration(bad)


@pytest.mark.parametrize("clock", ["00:45", "1:30", "0:45:00"])
def test_a_clock_style_duration_is_refused_as_ambiguous(clock):
    """00:45 is 45 minutes on a booking and 45 seconds on the status countdown (m:ss): neither is guessed."""
    with pytest.raises(ValueError, match=f"'{clock}' is not a duration: a clock-style time is ambiguous here; write"):
        parse_duration(clock)


def test_negative_whole_hours_and_minutes_count_back():
    assert parse_duration("-1h30", signed=True) == -5400


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 90, 300, 3600, 5400, 3725, 0.5])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_three_mistakes_three_messages_each_naming_file_and_field():
    text = "name: Bad\nduration: 5 minutes\nclimate:\n  target: 80\nlights:\n  colour_temp: 2700\n"
    with pytest.raises(PresetError) as caught:
        parse_preset(text, "bad", "presets/bad.yaml")
    issues = caught.value.issues
    assert len(issues) == 3
    by_field = {i.field: i for i in issues}
    assert set(by_field) == {"duration", "climate.target", "lights.colour_temp"}
    assert all(i.source == "presets/bad.yaml" for i in issues)
    assert "'5 minutes'" in by_field["duration"].message
    assert "80" in by_field["climate.target"].message and "5–35 °C" in by_field["climate.target"].message
    assert "did you mean 'color_temp'" in by_field["lights.colour_temp"].message


def test_yaml_off_means_state_off():
    preset = parse_preset(MINIMAL + "lights:\n  roles:\n    ceiling: {state: off}\n", "t", "t.yaml")
    assert preset.lights.roles["ceiling"].state == "off"


def test_booleans_are_not_numbers():
    with pytest.raises(PresetError, match="lights.brightness: True is not a whole number"):
        parse_preset(MINIMAL + "lights: {brightness: yes}\n", "t", "t.yaml")


def test_phase_outside_the_session_is_refused():
    text = MINIMAL + "phases:\n  - {name: a, at: 10m}\n  - {name: b, at: 40m}\n  - {name: c, at: -45m}\n"
    with pytest.raises(PresetError) as caught:
        parse_preset(text, "t", "t.yaml")
    assert [i.field for i in caught.value.issues] == ["phases[1].at", "phases[2].at"]


def test_fades_longer_than_the_session_are_refused():
    with pytest.raises(PresetError, match="music.fade_out: fade_in 20m"):
        parse_preset(MINIMAL + "music: {playlist: calm, fade_in: 20m, fade_out: 15m}\n", "t", "t.yaml")


@pytest.mark.parametrize("playlist", ["../outside", "/etc", "calm/../../x"])
def test_playlists_must_stay_in_music_folders(playlist):
    with pytest.raises(PresetError, match="music.playlist"):
        parse_preset(MINIMAL + f"music: {{playlist: '{playlist}'}}\n", "t", "t.yaml")


def test_after_takes_restore_or_a_state_block():
    assert parse_preset(MINIMAL + "after: restore\n", "t", "t.yaml").after.restore_all
    after = parse_preset(MINIMAL + "after: {climate: {target: 20}}\n", "t", "t.yaml").after
    assert after.climate.target == 20 and after.lights is None
    with pytest.raises(PresetError, match="after: 'reset' is not allowed"):
        parse_preset(MINIMAL + "after: reset\n", "t", "t.yaml")


def test_switches_take_on_off_or_a_state_from_and_phases_and_after_on_off():
    text = MINIMAL + (
        "switches:\n  table_warmer: {state: on, from: -40m}\n  diffuser: on\n  fan: off\n"
        "  reading_lamp: {state: on, from: 10m}\n"
        "phases: [{name: closing, at: -5m, switches: {diffuser: off}}]\n"
        "after: {switches: {fan: on}}\n"
    )
    preset = parse_preset(text, "t", "t.yaml")
    assert {r: (s.state, s.start) for r, s in preset.switches.items()} == {
        "table_warmer": ("on", -2400),
        "diffuser": ("on", 0),
        "fan": ("off", 0),
        "reading_lamp": ("on", 600),  # any role a room may name
    }
    assert preset.phases[0].switches == {"diffuser": "off"}
    assert preset.after.switches == {"fan": "on"} and not preset.after.restore_all
    assert preset.switch_lead == 2400
    assert parse_preset(MINIMAL + "switches: {diffuser: on}\n", "t", "t.yaml").switch_lead == 0


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("switches: {diffuser: maybe}", "switches.diffuser", "'maybe' is not allowed; write on, off or {state: on"),
        ("switches: {diffuser: 1}", "switches.diffuser", "1 is not allowed; write on, off or"),
        ("switches: {diffuser: {state: on, fromm: 1m}}", "switches.diffuser.fromm", "did you mean 'from'?"),
        ("switches: {diffuser: {state: on, start: 1m}}", "switches.diffuser.start", "unknown key 'start'"),
        ("switches: {diffuser: {from: -5m}}", "switches.diffuser.state", "is required but missing"),
        ("switches: {diffuser: {state: on, from: soon}}", "switches.diffuser.from", "'soon' is not a duration"),
        ("switches: {Table Warmer: on}", "switches.Table Warmer", "use lowercase letters, digits, '-' and '_'"),
        ("switches: {diffuser: {state: on, from: 30m}}", "switches.diffuser.from", "30m is not before the session's"),
        (
            "phases: [{name: a, at: 5m, switches: {diffuser: {state: on, from: 1m}}}]",
            "phases[0].switches.diffuser",
            "a 'from' belongs in the preset's top-level switches",
        ),
        (
            "phases: [{name: a, at: 5m, switches: {fan: 3}}]",
            "phases[0].switches.fan",
            "3 is not allowed; write on or off",
        ),
        ("after: {switches: {fan: nope}}", "after.switches.fan", "'nope' is not allowed; write on or off"),
    ],
)
def test_a_bad_switch_is_one_clear_issue(block, field, message):
    with pytest.raises(PresetError) as caught:
        parse_preset(MINIMAL + block + "\n", "t", "t.yaml")
    issues = caught.value.issues
    assert len(issues) == 1, issues
    assert issues[0].source == "t.yaml" and issues[0].field == field
    assert message in issues[0].message


def test_literal_choices_suggest_the_closest():
    with pytest.raises(PresetError, match="did you mean 'swedish'"):
        parse_preset(MINIMAL + "technique: swedisch\n", "t", "t.yaml")


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(PresetError, match=r"t.yaml: line 2, column \d+: not valid YAML"):
        parse_preset("name: a\nduration: 5m: 3\n", "t", "t.yaml")


def test_file_name_is_the_id_and_id_key_is_refused():
    with pytest.raises(PresetError, match="the preset id is the file name"):
        parse_preset(MINIMAL + "id: other\n", "t", "t.yaml")
    with pytest.raises(PresetError, match="not a preset id"):
        parse_preset(MINIMAL, "Bad Name", "Bad Name.yaml")


def test_one_bad_preset_does_not_stop_the_others(tmp_path):
    (tmp_path / "good.yaml").write_text(MINIMAL)
    (tmp_path / "bad.yaml").write_text("name: x\nduration: soon\n")
    (tmp_path / "notes.txt").write_text("ignored")
    lib = load_library([tmp_path])
    assert list(lib.presets) == ["good"]
    assert [i.field for i in lib.problems] == ["duration"]


ROOMS = """
mqtt: {url: "mqtt://broker.local:1884", base_topic: clinic}
limits: {min_temperature: 18, max_temperature: 26, max_volume: 60}
rooms:
  studio:
    name: Treatment room 1
    thermostat: {bridge: zigbee2mqtt, device: studio-trv}
    lights:
      - {bridge: zigbee2mqtt, device: studio-ceiling, role: ceiling}
      - {bridge: tasmota, device: studio-lamp, role: lamp}
    speaker: {audio_device: auto}
"""


def test_config_parses_rooms_and_resolves_paths(tmp_path):
    config = parse_config(ROOMS + "presets: [builtin, mine]\nmusic: [~/music]\n", "a.yaml", tmp_path)
    assert config.mqtt.host == "broker.local" and config.mqtt.port == 1884 and not config.mqtt.tls
    room = config.rooms["studio"]
    assert room.thermostat.bridge == "zigbee2mqtt" and [d.role for d in room.lights] == ["ceiling", "lamp"]
    assert config.presets[1] == tmp_path / "mine"
    assert config.preset_folders()[0].name == "presets"
    assert config.room_limits("studio").max_volume == 60


def test_config_reports_every_problem_at_once(tmp_path):
    text = """
mqtt: {url: "http://x", protocl: 5}
limits: {min_temperature: 30, max_temperature: 20}
rooms:
  Room 1: {}
  ok:
    thermostat: {bridge: zigbe2mqtt, device: x}
    lights: [{bridge: esphome, device: y}]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", tmp_path)
    fields = {i.field: i.message for i in caught.value.issues}
    assert "mqtt.url" in fields and "mqtt://HOST" in fields["mqtt.url"]
    assert "did you mean 'protocol'" in fields["mqtt.protocl"]
    assert "min_temperature 30 is above max_temperature 20" in fields["limits"]
    assert "rooms.Room 1" in fields
    assert "did you mean 'zigbee2mqtt'" in fields["rooms.ok.thermostat"]
    assert fields["rooms.ok.lights[0].object_id"] == "is required but missing"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AMBIENCE_MQTT__URL", "mqtts://secure.example:8883")
    monkeypatch.setenv("AMBIENCE_MQTT__PASSWORD", "s3cret")
    config = parse_config(ROOMS, "a.yaml", tmp_path)
    assert config.mqtt.tls and config.mqtt.base_topic == "clinic"
    assert config.mqtt.secret() == "s3cret"
    assert "s3cret" not in repr(config)


def test_password_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="mqtt.password_file"):
        parse_config("mqtt: {password_file: nope.pass}\n", "a.yaml", tmp_path)
    (tmp_path / "p.pass").write_text("pw\n")
    assert parse_config("mqtt: {password_file: p.pass}\n", "a.yaml", tmp_path).mqtt.secret() == "pw"


def test_duplicate_devices_in_a_room_are_refused(tmp_path):
    text = "rooms:\n  r:\n    lights:\n      - {bridge: tasmota, device: a}\n      - {bridge: tasmota, device: a}\n"
    with pytest.raises(ConfigError, match="device 'a' .tasmota. is listed twice"):
        parse_config(text, "a.yaml", tmp_path)


def test_one_node_or_board_can_be_several_devices_of_a_room(tmp_path):
    """An ESPHome node's light and thermostat, a Shelly Pro 2's two outputs, a Sonoff 4CH's relays."""
    text = """rooms:
  r:
    thermostat: {bridge: esphome, device: node1, object_id: heater}
    lights:
      - {bridge: esphome, device: node1, object_id: ceiling, role: ceiling}
      - {bridge: shelly, device: shellypro2-1, component: 0, role: warmer}
      - {bridge: shelly, device: shellypro2-1, component: 1, role: cabinet}
      - {bridge: tasmota, device: sonoff4ch, relay: 1, role: heater}
      - {bridge: tasmota, device: sonoff4ch, relay: 2, role: diffuser}
"""
    room = parse_config(text, "a.yaml", tmp_path).rooms["r"]
    assert [d.device.id for d in room.devices()] == [
        "node1/heater", "node1/ceiling", "shellypro2-1", "shellypro2-1/1", "sonoff4ch", "sonoff4ch/2",
    ]  # fmt: skip
    twice = text.replace("object_id: ceiling", "object_id: heater")
    with pytest.raises(ConfigError, match="device 'node1/heater' .esphome. is listed twice"):
        parse_config(twice, "a.yaml", tmp_path)


def test_a_key_given_twice_is_refused_not_silently_overwritten(tmp_path):
    # PyYAML keeps the last of two equal keys: the first room (or setting) would vanish unseen.
    text = "rooms:\n  studio: {lights: [{bridge: tasmota, device: a}]}\n  studio: {lights: [{bridge: tasmota, device: b}]}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "a.yaml", tmp_path)
    issues = [str(i) for i in caught.value.issues]
    assert issues == ["a.yaml: rooms.studio: 'studio' is given twice (lines 2 and 3); keep one"]
    with pytest.raises(PresetError, match=r"t.yaml: duration: 'duration' is given twice \(lines 2 and 3\)"):
        parse_preset(MINIMAL + "duration: 45m\n", "t", "t.yaml")
    text = MINIMAL + "phases:\n  - {name: a, at: 0s, at: 1m}\n"
    with pytest.raises(PresetError, match=r"phases\[0\].at: 'at' is given twice \(line 4\)"):
        parse_preset(text, "t", "t.yaml")
    # the same key in different mappings, and anchors with aliases, are fine; a cycle does not hang
    preset = parse_preset(MINIMAL + "climate: &c {target: 22}\nafter: {climate: *c}\n", "t", "t.yaml")
    assert preset.after.climate.target == 22
    assert parse_config("rooms: {a: &r {}, b: *r}\n", "a.yaml", tmp_path).rooms.keys() == {"a", "b"}
    with pytest.raises(ConfigError, match="a.yaml: music"):
        parse_config("music: &m [*m]\n", "a.yaml", tmp_path)


def test_the_response_topic_prefix_defaults_to_the_base_topic_and_refuses_wildcards(tmp_path):
    assert parse_config(ROOMS, "a.yaml", tmp_path).mqtt.response_prefix == "clinic/"
    mine = parse_config("mqtt: {response_topic_prefix: replies/}\n", "a.yaml", tmp_path)
    assert mine.mqtt.response_prefix == "replies/"
    for bad in ("replies", "#/", "a/+/", "/replies/", ""):
        with pytest.raises(ConfigError) as caught:
            parse_config(f"mqtt: {{response_topic_prefix: '{bad}'}}\n", "a.yaml", tmp_path)
        assert [str(i) for i in caught.value.issues] == [
            f"a.yaml: mqtt.response_topic_prefix: {bad!r} is not allowed; write a topic prefix ending in '/', "
            "without '+' or '#', e.g. 'replies/'"
        ]


def test_the_same_device_in_two_rooms_is_refused_naming_it_its_bridge_and_both_rooms(tmp_path):
    text = """
rooms:
  room1: {lights: [{bridge: tasmota, device: lamp}], thermostat: {bridge: zigbee2mqtt, device: trv}}
  room2: {lights: [{bridge: zigbee2mqtt, device: ceiling}, {bridge: tasmota, device: lamp}]}
  room3: {thermostat: {bridge: zigbee2mqtt, device: trv}}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "a.yaml", tmp_path)
    assert [str(i) for i in caught.value.issues] == [
        "a.yaml: rooms: device 'trv' (zigbee2mqtt) is in rooms 'room1' and 'room3'; "
        "device 'lamp' (tasmota) is in rooms 'room1' and 'room2'; a device belongs to one room only"
    ]
    # the same name on two bridges is two devices
    text = "rooms:\n  a: {lights: [{bridge: tasmota, device: lamp}]}\n  b: {lights: [{bridge: shelly, device: lamp}]}\n"
    assert set(parse_config(text, "a.yaml", tmp_path).rooms) == {"a", "b"}


def test_format_temperature_shows_the_configured_unit_to_one_decimal():
    from ambience.units import format_temperature

    assert format_temperature(24.0) == "24 °C"
    assert format_temperature(24.0, "imperial") == "75.2 °F"
    assert format_temperature(23.456) == "23.5 °C"
    assert format_temperature(-0.04) == "0 °C"
