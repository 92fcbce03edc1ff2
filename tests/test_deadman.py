"""No heater is left on when ambience dies (issue 15): the daemon SIGKILLed mid-session, and not
restarted, with a Tasmota, a Shelly and a Zigbee2MQTT heat plug on; each switches itself off by its
own firmware timer within its ``auto_off``. Twice here; ``./run soak --only heaters`` runs 20."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soak_heaters  # noqa: E402


def test_heat_plugs_switch_themselves_off_within_auto_off_after_a_sigkill(mosquitto_binary):
    kills = int(os.environ.get("AMBIENCE_REPEAT", "2"))
    result = soak_heaters.heater_kills(kills)
    assert result.tried == kills and result.ok, result.report()
