"""The fault soak of issue 8 as slow tests, with the issue's figures (bench/soak.py prints the same).

    .venv/bin/pytest -m slow tests/test_soak.py      # about 4 minutes; not in the default run

Each test runs one fault from bench/soaklib.py against real processes (mosquitto, the device
simulator, ``ambience serve``) and asserts it held every time it was tried. See docs/soak.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import soaklib  # noqa: E402

pytestmark = pytest.mark.slow


def held(result: soaklib.Result, tried: int) -> None:
    assert result.tried == tried, result.report()
    assert result.held == result.tried, result.report()
    assert result.ok, result.report()


def test_the_connection_is_back_within_3_s_after_each_of_20_broker_kills(mosquitto_binary):
    result = soaklib.broker_kills()
    held(result, 20)
    assert any(label == "devices in desired state" and n == m > 0 for label, n, m in result.checks), result.report()


def test_sessions_resume_or_recover_across_20_daemon_sigkills_and_10k_bookings_stay(mosquitto_binary):
    result = soaklib.daemon_kills()
    held(result, 20)
    assert ("bookings still there", 10_000, 10_000) in result.checks, result.report()


def test_10k_fuzzed_commands_are_all_answered_and_change_nothing(mosquitto_binary):
    held(soaklib.fuzzed_commands(), 10_000)


def test_1000_malformed_presets_and_configs_are_refused_naming_file_and_field():
    held(soaklib.malformed_files(), 1_000)


def test_heat_plugs_switch_themselves_off_after_each_of_20_daemon_sigkills(mosquitto_binary):
    import soak_heaters

    held(soak_heaters.heater_kills(20), 20)
