"""gis.fileio: reading and writing GIS files as plain features, without Flask or a database."""

import io
import json
import zipfile

import pytest

from gis import fileio

POINTS = [
    {
        "id": 1,
        "geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
        "properties": {"name": "充电桩", "ports": 10, "installed_on": "2024-04-22"},
    },
    {
        "id": 2,
        "geometry": {"type": "Point", "coordinates": [103.8390, 36.0497]},
        "properties": {"name": None, "ports": None, "installed_on": None},
    },
]
COLUMNS = ["name", "ports", "installed_on"]


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.geojson", "geojson"),
        ("A.JSON", "geojson"),
        ("x.gpkg", "gpkg"),
        ("x.zip", "shp"),
        ("x.csv", "csv"),
        ("x.kml", "kml"),
    ],
)
def test_format_from_extension(name, fmt):
    assert fileio.detect_format(name) == fmt


def test_unknown_format_names_the_supported_ones():
    with pytest.raises(fileio.UnknownFormatError, match="geojson"):
        fileio.detect_format("x.dwg")
    with pytest.raises(fileio.UnknownFormatError):
        fileio.detect_format("x.csv", "xlsx")
    assert fileio.detect_format("whatever.bin", "GPKG") == "gpkg"


@pytest.mark.parametrize("fmt", fileio.FORMATS)
def test_points_round_trip_with_nulls_and_chinese(fmt):
    data = fileio.write_features(POINTS, fmt, "chargers", COLUMNS, "Point")
    result = fileio.read_features(data, fmt)

    # Shapefiles cut names to 10 characters, KML calls the name "Name": match as the importer does.
    def column(k):
        return next((c for c in COLUMNS if c.lower() in (k.lower(),) or c[:10].lower() == k.lower()), None)

    props = [{column(k): v for k, v in f["properties"].items() if column(k)} for f in result.features]
    if fmt == "csv":  # CSV has no types: numbers come back as text, parsed later by the layer's fields
        props = [{k: (int(v) if k == "ports" and v else v) for k, v in p.items()} for p in props]
    assert props[0] == POINTS[0]["properties"]
    assert all(v is None for v in props[1].values())
    assert [f["geometry"]["coordinates"][:2] for f in result.features] == [[103.8386, 36.0496], [103.8390, 36.0497]]


def test_plain_values_from_pandas():
    import numpy as np
    import pandas as pd

    assert fileio.plain_value(np.float64("nan")) is None
    assert fileio.plain_value(12.0) == 12 and isinstance(fileio.plain_value(12.0), int)
    assert fileio.plain_value(0.8) == 0.8
    assert fileio.plain_value(np.int64(7)) == 7
    assert fileio.plain_value(pd.Timestamp("2024-04-22")) == "2024-04-22"
    assert fileio.plain_value(pd.NaT) is None
    assert fileio.plain_value(np.bool_(True)) is True


def test_csv_with_semicolons_bom_and_lat_lon_names():
    data = "\ufeffname;Longitude;Latitude\n甲;103.1;36.1\n;;\n".encode()
    result = fileio.read_features(data, "csv")
    assert len(result.features) == 1
    assert result.features[0]["geometry"] == {"type": "Point", "coordinates": [103.1, 36.1]}
    assert result.columns == ["name"]


def test_csv_rows_with_bad_numbers_or_cell_counts_carry_an_error():
    data = b"name,lon,lat\na,103.1,36.1\nb,east,36.1\nc,103.1\n"
    rows = fileio.read_features(data, "csv").features
    assert "error" not in rows[0]
    assert "numbers" in rows[1]["error"] and "cells" in rows[2]["error"]
    assert [r["row"] for r in rows] == [1, 2, 3]


def test_csv_with_lon_but_no_lat_is_refused():
    with pytest.raises(fileio.FileFormatError, match="latitude"):
        fileio.read_features(b"name,lon\na,103\n", "csv")


def test_binary_garbage_is_refused_per_format():
    for fmt in fileio.FORMATS:
        with pytest.raises(fileio.FileFormatError):
            fileio.read_features(b"\x00\x01\x02garbage" * 10, fmt)


def test_geojson_in_a_projected_crs_is_reprojected():
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"n": 1},
                "geometry": {"type": "Point", "coordinates": [11559000.0, 4306000.0]},
            }
        ],
    }
    result = fileio.read_features(json.dumps(doc).encode(), "geojson")
    lon, lat = result.features[0]["geometry"]["coordinates"][:2]
    assert 103.8 < lon < 103.9 and 36.0 < lat < 36.1
    assert "3857" in result.source_crs


def test_shapefile_zip_in_a_folder_is_found_and_zip_bombs_are_refused():
    data = fileio.write_features(POINTS, "shp", "chargers", COLUMNS, "Point")
    nested = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(nested, "w") as dst:
        for name in src.namelist():
            dst.writestr("export/2024/" + name, src.read(name))
    assert len(fileio.read_features(nested.getvalue(), "shp").features) == 2
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.shp", b"\x00" * (60 * 1024 * 1024))
    with pytest.raises(fileio.FileFormatError, match="unpacks"):
        fileio.read_features(bomb.getvalue(), "shp")


def test_kml_without_geometry_cannot_be_written():
    with pytest.raises(fileio.UnknownFormatError):
        fileio.write_features(
            [{"id": 1, "properties": {"name": "x"}, "geometry": None}], "kml", "companies", ["name"], None
        )
