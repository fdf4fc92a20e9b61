"""walked_days: the days each grid was walked, kept as fixes arrive (issue 18, the city dashboard)

Revision ID: 0026_walked_days
Revises: 0025_open_covering
Create Date: 2026-12-03 05:00:00

The dashboard's "grids not walked" asked, for each grid of the area and each of the two periods,
whether one usable fix lies inside it: 10,000 probes into the month partitions of ``positions`` for a
city of 5,000 grids, ≈ 250 ms of every city dashboard once phones had stored fixes. The answer only
changes when a fix arrives or a grid is redrawn, so it is kept here:

* ``grid_walked_days (grid_id, day)``: a usable fix (accuracy unknown or within ``MAX_ACCURACY_M`` =
  50 m, ``gis.tracks``) lay inside (``ST_Intersects``) the grid on that local day (Asia/Shanghai, the
  app's ``TZ_NAME``). A few rows per grid and day; no person in it.
* ``trg_positions_walked``: a statement trigger with a transition table on ``positions``: every writer
  counts (the tracking ingest's prepared INSERT, the bulk ``COPY``, the ORM, psql); a late fix marks its
  own day. ``trg_positions_walked_moved``: a row trigger on an UPDATE of a fix's time, place or accuracy
  (a column list, so that setting ``patrol_id`` on a patrol's fixes does not fire it; PostgreSQL allows
  no transition table with one). ``ON CONFLICT DO NOTHING``, so concurrent
  writers of the same grid and day do not conflict.
* ``trg_areas_walked``: a grid drawn or redrawn (INSERT, UPDATE OF geom or level) has its days computed
  again from the fixes inside it.
* A walked day stays when its fixes are deleted later (retention detaches old partitions, a device's
  fixes are erased): the grid *was* walked that day.

Existing fixes are marked by partition and block range, each batch committed on its own, after the
trigger is in place (so no fix falls between the two). New table, triggers taken under ``lock_timeout``.
"""

from alembic import op

revision = "0026_walked_days"
down_revision = "0025_open_covering"
branch_labels = None
depends_on = None

BATCH_PAGES = 300  # ~20,000 fixes (~60 to an 8 kB page)

# The rule, in one place: which grids the fixes ``f`` walked, and on which local day.
WALKED = """
    SELECT DISTINCT g.id, timezone('Asia/Shanghai', f.fixed_at)::date
    FROM {fixes} JOIN areas g ON g.level = 'grid' AND g.geom && f.geom AND ST_Intersects(f.geom, g.geom)
    WHERE (f.accuracy IS NULL OR f.accuracy <= 50) {where}
"""
ROW = "(SELECT NEW.fixed_at, NEW.geom, NEW.accuracy) AS f (fixed_at, geom, accuracy)"  # a row trigger's fix


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE IF NOT EXISTS grid_walked_days (
            grid_id integer NOT NULL REFERENCES areas (id) ON DELETE CASCADE,
            day date NOT NULL,
            PRIMARY KEY (grid_id, day)
        )
    """)
    op.execute(f"""
        CREATE OR REPLACE FUNCTION wuwei_mark_walked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO grid_walked_days (grid_id, day)
            {WALKED.format(fixes="new_fixes f", where="")}
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$;

        CREATE OR REPLACE FUNCTION wuwei_mark_walked_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO grid_walked_days (grid_id, day)
            {WALKED.format(fixes=ROW, where="")}
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$;

        CREATE OR REPLACE FUNCTION wuwei_grid_walked_again() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM grid_walked_days WHERE grid_id = NEW.id;
            IF NEW.level = 'grid' THEN
                INSERT INTO grid_walked_days (grid_id, day)
                {WALKED.format(fixes="positions f", where="AND g.id = NEW.id")}
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$;
    """)
    op.execute(
        "CREATE TRIGGER trg_positions_walked AFTER INSERT ON positions "
        "REFERENCING NEW TABLE AS new_fixes FOR EACH STATEMENT EXECUTE FUNCTION wuwei_mark_walked()"
    )
    op.execute(
        "CREATE TRIGGER trg_positions_walked_moved AFTER UPDATE OF fixed_at, geom, accuracy ON positions "
        "FOR EACH ROW EXECUTE FUNCTION wuwei_mark_walked_moved()"
    )
    op.execute(
        "CREATE TRIGGER trg_areas_walked AFTER INSERT OR UPDATE OF geom, level ON areas "
        "FOR EACH ROW EXECUTE FUNCTION wuwei_grid_walked_again()"
    )
    with op.get_context().autocommit_block():
        _backfill()


def _backfill():
    """Mark the fixes stored before the trigger, by partition and block range (TID range scans)."""
    bind = op.get_bind()
    parts = bind.exec_driver_sql(
        "SELECT c.oid::regclass::text, pg_relation_size(c.oid) / 8192 FROM pg_inherits h "
        "JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = 'positions'::regclass"
    ).all()
    for part, pages in parts:
        for low in range(0, pages + 1, BATCH_PAGES):
            where = f"AND f.ctid >= '({low},0)'::tid AND f.ctid < '({low + BATCH_PAGES},0)'::tid"
            op.execute(
                "INSERT INTO grid_walked_days (grid_id, day) "  # nosec B608 (catalogue names, integers)
                f"{WALKED.format(fixes=f'{part} f', where=where)} ON CONFLICT DO NOTHING"
            )


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TRIGGER IF EXISTS trg_areas_walked ON areas")
    op.execute("DROP TRIGGER IF EXISTS trg_positions_walked_moved ON positions")
    op.execute("DROP TRIGGER IF EXISTS trg_positions_walked ON positions")
    op.execute("DROP FUNCTION IF EXISTS wuwei_grid_walked_again()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_mark_walked_moved()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_mark_walked()")
    op.execute("DROP TABLE IF EXISTS grid_walked_days")
