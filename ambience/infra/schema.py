"""The store's tables, and Alembic bringing a database to them.

The tables are written once here, with SQLAlchemy Core, for SQLite and PostgreSQL alike. Changes to
them are Alembic migrations in ``ambience/infra/migrations/versions`` (docs/store.md says how to add
one); :func:`upgrade` runs those a database has not had, when the store opens. A SQLite file made by
an ambience from before the migrations (its tables, no ``alembic_version``) is stamped as the first
migration and upgraded from there, its rows kept.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("site", sa.Text, primary_key=True, server_default=""),
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
)
history = sa.Table(
    "history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", sa.Text, nullable=False, server_default=""),
    sa.Column("session", sa.Text, nullable=False),
    sa.Column("room", sa.Text, nullable=False),
    sa.Column("preset", sa.Text, nullable=False),
    sa.Column("client", sa.Text),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Index("history_room", "room", "started_at"),
    sa.Index("history_site", "site", "started_at"),
    sqlite_autoincrement=True,
)
clients = sa.Table(
    "clients",
    metadata,
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("comfort", sa.Text, nullable=False),
)
tombstones = sa.Table(
    "tombstones",
    metadata,
    sa.Column("uid", sa.Text, primary_key=True),
    sa.Column("until", sa.Double, nullable=False),
)
phones = sa.Table(
    "phones",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double),
)
owed = sa.Table(
    "owed",
    metadata,
    sa.Column("site", sa.Text, primary_key=True, server_default=""),
    sa.Column("room", sa.Text, primary_key=True),
    sa.Column("device", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("session", sa.Text, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site", sa.Text, primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),  # counts the site's leaders: each new one writes one more
    sa.Column("holder", sa.Text, nullable=False),  # JSON: the leading daemon's host, pid, state_dir, HTTP
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("seen", sa.Double, nullable=False),  # when the leader last said it is alive
    sa.Column("rooms", sa.Text, nullable=False, server_default="[]"),
)

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST = "0001"
"""The migration that makes the tables as ambience made them before there were migrations."""


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    found = ScriptDirectory.from_config(config).get_current_head()
    assert found is not None
    return found


HEAD = "0002"
"""The newest migration (tests/test_store.py checks it is Alembic's head): a store at it needs nothing."""

version_table = sa.Table("alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32), primary_key=True))
"""Alembic's own bookkeeping table, as Alembic makes it."""


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest migration.

    Up to date (the usual case): one query. Empty (a new store): the tables as they are now and Alembic's
    version row, in one transaction, without loading Alembic (Alembic's cookbook: ``create_all`` then
    stamp the head) — a daemon starts ~0.2 s sooner. Anything else: Alembic runs the migrations missing.
    """
    with engine.connect() as connection:
        now = _version(connection)
        connection.rollback()
    if now == HEAD:
        return
    if now is None:
        with engine.connect() as connection:
            connection.info["write"] = True  # SQLite: BEGIN IMMEDIATE, so two daemons opening at once take turns
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(6385250, 1)"))
                tables = set(sa.inspect(connection).get_table_names())
                if not tables & {"sessions", "alembic_version"}:
                    metadata.create_all(connection)
                    version_table.create(connection)
                    connection.execute(version_table.insert().values(version_num=HEAD))
                    return
    from alembic import command

    with engine.connect() as connection:
        connection.info["write"] = True
        config = _alembic_config(connection)
        if _version(connection) is None and sa.inspect(connection).has_table("sessions"):
            command.stamp(config, FIRST)  # made before the migrations: it has the first one's tables
        command.upgrade(config, "head")
        connection.commit()


def _version(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.select(version_table.c.version_num)).scalar()
