"""map editing: a feature's history from the audit log, import options, splitting and merging grids

Revision ID: 0014_map_editing
Revises: 0013_notify
Create Date: 2026-12-10 10:00:00

* ``ix_audit_log_row``: a feature's history (its audit entries, newest first) read from the index.
* ``import_jobs.options``: what the user said about a file queued for the jobs worker (coordinate
  system, text encoding, which column feeds which field).
* ``wuwei_move_area_refs(gone, keep)``: every row that refers to area ``gone`` (a grid about to be
  merged into ``keep``) refers to ``keep`` instead — found in the catalogue, so a feature added later
  is covered: users' areas, grid workers, teams, activities, patrols, ``grid_id`` columns. A link row
  that ``keep`` already has (a grid worker of both) is dropped instead of duplicated.
* ``wuwei_regrid_followers(grids)``: rows whose grid is not set by ``wuwei_assign_grid`` (visits,
  wishes) take it again from what they belong to — their household, their building, their place —
  after ``grids`` were redrawn. Households follow their building already (migration 0004).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_map_editing"
down_revision = "0013_notify"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("import_jobs", sa.Column("options", postgresql.JSONB(), nullable=True))
    op.execute("""
        CREATE FUNCTION wuwei_move_area_refs(gone integer, keep integer) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            ref record;
            n bigint;
            total bigint := 0;
        BEGIN
            FOR ref IN
                SELECT c.conrelid::regclass AS tbl, a.attname AS col
                FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                WHERE c.contype = 'f' AND c.confrelid = 'areas'::regclass
                  AND array_length(c.conkey, 1) = 1
                  AND NOT (c.conrelid = 'areas'::regclass AND a.attname = 'parent_id')
            LOOP
                -- A row keep already has, but for this column, would be a duplicate: drop it.
                EXECUTE format(
                    'DELETE FROM %1$s x WHERE x.%2$I = $1 AND EXISTS (SELECT 1 FROM %1$s y '
                    'WHERE y.%2$I = $2 AND to_jsonb(y) - %3$L = to_jsonb(x) - %3$L)',
                    ref.tbl, ref.col, ref.col::text) USING gone, keep;
                EXECUTE format('UPDATE %1$s SET %2$I = $2 WHERE %2$I = $1', ref.tbl, ref.col) USING gone, keep;
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
            END LOOP;
            RETURN total;
        END $$;

        CREATE FUNCTION wuwei_regrid_followers(grids integer[]) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE
            ref record;
            n bigint;
            total bigint := 0;
            expr text;
        BEGIN
            FOR ref IN
                SELECT c.conrelid::regclass AS tbl,
                       bool_or(x.attname = 'household_id') AS by_household,
                       bool_or(x.attname = 'building_id') AS by_building,
                       bool_or(x.attname = 'geom') AS by_place
                FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] AND a.attname = 'grid_id'
                JOIN pg_attribute x ON x.attrelid = c.conrelid AND x.attnum > 0 AND NOT x.attisdropped
                WHERE c.contype = 'f' AND c.confrelid = 'areas'::regclass
                  AND c.conrelid <> 'households'::regclass
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                      WHERE t.tgrelid = c.conrelid AND p.proname = 'wuwei_assign_grid')
                GROUP BY c.conrelid
            LOOP
                expr := 'coalesce(';
                IF ref.by_household THEN
                    expr := expr || '(SELECT h.grid_id FROM households h WHERE h.id = t.household_id), ';
                END IF;
                IF ref.by_building THEN
                    expr := expr || '(SELECT b.grid_id FROM buildings b WHERE b.id = t.building_id), ';
                END IF;
                IF ref.by_place THEN
                    expr := expr || 'CASE WHEN t.geom IS NOT NULL THEN wuwei_grid_of(t.geom) END, ';
                END IF;
                expr := expr || 't.grid_id)';
                EXECUTE format(
                    'UPDATE %1$s t SET grid_id = %2$s WHERE t.grid_id = ANY($1) '
                    'AND t.grid_id IS DISTINCT FROM %2$s', ref.tbl, expr) USING grids;
                GET DIAGNOSTICS n = ROW_COUNT;
                total := total + n;
            END LOOP;
            RETURN total;
        END $$;
    """)
    # The audit log is big on a live system: its index is built without stopping writes.
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_audit_log_row ON audit_log (table_name, row_id, id)")


def downgrade():
    op.execute("DROP FUNCTION IF EXISTS wuwei_regrid_followers(integer[])")
    op.execute("DROP FUNCTION IF EXISTS wuwei_move_area_refs(integer, integer)")
    op.drop_column("import_jobs", "options")
    op.execute("DROP INDEX IF EXISTS ix_audit_log_row")
