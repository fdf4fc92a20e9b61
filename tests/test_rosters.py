"""网格员名册: yearly obligations of households (Grandma Peng's pension certification …), who is due this month
on the grid worker's phone, marking done, access and bad input; wishes claimed by one person."""

import json

from sqlalchemy import func, select

from app.core.extensions import db
from app.core.time import today
from app.households.models import Household, Obligation, ObligationDone
from app.volunteers.models import Volunteer
from app.wishes.models import Wish


def post(client, url, body, headers=None):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def household(name):
    return db.session.scalar(select(Household).where(Household.head_name == name).order_by(Household.id))


def counts():
    return (
        db.session.scalar(select(func.count()).select_from(Obligation)),
        db.session.scalar(select(func.count()).select_from(ObligationDone)),
    )


def test_grandma_peng_is_done_this_year_and_mr_liu_is_due_on_the_phone(client, auth, demo):
    auth.login("staff")
    rows = client.get("/api/v1/roster").get_json()["rows"]
    peng = next(r for r in rows if r["household"] == "彭奶奶" and r["kind"] == "pension_certification")
    assert peng["state"] == "done" and peng["member"] == "彭奶奶" and peng["at_home"]
    assert "人脸识别" in peng["done_note"]
    liu = {r["kind"]: r for r in rows if r["household"] == "刘先生"}
    assert liu["pension_certification"]["state"] == "due"
    assert liu["pension_certification"]["due_month"] == today().month
    page = client.get("/households/roster/").get_data(as_text=True)
    assert "本月年度事项" in page and "养老金资格认证" in page and "刘先生" in page
    english = client.get("/households/roster/?lang=en").get_data(as_text=True)
    assert "Roster of yearly obligations" in english and "Pension certification" in english, english[
        english.find("<h1") :
    ][:300]


def test_the_due_page_of_a_grid_worker_shows_the_month_and_done_takes_it_off(client, auth, demo):
    auth.login("gridworker")
    rows = client.get(f"/api/v1/roster?month={today().month}").get_json()["rows"]
    due = [r for r in rows if r["state"] in ("due", "overdue")]
    assert due, "the demo gives the grid worker something due this month"
    page = client.get("/households/due").get_data(as_text=True)
    first = due[0]
    assert "本月年度事项" in page and f"/households/roster/{first['id']}/done" in page
    before = counts()
    r = client.post(f"/households/roster/{first['id']}/done", data={"note": "已上门认证", "next": "/households/due"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/households/due")
    assert counts() == (before[0], before[1] + 1)
    page = client.get("/households/due").get_data(as_text=True)
    assert f"/households/roster/{first['id']}/done" not in page
    row = next(r for r in client.get("/api/v1/roster").get_json()["rows"] if r["id"] == first["id"])
    assert row["state"] == "done" and row["done_note"] == "已上门认证"
    # Twice in one year: 409, nothing added.
    r = post(client, f"/api/v1/obligations/{first['id']}/done", {}, {"X-CSRFToken": csrf(client)})
    assert r.status_code == 409
    assert counts() == (before[0], before[1] + 1)


def csrf(client):
    page = client.get("/households/roster/").get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_obligations_are_added_from_the_file_page_and_bad_input_is_refused(client, auth, demo):
    staff = auth.token("staff")
    peng = household("彭奶奶")
    other = household("刘先生")
    before = counts()
    url = f"/api/v1/households/{peng.id}/obligations"
    for body, field in (
        ({"kind": "tax", "due_month": 3}, "kind"),
        ({"kind": "disability_review", "due_month": 13}, "due_month"),
        ({"kind": "disability_review"}, "due_month"),
        ({"kind": "disability_review", "due_month": 3, "member_id": other.members[0].id}, "member_id"),
        ({"kind": "disability_review", "due_month": 3, "colour": "red"}, "colour"),
    ):
        r = post(client, url, body, staff)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (body, r.get_json())
    assert counts() == before
    r = post(client, url, {"kind": "elderly_allowance", "due_month": 10, "note": "高龄津贴"}, staff)
    assert r.status_code == 201
    assert (
        post(client, f"/api/v1/obligations/{r.get_json()['id']}/done", {"done_on": "2099-01-01"}, staff).status_code
        == 422
    )
    auth.login("staff")
    page = client.get(f"/households/{peng.id}").get_data(as_text=True)
    assert "年度事项" in page and "高龄津贴认证" in page and f"/households/roster/new?household_id={peng.id}" in page
    form = client.get(f"/households/roster/new?household_id={peng.id}").get_data(as_text=True)
    assert "每年几月办理" in form and "彭奶奶" in form
    r = client.post(
        f"/households/roster/new?household_id={peng.id}", data={"kind": "disability_review", "due_month": "5"}
    )
    assert r.status_code == 303
    assert counts()[0] == before[0] + 2
    r = client.post(
        f"/households/roster/new?household_id={peng.id}", data={"kind": "disability_review", "due_month": "0"}
    )
    assert r.status_code == 422 and counts()[0] == before[0] + 2


def test_roster_is_personal_data(client, auth, demo):
    peng = household("彭奶奶")
    assert client.get("/api/v1/roster", headers=auth.token("patrol")).status_code == 403
    assert client.get("/api/v1/roster", headers=auth.token("leader")).status_code == 403
    zjy = auth.token("zjystaff")  # staff of another community
    assert "彭奶奶" not in json.dumps(client.get("/api/v1/roster", headers=zjy).get_json(), ensure_ascii=False)
    r = post(client, f"/api/v1/households/{peng.id}/obligations", {"kind": "other", "due_month": 1}, zjy)
    assert r.status_code == 404
    ob = db.session.scalar(select(Obligation.id).where(Obligation.household_id == peng.id))
    r = post(client, f"/api/v1/obligations/{ob}/done", {}, auth.token("zjystaff"))
    assert r.status_code == 404, r.get_json()


def test_a_party_member_claims_a_wish_alone_not_only_a_team(client, auth, demo):
    auth.login("staff")
    board = client.get("/wishes/").get_data(as_text=True)
    assert "个人（志愿者）" in board and "（党员）" in board
    story = db.session.scalar(select(Wish).where(Wish.title.startswith("想请人每周来读读党报")))
    assert story.status == "claimed" and story.claimed_by_volunteer.party_member and story.claimed_by_team_id is None
    wish = db.session.scalar(
        select(Wish).where(Wish.status == "posted", Wish.title == "想一副老花镜".replace("想", "想要"))
    )
    community = wish.grid.code[:12]
    person = next(
        v
        for v in db.session.scalars(select(Volunteer).where(Volunteer.party_member.is_(True)))
        if v.area_id and db.session.get(type(wish.grid), v.area_id).code == community
    )
    r = client.post(f"/wishes/{wish.id}/claim", data={"claimer": f"volunteer:{person.id}"})
    assert r.status_code == 303
    db.session.refresh(wish)
    assert wish.status == "claimed" and wish.claimed_by_volunteer_id == person.id
    assert f"{person.name}（党员）" in client.get("/wishes/").get_data(as_text=True)
