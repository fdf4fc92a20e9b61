"""Activities with RFC 5545 recurrences, and the calendar of their occurrences."""
import datetime as dt

from sqlalchemy import func, select

from app.audit.services import audited_insert, audited_update
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ, day_start, now
from app.volunteers import recurrence
from app.volunteers.common import community, require_manage, visible, visible_or_404
from app.volunteers.models import Activity, SignUp
from app.volunteers.schemas import ActivityIn, ActivityPatch
from app.volunteers.teams import get_team

MAX_CALENDAR_DAYS = 400


def _normalised_rule(values: dict, dtstart: dt.datetime) -> None:
    """Check ``values["rrule"]`` (when sent) against ``dtstart`` and store it normalised; 422 naming ``rrule``."""
    if values.get("rrule"):
        try:
            recurrence.parse_rule(values["rrule"], dtstart)
        except recurrence.RecurrenceError as e:
            raise ApiError(422, "invalid activity", {"rrule": str(e)}) from None
        values["rrule"] = recurrence.normalise(values["rrule"])


def create_activity(user, body: ActivityIn) -> Activity:
    """A new activity in a community (community staff, admins)."""
    require_manage(user)
    values = body.model_dump(exclude={"community"})
    _normalised_rule(values, body.dtstart)
    area = community(user, body.community)
    if body.team_id:
        get_team(user, body.team_id)
    if body.building_id and not db.session.get(Building, body.building_id):
        raise ApiError(422, "unknown building", {"building_id": "unknown"})
    return audited_insert(Activity(**{k: v for k, v in values.items() if v is not None}, area_id=area.id))


def get_activity(user, activity_id: int) -> Activity:
    """An activity the user sees, else 404."""
    return visible_or_404(user, Activity, activity_id, "activity")


def update_activity(user, activity_id: int, body: ActivityPatch) -> Activity:
    """Change an activity (the rule is checked against the new or current start)."""
    require_manage(user)
    a = get_activity(user, activity_id)
    values = body.model_dump(exclude_unset=True)
    _normalised_rule(values, values.get("dtstart") or a.dtstart)
    return audited_update(a, values)


def list_activities(user) -> list[Activity]:
    """Active activities in communities the user's area touches."""
    return list(db.session.scalars(select(Activity).where(visible(user, Activity), Activity.active.is_(True))
                                   .order_by(Activity.id)))


def calendar(user, start: dt.date, end: dt.date) -> list[dict]:
    """Every occurrence of the user's activities in [start, end], with sign-up counts."""
    if end < start or (end - start).days > MAX_CALENDAR_DAYS:
        raise ApiError(400, f"the window must run forwards and span at most {MAX_CALENDAR_DAYS} days",
                       {"to": "out of range"})
    acts = list_activities(user)
    b, e = day_start(start), day_start(end + dt.timedelta(days=1))
    counts = {(r.activity_id, r.occurs_on): r.n for r in db.session.execute(
        select(SignUp.activity_id, SignUp.occurs_on, func.count().label("n"))
        .where(SignUp.activity_id.in_([a.id for a in acts]), SignUp.occurs_on.between(start, end))
        .group_by(SignUp.activity_id, SignUp.occurs_on))}
    out = []
    for a in acts:
        for when in recurrence.occurrences(a.rrule, a.dtstart, b, e):
            out.append({"activity_id": a.id, "title": a.title, "start": when.isoformat(),
                        "end": (when + dt.timedelta(minutes=a.duration_minutes)).isoformat(),
                        "date": when.date().isoformat(), "place": a.place,
                        "team": a.team.name if a.team else None,
                        "signups": counts.get((a.id, when.date()), 0), "capacity": a.capacity})
    out.sort(key=lambda o: (o["start"], o["activity_id"]))
    return out


def activity_dict(a: Activity) -> dict:
    nxt = recurrence.next_occurrence(a.rrule, a.dtstart, now()) if a.active else None
    return {"id": a.id, "title": a.title, "description": a.description, "community": a.area.code,
            "team_id": a.team_id, "team": a.team.name if a.team else None, "place": a.place,
            "building_id": a.building_id, "dtstart": a.dtstart.astimezone(TZ).isoformat(), "rrule": a.rrule,
            "duration_minutes": a.duration_minutes, "capacity": a.capacity, "active": a.active,
            "next": nxt.isoformat() if nxt else None}
