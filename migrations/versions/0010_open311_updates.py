"""open311: service request updates (mySociety's servicerequestupdates), every media_url of a request

Revision ID: 0010_open311_updates
Revises: 0009_sessions_rate_limits
Create Date: 2026-12-05 10:00:00

`open311_updates`: what a client POSTed to `servicerequestupdates` (its own update_id, status, time,
text, media, who wrote it), tied to the timeline step it became; unique per key and client update_id,
so a resent update is answered with the same step and applied once.
`open311_media`: every `media_url` of a request (`incidents.media_url` keeps the first).
`ix_incident_transitions_created`: `GET servicerequestupdates` lists the state changes of a period.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_open311_updates"
down_revision = "0009_sessions_rate_limits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "open311_updates",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("open311_keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client_update_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "transition_id",
            sa.BigInteger(),
            sa.ForeignKey("incident_transitions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_name", sa.String(64)),
        sa.Column("author_phone", sa.String(32)),
        sa.Column("media_urls", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("key_id", "client_update_id", name="uq_open311_updates_client"),
    )
    op.create_index("ix_open311_updates_incident", "open311_updates", ["incident_id"])
    op.create_index("ix_open311_updates_transition", "open311_updates", ["transition_id"])
    op.create_table(
        "open311_media",
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("urls", postgresql.JSONB(), nullable=False),
    )
    op.create_index("ix_incident_transitions_created", "incident_transitions", ["created_at"])


def downgrade():
    op.drop_index("ix_incident_transitions_created", table_name="incident_transitions")
    op.drop_table("open311_media")
    op.drop_index("ix_open311_updates_transition", table_name="open311_updates")
    op.drop_index("ix_open311_updates_incident", table_name="open311_updates")
    op.drop_table("open311_updates")
