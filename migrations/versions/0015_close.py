"""close: consultations that run themselves

Revision ID: 0015_close
Revises: 0014_map_editing
Create Date: 2026-12-12 10:00:00

Safe on a live database: a lock timeout before any strong lock; new tables only, and new nullable
columns without defaults on small tables (no rewrite, no scan).

* ``agenda_items``: a meeting's agenda (议程), numbered per meeting, each optionally about an incident.
* ``decisions.agenda_item_id``: the agenda item a decision settles.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_close"
down_revision = "0014_map_editing"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "agenda_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="SET NULL")),
        sa.UniqueConstraint("meeting_id", "position", name="uq_agenda_items_position"),
    )
    op.add_column(
        "decisions",
        sa.Column("agenda_item_id", sa.Integer(), sa.ForeignKey("agenda_items.id", ondelete="SET NULL")),
    )


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("decisions", "agenda_item_id")
    op.drop_table("agenda_items")
