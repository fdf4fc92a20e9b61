"""dash: the dashboard's incident figures from daily pre-aggregates; overdue counts from covering indexes

Revision ID: 0021_dash
Revises: 0020_t20
Create Date: 2026-12-12 10:00:00

* ``incident_daily_days(day)`` / ``incident_daily``: per local day, area (every code level an incident's
  grid lies in: city, district, street, community, grid, micro-grid) and category (0: all of them),
  the incidents reported, the incidents closed and a histogram of the closed ones' hours to close
  (``hours``: bucket numbers of ``app.incidents.daily.EDGES``, ``hours_n``: how many in each), made
  once by ``app.incidents.daily`` the first time a dashboard needs the day.
* ``wuwei_incident_daily_stale()``: a statement trigger with transition tables on ``incidents``: a
  write drops the stored days it touched (the reported and closed days of the old and new rows; an
  UPDATE only when one of reported_at, closed_at, grid_id, category_id changed), so the next dashboard
  makes them again; on ``areas``, a code changed or an area deleted drops every day. Writers hold a
  shared advisory lock that a refill takes exclusively (as the heat bins of 0018 do).
* Three covering partial indexes, built CONCURRENTLY (a live table of a million rows is not locked):
  overdue now (open incidents with their stage times) and overdue at a past date (counted incidents
  unclosed, and closed after a date), read from the indexes alone.
"""

from alembic import op

revision = "0021_dash"
down_revision = "0020_t20"
branch_labels = None
depends_on = None

TZ = "Asia/Shanghai"  # app.core.time.TZ: days are local days
OPEN = "('reported', 'filed', 'dispatched', 'in_progress', 'responded', 'consultation')"  # OPEN_STATES


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("CREATE TABLE incident_daily_days (day date PRIMARY KEY)")
    op.execute("""
        CREATE TABLE incident_daily (
            day date NOT NULL REFERENCES incident_daily_days ON DELETE CASCADE,
            code_len smallint NOT NULL, area text COLLATE "C" NOT NULL, category_id integer NOT NULL,
            reported integer NOT NULL, closed integer NOT NULL,
            hours smallint[] NOT NULL, hours_n integer[] NOT NULL,
            PRIMARY KEY (code_len, category_id, area, day))
    """)
    op.execute("CREATE INDEX ix_incident_daily_day ON incident_daily (day)")
    _stale_functions()
    op.execute(
        "CREATE TRIGGER incidents_daily_ins AFTER INSERT ON incidents REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_stale()"
    )
    op.execute(
        "CREATE TRIGGER incidents_daily_del AFTER DELETE ON incidents REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_stale()"
    )
    op.execute(
        "CREATE TRIGGER incidents_daily_upd AFTER UPDATE ON incidents "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_stale()"
    )
    op.execute(
        "CREATE TRIGGER incidents_daily_trunc AFTER TRUNCATE ON incidents "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_stale()"
    )
    op.execute(
        "CREATE TRIGGER areas_daily_upd AFTER UPDATE ON areas REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_areas()"
    )
    op.execute(
        "CREATE TRIGGER areas_daily_del AFTER DELETE ON areas "
        "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_incident_daily_areas()"
    )
    _indexes()


def _stale_functions():
    op.execute(f"""
        CREATE FUNCTION wuwei_incident_daily_stale() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(hashtext('incident_daily'));
            IF TG_OP = 'TRUNCATE' THEN
                DELETE FROM incident_daily_days;
            ELSIF TG_OP = 'INSERT' THEN
                DELETE FROM incident_daily_days WHERE day IN (
                    SELECT timezone('{TZ}', t)::date FROM new_rows, LATERAL (VALUES (reported_at), (closed_at)) v(t));
            ELSIF TG_OP = 'DELETE' THEN
                DELETE FROM incident_daily_days WHERE day IN (
                    SELECT timezone('{TZ}', t)::date FROM old_rows, LATERAL (VALUES (reported_at), (closed_at)) v(t));
            ELSE
                DELETE FROM incident_daily_days WHERE day IN (
                    SELECT timezone('{TZ}', t)::date
                    FROM old_rows o JOIN new_rows n USING (id),
                         LATERAL (VALUES (o.reported_at), (o.closed_at), (n.reported_at), (n.closed_at)) v(t)
                    WHERE (o.reported_at, o.closed_at, o.grid_id, o.category_id)
                          IS DISTINCT FROM (n.reported_at, n.closed_at, n.grid_id, n.category_id));
            END IF;
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE FUNCTION wuwei_incident_daily_areas() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Two branches: a DELETE trigger has no transition tables to look at.
            IF TG_OP = 'UPDATE' THEN
                IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (id)
                               WHERE o.code IS DISTINCT FROM n.code) THEN
                    RETURN NULL;
                END IF;
            END IF;
            PERFORM pg_advisory_xact_lock_shared(hashtext('incident_daily'));
            DELETE FROM incident_daily_days;
            RETURN NULL;
        END $$
    """)


def _indexes():
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_incidents_open_stage ON incidents (grid_id) "
            f"INCLUDE (category_id, state, state_changed_at, extension_hours) WHERE state IN {OPEN}"
        )
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_incidents_unclosed_counted ON incidents (reported_at) "
            "INCLUDE (grid_id, category_id) WHERE closed_at IS NULL AND state NOT IN ('rejected', 'duplicate')"
        )
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_incidents_closed_counted ON incidents (closed_at) "
            "INCLUDE (grid_id, reported_at, category_id) "
            "WHERE closed_at IS NOT NULL AND state NOT IN ('rejected', 'duplicate')"
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_incidents_closed_counted")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_incidents_unclosed_counted")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_incidents_open_stage")
    op.execute("SET LOCAL lock_timeout = '5s'")
    for kind in ("ins", "del", "upd", "trunc"):
        op.execute(f"DROP TRIGGER IF EXISTS incidents_daily_{kind} ON incidents")
    op.execute("DROP TRIGGER IF EXISTS areas_daily_upd ON areas")
    op.execute("DROP TRIGGER IF EXISTS areas_daily_del ON areas")
    op.execute("DROP FUNCTION IF EXISTS wuwei_incident_daily_areas()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_incident_daily_stale()")
    op.execute("DROP TABLE IF EXISTS incident_daily")
    op.execute("DROP TABLE IF EXISTS incident_daily_days")
