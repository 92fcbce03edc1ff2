"""``ambience speakers`` (issue 18, point 5): the audio outputs libmpv sees, and the config line for each."""

from __future__ import annotations

import json

import pytest
from test_player import MPV_MISSING

from ambience import cli
from ambience.errors import PlayerError
from ambience.music.mpv import AudioDevice, audio_devices

needs_mpv = pytest.mark.skipif(bool(MPV_MISSING), reason=MPV_MISSING or "libmpv is here")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path, monkeypatch):
    file = tmp_path / "ambience.yaml"
    file.write_text(
        f"state_dir: {tmp_path / 'state'}\nrooms:\n  studio:\n    speaker: {{audio_device: auto}}\n", encoding="utf-8"
    )
    monkeypatch.setenv("AMBIENCE_CONFIG", str(file))
    return file


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "description"),
    [
        ("pulse/bluez_sink.00_11_22_33_44_55.a2dp_sink", "JBL Go 3"),
        ("pipewire/bluez_output.00_11_22_33_44_55.1", "JBL Go 3"),
        ("alsa/bluealsa", "Bluetooth Audio"),
        ("pulse/some_sink", "Speaker over Bluetooth"),
    ],
)
def test_bluetooth_speakers_are_told_apart(name, description):
    assert AudioDevice(name, description).bluetooth


@pytest.mark.unit
def test_a_wired_output_is_not_bluetooth_and_knows_its_audio_output():
    device = AudioDevice("alsa/hdmi:CARD=vc4hdmi0,DEV=0", "vc4-hdmi-0, MAI PCM i2s-hifi-0")
    assert not device.bluetooth and device.output == "alsa"
    assert AudioDevice("auto", "Autoselect device").output == "auto"


@pytest.mark.unit
def test_without_libmpv_the_listing_says_what_to_install():
    def missing():
        raise OSError("libmpv.so.2: cannot open shared object file")

    with pytest.raises(PlayerError, match=r"libmpv cannot be loaded \(libmpv.so.2: .*\); install libmpv"):
        audio_devices(load=missing)


@needs_mpv
def test_lists_at_least_the_default_device_with_its_config_line_and_room(capsys, config):
    code, out, err = run(capsys, "speakers", "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)
    auto = next(r for r in rows if r["name"] == "auto")
    assert auto == {
        "name": "auto",
        "description": "Autoselect device",
        "output": "auto",
        "bluetooth": False,
        "rooms": ["studio"],
        "config": 'speaker: {audio_device: "auto"}',
    }
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)) > 1  # the audio outputs' own devices besides auto (alsa's, here)


@needs_mpv
def test_the_table_names_each_device_and_how_to_pick_it(capsys, config):
    code, out, _ = run(capsys, "speakers")
    assert code == 0
    assert "Autoselect device" in out and "studio" in out
    assert '  speaker: {audio_device: "auto"}' in out
    assert "No Bluetooth speaker is listed: pair and connect it first (docs/music.md), then ask again." in out
