"""Writing features (GeoJSON dicts in EPSG:4326) as GIS files, with the attributes' types kept.

A column's kind (``int``, ``float``, ``date``, ``datetime``, ``bool``, text otherwise) comes from the
layer's fields: integers are written as integer fields and dates as date fields in a GeoPackage or
Shapefile, even when a column holds empty values (which pandas alone would turn into floats or text).
Polygons are written with RFC 7946 winding (exterior counter-clockwise, holes clockwise); the
Shapefile driver turns them the way its own specification wants.
"""

import datetime as dt
import io
import json
import os
import tempfile
import warnings
import zipfile

import pandas as pd

from gis import csvfile
from gis.filebase import FileFormatError, UnknownFormatError, short

FORMATS = {
    # name: (extension of the file written, media type, GDAL driver)
    "geojson": (".geojson", "application/geo+json", "GeoJSON"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3", "GPKG"),
    "shp": (".zip", "application/zip", "ESRI Shapefile"),
    "csv": (".csv", "text/csv", None),
    "kml": (".kml", "application/vnd.google-earth.kml+xml", "LIBKML"),
}


def write_features(
    features: list[dict],
    fmt: str,
    layer_name: str,
    columns: list[str],
    geometry_type: str | None,
    kinds: dict[str, str] | None = None,
) -> bytes:
    """A file in ``fmt`` holding ``features`` with ``columns`` in order; ``kinds`` maps a column to
    its type (``int``, ``float``, ``date``, ``datetime``, ``bool``; text when not named)."""
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if fmt == "geojson":
        doc = {
            "type": "FeatureCollection",
            "name": layer_name,
            "features": [
                {
                    "type": "Feature",
                    "id": f.get("id"),
                    "geometry": _wound(f.get("geometry")),
                    "properties": {c: (f.get("properties") or {}).get(c) for c in columns},
                }
                for f in features
            ],
        }
        return json.dumps(doc, ensure_ascii=False).encode()
    if fmt == "csv":
        return csvfile.write_csv(features, columns, geometry_type)
    return _write_gdal(features, fmt, layer_name, columns, geometry_type, kinds or {})


def _wound(geometry: dict | None) -> dict | None:
    """A GeoJSON polygon geometry with RFC 7946 winding (others unchanged)."""
    if not geometry or "Polygon" not in geometry.get("type", ""):
        return geometry
    import shapely
    from shapely.geometry import mapping, shape

    return json.loads(json.dumps(mapping(shapely.orient_polygons(shape(geometry), exterior_cw=False))))


def _column(values: list, kind: str | None):
    """A pandas column of ``kind`` holding ``values`` (None where empty)."""
    import pyarrow as pa

    if kind in ("int", "ref"):
        return pd.array(values, dtype="Int32")
    if kind == "id":
        return pd.array(values, dtype="Int64")
    if kind == "float":
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    if kind == "bool":
        return pd.array(values, dtype="boolean")
    if kind == "date":
        days = [None if v is None else dt.date.fromisoformat(str(v)[:10]) for v in values]
        return pd.array(days, dtype=pd.ArrowDtype(pa.date32()))
    if kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype="object"), utc=True, format="ISO8601")
    if kind in ("str", "text", "enum") or all(v is None for v in values):
        return pd.array([None if v is None else str(v) for v in values], dtype="string")
    return pd.Series(values).infer_objects()  # not declared: as pandas reads the values


def _write_gdal(features, fmt, layer_name, columns, geometry_type, kinds) -> bytes:
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import shape

    ext, _, driver = FORMATS[fmt]
    frame = pd.DataFrame({"id": _column([f.get("id") for f in features], "id")})
    for c in columns:
        frame[c] = _column([(f.get("properties") or {}).get(c) for f in features], kinds.get(c))
    if geometry_type:
        geoms = [shape(_wound(f["geometry"])) if f.get("geometry") else None for f in features]
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    elif fmt in ("kml",):
        raise UnknownFormatError(f"{fmt} cannot hold a layer without geometry; use csv, geojson or gpkg")
    with tempfile.TemporaryDirectory(prefix="wuwei-write-") as tmp:
        stem = layer_name.replace("-", "_")
        path = os.path.join(tmp, stem + (".shp" if fmt == "shp" else ext))
        kwargs = {"layer_options": {"ENCODING": "UTF-8"}} if fmt == "shp" else {}
        if geometry_type:
            kwargs["geometry_type"] = geometry_type
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # shapefile field-name laundering
            try:
                # Through Arrow: a date column becomes a Date field, an Int32 column an Integer field.
                pyogrio.write_dataframe(frame, path, driver=driver, layer=stem, use_arrow=True, **kwargs)
            except Exception as e:  # noqa: BLE001 (GDAL drivers raise several types)
                raise FileFormatError(f"cannot write {fmt}: {short(e)}") from None
        if fmt != "shp":
            with open(path, "rb") as fh:
                return fh.read()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(os.listdir(tmp)):
                zf.write(os.path.join(tmp, name), name)
        return buf.getvalue()
