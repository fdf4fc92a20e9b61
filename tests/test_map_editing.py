"""Editing on the map, server side: checks said for a planner, history and undo, conflicts, split and merge.

Bad input is refused with a clear message and nothing is written — checked in the database.
"""

import itertools
import json

import pytest
from sqlalchemy import func, select, text

from app.areas.models import Area
from app.audit.models import AuditEntry
from app.auth.services import create_user
from app.basemap.models import BikeZone, Building, Charger
from app.core.extensions import db

# Inside Zhangjiayuan (张家园) grid 1, away from everything.
ZONE = [[103.8352, 36.0462], [103.8356, 36.0462], [103.8356, 36.0465], [103.8352, 36.0465], [103.8352, 36.0462]]
BOW_TIE = [[103.8352, 36.0462], [103.8356, 36.0465], [103.8356, 36.0462], [103.8352, 36.0465], [103.8352, 36.0462]]
HUALINSHAN = "620103002001"


def send(client, method, url, body=None, headers=None):
    return client.open(
        url,
        method=method.upper(),
        data=None if body is None else json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def zone(coords, **props):
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coords]},
        "properties": {"capacity": 20, "kind": "shared_bike", "status": "planned", **props},
    }


def zones() -> int:
    return db.session.scalar(select(func.count()).select_from(BikeZone))


def check(client, layer, feature, fid=None, lang="zh"):
    r = send(client, "post", f"/api/v1/{layer}/check?lang={lang}", {"feature": feature, "id": fid})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# --------------------------------------------------------------------------- checks


def test_a_bow_tie_is_explained_with_its_place_and_a_repair_and_nothing_is_written(client, auth, demo):
    auth.login("planner")
    before = zones()
    out = check(client, "bike-zones", zone(BOW_TIE))
    assert not out["ok"]
    problem = out["problems"][0]
    assert problem["code"] == "geometry_invalid" and problem["reason"] == "Self-intersection"
    assert "自相交" in problem["message"]
    assert problem["location"] == pytest.approx([103.8354, 36.04635])
    assert problem["repair"]["type"] == "MultiPolygon" and len(problem["repair"]["coordinates"]) == 2
    english = check(client, "bike-zones", zone(BOW_TIE), lang="en")["problems"][0]["message"]
    assert "crosses itself" in english
    # The write itself refuses it with the reason too, and stores nothing.
    r = send(client, "post", "/api/v1/bike-zones", zone(BOW_TIE))
    assert r.status_code == 422 and "Self-intersection" in r.get_json()["error"]["fields"]["geometry"]
    assert zones() == before
    # The offered repair is accepted as it is.
    fixed = zone(BOW_TIE)
    fixed["geometry"] = problem["repair"]
    assert check(client, "bike-zones", fixed)["ok"]


def test_an_unclosed_ring_is_refused_with_a_repair_that_closes_it(client, auth, demo):
    auth.login("planner")
    before = zones()
    out = check(client, "bike-zones", zone(ZONE[:-1]))
    problem = out["problems"][0]
    assert problem["code"] == "geometry_invalid" and "闭合" in problem["message"]
    assert problem["repair"]["coordinates"][0][0][0] == problem["repair"]["coordinates"][0][0][-1]
    r = send(client, "post", "/api/v1/bike-zones", zone(ZONE[:-1]))
    assert r.status_code == 422 and "not closed" in r.get_json()["error"]["message"]
    assert zones() == before


def test_a_clockwise_polygon_is_accepted_and_stored_with_rfc7946_winding(client, auth, demo):
    auth.login("planner")
    clockwise = list(reversed(ZONE))
    r = send(client, "post", "/api/v1/bike-zones", zone(clockwise, name="顺时针"))
    assert r.status_code == 201
    ring = r.get_json()["geometry"]["coordinates"][0][0]
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
    assert area2 > 0  # counter-clockwise exterior


def test_a_hole_outside_its_shell_is_refused(client, auth, demo):
    auth.login("planner")
    before = zones()
    hole = [[103.8360, 36.0470], [103.8361, 36.0470], [103.8361, 36.0471], [103.8360, 36.0471], [103.8360, 36.0470]]
    feature = zone(ZONE)
    feature["geometry"]["coordinates"].append(hole)
    problem = check(client, "bike-zones", feature)["problems"][0]
    assert problem["reason"] == "Hole lies outside shell" and "洞" in problem["message"]
    assert send(client, "post", "/api/v1/bike-zones", feature).status_code == 422
    assert zones() == before


def test_wrong_geometry_type_and_bad_values_are_said_next_to_their_fields(client, auth, demo):
    auth.login("planner")
    point = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8354, 36.0463]},
        "properties": {"capacity": "many", "kind": "bus", "status": "planned"},
    }
    problems = {p["field"]: p for p in check(client, "bike-zones", point)["problems"]}
    assert problems["geometry"]["code"] == "geometry_type" and "面" in problems["geometry"]["message"]
    assert "整数" in problems["capacity"]["message"]
    assert "共享单车" in problems["kind"]["message"]  # the choices by their labels
    en = {p["field"]: p for p in check(client, "bike-zones", point, lang="en")["problems"]}
    assert "whole number" in en["capacity"]["message"] and "shared bikes" in en["kind"]["message"]
    charger = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8354, 36.0463]},
        "properties": {"ports": 0, "status": "planned"},
    }
    assert "不能小于 1" in check(client, "chargers", charger)["problems"][0]["message"]


def test_an_overlapping_grid_gets_the_overlap_to_draw(client, auth, demo):
    auth.login("planner")
    count = db.session.scalar(select(func.count()).select_from(Area))
    # A new grid in Zhangjiayuan reaching 0.001° into grid 1 (103.833–103.838, 36.0495–36.054).
    grid = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[103.837, 36.050], [103.839, 36.050], [103.839, 36.052], [103.837, 36.052], [103.837, 36.050]]
            ],
        },
        "properties": {"level": "grid", "code": "620102005003009", "name": "新网格", "parent_code": "620102005003"},
    }
    problem = check(client, "grids", grid)["problems"][0]
    assert problem["code"] == "overlaps" and "重叠" in problem["message"]
    assert problem["other"]["code"] in ("620102005003001", "620102005003002")
    assert problem["shape"]["type"] in ("Polygon", "MultiPolygon")
    assert send(client, "post", "/api/v1/grids", grid).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Area)) == count


def test_a_grid_outside_its_community_gets_the_part_outside(client, auth, demo):
    auth.login("planner")
    grid = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[103.842, 36.040], [103.850, 36.040], [103.850, 36.046], [103.842, 36.046], [103.842, 36.040]]
            ],
        },
        "properties": {"level": "grid", "code": "620102005003009", "name": "越界网格", "parent_code": "620102005003"},
    }
    problem = check(client, "grids", grid)["problems"][0]
    assert problem["code"] == "outside_parent" and "张家园社区" in problem["message"]
    assert problem["shape"]["type"] in ("Polygon", "MultiPolygon")


def test_outside_the_planners_area_the_part_outside_is_drawn(client, auth, demo):
    create_user("xyplanner", "wuwei-planner", "planner", "620103002", "西园规划")
    auth.login("xyplanner", "wuwei-planner")
    problem = check(client, "bike-zones", zone(ZONE))["problems"][0]
    assert problem["code"] == "outside_area" and "辖区" in problem["message"] and problem["shape"]


# --------------------------------------------------------------------------- history, undo, conflicts


def _charger(client):
    r = client.get("/api/v1/chargers?q=三爱堂小区充电桩03")
    return r.get_json()["features"][0]


def test_every_edit_is_versioned_and_undone_from_the_history(client, auth, demo):
    auth.login("planner")
    charger = _charger(client)
    fid = charger["id"]
    r = send(client, "patch", f"/api/v1/chargers/{fid}", {"properties": {"ports": 12, "status": "faulty"}})
    assert r.status_code == 200
    moved = send(
        client, "patch", f"/api/v1/chargers/{fid}", {"geometry": {"type": "Point", "coordinates": [103.8353, 36.0513]}}
    )
    assert moved.status_code == 200
    versions = client.get(f"/api/v1/chargers/{fid}/history").get_json()["versions"]
    assert [v["action"] for v in versions[:2]] == ["update", "update"]
    assert versions[0]["changed"] == ["geometry"] and set(versions[1]["changed"]) == {"ports", "status"}
    assert versions[1]["user"] == "规划员" or versions[1]["user"]
    assert versions[1]["before"]["properties"]["ports"] != 12 and versions[1]["after"]["properties"]["ports"] == 12
    # Undo the attribute change (the older one): ports and status come back, the move stays.
    r = send(client, "post", f"/api/v1/chargers/{fid}/history/{versions[1]['id']}/undo", headers={"If-Match": "x"})
    assert r.status_code == 412
    etag = client.get(f"/api/v1/chargers/{fid}").headers["ETag"]
    r = send(client, "post", f"/api/v1/chargers/{fid}/history/{versions[1]['id']}/undo", headers={"If-Match": etag})
    assert r.status_code == 200, r.get_json()
    row = db.session.get(Charger, fid)
    db.session.refresh(row)
    assert row.ports == charger["properties"]["ports"] and row.status == charger["properties"]["status"]
    newest = client.get(f"/api/v1/chargers/{fid}/history").get_json()["versions"][0]
    assert newest["action"] == "undo" and set(newest["changed"]) == {"ports", "status"}
    # The undo can be undone in turn.
    r = send(client, "post", f"/api/v1/chargers/{fid}/history/{newest['id']}/undo")
    assert r.status_code == 200 and r.get_json()["properties"]["ports"] == 12
    assert r.get_json()["geometry"]["coordinates"] == [103.8353, 36.0513]
    # A version whose change was changed again later is not undone over it.
    send(client, "patch", f"/api/v1/chargers/{fid}", {"properties": {"ports": 14}})
    r = send(client, "post", f"/api/v1/chargers/{fid}/history/{versions[1]['id']}/undo")
    assert r.status_code == 409 and "ports" in r.get_json()["error"]["message"]


def test_undoing_an_insert_deletes_and_undoing_a_delete_brings_it_back_under_its_id(client, auth, demo):
    auth.login("planner")
    before = zones()
    created = send(client, "post", "/api/v1/bike-zones", zone(ZONE, name="撤销测试"))
    fid = created.get_json()["id"]
    insert = client.get(f"/api/v1/bike-zones/{fid}/history").get_json()["versions"][0]
    assert insert["action"] == "insert"
    assert send(client, "post", f"/api/v1/bike-zones/{fid}/history/{insert['id']}/undo").status_code == 204
    assert zones() == before
    versions = client.get(f"/api/v1/bike-zones/{fid}/history").get_json()["versions"]  # still readable
    assert versions[0]["action"] == "undo" and versions[0]["after"] is None
    r = send(client, "post", f"/api/v1/bike-zones/{fid}/history/{versions[0]['id']}/undo")
    assert r.status_code == 200 and r.get_json()["id"] == fid and r.get_json()["properties"]["name"] == "撤销测试"


def test_the_second_of_two_planners_saving_the_same_feature_is_refused_and_nothing_is_lost(client, app, auth, demo):
    auth.login("planner")
    fid = _charger(client)["id"]
    etag = client.get(f"/api/v1/chargers/{fid}").headers["ETag"]
    other = app.test_client()
    other.post("/login", data={"username": "admin", "password": "wuwei-admin"})
    first = send(other, "patch", f"/api/v1/chargers/{fid}", {"properties": {"ports": 30}}, {"If-Match": etag})
    assert first.status_code == 200
    second = send(client, "patch", f"/api/v1/chargers/{fid}", {"properties": {"ports": 40}}, {"If-Match": etag})
    assert second.status_code == 412 and second.get_json()["error"]["code"] == "precondition_failed"
    row = db.session.get(Charger, fid)
    db.session.refresh(row)
    assert row.ports == 30  # the first save stands
    versions = client.get(f"/api/v1/chargers/{fid}/history").get_json()["versions"]
    assert versions[0]["after"]["properties"]["ports"] == 30


def test_history_is_only_for_features_in_the_users_area(client, auth, demo):
    create_user("xyplanner", "wuwei-planner", "planner", "620103002", "西园规划")
    auth.login("xyplanner", "wuwei-planner")
    fid = db.session.scalar(select(Charger.id).where(Charger.name == "三爱堂小区充电桩03"))
    assert client.get(f"/api/v1/chargers/{fid}/history").status_code == 404
    auth.logout()
    auth.login("gridworker")
    assert client.get(f"/api/v1/chargers/{fid}/history").status_code == 403


# --------------------------------------------------------------------------- split and merge


def _grid(code):
    return db.session.scalar(select(Area).where(Area.code == code))


def _consistent():
    """Every row's grid is the one PostGIS gives its place (households: their building's)."""
    for table in ("buildings", "chargers", "compounds", "bike_zones", "incidents", "bad_parking_spots"):
        wrong = db.session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE grid_id IS DISTINCT FROM wuwei_grid_of(geom)")
        )
        assert wrong == 0, table
    assert (
        db.session.scalar(
            text(
                "SELECT count(*) FROM households h JOIN buildings b ON b.id = h.building_id"
                " WHERE h.grid_id IS DISTINCT FROM b.grid_id"
            )
        )
        == 0
    )
    assert (
        db.session.scalar(
            text(
                "SELECT count(*) FROM visits v JOIN households h ON h.id = v.household_id"
                " WHERE v.grid_id IS DISTINCT FROM h.grid_id"
            )
        )
        == 0
    )


def test_splitting_a_grid_keeps_codes_valid_and_reassigns_the_rows_inside(client, auth, demo):
    auth.login("planner")
    grid = _grid(HUALINSHAN + "001")  # 103.779–103.785; micro-grids west/east of 103.782
    line = {"type": "LineString", "coordinates": [[103.782, 36.0475], [103.782, 36.0535]]}
    dry = send(client, "post", f"/api/v1/grids/{grid.id}/split", {"line": line, "dry_run": True}).get_json()
    assert dry["dry_run"] and dry["grids"][1]["code"] == HUALINSHAN + "005"
    assert _grid(HUALINSHAN + "005") is None  # nothing written by the preview
    r = send(client, "post", f"/api/v1/grids/{grid.id}/split", {"line": line, "name": "华林山第5网格"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    kept, new = out["grids"]
    assert kept["code"] == HUALINSHAN + "001" and new["code"] == HUALINSHAN + "005" and new["name"] == "华林山第5网格"
    assert len(out["micro_grids"]) == 1 and out["micro_grids"][0]["code"] == HUALINSHAN + "005001"
    micro = db.session.get(Area, out["micro_grids"][0]["id"])
    assert micro.parent_id == new["id"] and micro.code.startswith(new["code"])
    before_total = sum(sum(v.values()) for v in out["rows_before"].values())
    after_total = sum(sum(v.values()) for v in out["rows"].values())
    assert before_total == after_total  # every row of the old grid is in one of the two
    assert any(new["code"] in per for per in out["rows"].values())
    _consistent()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "split", AuditEntry.row_id == str(grid.id))
        )
        == 1
    )


def test_a_line_that_does_not_cut_or_cuts_a_micro_grid_is_refused_and_nothing_changes(client, auth, demo):
    auth.login("planner")
    grid = _grid(HUALINSHAN + "001")
    count = db.session.scalar(select(func.count()).select_from(Area))
    short = {"type": "LineString", "coordinates": [[103.780, 36.050], [103.781, 36.051]]}
    r = send(client, "post", f"/api/v1/grids/{grid.id}/split", {"line": short})
    assert r.status_code == 422 and "line" in r.get_json()["error"]["fields"]
    across = {"type": "LineString", "coordinates": [[103.778, 36.0505], [103.786, 36.0505]]}
    r = send(client, "post", f"/api/v1/grids/{grid.id}/split", {"line": across})
    assert r.status_code == 422 and "micro-grid" in r.get_json()["error"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Area)) == count


def test_merging_two_grids_moves_rows_workers_and_users_in_one_transaction(client, auth, demo):
    auth.login("planner")
    keep, other = _grid(HUALINSHAN + "001"), _grid(HUALINSHAN + "002")
    other_id = other.id
    buildings = db.session.scalar(
        select(func.count()).select_from(Building).where(Building.grid_id.in_([keep.id, other_id]))
    )
    r = send(client, "post", "/api/v1/grids/merge", {"keep": keep.id, "other": other_id, "name": "华林山第1网格"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["removed"]["code"] == HUALINSHAN + "002" and db.session.get(Area, other_id) is None
    assert {m["code"] for m in out["micro_grids"]} == {HUALINSHAN + "001003", HUALINSHAN + "001004"}
    assert db.session.scalar(select(func.count()).select_from(Building).where(Building.grid_id == keep.id)) == buildings
    hls2_area = db.session.scalar(text("SELECT area_id FROM users WHERE username = 'hls2'"))
    assert hls2_area == keep.id
    _consistent()


def test_only_neighbouring_sibling_grids_merge(client, auth, demo):
    auth.login("planner")
    a, far = _grid(HUALINSHAN + "001"), _grid(HUALINSHAN + "004")  # diagonal: they touch at a corner only
    r = send(client, "post", "/api/v1/grids/merge", {"keep": a.id, "other": _grid("620102005003001").id})
    assert r.status_code == 422 and "siblings" in r.get_json()["error"]["message"]
    assert far is not None
