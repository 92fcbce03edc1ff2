"""The store's transactions (ambience.infra.store): all or nothing, and a clear StoreError when it cannot
write — each on a SQLite file and on a real PostgreSQL (the ``store_url`` fixture); and its migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ambience.core.session import SessionFacts
from ambience.errors import StoreError
from ambience.infra import schema
from ambience.infra.store import SessionRecord, Store
from ambience.model.client import Client


def record(room="studio", sid="s1") -> SessionRecord:
    return SessionRecord(
        sid, room, "tiny", SessionFacts(started_at=100.0, duration=8.0), None, {"trv": {"target": 19.0}}
    )


def test_ending_a_session_writes_history_and_owed_and_removes_it_at_once(store_url):
    store = Store(store_url)
    store.start_session(record())
    store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0, "mode": "heat"}}, 108.0)
    assert store.sessions() == []
    assert [(o.device, o.state, o.session) for o in store.owed()] == [("trv", {"target": 19.0, "mode": "heat"}, "s1")]
    assert [h["outcome"] for h in store.history()] == ["completed"]


def test_a_confirmation_settles_only_the_ending_that_owes_it(store_url):
    store = Store(store_url)
    store.end_session(record(sid="s1"), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    store.end_session(record(sid="s2"), 208.0, "completed", {"trv": {"target": 19.0}}, 208.0)  # a later ending
    store.settle_owed("studio", [("trv", "s1")])  # a late confirmation of the first
    assert [o.session for o in store.owed()] == ["s2"]
    store.settle_owed("studio", [("trv", "s2")])
    assert store.owed() == []


@pytest.mark.sqlite_store
def test_a_locked_database_is_a_store_error_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr("ambience.infra.store.BUSY_TIMEOUT_MS", 100)
    store = Store(tmp_path / "a.db")
    store.start_session(record())
    other = sqlite3.connect(str(tmp_path / "a.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            StoreError, match="cannot record the end of the session: the store a.db is locked by another program"
        ):
            store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [r.id for r in store.sessions()] == ["s1"] and store.owed() == [] and store.history() == []


@pytest.mark.sqlite_store
def test_a_locked_database_is_not_waited_for_again_by_every_write_at_once(tmp_path, monkeypatch):
    # each write waits BUSY_TIMEOUT_MS on the daemon's loop: ten rooms retrying would hold it all the time
    monkeypatch.setattr("ambience.infra.store.BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr("ambience.infra.store.LOCKED_RETRY", 0.8)
    store = Store(tmp_path / "a.db")
    other = sqlite3.connect(str(tmp_path / "a.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="is locked by another program"):
            store.start_session(record("studio", "s1"))
        began = time.monotonic()
        for room in ("garden", "suite", "attic"):
            with pytest.raises(StoreError, match="is locked by another program"):
                store.start_session(record(room, f"s-{room}"))
        assert time.monotonic() - began < 0.2  # none of them waited for the lock again
    finally:
        other.execute("ROLLBACK")
        other.close()
    time.sleep(0.8)
    store.start_session(record("studio", "s1"))  # the lock gone and the pause over: written
    assert [r.id for r in store.sessions()] == ["s1"]


def test_a_replacing_start_records_the_replaced_session_in_the_same_transaction(store_url):
    store = Store(store_url)
    store.start_session(record(sid="s1"))
    store.start_session(record(sid="s2"), replaced=(record(sid="s1"), 104.0))
    assert [r.id for r in store.sessions()] == ["s2"]
    assert [(h["session"], h["outcome"]) for h in store.history()] == [("s1", "replaced")]


def test_last_presets_is_each_clients_latest_session_that_ran(store_url):
    """The phone offers a client's last preset first: the latest started session, not one missed or cancelled."""
    store = Store(store_url)

    def ran(sid: str, client: str | None, preset: str, at: float, outcome: str = "completed") -> None:
        facts = SessionFacts(started_at=at, duration=60.0)
        store.record_history(SessionRecord(sid, "studio", preset, facts, client), at + 60, outcome)

    ran("s1", "A. Smith", "swedish-relaxation-60", 100.0)
    ran("s3", "A. Smith", "deep-tissue-60", 300.0, "stopped")
    ran("s2", "A. Smith", "express-30", 200.0)  # written later, started earlier
    ran("s4", "A. Smith", "hot-stone-90", 400.0, "missed")
    ran("s5", "B. Jones", "express-30", 500.0, "cancelled")
    ran("s6", None, "express-30", 600.0)
    assert store.last_presets() == {"A. Smith": "deep-tissue-60"}


OLD_SCHEMA = """
CREATE TABLE sessions (room TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL, room TEXT NOT NULL, preset TEXT NOT NULL, client TEXT,
    started_at REAL NOT NULL, ended_at REAL NOT NULL, outcome TEXT NOT NULL
);
CREATE INDEX history_room ON history (room, started_at);
CREATE TABLE clients (label TEXT PRIMARY KEY, comfort TEXT NOT NULL);
CREATE TABLE tombstones (uid TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE phones (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, last_seen REAL
);
CREATE TABLE owed (
    room TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL, session TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (room, device)
);
"""


@pytest.mark.sqlite_store
def test_a_store_from_before_the_migrations_is_upgraded_keeping_every_row(tmp_path):
    """The SQLite file an older ambience wrote (its tables, no alembic_version) opens with its rows."""
    path = tmp_path / "ambience.db"
    old = sqlite3.connect(str(path))
    old.executescript(OLD_SCHEMA)
    old.execute("INSERT INTO sessions VALUES (?, ?)", ("studio", record().to_json()))
    old.execute("INSERT INTO clients VALUES ('A. Smith', '{\"temperature_offset\": 1.5}')")
    old.execute("INSERT INTO owed VALUES ('spa', 'trv', '{\"target\": 19.0}', 's0', 50.0)")
    old.execute(
        "INSERT INTO history (session, room, preset, client, started_at, ended_at, outcome) "
        "VALUES ('s0', 'spa', 'tiny', NULL, 1.0, 9.0, 'completed')"
    )
    old.commit()
    old.close()
    store = Store(path)
    assert [r.id for r in store.sessions()] == ["s1"]
    assert store.client("A. Smith") is not None and store.client("A. Smith").comfort.temperature_offset == 1.5
    assert [(o.room, o.device) for o in store.owed()] == [("spa", "trv")]
    assert [h["session"] for h in store.history()] == ["s0"]
    store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)  # and it writes
    assert [h["session"] for h in store.history()] == ["s1", "s0"]
    with sqlite3.connect(str(path)) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.head(),)]


def test_opening_twice_runs_no_migration_again(store_url):
    Store(store_url).start_session(record())
    again = Store(store_url)
    assert [r.id for r in again.sessions()] == ["s1"]


def test_a_postgresql_that_went_away_is_a_store_error_and_the_store_works_when_it_is_back(postgres_server):
    store = Store(postgres_server.database())
    store.start_session(record())
    postgres_server.stop()
    try:
        with pytest.raises(StoreError, match=r"cannot record the end of the session: the store postgresql\+psycopg://"):
            store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    finally:
        postgres_server.start()
    assert [r.id for r in store.sessions()] == ["s1"]  # nothing half-written
    store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    assert store.sessions() == [] and [o.device for o in store.owed()] == ["trv"]


def test_a_postgresql_that_cannot_be_reached_is_named_when_the_store_opens():
    from ambience.testing.mosquitto import free_port

    url = f"postgresql+psycopg://ambience:secret@127.0.0.1:{free_port()}/clinic"
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert "cannot be opened" in message and "cannot be reached" in message
    assert "secret" not in message and "***" in message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "mysql://u@h/db",
            "'mysql://u@h/db' is a mysql database; the store can be sqlite:///FILE or postgresql+psycopg://",
        ),
        ("postgresql+psycopg2://u:pw@h/db", "names the psycopg2 driver; ambience talks to PostgreSQL with psycopg 3"),
        ("not a url", "'not a url' is not a database URL"),
    ],
)
@pytest.mark.sqlite_store
def test_a_bad_store_url_is_one_message_naming_the_field(url, says):
    from ambience.config import parse_config
    from ambience.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(f"store_url: {url!r}\n", "ambience.yaml", Path("/tmp"))
    text = str(caught.value)
    assert "store_url" in text and says in text and "pw" not in text


@pytest.mark.sqlite_store
def test_the_bookings_keep_to_the_store_unless_told_otherwise(tmp_path):
    from ambience.config import parse_config

    default = parse_config(f"state_dir: {tmp_path}\n", "ambience.yaml", tmp_path)
    assert default.store_where() == tmp_path / "ambience.db"
    assert default.bookings_store_url() == f"sqlite:///{tmp_path}/bookings.db"
    shared = parse_config("store_url: postgresql+psycopg://a@db/clinic\n", "ambience.yaml", tmp_path)
    assert shared.bookings_store_url() == shared.store_where() == "postgresql+psycopg://a@db/clinic"
    apart = parse_config(
        "store_url: postgresql+psycopg://a@db/clinic\nbookings: {store_url: 'sqlite:////x/b.db'}\n", "y", tmp_path
    )
    assert apart.bookings_store_url() == "sqlite:////x/b.db"


def test_a_batch_on_postgresql_is_one_transaction_and_a_restart_finds_it(postgres_url):
    """The bookings of a site on PostgreSQL (store_url): the batch's one DELETE and multi-row INSERT there."""
    from datetime import UTC

    from apscheduler.schedulers.background import BackgroundScheduler
    from sqlalchemy import create_engine, event

    from ambience.infra.jobstore import BatchingJobStore

    engine = create_engine(postgres_url)
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    store = BatchingJobStore(engine=engine)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    scheduler.start(paused=True)
    try:
        _add_job(scheduler, "replaced", 2, n=0)
        before = len(commits)
        with store.batch():
            for i in range(50):
                _add_job(scheduler, f"job{i}", 3 + i, n=i)
            _add_job(scheduler, "replaced", 5, n=1)
        assert len(commits) - before == 1
    finally:
        scheduler.shutdown(wait=False)
    jobs = {job.id: job for job in BatchingJobStore(engine=create_engine(postgres_url)).get_all_jobs()}
    assert len(jobs) == 51 and jobs["replaced"].kwargs == {"n": 1} and jobs["job49"].kwargs == {"n": 49}


def _add_job(scheduler, job_id: str, hours: int, **kwargs):
    from datetime import UTC, datetime, timedelta

    when = datetime.now(UTC) + timedelta(hours=hours)
    scheduler.add_job(_noop, "date", run_date=when, id=job_id, kwargs=kwargs, replace_existing=True)


def _noop(**kwargs):
    pass


def test_sites_sharing_a_store_keep_their_own_sessions_owed_and_history(store_url):
    """Two clinics of a chain on one database, each with a room called studio."""
    north, south = Store(store_url, site="north"), Store(store_url, site="south")
    north.start_session(record(sid="n1"))
    south.start_session(record(sid="s1"))
    north.end_session(record(sid="n1"), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    assert [r.id for r in south.sessions()] == ["s1"] and north.sessions() == []
    assert south.owed() == [] and [o.session for o in north.owed()] == ["n1"]
    assert [h["session"] for h in north.history()] == ["n1"] and south.history() == []
    assert {site: [r.id for r in rs] for site, rs in north.site_sessions().items()} == {"south": ["s1"]}
    north.add_client(Client(label="A. Smith"))
    assert [c.label for c in south.clients()] == ["A. Smith"]  # the chain's clients are shared


@pytest.mark.sqlite_store
def test_rows_from_before_sites_are_the_first_opening_sites(tmp_path):
    path = tmp_path / "ambience.db"
    old = sqlite3.connect(str(path))
    old.executescript(OLD_SCHEMA)
    old.execute("INSERT INTO sessions VALUES (?, ?)", ("studio", record().to_json()))
    old.execute("INSERT INTO owed VALUES ('spa', 'trv', '{\"target\": 19.0}', 's0', 50.0)")
    old.commit()
    old.close()
    mine = Store(path, site="ambience")
    assert [r.id for r in mine.sessions()] == ["s1"] and [o.device for o in mine.owed()] == ["trv"]
    assert Store(path, site="other").sessions() == []  # taken once, by the first


def test_a_new_store_made_at_once_is_the_store_the_migrations_make(store_url, request, tmp_path):
    """A new database gets today's tables directly (no Alembic at start-up); they must be what an older
    store upgraded by the migrations has — and the head they record must be Alembic's."""
    import sqlalchemy as sa
    from alembic import command

    assert schema.HEAD == schema.head()
    Store(store_url)  # made at once
    other = (
        f"sqlite:///{tmp_path}/migrated.db"
        if store_url.startswith("sqlite")
        else request.getfixturevalue("postgres_server").database()
    )
    engine = sa.create_engine(other)
    with engine.connect() as connection:
        command.upgrade(schema._alembic_config(connection), schema.FIRST)  # an older ambience's store
        connection.commit()
    engine.dispose()
    Store(other)  # upgraded by the migrations

    def shape(url: str) -> dict:
        engine = sa.create_engine(url)
        inspector = sa.inspect(engine)
        found = {
            table: (
                sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
                sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            )
            for table in inspector.get_table_names()
        }
        with engine.connect() as connection:
            found["version"] = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()
        return found

    assert shape(store_url) == shape(other)
