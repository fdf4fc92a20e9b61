"""street_code: the distribution column of the tables that would shard (incidents, positions)

Revision ID: 0023_street_code
Revises: 0022_gridbench
Create Date: 2026-12-02 19:30:00

docs/scaling.md plans to distribute ``incidents`` and ``positions`` by street (Citus,
``create_distributed_table(…, 'street_code')``). This adds the column and keeps it true:

* ``wuwei_street_of(geom)``: the 9-digit code of the street a point belongs to — the street of its grid
  (``wuwei_grid_of``: the first 9 digits of the grid's code), else the street polygon holding it
  (lowest id on a shared edge), else the nearest street (a phone just outside the district still
  belongs to a street office). NULL only while no street exists at all.
* ``street_code varchar(9)`` on both tables (nullable, no default: a catalogue change under
  ``lock_timeout``). The application names it in every INSERT (``wuwei_street_of(geom)``);
  a row trigger fills it when a writer did not, and recomputes it on every UPDATE of the location, the
  grid or the code itself: it follows an incident whose grid changed (a location corrected, grids
  redrawn), and a typed code does not stick. Under Citus a row cannot change shard: there that is a
  delete + insert.
* Existing rows are filled in batches of 20,000 rows, each its own transaction (a live table of a
  million rows is never locked as a whole; concurrent writers meet row locks of one batch at most).
* The covering indexes that answer scope-filtered counts from the index alone (migrations 0007, 0021)
  are rebuilt with ``street_code`` included, CONCURRENTLY, so that the street filter every scoped
  statement now carries does not send those counts back to the heap.
"""

from alembic import op

revision = "0023_street_code"
down_revision = "0022_gridbench"
branch_labels = None
depends_on = None

BATCH = 20_000
OPEN = "state IN ('reported', 'filed', 'dispatched', 'in_progress', 'responded', 'consultation')"
COUNTED = "state NOT IN ('rejected', 'duplicate')"
# name: (key columns, included columns, predicate) — as 0007/0021 made them, plus street_code.
COVERING = {
    "ix_incidents_reported_at": ("reported_at", "grid_id", None),
    "ix_incidents_closed_at": ("closed_at", "grid_id, reported_at, category_id", "closed_at IS NOT NULL"),
    "ix_incidents_grid_reported": ("grid_id, reported_at", "closed_at, state, category_id", None),
    "ix_incidents_open_stage": ("grid_id", "category_id, state, state_changed_at, extension_hours", OPEN),
    "ix_incidents_unclosed_counted": (
        "reported_at",
        "grid_id, category_id",
        f"closed_at IS NULL AND {COUNTED}",
    ),
    "ix_incidents_closed_counted": (
        "closed_at",
        "grid_id, reported_at, category_id",
        f"closed_at IS NOT NULL AND {COUNTED}",
    ),
}


def _index_sql(name: str, with_street: bool) -> str:
    keys, include, where = COVERING[name]
    include = f"{include}, street_code" if with_street else include
    sql = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON incidents ({keys}) INCLUDE ({include})"
    return f"{sql} WHERE {where}" if where else sql


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE OR REPLACE FUNCTION wuwei_street_of(g geometry) RETURNS varchar
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT coalesce(
                (SELECT left(a.code, 9) FROM areas a WHERE a.id = wuwei_grid_of(g)),
                (SELECT a.code FROM areas a
                 WHERE a.level = 'street' AND ST_Intersects(a.geom, ST_PointOnSurface(g))
                 ORDER BY a.id LIMIT 1),
                (SELECT a.code FROM areas a WHERE a.level = 'street' ORDER BY a.geom <-> g, a.id LIMIT 1))
        $$;

        -- Incidents: set when a writer did not; recomputed on every UPDATE of geom, grid_id or street_code (it
        -- follows the grid, and a typed street code does not stick). Fires after trg_incidents_assign_grid.
        CREATE OR REPLACE FUNCTION wuwei_assign_street() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' AND NEW.street_code IS NOT NULL THEN
                RETURN NEW;
            END IF;
            NEW.street_code := coalesce(
                (SELECT left(a.code, 9) FROM areas a WHERE a.id = NEW.grid_id), wuwei_street_of(NEW.geom));
            RETURN NEW;
        END $$;

        -- Positions (no grid): set when a writer did not; recomputed on every UPDATE of geom or street_code.
        CREATE OR REPLACE FUNCTION wuwei_assign_street_point() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' OR NEW.street_code IS NULL THEN
                NEW.street_code := wuwei_street_of(NEW.geom);
            END IF;
            RETURN NEW;
        END $$;
    """)
    op.execute("ALTER TABLE incidents ADD COLUMN IF NOT EXISTS street_code varchar(9)")
    op.execute("ALTER TABLE positions ADD COLUMN IF NOT EXISTS street_code varchar(9)")
    # Named after trg_incidents_assign_grid: BEFORE triggers fire in name order, so grid_id is set first.
    op.execute(
        "CREATE TRIGGER trg_incidents_street BEFORE INSERT OR UPDATE OF geom, grid_id, street_code "
        "ON incidents FOR EACH ROW EXECUTE FUNCTION wuwei_assign_street()"
    )
    op.execute(
        "CREATE TRIGGER trg_positions_street BEFORE INSERT OR UPDATE OF geom, street_code "
        "ON positions FOR EACH ROW EXECUTE FUNCTION wuwei_assign_street_point()"
    )
    with op.get_context().autocommit_block():
        _backfill()
        for name in COVERING:
            op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_old")
            op.execute(_index_sql(name, with_street=True))
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_old")


def _backfill():
    """Existing rows, ~20,000 at a time, each batch committed on its own. Writing the column at all makes the
    row trigger compute it (``SET street_code = NULL`` reads odd, but the trigger is the one rule)."""
    bind = op.get_bind()
    top = bind.exec_driver_sql("SELECT coalesce(max(id), 0) FROM incidents").scalar()
    for low in range(0, top + 1, BATCH):  # incidents by id range
        op.execute(
            "UPDATE incidents SET street_code = NULL "  # nosec B608 (integers)
            f"WHERE id >= {low} AND id < {low + BATCH} AND street_code IS NULL"
        )
    # Positions by partition and block range (a TID range scan per batch, no index needed).
    parts = bind.exec_driver_sql(
        "SELECT c.oid::regclass::text, pg_relation_size(c.oid) / 8192 FROM pg_inherits h "
        "JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = 'positions'::regclass"
    ).all()
    step = max(1, BATCH // 60)  # ~60 fixes to an 8 kB page
    for part, pages in parts:
        for low in range(0, pages + 1, step):
            op.execute(
                f"UPDATE {part} SET street_code = NULL "  # nosec B608 (catalogue names, integers)
                f"WHERE ctid >= '({low},0)'::tid AND ctid < '({low + step},0)'::tid AND street_code IS NULL"
            )


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        for name in COVERING:
            op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_new")
            op.execute(_index_sql(name, with_street=False))
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
    op.execute("DROP TRIGGER IF EXISTS trg_positions_street ON positions")
    op.execute("DROP TRIGGER IF EXISTS trg_incidents_street ON incidents")
    op.execute("ALTER TABLE positions DROP COLUMN IF EXISTS street_code")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS street_code")
    op.execute("DROP FUNCTION IF EXISTS wuwei_assign_street_point()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_assign_street()")
    op.execute("DROP FUNCTION IF EXISTS wuwei_street_of(geometry)")
