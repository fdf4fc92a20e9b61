"""Issue 17: departments and property companies act at their desk, residents follow and rate their report,
every hand-off is told (in the inbox; e-mail is queued, and sent in tests/test_notices_mail.py)."""

import datetime as dt
import io
import json
import re

import pytest
from PIL import Image
from sqlalchemy import func, select, text

from app.auth.models import User
from app.core.extensions import db
from app.incidents.models import CASE_ALPHABET, Incident, case_number_of
from app.notices.models import Notice
from app.notices.services import notify
from app.open311.demo import DEMO_OPEN311_KEY

XIJIN = (103.78865, 36.05085)  # Xijin East Road housing office, Hualinshan grid 2 (hls2)
REPORTER = ("王秀芝", "13812345678")  # personal data the resident gives the hotline


def post_json(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def move(client, headers, iid, to, **kw):
    return post_json(client, f"/api/v1/incidents/{iid}/transitions", {"to": to, **kw}, headers)


def uid(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def told(iid: int) -> list[tuple[str, str]]:
    """(username, kind) of every notice about incident ``iid``, in order."""
    rows = db.session.execute(
        select(User.username, Notice.kind)
        .join(User, User.id == Notice.user_id)
        .where(Notice.key.like(f"incident:{iid}:%"))
        .order_by(Notice.id)
    )
    return [(r[0], r[1]) for r in rows]


def hotline_report(client, headers, **kw):
    body = {
        "category": "drainage.sewage",
        "description": f"房管所门前污水外溢，{REPORTER[0]}反映",
        "lon": XIJIN[0],
        "lat": XIJIN[1],
        "address": "西津东路房管所门前",
        "source": "hotline",
        "reporter_name": REPORTER[0],
        "reporter_phone": REPORTER[1],
        **kw,
    }
    r = post_json(client, "/api/v1/incidents", body, headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def drainage_id(client, headers) -> int:
    cats = client.get("/api/v1/incident-categories", headers=headers).get_json()
    return next(d["id"] for d in cats["departments"] if d["code"] == "drainage")


def dispatched_to_drainage(client, staff) -> int:
    iid = hotline_report(client, staff)
    assert move(client, staff, iid, "filed", note="李爱兰核实属实").status_code == 200
    assert move(client, staff, iid, "dispatched", department_id=drainage_id(client, staff)).status_code == 200
    return iid


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def test_the_sewage_story_is_done_by_the_people_who_own_each_stage(client, auth, demo):
    staff, paishui, shenghe = auth.token("staff"), auth.token("paishui"), auth.token("shenghe")
    iid = hotline_report(client, staff)
    assert told(iid) == [("hls2", "incident.new")]  # the grid's worker subscribed to their grid

    assert move(client, staff, iid, "filed", note="核实属实").status_code == 200
    assert (
        move(
            client, staff, iid, "dispatched", department_id=drainage_id(client, staff), note="请排水所处置"
        ).status_code
        == 200
    )
    assert told(iid)[1:] == [("paishui", "incident.dispatched")]

    desk = client.get("/api/v1/desk/incidents", headers=paishui).get_json()
    row = next(r for r in desk["incidents"] if r["id"] == iid)
    assert desk["organisation"] == "区排水管理所" and row["due_at"] and row["state"] == "dispatched"
    assert "reporter" not in json.dumps(desk) and REPORTER[1] not in json.dumps(desk)
    assert client.get(f"/api/v1/desk/incidents/{iid}", headers=shenghe).status_code == 404  # another company
    assert client.get(f"/api/v1/incidents/{iid}", headers=paishui).status_code == 404  # no area scope
    assert move(client, staff, iid, "in_progress").status_code == 403  # not staff's stage
    assert move(client, auth.token("hls2"), iid, "in_progress").status_code == 403
    assert move(client, shenghe, iid, "in_progress").status_code == 404

    assert move(client, paishui, iid, "in_progress", note="已派抢修班").status_code == 200
    r = post_json(client, f"/api/v1/incidents/{iid}/extensions", {"hours": 24, "reason": "需更换管道，等材料"}, paishui)
    assert r.status_code == 201, r.get_json()
    ext = r.get_json()["id"]
    assert (
        post_json(client, f"/api/v1/incidents/{iid}/extensions", {"hours": 4, "reason": "再等"}, paishui).status_code
        == 409
    )
    due_before = client.get(f"/api/v1/desk/incidents/{iid}", headers=paishui).get_json()["due_at"]
    assert (
        post_json(client, f"/api/v1/incidents/{iid}/extensions/{ext}/decision", {"granted": True}, paishui).status_code
        == 403
    )
    r = post_json(
        client, f"/api/v1/incidents/{iid}/extensions/{ext}/decision", {"granted": True, "note": "同意"}, staff
    )
    assert r.status_code == 200 and r.get_json()["granted"] is True
    due_after = client.get(f"/api/v1/desk/incidents/{iid}", headers=paishui).get_json()["due_at"]
    assert dt.datetime.fromisoformat(due_after) - dt.datetime.fromisoformat(due_before) == dt.timedelta(hours=24)

    photo = client.post(
        f"/api/v1/desk/incidents/{iid}/photos",
        data={"photo": (io.BytesIO(jpeg()), "done.jpg")},
        content_type="multipart/form-data",
        headers=paishui,
    )
    assert photo.status_code == 201, photo.get_json()
    assert (
        move(client, paishui, iid, "responded", note="管道已更换", photo_ids=[photo.get_json()["id"]]).status_code
        == 200
    )
    assert (
        move(client, staff, iid, "closed", note="周干事现场核查", public_note="管道已更换，路面已清洗。").status_code
        == 200
    )

    token = Incident.by_id(iid).public_token
    page = client.get(f"/status/{token}").get_data(as_text=True)
    assert "管道已更换，路面已清洗。" in page and "核查结案" in page
    r = client.post(f"/status/{token}/rating", data={"satisfaction": "unsatisfied", "comment": "还有异味"})
    assert r.status_code == 302 and Incident.by_id(iid).state == "responded"
    assert move(client, staff, iid, "in_progress", note="居民反映仍有异味，请复查").status_code == 200
    assert move(client, paishui, iid, "responded", note="已疏通支管").status_code == 200
    assert move(client, staff, iid, "closed", public_note="支管已疏通，异味消除。").status_code == 200
    assert client.post(f"/status/{token}/rating", data={"satisfaction": "satisfied"}).status_code == 302
    final = Incident.by_id(iid)
    assert final.state == "evaluated" and final.satisfaction == "satisfied" and final.rating == 5
    assert client.post(f"/status/{token}/rating", data={"satisfaction": "unsatisfied"}).status_code == 302
    assert Incident.by_id(iid).state == "evaluated"  # rated once per close

    assert told(iid) == [
        ("hls2", "incident.new"),
        ("paishui", "incident.dispatched"),
        ("staff", "incident.extension_requested"),
        ("liailan", "incident.extension_requested"),
        ("paishui", "incident.extension_granted"),
        ("staff", "incident.responded"),
        ("liailan", "incident.responded"),
        ("paishui", "incident.closed"),
        ("staff", "incident.unsatisfied"),
        ("liailan", "incident.unsatisfied"),
        ("leader", "incident.unsatisfied"),
        ("paishui", "incident.rework"),
        ("staff", "incident.responded"),
        ("liailan", "incident.responded"),
        ("paishui", "incident.closed"),
    ]
    steps = [
        t["to"] for t in client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]["timeline"]
    ]
    assert steps == [
        "reported",
        "filed",
        "dispatched",
        "in_progress",
        "responded",
        "closed",
        "responded",
        "in_progress",
        "responded",
        "closed",
        "evaluated",
    ]


def test_notices_with_an_address_queue_an_email_job_in_the_same_transaction(client, auth, app, demo):
    app.config["WUWEI_SMTP_HOST"] = "127.0.0.1"
    try:
        iid = dispatched_to_drainage(client, auth.token("staff"))
    finally:
        app.config["WUWEI_SMTP_HOST"] = ""
    notice = db.session.scalar(
        select(Notice).where(Notice.key.like(f"incident:{iid}:step:%"), Notice.user_id == uid("paishui"))
    )
    assert notice.email_to == "paishui@wuwei.example" and notice.email_state == "queued"
    job = db.session.execute(
        text("SELECT task_name, queue_name, args FROM procrastinate_jobs WHERE args->>'notice_id' = :n"),
        {"n": str(notice.id)},
    ).one()
    assert job.task_name == "notices.send_email" and job.queue_name == "notices"
    hls2 = db.session.scalar(select(Notice).where(Notice.key == f"incident:{iid}:new"))
    assert hls2.email_state is None  # "new incident" is not e-mailed by default


def test_the_holder_returns_with_a_reason_and_staff_are_told(client, auth, demo):
    staff, paishui = auth.token("staff"), auth.token("paishui")
    iid = dispatched_to_drainage(client, staff)
    r = move(client, paishui, iid, "filed")
    assert r.status_code == 422 and "note" in r.get_json()["error"]["fields"]
    assert move(client, paishui, iid, "filed", note="属于房管所管辖的化粪池").status_code == 200
    assert told(iid)[-2:] == [("staff", "incident.returned"), ("liailan", "incident.returned")]
    text_ = client.get("/api/v1/notices", headers=staff).get_json()["notices"][0]["text"]
    assert "区排水管理所退回了事件" in text_ and "化粪池" in text_
    assert client.get(f"/api/v1/desk/incidents/{iid}", headers=paishui).status_code == 404  # off their desk
    # staff recall needs no reason
    assert move(client, staff, iid, "dispatched", department_id=drainage_id(client, staff)).status_code == 200
    assert move(client, staff, iid, "filed").status_code == 200


def test_an_organisation_without_people_in_wuwei_has_its_steps_recorded_on_its_behalf(client, auth, demo):
    staff, grid = auth.token("staff"), auth.token("hls2")
    iid = hotline_report(client, staff)
    cats = client.get("/api/v1/incident-categories", headers=staff).get_json()
    housing = next(d["id"] for d in cats["departments"] if d["code"] == "housing")
    move(client, staff, iid, "filed")
    assert move(client, staff, iid, "dispatched", department_id=housing).status_code == 200
    assert move(client, grid, iid, "in_progress", note="房管所电话告知已进场").status_code == 200
    step = client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]["timeline"][-1]
    assert step["data"]["on_behalf_of"] == "西津东路房管所"
    assert move(client, auth.token("paishui"), iid, "responded").status_code == 404


def test_a_person_dispatched_to_holds_the_stage(client, auth, demo):
    staff = auth.token("staff")
    iid = hotline_report(client, staff)
    move(client, staff, iid, "filed")
    assert move(client, staff, iid, "dispatched", assignee_id=uid("hls2")).status_code == 200
    assert told(iid)[-1] == ("hls2", "incident.dispatched")
    assert move(client, auth.token("liailan"), iid, "in_progress").status_code == 403
    assert move(client, staff, iid, "in_progress").status_code == 403
    assert move(client, auth.token("hls2"), iid, "in_progress").status_code == 200


def test_the_status_page_never_shows_personal_data_or_internal_notes(client, auth, demo):
    staff = auth.token("staff")
    iid = dispatched_to_drainage(client, staff)
    move(client, auth.token("paishui"), iid, "in_progress", note=f"已电话联系{REPORTER[0]}，{REPORTER[1]}")
    incident = Incident.by_id(iid)
    page = client.get(f"/status/{incident.public_token}").get_data(as_text=True)
    assert incident.case_number[:4] in page and "污水外溢" in page and "处置" in page
    body = re.sub(r"<[^>]+>", " ", page)
    forbidden = [
        REPORTER[0],
        REPORTER[1],
        "李爱兰核实属实",
        "已电话联系",
        "周干事",
        "赵师傅",
        "调解员",
        str(round(XIJIN[0], 4)),
        str(round(XIJIN[1], 4)),
    ]
    assert [f for f in forbidden if f in body] == []
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", body)  # no ISO timestamps
    for word in ("in_progress", "dispatched", "unsatisfied"):
        assert word not in body
    # the demo's own personal data: the seed story's caller, every household member's name and phone
    demo_people = db.session.execute(text("SELECT name, phone FROM household_members LIMIT 200")).all()
    story = db.session.scalar(select(Incident).where(Incident.id == 1))
    seed_page = re.sub(r"<[^>]+>", " ", client.get(f"/status/{story.public_token}").get_data(as_text=True))
    for name, phone in [(story.reporter_name, story.reporter_phone), *demo_people]:
        assert (name and name in seed_page) is not True and (phone and phone in seed_page) is not True
    assert "回访来电居民" not in seed_page and "李爱兰" not in seed_page
    assert client.get("/status/" + "0" * 32).status_code == 404
    assert client.get("/status/not-a-token").status_code == 404
    r = client.get(f"/status/{incident.public_token}")
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"


def test_the_status_page_speaks_english_too(client, auth, demo):
    iid = hotline_report(client, auth.token("staff"))
    page = client.get(f"/status/{Incident.by_id(iid).public_token}?lang=en").get_data(as_text=True)
    assert "Case number" in page and "Reported" in page and "Stage now" in page
    assert not re.search(r"[\u4e00-\u9fff]", re.sub(r"<[^>]+>|五微|中文|西津东路房管所门前|污水外溢", " ", page))


def test_rating_only_a_closed_case_and_staff_record_a_call_back(client, auth, demo):
    staff = auth.token("staff")
    iid = dispatched_to_drainage(client, staff)
    token = Incident.by_id(iid).public_token
    client.post(f"/status/{token}/rating", data={"satisfaction": "satisfied"})
    assert Incident.by_id(iid).state == "dispatched"  # not closed: nothing to rate
    paishui = auth.token("paishui")
    move(client, paishui, iid, "in_progress")
    move(client, paishui, iid, "responded", note="已处置")
    move(client, staff, iid, "closed")
    assert move(client, auth.token("leader"), iid, "evaluated", satisfaction="satisfied").status_code == 403
    r = move(client, staff, iid, "evaluated", satisfaction="unsatisfied")
    assert r.status_code == 422 and "satisfaction" in r.get_json()["error"]["fields"]
    assert move(client, staff, iid, "evaluated").status_code == 422  # no default rating
    r = move(client, staff, iid, "evaluated", satisfaction="basically_satisfied", note="回访：基本满意")
    assert r.status_code == 200
    props = r.get_json()["properties"]
    assert props["satisfaction"] == "basically_satisfied" and props["rating"] == 3
    assert props["timeline"][-1]["data"]["via"] == "callback"


def test_case_numbers_are_eight_unambiguous_characters_and_staff_find_a_case_by_it(client, auth, demo):
    numbers = db.session.scalars(select(Incident.case_number)).all()
    assert len(numbers) == len(set(numbers)) > 30
    assert all(len(n) == 8 and set(n) <= set(CASE_ALPHABET) for n in numbers)
    assert not set("01OIL") & set(CASE_ALPHABET)
    assert all(case_number_of(i) == n for i, n in db.session.execute(select(Incident.id, Incident.case_number)))
    assert len({case_number_of(i) for i in range(1, 20001)}) == 20000
    iid = hotline_report(client, auth.token("staff"))
    number = Incident.by_id(iid).case_number
    auth.login("staff")
    r = client.get(f"/incidents/case?number={number[:4].lower()}-{number[4:]}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/incidents/{iid}")
    page = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert f"{number[:4]}-{number[4:]}" in page and "/status/" in page
    auth.logout()
    auth.login("zjystaff")  # another community: not found
    assert client.get(f"/incidents/case?number={number}").headers["Location"].endswith("/incidents/")


def test_deadline_reminders_are_told_once_per_stage(client, auth, app, demo):
    from app.incidents.services import remind

    staff = auth.token("staff")
    iid = dispatched_to_drainage(client, staff)
    db.session.execute(text("UPDATE incidents SET deadline_notified = 2"))  # the demo's own deadlines aside
    db.session.execute(
        text(
            "UPDATE incidents SET deadline_notified = 0, state_changed_at = now() - interval '3 hours 30 minutes' "
            "WHERE id = :i"
        ),
        {"i": iid},
    )  # dispatched: 4 h for sewage
    db.session.commit()
    with app.test_request_context():
        assert remind() == 1
        assert remind() == 0
    assert told(iid)[-1] == ("paishui", "incident.deadline_near")
    db.session.execute(
        text("UPDATE incidents SET state_changed_at = now() - interval '5 hours' WHERE id = :i"), {"i": iid}
    )
    db.session.commit()
    with app.test_request_context():
        assert remind() == 1
        assert remind() == 0
    assert told(iid)[-2:] == [("paishui", "incident.overdue"), ("leader", "incident.overdue")]
    # a new stage starts a new clock
    move(client, auth.token("paishui"), iid, "in_progress")
    assert Incident.by_id(iid).deadline_notified == 0


def test_the_same_event_is_told_once(client, auth, demo):
    staff = uid("staff")
    assert notify([staff, staff], "incident.closed", "test:once", {"case": "X", "category": "Y"}, "/") == 1
    assert notify([staff], "incident.closed", "test:once", {"case": "X", "category": "Y"}, "/") == 0
    assert db.session.scalar(select(func.count()).select_from(Notice).where(Notice.key == "test:once")) == 1


def test_inbox_settings_and_subscriptions_through_the_api(client, auth, demo):
    staff = auth.token("staff")
    dispatched_to_drainage(client, staff)
    paishui = auth.token("paishui")
    box = client.get("/api/v1/notices", headers=paishui).get_json()
    assert box["unread"] >= 1 and box["notices"][0]["kind"] == "incident.dispatched"
    assert "已派遣给区排水管理所" in box["notices"][0]["text"] and box["notices"][0]["link"].startswith(
        "/incidents/desk/"
    )
    r = post_json(client, "/api/v1/notices/read", {"all": True}, paishui)
    assert r.status_code == 200 and r.get_json()["unread"] == 0
    assert post_json(client, "/api/v1/notices/read", {"ids": ["x"]}, paishui).status_code == 422

    r = client.put(
        "/api/v1/notice-settings",
        data=json.dumps({"email": "not-an-address"}),
        content_type="application/json",
        headers=paishui,
    )
    assert r.status_code == 422
    r = client.put(
        "/api/v1/notice-settings",
        data=json.dumps(
            {"email": "zhao@paishui.example", "language": "en", "kinds": {"incident.dispatched": {"email": False}}}
        ),
        content_type="application/json",
        headers=paishui,
    )
    assert r.status_code == 200, r.get_json()
    s = r.get_json()
    assert s["email"] == "zhao@paishui.example" and s["language"] == "en"
    assert next(k for k in s["kinds"] if k["kind"] == "incident.dispatched") == {
        "kind": "incident.dispatched",
        "label": "新派遣",
        "inbox": True,
        "email": False,
    }
    assert (
        client.put(
            "/api/v1/notice-settings",
            data=json.dumps({"kinds": {"nope": {"inbox": False}}}),
            content_type="application/json",
            headers=paishui,
        ).status_code
        == 422
    )

    # departments have no area to subscribe to; staff subscribe inside their community only
    body = {"area": "620103002001", "kinds": ["incident.new"]}
    assert post_json(client, "/api/v1/notice-subscriptions", body, paishui).status_code == 403
    assert post_json(client, "/api/v1/notice-subscriptions", {**body, "area": "620102005003"}, staff).status_code == 422
    assert (
        post_json(client, "/api/v1/notice-subscriptions", {**body, "kinds": ["incident.closed"]}, staff).status_code
        == 422
    )
    r = post_json(client, "/api/v1/notice-subscriptions", body, staff)
    assert r.status_code == 201 and r.get_json()["area_name"] == "华林山社区"
    sub = r.get_json()["id"]
    assert client.delete(f"/api/v1/notice-subscriptions/{sub}", headers=auth.token("liailan")).status_code == 404
    assert client.delete(f"/api/v1/notice-subscriptions/{sub}", headers=staff).status_code == 204
    assert client.get("/api/v1/notices", headers={}).status_code == 401


def test_the_bell_counts_unread_notices_and_the_inbox_page_opens_them(client, auth, demo):
    iid = dispatched_to_drainage(client, auth.token("staff"))
    auth.login("paishui")
    page = client.get("/incidents/desk/").get_data(as_text=True)
    assert 'class="bell"' in page and '<span class="count">1</span>' in page
    assert "处置台" in page and "污水外溢" in page
    inbox = client.get("/notices/").get_data(as_text=True)
    notice = re.search(r'href="/notices/(\d+)"', inbox).group(1)
    r = client.get(f"/notices/{notice}")
    assert r.status_code == 302 and r.headers["Location"] == f"/incidents/desk/{iid}"
    assert '<span class="count">' not in client.get("/notices/").get_data(as_text=True)
    en = client.get("/notices/?lang=en").get_data(as_text=True)
    assert "Notices" in en and "dispatched to" in en
    settings = client.get("/notices/settings?lang=zh").get_data(as_text=True)
    assert "区域订阅" not in settings and "paishui@wuwei.example" in settings  # no area for a department
    auth.logout()
    auth.login("hls2")
    settings = client.get("/notices/settings").get_data(as_text=True)
    assert "区域订阅" in settings and "新事件" in settings


def test_the_desk_pages_accept_extend_and_report_done_with_photos(client, auth, demo):
    iid = dispatched_to_drainage(client, auth.token("staff"))
    auth.login("paishui")
    page = client.get(f"/incidents/desk/{iid}").get_data(as_text=True)
    assert "接单" in page and "退回" in page and REPORTER[1] not in page
    assert client.post(f"/incidents/desk/{iid}/accept").status_code == 302
    assert Incident.by_id(iid).state == "in_progress"
    client.post(f"/incidents/desk/{iid}/extension", data={"hours": "24", "reason": "等材料"})
    assert "延期申请（24 小时）等待社区审核" in client.get(f"/incidents/desk/{iid}").get_data(as_text=True)
    r = client.post(
        f"/incidents/desk/{iid}/done",
        data={"note": "已疏通", "photos": [(io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(jpeg()), "b.jpg")]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302 and Incident.by_id(iid).state == "responded"
    item = client.get(f"/incidents/desk/{iid}").get_data(as_text=True)
    photos = re.findall(rf"/incidents/desk/{iid}/photos/(\d+)\?size=thumb", item)
    assert len(photos) == 2
    assert client.get(f"/incidents/desk/{iid}/photos/{photos[0]}?size=thumb").mimetype == "image/jpeg"
    listing = client.get("/incidents/desk/?view=responded").get_data(as_text=True)
    assert f"/incidents/desk/{iid}" in listing
    auth.logout()
    auth.login("shenghe")
    assert client.get(f"/incidents/desk/{iid}").status_code == 404
    assert client.get(f"/incidents/desk/{iid}/photos/{photos[0]}").status_code == 404
    auth.logout()
    auth.login("staff")
    assert client.get("/incidents/desk/").status_code == 403
    detail = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "批准延期" in detail and "答复居民" in detail


def test_a_department_login_sees_its_desk_not_the_area(client, auth, demo):
    auth.login("paishui")
    home = client.get("/incidents/desk/").get_data(as_text=True)
    assert 'href="/incidents/desk/"' in home and 'href="/incidents/new"' not in home
    assert client.get("/api/v1/incidents", headers=auth.token("paishui")).get_json()["features"] == []
    assert client.get("/incidents/new").status_code == 403


def test_organisations_and_members_are_kept_by_the_admin(client, auth, demo):
    admin, staff = auth.token("admin"), auth.token("staff")
    orgs = client.get("/api/v1/organisations", headers=staff).get_json()["organisations"]
    assert {(o["name"], tuple(o["members"])) for o in orgs} >= {
        ("区排水管理所", ("paishui",)),
        ("兰州晟合物业有限责任公司", ("shenghe",)),
    }
    cats = client.get("/api/v1/incident-categories", headers=staff).get_json()
    urban = next(d["id"] for d in cats["departments"] if d["code"] == "urban")
    assert post_json(client, "/api/v1/organisations", {"department_id": urban}, staff).status_code == 403
    assert post_json(client, "/api/v1/organisations", {}, admin).status_code == 422
    r = post_json(client, "/api/v1/organisations", {"department_id": urban}, admin)
    assert r.status_code == 201 and r.get_json()["name"] == "街道城管执法队"
    assert post_json(client, "/api/v1/organisations", {"department_id": urban}, admin).status_code == 200
    org = r.get_json()["id"]
    r = client.put(
        f"/api/v1/organisations/{org}/members",
        data=json.dumps({"usernames": ["staff"]}),
        content_type="application/json",
        headers=admin,
    )
    assert r.status_code == 422  # staff is no department's person
    r = client.put(
        f"/api/v1/organisations/{org}/members",
        data=json.dumps({"usernames": ["paishui"]}),
        content_type="application/json",
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["members"] == ["paishui"]
    orgs = client.get("/api/v1/organisations", headers=staff).get_json()["organisations"]
    assert next(o for o in orgs if o["name"] == "区排水管理所")["members"] == []  # one organisation per person


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_answers_the_case_number_and_shows_the_same_states(client, auth, demo, fmt):
    r = client.post(
        f"/open311/v2/requests.{fmt}",
        data={
            "api_key": DEMO_OPEN311_KEY,
            "service_code": "drainage.sewage",
            "lat": str(XIJIN[1]),
            "long": str(XIJIN[0]),
            "description": "污水外溢",
            "first_name": REPORTER[0],
            "phone": REPORTER[1],
        },
    )
    assert r.status_code in (200, 201), r.data
    incident = db.session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
    body = r.get_data(as_text=True)
    assert f"{incident.case_number[:4]}-{incident.case_number[4:]}" in body
    assert f"/status/{incident.public_token}" in body
    staff, paishui = auth.token("staff"), auth.token("paishui")
    move(client, staff, incident.id, "filed")
    move(client, staff, incident.id, "dispatched", department_id=drainage_id(client, staff))
    move(client, paishui, incident.id, "in_progress")
    move(client, paishui, incident.id, "responded", note="内部：已联系王女士")
    move(client, staff, incident.id, "closed", public_note="已修复")
    client.post(f"/status/{incident.public_token}/rating", data={"satisfaction": "unsatisfied"})
    req = client.get(f"/open311/v2/requests/{incident.id}.json").get_json()[0]
    assert req["status"] == "open" and "responded" in req["status_notes"]
    assert incident.public_token not in json.dumps(req) and incident.case_number not in json.dumps(req)
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    updates = [
        u
        for u in client.get("/open311/v2/servicerequestupdates.json", query_string={"start_date": start}).get_json()
        if u["service_request_id"] == incident.id
    ]
    assert [u["external_status_code"] for u in updates] == [
        "filed",
        "dispatched",
        "in_progress",
        "responded",
        "closed",
        "responded",
    ]
    assert updates[4]["description"] == "已修复" and "王女士" not in json.dumps(updates)
    assert updates[5]["status"] == "in_progress"


def test_the_reminders_run_from_the_command_line_too(runner, demo):
    result = runner.invoke(args=["incidents", "remind"])
    assert result.exit_code == 0 and result.output.startswith("told of ")
    assert int(result.output.split()[2]) >= 3  # the demo's overdue incidents
    assert runner.invoke(args=["incidents", "remind"]).output == "told of 0 incidents\n"
    leader = db.session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.user_id == uid("leader"), Notice.kind == "incident.overdue")
    )
    assert leader >= 3  # subscribed to overdue cases in Lanzhou
