"""``ambience rooms check`` on a room's switches (issue 15): a heat-class plug with a device-side
timer says how it is armed and re-armed; one without (an ESPHome switch) says it relies on ambience."""

from __future__ import annotations

import pytest

from ambience.cli import main
from ambience.config import parse_config
from ambience.simulator import Simulator

pytestmark = pytest.mark.usefixtures("clean_env")


def test_rooms_check_says_which_heaters_switch_themselves_off_and_which_rely_on_ambience(broker, tmp_path, capsys):
    text = f"""
mqtt: {{url: '{broker.url}'}}
rooms:
  studio:
    speaker: null
    switches:
      - {{bridge: tasmota, device: warmer, relay: 1, role: table_warmer, auto_off: 2m}}
      - {{bridge: esphome, device: node, object_id: heater, role: heater}}
      - {{bridge: tasmota, device: diffuser, relay: 1, role: diffuser}}
"""
    cfg = tmp_path / "ambience.yaml"
    cfg.write_text(text)
    with Simulator(parse_config(text, str(cfg), tmp_path), tick=0.2, options={"warmer": {"profile": "tasmota-plug"}}):
        code = main(["rooms", "check", "studio", "--config", str(cfg), "--timeout", "3s"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    lines = " ".join(out.split())
    assert "auto-off: the device switches itself off 2m after the last re-arm (re-armed every 30s)" in lines
    assert "maximum on-time 4h" in lines
    heater = out[out.index("node/heater:") :]
    assert "relies on ambience: no device-side auto-off timer" in " ".join(heater.split())
    diffuser = out[out.index("  diffuser:") :] if "  diffuser:" in out else ""
    assert "relies on ambience" not in diffuser  # a diffuser does not heat
