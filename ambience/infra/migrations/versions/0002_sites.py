"""Sites: several daemons share one store (a chain's sites, a site's leader and standby).

Running sessions, owed after states and the history are each a site's own (``site`` is the site's MQTT
base topic); rows from before have the site ``''`` and are taken by the first daemon that opens the store
(:meth:`ambience.infra.store.Store.adopt`). ``sites`` says which daemon leads each site, since when, and
when it was last heard of (``ambience status --site``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new primary key on either database: a new table, the rows copied, the old one dropped.
    op.create_table(
        "sessions_0002",
        sa.Column("site", sa.Text, primary_key=True, server_default=""),
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.execute("INSERT INTO sessions_0002 (site, room, data) SELECT '', room, data FROM sessions")
    op.drop_table("sessions")
    op.rename_table("sessions_0002", "sessions")
    op.create_table(
        "owed_0002",
        sa.Column("site", sa.Text, primary_key=True, server_default=""),
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("device", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("session", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
    )
    op.execute(
        "INSERT INTO owed_0002 (site, room, device, state, session, since) "
        "SELECT '', room, device, state, session, since FROM owed"
    )
    op.drop_table("owed")
    op.rename_table("owed_0002", "owed")
    op.add_column("history", sa.Column("site", sa.Text, nullable=False, server_default=""))
    op.create_index("history_site", "history", ["site", "started_at"])
    op.create_table(
        "sites",
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
        sa.Column("seen", sa.Double, nullable=False),
        sa.Column("rooms", sa.Text, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    raise NotImplementedError("the sites migration is not undone: several sites' rows could not share one room key")
