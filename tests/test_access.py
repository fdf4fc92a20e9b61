"""Access per role and per area, for every layer of the layer API.

admin reads everything; a street planner reads and edits only that street; a grid worker
reads only their grid; a leader reads and never writes. Reading another area's feature
is 404 (it does not exist for you); writing one is 403; a refused write changes nothing.
"""

import json

import pytest
from sqlalchemy import func, select, text

from app.auth.services import create_user
from app.basemap.layers import LAYERS
from app.core.extensions import db

LAYER_NAMES = ["areas", "grids", "buildings", "compounds", "property-companies", "chargers", "bike-zones"]
SPATIAL = ["areas", "grids", "buildings", "compounds", "chargers", "bike-zones"]
GRID_SCOPED = ["buildings", "compounds", "chargers", "bike-zones"]
XIYUAN = "620103002"  # street of Hualinshan
MY_GRID = "620103002001001"  # the demo grid worker's grid


def box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


# A feature each layer would accept, placed in Zhangjiayuan / Yanbei (Chengguan District), outside Xiyuan.
ELSEWHERE = {
    "chargers": {
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 4, "status": "planned"},
    },
    "bike-zones": {
        "geometry": box(103.8386, 36.0496, 103.8390, 36.0498),
        "properties": {"capacity": 10, "kind": "mixed", "status": "planned"},
    },
    "buildings": {"geometry": box(103.8386, 36.0496, 103.8390, 36.0498), "properties": {"name": "新楼"}},
    "compounds": {"geometry": box(103.8386, 36.0496, 103.8390, 36.0498), "properties": {"name": "新院"}},
    "areas": {
        "geometry": box(103.870, 36.067, 103.875, 36.070),
        "properties": {"level": "community", "code": "620102011005", "name": "新社区", "parent_code": "620102011"},
    },
    "grids": {
        "geometry": box(103.8705, 36.0675, 103.8745, 36.0695),
        "properties": {"level": "grid", "code": "620102011005001", "name": "新网格", "parent_code": "620102011005"},
    },
    "property-companies": {"properties": {"name": "新物业公司"}},
}


@pytest.fixture
def users(app, demo):
    """Bearer headers per user, with a planner of Xiyuan Street beside the demo users."""
    create_user("xyplanner", "wuwei-planner", "planner", XIYUAN, "西园规划")
    from app.auth.services import create_token

    def headers(name):
        return {"Authorization": f"Bearer {create_token(name)[1]}"}

    return {name: headers(name) for name in ("admin", "xyplanner", "gridworker", "leader", "staff", "planner")}


def fc(client, layer, headers, query="limit=10000"):
    r = client.get(f"/api/v1/{layer}?{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def table_count(layer_name: str) -> int:
    from app.basemap.services import base_conditions, table_of

    layer = LAYERS[layer_name]
    q = select(func.count()).select_from(table_of(layer)).where(*base_conditions(layer))
    return db.session.scalar(q)


def send(client, method, url, body, headers):
    return client.open(url, method=method, data=json.dumps(body), content_type="application/json", headers=headers)


def outside_feature(client, users, layer):
    """A feature of ``layer`` that lies outside Xiyuan Street (and is not one of its ancestors)."""
    for f in fc(client, layer, users["admin"])["features"]:
        code = f["properties"].get("grid_code") or f["properties"].get("code")
        if code and not code.startswith(XIYUAN) and not XIYUAN.startswith(code):
            return f
    raise AssertionError(f"no feature of {layer} outside Xiyuan in the demo")


@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_admin_reads_every_row_of_every_layer(client, users, layer):
    assert fc(client, layer, users["admin"])["numberMatched"] == table_count(layer) > 0


@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_street_planner_reads_only_their_street(client, users, layer):
    features = fc(client, layer, users["xyplanner"])["features"]
    everything = table_count(layer)
    if layer == "property-companies":  # not spatial: every company is listed for every user
        assert len(features) == everything
        return
    assert len(features) < everything
    for f in features:
        p = f["properties"]
        if layer in ("areas", "grids"):
            assert p["code"].startswith(XIYUAN) or XIYUAN.startswith(p["code"])
        else:
            assert p["grid_code"].startswith(XIYUAN)
    if layer in ("buildings", "compounds", "grids"):
        assert features, "Hualinshan has buildings, compounds and grids"


@pytest.mark.parametrize("layer", GRID_SCOPED + ["grids"])
def test_grid_worker_reads_only_their_grid(client, users, layer):
    features = fc(client, layer, users["gridworker"])["features"]
    for f in features:
        code = f["properties"].get("grid_code") or f["properties"]["code"]
        assert code.startswith(MY_GRID) or (layer == "grids" and MY_GRID.startswith(code))
    if layer in ("buildings", "grids"):
        assert features


@pytest.mark.parametrize("layer", SPATIAL)
def test_out_of_area_read_is_404(client, users, layer):
    f = outside_feature(client, users, layer)
    r = client.get(f"/api/v1/{layer}/{f['id']}", headers=users["xyplanner"])
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/{layer}/{f['id']}", headers=users["admin"]).status_code == 200


@pytest.mark.parametrize("layer", SPATIAL)
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_out_of_area_write_is_403_and_changes_nothing(client, users, layer, method):
    f = outside_feature(client, users, layer)
    url = f"/api/v1/{layer}/{f['id']}"
    r = send(client, method, url, {"properties": {"name": "改名"}}, users["xyplanner"])
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["error"]["code"] == "forbidden"
    assert client.get(url, headers=users["admin"]).get_json() == f


@pytest.mark.parametrize("layer", SPATIAL)
def test_creating_in_another_area_is_403_and_stores_nothing(client, users, layer):
    if layer == "grids":  # the grid needs its (new) community first; the admin makes it
        r = send(client, "POST", "/api/v1/areas", {"type": "Feature", **ELSEWHERE["areas"]}, users["admin"])
        assert r.status_code == 201, r.get_json()
    before = table_count(layer)
    r = send(client, "POST", f"/api/v1/{layer}", {"type": "Feature", **ELSEWHERE[layer]}, users["xyplanner"])
    assert r.status_code == 403, r.get_json()
    assert table_count(layer) == before
    # The same body is fine for a planner whose area holds the place.
    assert (
        send(client, "POST", f"/api/v1/{layer}", {"type": "Feature", **ELSEWHERE[layer]}, users["planner"]).status_code
        == 201
    )


def test_moving_own_feature_into_another_area_is_403_and_changes_nothing(client, users):
    own = fc(client, "buildings", users["xyplanner"], "limit=1")["features"][0]
    r = send(
        client,
        "PATCH",
        f"/api/v1/buildings/{own['id']}",
        {"geometry": ELSEWHERE["buildings"]["geometry"]},
        users["xyplanner"],
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/buildings/{own['id']}", headers=users["xyplanner"]).get_json() == own


def test_street_planner_cannot_redraw_their_street_or_its_district(client, users):
    for code in (XIYUAN, "620103"):
        area = next(f for f in fc(client, "areas", users["xyplanner"])["features"] if f["properties"]["code"] == code)
        r = send(client, "PATCH", f"/api/v1/areas/{area['id']}", {"properties": {"name": "改名"}}, users["xyplanner"])
        assert r.status_code == 403
        assert client.get(f"/api/v1/areas/{area['id']}", headers=users["admin"]).get_json() == area


def test_street_planner_edits_inside_their_street(client, users):
    own = fc(client, "buildings", users["xyplanner"], "limit=1")["features"][0]
    r = send(client, "PATCH", f"/api/v1/buildings/{own['id']}", {"properties": {"households": 40}}, users["xyplanner"])
    assert r.status_code == 200 and r.get_json()["properties"]["households"] == 40


@pytest.mark.parametrize("user", ["leader", "gridworker", "staff"])
@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_read_only_roles_read_but_every_write_is_403(client, users, user, layer):
    listing = fc(client, layer, users[user])
    assert listing["type"] == "FeatureCollection"
    before = table_count(layer)
    r = send(client, "POST", f"/api/v1/{layer}", {"type": "Feature", **ELSEWHERE[layer]}, users[user])
    assert r.status_code == 403
    some = fc(client, layer, users["admin"], "limit=1")["features"][0]
    for method in ("PATCH", "PUT", "DELETE"):
        r = send(client, method, f"/api/v1/{layer}/{some['id']}", {"properties": {"name": "x"}}, users[user])
        assert r.status_code == 403, (method, r.get_json())
    assert table_count(layer) == before
    assert client.get(f"/api/v1/{layer}/{some['id']}", headers=users["admin"]).get_json() == some


def test_unknown_ids_are_404_for_reads_and_writes(client, users):
    for method in ("GET", "PATCH", "DELETE"):
        r = send(client, method, "/api/v1/chargers/987654321", {"properties": {}}, users["admin"])
        assert r.status_code == 404
    assert client.get("/api/v1/chargers/99999999999999999999999", headers=users["admin"]).status_code == 404


def test_a_user_without_login_gets_401_everywhere(client, demo):
    for layer in LAYER_NAMES:
        assert client.get(f"/api/v1/{layer}").status_code == 401
        assert client.get(f"/api/v1/{layer}/1").status_code == 401
        assert send(client, "POST", f"/api/v1/{layer}", {}, {}).status_code == 401


@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_a_non_admin_without_area_sees_nothing_and_gets_no_error(client, users, layer):
    db.session.execute(text("UPDATE users SET area_id = NULL WHERE username = 'xyplanner'"))
    listing = fc(client, layer, users["xyplanner"])
    assert listing["numberMatched"] == (table_count(layer) if layer == "property-companies" else 0)


def test_the_grids_layer_takes_only_grids_and_micro_grids(client, users):
    body = {"type": "Feature", **ELSEWHERE["areas"]}
    r = send(client, "POST", "/api/v1/grids", body, users["admin"])
    assert r.status_code == 422 and "level" in r.get_json()["error"]["fields"]
    assert send(client, "POST", "/api/v1/areas", body, users["admin"]).status_code == 201
