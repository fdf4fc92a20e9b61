"""Planning: the e-bike survey (validation, hazards → incidents, estimates), charger siting (exact on small
cases, bad input refused with nothing written, plans saved, exported, turned into planned chargers, a
street's plan as a job) and bike-zone gaps (DBSCAN suggestions on constructed data)."""

import io
import itertools
import json
import random

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

from app.audit.models import AuditEntry
from app.auth.services import create_user
from app.basemap.models import BikeZone, Building, Charger
from app.core.extensions import db
from app.core.jobs import run_worker
from app.incidents.models import Incident, IncidentCategory
from app.planning.models import ChargerPlan, EbikeSurvey
from gis.siting import SitingError, brute_force, greedy, solve_mclp

ZJY = "620102005003"  # 张家园社区
JQL = "620102005"  # 酒泉路街道


def post_json(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def building(name):
    return db.session.scalar(select(Building.id).where(Building.name == name))


def counts():
    return tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (EbikeSurvey, Incident, ChargerPlan, Charger, BikeZone)
    )


def jpeg_with_gps() -> io.BytesIO:
    img = Image.new("RGB", (40, 30), "blue")
    exif = Image.Exif()
    exif[0x8825] = {2: (36.0, 3.0, 0.0), 4: (103.0, 50.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    buf.seek(0)
    return buf


# --------------------------------------------------------------------------- the solver


def _case(seed: int, n_demand=14, n_sites=8):
    rnd = random.Random(seed)
    dem = [(rnd.uniform(0, 500), rnd.uniform(0, 500)) for _ in range(n_demand)]
    sites = [(rnd.uniform(0, 500), rnd.uniform(0, 500)) for _ in range(n_sites)]
    weights = [rnd.randint(0, 40) for _ in dem]
    pairs = {}
    for (d, a), (s, b) in itertools.product(enumerate(dem), enumerate(sites)):
        metres = ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
        if metres <= 200:
            pairs[(d, s)] = metres
    return weights, pairs, n_sites


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p,kept", [(1, []), (2, []), (3, [0]), (2, [1, 4])])
def test_mclp_equals_the_brute_force_optimum_on_small_cases(seed, p, kept):
    weights, pairs, n = _case(seed)
    best = brute_force(weights, pairs, n, 150, p, kept)
    solved = solve_mclp(weights, pairs, n, 150, p, kept)
    assert solved.covered == best
    assert len(solved.chosen) == p and not set(solved.chosen) & set(kept)
    assert solved.gains == sorted(solved.gains, reverse=True) or p == 1
    assert solved.covered_before + sum(solved.gains) == solved.covered
    assert greedy(weights, pairs, n, 150, p, kept).covered <= best


def test_a_case_where_greedy_falls_short_is_solved_exactly():
    # site 0 covers the middle (6); sites 1 and 2 each cover one side (5 each): greedy takes 0 first.
    weights = [3, 3, 2, 2, 1, 1]
    pairs = {(0, 0): 10, (1, 0): 10, (2, 0): 10, (3, 0): 10, (0, 1): 10, (2, 1): 10, (1, 2): 10, (3, 2): 10}
    pairs.update({(4, 1): 10, (5, 2): 10})
    assert greedy(weights, pairs, 3, 150, 2).covered < solve_mclp(weights, pairs, 3, 150, 2).covered == 12


def test_more_sites_than_candidates_is_refused():
    weights, pairs, n = _case(1)
    with pytest.raises(SitingError, match="candidate"):
        solve_mclp(weights, pairs, n, 150, n + 1)


# --------------------------------------------------------------------------- the survey


def test_survey_with_hazards_reports_incidents_in_the_same_transaction(client, auth, demo, app):
    auth.login("zjystaff")
    bid = building("金昌南路大院子3号楼")
    before = db.session.scalar(select(func.count()).select_from(Incident))
    r = client.post(
        "/api/v1/ebike-surveys",
        data={
            "building_id": str(bid),
            "ebikes": "12",
            "charge_stairwell": "5",
            "charge_window_cable": "4",
            "hazards": ["stairwell_charging", "window_cable", "carried_upstairs"],
            "note": "三楼窗户拉线",
            "photo": (jpeg_with_gps(), "stairs.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["ebikes"] == 12 and out["charging"]["stairwell"] == 5 and out["has_photo"]
    assert out["building"] == "金昌南路大院子3号楼" and out["surveyor_name"] == "张家园社区 秦琛"
    # two categories among three hazards: one incident each, at the building
    assert len(out["incident_ids"]) == 2
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before + 2
    cats = set(
        db.session.scalars(
            select(IncidentCategory.code)
            .join(Incident, Incident.category_id == IncidentCategory.id)
            .where(Incident.id.in_(out["incident_ids"]))
        )
    )
    assert cats == {"ebike.indoor", "ebike.flying_wire"}
    text = db.session.scalar(select(Incident.description).where(Incident.id == out["incident_ids"][0]))
    assert "电动车入户摸排" in text and "金昌南路大院子3号楼" in text
    photo = client.get(f"/api/v1/ebike-surveys/{out['id']}/photo")
    assert photo.status_code == 200
    assert 0x8825 not in Image.open(io.BytesIO(photo.data)).getexif()  # no GPS kept


OK = "the building"  # replaced by a building of the staff member's community


@pytest.mark.parametrize(
    "body,field",
    [
        ({"ebikes": 3}, "building_id"),
        ({"building_id": "three", "ebikes": 3}, "building_id"),
        ({"building_id": 99999999, "ebikes": 3}, "building_id"),
        ({"building_id": OK, "ebikes": -1}, "ebikes"),
        ({"building_id": OK, "ebikes": 2, "charge_flat": 2, "charge_stairwell": 1}, "body"),
        ({"building_id": OK, "ebikes": 2, "hazards": ["fireworks"]}, "hazards.0"),
        ({"building_id": OK, "ebikes": 2, "hazards": ["window_cable", "window_cable"]}, "body"),
        ({"building_id": OK, "ebikes": 2, "surveyed_on": "2999-01-01"}, "surveyed_on"),
        ({"building_id": OK, "ebikes": 2, "colour": "red"}, "colour"),
    ],
)
def test_bad_surveys_are_refused_and_nothing_is_written(client, auth, demo, body, field):
    auth.login("zjystaff")
    body = {"hazards": ["stairwell_charging"], **body}
    if body.get("building_id") == OK:
        body["building_id"] = building("金昌南路大院子3号楼")
    before = counts()
    r = post_json(client, "/api/v1/ebike-surveys", body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert counts() == before


def test_a_building_of_another_area_is_refused(client, auth, demo):
    auth.login("zjystaff")  # 张家园 staff; 三兆家园 is in 华林山
    before = counts()
    r = post_json(
        client,
        "/api/v1/ebike-surveys",
        {"building_id": building("三兆家园1号楼"), "ebikes": 3, "hazards": ["window_cable"]},
    )
    assert r.status_code == 422 and "building_id" in r.get_json()["error"]["fields"]
    assert counts() == before


def test_leaders_read_surveys_but_may_not_record_them(client, auth, demo):
    auth.login("leader")
    assert client.get(f"/api/v1/ebike-surveys?area={ZJY}").status_code == 200
    r = post_json(client, "/api/v1/ebike-surveys", {"building_id": building("金昌南路大院子3号楼"), "ebikes": 1})
    assert r.status_code == 403


def test_csv_import_takes_all_rows_or_none(client, auth, demo):
    auth.login("zjystaff")
    b3, b4 = building("金昌南路大院子3号楼"), building("金昌南路大院子4号楼")
    good = f"building_id,ebikes,charge_charger,hazards\n{b3},20,18,\n{b4},22,10,stairwell_charging\n"
    bad = good + f"{b4},abc,0,\n{b3},5,9,\n"
    before = counts()
    r = client.post(
        "/api/v1/ebike-surveys/import",
        data={"file": (io.BytesIO(bad.encode()), "s.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert set(fields) == {"row 4", "row 5"} and "ebikes" in fields["row 4"]
    assert counts() == before
    r = client.post(
        "/api/v1/ebike-surveys/import?dry_run=true",
        data={"file": (io.BytesIO(good.encode("gbk")), "s.csv")},
        content_type="multipart/form-data",
    )
    assert r.get_json() == {"rows": 2, "imported": 0, "dry_run": True} and counts() == before
    r = client.post(
        "/api/v1/ebike-surveys/import",
        data={"file": (io.BytesIO(good.encode()), "s.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.get_json()["imported"] == 2
    assert counts()[0] == before[0] + 2 and counts()[1] == before[1] + 1  # one hazard, one incident


def test_unsurveyed_buildings_get_an_estimate_marked_as_such(client, auth, demo):
    auth.login("planner")
    r = client.get(f"/api/v1/ebike-demand?area={ZJY}")
    assert r.status_code == 200
    body = r.get_json()
    by_name = {f["properties"]["name"]: f["properties"] for f in body["features"]}
    south3 = by_name["张家园老旧小区南片3号楼"]  # the demo leaves it unsurveyed: 36 households
    assert south3["estimated"] is True
    rate = body["estimate"]["per_household"][ZJY]
    assert south3["ebikes"] == round(36 * rate) and 0 < rate < 2
    assert by_name["张家园老旧小区东片1号楼"] == {
        **by_name["张家园老旧小区东片1号楼"],
        "estimated": False,
        "ebikes": 34,
    }
    assert by_name["张家园老旧小区东片1号楼"]["hazards"] >= 1  # the survey's reported hazards count
    assert body["summary"]["estimated_ebikes"] >= south3["ebikes"]


def test_the_survey_page_works_for_a_grid_worker(client, auth, demo):
    auth.login("zjy4")  # the grid of 东片
    page = client.get("/planning/survey")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "电动车入户摸排" in html and "张家园老旧小区东片1号楼" in html and "楼道内充电" in html
    assert "三兆家园" not in html  # another community's buildings are not offered
    assert "最近的摸排" in html and "从窗户拉线飞线充电" in html  # the demo's surveys of 东片, hazards named
    en = client.get("/planning/survey?lang=en").get_data(as_text=True)
    assert "E-bike survey" in en


# --------------------------------------------------------------------------- charger plans


def plan(client, **over):
    body = {"name": "张家园补桩方案", "area": ZJY, "new_sites": 2, "radius_m": 150, **over}
    return post_json(client, "/api/v1/charger-plans", body)


def test_a_community_plan_is_solved_saved_exported_and_made_into_planned_chargers(client, auth, demo):
    auth.login("planner")
    r = plan(client)
    assert r.status_code == 201, r.get_json()
    p = r.get_json()
    res = p["result"]
    assert p["status"] == "done" and "straight-line geography metres" in res["distance"]
    assert res["solver"].startswith("spopt MCLP")
    assert res["today"]["chargers"] == 25  # the 25 smart chargers of the seed
    assert res["after"]["uncovered_ebikes"] < res["today"]["uncovered_ebikes"]
    assert [s["rank"] for s in res["sites"]] == [1, 2]
    assert res["sites"][0]["adds_ebikes"] >= res["sites"][1]["adds_ebikes"] > 0
    assert res["today"]["covered_ebikes"] + res["today"]["uncovered_ebikes"] == res["demand"]["ebikes"]
    assert res["candidates"]["entrance"] > 0 and res["candidates"]["open_space"] > 0
    geo = client.get(f"/api/v1/charger-plans/{p['id']}/export?format=geojson")
    kinds = [f["properties"]["layer"] for f in geo.get_json()["features"]]
    assert kinds.count("site") == 2 and kinds.count("uncovered_building") == len(res["uncovered_buildings"])
    csv_text = client.get(f"/api/v1/charger-plans/{p['id']}/export?format=csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines()[0].startswith("rank,name,kind,lon,lat,ports")
    made = client.post(f"/api/v1/charger-plans/{p['id']}/chargers")
    assert made.status_code == 201 and made.get_json()["made"] == 2
    rows = db.session.execute(
        select(Charger.status, Charger.name).where(Charger.id.in_(made.get_json()["charger_ids"]))
    )
    assert {s for s, _ in rows} == {"planned"}
    again = client.post(f"/api/v1/charger-plans/{p['id']}/chargers")
    assert again.status_code == 409
    assert plan(client).status_code == 409  # the same name in the same area


def test_drawn_sites_are_the_only_candidates_when_asked(client, auth, demo):
    auth.login("planner")
    sites = [{"lon": 103.8414, "lat": 36.0480, "ports": 12, "name": "=HYPERLINK(1)"}, {"lon": 103.8367, "lat": 36.0459}]
    r = plan(client, name="画的点", candidates="drawn", sites=sites, new_sites=1)
    assert r.status_code == 201, r.get_json()
    res = r.get_json()["result"]
    assert res["candidates"] == {"entrance": 0, "open_space": 0, "drawn": 2}
    assert res["sites"][0]["kind"] == "drawn" and res["sites"][0]["lon"] == 103.8414  # east: the most bikes
    assert res["sites"][0]["ports"] == 12
    csv_text = client.get(f"/api/v1/charger-plans/{r.get_json()['id']}/export?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in csv_text  # never run as a formula by a spreadsheet


@pytest.mark.parametrize(
    "over,status,field",
    [
        ({"radius_m": 0}, 422, "radius_m"),
        ({"radius_m": -5}, 422, "radius_m"),
        ({"new_sites": 0}, 422, "new_sites"),
        ({"new_sites": 101}, 422, "new_sites"),
        ({"candidates": "drawn", "new_sites": 3, "sites": [{"lon": 103.8414, "lat": 36.048}]}, 422, "new_sites"),
        ({"candidates": "drawn", "sites": [{"lon": 103.70, "lat": 36.01}]}, 422, "sites.0"),
        ({"candidates": "drawn"}, 422, "body"),
        ({"area": "620102005999"}, 404, "area"),
        ({"area": "6201O2"}, 422, "area"),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_written(client, auth, demo, over, status, field):
    auth.login("planner")
    before = counts()
    r = plan(client, **over)
    assert r.status_code == status, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert counts() == before


def test_another_areas_plans_and_data_are_out_of_reach(client, auth, demo):
    auth.login("planner")
    pid = plan(client).get_json()["id"]
    create_user("ynplanner", "wuwei-planner", "planner", "620102010", "雁南 规划")
    auth.logout()
    auth.login("ynplanner", "wuwei-planner")
    before = counts()
    assert plan(client, name="越界").status_code == 404
    assert client.get(f"/api/v1/charger-plans/{pid}").status_code == 404
    assert client.post(f"/api/v1/charger-plans/{pid}/chargers").status_code == 404
    assert client.get(f"/api/v1/ebike-demand?area={ZJY}").status_code == 404
    assert client.get(f"/api/v1/bike-zone-gaps?area={ZJY}").status_code == 404
    assert counts() == before
    assert client.get("/api/v1/charger-plans").get_json() == []


def test_staff_may_read_plans_but_not_make_them(client, auth, demo):
    auth.login("zjystaff")
    assert plan(client).status_code == 403
    assert client.get("/planning/chargers").status_code == 200


@pytest.mark.no_transaction
def test_a_street_plan_runs_as_a_job_with_progress(app, client, auth):
    auth.login("planner")
    r = plan(client, name="酒泉路街道方案", area=JQL, new_sites=3)
    assert r.status_code == 202, r.get_json()
    pid = r.get_json()["id"]
    try:
        assert r.get_json()["status"] == "queued" and r.get_json()["result"] is None
        run_worker(app, wait=False, queues=["planning"])
        done = client.get(f"/api/v1/charger-plans/{pid}").get_json()
        assert done["status"] == "done", done
        assert done["progress"] == {"step": "saving", "done": 4, "of": 5}
        assert len(done["result"]["sites"]) == 3
    finally:
        with app.app_context():
            db.session.execute(
                delete(AuditEntry).where(AuditEntry.table_name == "charger_plans", AuditEntry.row_id == str(pid))
            )
            db.session.execute(delete(ChargerPlan).where(ChargerPlan.id == pid))
            db.session.commit()


def test_the_siting_page_shows_in_both_languages(client, auth, demo):
    auth.login("planner")
    html = client.get("/planning/chargers").get_data(as_text=True)
    assert "充电桩选址" in html and "张家园社区" in html and "计算并保存方案" in html
    en = client.get("/planning/chargers?lang=en").get_data(as_text=True)
    assert "Charger siting" in en and "Solve and save the plan" in en


# --------------------------------------------------------------------------- bike-zone gaps

SJT = "620102011002"  # 宋家滩村社区


def misparked(points, bikes=3):
    from app.incidents.services import report_incident

    for lon, lat in points:
        report_incident(
            category_code="bikes.misparked",
            description="共享单车乱停放（测试）",
            lon=lon,
            lat=lat,
            attributes={"bike_count": bikes},
            commit=False,
        )
    db.session.flush()


def around(lon, lat, n, step=0.00008):
    return [(lon + (i % 3) * step, lat + (i // 3) * step) for i in range(n)]


def contains(geometry, lon, lat) -> bool:
    from shapely.geometry import Point, shape

    return shape(geometry).contains(Point(lon, lat))


def test_clusters_far_from_zones_become_suggestions_sized_by_count(client, auth, demo):
    far, near_zone = (103.8945, 36.0728), (103.8909, 36.0792)
    misparked(around(*far, 5), bikes=4)
    misparked(around(*near_zone, 5), bikes=2)
    misparked([(103.8951, 36.0760)], bikes=9)  # alone: noise for min_points=3
    auth.login("planner")
    r = client.get(f"/api/v1/bike-zone-gaps?area={SJT}&eps_m=30&min_points=3&threshold_m=100")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert "metres" in body["method"]
    mine = [s for s in body["suggested"] if contains(s["geometry"], far[0] + 0.00008, far[1] + 0.00004)]
    assert len(mine) == 1 and mine[0]["points"] == 5 and mine[0]["bikes"] == 20 and mine[0]["capacity"] == 24
    assert mine[0]["nearest_zone_m"] > 100
    assert not [s for s in body["suggested"] if contains(s["geometry"], *near_zone)]
    assert not [s for s in body["suggested"] if contains(s["geometry"], 103.8951, 36.0760)]
    # a larger eps joins nothing new here, a tighter threshold keeps the far cluster
    geo = client.get(f"/api/v1/bike-zone-gaps?area={SJT}&format=geojson")
    assert geo.status_code == 200 and geo.get_json()["type"] == "FeatureCollection"
    before = db.session.scalar(select(func.count()).select_from(BikeZone))
    made = post_json(
        client,
        "/api/v1/bike-zone-gaps/zones",
        {"area": SJT, "cluster": mine[0]["cluster"], "eps_m": 30, "min_points": 3, "threshold_m": 100},
    )
    assert made.status_code == 201, made.get_json()
    zone = db.session.get(BikeZone, made.get_json()["id"])
    assert zone.status == "planned" and zone.capacity == 24
    assert db.session.scalar(select(func.count()).select_from(BikeZone)) == before + 1
    bad = post_json(client, "/api/v1/bike-zone-gaps/zones", {"area": SJT, "cluster": 999})
    assert bad.status_code == 422 and db.session.scalar(select(func.count()).select_from(BikeZone)) == before + 1


def test_a_zone_overflowing_on_one_day_is_flagged(client, auth, demo):
    misparked(around(103.8979, 36.0727, 3), bikes=8)  # 24 bikes beside 背街小巷 (capacity 20)
    auth.login("planner")
    body = client.get(f"/api/v1/bike-zone-gaps?area={SJT}&threshold_m=60").get_json()
    flagged = {z["name"]: z for z in body["over_capacity"]}
    assert flagged["宋家滩背街小巷停放区"]["most_bikes_in_a_day"] >= 24


@pytest.mark.parametrize("query", ["eps_m=0", "eps_m=-1", "min_points=0", "threshold_m=-3", "days=0", "format=pdf"])
def test_bad_gap_parameters_are_400(client, auth, demo, query):
    auth.login("planner")
    assert client.get(f"/api/v1/bike-zone-gaps?area={SJT}&{query}").status_code == 400


def test_every_planning_ui_string_has_an_english_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    with open(root / "app/planning/translations/en/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}
    files = [("python", p) for p in (root / "app/planning").glob("*.py")]
    files += [("jinja2", p) for p in (root / "templates/planning").glob("*.html")]
    missing, checked = [], 0
    for method, path in files:
        for _, msg, _, _ in extract_from_file(method, str(path), keywords=keywords):
            checked += 1
            entry = catalogue.get(msg[0] if isinstance(msg, tuple) else msg)
            if entry is None or not entry.string:
                missing.append((path.name, msg))
    assert checked > 80 and missing == []


def test_the_demo_lane_in_songjiatan_is_a_suggested_zone(client, auth, demo):
    auth.login("leader")
    body = client.get(f"/api/v1/bike-zone-gaps?area={SJT}").get_json()
    lane = [s for s in body["suggested"] if contains(s["geometry"], 103.8961, 36.0791)]
    assert len(lane) == 1 and lane[0]["bikes"] == 30 and lane[0]["points"] == 5 and lane[0]["nearest_zone_m"] > 200
    assert {z["name"] for z in body["zones"]} >= {"宋家滩主干道东口停放区", "宋家滩南口规划停放区"}
    assert (
        client.post("/api/v1/bike-zone-gaps/zones", json={"area": SJT, "cluster": lane[0]["cluster"]}).status_code
        == 403
    )


def test_zhangjiayuan_before_and_after_as_docs_planning_states(client, auth, demo):
    auth.login("planner")
    res = post_json(client, "/api/v1/charger-plans", {"name": "docs", "area": ZJY}).get_json()["result"]
    assert res["demand"]["ebikes"] == 607 and res["demand"]["estimated_ebikes"] == 30
    assert (res["today"]["uncovered_ebikes"], res["today"]["uncovered_buildings"]) == (221, 7)
    assert (res["after"]["uncovered_ebikes"], res["after"]["uncovered_buildings"]) == (0, 0)
    assert [s["adds_ebikes"] for s in res["sites"]] == [121, 60, 40]
