"""security: server-side login sessions, and rate-limit counters shared by every worker

Revision ID: 0009_sessions_rate_limits
Revises: 0008_dashboard_covering
Create Date: 2026-12-02 10:00:00

`user_sessions`: a login's token (SHA-256 only); logout revokes it, so a copied cookie stops working.
`rate_limits`: fixed-window counters per key (login and public endpoints), counted in PostgreSQL
instead of per gunicorn worker. UNLOGGED: counters are not worth WAL, and a crash only resets them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_sessions_rate_limits"
down_revision = "0008_dashboard_covering"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_agent", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.execute("""
        CREATE UNLOGGED TABLE rate_limits (
            key text PRIMARY KEY,
            hits integer NOT NULL,
            expires_at timestamptz NOT NULL
        )""")


def downgrade():
    op.execute("DROP TABLE rate_limits")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
