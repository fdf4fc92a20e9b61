"""device events: alarms, heartbeats, reports without a position and region transitions from phones

Revision ID: 0016_device_events
Revises: 0015_device_secrets
Create Date: 2026-12-02 15:10:00

* ``device_events``: what a tracking app reports besides a fix (Traccar's ``alarm=sos``, a heartbeat or
  a cell/Wi-Fi-only report, OwnTracks' ``transition``), with the device, its owner, the patrol that was
  open, where (when known) and the protocol's extra values. ``ux_device_events_once`` stores a resent
  event once. A new, empty table: no lock on anything in use.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0016_device_events"
down_revision = "0015_device_secrets"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "device_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id", ondelete="SET NULL"), nullable=True),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(64), nullable=False, server_default=""),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=True),
        sa.Column("attributes", postgresql.JSONB(), nullable=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.CheckConstraint("kind IN ('alarm', 'heartbeat', 'no_fix', 'transition')", name="ck_device_events_kind"),
    )
    op.create_index(
        "ux_device_events_once", "device_events", ["device_id", "happened_at", "kind", "detail"], unique=True
    )
    op.create_index("ix_device_events_patrol_id", "device_events", ["patrol_id"])
    op.create_index(
        "ix_device_events_alarms", "device_events", ["happened_at"], postgresql_where=sa.text("kind = 'alarm'")
    )


def downgrade():
    op.drop_table("device_events")
