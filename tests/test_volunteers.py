"""Volunteers and activities: RRULE recurrence (month ends, leap years), sign-ups, attendance, hours."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from app.core.extensions import db
from app.volunteers.models import Activity, Volunteer
from app.volunteers.recurrence import TZ, RecurrenceError, is_occurrence, occurrences, parse_rule


def days(rule, start, a, b):
    return [d.date() for d in occurrences(rule, dt.datetime(*start, 9), dt.datetime(*a), dt.datetime(*b))]


def test_talk_it_over_on_every_day_with_a_four():
    got = days("FREQ=MONTHLY;BYMONTHDAY=4,14,24", (2026, 1, 4), (2026, 2, 1), (2026, 4, 1))
    assert got == [dt.date(2026, 2, d) for d in (4, 14, 24)] + [dt.date(2026, 3, d) for d in (4, 14, 24)]


def test_friday_help_group_is_every_friday():
    got = days("RRULE:FREQ=WEEKLY;BYDAY=FR", (2026, 1, 2), (2026, 11, 1), (2026, 12, 1))
    assert got == [dt.date(2026, 11, d) for d in (6, 13, 20, 27)] and all(d.weekday() == 4 for d in got)


def test_month_ends_the_31st_skips_short_months_and_minus_one_is_the_last_day():
    assert days("FREQ=MONTHLY;BYMONTHDAY=31", (2026, 1, 31), (2026, 1, 1), (2026, 8, 1)) == [
        dt.date(2026, 1, 31),
        dt.date(2026, 3, 31),
        dt.date(2026, 5, 31),
        dt.date(2026, 7, 31),
    ]
    assert days("FREQ=MONTHLY;BYMONTHDAY=-1", (2027, 12, 31), (2028, 1, 1), (2028, 5, 1)) == [
        dt.date(2028, 1, 31),
        dt.date(2028, 2, 29),
        dt.date(2028, 3, 31),
        dt.date(2028, 4, 30),
    ]
    assert days("FREQ=MONTHLY;BYMONTHDAY=-1", (2026, 1, 31), (2026, 2, 1), (2026, 3, 1)) == [dt.date(2026, 2, 28)]


def test_leap_day_recurs_only_in_leap_years():
    assert days("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", (2024, 2, 29), (2024, 1, 1), (2037, 1, 1)) == [
        dt.date(2024, 2, 29),
        dt.date(2028, 2, 29),
        dt.date(2032, 2, 29),
        dt.date(2036, 2, 29),
    ]
    assert is_occurrence("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", dt.datetime(2024, 2, 29, 9), dt.date(2028, 2, 29))
    assert not is_occurrence("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", dt.datetime(2024, 2, 29, 9), dt.date(2100, 2, 28))


def test_occurrences_are_in_shanghai_time():
    when = occurrences(
        "FREQ=WEEKLY;BYDAY=FR",
        dt.datetime(2026, 1, 2, 15, tzinfo=TZ),
        dt.datetime(2026, 1, 1, tzinfo=TZ),
        dt.datetime(2026, 1, 10, tzinfo=TZ),
    )
    assert [w.isoformat() for w in when] == ["2026-01-02T15:00:00+08:00", "2026-01-09T15:00:00+08:00"]


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=FOO",
        "BYDAY=FR",
        "FREQ=SECONDLY",
        "FREQ=MONTHLY;BYMONTHDAY=40",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;UNTIL=20261301",
        "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
    ],
)
def test_unusable_rules_are_refused(rule):
    with pytest.raises(RecurrenceError):
        parse_rule(rule, dt.datetime(2026, 1, 1, 9))


def post_json(client, url, body, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_the_five_activities_are_on_the_calendar(client, auth, demo):
    auth.login("gridworker")
    cal = client.get("/api/v1/activities/calendar?from=2026-12-01&to=2026-12-31").get_json()
    titles = {e["title"] for e in cal}
    assert titles == {"幸福来敲门", "健康进万家", "关爱失业无业群体", "逢四来说事", "周五帮帮团"}
    assert sorted(e["date"] for e in cal if e["title"] == "逢四来说事") == ["2026-12-04", "2026-12-14", "2026-12-24"]
    assert [e["date"] for e in cal if e["title"] == "健康进万家"] == ["2026-12-12"]
    page = client.get("/volunteers/activities?month=2026-12").get_data(as_text=True)
    assert "逢四来说事" in page
    assert client.get("/api/v1/activities/calendar?from=2026-12-01&to=2028-12-31").status_code == 400
    assert client.get("/volunteers/activities?month=2026-13").status_code == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=40"}, "rrule"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"dtstart": "2026-02-30T09:00:00+08:00"}, "dtstart"),
        ({"dtstart": "2026-02-01T09:00:00"}, "dtstart"),
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"community": "620102005003"}, "community"),
    ],
)
def test_bad_activities_are_refused_and_nothing_is_stored(client, auth, demo, body, field):
    auth.login("staff")
    n = db.session.scalar(select(func.count()).select_from(Activity))
    base = {"title": "月末清洁日", "dtstart": "2026-01-31T09:00:00+08:00", "rrule": "FREQ=MONTHLY;BYMONTHDAY=-1"}
    r = post_json(client, "/api/v1/activities", {**base, **body})
    assert r.status_code in (403, 422) and field in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Activity)) == n


def test_sign_up_attendance_and_hours(client, auth, demo):
    auth.login("staff")
    r = post_json(
        client,
        "/api/v1/activities",
        {
            "title": "月末清洁日",
            "dtstart": "2026-01-31T09:00:00+08:00",
            "rrule": "FREQ=MONTHLY;BYMONTHDAY=-1",
            "duration_minutes": 90,
        },
    )
    assert r.status_code == 201, r.get_json()
    aid = r.get_json()["id"]
    vid = db.session.scalar(select(Volunteer.id).order_by(Volunteer.id).limit(1))
    bad = post_json(client, f"/api/v1/activities/{aid}/signups", {"volunteer_id": vid, "date": "2026-02-27"})
    assert bad.status_code == 422 and "date" in bad.get_json()["error"]["fields"]
    assert (
        post_json(client, f"/api/v1/activities/{aid}/signups", {"volunteer_id": vid, "date": "2026-02-31"}).status_code
        == 422
    )
    ok = post_json(client, f"/api/v1/activities/{aid}/signups", {"volunteer_id": vid, "date": "2026-02-28"})
    assert ok.status_code == 201
    assert (
        post_json(client, f"/api/v1/activities/{aid}/signups", {"volunteer_id": vid, "date": "2026-02-28"}).status_code
        == 409
    )
    sid = ok.get_json()["id"]
    before = {r["volunteer_id"]: r["hours"] for r in client.get("/api/v1/volunteer-hours?by=volunteer").get_json()}
    assert post_json(client, f"/api/v1/signups/{sid}", {"attended": "maybe"}, "patch").status_code == 422
    assert post_json(client, f"/api/v1/signups/{sid}", {"attended": True, "hours": -1}, "patch").status_code == 422
    r = post_json(client, f"/api/v1/signups/{sid}", {"attended": True}, "patch")
    assert r.status_code == 200 and r.get_json()["hours"] == 1.5
    after = {r["volunteer_id"]: r["hours"] for r in client.get("/api/v1/volunteer-hours?by=volunteer").get_json()}
    assert after[vid] == pytest.approx(before.get(vid, 0) + 1.5)
    csv = client.get("/volunteers/hours?by=volunteer&format=csv").get_data(as_text=True)
    assert "volunteer" in csv.splitlines()[0]


def test_volunteer_names_and_phones_follow_roles(client, auth, demo):
    auth.login("leader")
    assert client.get("/api/v1/volunteers").status_code == 403
    assert client.get("/api/v1/volunteer-hours?by=volunteer").status_code == 403
    teams = client.get("/api/v1/volunteer-hours?by=team").get_json()
    assert teams and all(t["volunteers"] is None or t["volunteers"] >= 5 for t in teams)
    auth.logout()
    auth.login("gridworker")
    vols = client.get("/api/v1/volunteers").get_json()
    assert vols and all(v["phone"] is None for v in vols)
    auth.logout()
    auth.login("staff")
    assert all(v["phone"] for v in client.get("/api/v1/volunteers").get_json())
    auth.logout()
    auth.login("zjystaff")
    assert client.get("/api/v1/volunteers").get_json() == []
    assert client.get("/api/v1/activities").get_json() == []


def test_only_staff_create_teams_and_volunteers_with_valid_skills(client, auth, demo):
    auth.login("gridworker")
    assert post_json(client, "/api/v1/volunteer-teams", {"name": "新队"}).status_code == 403
    auth.logout()
    auth.login("staff")
    r = post_json(client, "/api/v1/volunteer-teams", {"name": "华林山银龄互助队"})
    assert r.status_code == 201 and r.get_json()["community"] == "620103002001"
    tid = r.get_json()["id"]
    n = db.session.scalar(select(func.count()).select_from(Volunteer))
    assert (
        post_json(client, "/api/v1/volunteers", {"name": "某某", "team_id": tid, "skills": "理发"}).status_code == 422
    )
    assert db.session.scalar(select(func.count()).select_from(Volunteer)) == n
    r = post_json(client, "/api/v1/volunteers", {"name": "某某", "team_id": tid, "skills": ["理发", "陪聊"]})
    assert r.status_code == 201 and r.get_json()["skills"] == ["理发", "陪聊"]


def test_activity_page_signs_up_and_records_attendance(client, auth, demo):
    auth.login("staff")
    friday = db.session.scalar(select(Activity.id).where(Activity.title == "周五帮帮团"))
    vid = db.session.scalar(select(Volunteer.id).order_by(Volunteer.id.desc()).limit(1))
    page = client.get(f"/volunteers/activities/{friday}?date=2026-11-20").get_data(as_text=True)
    assert "报名与签到" in page
    r = client.post(f"/volunteers/activities/{friday}", data={"date": "2026-11-20", "volunteer_id": vid})
    assert r.status_code == 303
    r = client.post(f"/volunteers/activities/{friday}", data={"date": "2026-11-19", "volunteer_id": vid})
    assert r.status_code == 303
    from app.volunteers.models import SignUp

    rows = db.session.scalars(select(SignUp).where(SignUp.activity_id == friday, SignUp.volunteer_id == vid)).all()
    assert [s.occurs_on.isoformat() for s in rows] == ["2026-11-20"]
    r = client.post(
        f"/volunteers/activities/{friday}",
        data={"date": "2026-11-20", "signup_id": rows[0].id, "attended": "1", "hours": "2.5"},
    )
    assert r.status_code == 303
    db.session.refresh(rows[0])
    assert rows[0].attended and float(rows[0].hours) == 2.5
    r = client.post(f"/volunteers/activities/{friday}", data={"signup_id": "x; drop"}, follow_redirects=True)
    assert "须为数字" in r.get_data(as_text=True)  # "not a number", said in the page's language
