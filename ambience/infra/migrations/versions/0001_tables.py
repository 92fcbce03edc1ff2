"""The tables as ambience made them before the store had migrations (sessions, history, clients,
tombstones, phones, owed).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions", sa.Column("room", sa.Text, primary_key=True), sa.Column("data", sa.Text, nullable=False)
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session", sa.Text, nullable=False),
        sa.Column("room", sa.Text, nullable=False),
        sa.Column("preset", sa.Text, nullable=False),
        sa.Column("client", sa.Text),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("history_room", "history", ["room", "started_at"])
    op.create_table(
        "clients", sa.Column("label", sa.Text, primary_key=True), sa.Column("comfort", sa.Text, nullable=False)
    )
    op.create_table(
        "tombstones", sa.Column("uid", sa.Text, primary_key=True), sa.Column("until", sa.Double, nullable=False)
    )
    op.create_table(
        "phones",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("last_seen", sa.Double),
    )
    op.create_table(
        "owed",
        sa.Column("room", sa.Text, primary_key=True),
        sa.Column("device", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("session", sa.Text, nullable=False),
        sa.Column("since", sa.Double, nullable=False),
    )


def downgrade() -> None:
    for table in ("owed", "phones", "tombstones", "clients", "history", "sessions"):
        op.drop_table(table)
