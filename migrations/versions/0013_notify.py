"""notify: departments and property companies act in Wuwei, residents follow their report, notices

Revision ID: 0013_notify
Revises: 0012_photo_caps
Create Date: 2026-12-06 10:00:00

Safe on a live database (tests/test_migration_locks.py): a lock timeout before any strong lock, no
rewrite of `incidents` (new columns take no volatile default; the tokens of existing rows are filled
in batches after the transaction), the unique index built CONCURRENTLY, the satisfaction check added
NOT VALID (it holds for every row written from now on; existing rows have no rating yet).

- `users.role` may be `department`: the people of a department or a property company (处置端).
- `organisations` links a `departments` or `property_companies` row whose people work in Wuwei;
  `organisation_members` says who belongs to which (one organisation per user).
- The case number (案件号, 8 characters read out on the phone) is not stored: it is computed from the id
  through a bijection (app/incidents/models.py), unique by construction, and read back to the id.
  `incidents.public_token` opens the resident's status page (122 random bits from gen_random_uuid);
  `extension_hours` (time granted in the current stage), `deadline_notified` (0, 1 deadline near told,
  2 overdue told; both reset when the stage changes), `satisfaction` (the resident's rating).
- `incident_transitions.public_note`: the reply the resident reads; `note` stays internal.
- `incident_extensions`: requests for more time and their decisions (one pending per incident).
- `notices`, `notice_settings`, `notice_subscriptions`: the in-app inbox, e-mail, area subscriptions.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_notify"
down_revision = "0012_photo_caps"
branch_labels = None
depends_on = None

OLD_ROLES = "('admin', 'leader', 'planner', 'staff', 'grid_worker', 'patrol')"
NEW_ROLES = "('admin', 'leader', 'planner', 'staff', 'grid_worker', 'patrol', 'department')"
TOKEN = "replace(gen_random_uuid()::text, '-', '')"


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users", f"role IN {NEW_ROLES}")

    # No volatile default when the column is added (that would rewrite the table): the default applies
    # to new rows from here on, the existing rows get theirs in batches below.
    op.add_column("incidents", sa.Column("public_token", sa.String(32)))
    op.execute(f"ALTER TABLE incidents ALTER COLUMN public_token SET DEFAULT {TOKEN}")
    op.add_column("incidents", sa.Column("extension_hours", sa.Float(), nullable=False, server_default="0"))
    op.add_column("incidents", sa.Column("deadline_notified", sa.SmallInteger(), nullable=False, server_default="0"))
    op.add_column("incidents", sa.Column("satisfaction", sa.String(24)))
    op.execute(
        "ALTER TABLE incidents ADD CONSTRAINT ck_incidents_satisfaction "
        "CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')) NOT VALID"
    )
    op.add_column("incident_transitions", sa.Column("public_note", sa.Text()))

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id", ondelete="CASCADE"), unique=True),
        sa.Column(
            "property_company_id", sa.Integer(), sa.ForeignKey("property_companies.id", ondelete="CASCADE"), unique=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("(department_id IS NULL) <> (property_company_id IS NULL)", name="ck_organisations_target"),
    )
    op.create_table(
        "organisation_members",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_organisation_members_organisation_id", "organisation_members", ["organisation_id"])
    op.create_table(
        "incident_extensions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("granted", sa.Boolean()),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.Text()),
    )
    op.create_index("ix_incident_extensions_incident_id", "incident_extensions", ["incident_id"])
    op.create_index(
        "ix_incident_extensions_pending",
        "incident_extensions",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("decided_at IS NULL"),
    )

    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("params", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("link", sa.String(512)),
        sa.Column("in_inbox", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("email_to", sa.String(254)),
        sa.Column("email_state", sa.String(16)),
        sa.Column("email_attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("email_error", sa.Text()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("user_id", "key", name="uq_notices_user_key"),
        sa.CheckConstraint("email_state IN ('queued', 'sending', 'sent', 'failed')", name="ck_notices_email_state"),
    )
    op.create_index("ix_notices_user_created", "notices", ["user_id", "created_at"])
    op.create_index(
        "ix_notices_unread", "notices", ["user_id"], postgresql_where=sa.text("read_at IS NULL AND in_inbox")
    )
    op.create_table(
        "notice_settings",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email", sa.String(254)),
        sa.Column("language", sa.String(8), server_default="zh", nullable=False),
        sa.Column("kinds", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "notice_subscriptions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kinds", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("user_id", "area_id", name="uq_notice_subscriptions_user_area"),
    )
    op.create_index("ix_notice_subscriptions_user_id", "notice_subscriptions", ["user_id"])
    op.create_index("ix_notice_subscriptions_area_id", "notice_subscriptions", ["area_id"])

    with op.get_context().autocommit_block():
        while True:  # existing rows' tokens, 10,000 at a time (short row locks, no table lock)
            done = (
                op.get_bind()
                .execute(
                    sa.text(
                        f"UPDATE incidents SET public_token = {TOKEN} WHERE id IN "
                        "(SELECT id FROM incidents WHERE public_token IS NULL LIMIT 10000)"
                    )
                )
                .rowcount
            )
            if not done:
                break
        op.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS incidents_public_token_key ON incidents (public_token)"
        )


def downgrade():
    op.drop_table("notice_subscriptions")
    op.drop_table("notice_settings")
    op.drop_table("notices")
    op.drop_table("incident_extensions")
    op.drop_table("organisation_members")
    op.drop_table("organisations")
    op.drop_column("incident_transitions", "public_note")
    op.drop_constraint("ck_incidents_satisfaction", "incidents", type_="check")
    op.execute("DROP INDEX IF EXISTS incidents_public_token_key")
    for column in ("satisfaction", "deadline_notified", "extension_hours", "public_token"):
        op.drop_column("incidents", column)
    op.execute("DELETE FROM users WHERE role = 'department'")
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users", f"role IN {OLD_ROLES}")
