"""Sign-ups for one occurrence of an activity, attendance, and the service hours they add up to."""
import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.services import record, snapshot
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import today
from app.households.common import conflict_as_409
from app.volunteers import recurrence
from app.volunteers.activities import get_activity
from app.volunteers.common import knows_volunteers, require_know, visible
from app.volunteers.models import Activity, SignUp, Team, Volunteer
from app.volunteers.schemas import AttendanceIn, SignUpIn


def sign_up(user, activity_id: int, body: SignUpIn) -> SignUp:
    """Sign a volunteer up for one occurrence (the date must be one; 409 twice or when full)."""
    require_know(user, "community staff, grid workers and admins sign volunteers up")
    a = get_activity(user, activity_id)
    if not recurrence.is_occurrence(a.rrule, a.dtstart, body.date):
        raise ApiError(422, f"{a.title} does not take place on {body.date}", {"date": "not an occurrence"})
    v = db.session.scalar(select(Volunteer).where(Volunteer.id == body.volunteer_id, visible(user, Volunteer)))
    if v is None:
        raise ApiError(422, "unknown volunteer", {"volunteer_id": "unknown or outside your area"})
    if a.capacity and db.session.scalar(select(func.count()).select_from(SignUp).where(
            SignUp.activity_id == a.id, SignUp.occurs_on == body.date)) >= a.capacity:
        raise ApiError(409, "this occurrence is full", {"date": "full"})
    s = SignUp(activity_id=a.id, occurs_on=body.date, volunteer_id=v.id)
    try:
        with conflict_as_409("already signed up", {"volunteer_id": "already signed up"}):
            db.session.add(s)
            db.session.flush()
    except IntegrityError as e:     # the database holds the capacity too (migration 0010): parallel sign-ups
        if getattr(getattr(e.orig, "diag", None), "constraint_name", None) == "cap_signups_capacity":
            raise ApiError(409, "this occurrence is full", {"date": "full"}) from None
        raise
    record("insert", "signups", s.id, after=snapshot(s))
    db.session.commit()
    return s


def get_signup(user, signup_id: int) -> SignUp:
    """A sign-up of an activity in the user's area (it names a volunteer), else 403/404."""
    require_know(user, "sign-ups name volunteers")
    s = db.session.scalar(select(SignUp).join(Activity).where(SignUp.id == signup_id, visible(user, Activity)))
    if s is None:
        raise ApiError(404, f"no sign-up {signup_id} in your area")
    return s


def record_attendance(user, signup_id: int, body: AttendanceIn) -> SignUp:
    """Mark attendance; hours default to the activity's duration when attended."""
    require_know(user, "community staff, grid workers and admins record attendance")
    s = get_signup(user, signup_id)
    if s.occurs_on > today():
        raise ApiError(409, "attendance is recorded on or after the day", {"attended": "the day has not come"})
    before = snapshot(s)
    s.attended = body.attended
    if s.attended:
        s.hours = body.hours if body.hours is not None else round(s.activity.duration_minutes / 60, 2)
    else:
        s.hours = None
    db.session.flush()
    record("update", "signups", s.id, before, snapshot(s))
    db.session.commit()
    return s


def list_signups(user, activity_id: int, day: dt.date | None = None) -> list[SignUp]:
    """Sign-ups of an activity (on ``day``); they name volunteers."""
    require_know(user, "sign-up lists name volunteers")
    a = get_activity(user, activity_id)
    q = select(SignUp).where(SignUp.activity_id == a.id)
    if day:
        q = q.where(SignUp.occurs_on == day)
    return list(db.session.scalars(q.order_by(SignUp.occurs_on, SignUp.id)))


def signup_dict(s: SignUp) -> dict:
    return {"id": s.id, "activity_id": s.activity_id, "date": s.occurs_on.isoformat(), "volunteer_id": s.volunteer_id,
            "volunteer": s.volunteer.name, "attended": s.attended,
            "hours": float(s.hours) if s.hours is not None else None}


def hours_report(user, by: str = "team", start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """Service hours (attended sign-ups) per volunteer or per team in [start, end].

    Per volunteer: those who may name volunteers only. Per team: everyone in the area, with
    the number of volunteers suppressed below 5.
    """
    if by not in ("team", "volunteer"):
        raise ApiError(400, "by must be team or volunteer", {"by": "team or volunteer"})
    cond = [SignUp.attended.is_(True), visible(user, Volunteer)]
    if start:
        cond.append(SignUp.occurs_on >= start)
    if end:
        cond.append(SignUp.occurs_on <= end)
    if by == "volunteer":
        if not knows_volunteers(user):
            raise ApiError(403, "hours per volunteer name people; ask for by=team")
        rows = db.session.execute(
            select(Volunteer.id, Volunteer.name, Team.name.label("team"), func.sum(SignUp.hours).label("hours"),
                   func.count(SignUp.id).label("times"))
            .join(SignUp, SignUp.volunteer_id == Volunteer.id).outerjoin(Team, Team.id == Volunteer.team_id)
            .where(*cond).group_by(Volunteer.id, Volunteer.name, Team.name)
            .order_by(func.sum(SignUp.hours).desc(), Volunteer.id)).all()
        return [{"volunteer_id": r.id, "volunteer": r.name, "team": r.team, "hours": float(r.hours or 0),
                 "times": r.times} for r in rows]
    rows = db.session.execute(
        select(Team.id, Team.name, func.sum(SignUp.hours).label("hours"),
               func.count(func.distinct(Volunteer.id)).label("people"), func.count(SignUp.id).label("times"))
        .join(Volunteer, Volunteer.team_id == Team.id).join(SignUp, SignUp.volunteer_id == Volunteer.id)
        .where(*cond).group_by(Team.id, Team.name).order_by(Team.id)).all()
    return [{"team_id": r.id, "team": r.name, "hours": float(r.hours or 0), "volunteers": policy.suppress(r.people),
             "times": r.times} for r in rows]
