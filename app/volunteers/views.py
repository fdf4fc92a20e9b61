"""Pages: activities calendar, one activity's sign-ups and attendance, teams and the hours report (CSV)."""
import calendar as cal
import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.errors import ApiError
from app.core.time import now, today
from app.volunteers import activities, signups, teams
from app.volunteers.common import knows_volunteers
from app.volunteers.recurrence import occurrences
from app.volunteers.schemas import AttendanceIn, SignUpIn
from app.web.api import parse_body
from app.web.pages import flashed_errors
from app.web.tables import csv_response

bp = Blueprint("volunteers", __name__, url_prefix="/volunteers")

HOURS_COLUMNS = {"volunteer": ["volunteer_id", "volunteer", "team", "hours", "times"],
                 "team": ["team_id", "team", "hours", "volunteers", "times"]}


def _me():
    return current_user._get_current_object()


def _month(raw: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{raw}-01") if raw else today().replace(day=1)
    except ValueError:
        raise ApiError(400, "month must be YYYY-MM", {"month": "malformed"}) from None


def _date(raw: str | None, name: str = "from") -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "dates are YYYY-MM-DD", {name: "malformed"}) from None


@bp.get("/activities", endpoint="activities")
@login_required
def activities_page():
    """A month calendar of every activity occurrence."""
    first = _month(request.args.get("month"))
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    by_day: dict = {}
    for e in activities.calendar(_me(), weeks[0][0], weeks[-1][-1]):
        by_day.setdefault(e["date"], []).append(e)
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return render_template("volunteers/calendar.html", weeks=weeks, by_day=by_day, first=first, prev=prev,
                           nxt=nxt, acts=activities.list_activities(_me()))


def _post_activity_form(a, day: dt.date | None) -> None:
    """A sign-up (volunteer for the day) or an attendance (signup_id) from the activity page."""
    form = request.form
    if form.get("signup_id"):
        if not form["signup_id"].isdigit():
            raise ApiError(400, "signup_id must be a number", {"signup_id": "not a number"})
        body = parse_body(AttendanceIn, {"attended": form.get("attended") == "1", "hours": form.get("hours") or None})
        signups.record_attendance(_me(), int(form["signup_id"]), body)
    else:
        body = parse_body(SignUpIn, {"volunteer_id": form.get("volunteer_id"),
                                     "date": day.isoformat() if day else None})
        signups.sign_up(_me(), a.id, body)


@bp.route("/activities/<int:activity_id>", methods=["GET", "POST"])
@login_required
def activity(activity_id: int):
    """One activity: its next dates; for a date, sign-ups and attendance."""
    a = activities.get_activity(_me(), activity_id)
    day = _date(request.values.get("date"), "date")
    if request.method == "POST":
        with flashed_errors():
            _post_activity_form(a, day)
            flash(_("已保存"), "ok")
        return redirect(url_for("volunteers.activity", activity_id=a.id, date=day.isoformat() if day else None), 303)
    moment = now()
    upcoming = occurrences(a.rrule, a.dtstart, moment - dt.timedelta(days=14), moment + dt.timedelta(days=60),
                           limit=20)
    can = knows_volunteers(current_user)
    rows = signups.list_signups(_me(), a.id, day) if (day and can) else []
    volunteers = teams.list_volunteers(_me()) if can else []
    return render_template("volunteers/activity.html", a=a, upcoming=upcoming, day=day, signups=rows,
                           volunteers=volunteers, can=can, today=moment.date())


@bp.get("/", endpoint="teams")
@login_required
def teams_page():
    """Teams with their hours; volunteers for those who may know their names."""
    u = _me()
    hours_by_team = {r["team_id"]: r for r in signups.hours_report(u, "team")}
    vols = teams.list_volunteers(u) if knows_volunteers(u) else []
    return render_template("volunteers/teams.html", teams=teams.list_teams(u), hours=hours_by_team, volunteers=vols)


@bp.get("/hours")
@login_required
def hours():
    """Service hours per team (and per volunteer for staff); ?format=csv downloads it."""
    u = _me()
    by = request.args.get("by", "volunteer" if knows_volunteers(u) else "team")
    start, end = _date(request.args.get("from")), _date(request.args.get("to"))
    rows = signups.hours_report(u, by, start, end)
    if request.args.get("format") == "csv":
        keys = HOURS_COLUMNS[by]
        return csv_response(keys, ([("<5" if r[k] is None and k == "volunteers" else r[k]) for k in keys]
                                   for r in rows), f"volunteer-hours-{by}.csv")
    return render_template("volunteers/hours.html", rows=rows, by=by, start=start, end=end,
                           can_people=knows_volunteers(u))
