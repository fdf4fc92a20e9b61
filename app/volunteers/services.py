"""Volunteer teams, volunteers, activities, sign-ups, attendance and service hours.

Teams, activities and hours per team are visible to every user whose area contains
or lies in the team's community; volunteers' names are read by community staff, grid
workers and admins, phones by staff and admins only. Counts of volunteers shown to
others go through :func:`app.households.privacy.suppress`.
"""
import datetime as dt

from sqlalchemy import func, select

from app.basemap.fields import Field, parse_fields
from app.areas.models import Area
from app.basemap.models import Building
from app.audit.services import record, snapshot
from app.auth.access import area_clause, in_scope_code, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.households.privacy import suppress
from app.volunteers import recurrence
from app.volunteers.models import Activity, SignUp, Team, Volunteer

MANAGE = ("admin", "staff")
KNOW_VOLUNTEERS = ("admin", "staff", "grid_worker")
TZ = recurrence.TZ


def _fail(errors, message="invalid input"):
    if errors:
        raise ApiError(422, message, errors)


def _community(user, code: str | None, field: str = "community") -> Area:
    """The community a new record belongs to: given, or the user's own."""
    if code is None and user.area is not None:
        code = user.area.code[:12]
    if not isinstance(code, str) or len(code) != 12 or not code.isdigit():
        raise ApiError(422, "a 12-digit community code is needed", {field: "required"})
    area = db.session.scalar(select(Area).where(Area.code == code, Area.level == "community"))
    if area is None:
        raise ApiError(422, f"no community {code}", {field: "unknown community"})
    if not in_scope_code(scope_of(user), code):
        raise ApiError(403, "that community is outside your area", {field: "not yours"})
    return area


def _manage(user):
    if user.role not in MANAGE:
        raise ApiError(403, "community staff and admins manage volunteers and activities")


def _visible(user, model):
    """Rows of ``model`` (with ``area_id``) in communities the user's area touches."""
    return model.area_id.in_(select(Area.id).where(area_clause(scope_of(user), Area.code)))


# ----------------------------------------------------------------------------- teams

TEAM_FIELDS = [Field("name", "str", required=True, max_len=128), Field("leader_name", "str", max_len=64),
               Field("party_led", "bool"), Field("note", "text", max_len=2000)]


def list_teams(user) -> list[Team]:
    return list(db.session.scalars(select(Team).where(_visible(user, Team)).order_by(Team.id)))


def create_team(user, data: dict) -> Team:
    _manage(user)
    data = dict(data) if isinstance(data, dict) else {}
    community = data.pop("community", None)
    values, errors = parse_fields(TEAM_FIELDS, data)
    _fail(errors, "invalid team")
    area = _community(user, community)
    if db.session.scalar(select(Team.id).where(Team.name == values["name"])):
        raise ApiError(409, "a team with this name exists", {"name": "taken"})
    team = Team(**values, area_id=area.id)
    db.session.add(team)
    db.session.flush()
    record("insert", "volunteer_teams", team.id, after=snapshot(team))
    db.session.commit()
    return team


def get_team(user, team_id: int) -> Team:
    team = db.session.scalar(select(Team).where(Team.id == team_id, _visible(user, Team)))
    if team is None:
        raise ApiError(404, f"no team {team_id} in your area")
    return team


def team_dict(t: Team, members: int | None = None) -> dict:
    return {"id": t.id, "name": t.name, "leader_name": t.leader_name, "party_led": t.party_led,
            "note": t.note, "community": t.area.code, "community_name": t.area.name,
            **({"volunteers": members} if members is not None else {})}


# ----------------------------------------------------------------------------- volunteers

VOLUNTEER_FIELDS = [Field("name", "str", required=True, max_len=64), Field("phone", "str", max_len=32),
                    Field("team_id", "ref", ref="volunteer_teams"), Field("party_member", "bool"),
                    Field("active", "bool")]


def _skills(raw) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) and 0 < len(s.strip()) <= 32 for s in raw):
        raise ApiError(422, "skills must be a list of short strings", {"skills": "list of strings ≤ 32"})
    return sorted({s.strip() for s in raw})


def create_volunteer(user, data: dict) -> Volunteer:
    _manage(user)
    data = dict(data) if isinstance(data, dict) else {}
    skills = _skills(data.pop("skills", None))
    community = data.pop("community", None)
    values, errors = parse_fields(VOLUNTEER_FIELDS, data)
    _fail(errors, "invalid volunteer")
    if values.get("team_id"):
        team = get_team(user, values["team_id"])
        area_id = team.area_id
        if community and community != team.area.code:
            raise ApiError(422, "the team belongs to another community", {"community": "not the team's"})
    else:
        area_id = _community(user, community).id
    v = Volunteer(**values, skills=skills, area_id=area_id)
    db.session.add(v)
    db.session.flush()
    record("insert", "volunteers", v.id, after=snapshot(v))
    db.session.commit()
    return v


def _volunteer(user, volunteer_id: int) -> Volunteer:
    if user.role not in KNOW_VOLUNTEERS:
        raise ApiError(403, "volunteers' names are for community staff, grid workers and admins")
    v = db.session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id, _visible(user, Volunteer)))
    if v is None:
        raise ApiError(404, f"no volunteer {volunteer_id} in your area")
    return v


def update_volunteer(user, volunteer_id: int, data: dict) -> Volunteer:
    _manage(user)
    v = _volunteer(user, volunteer_id)
    data = dict(data) if isinstance(data, dict) else {}
    skills = _skills(data.pop("skills")) if "skills" in data else None
    values, errors = parse_fields(VOLUNTEER_FIELDS, data, partial=True)
    _fail(errors, "invalid volunteer")
    if values.get("team_id"):
        get_team(user, values["team_id"])
    before = snapshot(v)
    for k, val in values.items():
        setattr(v, k, val)
    if skills is not None:
        v.skills = skills
    db.session.flush()
    record("update", "volunteers", v.id, before, snapshot(v))
    db.session.commit()
    return v


def list_volunteers(user, team_id: int | None = None, skill: str | None = None) -> list[Volunteer]:
    if user.role not in KNOW_VOLUNTEERS:
        raise ApiError(403, "volunteers' names are for community staff, grid workers and admins")
    q = select(Volunteer).where(_visible(user, Volunteer), Volunteer.active.is_(True))
    if team_id:
        q = q.where(Volunteer.team_id == team_id)
    if skill:
        q = q.where(Volunteer.skills.any(skill))
    return list(db.session.scalars(q.order_by(Volunteer.team_id, Volunteer.id)))


def volunteer_dict(v: Volunteer, user) -> dict:
    return {"id": v.id, "name": v.name, "phone": v.phone if user.role in MANAGE else None,
            "team_id": v.team_id, "team": v.team.name if v.team else None, "skills": list(v.skills or []),
            "party_member": v.party_member, "active": v.active}


# ----------------------------------------------------------------------------- activities

ACTIVITY_FIELDS = [
    Field("title", "str", required=True, max_len=128), Field("description", "text", max_len=4000),
    Field("team_id", "ref", ref="volunteer_teams"), Field("place", "str", max_len=256),
    Field("building_id", "ref", ref="buildings"), Field("dtstart", "datetime", required=True),
    Field("rrule", "str", max_len=500, label="RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYMONTHDAY=4,14,24"),
    Field("duration_minutes", "int", min=1, max=1440), Field("capacity", "int", min=1, max=100000),
    Field("active", "bool"),
]


def _check_rule(values: dict, errors: dict) -> None:
    if values.get("rrule"):
        try:
            recurrence.parse_rule(values["rrule"], values.get("dtstart") or dt.datetime.now(TZ))
            values["rrule"] = recurrence.normalise(values["rrule"])
        except recurrence.RecurrenceError as e:
            errors["rrule"] = str(e)


def create_activity(user, data: dict) -> Activity:
    _manage(user)
    data = dict(data) if isinstance(data, dict) else {}
    community = data.pop("community", None)
    values, errors = parse_fields(ACTIVITY_FIELDS, data)
    _check_rule(values, errors)
    _fail(errors, "invalid activity")
    area = _community(user, community)
    if values.get("team_id"):
        get_team(user, values["team_id"])
    if values.get("building_id") and not db.session.get(Building, values["building_id"]):
        raise ApiError(422, "unknown building", {"building_id": "unknown"})
    a = Activity(**{k: v for k, v in values.items() if v is not None}, area_id=area.id)
    db.session.add(a)
    db.session.flush()
    record("insert", "activities", a.id, after=snapshot(a))
    db.session.commit()
    return a


def get_activity(user, activity_id: int) -> Activity:
    a = db.session.scalar(select(Activity).where(Activity.id == activity_id, _visible(user, Activity)))
    if a is None:
        raise ApiError(404, f"no activity {activity_id} in your area")
    return a


def update_activity(user, activity_id: int, data: dict) -> Activity:
    _manage(user)
    a = get_activity(user, activity_id)
    values, errors = parse_fields(ACTIVITY_FIELDS, data if isinstance(data, dict) else {}, partial=True)
    values.setdefault("dtstart", a.dtstart)
    _check_rule(values, errors)
    _fail(errors, "invalid activity")
    before = snapshot(a)
    for k, v in values.items():
        setattr(a, k, v)
    db.session.flush()
    record("update", "activities", a.id, before, snapshot(a))
    db.session.commit()
    return a


def list_activities(user) -> list[Activity]:
    return list(db.session.scalars(select(Activity).where(_visible(user, Activity), Activity.active.is_(True))
                                   .order_by(Activity.id)))


def calendar(user, start: dt.date, end: dt.date) -> list[dict]:
    """Every occurrence of the user's activities in [start, end], with sign-up counts."""
    if end < start or (end - start).days > 400:
        raise ApiError(400, "the window must run forwards and span at most 400 days", {"to": "out of range"})
    acts = list_activities(user)
    b = dt.datetime.combine(start, dt.time(), TZ)
    e = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), TZ)
    counts = dict(((r.activity_id, r.occurs_on), r.n) for r in db.session.execute(
        select(SignUp.activity_id, SignUp.occurs_on, func.count().label("n"))
        .where(SignUp.activity_id.in_([a.id for a in acts]), SignUp.occurs_on.between(start, end))
        .group_by(SignUp.activity_id, SignUp.occurs_on)))
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
    nxt = recurrence.next_occurrence(a.rrule, a.dtstart, dt.datetime.now(TZ)) if a.active else None
    return {"id": a.id, "title": a.title, "description": a.description, "community": a.area.code,
            "team_id": a.team_id, "team": a.team.name if a.team else None, "place": a.place,
            "building_id": a.building_id, "dtstart": a.dtstart.astimezone(TZ).isoformat(), "rrule": a.rrule,
            "duration_minutes": a.duration_minutes, "capacity": a.capacity, "active": a.active,
            "next": nxt.isoformat() if nxt else None}


# ----------------------------------------------------------------------------- sign-ups and hours

def sign_up(user, activity_id: int, data: dict) -> SignUp:
    """Sign a volunteer up for one occurrence (the date must be one)."""
    if user.role not in KNOW_VOLUNTEERS:
        raise ApiError(403, "community staff, grid workers and admins sign volunteers up")
    a = get_activity(user, activity_id)
    values, errors = parse_fields([Field("volunteer_id", "ref", required=True, ref="volunteers"),
                                   Field("date", "date", required=True)], data if isinstance(data, dict) else {})
    _fail(errors, "invalid sign-up")
    if not recurrence.is_occurrence(a.rrule, a.dtstart, values["date"]):
        raise ApiError(422, f"{a.title} does not take place on {values['date']}", {"date": "not an occurrence"})
    v = db.session.scalar(select(Volunteer).where(Volunteer.id == values["volunteer_id"], _visible(user, Volunteer)))
    if v is None:
        raise ApiError(422, "unknown volunteer", {"volunteer_id": "unknown or outside your area"})
    if db.session.scalar(select(SignUp.id).where(SignUp.activity_id == a.id, SignUp.occurs_on == values["date"],
                                                 SignUp.volunteer_id == v.id)):
        raise ApiError(409, "already signed up", {"volunteer_id": "already signed up"})
    if a.capacity and db.session.scalar(select(func.count()).select_from(SignUp).where(
            SignUp.activity_id == a.id, SignUp.occurs_on == values["date"])) >= a.capacity:
        raise ApiError(409, "this occurrence is full", {"date": "full"})
    s = SignUp(activity_id=a.id, occurs_on=values["date"], volunteer_id=v.id)
    db.session.add(s)
    db.session.flush()
    record("insert", "signups", s.id, after=snapshot(s))
    db.session.commit()
    return s


def record_attendance(user, signup_id: int, data: dict) -> SignUp:
    """Mark attendance; hours default to the activity's duration when attended."""
    if user.role not in KNOW_VOLUNTEERS:
        raise ApiError(403, "community staff, grid workers and admins record attendance")
    s = db.session.scalar(select(SignUp).join(Activity).where(SignUp.id == signup_id, _visible(user, Activity)))
    if s is None:
        raise ApiError(404, f"no sign-up {signup_id} in your area")
    values, errors = parse_fields([Field("attended", "bool", required=True),
                                   Field("hours", "float", min=0, max=24)], data if isinstance(data, dict) else {})
    _fail(errors, "invalid attendance")
    if s.occurs_on > dt.datetime.now(TZ).date():
        raise ApiError(409, "attendance is recorded on or after the day", {"attended": "the day has not come"})
    before = snapshot(s)
    s.attended = values["attended"]
    if s.attended:
        s.hours = values.get("hours") if values.get("hours") is not None else round(s.activity.duration_minutes / 60, 2)
    else:
        s.hours = None
    db.session.flush()
    record("update", "signups", s.id, before, snapshot(s))
    db.session.commit()
    return s


def list_signups(user, activity_id: int, day: dt.date | None = None) -> list[SignUp]:
    if user.role not in KNOW_VOLUNTEERS:
        raise ApiError(403, "sign-up lists name volunteers")
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

    Per volunteer: staff, grid workers and admins only. Per team: everyone in the area, with
    the number of volunteers suppressed below 5.
    """
    if by not in ("team", "volunteer"):
        raise ApiError(400, "by must be team or volunteer", {"by": "team or volunteer"})
    cond = [SignUp.attended.is_(True), _visible(user, Volunteer)]
    if start:
        cond.append(SignUp.occurs_on >= start)
    if end:
        cond.append(SignUp.occurs_on <= end)
    if by == "volunteer":
        if user.role not in KNOW_VOLUNTEERS:
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
    return [{"team_id": r.id, "team": r.name, "hours": float(r.hours or 0), "volunteers": suppress(r.people),
             "times": r.times} for r in rows]
