"""regrid: redrawing a grid reassigns the rows under it; a typed grid_id never sticks

When a grid polygon is inserted, redrawn, re-levelled or deleted, every spatial table
(each table carrying a ``wuwei_assign_grid`` trigger, whichever feature made it) gets
its ``grid_id`` recomputed by one set-based UPDATE over the old and new footprint, in
the same transaction. The row trigger on the base-map tables also fires when only
``grid_id`` is written, so a grid cannot be typed in by SQL either.

Revision ID: 0005_hardening_regrid
Revises: 0004_households
Create Date: 2026-11-25 12:20:00

"""

from alembic import op

revision = "0005_hardening_regrid"
down_revision = "0004_households"
branch_labels = None
depends_on = None

BASE_TABLES = ("compounds", "buildings", "chargers", "bike_zones")


def upgrade():
    op.execute("""
        CREATE OR REPLACE FUNCTION wuwei_assign_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' OR NOT ST_Equals(NEW.geom, OLD.geom)
                    OR NEW.grid_id IS DISTINCT FROM OLD.grid_id THEN
                NEW.grid_id := wuwei_grid_of(NEW.geom);
            END IF;
            RETURN NEW;
        END $$;

        -- Recompute grid_id of every spatial row lying in ``region`` (set-based, one
        -- UPDATE per table). Tables are those with a wuwei_assign_grid row trigger;
        -- partitions inherit their parent's trigger and are reached through it.
        CREATE FUNCTION wuwei_regrid(region geometry) RETURNS bigint
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

        CREATE FUNCTION wuwei_regrid_on_area_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.level = 'grid' THEN
                    PERFORM wuwei_regrid(NEW.geom);
                END IF;
                RETURN NULL;
            ELSIF TG_OP = 'DELETE' THEN
                IF OLD.level = 'grid' THEN
                    PERFORM wuwei_regrid(OLD.geom);
                END IF;
                RETURN NULL;
            END IF;
            IF (OLD.level = 'grid' OR NEW.level = 'grid')
                    AND (OLD.level IS DISTINCT FROM NEW.level OR NOT ST_Equals(OLD.geom, NEW.geom)) THEN
                PERFORM wuwei_regrid(ST_Union(OLD.geom, NEW.geom));
            END IF;
            RETURN NULL;
        END $$;

        CREATE TRIGGER trg_areas_regrid AFTER INSERT OR DELETE OR UPDATE OF geom, level ON areas
            FOR EACH ROW EXECUTE FUNCTION wuwei_regrid_on_area_change();
    """)
    for table in BASE_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_assign_grid ON {table}")
        op.execute(
            f"CREATE TRIGGER trg_{table}_assign_grid BEFORE INSERT OR UPDATE OF geom, grid_id "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION wuwei_assign_grid()"
        )


def downgrade():
    for table in BASE_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_assign_grid ON {table}")
        op.execute(
            f"CREATE TRIGGER trg_{table}_assign_grid BEFORE INSERT OR UPDATE OF geom ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION wuwei_assign_grid()"
        )
    op.execute("""
        DROP TRIGGER IF EXISTS trg_areas_regrid ON areas;
        DROP FUNCTION IF EXISTS wuwei_regrid_on_area_change();
        DROP FUNCTION IF EXISTS wuwei_regrid(geometry);
        CREATE OR REPLACE FUNCTION wuwei_assign_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' OR NOT ST_Equals(NEW.geom, OLD.geom) THEN
                NEW.grid_id := wuwei_grid_of(NEW.geom);
            END IF;
            RETURN NEW;
        END $$;
    """)
