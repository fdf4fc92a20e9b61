"""微服务/微力量: volunteer teams, volunteers, recurring activities, sign-ups, attendance and hours."""
from flask_babel import lazy_gettext as _l

from app.volunteers import models  # noqa: F401


def init_app(app) -> None:
    from app.web.openapi import register_paths
    from app.households.openapi import BOOL, DATE, DT, INT, STR, obj, op, path_id
    from app.core.registry import register_nav
    from app.volunteers import api, views
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from app.volunteers import figures  # noqa: F401  (it registers a dashboard figure)
    register_nav("volunteers.activities", _l("活动"), None, 43)
    register_nav("volunteers.hours", _l("志愿时长"), "volunteers.hours", 44)
    t = "volunteers"
    register_paths({
        "/api/v1/volunteer-teams": {"get": op("teams in the user's area, with hours", t),
                                    "post": op("create a team (staff, admin)", t, body="volunteer_team", ok="201")},
        "/api/v1/volunteers": {"get": op("volunteers (staff, grid workers, admins; phones for staff/admin)", t,
                                         [("team_id", ""), ("skill", "")]),
                               "post": op("add a volunteer", t, body="volunteer", ok="201")},
        "/api/v1/volunteers/{id}": {"parameters": path_id(), "patch": op("change a volunteer", t, body="volunteer")},
        "/api/v1/activities": {"get": op("activities in the user's area", t),
                               "post": op("create an activity with an RFC 5545 RRULE", t, body="activity", ok="201")},
        "/api/v1/activities/{id}": {"parameters": path_id(), "get": op("one activity with its next date", t),
                                    "patch": op("change an activity", t, body="activity")},
        "/api/v1/activities/calendar": {"get": op("occurrences of every activity between from and to", t,
                                                  [("from", "YYYY-MM-DD"), ("to", "YYYY-MM-DD (≤400 days)")])},
        "/api/v1/activities/{id}/signups": {"parameters": path_id(),
                                            "get": op("sign-ups (?date)", t, [("date", "YYYY-MM-DD")]),
                                            "post": op("sign a volunteer up for one occurrence", t, body="signup",
                                                       ok="201")},
        "/api/v1/signups/{id}": {"parameters": path_id(), "patch": op("attendance and hours", t, body="attendance")},
        "/api/v1/volunteer-hours": {"get": op("service hours per team (volunteer counts suppressed below 5) or per "
                                              "volunteer (staff, grid workers, admins)", t,
                                              [("by", "team|volunteer"), ("from", ""), ("to", "")])},
    }, {"volunteer_team": obj(["name"], name=STR, community=STR, leader_name=STR, party_led=BOOL, note=STR),
        "volunteer": obj(["name"], name=STR, phone=STR, team_id=INT, community=STR, party_member=BOOL,
                         skills={"type": "array", "items": STR}),
        "activity": obj(["title", "dtstart"], title=STR, description=STR, community=STR, team_id=INT, place=STR,
                        building_id=INT, dtstart=DT, rrule={"type": "string", "example": "FREQ=MONTHLY;BYMONTHDAY=4,14,24"},
                        duration_minutes=INT, capacity=INT, active=BOOL),
        "signup": obj(["volunteer_id", "date"], volunteer_id=INT, date=DATE),
        "attendance": obj(["attended"], attended=BOOL, hours={"type": "number", "minimum": 0, "maximum": 24})})
