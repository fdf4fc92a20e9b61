"""Vector tiles drop nothing: the zoom plan from the data, counts per cell below a dense layer's detail
zoom, compression, per-encoding ETags, the combined multi-layer endpoint and TileJSON's statements."""
import gzip
import math

import brotli
import mapbox_vector_tile
import pytest
from sqlalchemy import text

from app.core.extensions import db
from app.tiles import plan as tile_plan

MVT = "application/vnd.mapbox-vector-tile"
SPOT = (103.8342, 36.0472)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def decode(resp) -> dict:
    assert resp.status_code == 200, resp.data
    return mapbox_vector_tile.decode(resp.data)


def ids_in_tile_bbox(table: str, z: int, x: int, y: int) -> set:
    rows = db.session.execute(text(f"SELECT id FROM {table} WHERE geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326)"),
                              {"z": z, "x": x, "y": y}).scalars()
    return set(rows)


def centres_in_tile(table: str, z: int, x: int, y: int) -> int:
    return db.session.execute(text(f"""
        SELECT count(*) FROM {table}, LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
            (ST_XMin(geom) + ST_XMax(geom)) / 2, (ST_YMin(geom) + ST_YMax(geom)) / 2), 4326), 3857) AS c) p
        WHERE floor((ST_X(c) + 20037508.342789244) / (40075016.68557849 / 2 ^ :z)) = :x
          AND floor((20037508.342789244 - ST_Y(c)) / (40075016.68557849 / 2 ^ :z)) = :y"""),
        {"z": z, "x": x, "y": y}).scalar()


@pytest.fixture
def dense_chargers(app, demo):
    """400 chargers packed around one spot, a feature cap of 50: the plan must raise the detail zoom."""
    db.session.execute(text("""
        INSERT INTO chargers (name, ports, status, geom)
        SELECT 'dense-' || i, 2, 'planned',
               ST_SetSRID(ST_MakePoint(103.8342 + (i % 20) * 0.0004, 36.0472 + (i / 20) * 0.0003), 4326)
        FROM generate_series(0, 399) AS i"""))
    db.session.flush()
    old = app.config["TILE_FEATURE_CAP"]
    app.config["TILE_FEATURE_CAP"] = 50
    tile_plan.forget()
    yield
    app.config["TILE_FEATURE_CAP"] = old
    tile_plan.forget()


class TestNothingIsDropped:
    @pytest.mark.parametrize("dz", [0, 1])
    def test_every_building_in_a_min_zoom_tile_bbox_is_in_the_tile(self, client, auth, demo, dz):
        headers = auth.token("admin")
        tj = client.get("/tiles/buildings.json", headers=headers).get_json()
        detail = tj["wuwei:plan"]["buildings"]["features"][0]
        z, x, y = tile_of(103.785, 36.048, detail + dz)
        tile = decode(client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt", headers=headers))
        expected = ids_in_tile_bbox("buildings", z, x, y)
        assert expected and {f["id"] for f in tile["buildings"]["features"]} >= expected

    def test_dense_layer_gets_a_higher_detail_zoom_and_counts_below_it(self, client, auth, dense_chargers):
        headers = auth.token("admin")
        tj = client.get("/tiles/chargers.json", headers=headers).get_json()
        stated = tj["wuwei:plan"]["chargers"]
        detail = stated["features"][0]
        assert detail > 12 and stated["cells"]["zooms"] == [tj["minzoom"], detail - 1]
        assert "more than 50" in stated["reason"]
        layers = {v["id"]: v for v in tj["vector_layers"]}
        assert layers["chargers"]["minzoom"] == detail and layers["chargers-cells"]["maxzoom"] == detail - 1
        # At the detail zoom: every charger of the tile, however dense.
        z, x, y = tile_of(*SPOT, detail)
        tile = decode(client.get(f"/tiles/chargers/{z}/{x}/{y}.mvt", headers=headers))
        assert {f["id"] for f in tile["chargers"]["features"]} >= ids_in_tile_bbox("chargers", z, x, y)
        assert len(tile["chargers"]["features"]) > 0
        # Below it: counts per cell that add up to every charger whose centre lies in the tile.
        for zc in range(stated["cells"]["zooms"][0], detail):
            z, x, y = tile_of(*SPOT, zc)
            tile = decode(client.get(f"/tiles/chargers/{z}/{x}/{y}.mvt", headers=headers))
            assert "chargers" not in tile
            counts = [f["properties"]["count"] for f in tile["chargers-cells"]["features"]]
            assert sum(counts) == centres_in_tile("chargers", z, x, y) > 0
            if zc <= 12:
                assert sum(counts) >= 400
            assert all(f["geometry"]["type"] == "Point" for f in tile["chargers-cells"]["features"])

    def test_cells_respect_the_users_area(self, client, auth, dense_chargers):
        tj = client.get("/tiles/chargers.json", headers=auth.token("admin")).get_json()
        z, x, y = tile_of(*SPOT, tj["wuwei:plan"]["chargers"]["cells"]["zooms"][0])
        staff = client.get(f"/tiles/chargers/{z}/{x}/{y}.mvt", headers=auth.token("staff"))
        admin = decode(client.get(f"/tiles/chargers/{z}/{x}/{y}.mvt", headers=auth.token("admin")))
        mine = 0 if staff.status_code == 204 else sum(
            f["properties"]["count"] for f in decode(staff).get("chargers-cells", {"features": []})["features"])
        assert mine < sum(f["properties"]["count"] for f in admin["chargers-cells"]["features"])


class TestTileJson:
    def test_per_layer_zooms_bounds_and_plan(self, client, auth, demo):
        headers = auth.token("planner")
        for name, minzoom in (("buildings", 14), ("chargers", 12), ("areas", 0)):
            tj = client.get(f"/tiles/{name}.json", headers=headers).get_json()
            assert tj["minzoom"] == minzoom and tj["maxzoom"] == 16, name
            assert tj["vector_layers"][0]["minzoom"] == minzoom and tj["vector_layers"][0]["maxzoom"] == 16
            assert tj["wuwei:plan"][name]["feature_cap"] is None
            minx, miny, maxx, maxy = tj["bounds"]
            assert 103 < minx < maxx < 105 and 35 < miny < maxy < 37

    def test_combined_tilejson_lists_every_layer(self, client, auth, demo):
        tj = client.get("/tiles/buildings,chargers.json", headers=auth.token("planner")).get_json()
        assert [v["id"] for v in tj["vector_layers"]] == ["buildings", "chargers"]
        assert tj["minzoom"] == 12 and tj["tiles"][0].endswith("/tiles/buildings,chargers/{z}/{x}/{y}.mvt")


class TestCombinedTiles:
    def test_one_tile_carries_several_layers(self, client, auth, demo):
        headers = auth.token("planner")
        z, x, y = tile_of(*SPOT, 15)
        both = decode(client.get(f"/tiles/buildings,chargers/{z}/{x}/{y}.mvt", headers=headers))
        alone = {n: decode(client.get(f"/tiles/{n}/{z}/{x}/{y}.mvt", headers=headers))[n]
                 for n in ("buildings", "chargers")}
        assert set(both) == {"buildings", "chargers"}
        for n in alone:
            assert {f["id"] for f in both[n]["features"]} == {f["id"] for f in alone[n]["features"]}
        # Below the buildings' min zoom only the chargers are drawn.
        z, x, y = tile_of(*SPOT, 12)
        assert set(decode(client.get(f"/tiles/buildings,chargers/{z}/{x}/{y}.mvt", headers=headers))) == {"chargers"}

    @pytest.mark.parametrize("path, status", [
        ("/tiles/buildings,nothing/15/0/0.mvt", 404),
        ("/tiles/buildings,,chargers/15/0/0.mvt", 400),
        ("/tiles/" + ",".join(["chargers"] * 3 + [f"x{i}" for i in range(12)]) + "/1/0/0.mvt", 400),
        ("/tiles/chargers/40/0/0.mvt", 404),
        ("/tiles/chargers/14/16384/0.mvt", 404),
        ("/tiles/chargers/14/0/99999999999999999999.mvt", 404),
    ])
    def test_bad_addresses(self, client, auth, demo, path, status):
        r = client.get(path, headers=auth.token("planner"))
        assert r.status_code == status and r.get_json()["error"]["message"]


class TestEncoding:
    def test_brotli_and_gzip_are_negotiated_with_their_own_etags(self, client, auth, demo):
        headers = auth.token("planner")
        z, x, y = tile_of(103.785, 36.048, 14)
        url = f"/tiles/buildings/{z}/{x}/{y}.mvt"
        plain = client.get(url, headers=headers)
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
        br = client.get(url, headers={**headers, "Accept-Encoding": "gzip, deflate, br"})
        assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == plain.data
        gz = client.get(url, headers={**headers, "Accept-Encoding": "gzip"})
        assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == plain.data
        assert len(gz.data) < len(plain.data) and len(br.data) < len(plain.data)
        etags = {plain.headers["ETag"], br.headers["ETag"], gz.headers["ETag"]}
        assert len(etags) == 3
        assert "Accept-Encoding" in br.headers["Vary"]
        again = client.get(url, headers={**headers, "Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]})
        assert again.status_code == 304 and again.headers["ETag"] == br.headers["ETag"]
        other = client.get(url, headers={**headers, "Accept-Encoding": "gzip", "If-None-Match": br.headers["ETag"]})
        assert other.status_code == 200


class TestStatementCache:
    def test_cached_statements_answer_as_freshly_built_ones(self, app, client, auth, demo):
        """The cache key covers every input but x and y: users (scopes), zooms, layer lists, tiles."""
        from app.auth.models import User
        from app.auth.policy import scope_of
        from app.tiles import services
        from app.tiles.sources import get_source
        combos = [("buildings",), ("chargers",), ("areas",), ("grids", "chargers"), ("buildings", "chargers")]
        for username in ("admin", "planner", "staff", "zjystaff"):
            scope = scope_of(db.session.execute(db.select(User).filter_by(username=username)).scalar_one())
            for names in combos:
                sources = [get_source(n) for n in names]
                for z in (9, 12, 14, 15):
                    for lon, lat in (SPOT, (103.785, 36.048)):
                        _, x, y = tile_of(lon, lat, z)
                        cached = services.render(sources, scope, z, x, y)
                        stmt = services.tile_statement(sources, scope, z, x, y)
                        fresh = b"" if stmt is None else bytes(db.session.execute(stmt).scalar() or b"")
                        assert cached == fresh, (username, names, z, x, y)
