"""Alarms (SOS) on the live map until staff acknowledge them.

An alarm a phone raised (:mod:`app.patrols.events`) shows on the live map of everyone who may see it —
the members and overseers of its patrol, or, raised outside a patrol, its owner and the overseers of
the owner's area (those :func:`app.patrols.events.raise_sos` told) — until someone who oversees
patrols (``patrols.oversee``) acknowledges it. The acknowledgement is stored on the event (who, when)
and audited; a second one is 409 and says who was first.
"""

import datetime as dt

from sqlalchemy import and_, or_, select

from app.audit.services import audited_update
from app.auth.models import User
from app.auth.policy import can, grid_clause, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ
from app.patrols.access import require_track_reader, visible_clause
from app.patrols.models import DeviceEvent, Patrol


def alarm_clause(user):
    """SQL condition on :class:`DeviceEvent`: alarms ``user`` may see (and, overseeing, acknowledge)."""
    in_patrol = DeviceEvent.patrol_id.in_(select(Patrol.id).where(visible_clause(user)))
    mine = DeviceEvent.user_id == user.id
    outside = DeviceEvent.patrol_id.is_(None)
    if can(user, "patrols.oversee"):
        owners = select(User.id).where(grid_clause(scope_of(user), User.area_id))
        outside = and_(outside, or_(mine, DeviceEvent.user_id.in_(owners)))
    else:
        outside = and_(outside, mine)
    return and_(DeviceEvent.kind == "alarm", or_(in_patrol, outside))


def open_alarm_ids(user) -> list[int]:
    """The alarms ``user`` may see that nobody has acknowledged yet (their live map shows them)."""
    require_track_reader(user)
    stmt = select(DeviceEvent.id).where(DeviceEvent.acknowledged_at.is_(None), alarm_clause(user))
    return list(db.session.scalars(stmt.order_by(DeviceEvent.happened_at.desc()).limit(500)))


def acknowledge(user, event_id: int) -> DeviceEvent:
    """Acknowledge an alarm: stored with who and when, audited. 404 for one the user may not see, 409 when
    someone acknowledged it already."""
    event = db.session.scalar(
        select(DeviceEvent).where(DeviceEvent.id == event_id, alarm_clause(user)).with_for_update()
    )
    if event is None:
        raise ApiError(404, f"no alarm {event_id} that you may see", {"event": "unknown"})
    if event.acknowledged_at is not None:
        by = db.session.get(User, event.acknowledged_by) if event.acknowledged_by else None
        when = event.acknowledged_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
        who = (by.display_name or by.username) if by else "—"
        raise ApiError(409, f"alarm {event_id} was acknowledged by {who} at {when}", {"event": "acknowledged"})
    return audited_update(event, {"acknowledged_at": dt.datetime.now(dt.UTC), "acknowledged_by": user.id})
