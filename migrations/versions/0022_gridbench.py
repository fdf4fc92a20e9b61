"""grid assignment set-based: a regrid is one spatial join per table, not three function calls per row

Revision ID: 0022_gridbench
Revises: 0021_dash
Create Date: 2026-12-02 15:30:00

``wuwei_regrid(region)`` (migration 0005) recomputed ``grid_id`` with
``UPDATE t SET grid_id = wuwei_grid_of(geom) WHERE … AND grid_id IS DISTINCT FROM wuwei_grid_of(geom)``,
and the row trigger ``wuwei_assign_grid`` then computed it a third time because ``grid_id`` changed.
``wuwei_grid_of`` is a SQL function with a FROM clause: PostgreSQL 15 cannot inline it and plans its
query again on every call (~40–60 µs), so a regrid of a million points took minutes (issue 15's bench,
docs/benchmarks.md ``grid_assign``).

* ``wuwei_regrid_table(tbl, region)``: the same rule (the point on the surface of the row's geometry
  in a grid, ``ST_Intersects``, lowest grid id on a shared edge, NULL outside every grid) as one
  statement: each grid meeting the rows' extent probes the table's GiST index (a LATERAL join kept
  grid-driven), the lowest id is kept per row, and only the rows whose grid changes are written.
* ``wuwei_assign_grid`` trusts ``grid_id`` only inside that statement: the function sets the
  transaction-local ``wuwei.regrid`` to ``on`` around it (and ``off`` again after). Every other write of
  ``geom`` or ``grid_id`` is still recomputed by the trigger, so a typed grid id never sticks.
* ``wuwei_regrid(region)`` calls it for every table with the trigger, as before.
* Functions only (``CREATE OR REPLACE``): no table lock.
"""

from alembic import op

revision = "0022_gridbench"
down_revision = "0021_dash"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE OR REPLACE FUNCTION wuwei_assign_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Inside wuwei_regrid_table's own UPDATE (it writes grid_id only, computed by the same rule).
            IF TG_OP = 'UPDATE' AND current_setting('wuwei.regrid', true) = 'on' THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'INSERT' OR NOT ST_Equals(NEW.geom, OLD.geom)
                    OR NEW.grid_id IS DISTINCT FROM OLD.grid_id THEN
                NEW.grid_id := wuwei_grid_of(NEW.geom);
            END IF;
            RETURN NEW;
        END $$;

        -- Recompute grid_id of every row of ``tbl`` lying in ``region``: one set-based UPDATE (grids joined
        -- through the table's GiST index; lowest grid id on a shared edge; NULL outside every grid).
        CREATE OR REPLACE FUNCTION wuwei_regrid_table(tbl regclass, region geometry) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            n bigint;
            ext geometry;
        BEGIN
            IF region IS NULL OR ST_IsEmpty(region) THEN
                RETURN 0;
            END IF;
            -- The grids that can hold a row of the region meet the extent of those rows.
            EXECUTE format('SELECT ST_SetSRID(ST_Extent(geom)::geometry, $2) FROM %s '
                           'WHERE geom && $1 AND ST_Intersects(geom, $1)', tbl)
                INTO ext USING region, ST_SRID(region);
            IF ext IS NULL THEN
                RETURN 0;
            END IF;
            PERFORM set_config('wuwei.regrid', 'on', true);
            -- Grid-driven: each grid probes the table's GiST index. OFFSET 0 keeps the planner from
            -- flattening the LATERAL into one probe of areas per row (DISTINCT/GROUP BY on the row id
            -- tempts it), which is ~20 times slower at a million rows (docs/benchmarks.md, grid_assign).
            EXECUTE format($q$
                UPDATE %1$s t SET grid_id = n.gid
                FROM (
                    SELECT r.id, h.gid FROM %1$s r
                    LEFT JOIN (
                        SELECT p.id, min(a.id) AS gid
                        FROM areas a CROSS JOIN LATERAL (
                            SELECT p.id FROM %1$s p
                            WHERE p.geom && a.geom AND ST_Intersects(a.geom, ST_PointOnSurface(p.geom))
                              AND p.geom && $1 AND ST_Intersects(p.geom, $1)
                            OFFSET 0) p
                        WHERE a.level = 'grid' AND a.geom && $2
                        GROUP BY p.id
                    ) h ON h.id = r.id
                    WHERE r.geom && $1 AND ST_Intersects(r.geom, $1)
                ) n
                WHERE t.id = n.id AND t.grid_id IS DISTINCT FROM n.gid
            $q$, tbl) USING region, ext;
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM set_config('wuwei.regrid', 'off', true);
            RETURN n;
        END $$;

        CREATE OR REPLACE FUNCTION wuwei_regrid(region geometry) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            tbl regclass;
            total bigint := 0;
        BEGIN
            IF region IS NULL OR ST_IsEmpty(region) THEN
                RETURN 0;
            END IF;
            FOR tbl IN
                SELECT DISTINCT t.tgrelid::regclass FROM pg_trigger t
                JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE p.proname = 'wuwei_assign_grid' AND t.tgparentid = 0 AND NOT t.tgisinternal
            LOOP
                total := total + wuwei_regrid_table(tbl, region);
            END LOOP;
            RETURN total;
        END $$;
    """)


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE OR REPLACE FUNCTION wuwei_regrid(region geometry) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            tbl regclass;
            n bigint;
            total bigint := 0;
        BEGIN
            IF region IS NULL OR ST_IsEmpty(region) THEN
                RETURN 0;
            END IF;
            FOR tbl IN
                SELECT DISTINCT t.tgrelid::regclass FROM pg_trigger t
                JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE p.proname = 'wuwei_assign_grid' AND t.tgparentid = 0 AND NOT t.tgisinternal
            LOOP
                EXECUTE format(
                    'UPDATE %s SET grid_id = wuwei_grid_of(geom) '
                    'WHERE geom && $1 AND ST_Intersects(geom, $1) '
                    'AND grid_id IS DISTINCT FROM wuwei_grid_of(geom)', tbl)
                USING region;
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
            END LOOP;
            RETURN total;
        END $$;
        DROP FUNCTION IF EXISTS wuwei_regrid_table(regclass, geometry);
        CREATE OR REPLACE FUNCTION wuwei_assign_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' OR NOT ST_Equals(NEW.geom, OLD.geom)
                    OR NEW.grid_id IS DISTINCT FROM OLD.grid_id THEN
                NEW.grid_id := wuwei_grid_of(NEW.geom);
            END IF;
            RETURN NEW;
        END $$;
    """)
