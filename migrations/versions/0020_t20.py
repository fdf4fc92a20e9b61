"""SOS acknowledgements and device-event retention: who acknowledged an alarm and when

Revision ID: 0020_t20
Revises: 0019_close
Create Date: 2026-12-02 15:40:00

* ``device_events.acknowledged_at`` / ``acknowledged_by``: an alarm (SOS) shows on the live map until a
  member of staff acknowledges it (``POST /api/v1/device-events/<id>/acknowledge``, audited).
  Two nullable columns without default: a catalogue change under ``lock_timeout``; the foreign key is
  added ``NOT VALID`` and validated afterwards (no scan under the lock). Alarms older than 30 minutes
  (which had left the map) are marked acknowledged 30 minutes after they were raised, by nobody.
* ``ix_device_events_open_alarms``: the alarms not yet acknowledged (the live map asks for them on every
  refresh); ``ix_device_events_happened_at`` (BRIN): the retention archives events month by month.
  Both built ``CONCURRENTLY``.
"""

from alembic import op

revision = "0020_t20"
down_revision = "0019_close"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE device_events ADD COLUMN acknowledged_at timestamptz, ADD COLUMN acknowledged_by integer")
    op.execute(
        "ALTER TABLE device_events ADD CONSTRAINT fk_device_events_acknowledged_by FOREIGN KEY (acknowledged_by) "
        "REFERENCES users (id) ON DELETE SET NULL NOT VALID"
    )
    op.execute("ALTER TABLE device_events VALIDATE CONSTRAINT fk_device_events_acknowledged_by")
    # Before this, an alarm left the live map after 30 minutes: those are taken as acknowledged then (by
    # nobody), so that the map does not fill with every alarm ever raised. Alarms are few (indexed).
    op.execute(
        "UPDATE device_events SET acknowledged_at = happened_at + interval '30 minutes' "
        "WHERE kind = 'alarm' AND happened_at < now() - interval '30 minutes'"
    )
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_device_events_open_alarms ON device_events (happened_at) "
            "WHERE kind = 'alarm' AND acknowledged_at IS NULL"
        )
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_device_events_happened_at ON device_events "
            "USING brin (happened_at)"
        )


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_device_events_happened_at")
    op.execute("DROP INDEX IF EXISTS ix_device_events_open_alarms")
    op.execute("ALTER TABLE device_events DROP COLUMN acknowledged_by, DROP COLUMN acknowledged_at")
