"""caps held by the database: photos per incident, sign-ups per activity date

Revision ID: 0012_photo_caps
Revises: 0011_jobs
Create Date: 2026-12-03 10:00:00

Counting in the application and then inserting lets parallel requests pass a cap (40 parallel
uploads stored 21 photos with a cap of 20, issue 14). Each capped insert now runs a trigger that
locks the parent row (so writers to one parent take turns; readers and other parents are not held
up), counts, and refuses one row too many with SQLSTATE 23514 and a constraint name ``cap_*``
that the services turn into 409.

`caps`: caps an operator may raise without a release (docs/operations.md), read by the triggers and
by the services through `wuwei_cap(name)`. An activity's sign-ups per date are capped by the
activity's own `capacity` column.
"""
from alembic import op

revision = '0012_photo_caps'
down_revision = '0011_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        CREATE TABLE caps (
            name text PRIMARY KEY,
            value integer NOT NULL CHECK (value >= 0),
            note text
        );
        INSERT INTO caps (name, value, note) VALUES
            ('incident_photos', 20, 'photos kept per incident');

        CREATE FUNCTION wuwei_cap(cap_name text) RETURNS integer
        LANGUAGE sql STABLE AS $$ SELECT value FROM caps WHERE name = cap_name $$;

        CREATE FUNCTION wuwei_incident_photos_cap() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            cap integer := wuwei_cap('incident_photos');
            n integer;
        BEGIN
            IF cap IS NULL OR (TG_OP = 'UPDATE' AND NEW.incident_id = OLD.incident_id) THEN
                RETURN NEW;
            END IF;
            -- One writer per incident at a time; the count then sees every photo committed before.
            PERFORM 1 FROM incidents WHERE id = NEW.incident_id FOR NO KEY UPDATE;
            SELECT count(*) INTO n FROM incident_photos WHERE incident_id = NEW.incident_id;
            IF n >= cap THEN
                RAISE EXCEPTION 'an incident keeps at most % photos', cap
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'cap_incident_photos';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER trg_incident_photos_cap BEFORE INSERT OR UPDATE OF incident_id ON incident_photos
            FOR EACH ROW EXECUTE FUNCTION wuwei_incident_photos_cap();

        CREATE FUNCTION wuwei_signups_cap() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            cap integer;
            n integer;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.activity_id = OLD.activity_id AND NEW.occurs_on = OLD.occurs_on THEN
                RETURN NEW;
            END IF;
            SELECT capacity INTO cap FROM activities WHERE id = NEW.activity_id FOR NO KEY UPDATE;
            IF cap IS NULL OR cap = 0 THEN
                RETURN NEW;
            END IF;
            SELECT count(*) INTO n FROM signups WHERE activity_id = NEW.activity_id AND occurs_on = NEW.occurs_on;
            IF n >= cap THEN
                RAISE EXCEPTION 'this occurrence is full (% places)', cap
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'cap_signups_capacity';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER trg_signups_cap BEFORE INSERT OR UPDATE OF activity_id, occurs_on ON signups
            FOR EACH ROW EXECUTE FUNCTION wuwei_signups_cap();
    """)


def downgrade():
    op.execute("""
        DROP TRIGGER IF EXISTS trg_signups_cap ON signups;
        DROP FUNCTION IF EXISTS wuwei_signups_cap();
        DROP TRIGGER IF EXISTS trg_incident_photos_cap ON incident_photos;
        DROP FUNCTION IF EXISTS wuwei_incident_photos_cap();
        DROP FUNCTION IF EXISTS wuwei_cap(text);
        DROP TABLE IF EXISTS caps;
    """)
