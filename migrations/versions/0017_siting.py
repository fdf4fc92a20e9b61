"""e-bike surveys (电动车入户摸排) and named charger plans (充电桩选址)

Revision ID: 0017_siting
Revises: 0016_device_events
Create Date: 2026-12-02 15:00:00

Two new tables, nothing existing is altered. Their foreign keys take a brief SHARE ROW EXCLUSIVE lock
on the tables they point at (buildings, households, areas, users): with a lock timeout first, so that a
slow query on one of them makes the migration fail and be retried instead of stopping every write
queued behind it. The indexes are on the new, empty tables.
"""

from alembic import op

revision = "0017_siting"
down_revision = "0016_device_events"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE ebike_surveys (
            id serial PRIMARY KEY,
            building_id integer NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
            household_id integer REFERENCES households(id) ON DELETE SET NULL,
            grid_id integer REFERENCES areas(id) ON DELETE SET NULL,
            surveyed_on date NOT NULL,
            surveyor_id integer REFERENCES users(id) ON DELETE SET NULL,
            surveyor_name varchar(64),
            ebikes integer NOT NULL CHECK (ebikes BETWEEN 0 AND 500),
            charge_flat integer NOT NULL DEFAULT 0 CHECK (charge_flat >= 0),
            charge_stairwell integer NOT NULL DEFAULT 0 CHECK (charge_stairwell >= 0),
            charge_window_cable integer NOT NULL DEFAULT 0 CHECK (charge_window_cable >= 0),
            charge_charger integer NOT NULL DEFAULT 0 CHECK (charge_charger >= 0),
            hazards varchar(32)[] NOT NULL DEFAULT '{}',
            note text,
            photo_path varchar(256),
            incident_ids integer[] NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_ebike_surveys_places CHECK (
                charge_flat + charge_stairwell + charge_window_cable + charge_charger <= ebikes)
        );
        CREATE INDEX ix_ebike_surveys_building ON ebike_surveys (building_id, surveyed_on DESC, id DESC);
        CREATE INDEX ix_ebike_surveys_grid ON ebike_surveys (grid_id);

        CREATE TABLE charger_plans (
            id serial PRIMARY KEY,
            name varchar(120) NOT NULL,
            area_id integer NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
            params jsonb NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed')),
            progress jsonb NOT NULL DEFAULT '{}',
            result jsonb,
            error text,
            created_by integer REFERENCES users(id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            chargers_made_at timestamptz,
            CONSTRAINT uq_charger_plans_area_name UNIQUE (area_id, name)
        );
    """)


def downgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE charger_plans; DROP TABLE ebike_surveys;")
