"""OGC API - Features Parts 2 and 3 and what real clients send: a class per conformance class.

CRS (Part 2), queryables and CQL2 filters (Part 3), sortby/properties/skipGeometry, keyset paging,
the tolerant datetime reader, CORS, and bad input as OGC exceptions.
"""
import json
from urllib.parse import quote, urlsplit

import pytest

ROOT = "/ogcapi"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def local(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


def get(client, path: str, status: int = 200, headers=None):
    r = client.get(path, headers=headers or {})
    assert r.status_code == status, (path, r.data[:500])
    return r


def items(client, name: str, query: str = "", headers=None) -> dict:
    return json.loads(get(client, f"{ROOT}/collections/{name}/items?{query}", headers=headers).data)


def cql(client, name: str, text: str, extra: str = "") -> dict:
    return items(client, name, f"filter={quote(text)}&limit=1000{extra}")


def ids(fc: dict) -> set:
    return {f["id"] for f in fc["features"]}


def link(doc: dict, rel: str):
    return next((li for li in doc["links"] if li["rel"] == rel), None)


class TestCrs:
    """Part 2 conf/crs: crs, bbox-crs, Content-Crs, the collections' crs lists."""

    def test_collections_list_the_offered_crs(self, client, auth, demo):
        auth.login("planner")
        doc = get(client, f"{ROOT}/collections/chargers").get_json()
        assert doc["storageCrs"] == CRS84
        assert {CRS84, EPSG + "4326", EPSG + "3857", EPSG + "4490", EPSG + "4544"} <= set(doc["crs"])

    def test_answers_in_the_asked_crs_with_its_axis_order(self, client, auth, demo):
        auth.login("planner")
        base = items(client, "chargers", "limit=1")
        lon, lat = base["features"][0]["geometry"]["coordinates"]
        fid = base["features"][0]["id"]
        for crs, check in [
            (EPSG + "4326", lambda c: c == pytest.approx([lat, lon], abs=1e-7)),
            (EPSG + "4490", lambda c: c == pytest.approx([lat, lon], abs=1e-5)),
            (EPSG + "3857", lambda c: 1.1e7 < c[0] < 1.2e7 and 4.2e6 < c[1] < 4.4e6),
            # CGCS2000 GK CM 105E: northing ~4.0e6, easting ~394 km (false easting 500 km, west of 105E)
            (EPSG + "4544", lambda c: 3.9e6 < c[0] < 4.1e6 and 3.5e5 < c[1] < 5e5),
        ]:
            r = get(client, f"{ROOT}/collections/chargers/items?limit=1&crs={quote(crs)}")
            assert r.headers["Content-Crs"] == f"<{crs}>"
            assert check(r.get_json()["features"][0]["geometry"]["coordinates"]), crs
            one = get(client, f"{ROOT}/collections/chargers/items/{fid}?crs={quote(crs)}")
            assert one.headers["Content-Crs"] == f"<{crs}>" and check(one.get_json()["geometry"]["coordinates"])
        r = get(client, f"{ROOT}/collections/chargers/items?limit=1")
        assert r.headers["Content-Crs"] == f"<{CRS84}>"

    def test_bbox_crs_reads_the_bbox_in_that_crs(self, client, auth, demo):
        auth.login("planner")
        plain = ids(items(client, "chargers", "bbox=103.83,36.04,103.84,36.05&limit=1000"))
        assert plain
        latlon = ids(items(client, "chargers", f"bbox=36.04,103.83,36.05,103.84&bbox-crs={quote(EPSG + '4326')}"
                                               "&limit=1000"))
        assert latlon == plain
        from pyproj import Transformer
        to_3857 = Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True)
        x1, y1 = to_3857.transform(103.83, 36.04)
        x2, y2 = to_3857.transform(103.84, 36.05)
        merc = ids(items(client, "chargers", f"bbox={x1},{y1},{x2},{y2}&bbox-crs=EPSG:3857&limit=1000"))
        assert merc == plain

    @pytest.mark.parametrize("query", ["crs=EPSG:2000", f"crs={quote(EPSG + '31467')}", "bbox-crs=EPSG:9999&bbox=1,2,3,4",
                                       "bbox=1,2,3,4&bbox-crs=EPSG:4544"])
    def test_crs_not_offered_is_400(self, client, auth, demo, query):
        auth.login("planner")
        r = get(client, f"{ROOT}/collections/chargers/items?{query}", 400)
        assert r.get_json()["code"] == "InvalidParameterValue"


class TestQueryables:
    """Part 3 conf/queryables and conf/queryables-query-parameters."""

    def test_queryables_are_json_schema_of_the_public_properties(self, client, auth, demo):
        auth.login("planner")
        coll = get(client, f"{ROOT}/collections/buildings").get_json()
        href = next(li["href"] for li in coll["links"] if li["rel"].endswith("/queryables"))
        r = get(client, local(href))
        assert r.mimetype == "application/schema+json"
        doc = r.get_json()
        assert doc["$schema"].startswith("https://json-schema.org/draft/2020-12")
        assert doc["type"] == "object" and doc["additionalProperties"] is False
        props = doc["properties"]
        assert {"id", "name", "floors", "households", "geometry"} <= set(props)
        assert "charging_note" not in props and props["floors"]["type"] == "integer"
        assert props["geometry"]["format"] == "geometry-multipolygon"
        chargers = get(client, f"{ROOT}/collections/chargers/queryables").get_json()["properties"]
        assert chargers["installed_on"]["format"] == "date" and "installed" in chargers["status"]["enum"]
        assert get(client, f"{ROOT}/collections/nothing/queryables", 404).get_json()["code"] == "NotFound"

    def test_queryables_need_a_login(self, client, demo):
        assert get(client, f"{ROOT}/collections/chargers/queryables", 401).get_json()["code"] == "NotAuthorized"


class TestFilter:
    """Part 3 conf/filter, conf/features-filter and the CQL2 classes declared."""

    def test_basic_cql2_text_and_json_agree(self, client, auth, demo):
        auth.login("planner")
        text = cql(client, "chargers", "status = 'installed' AND ports >= 4")
        assert text["numberMatched"] > 0
        assert all(f["properties"]["status"] == "installed" and f["properties"]["ports"] >= 4
                   for f in text["features"])
        as_json = {"op": "and", "args": [{"op": "=", "args": [{"property": "status"}, "installed"]},
                                         {"op": ">=", "args": [{"property": "ports"}, 4]}]}
        js = cql(client, "chargers", json.dumps(as_json), "&filter-lang=cql2-json")
        assert ids(js) == ids(text)
        everything = items(client, "chargers", "limit=1000")["numberMatched"]
        assert cql(client, "chargers", "NOT (status = 'installed' AND ports >= 4)")["numberMatched"] + \
            text["numberMatched"] == everything

    def test_advanced_comparison_and_case_insensitive(self, client, auth, demo):
        auth.login("planner")
        like = cql(client, "chargers", "name LIKE '金昌南路%'")
        assert like["numberMatched"] > 0 and all(f["properties"]["name"].startswith("金昌南路") for f in like["features"])
        between = cql(client, "chargers", "ports BETWEEN 2 AND 6")
        assert all(2 <= f["properties"]["ports"] <= 6 for f in between["features"])
        in_ = cql(client, "chargers", "status IN ('planned', 'faulty')")
        assert {f["properties"]["status"] for f in in_["features"]} <= {"planned", "faulty"}
        assert ids(cql(client, "chargers", "CASEI(status) = casei('INSTALLED')")) == \
            ids(cql(client, "chargers", "status = 'installed'"))
        assert cql(client, "chargers", "operator IS NULL OR operator IS NOT NULL")["numberMatched"] == \
            items(client, "chargers", "limit=1000")["numberMatched"]
        # property-property
        assert cql(client, "chargers", "ports = ports")["numberMatched"] > 0

    def test_spatial_functions(self, client, auth, demo):
        auth.login("planner")
        box = "POLYGON((103.83 36.04, 103.84 36.04, 103.84 36.05, 103.83 36.05, 103.83 36.04))"
        inside = cql(client, "chargers", f"S_INTERSECTS(geometry, {box})")
        assert ids(inside) == ids(items(client, "chargers", "bbox=103.83,36.04,103.84,36.05&limit=1000"))
        assert ids(cql(client, "chargers", f"S_WITHIN(geometry, {box})")) == ids(inside)
        assert ids(cql(client, "chargers", "S_INTERSECTS(geometry, BBOX(103.83, 36.04, 103.84, 36.05))")) == ids(inside)
        assert not ids(cql(client, "chargers", f"S_DISJOINT(geometry, {box})")) & ids(inside)
        # filter-crs: the same box in EPSG:4326 (lat, lon)
        latlon = "POLYGON((36.04 103.83, 36.04 103.84, 36.05 103.84, 36.05 103.83, 36.04 103.83))"
        assert ids(cql(client, "chargers", f"S_INTERSECTS(geometry, {latlon})",
                       f"&filter-crs={quote(EPSG + '4326')}")) == ids(inside)

    def test_s_dwithin_is_in_metres(self, client, auth, demo):
        auth.login("planner")
        first = items(client, "chargers", "limit=1")["features"][0]
        lon, lat = first["geometry"]["coordinates"]
        near = cql(client, "chargers", f"S_DWITHIN(geometry, POINT({lon} {lat + 0.0009}), 110, meters)")
        assert first["id"] in ids(near)        # 0.0009° of latitude is ~100 m
        far = cql(client, "chargers", f"S_DWITHIN(geometry, POINT({lon} {lat + 0.0009}), 80, meters)")
        assert first["id"] not in ids(far)
        js = {"op": "s_dwithin", "args": [{"property": "geometry"},
                                          {"type": "Point", "coordinates": [lon, lat + 0.0009]}, 0.11, "kilometers"]}
        assert first["id"] in ids(cql(client, "chargers", json.dumps(js), "&filter-lang=cql2-json"))

    def test_temporal_functions(self, client, auth, demo):
        auth.login("planner")
        day = cql(client, "chargers", "T_EQUALS(installed_on, DATE('2024-04-22'))")
        assert day["numberMatched"] > 0
        assert {f["properties"]["installed_on"] for f in day["features"]} == {"2024-04-22"}
        assert ids(cql(client, "chargers", "T_INTERSECTS(installed_on, INTERVAL('2024-04-22', '2024-04-22'))")) \
            == ids(day)
        assert ids(cql(client, "chargers", "T_AFTER(installed_on, DATE('2024-04-21')) AND "
                                           "T_BEFORE(installed_on, DATE('2024-04-23'))")) == ids(day)
        assert cql(client, "chargers", "T_AFTER(installed_on, TIMESTAMP('2030-01-01T00:00:00Z'))")["numberMatched"] == 0
        assert ids(cql(client, "chargers", "T_DURING(installed_on, INTERVAL('2024-01-01', '..'))")) >= ids(day)
        js = {"op": "t_intersects", "args": [{"property": "installed_on"}, {"interval": ["2024-04-22", ".."]}]}
        assert ids(cql(client, "chargers", json.dumps(js), "&filter-lang=cql2-json")) >= ids(day)

    def test_a_filter_reads_only_what_is_published(self, client, auth, demo):
        auth.login("planner")
        r = client.post("/api/v1/buildings", content_type="application/json", data=json.dumps({
            "type": "Feature", "properties": {"name": "过滤小楼", "households": 3, "charging_note": "王大爷"},
            "geometry": {"type": "MultiPolygon", "coordinates": [[[[103.8352, 36.0462], [103.8354, 36.0462],
                                                                   [103.8354, 36.0464], [103.8352, 36.0464],
                                                                   [103.8352, 36.0462]]]]}}))
        assert r.status_code == 201
        assert cql(client, "buildings", "name = '过滤小楼'")["numberMatched"] == 1
        assert cql(client, "buildings", "name = '过滤小楼' AND households = 3")["numberMatched"] == 0
        r = get(client, f"{ROOT}/collections/buildings/items?filter={quote(chr(34) + 'charging_note' + chr(34) + ' IS NULL')}", 400)
        assert "charging_note" in r.get_json()["description"]

    @pytest.mark.parametrize("text, word", [
        ("colour = 'red'", "colour"),                       # an unknown queryable
        ("ports = 'many'", "compare"),                      # a number compared with text
        ("name > 3", "compare"),
        ("ports LIKE '1%'", "LIKE"),
        ("status = ", "CQL2"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "invalid"),   # a bow tie
        ("S_INTERSECTS(geometry, POINT(500 20))", "outside"),
        ("S_DWITHIN(geometry, POINT(103 36), -5, meters)", "distance"),
        ("S_DWITHIN(geometry, POINT(103 36), 5, parsecs)", "units"),
        ("ports + 1 > 3", "arithmetic"),
        ("ACCENTI(name) = 'a'", "function"),
        ("T_AFTER(status, DATE('2024-01-01'))", "temporal"),
        ("ports = 1" + " OR ports = 1" * 5000, "longer"),
    ])
    def test_bad_filters_are_400_ogc_exceptions(self, client, auth, demo, text, word):
        auth.login("planner")
        r = get(client, f"{ROOT}/collections/chargers/items?filter={quote(text)}", 400)
        body = r.get_json()
        assert body["code"] == "InvalidParameterValue" and word in body["description"], body

    @pytest.mark.parametrize("query", ["filter-lang=cql2-json&filter=%7Bnot%20json",
                                       "filter-lang=ecql&filter=a%3D1", "filter-lang=cql2-text",
                                       "filter-lang=cql2-json&filter=" + quote('{"op": "=", "args": [{"property": "name"}, "\\u0000"]}'),
                                       "filter-lang=cql2-json&filter=" + quote('{"op": "t_after", "args": [1]}'),
                                       "filter-lang=cql2-json&filter=" + quote('[1, 2]')])
    def test_bad_filter_parameters(self, client, auth, demo, query):
        auth.login("planner")
        assert get(client, f"{ROOT}/collections/chargers/items?{query}", 400).get_json()["code"] == \
            "InvalidParameterValue"


class TestResultShaping:
    """sortby, properties, skipGeometry."""

    def test_sortby(self, client, auth, demo):
        auth.login("planner")
        fc = items(client, "chargers", "sortby=-ports,name&limit=1000")
        keys = [(-f["properties"]["ports"], f["properties"]["name"] or "") for f in fc["features"]]
        assert keys == sorted(keys)
        asc = [f["id"] for f in items(client, "chargers", "sortby=%2Bid&limit=1000")["features"]]
        assert asc == sorted(asc)
        assert get(client, f"{ROOT}/collections/chargers/items?sortby=grid_code", 400).get_json()["code"] == \
            "InvalidParameterValue"
        assert get(client, f"{ROOT}/collections/chargers/items?sortby=ports,-ports", 400)

    def test_properties_and_skip_geometry(self, client, auth, demo):
        auth.login("planner")
        fc = items(client, "chargers", "properties=name,status&skipGeometry=true&limit=3")
        assert all(set(f["properties"]) == {"name", "status"} and f["geometry"] is None for f in fc["features"])
        assert items(client, "chargers", "skipGeometry=false&limit=1")["features"][0]["geometry"]["type"] == "Point"
        assert all(f["properties"] == {} for f in items(client, "chargers", "properties=&limit=2")["features"])
        r = get(client, f"{ROOT}/collections/buildings/items?properties=charging_note", 400)
        assert "charging_note" in r.get_json()["description"]


class TestKeysetPaging:
    """next links carry a cursor; pages never overlap, also sorted by a nullable property."""

    @pytest.mark.parametrize("sort", ["", "sortby=-name", "sortby=operator,-ports"])
    def test_following_next_and_prev_visits_every_feature_once(self, client, auth, demo, sort):
        auth.login("planner")
        everything = [f["id"] for f in items(client, "chargers", f"limit=10000&{sort}")["features"]]
        page = items(client, "chargers", f"limit=7&{sort}")
        seen, pages = [], [page]
        while True:
            seen += [f["id"] for f in page["features"]]
            nxt = link(page, "next")
            if not nxt:
                break
            assert "cursor=" in nxt["href"] and "offset=" not in nxt["href"]
            page = get(client, local(nxt["href"])).get_json()
            pages.append(page)
        assert seen == everything
        back = get(client, local(link(pages[-1], "prev")["href"])).get_json()
        assert [f["id"] for f in back["features"]] == [f["id"] for f in pages[-2]["features"]]
        assert link(pages[0], "prev") is None

    def test_offset_still_works_and_next_switches_to_a_cursor(self, client, auth, demo):
        auth.login("planner")
        everything = [f["id"] for f in items(client, "areas", "limit=10000")["features"]]
        page = items(client, "areas", "limit=5&offset=10")
        assert [f["id"] for f in page["features"]] == everything[10:15]
        nxt = get(client, local(link(page, "next")["href"])).get_json()
        assert [f["id"] for f in nxt["features"]] == everything[15:20]
        prev = get(client, local(link(page, "prev")["href"])).get_json()
        assert [f["id"] for f in prev["features"]] == everything[5:10]

    @pytest.mark.parametrize("cursor", ["abc", "eyJrIjpbMV19.bad"])
    def test_a_forged_cursor_is_400(self, client, auth, demo, cursor):
        auth.login("planner")
        assert get(client, f"{ROOT}/collections/areas/items?cursor={cursor}", 400).get_json()["code"] == \
            "InvalidParameterValue"

    def test_a_cursor_of_another_order_is_400(self, client, auth, demo):
        auth.login("planner")
        nxt = link(items(client, "areas", "limit=5"), "next")["href"]
        cursor = nxt.split("cursor=")[1].split("&")[0]
        assert get(client, f"{ROOT}/collections/areas/items?cursor={cursor}&sortby=name", 400)

    def test_pages_after_the_first_run_no_count(self, client, auth, demo, count_queries):
        headers = auth.token("planner")
        nxt = link(items(client, "areas", "limit=5", headers), "next")["href"]
        with count_queries() as deep:
            page = get(client, local(nxt), headers=headers).get_json()
        with count_queries() as first:
            items(client, "areas", "limit=5&sortby=name", headers)
        assert "numberMatched" not in page and deep() == first() - 1


class TestDatetimeAsClientsSendIt:
    @pytest.mark.parametrize("value", ["2024-04-01T/..", "2024-04-01/..", "2024-04-01T00:00/..",
                                       "2024-04-01 00:00:00/..", "2024-04-01T00:00:00/..", "../2030-01-01T"])
    def test_open_intervals_and_dates_without_times(self, client, auth, demo, value):
        auth.login("planner")
        assert items(client, "chargers", f"datetime={quote(value)}&limit=1000")["numberMatched"] > 0

    def test_naive_times_are_local(self, client, auth, demo):
        auth.login("planner")
        # 2024-04-22 00:30 in Shanghai is 2024-04-21T16:30Z: the day is the 22nd locally.
        a = items(client, "chargers", "datetime=2024-04-22T00:30:00&limit=1000")["numberMatched"]
        b = items(client, "chargers", "datetime=2024-04-22&limit=1000")["numberMatched"]
        assert a == b > 0


class TestCors:
    def test_configured_origins_get_cors_headers(self, demo):
        from conftest import database_url, make_test_app
        app = make_test_app(database_url("test"), WUWEI_CORS_ORIGINS="https://gis.example.org")
        client = app.test_client()
        r = client.get(f"{ROOT}/conformance", headers={"Origin": "https://gis.example.org"})
        assert r.headers["Access-Control-Allow-Origin"] == "https://gis.example.org"
        pre = client.options(f"{ROOT}/collections/chargers/items", headers={
            "Origin": "https://gis.example.org", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization"})
        assert pre.status_code == 200 and "authorization" in pre.headers["Access-Control-Allow-Headers"].lower()
        other = client.get(f"{ROOT}/conformance", headers={"Origin": "https://evil.example.com"})
        assert "Access-Control-Allow-Origin" not in other.headers
        with app.app_context():
            from app.core.extensions import db
            db.engine.dispose()

    def test_no_origins_no_cors(self, client):
        r = client.get(f"{ROOT}/conformance", headers={"Origin": "https://gis.example.org"})
        assert "Access-Control-Allow-Origin" not in r.headers
