"""device secrets: a tracking device reports with a secret the server issued, stored hashed

Revision ID: 0015_device_secrets
Revises: 0014_map_editing
Create Date: 2026-12-02 15:00:00

* ``devices.secret_hash``: SHA-256 (hex) of the device's secret — what Traccar Client sends as its
  device identifier and OwnTracks as its Basic-auth password. Fixes are matched to a device by it,
  through the unique index ``ux_devices_secret_hash`` (built concurrently: devices are read by every fix).
* Existing devices get no secret: their old identifiers were sent in plain text, some were guessable
  (``web-<user>``, Traccar's 6-digit default), and they cannot be turned into secrets after the fact.
  Until its owner issues a new secret on ``/patrols/devices`` (or ``flask devices renew``), such a
  device reports nothing; its stored positions are untouched. ``identifier`` stays as its public name.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_device_secrets"
down_revision = "0014_map_editing"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("devices", sa.Column("secret_hash", sa.String(64), nullable=True))  # no rewrite, no default
    with op.get_context().autocommit_block():
        op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_devices_secret_hash ON devices (secret_hash)")


def downgrade():
    op.execute("DROP INDEX IF EXISTS ux_devices_secret_hash")
    op.drop_column("devices", "secret_hash")
