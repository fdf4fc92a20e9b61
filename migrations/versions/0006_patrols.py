"""patrols, devices, bad-parking spots and the monthly-partitioned positions table

Revision ID: 0006_patrols
Revises: 0005_hardening_regrid
Create Date: 2026-11-25 12:20:00

Positions are range-partitioned by month; months are Asia/Shanghai calendar months
(a fix at 2026-04-30 16:30 UTC is 1 May in Lanzhou and lands in ``positions_202605``).
``wuwei_ensure_position_partitions(months_ahead, months_back)`` creates missing months
(moving any rows the default partition caught for them); the app calls it on the
ingest path and ``flask patrols partitions`` calls it on demand.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0006_patrols"
down_revision = "0005_hardening_regrid"
branch_labels = None
depends_on = None

PARTITION_FUNCTIONS = r"""
CREATE FUNCTION wuwei_position_partition(month date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    first_day date := date_trunc('month', month)::date;
    lo timestamptz := first_day::timestamp AT TIME ZONE 'Asia/Shanghai';
    hi timestamptz := (first_day + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai';
    part text := 'positions_' || to_char(first_day, 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    -- Serialise creators (several app workers may call this at start-up).
    PERFORM pg_advisory_xact_lock(hashtext('wuwei_positions_partitions'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    -- Rows the default partition caught for this month move to the new partition first,
    -- otherwise attaching would fail.
    EXECUTE format('WITH moved AS (DELETE FROM positions_default WHERE fixed_at >= $1 AND fixed_at < $2 '
                   'RETURNING *) INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    EXECUTE format('ALTER TABLE positions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN part;
END $$;

CREATE FUNCTION wuwei_ensure_position_partitions(months_ahead int, months_back int DEFAULT 1)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    this_month date := date_trunc('month', (now() AT TIME ZONE 'Asia/Shanghai'))::date;
    created integer := 0;
    i integer;
BEGIN
    IF months_ahead < 0 OR months_ahead > 120 OR months_back < 0 OR months_back > 120 THEN
        RAISE EXCEPTION 'months out of range (0..120)';
    END IF;
    FOR i IN -months_back .. months_ahead LOOP
        IF wuwei_position_partition((this_month + make_interval(months => i))::date) IS NOT NULL THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;
"""


def upgrade():
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('traccar', 'owntracks', 'web', 'other')", name="ck_devices_kind"),
        sa.CheckConstraint("identifier ~ '^[A-Za-z0-9_.:/@-]{3,64}$'", name="ck_devices_identifier"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier"),
    )
    op.create_index(op.f("ix_devices_user_id"), "devices", ["user_id"], unique=False)

    op.create_table(
        "patrol_teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["leader_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(op.f("ix_patrol_teams_area_id"), "patrol_teams", ["area_id"], unique=False)
    op.create_index(op.f("ix_patrol_teams_leader_id"), "patrol_teams", ["leader_id"], unique=False)
    op.create_table(
        "patrol_team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["patrol_teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )

    op.create_geospatial_table(
        "patrols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "planned_route",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("cleanup_width_m", sa.Numeric(precision=6, scale=1), nullable=False),
        sa.Column("bags", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=8, scale=1), nullable=True),
        sa.Column("volunteers", sa.Integer(), nullable=True),
        sa.Column("bikes_reparked", sa.Integer(), nullable=True),
        sa.Column("riders_guided", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "track",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("fixes", sa.Integer(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('grid_walk', 'cleanup', 'bike_rectification', 'charger_check', 'other')", name="ck_patrols_kind"
        ),
        sa.CheckConstraint("state IN ('planned', 'active', 'finished', 'cancelled')", name="ck_patrols_state"),
        sa.CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at", name="ck_patrols_times"),
        sa.CheckConstraint("cleanup_width_m > 0 AND cleanup_width_m <= 200", name="ck_patrols_width"),
        sa.CheckConstraint(
            "coalesce(bags, 0) >= 0 AND coalesce(weight_kg, 0) >= 0 AND coalesce(volunteers, 0) >= 0"
            " AND coalesce(bikes_reparked, 0) >= 0 AND coalesce(riders_guided, 0) >= 0",
            name="ck_patrols_counts",
        ),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["patrol_teams.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_patrols_track", "patrols", ["track"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    for col in ("kind", "state", "team_id", "area_id", "created_by", "started_at"):
        op.create_index(op.f(f"ix_patrols_{col}"), "patrols", [col], unique=False)
    op.create_table(
        "patrol_participants",
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patrol_id"], ["patrols.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patrol_id", "user_id"),
    )
    op.create_index("ix_patrol_participants_user", "patrol_participants", ["user_id"], unique=False)

    op.create_geospatial_table(
        "bad_parking_spots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("bikes", sa.Integer(), nullable=False),
        sa.Column("reparked", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("nearest_zone_id", sa.Integer(), nullable=True),
        sa.Column("zone_distance_m", sa.Float(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("bikes >= 0", name="ck_bad_parking_bikes"),
        sa.ForeignKeyConstraint(["grid_id"], ["areas.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["nearest_zone_id"], ["bike_zones.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patrol_id"], ["patrols.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_bad_parking_spots_geom",
        "bad_parking_spots",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_bad_parking_spots_patrol_id"), "bad_parking_spots", ["patrol_id"], unique=False)
    op.create_index(op.f("ix_bad_parking_spots_grid_id"), "bad_parking_spots", ["grid_id"], unique=False)
    op.execute(
        "CREATE TRIGGER trg_bad_parking_spots_assign_grid BEFORE INSERT OR UPDATE OF geom "
        "ON bad_parking_spots FOR EACH ROW EXECUTE FUNCTION wuwei_assign_grid()"
    )

    # Positions: no grid trigger (ingest speed); grids are found in SQL when statistics are built.
    op.execute("""
        CREATE TABLE positions (
            device_id integer NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
            fixed_at timestamptz NOT NULL,
            user_id integer NOT NULL,
            patrol_id integer REFERENCES patrols(id) ON DELETE SET NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            geom geometry(Point, 4326) NOT NULL,
            accuracy double precision,
            speed double precision,
            heading double precision,
            altitude double precision,
            battery double precision,
            source varchar(12) NOT NULL,
            CONSTRAINT positions_pkey PRIMARY KEY (device_id, fixed_at)
        ) PARTITION BY RANGE (fixed_at);
        CREATE INDEX ix_positions_fixed_at ON positions USING brin (fixed_at);
        CREATE INDEX idx_positions_geom ON positions USING gist (geom);
        CREATE INDEX ix_positions_patrol ON positions (patrol_id, fixed_at) WHERE patrol_id IS NOT NULL;
        CREATE INDEX ix_positions_user ON positions (user_id, fixed_at);
        CREATE TABLE positions_default PARTITION OF positions DEFAULT;
    """)
    op.execute(PARTITION_FUNCTIONS)
    op.execute("SELECT wuwei_ensure_position_partitions(3, 2)")


def downgrade():
    op.execute("DROP TABLE IF EXISTS positions CASCADE")
    op.execute("DROP FUNCTION IF EXISTS wuwei_ensure_position_partitions(int, int)")
    op.execute("DROP FUNCTION IF EXISTS wuwei_position_partition(date)")
    op.execute("DROP TRIGGER IF EXISTS trg_bad_parking_spots_assign_grid ON bad_parking_spots")
    op.drop_table("bad_parking_spots")
    op.drop_table("patrol_participants")
    op.drop_table("patrols")
    op.drop_table("patrol_team_members")
    op.drop_table("patrol_teams")
    op.drop_table("devices")
