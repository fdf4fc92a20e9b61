"""Vector tiles: decoded with mapbox-vector-tile; public properties only, the user's area only."""

import json
import math

import mapbox_vector_tile
import pytest
from sqlalchemy import literal, select

from app.tiles.sources import TILE_SOURCES, TileSource, register_tile_source

ZJY_CHARGER = (103.8342, 36.0472)  # 金昌南路大院子充电桩01, Zhangjiayuan community
MVT = "application/vnd.mapbox-vector-tile"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def get_tile(client, layer, z, x, y, headers=None):
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers or {})


def decode(resp) -> dict:
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == MVT
    return mapbox_vector_tile.decode(resp.data)


def test_charger_tile_has_chargers_with_public_properties(client, auth, demo):
    auth.login("planner")
    layers = decode(get_tile(client, "chargers", *tile_of(*ZJY_CHARGER, 14)))
    features = layers["chargers"]["features"]
    names = {f["properties"]["name"] for f in features}
    assert "金昌南路大院子充电桩01" in names
    first = next(f for f in features if f["properties"]["name"] == "金昌南路大院子充电桩01")
    assert first["geometry"]["type"] == "Point"
    assert first["properties"]["status"] == "installed" and first["properties"]["ports"] == 10
    assert isinstance(first["id"], int)


def test_tile_geometry_lands_where_the_feature_is(client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 16)
    layers = decode(get_tile(client, "chargers", z, x, y))
    f = next(f for f in layers["chargers"]["features"] if f["properties"]["name"] == "金昌南路大院子充电桩01")
    px, py = f["geometry"]["coordinates"]
    # Back from tile pixels (y up in the decoder's default) to lon/lat.
    n = 2**z
    lon = (x + px / 4096) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1 - py / 4096) / n))))
    assert abs(lon - ZJY_CHARGER[0]) < 1e-4 and abs(lat - ZJY_CHARGER[1]) < 1e-4


def test_building_tiles_leave_out_notes_and_small_counts(client, auth, demo):
    auth.login("planner")
    square = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[103.8352, 36.0462], [103.8354, 36.0462], [103.8354, 36.0464], [103.8352, 36.0464], [103.8352, 36.0462]]]
        ],
    }
    r = client.post(
        "/api/v1/buildings",
        data=json.dumps(
            {
                "type": "Feature",
                "geometry": square,
                "properties": {
                    "name": "测试小楼",
                    "households": 3,
                    "ebikes": 2,
                    "floors": 2,
                    "charging_note": "二楼王大爷在楼道充电",
                },
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.data
    layers = decode(get_tile(client, "buildings", *tile_of(103.8353, 36.0463, 15)))
    feats = layers["buildings"]["features"]
    mine = next(f for f in feats if f["properties"].get("name") == "测试小楼")
    assert mine["properties"]["floors"] == 2
    assert "households" not in mine["properties"] and "ebikes" not in mine["properties"]
    assert all("charging_note" not in f["properties"] for f in feats)
    assert any(f["properties"].get("households", 0) >= 5 for f in feats)


def test_area_tiles_never_carry_grid_worker_names(client, auth, demo):
    auth.login("planner")
    layers = decode(get_tile(client, "grids", *tile_of(103.785, 36.048, 14)))
    props = [f["properties"] for f in layers["grids"]["features"]]
    assert props and all("workers" not in p for p in props)
    assert {p["level"] for p in props} <= {"grid", "micro_grid"}


def test_area_tiles_show_finer_levels_only_when_zoomed_in(client, auth, demo):
    auth.login("planner")
    levels = {}
    for z in (9, 12, 15):
        layers = decode(get_tile(client, "areas", *tile_of(103.785, 36.048, z)))
        levels[z] = {f["properties"]["level"] for f in layers["areas"]["features"]}
    assert levels[9] == {"city", "district"}
    assert {"street", "community", "grid"} <= levels[12] and "micro_grid" not in levels[12]
    assert "micro_grid" in levels[15]


def test_buildings_below_their_min_zoom_are_empty(client, auth, demo):
    auth.login("planner")
    r = get_tile(client, "buildings", *tile_of(*ZJY_CHARGER, 12))
    assert r.status_code == 204 and r.data == b""
    assert get_tile(client, "buildings", *tile_of(*ZJY_CHARGER, 14)).status_code == 200


def test_tile_with_nothing_in_it_is_204(client, auth, demo):
    auth.login("planner")
    r = get_tile(client, "chargers", *tile_of(-40.0, -30.0, 14))  # the South Atlantic
    assert r.status_code == 204 and not r.data


def test_etag_and_if_none_match_give_304(client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    r = get_tile(client, "chargers", z, x, y)
    etag = r.headers["ETag"]
    assert etag.startswith('"') and "private" in r.headers["Cache-Control"]
    again = get_tile(client, "chargers", z, x, y, {"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert get_tile(client, "chargers", z, x, y, {"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    "path, status",
    [
        ("/tiles/chargers/a/1/1.mvt", 400),
        ("/tiles/chargers/14/1.5/1.mvt", 400),
        ("/tiles/chargers/23/0/0.mvt", 404),
        ("/tiles/chargers/3/8/0.mvt", 404),
        ("/tiles/chargers/3/0/-1.mvt", 404),
        ("/tiles/nothing/1/0/0.mvt", 404),
        ("/tiles/property-companies/1/0/0.mvt", 404),
        ("/tiles/property-companies.json", 404),
    ],
)
def test_bad_tile_addresses_are_json_errors(client, auth, demo, path, status):
    auth.login("planner")
    r = client.get(path)
    assert r.status_code == status
    assert r.get_json()["error"]["message"]


def test_tiles_need_a_login_and_accept_a_bearer_token(client, auth, demo):
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    r = get_tile(client, "chargers", z, x, y)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    headers = auth.token("planner", device="qgis")
    assert decode(get_tile(client, "chargers", z, x, y, headers))["chargers"]["features"]


def test_tiles_show_only_the_users_area(client, auth, demo):
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    staff = auth.token("staff")  # Hualinshan community staff: no Zhangjiayuan chargers
    assert get_tile(client, "chargers", z, x, y, staff).status_code == 204
    zjy = auth.token("zjystaff")
    assert decode(get_tile(client, "chargers", z, x, y, zjy))["chargers"]["features"]
    # Areas: the own community and its ancestors, never a neighbouring community.
    areas = decode(get_tile(client, "areas", *tile_of(103.785, 36.048, 13), staff))["areas"]["features"]
    codes = {f["properties"]["code"] for f in areas}
    assert "620103002001" in codes and not any(c.startswith("620102") for c in codes)


def test_tilejson_describes_the_layer(client, auth, demo):
    auth.login("planner")
    r = client.get("/tiles/buildings.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] == 14
    assert doc["tiles"][0].endswith("/tiles/buildings/{z}/{x}/{y}.mvt")
    fields = doc["vector_layers"][0]["fields"]
    assert doc["vector_layers"][0]["id"] == "buildings"
    assert "households" in fields and "charging_note" not in fields
    minx, miny, maxx, maxy = doc["bounds"]
    assert 103.7 < minx < maxx < 104.0 and 36.0 < miny < maxy < 36.2


def test_tilejson_bounds_follow_the_users_area(client, auth, demo):
    everything = client.get("/tiles/chargers.json", headers=auth.token("planner")).get_json()["bounds"]
    zjy = client.get("/tiles/chargers.json", headers=auth.token("zjystaff")).get_json()["bounds"]
    assert everything[0] <= zjy[0] and zjy[2] <= everything[2]


def test_a_feature_can_register_its_own_tile_source(client, auth, demo):
    from app.basemap.layers import get_layer
    from app.basemap.services import layer_conditions, table_of

    def rows(scope, envelope, z):
        t = table_of(get_layer("chargers"))
        return select(t.c.id, t.c.geom, literal(1).label("weight")).where(
            t.c.geom.op("&&")(envelope), *layer_conditions(get_layer("chargers"), t, scope)
        )

    register_tile_source(TileSource("test-heat", "heat", rows, {"weight": "Number"}, min_zoom=10))
    try:
        auth.login("planner")
        layers = decode(get_tile(client, "test-heat", *tile_of(*ZJY_CHARGER, 14)))
        assert {f["properties"]["weight"] for f in layers["test-heat"]["features"]} == {1}
        assert client.get("/tiles/test-heat.json").get_json()["minzoom"] == 10
    finally:
        TILE_SOURCES.pop("test-heat", None)


def test_tile_paths_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/tiles/{layer}/{z}/{x}/{y}.mvt" in paths and "/ogcapi/collections/{collectionId}/items" in paths
