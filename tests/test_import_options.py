"""Import as a planner brings files: a dry run first, the coordinate system and encoding they say,
dates as GDAL and QGIS write them, a column mapping; exports that keep types and RFC 7946 winding;
bad files refused with a clear message and nothing written (checked in the database)."""

import io
import itertools
import json
import os
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import func, select

from app.basemap.models import Charger
from app.core.extensions import db
from gis import coords
from gis.filebase import read_date
from gis.shapefile import dbf_encoding

WGS = (103.8354, 36.0463)  # in Zhangjiayuan (张家园)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Charger))


def upload(client, data: bytes, filename: str, layer="chargers", query="", **form):
    return client.post(
        f"/api/v1/{layer}/import{query}",
        data={"file": (io.BytesIO(data), filename), **form},
        content_type="multipart/form-data",
    )


def csv_file(rows: list[str], header="name,ports,status,installed_on,lon,lat") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def stored(name: str) -> Charger | None:
    return db.session.scalar(select(Charger).where(Charger.name == name))


# --------------------------------------------------------------------------- dry run


def test_a_dry_run_checks_every_row_writes_nothing_and_shows_what_it_would_do(client, auth, demo):
    auth.login("planner")
    before = count()
    data = csv_file(
        [
            f"好桩,8,planned,2024/04/22,{WGS[0]},{WGS[1]}",
            f"坏口数,lots,planned,,{WGS[0]},{WGS[1]}",
            "坏经度,8,planned,,东经103度,36.05",
            "远处,8,planned,,116.39,39.9",
        ]
    )
    r = upload(client, data, "new.csv", query="?dry_run=true")
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["dry_run"] and out["rows"] == 4 and out["valid"] == 1 and out["refused"] == 3
    reasons = {e["row"]: e["message"] for e in out["errors"]}
    assert "ports" in reasons[2] and "lon/lat must be numbers" in reasons[3]
    assert "outside your area" in reasons[4]  # Beijing: found by the database check in the savepoint
    assert {c["name"]: c["field"] for c in out["columns"]}["installed_on"] == "installed_on"
    assert any(f["name"] == "ports" and f["required"] for f in out["fields"])
    drawn = out["preview"]["features"]
    assert len(drawn) == 4 and "_error" in drawn[1]["properties"] and "_error" not in drawn[0]["properties"]
    assert count() == before


def test_a_column_mapping_feeds_fields_from_other_names(client, auth, demo):
    auth.login("planner")
    data = csv_file([f"映射桩,5,planned,{WGS[0]},{WGS[1]}"], header="名称,端口,状态,lon,lat")
    mapping = json.dumps({"名称": "name", "端口": "ports", "状态": "status"})
    dry = upload(client, data, "m.csv", query="?dry_run=1", mapping=mapping).get_json()
    assert dry["valid"] == 1 and dry["mapping"] == {"名称": "name", "端口": "ports", "状态": "status"}
    r = upload(client, data, "m.csv", mapping=mapping)
    assert r.status_code == 201 and stored("映射桩").ports == 5
    bad = upload(client, data, "m.csv", mapping=json.dumps({"名称": "colour"}))
    assert bad.status_code == 422 and "colour" in bad.get_json()["error"]["message"]


# --------------------------------------------------------------------------- coordinates


@pytest.mark.parametrize("system, convert", [("gcj02", coords.wgs84_to_gcj02), ("bd09", coords.wgs84_to_bd09)])
def test_gcj02_and_baidu_coordinates_are_converted_when_the_user_says_so(client, auth, demo, system, convert):
    auth.login("planner")
    lon, lat = convert(*WGS)
    assert abs(lon - WGS[0]) + abs(lat - WGS[1]) > 0.001  # the offset is real (hundreds of metres)
    r = upload(client, csv_file([f"{system}桩,6,planned,,{lon},{lat}"]), "c.csv", crs=system)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["source_crs"] == system
    x, y = db.session.execute(
        select(func.ST_X(Charger.geom), func.ST_Y(Charger.geom)).where(Charger.name == f"{system}桩")
    ).one()
    assert x == pytest.approx(WGS[0], abs=1e-6) and y == pytest.approx(WGS[1], abs=1e-6)


def test_any_epsg_code_through_pyproj_and_an_unknown_one_is_refused(client, auth, demo):
    auth.login("planner")
    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(*WGS)  # CGCS2000 / 3-degree GK CM 105E
    r = upload(client, csv_file([f"高斯桩,6,planned,,{x},{y}"]), "gk.csv", crs="EPSG:4547")
    assert r.status_code == 201, r.get_json()
    gx, gy = db.session.execute(
        select(func.ST_X(Charger.geom), func.ST_Y(Charger.geom)).where(Charger.name == "高斯桩")
    ).one()
    assert gx == pytest.approx(WGS[0], abs=1e-6) and gy == pytest.approx(WGS[1], abs=1e-6)
    before = count()
    r = upload(client, csv_file([f"x,6,planned,,{x},{y}"]), "gk.csv", crs="EPSG:999999")
    assert r.status_code == 422 and "crs" in r.get_json()["error"]["fields"]
    assert count() == before


def test_gcj02_round_trip_is_within_a_centimetre():
    for lon, lat in [(103.8354, 36.0463), (116.397, 39.909), (121.47, 31.23)]:
        back = coords.gcj02_to_wgs84(*coords.wgs84_to_gcj02(lon, lat))
        assert back == pytest.approx((lon, lat), abs=1e-7)
        back = coords.bd09_to_wgs84(*coords.wgs84_to_bd09(lon, lat))
        assert back == pytest.approx((lon, lat), abs=1e-6)
    assert coords.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # outside China: unchanged


# --------------------------------------------------------------------------- dates and encodings


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2024/04/22", "2024-04-22"),
        ("2024-04-22T00:00:00", "2024-04-22"),
        ("2024/4/2 00:00:00", "2024-04-02"),
        ("2024-04-22T00:00:00.000Z", "2024-04-22"),
        ("2024-04-22T10:30:00", "2024-04-22T10:30:00"),
        ("2024/02/30", "2024/02/30"),
    ],
)
def test_dates_as_gdal_and_qgis_write_them(text, iso):
    assert read_date(text) == iso


def test_a_csv_with_qgis_dates_imports_them_as_dates(client, auth, demo):
    auth.login("planner")
    rows = [f"日期甲,6,planned,2024/04/22,{WGS[0]},{WGS[1]}", f"日期乙,6,planned,2024-04-23T00:00:00,{WGS[0]},{WGS[1]}"]
    assert upload(client, csv_file(rows), "d.csv").status_code == 201
    assert str(stored("日期甲").installed_on) == "2024-04-22" and str(stored("日期乙").installed_on) == "2024-04-23"


def _gbk_shapefile_zip(with_cpg: bool) -> bytes:
    gdf = gpd.GeoDataFrame(
        {"name": ["张家园智能充电桩"], "ports": [10], "status": ["planned"]}, geometry=[Point(*WGS)], crs=4326
    )
    with tempfile.TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(gdf, os.path.join(tmp, "gbk.shp"), driver="ESRI Shapefile", encoding="CP936")
        dbf_path = Path(tmp) / "gbk.dbf"
        dbf = bytearray(dbf_path.read_bytes())
        dbf[29] = 0  # no language driver byte, as older Chinese desktop GIS write it
        dbf_path.write_bytes(bytes(dbf))
        if not with_cpg:
            os.remove(os.path.join(tmp, "gbk.cpg"))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name in os.listdir(tmp):
                zf.write(os.path.join(tmp, name), name)
        return buf.getvalue()


def test_a_gbk_shapefile_without_cpg_is_read_as_gbk(client, auth, demo):
    auth.login("planner")
    data = _gbk_shapefile_zip(with_cpg=False)
    dry = upload(client, data, "gbk.zip", query="?dry_run=true").get_json()
    assert dry["encoding"] == "GB18030" and dry["columns"][0]["sample"] == "张家园智能充电桩"
    r = upload(client, data, "gbk.zip")
    assert r.status_code == 201 and stored("张家园智能充电桩") is not None
    # What the user says wins (a wrong choice shows in the preview before anything is written).
    latin = upload(client, data, "gbk.zip", query="?dry_run=true", encoding="latin-1").get_json()
    assert latin["columns"][0]["sample"] != "张家园智能充电桩"
    assert upload(client, data, "gbk.zip", encoding="klingon").status_code == 422


def test_dbf_encoding_check():
    header = bytearray(32)
    header[8:10] = (32).to_bytes(2, "little")
    assert dbf_encoding(bytes(header) + "张家园".encode("gbk"), has_cpg=False) == "GB18030"
    assert dbf_encoding(bytes(header) + "张家园".encode(), has_cpg=False) == "UTF-8"
    assert dbf_encoding(bytes(header) + b"plain", has_cpg=False) is None
    assert dbf_encoding(bytes(header) + "张家园".encode("gbk"), has_cpg=True) is None


def test_a_csv_in_neither_utf8_nor_gb18030_is_refused_clearly(client, auth, demo):
    auth.login("planner")
    before = count()
    r = upload(client, b"name,lon,lat\n\xff\xfe\x00\x81\x30,103.8,36.0\n", "bad.csv")
    assert r.status_code == 422 and "neither UTF-8 nor GB18030" in r.get_json()["error"]["message"]
    assert count() == before


# --------------------------------------------------------------------------- bad files


def test_text_in_the_lon_column_refuses_the_file_naming_the_row(client, auth, demo):
    auth.login("planner")
    before = count()
    r = upload(client, csv_file([f"好,6,planned,,{WGS[0]},{WGS[1]}", "坏,6,planned,,一百零三,36.04"]), "t.csv")
    assert r.status_code == 422
    assert [row["row"] for row in r.get_json()["error"]["rows"]] == [2]
    assert "lon/lat must be numbers" in r.get_json()["error"]["rows"][0]["message"]
    assert count() == before


def test_a_zip_bomb_is_refused_before_it_is_unpacked(client, auth, demo):
    auth.login("planner")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("layer.shp", b"\0" * (120 * 1024 * 1024))
        zf.writestr("layer.shx", b"\0" * 100)
        zf.writestr("layer.dbf", b"\0" * 100)
    before = count()
    r = upload(client, buf.getvalue(), "bomb.zip")
    assert r.status_code == 422 and "unpacks to far more" in r.get_json()["error"]["message"]
    assert count() == before


def test_a_file_over_the_byte_cap_is_413_and_a_broken_one_422(client, app, auth, demo):
    auth.login("planner")
    app.config["WUWEI_IMPORT_MAX_BYTES"], saved = 1000, app.config.get("WUWEI_IMPORT_MAX_BYTES")
    try:
        r = upload(client, b"x" * 2000, "huge.geojson")
        assert r.status_code == 413 and "WUWEI_IMPORT_MAX_BYTES" in r.get_json()["error"]["message"]
    finally:
        app.config["WUWEI_IMPORT_MAX_BYTES"] = saved
    r = upload(client, b'{"type": "FeatureCollection", "features": [', "broken.geojson")
    assert r.status_code == 422 and "JSON" in r.get_json()["error"]["message"]


def test_bow_tie_and_unclosed_rows_are_refused_with_reasons(client, auth, demo):
    auth.login("planner")
    ring = [[103.8352, 36.0462], [103.8356, 36.0465], [103.8356, 36.0462], [103.8352, 36.0465], [103.8352, 36.0462]]
    open_ring = [[103.8352, 36.0462], [103.8356, 36.0462], [103.8356, 36.0465], [103.8352, 36.0465]]
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [r]},
            "properties": {"capacity": 5, "kind": "shared_bike", "status": "planned"},
        }
        for r in (ring, open_ring)
    ]
    before = db.session.scalar(select(func.count()).select_from(db.metadata.tables["bike_zones"]))
    r = upload(
        client, json.dumps({"type": "FeatureCollection", "features": feats}).encode(), "z.geojson", layer="bike-zones"
    )
    assert r.status_code == 422
    assert "feature 2: ring 1 is not closed" in r.get_json()["error"]["message"]
    r = upload(
        client,
        json.dumps({"type": "FeatureCollection", "features": feats[:1]}).encode(),
        "z.geojson",
        layer="bike-zones",
    )
    assert r.status_code == 422
    assert "Self-intersection" in r.get_json()["error"]["rows"][0]["message"]
    assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["bike_zones"])) == before


# --------------------------------------------------------------------------- exports


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_exports_keep_integers_and_dates(client, auth, demo, fmt):
    auth.login("planner")
    data = client.get(f"/api/v1/chargers/export?format={fmt}").data
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x." + ("gpkg" if fmt == "gpkg" else "zip"))
        Path(path).write_bytes(data)
        info = pyogrio.read_info(path if fmt == "gpkg" else f"/vsizip/{path}")
    types = dict(zip(info["fields"], info["dtypes"]))
    assert types["ports"].startswith("int") and types["id"].startswith("int")
    installed = "installed_on" if fmt == "gpkg" else "installed_"
    assert types[installed].startswith("datetime64")  # a Date field, read back as a date


def test_geojson_exports_have_rfc7946_winding(client, auth, demo):
    auth.login("planner")
    doc = json.loads(client.get("/api/v1/compounds/export?format=geojson").data)
    for feature in doc["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            ring = polygon[0]
            area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
            assert area2 > 0
