"""Issue 17: temperatures in either unit, one rule for lengths, messages in plain words, local times,
"did you mean" for client labels, and a CLI that never shows a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from ambience.app.commands import CommandInvalid, parse_command
from ambience.config import parse_config
from ambience.errors import ConfigError, PresetError
from ambience.model.client import Comfort, close_label
from ambience.model.preset import parse_preset
from ambience.units import Celsius, CelsiusOffset, format_temperature, parse_duration

pytestmark = pytest.mark.unit

CELSIUS: TypeAdapter[float] = TypeAdapter(Celsius)


@pytest.mark.parametrize(
    "written, celsius",
    [(24, 24.0), ("24", 24.0), ("24C", 24.0), ("24 °C", 24.0), ("24c", 24.0), ("75F", 23.89), ("75°F", 23.89),
     ("75 °f", 23.89), (" 41F ", 5.0)],
)  # fmt: skip
def test_a_temperature_is_taken_in_celsius_or_fahrenheit(written, celsius):
    assert CELSIUS.validate_python(written) == celsius


def test_an_out_of_range_temperature_names_both_units_and_the_fahrenheit_it_probably_was():
    with pytest.raises(ValidationError) as bare:
        CELSIUS.validate_python(78)
    assert "78 is out of range; allowed 5–35 °C (41–95 °F); a bare number is °C: did you mean 78F?" in str(bare.value)
    with pytest.raises(ValidationError) as hot:
        CELSIUS.validate_python("100F")
    assert "'100F' is out of range; allowed 5–35 °C (41–95 °F)" in str(hot.value) and "did you mean" not in str(
        hot.value
    )
    with pytest.raises(ValidationError, match="'warm' is not a temperature; write e.g. 24, 24C or 75F"):
        CELSIUS.validate_python("warm")


def test_an_offset_in_fahrenheit_is_only_scaled():
    assert TypeAdapter(CelsiusOffset).validate_python("9F") == 5.0
    assert Comfort.model_validate({"temperature_offset": "-1.8F"}).temperature_offset == -1.0
    assert format_temperature(2, "imperial", offset=True) == "3.6 °F" and format_temperature(2, "metric") == "2 °C"


def test_a_preset_takes_a_target_in_fahrenheit():
    preset = parse_preset("name: P\nduration: 30m\nclimate: {target: 75F}\n", "p", "p.yaml")
    assert preset.climate is not None and preset.climate.target == 23.89


def test_a_bare_number_for_a_length_is_minutes_on_every_surface_and_seconds_for_a_technical_time():
    start = parse_command({"action": "start", "room": "studio", "preset": "p", "duration": 10, "lead": "5"})
    assert (start.duration, start.lead) == (600.0, 300.0)  # type: ignore[union-attr]
    extend = parse_command({"action": "extend", "room": "studio", "by": -5})
    assert extend.by == -300.0  # type: ignore[union-attr]
    preset = parse_preset("name: P\nduration: 45\nphases: [{name: end, at: -5}]\nmusic: {playlist: x, fade_in: 20}\n",
                          "p", "p.yaml")  # fmt: skip
    assert (preset.duration, preset.phases[0].at, preset.music and preset.music.fade_in) == (2700.0, -300.0, 20.0)
    assert parse_duration("10") == 10.0 and parse_duration("10", bare=60) == 600.0


@pytest.mark.parametrize(
    "body, message",
    [
        ({"duration": "7h"}, "duration: '7h' is too long; at most 6h"),
        ({"duration": 0}, "duration: 0 is too short; more than 0s is needed"),
        ({"lead": "4h"}, "lead: '4h' is too long; at most 3h"),
        ({"duration": "an hour"}, "duration: 'an hour' is not a duration; write e.g. 45m, 90m"),
        ({"client": "x" * 61}, "is too long; at most 60 characters"),
        ({"replace": "yes"}, "replace: 'yes' is not true or false"),
    ],
)
def test_a_bad_command_is_refused_in_plain_words(body, message):
    with pytest.raises(CommandInvalid) as refused:
        parse_command({"action": "start", "room": "studio", "preset": "p", **body})
    assert message in str(refused.value) and "Input should" not in str(refused.value)


def test_a_preset_too_long_says_so_as_a_duration_not_in_seconds():
    with pytest.raises(PresetError) as refused:
        parse_preset("name: P\nduration: 420\n", "p", "p.yaml")
    assert "duration: 420 is too long; at most 6h" in str(refused.value)
    with pytest.raises(ConfigError) as turnover:
        parse_config("rooms: {studio: {turnover: {length: 2h}}}\n", "ambience.yaml", Path("."))
    assert "rooms.studio.turnover.length: '2h' is too long; at most 1h" in str(turnover.value)


@pytest.mark.parametrize(
    "typed, known, meant",
    [
        ("A Smith", ["A. Smith", "B. Jones"], "A. Smith"),
        ("a.smith", ["A. Smith"], "A. Smith"),
        ("B Jone", ["A. Smith", "B. Jones"], "B. Jones"),
        ("A. Smith", ["A. Smith"], None),  # known as written
        ("C. Brown", ["A. Smith", "B. Jones"], None),  # like no one: a client not on the list
        ("...", ["A. Smith"], None),
    ],
)
def test_a_typed_label_close_to_a_known_client_is_recognised(typed, known, meant):
    assert close_label(typed, known) == meant


# ---- the CLI ---------------------------------------------------------------------------------------

import socket  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ambience.cli import main  # noqa: E402
from ambience.testing.properties import draws  # noqa: E402


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """A config whose daemon port nothing listens on (a command that needs the daemon fails at once) and
    a state directory of its own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "ambience.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nhttp: {{port: {port}}}\nunits: imperial\n")
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return str(config)


def test_a_missing_config_file_is_an_error_wherever_it_is_named(offline, capsys, monkeypatch):
    for argv in (
        ["--config", "/nonexistent.yaml", "config", "check"],
        ["config", "check", "--config", "/nonexistent.yaml"],
    ):
        assert main(argv) == 1
        out, err = capsys.readouterr()
        assert "config file /nonexistent.yaml does not exist" in err and "ok" not in out
    monkeypatch.setenv("AMBIENCE_CONFIG", "/nonexistent.yaml")
    assert main(["config", "check"]) == 1
    assert "config file /nonexistent.yaml does not exist" in capsys.readouterr().err
    monkeypatch.delenv("AMBIENCE_CONFIG")
    (Path(offline).parent / "ambience.yaml").unlink()  # the implicit ./ambience.yaml stays optional
    assert main(["config", "check"]) == 0


def test_with_units_imperial_the_cli_shows_fahrenheit(offline, capsys):
    assert main(["clients", "add", "A. Smith", "--warmer", "2", "--config", offline]) == 0
    assert "temperature 3.6 °F warmer" in capsys.readouterr().out
    assert main(["clients", "add", "B. Jones", "--cooler", "9F", "--config", offline]) == 0
    assert "temperature 9 °F cooler" in capsys.readouterr().out
    assert main(["clients", "list", "--config", offline]) == 0
    listed = capsys.readouterr().out
    assert "3.6 °F warmer" in listed and "9 °F cooler" in listed and "°C" not in listed
    assert main(["presets", "show", "swedish-relaxation-60", "--config", offline]) == 0
    table = capsys.readouterr().out.split("AT ", 1)[1]  # the timeline, past the description's prose
    assert "75.2 °F" in table and "°C" not in table


WORDS = st.one_of(
    st.sampled_from(["10", "-60m", "an hour", "1h30", "0", "7h", "75F", "78", "A Smith", "tomorrow 9:30", "", "-"]),
    st.text(max_size=12),
)


@given(
    command=st.sampled_from([
        ["start", "studio", "p", "--for", "{}"], ["start", "studio", "p", "--lead", "{}"], ["extend", "studio", "{}"],
        ["book", "studio", "p", "--at", "14:00", "--for", "{}"], ["book", "studio", "p", "--at", "{}"],
        ["move", "b1", "--at", "{}"], ["bookings", "--day", "{}"], ["clients", "add", "{}", "--warmer", "{}"],
        ["clients", "add", "A", "--max-brightness", "{}"], ["presets", "show", "{}"], ["status", "{}"],
    ]),
    value=WORDS,
)  # fmt: skip
@settings(max_examples=draws(150), deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_traceback(offline, capsys, command, value):
    argv = [value if part == "{}" else part for part in command] + ["--config", offline]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage error
        code = exit.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, out, err)
    assert "Traceback" not in out + err, argv


def test_the_devices_pages_show_temperatures_in_the_configured_unit():
    from ambience.cli.device_cmds import _text, capabilities_text

    assert _text({"target": 24.0, "current": 19.5}) == "24 °C now 19.5 °C"
    assert _text({"target": 24.0, "current": 19.5}, "imperial") == "75.2 °F now 67.1 °F"
    caps = {"kind": "climate", "setpoint": "occupied_heating_setpoint", "setpoint_range": [5, 30]}
    assert "occupied_heating_setpoint 5–30 °C" in capabilities_text(caps)
    assert "occupied_heating_setpoint 41–86 °F" in capabilities_text(caps, "imperial")
