"""load2: a period's sums of the stored incident days, made once (issue 18, the city dashboard)

Revision ID: 0024_load2
Revises: 0023_street_code
Create Date: 2026-12-02 19:30:00

* ``incident_daily_spans``: for an area, its unit length and a span of stored days (``d0``–``d1``,
  split at ``t0`` into the previous period and this one), the sums a dashboard reads of those days
  (``app.incidents.spans``): reported, closed and the histogram of hours to close per unit and for the
  area, the area's reported count per day, its closed incidents per category. A city's 60 stored days
  are ~130,000 histogram buckets to read and add per request; a span is one row.
* ``wuwei_incident_daily_spans_stale()``: a statement trigger with a transition table on
  ``incident_daily_days``: a stored day dropped (a write of ``incidents`` touched it, an area code
  changed: migration 0021's triggers) drops every span that covers it.
* ``ix_heat_bins_cells``: the stored heat bins by cell before day (the primary key leads with the day, so a
  screen's cells were filtered inside every day's range: a z14 screen of 28 days read 40,000 index
  entries for 2,500, 14 → 4.5 ms), built CONCURRENTLY.
* A new, empty table and a trigger on a table the web requests write only through ``app.incidents.daily``:
  no lock on a live table beyond a moment's (``lock_timeout``).
"""

from alembic import op

revision = "0024_load2"
down_revision = "0023_street_code"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE incident_daily_spans (
            area text COLLATE "C" NOT NULL, n smallint NOT NULL,
            d0 date NOT NULL, t0 date NOT NULL, d1 date NOT NULL,
            facts jsonb NOT NULL, made_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (area, n, d0, t0, d1))
    """)
    op.execute("CREATE INDEX ix_incident_daily_spans_made_at ON incident_daily_spans (made_at)")
    op.execute("""
        CREATE FUNCTION wuwei_incident_daily_spans_stale() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM incident_daily_spans s
            WHERE EXISTS (SELECT 1 FROM old_days o WHERE o.day >= s.d0 AND o.day < s.d1);
            RETURN NULL;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER incident_daily_days_spans AFTER DELETE ON incident_daily_days "
        "REFERENCING OLD TABLE AS old_days FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_spans_stale()"
    )
    op.execute("""
        CREATE FUNCTION wuwei_incident_daily_spans_truncated() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM incident_daily_spans;
            RETURN NULL;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER incident_daily_days_spans_trunc AFTER TRUNCATE ON incident_daily_days "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_spans_truncated()"
    )
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_heat_bins_cells ON heat_bins (source, shape, size, i, j, day) "
            "INCLUDE (area, n)"
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_heat_bins_cells")
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TRIGGER IF EXISTS incident_daily_days_spans_trunc ON incident_daily_days")
    op.execute("DROP TRIGGER IF EXISTS incident_daily_days_spans ON incident_daily_days")
    op.execute("DROP FUNCTION IF EXISTS wuwei_incident_daily_spans_truncated()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_incident_daily_spans_stale()")
    op.execute("DROP TABLE IF EXISTS incident_daily_spans")
