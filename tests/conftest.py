"""Shared fixtures: a private mosquitto per test (``broker``, ``broker_url``), a raw ``probe``,
``clean_env``, a private PostgreSQL (``postgres``) and ``store_url`` (each store test on SQLite and on
PostgreSQL). With ``AMBIENCE_TEST_STORE=postgres`` every test's daemon keeps its store in a database
of its own on the private PostgreSQL (docs/store.md). The harness itself is :mod:`ambience.testing`
(docs/architecture.md, "Tests")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ambience.testing import env, postgres
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Postgres]:
    """One private PostgreSQL for the run (initdb takes seconds); each test takes a database of its own."""
    if not postgres.available():
        pytest.skip("PostgreSQL's server is not installed (apt-get install postgresql)")
    server = postgres.Postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: postgres.Postgres) -> str:
    """A new empty database on the private PostgreSQL."""
    return postgres_server.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's URL, once on a SQLite file and once on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ambience.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True)
def _store_on_postgres(request: pytest.FixtureRequest) -> Iterator[None]:
    """``AMBIENCE_TEST_STORE=postgres``: the daemons of this test keep their store on PostgreSQL."""
    if os.environ.get(env.TEST_STORE) != "postgres" or request.node.get_closest_marker("sqlite_store"):
        yield
        return
    url = request.getfixturevalue("postgres_url")
    before = os.environ.get(env.STORE_URL)
    os.environ[env.STORE_URL] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(env.STORE_URL, None)
        else:
            os.environ[env.STORE_URL] = before


def pytest_configure(config: pytest.Config) -> None:
    """``-m unit`` is the quick run: property tests draw a tenth of their examples (ambience.testing.properties)."""
    if (config.getoption("markexpr") or "").strip() == "unit":
        import os

        from hypothesis import settings

        from ambience.testing.properties import QUICK

        os.environ[QUICK] = "1"
        settings.register_profile("quick", max_examples=10)
        settings.load_profile("quick")
