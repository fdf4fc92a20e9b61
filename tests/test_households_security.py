"""Households, visits, care plans, wishes and volunteers with CSRF on (as in production): bearer-token
writes need no CSRF header, cookie-session writes do; racing creations are 409; CSV cells never run
as spreadsheet formulas."""

import csv
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import func, select

from app.auth.demo import DEMO_USERS
from app.core.extensions import db
from app.households.models import CarePlan, Household, Visit
from app.volunteers.models import Activity, SignUp, Team, Volunteer
from app.wishes.models import Wish
from tests.conftest import database_url, make_test_app


@pytest.fixture
def csrf_app(app):
    return make_test_app(database_url("test"), WTF_CSRF_ENABLED=True)


@pytest.fixture
def csrf_client(csrf_app):
    return csrf_app.test_client()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def liu() -> Household:
    return db.session.scalar(select(Household).where(Household.head_name == "刘先生"))


def send(client, url, body, headers=None, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def login_with_csrf(client, username: str, password: str) -> str:
    """Log in through the form (with its token); the page token for API calls."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert (
        client.post("/login", data={"username": username, "password": password, "csrf_token": token}).status_code == 302
    )
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def writes():
    """(user, url, body, model) of one write per feature, built on the demo data."""
    h = liu()
    planless = Household(building_id=h.building_id, flat_no="无计划", head_name="无计划户", grid_id=h.grid_id)
    db.session.add(planless)
    db.session.flush()
    team = db.session.scalar(select(Team.id).where(Team.name.contains("红色")))
    return [
        (
            "staff",
            "/api/v1/households",
            {"building_id": h.building_id, "flat_no": "8单元808", "head_name": "令牌户"},
            Household,
        ),
        ("hls4", "/api/v1/visits", {"household_id": h.id, "purpose": "greeting"}, Visit),
        ("staff", "/api/v1/care-plans", {"household_id": planless.id, "frequency_days": 10}, CarePlan),
        ("hls4", "/api/v1/wishes", {"household_id": h.id, "title": "想要一把躺椅", "category": "daily_needs"}, Wish),
        ("staff", "/api/v1/volunteers", {"name": "令牌志愿者", "team_id": team}, Volunteer),
    ]


def test_bearer_token_writes_need_no_csrf_header(csrf_client, auth, demo):
    for user, url, body, model in writes():
        n = count(model)
        r = send(csrf_client, url, body, auth.token(user, "phone"))
        assert r.status_code == 201, (url, r.get_json())
        assert count(model) == n + 1


def test_cookie_session_writes_need_the_csrf_header(csrf_app, demo):
    passwords = {u["username"]: u["password"] for u in DEMO_USERS}
    for user, url, body, model in writes():
        csrf_client = csrf_app.test_client()
        token = login_with_csrf(csrf_client, user, passwords.get(user, "wuwei-grid"))
        n = count(model)
        r = send(csrf_client, url, body)
        assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"], url
        assert count(model) == n
        r = send(csrf_client, url, body, {"X-CSRFToken": token})
        assert r.status_code == 201, (url, r.get_json())
        assert count(model) == n + 1


def test_a_second_identical_household_is_409_not_500_and_stores_nothing(client, auth, demo):
    """20 phones filing the same flat at once raced past a SELECT: the unique index decides, as 409."""
    auth.login("staff")
    body = {
        "building_id": liu().building_id,
        "flat_no": "7单元707",
        "head_name": "并发户",
        "members": [{"name": "并发户", "age": 50}],
    }
    assert send(client, "/api/v1/households", body).status_code == 201
    n = count(Household)
    r = send(client, "/api/v1/households", body)
    assert r.status_code == 409 and r.get_json()["error"]["fields"] == {"flat_no": "taken"}
    assert count(Household) == n
    assert client.get("/api/v1/households?q=并发户").get_json()["total"] == 1  # the session is still usable
    team = {"name": "并发互助队"}
    assert send(client, "/api/v1/volunteer-teams", team).status_code == 201
    assert send(client, "/api/v1/volunteer-teams", team).status_code == 409


def test_csv_exports_escape_cells_that_would_run_as_formulas(client, auth, demo):
    auth.login("staff")
    formula = '=HYPERLINK("http://evil.example","点我")'
    r = send(
        client,
        "/api/v1/households",
        {
            "building_id": liu().building_id,
            "flat_no": "@SUM(1+1)",
            "head_name": formula,
            "members": [{"name": "+cmd", "age": 40}],
        },
    )
    assert r.status_code == 201, r.get_json()
    for url in ("/households/export.csv", "/api/v1/households/export.csv"):
        rows = list(csv.reader(io.StringIO(client.get(url).get_data(as_text=True).lstrip("\ufeff"))))
        mine = next(row for row in rows if row[4].endswith(formula))
        assert mine[3] == "'@SUM(1+1)" and mine[4] == "'" + formula and mine[7] == "'+cmd"

    activity = db.session.scalar(select(Activity).where(Activity.title == "周五帮帮团"))
    v = Volunteer(name="=cmd|' /C calc'!A0", team_id=activity.team_id, area_id=activity.area_id, skills=[])
    db.session.add(v)
    db.session.flush()
    db.session.add(
        SignUp(activity_id=activity.id, occurs_on=dt.date(2026, 1, 2), volunteer_id=v.id, attended=True, hours=2)
    )
    db.session.flush()
    text = client.get("/volunteers/hours?by=volunteer&format=csv").get_data(as_text=True)
    row = next(r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if "cmd" in r[1])
    assert row[1] == "'=cmd|' /C calc'!A0" and row[3] == "2.0"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/visits?to=9999-12-31",
        "/api/v1/care-plans/due?on=9999-12-31&within_days=60",
        "/api/v1/activities/calendar?from=9999-12-01&to=9999-12-31",
        "/api/v1/households?building_id=99999999999",
        "/api/v1/households?colour=red",
    ],
)
def test_out_of_range_query_parameters_are_400_not_500(client, auth, demo, url):
    auth.login("staff")
    r = client.get(url)
    assert r.status_code == 400 and r.get_json()["error"]["fields"], r.get_json()


def test_far_dates_in_bodies_are_422_not_500(client, auth, demo):
    auth.login("staff")
    r = send(
        client,
        "/api/v1/visits",
        {"household_id": liu().id, "purpose": "greeting", "visited_at": "0001-01-01T00:00:00+14:00"},
    )
    assert r.status_code == 422 and "visited_at" in r.get_json()["error"]["fields"]
    aid = db.session.scalar(select(Activity.id).where(Activity.title == "周五帮帮团"))
    vid = db.session.scalar(select(Volunteer.id).order_by(Volunteer.id).limit(1))
    r = send(client, f"/api/v1/activities/{aid}/signups", {"volunteer_id": vid, "date": "9999-12-31"})
    assert r.status_code == 422 and "date" in r.get_json()["error"]["fields"]
