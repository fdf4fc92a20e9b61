"""``/api/v1/volunteer-teams``, ``/volunteers``, ``/activities`` (with occurrences and sign-ups),
``/signups`` and ``/volunteer-hours``."""
import datetime as dt

from flask import Blueprint, jsonify, request

from app.web.api import int_arg, json_body
from app.core.errors import ApiError
from app.households.api import date_arg, protect, user
from app.volunteers import services as vs

bp = Blueprint("volunteers_api", __name__, url_prefix="/api/v1")
protect(bp)


@bp.get("/volunteer-teams")
def teams():
    u = user()
    counts = {r["team_id"]: r for r in vs.hours_report(u, "team")}
    return jsonify([{**vs.team_dict(t), "hours": counts.get(t.id, {}).get("hours", 0.0)} for t in vs.list_teams(u)])


@bp.post("/volunteer-teams")
def team_create():
    return jsonify(vs.team_dict(vs.create_team(user(), json_body()))), 201


@bp.get("/volunteers")
def volunteers():
    u = user()
    rows = vs.list_volunteers(u, int_arg("team_id", 0, 0, 2**31 - 1) or None, request.args.get("skill"))
    return jsonify([vs.volunteer_dict(v, u) for v in rows])


@bp.post("/volunteers")
def volunteer_create():
    u = user()
    return jsonify(vs.volunteer_dict(vs.create_volunteer(u, json_body()), u)), 201


@bp.patch("/volunteers/<int:volunteer_id>")
def volunteer_update(volunteer_id: int):
    u = user()
    return jsonify(vs.volunteer_dict(vs.update_volunteer(u, volunteer_id, json_body()), u))


@bp.get("/activities")
def activities():
    return jsonify([vs.activity_dict(a) for a in vs.list_activities(user())])


@bp.post("/activities")
def activity_create():
    return jsonify(vs.activity_dict(vs.create_activity(user(), json_body()))), 201


@bp.get("/activities/<int:activity_id>")
def activity(activity_id: int):
    return jsonify(vs.activity_dict(vs.get_activity(user(), activity_id)))


@bp.patch("/activities/<int:activity_id>")
def activity_update(activity_id: int):
    return jsonify(vs.activity_dict(vs.update_activity(user(), activity_id, json_body())))


@bp.get("/activities/calendar")
def activity_calendar():
    """Occurrences of every activity in ?from..?to (default: this month)."""
    today = dt.date.today()
    start = date_arg("from") or today.replace(day=1)
    end = date_arg("to") or (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return jsonify(vs.calendar(user(), start, end))


@bp.get("/activities/<int:activity_id>/signups")
def signups(activity_id: int):
    return jsonify([vs.signup_dict(s) for s in vs.list_signups(user(), activity_id, date_arg("date"))])


@bp.post("/activities/<int:activity_id>/signups")
def signup_create(activity_id: int):
    return jsonify(vs.signup_dict(vs.sign_up(user(), activity_id, json_body()))), 201


@bp.patch("/signups/<int:signup_id>")
def attendance(signup_id: int):
    return jsonify(vs.signup_dict(vs.record_attendance(user(), signup_id, json_body())))


@bp.get("/volunteer-hours")
def hours():
    """Service hours ?by=team|volunteer, ?from, ?to."""
    start, end = date_arg("from"), date_arg("to")
    if start and end and end < start:
        raise ApiError(400, "to is before from", {"to": "before from"})
    return jsonify(vs.hours_report(user(), request.args.get("by", "team"), start, end))
