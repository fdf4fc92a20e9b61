"""load: data versions of the map tables (tile cache) and heat bins made once (issue 18)

Revision ID: 0018_load
Revises: 0017_siting
Create Date: 2026-12-11 10:00:00

* ``table_versions(name, version)``: a number that changes whenever a statement writes the table
  (INSERT, UPDATE, DELETE, TRUNCATE, COPY), set by a statement-level trigger on each map table from
  one sequence. The tile cache (``app.tiles.cache``) keys tiles by these numbers, so any writer — the
  API, an import, a migration, psql — invalidates the tiles of that table. From a sequence, not a
  counter: a rolled-back write never hands out a number again, so a number always means one content.
* ``heat_bin_days`` / ``heat_bins``: heat-map bins made once per source, shape, cell size and local
  day (``app.heatmaps.bins``), counted per street. ``wuwei_heat_bins_stale(time column, columns)`` is a
  statement trigger with transition tables on a binned table (incidents): a write drops the bins of
  the days it touched (an UPDATE only when a binned column changed, not a state change), and the next
  request makes them again. Writers hold a shared advisory lock that a refill takes exclusively, so a
  refill never misses a write committed while it ran.
* Only creates small tables, functions and statement triggers: no lock held beyond ``lock_timeout``.
"""

from alembic import op

revision = "0018_load"
down_revision = "0017_siting"
branch_labels = None
depends_on = None

# Binned tables: (table, time column, the columns a bin depends on: place, time, area, fixed filters).
HEAT_TABLES = (("incidents", "reported_at", "reported_at,geom,grid_id,category_id"),)
TZ = "Asia/Shanghai"  # app.core.time.TZ: bins are per local day

# The tables vector tiles are drawn from (app.basemap.layers), and areas (every tile is limited to the
# user's area through it).
TABLES = ("areas", "buildings", "compounds", "chargers", "bike_zones")


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("CREATE SEQUENCE table_version_seq")
    op.execute("CREATE TABLE table_versions (name text PRIMARY KEY, version bigint NOT NULL)")
    op.execute("""
        CREATE FUNCTION wuwei_bump_table_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO table_versions (name, version) VALUES (TG_TABLE_NAME, nextval('table_version_seq'))
            ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version;
            RETURN NULL;
        END $$
    """)
    for t in TABLES:
        op.execute(f"INSERT INTO table_versions (name, version) VALUES ('{t}', nextval('table_version_seq'))")
        op.execute(
            f"CREATE TRIGGER {t}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION wuwei_bump_table_version()"
        )

    _heat_bins()


def _heat_bins():
    op.execute("""
        CREATE TABLE heat_bin_days (
            tbl text NOT NULL, source text NOT NULL, shape text NOT NULL, size double precision NOT NULL,
            day date NOT NULL, PRIMARY KEY (source, shape, size, day))
    """)
    op.execute("CREATE INDEX ix_heat_bin_days_tbl_day ON heat_bin_days (tbl, day)")
    op.execute("""
        CREATE TABLE heat_bins (
            source text NOT NULL, shape text NOT NULL, size double precision NOT NULL, day date NOT NULL,
            area text NOT NULL, i integer NOT NULL, j integer NOT NULL, n integer NOT NULL,
            PRIMARY KEY (source, shape, size, day, area, i, j),
            FOREIGN KEY (source, shape, size, day) REFERENCES heat_bin_days ON DELETE CASCADE)
    """)
    _stale_function()
    _heat_triggers()


def _stale_function():
    op.execute(f"""
        CREATE FUNCTION wuwei_heat_bins_stale() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            tcol text := TG_ARGV[0];
            cols text[] := string_to_array(TG_ARGV[1], ',');
            o text;
            n text;
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(hashtext('heat_bins:' || TG_TABLE_NAME));
            IF TG_OP = 'TRUNCATE' THEN
                DELETE FROM heat_bin_days WHERE tbl = TG_TABLE_NAME;
            ELSIF TG_OP = 'INSERT' THEN
                EXECUTE format('DELETE FROM heat_bin_days WHERE tbl = %L AND day IN '
                               '(SELECT DISTINCT timezone(%L, %I)::date FROM new_rows)', TG_TABLE_NAME, '{TZ}', tcol);
            ELSIF TG_OP = 'DELETE' THEN
                EXECUTE format('DELETE FROM heat_bin_days WHERE tbl = %L AND day IN '
                               '(SELECT DISTINCT timezone(%L, %I)::date FROM old_rows)', TG_TABLE_NAME, '{TZ}', tcol);
            ELSE
                SELECT string_agg('o.' || quote_ident(c), ','), string_agg('n.' || quote_ident(c), ',')
                  INTO o, n FROM unnest(cols) c;
                EXECUTE format('DELETE FROM heat_bin_days WHERE tbl = %1$L AND day IN ('
                               'SELECT timezone(%2$L, d)::date FROM old_rows o JOIN new_rows n USING (id), '
                               'LATERAL (VALUES (o.%3$I), (n.%3$I)) AS t(d) WHERE (%4$s) IS DISTINCT FROM (%5$s))',
                               TG_TABLE_NAME, '{TZ}', tcol, o, n);
            END IF;
            RETURN NULL;
        END $$
    """)


def _heat_triggers():
    for table, time_col, cols in HEAT_TABLES:
        args = f"'{time_col}', '{cols}'"
        op.execute(
            f"CREATE TRIGGER {table}_heat_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION wuwei_heat_bins_stale({args})"
        )
        op.execute(
            f"CREATE TRIGGER {table}_heat_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION wuwei_heat_bins_stale({args})"
        )
        op.execute(
            f"CREATE TRIGGER {table}_heat_upd AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION wuwei_heat_bins_stale({args})"
        )
        op.execute(
            f"CREATE TRIGGER {table}_heat_trunc AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION wuwei_heat_bins_stale({args})"
        )


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    for table, _, _ in HEAT_TABLES:
        for kind in ("ins", "del", "upd", "trunc"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_heat_{kind} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS wuwei_heat_bins_stale()")
    op.execute("DROP TABLE IF EXISTS heat_bins")
    op.execute("DROP TABLE IF EXISTS heat_bin_days")
    for t in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {t}_version ON {t}")
    op.execute("DROP FUNCTION IF EXISTS wuwei_bump_table_version()")
    op.execute("DROP TABLE IF EXISTS table_versions")
    op.execute("DROP SEQUENCE IF EXISTS table_version_seq")
