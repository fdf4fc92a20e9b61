"""load: data versions of the map tables, for the tile cache (issue 18)

Revision ID: 0015_load
Revises: 0014_map_editing
Create Date: 2026-12-11 10:00:00

* ``table_versions(name, version)``: a number that changes whenever a statement writes the table
  (INSERT, UPDATE, DELETE, TRUNCATE, COPY), set by a statement-level trigger on each map table from
  one sequence. The tile cache (``app.tiles.cache``) keys tiles by these numbers, so any writer — the
  API, an import, a migration, psql — invalidates the tiles of that table. From a sequence, not a
  counter: a rolled-back write never hands out a number again, so a number always means one content.
* Only creates a small table, a function and statement triggers: no lock held beyond ``lock_timeout``.
"""

from alembic import op

revision = "0015_load"
down_revision = "0014_map_editing"
branch_labels = None
depends_on = None

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


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    for t in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {t}_version ON {t}")
    op.execute("DROP FUNCTION IF EXISTS wuwei_bump_table_version()")
    op.execute("DROP TABLE IF EXISTS table_versions")
    op.execute("DROP SEQUENCE IF EXISTS table_version_seq")
