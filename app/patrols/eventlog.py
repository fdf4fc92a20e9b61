"""Reading device events (alarms, heartbeats, reports without a position, region transitions).

Events say where and when a person was, like positions: they are personal data, read under the same
rules. A patrol's events are read by whoever may read its track (:func:`app.patrols.access.get_patrol`);
a device's events by its owner and by admins (``devices.manage``) whose area holds the owner. Reading
someone else's is audited, as reading their track is.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.audit.services import record
from app.auth.models import User
from app.auth.policy import can, grid_clause, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ
from app.patrols.access import get_patrol, require_track_reader
from app.patrols.models import Device, DeviceEvent


def _iso(value):
    return value.astimezone(TZ).isoformat() if value is not None else None


def _name(display_name, username):
    return display_name or username


def _page(where, kinds, start, end, limit: int, offset: int) -> tuple[list[dict], int]:
    """Events matching ``where`` (and kinds, period), newest first, with device, person and acknowledger."""
    q = select(DeviceEvent.id).where(where)
    if kinds:
        q = q.where(DeviceEvent.kind.in_(kinds))
    if start is not None:
        q = q.where(DeviceEvent.happened_at >= start, DeviceEvent.happened_at < end)
    total = db.session.scalar(select(func.count()).select_from(q.subquery()))
    ack = aliased(User)
    rows = db.session.execute(
        select(
            DeviceEvent,
            Device.identifier,
            User.display_name,
            User.username,
            func.ST_X(DeviceEvent.geom),
            func.ST_Y(DeviceEvent.geom),
            ack.display_name,
            ack.username,
        )
        .join(Device, Device.id == DeviceEvent.device_id)
        .join(User, User.id == DeviceEvent.user_id)
        .outerjoin(ack, ack.id == DeviceEvent.acknowledged_by)
        .where(DeviceEvent.id.in_(q.scalar_subquery()))
        .order_by(DeviceEvent.happened_at.desc(), DeviceEvent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        {
            "id": e.id,
            "device": ident,
            "who": _name(name, username),
            "patrol_id": e.patrol_id,
            "happened_at": _iso(e.happened_at),
            "received_at": _iso(e.received_at),
            "kind": e.kind,
            "detail": e.detail,
            "lon": lon,
            "lat": lat,
            "attributes": e.attributes or {},
            "source": e.source,
            "acknowledged_at": _iso(e.acknowledged_at),
            "acknowledged_by": _name(ack_name, ack_user) if ack_user else None,
        }
        for e, ident, name, username, lon, lat, ack_name, ack_user in rows
    ], total


def patrol_events(user, patrol_id: int, kinds=None, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """The events of a patrol the user may read (404 otherwise), newest first; (page, total)."""
    p = get_patrol(user, patrol_id)
    page, total = _page(DeviceEvent.patrol_id == p.id, kinds, None, None, limit, offset)
    if user not in p.participants and p.created_by != user.id:
        record("read_personal", "patrols", p.id, after={"what": "events"})
        db.session.commit()
    return page, total


def device_events(user, device_id: int, kinds, start, end, limit: int = 100, offset: int = 0):
    """The events of one device in ``[start, end)``, newest first: the owner's own, or an admin's of an
    owner in their area (404 for anyone else's, not told apart from an unknown device); (page, total)."""
    require_track_reader(user)
    device = db.session.get(Device, device_id)
    mine = device is not None and device.user_id == user.id
    managed = (
        device is not None
        and can(user, "devices.manage")
        and db.session.scalar(
            select(User.id).where(User.id == device.user_id, grid_clause(scope_of(user), User.area_id))
        )
        is not None
    )
    if not (mine or managed):
        raise ApiError(404, f"no device {device_id} of yours", {"device": "unknown"})
    page, total = _page(DeviceEvent.device_id == device.id, kinds, start, end, limit, offset)
    if not mine:
        record("read_personal", "devices", device.id, after={"what": "events"})
        db.session.commit()
    return page, total


def events_by_id(ids: list[int]) -> tuple[list[dict], int]:
    """Events by id, as the API shows them (the caller has checked who may read them)."""
    return _page(DeviceEvent.id.in_(ids), None, None, None, len(ids) or 1, 0)
