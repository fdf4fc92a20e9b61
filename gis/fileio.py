"""Reading and writing GIS files: GeoJSON, GeoPackage, Shapefile (zip), CSV with lon/lat, KML.

Pure functions over bytes: :func:`read_features` turns a file into GeoJSON-like
features in EPSG:4326 (reprojecting when the file declares another CRS), and
:func:`write_features` turns features into a file. GDAL does the format work
(pyogrio/geopandas); CSV by :mod:`gis.csvfile`. :class:`Limits` caps what a file may hold
(:mod:`gis.filebase`). Nothing here validates the attributes or geometry for a
layer: callers pass each feature through the same parsing as the layer API.
"""

import datetime as dt
import io
import json
import math
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable

import numpy as np
import pandas as pd

from gis import csvfile
from gis.filebase import (
    NO_LIMITS,
    FileFormatError,
    LimitExceededError,
    Limits,
    ReadResult,
    UnknownFormatError,
    check_vertices,
    short,
    to_geojson,
)

FORMATS = {
    # name: (extension of the file written, media type, GDAL driver)
    "geojson": (".geojson", "application/geo+json", "GeoJSON"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3", "GPKG"),
    "shp": (".zip", "application/zip", "ESRI Shapefile"),
    "csv": (".csv", "text/csv", None),
    "kml": (".kml", "application/vnd.google-earth.kml+xml", "LIBKML"),
}
EXTENSIONS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shp",
    ".shz": "shp",
    ".csv": "csv",
    ".kml": "kml",
}
# KML's own Placemark fields: rendering hints are always dropped, the others when a file leaves them empty.
KML_RENDERING = ("tessellate", "extrude", "visibility", "drawOrder", "altitudeMode", "icon")
KML_STANDARD = ("Name", "Description", "description", "timestamp", "begin", "end", "snippet", "id")
# A zip may not unpack to more than this many times its own size (zip bombs).
MAX_ZIP_RATIO = 50
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def detect_format(filename: str | None, requested: str | None = None) -> str:
    """The format named by ``requested`` or by the file's extension."""
    if requested:
        fmt = requested.lower().strip(".")
        if fmt in FORMATS:
            return fmt
        raise UnknownFormatError(f"unknown format {requested!r}; one of {', '.join(FORMATS)}")
    ext = os.path.splitext(filename or "")[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    raise UnknownFormatError(
        f"cannot tell the format of {filename or 'the file'!r} from its extension; "
        f"use one of {', '.join(sorted(EXTENSIONS))} or say format=" + "|".join(FORMATS)
    )


# --- counting ----------------------------------------------------------------------------------------


def count_features(data: bytes, fmt: str, limit: int | None = None) -> int:
    """How many features the file holds, without reading attributes or geometries (GDAL counts them;
    a CSV's rows are counted, stopping past ``limit``). :class:`LimitExceededError` above ``limit``."""
    limits = Limits(features=limit)
    if fmt == "csv":
        n = csvfile.count_csv(data, limit)
    else:
        n = _with_gdal_path(data, fmt, _count_gdal)
    limits.check_features(n, exact=fmt != "csv")  # a CSV is counted only up to the cap
    return n


def _count_gdal(path: str, fmt: str) -> int:
    import pyogrio

    try:
        names = [name for name, _ in pyogrio.list_layers(path)]
        return sum(
            pyogrio.read_info(path, layer=name, force_feature_count=True)["features"]
            for name in (names if fmt == "kml" else names[:1])
        )
    except (RuntimeError, OSError) as e:  # pyogrio's DataSourceError, DataLayerError, … are RuntimeErrors
        if fmt == "geojson":
            _check_geojson_bytes(path)  # the clearer message for the common GeoJSON mistakes
        raise FileFormatError(f"cannot read the file as {fmt}: {short(e)}") from None


def _check_geojson_bytes(path: str) -> None:
    with open(path, "rb") as fh:
        _check_geojson(fh.read())


# --- reading -----------------------------------------------------------------------------------------


def read_features(data: bytes, fmt: str, limits: Limits = NO_LIMITS) -> ReadResult:
    """Features of a file in ``fmt``, with geometries as GeoJSON dicts in EPSG:4326 (lon, lat).

    :class:`LimitExceededError` as soon as the file passes one of ``limits``.
    """
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if not data:
        raise FileFormatError("the file is empty")
    if fmt == "csv":
        return csvfile.read_csv(data, limits)
    if fmt == "geojson":
        _check_geojson(data)
    return _with_gdal_path(data, fmt, lambda path, fmt: _read_gdal(path, fmt, limits))


def _with_gdal_path(data: bytes, fmt: str, read: Callable[[str, str], object]):
    """``read(path, fmt)`` on the file written to a temporary directory (a Shapefile unpacked from its zip)."""
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if not data:
        raise FileFormatError("the file is empty")
    if fmt == "shp":
        return _read_shapefile_zip(data, read)
    if fmt == "gpkg" and not data.startswith(b"SQLite format 3\x00"):
        raise FileFormatError("not a GeoPackage (no SQLite header)")
    with tempfile.TemporaryDirectory(prefix="wuwei-read-") as tmp:
        path = os.path.join(tmp, "upload" + FORMATS[fmt][0])
        with open(path, "wb") as fh:
            fh.write(data)
        return read(path, fmt)


def _check_geojson(data: bytes) -> None:
    """Clear messages for the common GeoJSON mistakes before GDAL sees the file."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(f"not valid JSON: {e}") from None
    except RecursionError:
        raise FileFormatError("not valid JSON: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise FileFormatError("GeoJSON must be a FeatureCollection or a Feature")


def _read_gdal(path: str, fmt: str, limits: Limits = NO_LIMITS) -> ReadResult:
    import pyogrio

    if limits.features is not None:
        limits.check_features(_count_gdal(path, fmt))  # counted before a geometry is read
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
        frames = []
        crs = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)  # mixed-type columns are left as text: fine here
            for name in layers if fmt == "kml" else layers[:1]:
                gdf = pyogrio.read_dataframe(
                    path, layer=name, max_features=(None if limits.features is None else limits.features + 1)
                )
                if gdf.crs is not None and crs is None:
                    crs = gdf.crs
                frames.append(gdf)
                limits.check_time()
    except LimitExceededError:
        raise
    except Exception as e:  # noqa: BLE001 (pyogrio raises DataSourceError, DataLayerError, FieldError, …)
        raise FileFormatError(f"cannot read the file as {fmt}: {short(e)}") from None
    if not frames:
        raise FileFormatError(f"the {fmt} file has no layer")
    gdf = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    limits.check_features(len(gdf))
    if hasattr(gdf, "geometry"):
        check_vertices(gdf.geometry.to_numpy(), limits)
    return _from_frame(gdf, crs, fmt, limits)


def _read_shapefile_zip(data: bytes, read: Callable[[str, str], object]):
    if not data.startswith(b"PK"):
        raise FileFormatError("a Shapefile must be uploaded as a .zip of its .shp, .shx, .dbf (and .prj)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_ZIP_RATIO * max(len(data), 1024 * 1024):
                raise FileFormatError("the zip unpacks to far more than its size; refused")
            shps = [
                m
                for m in members
                if m.filename.lower().endswith(".shp") and not os.path.basename(m.filename).startswith(".")
            ]
            if len(shps) != 1:
                raise FileFormatError(f"the zip must hold exactly one .shp file, not {len(shps)}")
            stem = os.path.splitext(shps[0].filename)[0]
            with tempfile.TemporaryDirectory(prefix="wuwei-shp-") as tmp:
                for m in members:
                    base, ext = os.path.splitext(m.filename)
                    if base == stem and ext.lower() in SHAPEFILE_PARTS:
                        with open(os.path.join(tmp, "layer" + ext.lower()), "wb") as fh:
                            fh.write(zf.read(m))
                missing = [e for e in (".shx", ".dbf") if not os.path.exists(os.path.join(tmp, "layer" + e))]
                if missing:
                    raise FileFormatError(f"the zip lacks the Shapefile part(s) {', '.join(missing)}")
                return read(os.path.join(tmp, "layer.shp"), "shp")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise FileFormatError(f"not a readable zip file: {e}") from None
    except (OSError, RuntimeError) as e:  # CRC errors, encrypted members
        raise FileFormatError(f"not a readable zip file: {e}") from None


def _from_frame(gdf, crs, fmt: str, limits: Limits = NO_LIMITS) -> ReadResult:
    """GeoJSON-like features from a GeoDataFrame, reprojected to EPSG:4326 when it says another CRS."""
    source = None
    if crs is not None:
        source = crs.to_string()
        epsg = crs.to_epsg()
        if epsg != 4326 and not (crs.is_geographic and _is_wgs84_like(crs)):
            try:
                gdf = gdf.to_crs(4326)
            except Exception as e:  # noqa: BLE001 (pyproj and GDAL raise several types)
                raise FileFormatError(f"cannot reproject from {source} to EPSG:4326: {short(e)}") from None
    columns = [c for c in gdf.columns if c != gdf.geometry.name] if hasattr(gdf, "geometry") else list(gdf.columns)
    if fmt == "kml":
        columns = [c for c in columns if c not in KML_RENDERING and not (c in KML_STANDARD and gdf[c].isna().all())]
    features = []
    geoms = gdf.geometry if hasattr(gdf, "geometry") else [None] * len(gdf)
    records = gdf[columns].to_dict("records")
    for i, (props, geom) in enumerate(zip(records, geoms), start=1):
        if i % 1000 == 0:
            limits.check_time()
        features.append(
            {
                "row": i,
                "properties": {k: plain_value(v) for k, v in props.items()},
                "geometry": None if geom is None or geom.is_empty else to_geojson(geom),
            }
        )
    return ReadResult(features, [str(c) for c in columns], source)


def _is_wgs84_like(crs) -> bool:
    """EPSG:4326, CRS84 and CGCS2000 (EPSG:4490, within centimetres of WGS-84) are taken as they are."""
    try:
        return crs.to_epsg() in (4326, 4490) or "CRS84" in crs.to_string()
    except Exception:  # noqa: BLE001 (an odd CRS that pyproj can't name is simply not WGS-84-like)
        return False


def plain_value(value):
    """A JSON-like Python value from what pandas/GDAL hands back (NaN → None, 12.0 → 12, dates as ISO)."""
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if pd.isna(value):
            return None
        ts = pd.Timestamp(value)
        if ts.tzinfo is None and ts.hour == ts.minute == ts.second == ts.microsecond == 0:
            return ts.date().isoformat()
        return ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


# --- writing -----------------------------------------------------------------------------------------


def write_features(
    features: list[dict], fmt: str, layer_name: str, columns: list[str], geometry_type: str | None
) -> bytes:
    """A file in ``fmt`` holding ``features`` (GeoJSON dicts in EPSG:4326) with ``columns`` in order."""
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
                    "geometry": f.get("geometry"),
                    "properties": {c: (f.get("properties") or {}).get(c) for c in columns},
                }
                for f in features
            ],
        }
        return json.dumps(doc, ensure_ascii=False).encode()
    if fmt == "csv":
        return csvfile.write_csv(features, columns, geometry_type)
    return _write_gdal(features, fmt, layer_name, columns, geometry_type)


def _write_gdal(features, fmt, layer_name, columns, geometry_type) -> bytes:
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import shape

    ext, _, driver = FORMATS[fmt]
    props = {"id": [f.get("id") for f in features]}
    for c in columns:
        props[c] = [(f.get("properties") or {}).get(c) for f in features]
    frame = pd.DataFrame(props, columns=["id"] + columns)
    for c in frame.columns:  # all-None columns would get no type; text is a safe one
        if frame[c].isna().all():
            frame[c] = frame[c].astype("string")
    if geometry_type:
        geoms = [shape(f["geometry"]) if f.get("geometry") else None for f in features]
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    elif fmt in ("kml",):
        raise UnknownFormatError(f"{fmt} cannot hold a layer without geometry; use csv, geojson or gpkg")
    with tempfile.TemporaryDirectory(prefix="wuwei-write-") as tmp:
        stem = layer_name.replace("-", "_")
        path = os.path.join(tmp, stem + (".shp" if fmt == "shp" else ext))
        kwargs = {"encoding": "UTF-8"} if fmt == "shp" else {}
        if geometry_type:
            kwargs["geometry_type"] = geometry_type
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # shapefile field-name laundering
            try:
                pyogrio.write_dataframe(frame, path, driver=driver, layer=stem, **kwargs)
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
