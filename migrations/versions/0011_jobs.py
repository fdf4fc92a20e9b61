"""jobs: procrastinate's queue (its schema, as of 3.10.0) and import_jobs

Revision ID: 0011_jobs
Revises: 0010_open311_updates
Create Date: 2026-12-05 10:00:00

The queue of background jobs lives in PostgreSQL (app/core/jobs.py). Its schema is procrastinate's
own ``schema.sql`` of the pinned version, kept beside the migrations (``migrations/sql/``) so that a
fresh database always gets the same one. Upgrading procrastinate: add a migration that applies its
``sql/migrations/*.sql`` deltas from 3.10.0 on, in their order (procrastinate's "Migrate the
Procrastinate schema"); this file stays as it is.

`import_jobs`: an import running as a job — who, which file, its progress and how it ended.
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_jobs"
down_revision = "0010_open311_updates"
branch_labels = None
depends_on = None

SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0.sql"


def upgrade():
    # As procrastinate's SchemaManager.apply_schema does: the driver's %-formatting sees %% for its %.
    op.get_bind().exec_driver_sql(SCHEMA.read_text(encoding="utf-8").replace("%", "%%"))
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("layer", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("stored_name", sa.String(64)),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("phase", sa.String(16)),
        sa.Column("rows_total", sa.Integer()),
        sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("report", postgresql.JSONB()),
        sa.Column("error", postgresql.JSONB()),
        sa.Column("queue_job_id", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="ck_import_jobs_state"),
    )
    op.create_index("ix_import_jobs_user_id", "import_jobs", ["user_id"])


def downgrade():
    op.drop_index("ix_import_jobs_user_id", table_name="import_jobs")
    op.drop_table("import_jobs")
    # Everything procrastinate's schema made: its tables (their triggers go with them), functions, types.
    op.execute(
        "DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
        "procrastinate_workers CASCADE"
    )
    op.execute(r"""
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%'
            LOOP
                EXECUTE 'DROP FUNCTION ' || f;
            END LOOP;
        END $$""")
    op.execute("DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status")
