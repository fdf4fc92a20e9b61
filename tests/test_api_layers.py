"""The layer API: GeoJSON lists, filters, CRUD and every error path."""

import json

import pytest
from sqlalchemy import event, func, select

from app.audit.models import AuditEntry
from app.core.extensions import db

SQUARE_IN_ZJY = {
    "type": "Polygon",
    "coordinates": [
        [[103.8352, 36.0462], [103.8356, 36.0462], [103.8356, 36.0465], [103.8352, 36.0465], [103.8352, 36.0462]]
    ],
}


def post_json(client, url, body, headers=None, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", headers=headers or {})


def test_chargers_list_is_geojson_with_demo_chargers(client, auth, demo):
    auth.login("planner")
    r = client.get("/api/v1/chargers?status=installed&limit=100")
    assert r.status_code == 200
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == 25 and len(fc["features"]) == 25
    f = fc["features"][0]
    lon, lat = f["geometry"]["coordinates"]
    assert 103.8 < lon < 103.9 and 36.0 < lat < 36.1
    assert f["properties"]["status"] == "installed"
    assert f["properties"]["grid_code"].startswith("620102005003")


def test_bbox_limits_features_to_the_box(client, auth, demo):
    auth.login("planner")
    everything = client.get("/api/v1/compounds").get_json()["numberMatched"]
    hualinshan = client.get("/api/v1/compounds?bbox=103.779,36.043,103.791,36.053").get_json()
    assert 0 < hualinshan["numberMatched"] < everything
    assert {f["properties"]["name"] for f in hualinshan["features"]} == {"三兆家园", "邮电巷小区"}


def test_paging_gives_next_link_and_disjoint_pages(client, auth, demo):
    auth.login("planner")
    first = client.get("/api/v1/chargers?limit=10").get_json()
    # A full page is not counted unless asked (issue 18): numberMatched null, a next link all the same.
    assert first["numberReturned"] == 10 and first["numberMatched"] is None
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = client.get(nxt).get_json()
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}
    third = client.get(nxt.replace("offset=10", "offset=20")).get_json()
    assert third["numberReturned"] == 6 and third["numberMatched"] == 26  # a short page tells it: no count
    assert not any(link["rel"] == "next" for link in third["links"])
    counted = client.get("/api/v1/chargers?limit=10&count=true").get_json()
    assert counted["numberReturned"] == 10 and counted["numberMatched"] == 26


def test_a_full_page_runs_no_count_unless_asked(app, client, auth, demo):
    auth.login("planner")
    seen = []

    def before(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        client.get("/api/v1/chargers?limit=10")
        plain, seen[:] = list(seen), []
        client.get("/api/v1/chargers?limit=10&count=true")
    finally:
        event.remove(engine, "before_cursor_execute", before)
    counts = [s for s in plain if "count(*)" in s and "FROM chargers" in s]
    assert counts == [] and [s for s in seen if "count(*)" in s and "FROM chargers" in s]


@pytest.mark.parametrize(
    "query, field",
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=10,10,0,0", "bbox"),
        ("bbox=0,0,200,10", "bbox"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=x", "limit"),
        ("offset=-1", "offset"),
        ("status=broken", "status"),
        ("colour=red", "colour"),
        ("community=123", "community"),
        ("sort=secret", "sort"),
    ],
)
def test_malformed_list_queries_are_400_with_the_field_named(client, auth, demo, query, field):
    auth.login("planner")
    r = client.get(f"/api/v1/chargers?{query}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "bad_request" and field in err["fields"]


def test_unauthenticated_api_is_401_json(client, demo):
    r = client.get("/api/v1/chargers")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"


def test_unknown_layer_is_404(client, auth, demo):
    auth.login("planner")
    assert client.get("/api/v1/rivers").status_code == 404


def test_planner_creates_charger_and_postgis_assigns_grid_and_audits(client, auth, demo, app):
    auth.login("planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"name": "新充电桩", "ports": 12, "status": "planned"},
    }
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 201, r.get_json()
    f = r.get_json()
    # (103.8386, 36.0496) lies in the north-east grid of Zhangjiayuan.
    assert f["properties"]["grid_code"] == "620102005003002"
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.table_name == "chargers", AuditEntry.row_id == str(f["id"]))
    )
    assert entry.action == "insert" and entry.after["properties"]["ports"] == 12
    assert entry.user_id is not None


def test_typed_grid_id_is_ignored_in_favour_of_the_spatial_join(client, auth, demo):
    auth.login("planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 4, "status": "planned", "grid_id": 1},
    }
    f = post_json(client, "/api/v1/chargers", body).get_json()
    assert f["properties"]["grid_code"] == "620102005003002"


@pytest.mark.parametrize(
    "geometry, fragment",
    [
        ({"type": "Point", "coordinates": [36.05, 103.83]}, "latitude"),
        ({"type": "Point", "coordinates": [181, 36]}, "longitude"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "must be Point"),
        ({"type": "Point"}, "coordinates"),
        ({"type": "Blob", "coordinates": [1, 2]}, "unknown geometry type"),
        ({"type": "Point", "coordinates": ["a", "b"]}, "numbers"),
    ],
)
def test_bad_geometry_is_422_with_reason_and_stores_nothing(client, auth, demo, geometry, fragment):
    auth.login("planner")
    before = db.session.scalar(select(func.count()).select_from(db.metadata.tables["chargers"]))
    body = {"type": "Feature", "geometry": geometry, "properties": {"ports": 4, "status": "planned"}}
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 422
    assert fragment in r.get_json()["error"]["fields"]["geometry"]
    assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["chargers"])) == before


def test_self_intersecting_polygon_reason_names_the_self_intersection(client, auth, demo):
    auth.login("planner")
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[103.835, 36.046], [103.836, 36.047], [103.836, 36.046], [103.835, 36.047], [103.835, 36.046]]
        ],
    }
    r = post_json(
        client,
        "/api/v1/bike-zones",
        {"type": "Feature", "geometry": bowtie, "properties": {"capacity": 5, "kind": "mixed", "status": "planned"}},
    )
    assert r.status_code == 422
    assert "Self-intersection" in r.get_json()["error"]["message"]


def test_wrong_types_and_unknown_fields_are_422(client, auth, demo):
    auth.login("planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": "many", "status": "exploded", "colour": "red", "installed_on": "yesterday"},
    }
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert set(fields) == {"ports", "status", "colour", "installed_on"}


def test_malformed_json_is_400_and_wrong_content_type_415(client, auth, demo):
    auth.login("planner")
    r = client.post("/api/v1/chargers", data="{not json", content_type="application/json")
    assert r.status_code == 400
    r = client.post("/api/v1/chargers", data="ports=3", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    r = client.post("/api/v1/chargers", data="[1, 2]", content_type="application/json")
    assert r.status_code == 400


def test_unknown_reference_is_422(client, auth, demo):
    auth.login("planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 4, "status": "planned", "compound_id": 999999},
    }
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 422 and "compound_id" in r.get_json()["error"]["fields"]


def test_leader_and_grid_worker_cannot_edit_base_layers(client, auth, demo):
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 4, "status": "planned"},
    }
    for user in ("leader", "gridworker"):
        auth.login(user)
        assert post_json(client, "/api/v1/chargers", body).status_code == 403
        auth.logout()


def test_grid_worker_sees_only_their_grid(client, auth, demo):
    auth.login("gridworker")  # Hualinshan grid 1 (north-west)
    fc = client.get("/api/v1/buildings").get_json()
    assert fc["numberMatched"] > 0
    assert {f["properties"]["grid_code"] for f in fc["features"]} == {"620103002001001"}
    chargers = client.get("/api/v1/chargers").get_json()
    assert chargers["numberMatched"] == 0  # all chargers are in Zhangjiayuan


def test_out_of_area_feature_is_404_for_reads_and_writes(client, auth, demo):
    auth.login("planner")
    charger = client.get("/api/v1/chargers?limit=1").get_json()["features"][0]
    auth.logout()
    auth.login("gridworker")
    assert client.get(f"/api/v1/chargers/{charger['id']}").status_code == 404


def test_staff_of_one_community_cannot_create_outside_it(client, auth, demo, app):
    # A planner of one street may not place a charger in another street.
    from app.auth.services import create_user

    with app.app_context():
        create_user("xyplanner", "wuwei-planner", "planner", "620103002", "西园规划")
    auth.login("xyplanner", "wuwei-planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 4, "status": "planned"},
    }
    before = db.session.scalar(select(func.count()).select_from(db.metadata.tables["chargers"]))
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["chargers"])) == before


def test_patch_put_delete_round_trip(client, auth, demo):
    auth.login("planner")
    f = client.get("/api/v1/chargers?status=planned").get_json()["features"][0]
    r = post_json(client, f"/api/v1/chargers/{f['id']}", {"properties": {"status": "installed"}}, method="patch")
    assert r.status_code == 200 and r.get_json()["properties"]["status"] == "installed"
    r = post_json(client, f"/api/v1/chargers/{f['id']}", {"type": "Feature", "properties": {"ports": 3}}, method="put")
    assert r.status_code == 422  # PUT needs the required fields and the geometry
    assert client.delete(f"/api/v1/chargers/{f['id']}").status_code == 204
    assert client.get(f"/api/v1/chargers/{f['id']}").status_code == 404


def test_deleting_a_compound_in_use_is_refused_or_detaches(client, auth, demo):
    auth.login("planner")
    area = client.get("/api/v1/areas?area=620103002001&sort=code&limit=1").get_json()["features"][0]
    r = client.delete(f"/api/v1/areas/{area['id']}")
    assert r.status_code == 409  # the community still has grids


def test_grid_outside_its_community_or_overlapping_is_422(client, auth, demo):
    auth.login("planner")
    far = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[103.70, 36.00], [103.71, 36.00], [103.71, 36.01], [103.70, 36.01], [103.70, 36.00]]],
        },
        "properties": {"level": "grid", "code": "620103002001009", "name": "越界网格", "parent_code": "620103002001"},
    }
    r = post_json(client, "/api/v1/grids", far)
    assert r.status_code == 422 and "outside" in r.get_json()["error"]["message"]
    overlap = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[103.780, 36.044], [103.784, 36.044], [103.784, 36.047], [103.780, 36.047], [103.780, 36.044]]
            ],
        },
        "properties": {"level": "grid", "code": "620103002001009", "name": "重叠网格", "parent_code": "620103002001"},
    }
    r = post_json(client, "/api/v1/grids", overlap)
    assert r.status_code == 422 and "overlaps" in r.get_json()["error"]["message"]
    bad_code = dict(overlap, properties={**overlap["properties"], "code": "620102005003009"})
    r = post_json(client, "/api/v1/grids", bad_code)
    assert r.status_code == 422 and "code" in r.get_json()["error"]["fields"]


def test_bearer_token_reads_api(client, auth, demo):
    headers = auth.token("planner", "test-device")
    assert client.get("/api/v1/bike-zones", headers=headers).status_code == 200
    assert client.get("/api/v1/bike-zones", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_openapi_lists_every_layer(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for layer in ("areas", "grids", "buildings", "compounds", "property-companies", "chargers", "bike-zones"):
        assert f"/api/v1/{layer}" in doc["paths"] and f"/api/v1/{layer}/{{id}}" in doc["paths"]


def _layer_paths(doc: dict) -> dict:
    from app.basemap.layers import LAYERS

    mine = {p for name in LAYERS for p in (f"/api/v1/{name}", f"/api/v1/{name}/{{id}}")} | {"/healthz"}
    return {p: item for p, item in doc["paths"].items() if p in mine}


def test_openapi_layer_paths_are_valid_openapi_3_1(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    doc = client.get("/api/v1/openapi.json").get_json()
    mine = dict(doc, paths=_layer_paths(doc))
    assert len(mine["paths"]) == 15
    errors = [str(e).split("\n")[0] for e in OpenAPIV31SpecValidator(mine).iter_errors()]
    assert errors == []


def test_each_layer_is_documented_with_its_own_filters_and_attributes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    listing = doc["paths"]["/api/v1/chargers"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert {"bbox", "limit", "offset", "sort", "q", "area", "status", "compound_id"} <= set(params)
    assert "level" not in params  # a filter of the areas, not of chargers
    status = params["status"]["schema"]["anyOf"][0]
    assert status["items"]["enum"] == ["planned", "installed", "faulty", "removed"]
    assert "-installed_on" in params["sort"]["schema"]["enum"]
    create = doc["paths"]["/api/v1/chargers"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = schemas[schemas[body]["properties"]["properties"]["$ref"].rsplit("/", 1)[1]]
    assert set(props["required"]) == {"ports", "status"} and props["properties"]["ports"]["maximum"] == 200
    assert "201" in create["responses"] and "422" in create["responses"]
    assert "layers.edit" in create["description"]
    patch = doc["paths"]["/api/v1/chargers/{id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "required" not in schemas[schemas[body]["properties"]["properties"]["$ref"].rsplit("/", 1)[1]]
    assert doc["paths"]["/api/v1/chargers/{id}"]["delete"]["tags"] == ["chargers"]


def test_url_for_builds_every_layer_url(app):
    from flask import url_for

    with app.test_request_context():
        assert url_for("api.collection", layer_name="bike-zones", status="active") == "/api/v1/bike-zones?status=active"
        assert url_for("api.item", layer_name="chargers", fid=7) == "/api/v1/chargers/7"


def test_id_and_bbox_are_ignored_other_members_refused_and_a_bare_body_is_the_properties(client, auth, demo):
    auth.login("planner")
    body = {
        "type": "Feature",
        "id": 99,
        "bbox": [103.8386, 36.0496, 103.8386, 36.0496],
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"ports": 3, "status": "planned", "grid_code": "ignored (computed)", "name": "  桩  "},
    }
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 201, r.get_json()
    fid = r.get_json()["id"]
    assert fid != 99 and r.headers["Location"].endswith(f"/api/v1/chargers/{fid}")
    assert r.get_json()["properties"]["name"] == "桩"
    r = post_json(client, f"/api/v1/chargers/{fid}", {"type": "Feature", "links": []}, method="patch")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"links": "unknown field"}
    r = post_json(client, f"/api/v1/chargers/{fid}", {"properties": {"ports": 5.0}}, method="patch")
    assert r.status_code == 200 and r.get_json()["properties"]["ports"] == 5
    # Without "type" and "properties", the body is the properties (as before the declared models).
    r = post_json(client, f"/api/v1/chargers/{fid}", {"ports": 6, "colour": "red"}, method="patch")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"colour": "unknown field"}
    r = post_json(client, f"/api/v1/chargers/{fid}", {"ports": 6}, method="patch")
    assert r.status_code == 200 and r.get_json()["properties"]["ports"] == 6


@pytest.mark.parametrize(
    "properties, field",
    [
        ({"ports": None, "status": "planned"}, "ports"),  # required: null is not a value
        ({"ports": 2, "status": None}, "status"),
        ({"ports": True, "status": "planned"}, "ports"),  # a boolean is not an integer
        ({"ports": 2.5, "status": "planned"}, "ports"),
        ({"ports": 2, "status": "planned", "power_kw": "NaN"}, "power_kw"),
        ({"ports": 2, "status": "planned", "installed_on": "2024-02-30"}, "installed_on"),
    ],
)
def test_bad_attribute_values_are_422_named_by_attribute(client, auth, demo, properties, field):
    auth.login("planner")
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": properties,
    }
    r = post_json(client, "/api/v1/chargers", body)
    assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == {field}, r.get_json()


def test_a_not_null_attribute_cannot_be_cleared(client, auth, demo):
    auth.login("planner")
    company = client.get("/api/v1/property-companies?limit=1").get_json()["features"][0]
    r = post_json(
        client,
        f"/api/v1/property-companies/{company['id']}",
        {"properties": {"alliance_standing": None}},
        method="patch",
    )
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"alliance_standing": "required"}


@pytest.mark.parametrize(
    "layer", ["areas", "grids", "buildings", "compounds", "property-companies", "chargers", "bike-zones"]
)
def test_answers_match_their_documented_models(client, auth, demo, layer):
    from app.basemap import schemas
    from app.basemap.layers import LAYERS

    auth.login("admin")
    page = client.get(f"/api/v1/{layer}?limit=50").get_json()
    schemas.collection_out(LAYERS[layer]).model_validate(page)
    one = client.get(f"/api/v1/{layer}/{page['features'][0]['id']}").get_json()
    schemas.feature_out(LAYERS[layer]).model_validate(one)
