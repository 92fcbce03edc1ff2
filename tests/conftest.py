"""Shared fixtures: a private mosquitto per test (``broker``, ``broker_url``), a raw ``probe`` and
``clean_env``. The harness itself is :mod:`ambience.testing` (docs/architecture.md, "Tests")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ambience.testing import env
from ambience.testing.mosquitto import Mosquitto, MqttProbe, find_mosquitto


@pytest.fixture(scope="session")
def mosquitto_binary() -> str:
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or set AMBIENCE_MOSQUITTO)")
    return binary


@pytest.fixture
def broker(mosquitto_binary: str) -> Iterator[Mosquitto]:
    """A started mosquitto on a free loopback port; stopped and removed after the test, pass or fail."""
    server = Mosquitto(binary=mosquitto_binary)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def broker_url(broker: Mosquitto) -> str:
    return broker.url


@pytest.fixture
def probe(broker: Mosquitto) -> Iterator[MqttProbe]:
    """A connected paho client on ``broker`` that records every message it subscribes to."""
    client = MqttProbe(broker)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``AMBIENCE_*`` variable of the developer's for this test (a module opts in with
    ``pytestmark = pytest.mark.usefixtures("clean_env")``)."""
    env.clean_env(monkeypatch)


def pytest_configure(config: pytest.Config) -> None:
    """``-m unit`` is the quick run: property tests draw a tenth of their examples (ambience.testing.properties)."""
    if (config.getoption("markexpr") or "").strip() == "unit":
        import os

        from hypothesis import settings

        from ambience.testing.properties import QUICK

        os.environ[QUICK] = "1"
        settings.register_profile("quick", max_examples=10)
        settings.load_profile("quick")
