"""``/api/v1/volunteer-teams``, ``/volunteers``, ``/activities`` (with occurrences and sign-ups),
``/signups`` and ``/volunteer-hours``."""
import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import select

from app.auth import policy
from app.core.time import today
from app.households.values import Day
from app.volunteers import activities, signups, teams
from app.volunteers.common import visible
from app.volunteers.models import Activity, SignUp, Volunteer
from app.volunteers.schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPatch,
    AttendanceIn,
    HoursRow,
    Occurrence,
    SignUpIn,
    SignUpOut,
    TeamIn,
    TeamOut,
    VolunteerIn,
    VolunteerOut,
    VolunteerPatch,
)
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.etags import Versioned
from app.web.params import Id, Query, invalid

bp = ApiBlueprint("volunteers_api", __name__, tag="volunteers")


def _seen(model):
    return visible(policy.require_login(), model)


# Versioned records (app.web.etags): ETag on their answers, If-Match → 412 on their writes.
VOLUNTEER = Versioned("volunteers", Volunteer.__table__, key="volunteer_id", visible=lambda: _seen(Volunteer))
ACTIVITY = Versioned("activities", Activity.__table__, key="activity_id", visible=lambda: _seen(Activity))
SIGNUP = Versioned("signups", SignUp.__table__, key="signup_id",
                   visible=lambda: SignUp.activity_id.in_(select(Activity.id).where(_seen(Activity))))


# ----------------------------------------------------------------------------- teams and volunteers

@bp.get("/volunteer-teams")
@endpoint(response=list[TeamOut])
def team_list():
    """Teams in the user's area, with their service hours."""
    u = policy.require_login()
    hours = {r["team_id"]: r for r in signups.hours_report(u, "team")}
    return json_response([{**teams.team_dict(t), "hours": hours.get(t.id, {}).get("hours", 0.0)}
                          for t in teams.list_teams(u)])


@bp.post("/volunteer-teams")
@endpoint(body=TeamIn, response=TeamOut, status=201, permission="volunteers.manage", errors=(409,))
def team_create(body: TeamIn):
    """Create a team in a community (team names are unique)."""
    return json_response(teams.team_dict(teams.create_team(policy.require_login(), body)), 201)


class VolunteerQuery(Query):
    team_id: Id | None = None
    skill: Annotated[str, Field(max_length=32)] | None = None


@bp.get("/volunteers")
@endpoint(query=VolunteerQuery, response=list[VolunteerOut], permission="volunteers.read")
def volunteer_list(query: VolunteerQuery):
    """Active volunteers in the user's area (phones for community staff and admins)."""
    u = policy.require_login()
    return json_response([teams.volunteer_dict(v, u) for v in teams.list_volunteers(u, query.team_id, query.skill)])


@bp.post("/volunteers")
@endpoint(body=VolunteerIn, response=VolunteerOut, status=201, permission="volunteers.manage")
def volunteer_create(body: VolunteerIn):
    """Add a volunteer, in a team or directly in a community."""
    u = policy.require_login()
    return json_response(teams.volunteer_dict(teams.create_volunteer(u, body), u), 201)


@bp.get("/volunteers/<int:volunteer_id>")
@endpoint(response=VolunteerOut, permission="volunteers.read", errors=(404,), versioned=VOLUNTEER)
def volunteer(volunteer_id: int):
    """One volunteer (the phone for community staff and admins)."""
    u = policy.require_login()
    return json_response(teams.volunteer_dict(teams.get_volunteer(u, volunteer_id), u))


@bp.patch("/volunteers/<int:volunteer_id>")
@endpoint(body=VolunteerPatch, response=VolunteerOut, permission="volunteers.manage", errors=(404,),
          versioned=VOLUNTEER)
def volunteer_update(volunteer_id: int, body: VolunteerPatch):
    """Change a volunteer; ``skills`` replaces the list."""
    u = policy.require_login()
    return json_response(teams.volunteer_dict(teams.update_volunteer(u, volunteer_id, body), u))


# ----------------------------------------------------------------------------- activities

@bp.get("/activities")
@endpoint(response=list[ActivityOut])
def activity_list():
    """Activities in the user's area."""
    return json_response([activities.activity_dict(a) for a in activities.list_activities(policy.require_login())])


@bp.post("/activities")
@endpoint(body=ActivityIn, response=ActivityOut, status=201, permission="volunteers.manage")
def activity_create(body: ActivityIn):
    """Create an activity with an RFC 5545 RRULE (none: a one-off)."""
    return json_response(activities.activity_dict(activities.create_activity(policy.require_login(), body)), 201)


@bp.get("/activities/<int:activity_id>")
@endpoint(response=ActivityOut, errors=(404,), versioned=ACTIVITY)
def activity(activity_id: int):
    """One activity with its next date."""
    return json_response(activities.activity_dict(activities.get_activity(policy.require_login(), activity_id)))


@bp.patch("/activities/<int:activity_id>")
@endpoint(body=ActivityPatch, response=ActivityOut, permission="volunteers.manage", errors=(404,),
          versioned=ACTIVITY)
def activity_update(activity_id: int, body: ActivityPatch):
    """Change an activity."""
    return json_response(activities.activity_dict(
        activities.update_activity(policy.require_login(), activity_id, body)))


class CalendarQuery(Query):
    from_: Day | None = Field(None, alias="from", description="YYYY-MM-DD (default: the 1st of this month)")
    to: Day | None = Field(None, description=f"YYYY-MM-DD (default: the month's last day; at most "
                                                 f"{activities.MAX_CALENDAR_DAYS} days after from)")


@bp.get("/activities/calendar")
@endpoint(query=CalendarQuery, response=list[Occurrence])
def activity_calendar(query: CalendarQuery):
    """Occurrences of every activity between from and to, with sign-up counts."""
    start = query.from_ or today().replace(day=1)
    end = query.to or (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return json_response(activities.calendar(policy.require_login(), start, end))


# ----------------------------------------------------------------------------- sign-ups and hours

class SignUpQuery(Query):
    date: Day | None = Field(None, description="one occurrence's date")


@bp.get("/activities/<int:activity_id>/signups")
@endpoint(query=SignUpQuery, response=list[SignUpOut], permission="volunteers.read", errors=(404,))
def signup_list(activity_id: int, query: SignUpQuery):
    """Sign-ups of an activity (of one date)."""
    rows = signups.list_signups(policy.require_login(), activity_id, query.date)
    return json_response([signups.signup_dict(s) for s in rows])


@bp.post("/activities/<int:activity_id>/signups")
@endpoint(body=SignUpIn, response=SignUpOut, status=201, permission="volunteers.read", errors=(404, 409))
def signup_create(activity_id: int, body: SignUpIn):
    """Sign a volunteer up for one occurrence."""
    return json_response(signups.signup_dict(signups.sign_up(policy.require_login(), activity_id, body)), 201)


@bp.get("/signups/<int:signup_id>")
@endpoint(response=SignUpOut, permission="volunteers.read", errors=(404,), versioned=SIGNUP)
def signup(signup_id: int):
    """One sign-up."""
    return json_response(signups.signup_dict(signups.get_signup(policy.require_login(), signup_id)))


@bp.patch("/signups/<int:signup_id>")
@endpoint(body=AttendanceIn, response=SignUpOut, permission="volunteers.read", errors=(404, 409), versioned=SIGNUP)
def attendance(signup_id: int, body: AttendanceIn):
    """Attendance and hours of a sign-up (on or after the day)."""
    return json_response(signups.signup_dict(signups.record_attendance(policy.require_login(), signup_id, body)))


class HoursQuery(Query):
    by: Literal["team", "volunteer"] = Field("team", description="volunteer: for those who may name volunteers")
    from_: Day | None = Field(None, alias="from")
    to: Day | None = None

    @field_validator("to")
    @classmethod
    def _after_from(cls, to: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("from_")
        if to and start and to < start:
            raise invalid("before from")
        return to


@bp.get("/volunteer-hours")
@endpoint(query=HoursQuery, response=list[HoursRow])
def hours(query: HoursQuery):
    """Service hours per team (volunteer counts below 5 are null) or per volunteer."""
    return json_response(signups.hours_report(policy.require_login(), query.by, query.from_, query.to))
