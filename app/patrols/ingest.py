"""Storing fixes: one at a time from tracking apps (the hot path), in batches from the phone page and files.

A single fix is one statement and one round trip: the device, its owner's open patrol and the
``INSERT … ON CONFLICT DO NOTHING`` that ignores a resend (same device and time) run together in
PostgreSQL. Nothing is cached in the process, so every worker sees a device registered or a patrol
stopped by another worker at once. No ORM object and no audit row per fix (patrol start and stop,
imports and edits are audited instead).
"""

import io

import psycopg2.errors
from sqlalchemy.engine import Connection

from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.devices import hash_secret
from app.patrols.models import Device
from app.patrols.partitions import ensure_partitions_for, ensure_partitions_now_and_then
from gis.tracks import Fix

# One fix, one statement: the device (active, of an active user), its owner's open patrol (the
# latest active one, created or joined; a fix taken before it started stays outside it) and the
# INSERT that ignores a resend. Planning this statement took longer than running it (0.3–0.5 ms
# against 0.2 ms), so it is prepared once per connection and then executed with its values: a fix
# costs the database about what the plain INSERT with cached ids did (≈ 0.15 ms, both measured).
_FIX_PARAMS = (
    ("key", "text"),
    ("t", "timestamptz"),
    ("lon", "float8"),
    ("lat", "float8"),
    ("acc", "float8"),
    ("spd", "float8"),
    ("hdg", "float8"),
    ("alt", "float8"),
    ("bat", "float8"),
    ("src", "text"),
)
_STORE_FIX = """
WITH dev AS (
    SELECT d.id, d.user_id FROM devices d JOIN users u ON u.id = d.user_id
    WHERE d.secret_hash = $1 AND d.active AND u.active
), open_patrol AS (
    SELECT p.id, p.started_at FROM patrols p JOIN dev ON true
    WHERE p.state = 'active' AND (p.created_by = dev.user_id OR EXISTS (
        SELECT 1 FROM patrol_participants pp WHERE pp.patrol_id = p.id AND pp.user_id = dev.user_id))
    ORDER BY p.started_at DESC LIMIT 1
), added AS (
    INSERT INTO positions (device_id, user_id, patrol_id, fixed_at, geom, accuracy, speed, heading, altitude,
                           battery, source, street_code)
    SELECT dev.id, dev.user_id, (SELECT o.id FROM open_patrol o WHERE o.started_at <= $2), $2,
           ST_SetSRID(ST_MakePoint($3, $4), 4326), $5, $6, $7, $8, $9, $10,
           wuwei_street_of(ST_SetSRID(ST_MakePoint($3, $4), 4326))
    FROM dev
    ON CONFLICT (device_id, fixed_at) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM dev) AS known, EXISTS (SELECT 1 FROM added) AS added
"""
_PREPARE = f"PREPARE wuwei_store_fix ({', '.join(t for _, t in _FIX_PARAMS)}) AS {_STORE_FIX}"
_EXECUTE = f"EXECUTE wuwei_store_fix ({', '.join(f'%({n})s' for n, _ in _FIX_PARAMS)})"


def _prepare(conn: Connection) -> None:
    """Prepare the statement on this database connection once (prepared statements outlive transactions)."""
    info = conn.connection.info  # lives as long as the driver's connection
    if not info.get("wuwei_store_fix"):
        conn.exec_driver_sql(_PREPARE)
        info["wuwei_store_fix"] = True


UNKNOWN_DEVICE = "unknown device identifier: issue one on the page /patrols/devices"


def store_fix(conn: Connection, secret: str, fix: Fix, source: str) -> bool:
    """Store one fix from the tracking app whose device secret is ``secret``; False when it was a resend.

    The device is found by the secret's hash. The caller owns the transaction (an autocommit
    connection commits at once). Raises a 404 :class:`ApiError` for an unknown secret or an inactive
    device, always with the same message (the protocol chooses the status it answers).
    """
    ensure_partitions_now_and_then(conn)
    _prepare(conn)
    known, added = conn.exec_driver_sql(
        _EXECUTE,
        {
            "key": hash_secret(secret),
            "t": fix.fixed_at,
            "lon": fix.lon,
            "lat": fix.lat,
            "acc": fix.accuracy,
            "spd": fix.speed,
            "hdg": fix.heading,
            "alt": fix.altitude,
            "bat": fix.battery,
            "src": source,
        },
    ).one()
    if not known:
        raise ApiError(404, UNKNOWN_DEVICE, {"id": "unknown device"})
    return added


# Bulk statements, written out once (fixed column lists, no values: those travel in the COPY stream).
_COLS = (
    "(device_id, user_id, patrol_id, fixed_at, geom, accuracy, speed, heading, altitude, battery, source, street_code)"
)
_COPY_POSITIONS = "COPY positions " + _COLS + " FROM STDIN"
_COPY_POSITIONS_LOAD = "COPY positions_load " + _COLS + " FROM STDIN"
_CREATE_LOAD = (
    "CREATE TEMP TABLE IF NOT EXISTS positions_load (device_id int, user_id int, patrol_id int,"
    " fixed_at timestamptz, geom text, accuracy float8, speed float8, heading float8,"
    " altitude float8, battery float8, source text, street_code text) ON COMMIT DELETE ROWS"
)
_MERGE_POSITIONS_LOAD = (
    "INSERT INTO positions " + _COLS + " SELECT device_id, user_id, patrol_id, fixed_at,"  # nosec B608 (constants)
    " geom::geometry, accuracy, speed, heading, altitude, battery, source, street_code FROM positions_load"
    " ON CONFLICT (device_id, fixed_at) DO NOTHING"
)


# The street code of each fix of a batch (the distribution column travels in the COPY stream).
_STREETS = (
    "SELECT coalesce(wuwei_street_of(ST_SetSRID(ST_MakePoint(x, y), 4326)), '') "
    "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS f(x, y, n) ORDER BY n"
)


def _copy_text(device: Device, fixes, source: str, patrol_id: int | None, streets: list[str]) -> io.StringIO:
    null = r"\N"

    def v(x):
        return null if x is None else repr(float(x))

    pid = null if patrol_id is None else str(patrol_id)
    buf = io.StringIO()
    for f, street in zip(fixes, streets, strict=True):
        buf.write(
            f"{device.id}\t{device.user_id}\t{pid}\t{f.fixed_at.isoformat()}\t"
            f"SRID=4326;POINT({f.lon!r} {f.lat!r})\t{v(f.accuracy)}\t{v(f.speed)}\t{v(f.heading)}\t"
            f"{v(f.altitude)}\t{v(f.battery)}\t{source}\t{street or null}\n"
        )
    buf.seek(0)
    return buf


def store_fixes(device: Device, fixes: list[Fix], source: str, patrol_id: int | None) -> int:
    """Bulk-store fixes (phone batches, GPX/CSV imports) through COPY; returns rows added.

    The caller commits. Duplicates within the batch and already stored fixes are skipped.
    """
    if not fixes:
        return 0
    ensure_partitions_for([f.fixed_at for f in fixes])
    unique = list({f.fixed_at: f for f in fixes}.values())  # a file may repeat a point: keep one per time
    raw = db.session.connection().connection.driver_connection
    # Fresh fixes (the usual case) go straight in with COPY; when some were stored before (a resent
    # batch), the savepoint is rolled back and the batch goes through a staging table that skips them.
    with raw.cursor() as cur:
        cur.execute(_STREETS, ([f.lon for f in unique], [f.lat for f in unique]))
        streets = [row[0] for row in cur.fetchall()]
        cur.execute("SAVEPOINT wuwei_copy")
        try:
            cur.copy_expert(_COPY_POSITIONS, _copy_text(device, unique, source, patrol_id, streets))
            cur.execute("RELEASE SAVEPOINT wuwei_copy")
            return len(unique)
        except psycopg2.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT wuwei_copy")
        cur.execute(_CREATE_LOAD)
        cur.copy_expert(_COPY_POSITIONS_LOAD, _copy_text(device, unique, source, patrol_id, streets))
        cur.execute(_MERGE_POSITIONS_LOAD)
        added = cur.rowcount
        cur.execute("TRUNCATE positions_load")
    return added
