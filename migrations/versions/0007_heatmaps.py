"""heat maps and dashboard: indexes for filtered heat/figures, bookkeeping of synthetic seeds

Revision ID: 0007_heatmaps
Revises: 0006_patrols
Create Date: 2026-11-25 12:30:00

The (category_id, reported_at) index exists already (0002). Heat maps filtered by
source, and dashboard figures of incidents closed in a period, need their own.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_heatmaps"
down_revision = "0006_patrols"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_incidents_source_reported", "incidents", ["source", "reported_at"])
    op.create_index(
        "ix_incidents_closed_at", "incidents", ["closed_at"], postgresql_where=sa.text("closed_at IS NOT NULL")
    )
    # Overdue = still open at a period's end: the open ones are few, find them without the year's rows.
    op.create_index(
        "ix_incidents_unclosed_reported", "incidents", ["reported_at"], postgresql_where=sa.text("closed_at IS NULL")
    )
    # One row per synthetic batch (`seed scale`): what was made from which seed, so a rerun
    # with the same seed and size adds nothing and a different size replaces the batch.
    op.create_table(
        "seed_scale_runs",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=True),
        sa.Column("last_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kind", "seed"),
    )


def downgrade():
    op.drop_table("seed_scale_runs")
    op.drop_index("ix_incidents_unclosed_reported", table_name="incidents")
    op.drop_index("ix_incidents_closed_at", table_name="incidents")
    op.drop_index("ix_incidents_source_reported", table_name="incidents")
