"""``/openapi.json`` tells the truth: schemathesis sends what the schema allows and what it forbids.

Each case is checked by every schemathesis check: a request the schema allows is not refused
(422), one it forbids is refused, each answer's status is one the schema lists for its route,
the ``Allow`` header of a 405 names the route's methods, and nothing is a server error. The
API behind it is a real Daemon's (no broker: device commands are dropped).

JSON Schema cannot bound the value a duration string stands for ("99h"), so a case whose
duration string is out of range is instead held to a 422 naming the field.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ambience.config import parse_config
from ambience.daemon import Daemon
from ambience.surfaces.http.app import create_app
from ambience.testing import draws, without_ambience
from ambience.units import parse_duration

TOKEN = "openapi-test-token-0123456789"
CONFIG = """
state_dir: {state}
music: []
rooms:
  studio:
    thermostat: {{bridge: zigbee2mqtt, device: studio-trv}}
    lights: [{{bridge: zigbee2mqtt, device: studio-lamp, role: lamp}}]
    speaker: null
"""


def _daemon() -> Daemon:
    state = Path(tempfile.mkdtemp(prefix="ambience-openapi-"))
    with patch.dict(os.environ, without_ambience(), clear=True):  # the env would override the config
        return Daemon(parse_config(CONFIG.format(state=state / "state"), "test", state), players=False)


DAEMON = _daemon()
APP = create_app(DAEMON.controller, TOKEN)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/events")  # a stream: never ends


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    DAEMON.store.close()
    shutil.rmtree(DAEMON.config.state_dir.parent, ignore_errors=True)


DURATION_BOUNDS = {"duration": 6 * 3600, "by": 6 * 3600, "lead": 3 * 3600, "valid_for": 3600}
"""What the models allow each length key (a string's pattern in the schema cannot say its bound)."""


def out_of_range_duration(body: object) -> str | None:
    """The key of a duration string in ``body`` whose value is beyond the model's bounds, if any."""
    if not isinstance(body, dict):
        return None
    for key, bound in DURATION_BOUNDS.items():
        value = body.get(key)
        if not isinstance(value, str):
            continue
        try:
            seconds = parse_duration(value, signed=True, bare=60)
        except ValueError:
            continue
        if abs(seconds) > bound:
            return key
    return None


@schema.parametrize()
@settings(max_examples=draws(15), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_does_what_its_schema_says(case):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    too_long = out_of_range_duration(case.body) if case.operation.method.upper() == "POST" else None
    if too_long:
        answer = case.call(headers=headers)
        assert answer.status_code in (404, 409, 422), answer.text  # 404/409 when the room or preset is checked first
        if answer.status_code == 422:
            assert too_long in {issue["field"] for issue in answer.json()["issues"]}
        return
    case.call_and_validate(headers=headers)
