"""OGC API - Features Part 1: a test class per conformance class, access, and real clients.

OWSLib and GDAL's ``ogrinfo`` talk to a live server on the test database; the GDAL test
is skipped when ``gdal-bin`` is not installed (scripts/bootstrap.sh installs it).
"""

import json
import os
import shutil
import subprocess
import threading
from urllib.parse import urlsplit

import pytest
from conftest import database_url, make_test_app, remote_references

ROOT = "/ogcapi"
CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
GDAL_ACCEPT = "application/geo+json, application/json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def rel(doc: dict, name: str, type_: str | None = None) -> dict:
    return next(link for link in doc["links"] if link["rel"] == name and (type_ is None or link["type"] == type_))


def local(href: str) -> str:
    """The path and query of an absolute link, for the test client."""
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


def items(client, name: str, query: str = "", headers=None) -> dict:
    r = client.get(f"{ROOT}/collections/{name}/items{'?' + query if query else ''}", headers=headers or {})
    assert r.status_code == 200, r.data
    return r.get_json()


class TestCore:
    """conf/core: landing page, conformance, collections, items, paging, parameters, exceptions."""

    def test_landing_page_links_the_api_conformance_and_data(self, client):
        r = client.get(ROOT)
        assert r.status_code == 200 and r.mimetype == "application/json"
        doc = r.get_json()
        assert rel(doc, "self")["href"].startswith("http://")
        assert rel(doc, "service-desc")["type"] == "application/vnd.oai.openapi+json;version=3.0"
        assert local(rel(doc, "conformance")["href"]) == f"{ROOT}/conformance"
        assert local(rel(doc, "data")["href"]) == f"{ROOT}/collections"

    def test_conformance_lists_part_1_and_the_classes_of_parts_2_and_3(self, client):
        doc = client.get(f"{ROOT}/conformance").get_json()
        part1 = {CONF + c for c in ("core", "geojson", "oas30", "html")}
        assert part1 <= set(doc["conformsTo"])
        assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in doc["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in doc["conformsTo"]
        assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in doc["conformsTo"]

    def test_collections_have_id_title_extent_and_item_type(self, client, auth, demo):
        auth.login("planner")
        doc = client.get(f"{ROOT}/collections").get_json()
        ids = [c["id"] for c in doc["collections"]]
        assert ids == ["areas", "grids", "compounds", "buildings", "chargers", "bike-zones"]
        chargers = next(c for c in doc["collections"] if c["id"] == "chargers")
        assert chargers["itemType"] == "feature" and chargers["title"] == "充电桩"
        minx, miny, maxx, maxy = chargers["extent"]["spatial"]["bbox"][0]
        assert 103.83 < minx <= maxx < 103.85 and 36.04 < miny <= maxy < 36.06
        start, end = chargers["extent"]["temporal"]["interval"][0]
        assert start.startswith("2024-") and "T" in start and end >= start
        assert local(rel(chargers, "items", "application/geo+json")["href"]).startswith(
            f"{ROOT}/collections/chargers/items"
        )

    def test_one_collection_and_unknown_collections(self, client, auth, demo):
        auth.login("planner")
        doc = client.get(f"{ROOT}/collections/buildings").get_json()
        assert doc["id"] == "buildings" and doc["itemType"] == "feature"
        for name in ("nothing", "property-companies"):
            r = client.get(f"{ROOT}/collections/{name}")
            assert r.status_code == 404
            assert r.get_json()["code"] == "NotFound" and name in r.get_json()["description"]

    def test_items_default_to_100_and_clamp_large_limits(self, client, auth, demo):
        auth.login("planner")
        first = items(client, "areas")
        assert first["numberReturned"] == min(100, first["numberMatched"])
        big = items(client, "areas", "limit=50000")
        assert big["numberReturned"] == big["numberMatched"] == len(big["features"])
        assert not [link for link in big["links"] if link["rel"] == "next"]

    def test_paging_follows_next_and_prev_links_without_overlap(self, client, auth, demo):
        auth.login("planner")
        page1 = items(client, "areas", "limit=20")
        assert page1["numberReturned"] == 20 and page1["numberMatched"] > 40
        page2 = client.get(local(rel(page1, "next")["href"])).get_json()
        assert page2["numberReturned"] == 20
        assert not {f["id"] for f in page1["features"]} & {f["id"] for f in page2["features"]}
        back = client.get(local(rel(page2, "prev")["href"])).get_json()
        assert [f["id"] for f in back["features"]] == [f["id"] for f in page1["features"]]
        seen, page = [], page1
        while True:
            seen += [f["id"] for f in page["features"]]
            nxt = [link for link in page["links"] if link["rel"] == "next"]
            if not nxt:
                break
            page = client.get(local(nxt[0]["href"])).get_json()
        assert len(seen) == len(set(seen)) == page1["numberMatched"]

    def test_later_pages_skip_the_count_and_queries_do_not_grow_with_the_page(self, client, auth, demo, count_queries):
        headers = auth.token("planner")
        page2 = items(client, "areas", "limit=20&offset=20", headers)
        assert "numberMatched" not in page2 and page2["numberReturned"] == 20
        total = items(client, "areas", "limit=20", headers)["numberMatched"]
        last = items(client, "areas", f"limit=20&offset={total - 5}", headers)
        assert last["numberReturned"] == 5 and last["numberMatched"] == total  # the page shows the end
        with count_queries() as small:
            items(client, "buildings", "limit=2", headers)
        with count_queries() as large:
            items(client, "buildings", "limit=40", headers)
        assert small() == large()

    def test_bbox_limits_items_to_the_box(self, client, auth, demo):
        auth.login("planner")
        everything = items(client, "compounds", "limit=1000")["numberMatched"]
        hualinshan = items(client, "compounds", "bbox=103.779,36.043,103.791,36.053")
        assert 0 < hualinshan["numberMatched"] < everything
        assert {f["properties"]["name"] for f in hualinshan["features"]} == {"三兆家园", "邮电巷小区"}
        # Six numbers (with heights) are accepted; the heights are ignored.
        assert (
            items(client, "compounds", "bbox=103.779,36.043,0,103.791,36.053,100")["numberMatched"]
            == hualinshan["numberMatched"]
        )

    def test_datetime_filters_the_time_column(self, client, auth, demo):
        auth.login("planner")
        every = items(client, "chargers", "limit=1000")["numberMatched"]
        installed = items(client, "chargers", "datetime=2024-04-22")
        assert installed["numberMatched"] > 0
        assert {f["properties"]["installed_on"] for f in installed["features"]} == {"2024-04-22"}
        assert (
            items(client, "chargers", "datetime=2024-04-22T10:00:00%2B08:00")["numberMatched"]
            == installed["numberMatched"]
        )
        assert items(client, "chargers", "datetime=2025-01-01/..")["numberMatched"] == 0
        assert items(client, "chargers", "datetime=../2024-04-22")["numberMatched"] == installed["numberMatched"]
        assert (
            items(client, "chargers", "datetime=2024-01-01T00:00:00Z/2024-12-31T00:00:00Z")["numberMatched"]
            == installed["numberMatched"]
            <= every
        )
        # Collections without a time property ignore it.
        assert items(client, "compounds", "datetime=1999-01-01")["numberMatched"] > 0

    def test_property_filters(self, client, auth, demo):
        auth.login("planner")
        planned = items(client, "chargers", "status=planned,faulty&limit=1000")
        assert all(f["properties"]["status"] in ("planned", "faulty") for f in planned["features"])
        installed = items(client, "chargers", "status=installed&limit=1000")
        assert installed["numberMatched"] == 25
        grids = items(client, "areas", "level=grid&limit=1000")
        assert grids["numberMatched"] > 0 and {f["properties"]["level"] for f in grids["features"]} == {"grid"}

    @pytest.mark.parametrize(
        "query, word",
        [
            ("limit=0", "limit"),
            ("limit=ten", "limit"),
            ("limit=-5", "limit"),
            ("bbox=1,2,3", "bbox"),
            ("bbox=a,b,c,d", "bbox"),
            ("bbox=10,50,20,40", "bbox"),
            ("bbox=0,0,200,10", "bbox"),
            ("bbox=nan,0,1,1", "bbox"),
            ("datetime=yesterday", "datetime"),
            ("datetime=2024-13-01", "datetime"),
            ("datetime=2024-05-01/2024-04-01", "datetime"),
            ("datetime=a/b/c", "datetime"),
            ("datetime=9999-12-31T23:59:59-12:00", "datetime"),
            ("datetime=0001-01-01T00:00:00%2B14:00/..", "datetime"),
            ("offset=-1", "offset"),
            ("status=broken", "status"),
            ("colour=red", "colour"),
            ("f=xml", "f"),
        ],
    )
    def test_bad_parameters_are_400_ogc_exceptions(self, client, auth, demo, query, word):
        auth.login("planner")
        r = client.get(f"{ROOT}/collections/chargers/items?{query}")
        assert r.status_code == 400 and r.mimetype == "application/json"
        body = r.get_json()
        assert body["code"] == "InvalidParameterValue" and word in body["description"]

    def test_one_feature_and_missing_features(self, client, auth, demo):
        auth.login("planner")
        first = items(client, "chargers", "limit=1")["features"][0]
        r = client.get(f"{ROOT}/collections/chargers/items/{first['id']}")
        assert r.status_code == 200 and r.mimetype == "application/geo+json"
        feature = r.get_json()
        assert feature["id"] == first["id"] and feature["properties"] == first["properties"]
        assert local(rel(feature, "collection")["href"]).startswith(f"{ROOT}/collections/chargers")
        for fid in ("99999999", "abc", "1.5", "-1"):
            r = client.get(f"{ROOT}/collections/chargers/items/{fid}")
            assert r.status_code == 404 and r.get_json()["code"] == "NotFound"


class TestGeoJSON:
    """conf/geojson: GeoJSON is the default and what GDAL's Accept gets."""

    @pytest.mark.parametrize("accept", [None, GDAL_ACCEPT, "application/json", "*/*"])
    def test_items_are_geojson_for_clients(self, client, auth, demo, accept):
        headers = {"Accept": accept} if accept else {}
        r = client.get(f"{ROOT}/collections/buildings/items?limit=5", headers={**auth.token("planner"), **headers})
        assert r.status_code == 200 and r.mimetype == "application/geo+json"
        fc = json.loads(r.data)
        assert fc["type"] == "FeatureCollection" and fc["numberReturned"] == len(fc["features"]) == 5
        assert all(f["type"] == "Feature" and f["geometry"]["type"] == "MultiPolygon" for f in fc["features"])
        lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0][0]
        assert 103.7 < lon < 104 and 36 < lat < 36.2
        assert rel(fc, "self")["type"] == "application/geo+json"

    def test_json_is_the_default_for_metadata(self, client, auth, demo):
        auth.login("planner")
        for path in (ROOT, f"{ROOT}/conformance", f"{ROOT}/collections", f"{ROOT}/collections/areas"):
            r = client.get(path, headers={"Accept": GDAL_ACCEPT})
            assert r.status_code == 200 and r.mimetype == "application/json", path


class TestOAS30:
    """conf/oas30: the API definition."""

    def test_api_is_openapi_3_with_every_collection(self, client):
        r = client.get(f"{ROOT}/api")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
        doc = json.loads(r.data)
        assert doc["openapi"].startswith("3.0")
        assert doc["servers"][0]["url"].endswith("/ogcapi")
        for path in (
            "/",
            "/conformance",
            "/collections",
            "/collections/chargers/items",
            "/collections/buildings/items/{featureId}",
        ):
            assert path in doc["paths"], path
        names = {p["name"] for p in doc["paths"]["/collections/chargers/items"]["get"]["parameters"]}
        assert {"limit", "bbox", "datetime", "status", "f"} <= names

    def test_api_document_is_valid_openapi_3_0(self, client):
        from openapi_spec_validator import validate

        doc = json.loads(client.get(f"{ROOT}/api").data)
        validate(doc)  # raises on the first error
        assert "null" not in json.dumps(doc)  # OpenAPI 3.0 has no null type

    def test_api_document_comes_from_the_declarations(self, client):
        from app.basemap.public import get_public_layer
        from app.ogcapi.filters import items_query
        from app.ogcapi.params import ItemsQuery

        doc = json.loads(client.get(f"{ROOT}/api").data)
        operations = [op for item in doc["paths"].values() for op in item.values()]
        assert len({op["operationId"] for op in operations}) == len(operations)
        assert doc["paths"]["/"]["get"]["security"] == [] and "security" not in doc["paths"]["/collections"]["get"]
        for name in ("areas", "grids", "compounds", "buildings", "chargers", "bike-zones"):
            params = {p["name"]: p for p in doc["paths"][f"/collections/{name}/items"]["get"]["parameters"]}
            model = items_query(get_public_layer(name))
            assert set(params) == {f.alias or n for n, f in model.model_fields.items()}, name
            for filter_ in model.model_fields.keys() - ItemsQuery.model_fields.keys():
                assert params[filter_]["explode"] is False and params[filter_]["schema"]["type"] == "array"
            assert (
                params["limit"]["schema"] | {"minimum": 1, "maximum": 10000, "default": 100}
                == params["limit"]["schema"]
            )
            assert params["bbox"]["style"] == "form" and params["bbox"]["explode"] is False
            feature = doc["paths"][f"/collections/{name}/items/{{featureId}}"]["get"]
            assert feature["parameters"][0]["schema"]["type"] == "integer"
        chargers = {p["name"]: p for p in doc["paths"]["/collections/chargers/items"]["get"]["parameters"]}
        assert chargers["status"]["schema"]["items"]["enum"] == ["planned", "installed", "faulty", "removed"]
        areas = {p["name"] for p in doc["paths"]["/collections/areas/items"]["get"]["parameters"]}
        assert "level" in areas and "status" not in areas

    def test_the_generic_routes_are_in_the_apps_own_document(self, client):
        paths = client.get("/api/v1/openapi.json").get_json()["paths"]
        for path in (
            "/ogcapi/",
            "/ogcapi/conformance",
            "/ogcapi/api",
            "/ogcapi/collections",
            "/ogcapi/collections/{collectionId}",
            "/ogcapi/collections/{collectionId}/items",
            "/ogcapi/collections/{collectionId}/items/{featureId}",
        ):
            assert path in paths, path
        assert "/ogcapi/collections/chargers/items" not in paths


class TestHTML:
    """conf/html: pages for browsers, by ?f=html or Accept."""

    def test_browser_gets_html_pages(self, client, auth, demo):
        auth.login("planner")
        r = client.get(f"{ROOT}/collections/chargers/items?limit=3", headers={"Accept": BROWSER_ACCEPT})
        assert r.status_code == 200 and r.mimetype == "text/html"
        assert "金昌南路大院子充电桩01" in r.get_data(as_text=True)
        for path in (
            ROOT,
            f"{ROOT}/conformance",
            f"{ROOT}/collections",
            f"{ROOT}/collections/chargers",
            f"{ROOT}/collections/chargers/items/1",
            f"{ROOT}/api",
        ):
            r = client.get(path + "?f=html")
            assert r.status_code == 200 and r.mimetype == "text/html", path
        assert "charging_note" not in client.get(f"{ROOT}/collections/buildings/items?f=html").get_data(as_text=True)

    def test_items_page_has_a_map_that_loads_the_items_by_url(self, client, auth, demo):
        auth.login("planner")
        html = client.get(f"{ROOT}/collections/chargers/items?f=html&limit=3").get_data(as_text=True)
        assert "/ogcapi/collections/chargers/items?f=json" in html
        assert "/static/vendor/leaflet" in html and remote_references(html) == []
        # The table shows this page's three features; the map fetches its own by bbox.
        assert html.count("金昌南路大院子充电桩0") == 3

    def test_f_json_wins_over_a_browser_accept(self, client, auth, demo):
        auth.login("planner")
        r = client.get(f"{ROOT}/collections/chargers/items?f=json", headers={"Accept": BROWSER_ACCEPT})
        assert r.mimetype == "application/geo+json"

    def test_english_pages(self, client, auth, demo):
        auth.login("planner")
        text = client.get(f"{ROOT}/collections?f=html&lang=en").get_data(as_text=True)
        assert "Collections" in text

    def test_browser_without_session_is_sent_to_login(self, client, demo):
        r = client.get(f"{ROOT}/collections?f=html")
        assert r.status_code == 302 and "/login" in r.headers["Location"]


class TestAccess:
    """Data needs a login, is limited to the user's area and never carries personal data."""

    def test_data_needs_login_but_description_is_public(self, client, demo):
        for path in (ROOT, f"{ROOT}/conformance", f"{ROOT}/api"):
            assert client.get(path).status_code == 200
        r = client.get(f"{ROOT}/collections/chargers/items")
        assert r.status_code == 401 and r.get_json()["code"] == "NotAuthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get(f"{ROOT}/collections", headers={"Authorization": "Bearer wrong"}).status_code == 401

    def test_users_see_only_their_area(self, client, auth, demo):
        staff = auth.token("staff")  # Hualinshan community
        fc = items(client, "chargers", headers=staff)
        assert fc["numberMatched"] == 0
        compounds = items(client, "compounds", headers=staff)
        assert {f["properties"]["name"] for f in compounds["features"]} == {"三兆家园", "邮电巷小区"}
        areas = items(client, "areas", "limit=1000", headers=staff)["features"]
        assert not any(f["properties"]["code"].startswith("620102") for f in areas)
        charger = items(client, "chargers", "limit=1", headers=auth.token("planner"))["features"][0]
        r = client.get(f"{ROOT}/collections/chargers/items/{charger['id']}", headers=staff)
        assert r.status_code == 404
        bbox = client.get(f"{ROOT}/collections/compounds", headers=staff).get_json()["extent"]["spatial"]["bbox"][0]
        assert 103.77 < bbox[0] and bbox[2] < 103.80

    def test_no_personal_properties(self, client, auth, demo):
        auth.login("planner")
        r = client.post(
            "/api/v1/buildings",
            content_type="application/json",
            data=json.dumps(
                {
                    "type": "Feature",
                    "properties": {
                        "name": "测试小楼",
                        "households": 3,
                        "ebikes": 7,
                        "charging_note": "二楼王大爷在楼道充电",
                    },
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [103.8352, 36.0462],
                                    [103.8354, 36.0462],
                                    [103.8354, 36.0464],
                                    [103.8352, 36.0464],
                                    [103.8352, 36.0462],
                                ]
                            ]
                        ],
                    },
                }
            ),
        )
        assert r.status_code == 201
        fid = r.get_json()["id"]
        mine = client.get(f"{ROOT}/collections/buildings/items/{fid}").get_json()["properties"]
        assert mine["name"] == "测试小楼" and mine["households"] is None and mine["ebikes"] == 7
        assert "charging_note" not in mine
        for name in ("areas", "grids"):
            for f in items(client, name, "limit=1000")["features"]:
                assert "workers" not in f["properties"]
        assert "二楼王大爷" not in client.get(f"{ROOT}/collections/buildings/items?limit=10000").get_data(as_text=True)


# ---------------------------------------------------------------- real clients on a live server


@pytest.fixture(scope="module")
def live(app):
    """A threaded server on the (committed) demo data of the test database, and a bearer token."""
    from werkzeug.serving import make_server

    from app.auth.models import ApiToken
    from app.auth.services import create_token
    from app.core.extensions import db

    live_app = make_test_app(database_url("test"))
    with live_app.app_context():
        row, token = create_token("planner", "ogc-live-test")
        token_id = row.id
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()
    with live_app.app_context():
        db.session.execute(db.delete(ApiToken).where(ApiToken.id == token_id))
        db.session.commit()
        db.engine.dispose()


@pytest.mark.no_transaction
def test_owslib_reads_collections_and_items(live):
    from owslib.ogcapi.features import Features

    base, token = live
    w = Features(f"{base}/ogcapi/", headers={"Authorization": f"Bearer {token}"})
    assert f"{CONF}geojson" in w.conformance()["conformsTo"]
    # feature_collections() keeps the collections whose itemType is "feature".
    assert w.feature_collections() == ["areas", "grids", "compounds", "buildings", "chargers", "bike-zones"]
    assert w.collection("chargers")["itemType"] == "feature"
    fc = w.collection_items("chargers", limit=5, bbox=[103.83, 36.04, 103.84, 36.05])
    assert fc["numberReturned"] == 5 and fc["numberMatched"] >= 5
    assert w.api()["openapi"].startswith("3.0")


def _ogrinfo(base: str, token: str, options: list[str], layer: str | None = None, debug: bool = False) -> str:
    env = {
        **os.environ,
        "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}",
        "CPL_DEBUG": "ON" if debug else "OFF",
        "GDAL_HTTP_TIMEOUT": "30",
    }
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        env.pop(proxy, None)
    p = subprocess.run(
        ["ogrinfo", "-ro", *options, f"OAPIF:{base}/ogcapi"] + ([layer] if layer else []),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout + (p.stderr if debug else "")


def _count(sql: str) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url("test"))
    with engine.connect() as conn:
        n = conn.execute(sqlalchemy.text(sql)).scalar()
    engine.dispose()
    return n


@pytest.mark.no_transaction
@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) is not installed")
def test_gdal_ogrinfo_lists_layers_and_pages_through_features(live):
    base, token = live
    listing = _ogrinfo(base, token, ["-q"])
    for name in ("areas", "buildings", "chargers", "bike-zones"):
        assert f": {name} (" in listing
    summary = _ogrinfo(base, token, ["-so"], "chargers")
    assert "Geometry: Point" in summary and "status: String" in summary
    assert f"Feature Count: {_count('SELECT count(*) FROM chargers')}" in summary
    # A page size of 10 makes GDAL follow the next links through all demo areas.
    paged = _ogrinfo(base, token, ["-q", "-oo", "PAGE_SIZE=10"], "areas")
    assert paged.count("OGRFeature(areas)") == _count("SELECT count(*) FROM areas")
    assert "workers" not in paged
    # GDAL sends an attribute filter to the server when /ogcapi/api lists it on the collection's items path.
    planned = _ogrinfo(base, token, ["-q", "-where", "status = 'planned'"], "chargers", debug=True)
    assert "/collections/chargers/items?" in planned and "status=planned" in planned
    assert planned.count("OGRFeature(chargers)") == _count("SELECT count(*) FROM chargers WHERE status = 'planned'")
