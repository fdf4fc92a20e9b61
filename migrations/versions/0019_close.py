"""close: consultations that run themselves, the households roster (网格员名册), geofence alerts

Revision ID: 0019_close
Revises: 0018_load
Create Date: 2026-12-12 10:00:00

Safe on a live database: a lock timeout before any strong lock; new tables only, and new nullable
columns without defaults on small tables (no rewrite, no scan).

* ``agenda_items``: a meeting's agenda (议程), numbered per meeting, each optionally about an incident.
* ``decisions.agenda_item_id``: the agenda item a decision settles.
* ``household_obligations``, ``obligation_completions``: yearly obligations of households (养老金资格认证,
  残疾人证年审 …) and the years they were done (网格员名册).
* ``geofence_alerts``: episodes of geofence conditions (a patrol out of its area, a silent phone, a grid not
  walked), one open episode per subject (partial unique index), told once when opened.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_close"
down_revision = "0018_load"
branch_labels = None
depends_on = None

OBLIGATION_KINDS = "('pension_certification', 'disability_review', 'subsistence_review', 'elderly_allowance', 'other')"


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

    op.create_table(
        "household_obligations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("household_id", sa.Integer(), sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("household_members.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_month", sa.SmallInteger(), nullable=False),
        sa.Column("at_home", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("note", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"kind IN {OBLIGATION_KINDS}", name="ck_obligations_kind"),
        sa.CheckConstraint("due_month BETWEEN 1 AND 12", name="ck_obligations_month"),
    )
    op.create_index("ix_obligations_household", "household_obligations", ["household_id"])
    op.create_table(
        "obligation_completions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "obligation_id",
            sa.Integer(),
            sa.ForeignKey("household_obligations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("note", sa.Text()),
    )
    op.create_index("uq_obligation_completions_year", "obligation_completions", ["obligation_id", "year"], unique=True)
    op.create_index("ix_obligation_completions_done_by", "obligation_completions", ["done_by"])
    op.create_table(
        "geofence_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id", ondelete="CASCADE")),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="CASCADE")),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("told", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_geofence_alerts_open ON geofence_alerts "
        "(kind, coalesce(patrol_id, 0), coalesce(user_id, 0), coalesce(area_id, 0)) WHERE ended_at IS NULL"
    )


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("geofence_alerts")
    op.drop_table("obligation_completions")
    op.drop_table("household_obligations")
    op.drop_column("decisions", "agenda_item_id")
    op.drop_table("agenda_items")
