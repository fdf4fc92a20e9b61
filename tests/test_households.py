"""Household files, visits and care plans: the Mr Liu and Grandma Peng stories, each role's
access, audited reads, k≥5 suppression and bad input that stores nothing."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.auth.policy import suppress, suppressed_label
from app.core.extensions import db
from app.core.time import today
from app.households.models import Household, Member, Visit


def post_json(client, url, body, headers=None, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def household_id(head_name):
    return db.session.scalar(select(Household.id).where(Household.head_name == head_name))


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_mr_liu_is_due_for_his_weekly_visit_and_a_logged_visit_clears_it(client, auth, demo):
    liu = household_id("刘先生")
    auth.login("hls4")
    later = (today() + dt.timedelta(days=5)).isoformat()
    due = client.get(f"/api/v1/care-plans/due?on={later}").get_json()
    row = next(r for r in due if r["household_id"] == liu)
    assert row["overdue"] and row["frequency_days"] == 7 and row["building"] == "邮电巷小区2号楼"
    assert "elderly_alone" in row["tags"]

    r = post_json(
        client,
        "/api/v1/visits",
        {
            "household_id": liu,
            "purpose": "care_visit",
            "notes": "陪刘先生下象棋",
            "visitor_names": "“四色”志愿服务小分队红色分队",
            "lon": 103.7870,
            "lat": 36.0455,
        },
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["position"] == {"lon": 103.787, "lat": 36.0455}
    due = client.get(f"/api/v1/care-plans/due?on={later}").get_json()
    assert liu not in [d["household_id"] for d in due]

    # Staff of the community read his file with the new visit; the read is audited.
    auth.logout()
    auth.login("staff")
    before = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "read", AuditEntry.table_name == "households", AuditEntry.row_id == str(liu))
    )
    body = client.get(f"/api/v1/households/{liu}").get_json()
    assert body["members"][0]["age"] == 63 and "childless" in body["tags"]
    assert body["visits"][0]["notes"] == "陪刘先生下象棋"
    after = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "read", AuditEntry.table_name == "households", AuditEntry.row_id == str(liu))
    )
    assert after == before + 1


def test_four_colour_squads_have_service_hours(client, auth, demo):
    auth.login("leader")
    teams = client.get("/api/v1/volunteer-hours?by=team").get_json()
    squads = [t for t in teams if "四色" in t["team"]]
    assert len(squads) == 4 and all(t["hours"] > 0 for t in squads)


def test_grandma_peng_pension_certified_at_home_and_wish_fulfilled(client, auth, demo):
    peng = household_id("彭奶奶")
    auth.login("gridworker")
    body = client.get(f"/api/v1/households/{peng}").get_json()
    assert body["building"] == "三兆家园3号楼"
    grandma = body["members"][0]
    assert grandma["age"] == 90 and grandma["party_member"] and "immobile" in grandma["tags"]
    assert any(v["purpose"] == "pension_certification" for v in body["visits"])
    wishes = client.get("/api/v1/wishes?status=fulfilled").get_json()
    assert any(w["household_id"] == peng and "轮椅" in w["title"] for w in wishes)
    # The public wall shows the wish, never her name or flat.
    auth.logout()
    wall = json.dumps(client.get("/api/v1/wishes/wall").get_json(), ensure_ascii=False)
    assert "轮椅" in wall and "彭" not in wall and "2单元101" not in wall and "household" not in wall


def test_household_file_with_members_and_tags_is_created_and_exported(client, auth, demo):
    auth.login("staff")
    building = db.session.scalar(select(Household.building_id).where(Household.head_name == "刘先生"))
    r = post_json(
        client,
        "/api/v1/households",
        {
            "building_id": building,
            "flat_no": "3单元602",
            "head_name": "测试户主",
            "tags": ["unemployed"],
            "members": [
                {"name": "测试户主", "age": 45, "tags": ["unemployed"]},
                {"name": "测试家属", "birth_date": "2010-05-01", "relation": "子女"},
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    h = r.get_json()
    assert h["grid_code"] == "620103002001004" and next(m["age"] for m in h["members"]) == 45
    csv = client.get("/households/export.csv").get_data(as_text=True)
    assert "测试家属" in csv and "3单元602" in csv
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export"))
    dup = post_json(client, "/api/v1/households", {"building_id": building, "flat_no": "3单元602", "head_name": "x"})
    assert dup.status_code == 409


@pytest.mark.parametrize(
    "user, status",
    [
        ("admin", 200),
        ("staff", 200),
        ("liailan", 200),
        ("hls4", 200),
        ("hls2", 404),
        ("gridworker", 404),
        ("zjystaff", 404),
        ("zjy1", 404),
        ("leader", 403),
        ("xiyuan", 403),
        ("planner", 403),
        ("patrol", 403),
    ],
)
def test_only_the_grids_workers_community_staff_and_admins_read_mr_lius_file(client, auth, demo, user, status):
    liu = household_id("刘先生")
    auth.login(user)
    r = client.get(f"/api/v1/households/{liu}")
    assert r.status_code == status
    if status != 200:
        assert "刘先生" not in r.get_data(as_text=True)
        listed = client.get("/api/v1/households?q=刘").get_data(as_text=True)
        assert "13800000063" not in listed


def test_anonymous_gets_401_and_token_clients_follow_the_same_rules(client, auth, demo):
    liu = household_id("刘先生")
    assert client.get(f"/api/v1/households/{liu}").status_code == 401
    assert client.get("/api/v1/overlays/visits-due").status_code == 401
    assert client.get(f"/api/v1/households/{liu}", headers=auth.token("hls4", "phone")).status_code == 200
    assert client.get(f"/api/v1/households/{liu}", headers=auth.token("gridworker", "phone")).status_code == 404


def test_another_grids_worker_cannot_log_a_visit_or_plan_for_mr_liu(client, auth, demo):
    liu = household_id("刘先生")
    auth.login("hls2")
    n = count(Visit)
    r = post_json(client, "/api/v1/visits", {"household_id": liu, "purpose": "care_visit"})
    assert r.status_code == 422 and count(Visit) == n
    r = post_json(client, f"/api/v1/households/{liu}", {"notes": "x"}, method="patch")
    assert r.status_code == 404


def test_suppress_blanks_counts_below_five():
    assert [suppress(n) for n in (0, 1, 4, 5, 17)] == [0, None, None, 5, 17]
    assert suppress(None) is None and suppressed_label(3) == "<5" and suppressed_label(6) == "6"
    assert suppress(2, k=2) == 2


def test_leader_sees_counts_only_and_small_counts_are_suppressed(client, auth, demo):
    auth.login("leader")
    counts = {r["grid_code"]: r for r in client.get("/api/v1/care-plans/counts").get_json()}
    # Hualinshan grid 1 has 4 households due (Peng's neighbours): blanked; grid 4 has 6: shown.
    assert counts["620103002001001"]["due"] is None
    assert counts["620103002001004"]["due"] == 6
    stats = client.get("/api/v1/households/stats").get_json()["grids"]
    for g in stats:
        assert g["households"] is None or g["households"] >= 5
        assert all(v is None or v >= 5 for v in g["by_tag"].values())
    fc = client.get("/api/v1/overlays/visits-due?bbox=103.77,36.04,103.80,36.06").get_json()
    assert [f["properties"]["building"] for f in fc["features"]] == ["邮电巷小区1号楼"]
    text = json.dumps(fc, ensure_ascii=False)
    assert "刘" not in text and "彭" not in text
    # The grid worker sees exact counts for their own grid on the same overlay.
    auth.logout()
    auth.login("gridworker")
    mine = client.get("/api/v1/overlays/visits-due?bbox=103.77,36.04,103.80,36.06").get_json()
    assert [(f["properties"]["building"], f["properties"]["due"]) for f in mine["features"]] == [("三兆家园2号楼", 4)]


def test_open_wishes_overlay_counts_per_grid_with_suppression(client, auth, demo):
    auth.login("leader")
    fc = client.get("/api/v1/overlays/wishes-open?bbox=103.77,36.04,103.80,36.06&limit=50").get_json()
    by_grid = {f["properties"]["grid_code"]: f["properties"] for f in fc["features"]}
    assert by_grid["620103002001004"]["open_wishes"] >= 5
    assert by_grid["620103002001001"]["open_wishes"] is None and by_grid["620103002001001"]["label"] == "<5"
    assert client.get("/api/v1/overlays/wishes-open?bbox=1,2,3").status_code == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"members": [{"name": "某人", "age": -3}]}, "members.0.age"),
        ({"members": [{"name": "某人", "birth_date": "1950-02-30"}]}, "members.0.birth_date"),
        ({"members": [{"name": "某人", "birth_date": "next year"}]}, "members.0.birth_date"),
        ({"members": [{"name": "某人", "age": "old"}]}, "members.0.age"),
        ({"tags": ["elderly_alone", "vip"]}, "tags"),
        ({"tags": "elderly_alone"}, "tags"),
        ({"members": [{"name": "某人", "tags": ["nope"]}]}, "members.0.tags"),
        ({"flat_no": ""}, "flat_no"),
        ({"colour": "red"}, "colour"),
        ({"building_id": 99999999}, "building_id"),
    ],
)
def test_bad_household_input_is_422_and_stores_nothing(client, auth, demo, body, field):
    auth.login("staff")
    building = db.session.scalar(select(Household.building_id).where(Household.head_name == "刘先生"))
    base = {"building_id": building, "flat_no": "9单元909", "head_name": "坏数据"}
    n, m = count(Household), count(Member)
    r = post_json(client, "/api/v1/households", {**base, **body})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert count(Household) == n and count(Member) == m


@pytest.mark.parametrize(
    "body, field",
    [
        ({"purpose": "care_visit", "visited_at": "2026-13-01T10:00:00+08:00"}, "visited_at"),
        ({"purpose": "care_visit", "visited_at": "2026-11-01T10:00:00"}, "visited_at"),
        ({"purpose": "care_visit", "visited_at": "2999-01-01T10:00:00+08:00"}, "visited_at"),
        ({"purpose": "party"}, "purpose"),
        ({"purpose": "care_visit", "lon": 200, "lat": 36}, "lon"),
        ({"purpose": "care_visit", "lon": 103.78}, "lat"),
        ({"purpose": "care_visit", "follow_up_due": "tomorrow"}, "follow_up_due"),
        ({"purpose": "care_visit", "visitor_ids": [999999]}, "visitor_ids"),
    ],
)
def test_bad_visit_input_is_422_and_stores_nothing(client, auth, demo, body, field):
    auth.login("hls4")
    n = count(Visit)
    r = post_json(client, "/api/v1/visits", {"household_id": household_id("刘先生"), **body})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert count(Visit) == n


def test_malformed_json_and_wrong_content_type_are_rejected(client, auth, demo):
    auth.login("staff")
    r = client.post("/api/v1/households", data="{bad", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    r = client.post("/api/v1/households", data="flat_no=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    assert client.get("/api/v1/visits?from=2026-02-31").status_code == 400
    assert client.get("/api/v1/households?tag=vip").status_code == 400
    assert client.get("/api/v1/care-plans/due?on=yesterday").status_code == 400


def test_tags_are_managed_by_admins_only(client, auth, demo):
    auth.login("staff")
    assert post_json(client, "/api/v1/household-tags", {"code": "veteran", "name": "退役军人"}).status_code == 403
    auth.logout()
    auth.login("admin")
    assert post_json(client, "/api/v1/household-tags", {"code": "Bad Code", "name": "x"}).status_code == 422
    r = post_json(client, "/api/v1/household-tags", {"code": "veteran", "name": "退役军人"})
    assert r.status_code == 201
    assert "veteran" in [t["code"] for t in client.get("/api/v1/household-tags").get_json()]


def test_care_plan_rules(client, auth, demo):
    auth.login("staff")
    liu = household_id("刘先生")
    assert post_json(client, "/api/v1/care-plans", {"household_id": liu, "frequency_days": 7}).status_code == 409
    r = post_json(client, "/api/v1/care-plans", {"household_id": liu, "frequency_days": 0})
    assert r.status_code == 422 and "frequency_days" in r.get_json()["error"]["fields"]
    plan = client.get("/api/v1/care-plans/due?worker=&on=2099-01-01").get_json()
    pid = next(p["plan_id"] for p in plan if p["household_id"] == liu)
    r = post_json(
        client,
        f"/api/v1/care-plans/{pid}",
        {"worker_id": db.session.scalar(select(User.id).where(User.username == "zjy1"))},
        method="patch",
    )
    assert r.status_code == 422 and "worker_id" in r.get_json()["error"]["fields"]
    r = post_json(client, f"/api/v1/care-plans/{pid}", {"frequency_days": 14}, method="patch")
    assert r.status_code == 200 and r.get_json()["frequency_days"] == 14


def test_grid_worker_phone_pages_list_due_households_and_log_a_visit(client, auth, demo):
    auth.login("hls4")
    page = client.get("/households/due").get_data(as_text=True)
    assert "邮电巷小区1号楼" in page and "逾期" in page
    liu = household_id("刘先生")
    n = count(Visit)
    r = client.post(f"/households/{liu}/visit", data={"purpose": "greeting", "notes": "问候"})
    assert r.status_code == 302 and count(Visit) == n + 1
    r = client.post(f"/households/{liu}/visit", data={"purpose": "greeting", "visited_at": "2026-02-30T10:00"})
    assert r.status_code == 422 and count(Visit) == n + 1


def test_leader_pages_show_counts_not_names(client, auth, demo):
    auth.login("leader")
    page = client.get("/households/", follow_redirects=True).get_data(as_text=True)
    assert "民情统计" in page and "刘先生" not in page and "&lt;5" in page
    assert client.get("/households/due").status_code == 403
    assert client.get("/households/export.csv").status_code == 403


def test_household_data_never_reaches_the_generic_layer_api_or_openapi_examples(client, auth, demo):
    auth.login("planner")
    assert client.get("/api/v1/visits").status_code == 403
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/households",
        "/api/v1/care-plans/due",
        "/api/v1/overlays/visits-due",
        "/api/v1/wishes/wall",
        "/api/v1/activities",
        "/api/v1/volunteer-hours",
    ):
        assert path in doc["paths"]


def test_pages_speak_english_on_request(client, auth, demo):
    auth.login("hls4")
    page = client.get("/households/due?lang=en").get_data(as_text=True)
    assert "My households due for a visit" in page and "days overdue" in page


def test_place_visit_by_position_gets_its_grid_and_outside_positions_are_refused(client, auth, demo):
    auth.login("hls4")
    n = count(Visit)
    r = post_json(
        client,
        "/api/v1/visits",
        {"purpose": "needs_survey", "place": "邮电巷小区门口", "lon": 103.7880, "lat": 36.0450},
    )
    assert r.status_code == 201, r.get_json()
    from app.areas.models import Area

    assert db.session.get(Area, db.session.get(Visit, r.get_json()["id"]).grid_id).code == "620103002001004"
    r = post_json(client, "/api/v1/visits", {"purpose": "needs_survey", "lon": 103.8360, "lat": 36.0480})
    assert r.status_code == 403 and count(Visit) == n + 1


def test_detail_page_read_is_audited_and_shows_the_file(client, auth, demo):
    liu = household_id("刘先生")
    auth.login("liailan")
    n = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read", AuditEntry.row_id == str(liu))
    )
    page = client.get(f"/households/{liu}").get_data(as_text=True)
    assert "刘先生" in page and "低保户" in page
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "read", AuditEntry.row_id == str(liu))
        )
        == n + 1
    )


def test_moving_a_building_to_another_grid_moves_its_households_files(client, auth, demo):
    liu = household_id("刘先生")
    building = db.session.scalar(select(Household.building_id).where(Household.id == liu))
    auth.login("planner")
    square = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[103.7810, 36.0445], [103.7815, 36.0445], [103.7815, 36.0450], [103.7810, 36.0450], [103.7810, 36.0445]]]
        ],
    }
    r = post_json(
        client,
        f"/api/v1/buildings/{building}",
        {"type": "Feature", "geometry": square, "properties": {}},
        method="patch",
    )
    assert r.status_code == 200, r.get_json()
    auth.logout()
    auth.login("hls4")
    assert client.get(f"/api/v1/households/{liu}").status_code == 404
    auth.logout()
    auth.login("hls3")
    assert client.get(f"/api/v1/households/{liu}").get_json()["grid_code"] == "620103002001003"


def test_lists_take_a_fixed_number_of_queries_whatever_their_length(client, auth, demo, count_queries):
    auth.login("admin")
    with count_queries() as few:
        assert len(client.get("/api/v1/households?limit=2").get_json()["items"]) == 2
    with count_queries() as many:
        assert len(client.get("/api/v1/households?limit=500").get_json()["items"]) > 30
    assert many() == few()
    with count_queries() as due:
        assert len(client.get("/api/v1/care-plans/due?worker=&on=2099-01-01").get_json()) > 30
    assert due() <= 8


def test_staff_adds_a_member_and_a_care_plan_from_the_file_page(client, auth, demo):
    auth.login("staff")
    building = db.session.scalar(select(Household.building_id).where(Household.head_name == "刘先生"))
    hid = post_json(
        client, "/api/v1/households", {"building_id": building, "flat_no": "5单元101", "head_name": "新住户"}
    ).get_json()["id"]
    r = client.post(f"/households/{hid}/members", data={"name": "新成员", "age": "-1"})
    assert r.status_code == 303 and "新成员" not in client.get(f"/households/{hid}").get_data(as_text=True)
    client.post(f"/households/{hid}/members", data={"name": "新成员", "age": "70", "tags": ["disabled"]})
    page = client.get(f"/households/{hid}").get_data(as_text=True)
    assert "新成员" in page
    hls = db.session.scalar(select(User.id).where(User.username == "hls4"))
    client.post(f"/households/{hid}/plan", data={"frequency_days": "10", "worker_id": str(hls)})
    assert "每 10 天走访一次" in client.get(f"/households/{hid}").get_data(as_text=True)


def test_follow_up_of_a_visit_is_marked_done(client, auth, demo):
    auth.login("hls4")
    r = post_json(
        client,
        "/api/v1/visits",
        {
            "household_id": household_id("刘先生"),
            "purpose": "needs_survey",
            "follow_up": "联系物业修楼道灯",
            "follow_up_due": "2026-12-01",
        },
    )
    vid = r.get_json()["id"]
    assert post_json(client, f"/api/v1/visits/{vid}", {"follow_up_done": "yes"}, method="patch").status_code == 422
    r = post_json(client, f"/api/v1/visits/{vid}", {"follow_up_done": True}, method="patch")
    assert r.status_code == 200 and r.get_json()["follow_up_done"] is True
    auth.logout()
    auth.login("hls2")
    assert client.get(f"/api/v1/visits/{vid}").status_code == 404


def test_staff_see_the_due_list_per_grid_worker_and_leaders_no_small_buildings(client, auth, demo):
    auth.login("staff")
    rows = client.get("/api/v1/care-plans/due?overdue=1").get_json()
    by_worker = {}
    for r in rows:
        by_worker.setdefault(r["worker"], []).append(r["household"])
    assert set(by_worker) == {"网格员 马丽", "网格员 HLS4"} and len(by_worker["网格员 HLS4"]) == 6
    hls4 = db.session.scalar(select(User.id).where(User.username == "hls4"))
    assert {r["worker_id"] for r in client.get(f"/api/v1/care-plans/due?worker={hls4}").get_json()} == {hls4}
    assert "网格员 HLS4" in client.get("/households/due?all=1").get_data(as_text=True)
    auth.logout()
    auth.login("leader")
    buildings = client.get("/api/v1/care-plans/counts?by=building").get_json()
    assert buildings and all(b["plans"] >= 5 for b in buildings)
    assert client.get("/api/v1/care-plans/counts?by=street").status_code == 400


def test_demo_step_is_idempotent_and_tags_show_in_english(client, auth, demo):
    from app.households.demo import seed_households
    from app.volunteers.demo import seed_volunteers
    from app.wishes.demo import seed_wishes

    assert seed_households() == 0 and seed_volunteers() == 0 and seed_wishes() == 0
    auth.login("staff")
    liu = household_id("刘先生")
    assert "Basic living allowance" in client.get(f"/households/{liu}?lang=en").get_data(as_text=True)


def test_map_page_offers_both_overlays_without_embedding_their_data(client, auth, demo):
    auth.login("leader")
    page = client.get("/").get_data(as_text=True)
    assert "/api/v1/overlays/visits-due" in page and "/api/v1/overlays/wishes-open" in page
    assert "邮电巷小区1号楼" not in page and "刘先生" not in page
