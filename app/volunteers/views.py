"""Pages: activities calendar, one activity's sign-ups and attendance, teams and the hours report (CSV)."""
import calendar as cal
import csv
import datetime as dt
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.errors import ApiError
from app.volunteers import services as vs

bp = Blueprint("volunteers", __name__, url_prefix="/volunteers")


def _me():
    return current_user._get_current_object()


def _month(raw: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{raw}-01") if raw else dt.datetime.now(vs.TZ).date().replace(day=1)
    except ValueError:
        raise ApiError(400, "month must be YYYY-MM", {"month": "malformed"}) from None


@bp.get("/activities")
@login_required
def activities():
    """A month calendar of every activity occurrence."""
    first = _month(request.args.get("month"))
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    events = vs.calendar(_me(), weeks[0][0], weeks[-1][-1])
    by_day: dict = {}
    for e in events:
        by_day.setdefault(e["date"], []).append(e)
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return render_template("volunteers/calendar.html", weeks=weeks, by_day=by_day, first=first, prev=prev,
                           nxt=nxt, acts=vs.list_activities(_me()))


@bp.route("/activities/<int:activity_id>", methods=["GET", "POST"])
@login_required
def activity(activity_id: int):
    """One activity: its next dates; for a date, sign-ups and attendance."""
    a = vs.get_activity(_me(), activity_id)
    day = request.values.get("date")
    try:
        day = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise ApiError(400, "date must be YYYY-MM-DD", {"date": "malformed"}) from None
    if request.method == "POST":
        try:
            if request.form.get("signup_id"):
                if not request.form["signup_id"].isdigit():
                    raise ApiError(400, "signup_id must be a number", {"signup_id": "not a number"})
                vs.record_attendance(_me(), int(request.form["signup_id"]),
                                     {"attended": request.form.get("attended") == "1",
                                      "hours": request.form.get("hours") or None})
            else:
                vs.sign_up(_me(), a.id, {"volunteer_id": request.form.get("volunteer_id"), "date": day.isoformat()
                                         if day else None})
            flash(_("已保存"), "ok")
        except ApiError as e:
            if e.status in (403, 404):
                raise
            flash(e.message + " " + "; ".join(f"{k}: {v}" for k, v in e.fields.items()), "error")
        return redirect(url_for("volunteers.activity", activity_id=a.id, date=day.isoformat() if day else None), 303)
    now = dt.datetime.now(vs.TZ)
    from app.volunteers.recurrence import occurrences
    upcoming = occurrences(a.rrule, a.dtstart, now - dt.timedelta(days=14), now + dt.timedelta(days=60), limit=20)
    can = current_user.role in vs.KNOW_VOLUNTEERS
    signups = vs.list_signups(_me(), a.id, day) if (day and can) else []
    volunteers = vs.list_volunteers(_me()) if can else []
    return render_template("volunteers/activity.html", a=a, upcoming=upcoming, day=day, signups=signups,
                           volunteers=volunteers, can=can, today=now.date())


@bp.get("/")
@login_required
def teams():
    """Teams with their hours; volunteers for those who may know their names."""
    u = _me()
    hours = {r["team_id"]: r for r in vs.hours_report(u, "team")}
    vols = vs.list_volunteers(u) if u.role in vs.KNOW_VOLUNTEERS else []
    return render_template("volunteers/teams.html", teams=vs.list_teams(u), hours=hours, volunteers=vols)


@bp.get("/hours")
@login_required
def hours():
    """Service hours per team (and per volunteer for staff); ?format=csv downloads it."""
    u = _me()
    by = request.args.get("by", "volunteer" if u.role in vs.KNOW_VOLUNTEERS else "team")
    start = _date(request.args.get("from"))
    end = _date(request.args.get("to"))
    rows = vs.hours_report(u, by, start, end)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        w = csv.writer(out)
        keys = list(rows[0].keys()) if rows else (["volunteer_id", "volunteer", "team", "hours", "times"]
                                                  if by == "volunteer" else ["team_id", "team", "hours", "volunteers", "times"])
        w.writerow(keys)
        for r in rows:
            w.writerow(["<5" if r[k] is None and k == "volunteers" else r[k] for k in keys])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=volunteer-hours-{by}.csv"})
    return render_template("volunteers/hours.html", rows=rows, by=by, start=start, end=end,
                           can_people=u.role in vs.KNOW_VOLUNTEERS)


def _date(raw):
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "dates are YYYY-MM-DD", {"from": "malformed"}) from None
