"""Device events: what a phone reports besides a fix, and the SOS alert it may raise.

A tracking app's request may carry an alarm (Traccar Client's SOS button: ``alarm=sos``), a heartbeat
or a report without a position, or an OwnTracks region transition. Each is stored once in
``device_events`` with the device, its owner and the patrol open at that time. An SOS from a phone
tells, in the same transaction, the staff who oversee patrols in the patrol's area (or the owner's
area outside a patrol) through :mod:`app.notices`, and shows on the live map (:mod:`app.patrols.live`).
"""

import json
import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select, text

from app.areas.models import Area
from app.auth.models import User
from app.auth.policy import roles_with
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ
from app.notices.kinds import register_kind
from app.notices.services import notify
from app.patrols.devices import hash_secret
from app.patrols.ingest import UNKNOWN_DEVICE, store_fix
from gis.tracks import DeviceEvent, Fix

log = logging.getLogger(__name__)

SOS = "patrol.sos"
register_kind(SOS, _l("巡查求助（SOS）"), _l("%(who)s 在 %(time)s 发出求助（SOS）：%(place)s"), order=5)

_STORE_EVENT = text("""
WITH dev AS (
    SELECT d.id, d.user_id FROM devices d JOIN users u ON u.id = d.user_id
    WHERE d.secret_hash = :key AND d.active AND u.active
), open_patrol AS (
    SELECT p.id FROM patrols p JOIN dev ON true
    WHERE p.state = 'active' AND p.started_at <= :t AND (p.created_by = dev.user_id OR EXISTS (
        SELECT 1 FROM patrol_participants pp WHERE pp.patrol_id = p.id AND pp.user_id = dev.user_id))
    ORDER BY p.started_at DESC LIMIT 1
), added AS (
    INSERT INTO device_events (device_id, user_id, patrol_id, happened_at, kind, detail, geom, attributes, source)
    SELECT dev.id, dev.user_id, (SELECT id FROM open_patrol), :t, :kind, :detail,
           CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END,
           CAST(:attrs AS jsonb), :src
    FROM dev
    ON CONFLICT (device_id, happened_at, kind, detail) DO NOTHING
    RETURNING id, user_id, patrol_id
)
SELECT EXISTS (SELECT 1 FROM dev) AS known, a.id, a.user_id, a.patrol_id FROM (SELECT 1) one
LEFT JOIN added a ON true
""")


def store_event(secret: str, event: DeviceEvent, source: str):
    """Store one event of the device whose secret is ``secret``; the new row (id, user_id, patrol_id),
    or None when it was a resend. Raises a 404 :class:`ApiError` for an unknown secret."""
    row = db.session.execute(
        _STORE_EVENT,
        {
            "key": hash_secret(secret),
            "t": event.happened_at,
            "kind": event.kind,
            "detail": event.detail,
            "lon": event.lon,
            "lat": event.lat,
            "attrs": json.dumps(event.attributes) if event.attributes else None,
            "src": source,
        },
    ).one()
    if not row.known:
        raise ApiError(404, UNKNOWN_DEVICE, {"id": "unknown device"})
    return row if row.id is not None else None


def record_report(secret: str, fixes: list[Fix], events: list[DeviceEvent], source: str) -> None:
    """Store the fixes and events of one request, raise the alerts they call for, and commit all at once."""
    conn = db.session.connection()
    for fix in fixes:
        store_fix(conn, secret, fix, source)
    for event in events:
        row = store_event(secret, event, source)
        if row is not None and event.kind == "alarm" and event.detail.lower() == "sos":
            raise_sos(row, event)
    db.session.commit()


def _area_code(user_id: int, patrol_id: int | None) -> str | None:
    if patrol_id is not None:
        stmt = text("SELECT a.code FROM patrols p JOIN areas a ON a.id = p.area_id WHERE p.id = :i")
        return db.session.execute(stmt, {"i": patrol_id}).scalar()
    stmt = text("SELECT a.code FROM users u JOIN areas a ON a.id = u.area_id WHERE u.id = :i")
    return db.session.execute(stmt, {"i": user_id}).scalar()


def overseers(area_code: str | None) -> list[int]:
    """Active users who oversee patrols in an area holding ``area_code`` (its staff, and those above)."""
    if not area_code:
        return []
    return list(
        db.session.scalars(
            select(User.id)
            .join(Area, Area.id == User.area_id)
            .where(
                User.active.is_(True),
                User.role.in_(roles_with("patrols.oversee")),
                literal(area_code).startswith(Area.code),
            )
            .order_by(User.id)
        )
    )


def raise_sos(row, event: DeviceEvent) -> int:
    """Tell the overseers of the patrol's area that its member asked for help; how many were told."""
    who = db.session.get(User, row.user_id)
    staff = [u for u in overseers(_area_code(row.user_id, row.patrol_id)) if u != row.user_id]
    place = f"{event.lat:.5f}, {event.lon:.5f}" if event.lat is not None else str(_l("位置未知"))
    params = {
        "who": who.display_name or who.username,
        "time": event.happened_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
        "place": place,
        "patrol_id": row.patrol_id,
    }
    link = f"/patrols/{row.patrol_id}" if row.patrol_id else "/patrols/live"
    log.warning("SOS from user %s (patrol %s) at %s", row.user_id, row.patrol_id, params["time"])
    return notify(staff, SOS, f"sos:{row.id}", params, link)
