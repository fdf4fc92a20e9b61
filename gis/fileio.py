"""Reading and writing GIS files: GeoJSON, GeoPackage, Shapefile (zip), CSV with lon/lat, KML.

Pure functions over bytes: :func:`read_features` turns a file into GeoJSON-like
features in EPSG:4326 (reprojecting when the file declares another CRS, or from the coordinate
system the user names: :mod:`gis.coords`), and :func:`write_features` (:mod:`gis.filewrite`) turns
features into a file. GDAL does the format work (pyogrio/geopandas); CSV by :mod:`gis.csvfile`,
zipped Shapefiles and their text encoding by :mod:`gis.shapefile`. :class:`Limits` caps what a file
may hold (:mod:`gis.filebase`). Nothing here validates the attributes or geometry for a layer:
callers pass each feature through the same parsing as the layer API.
"""

import datetime as dt
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis import coords, csvfile, shapefile
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
from gis.filewrite import FORMATS, write_features  # noqa: F401  (the module's public names)
from gis.geometry import GeometryError, check_rings

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


@dataclass(frozen=True)
class ReadOptions:
    """What the user says about a file that the file itself does not (or says wrongly).

    ``system``: the coordinate system of its numbers (:func:`gis.coords.parse_system`: ``wgs84``,
    ``gcj02``, ``bd09``, ``EPSG:<code>``), None for "as the file says"; ``encoding`` of a Shapefile's
    text (None: its ``.cpg``, its language byte, or a decoding check).
    """

    system: str | None = None
    encoding: str | None = None


AS_SAID = ReadOptions()


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
        n = _with_gdal_path(data, fmt, lambda path, fmt, _encoding: _count_gdal(path, fmt))
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


def read_features(data: bytes, fmt: str, limits: Limits = NO_LIMITS, options: ReadOptions = AS_SAID) -> ReadResult:
    """Features of a file in ``fmt``, with geometries as GeoJSON dicts in EPSG:4326 (lon, lat).

    :class:`LimitExceededError` as soon as the file passes one of ``limits``; ``options`` says what
    the file does not (:class:`ReadOptions`).
    """
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if not data:
        raise FileFormatError("the file is empty")
    if fmt == "csv":
        result = csvfile.read_csv(data, limits)
        if options.system not in (None, "wgs84"):
            _convert_features(result, options.system)
        return result
    if fmt == "geojson":
        _check_geojson(data)
    return _with_gdal_path(
        data, fmt, lambda path, fmt, encoding: _read_gdal(path, fmt, limits, options, encoding), options.encoding
    )


def _convert_features(result: ReadResult, system: str) -> None:
    """Turn the features' geometries (lon/lat or map units in ``system``) into WGS-84, in place."""
    from shapely.geometry import shape

    for feature in result.features:
        if feature.get("geometry") and not feature.get("error"):
            try:
                feature["geometry"] = to_geojson(coords.to_wgs84(shape(feature["geometry"]), system))
            except Exception as e:  # noqa: BLE001 (shapely and pyproj raise several types)
                feature["geometry"] = None
                feature["error"] = f"cannot convert the coordinates from {system}: {short(e)}"
    result.source_crs = system


def _with_gdal_path(data: bytes, fmt: str, read: Callable[[str, str, str | None], object], encoding=None):
    """``read(path, fmt, encoding)`` on the file written to a temporary directory (a Shapefile unpacked
    from its zip, with the encoding of its text: :func:`gis.shapefile.read_zip`)."""
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if not data:
        raise FileFormatError("the file is empty")
    if fmt == "shp":
        return shapefile.read_zip(data, lambda path, found: read(path, fmt, found), encoding)
    if fmt == "gpkg" and not data.startswith(b"SQLite format 3\x00"):
        raise FileFormatError("not a GeoPackage (no SQLite header)")
    with tempfile.TemporaryDirectory(prefix="wuwei-read-") as tmp:
        path = os.path.join(tmp, "upload" + FORMATS[fmt][0])
        with open(path, "wb") as fh:
            fh.write(data)
        return read(path, fmt, None)


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
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    for n, feature in enumerate(features if isinstance(features, list) else [], start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if isinstance(geometry, dict) and isinstance(geometry.get("coordinates"), list):
            try:  # GDAL refuses the whole file for one open ring, without saying where
                check_rings(geometry.get("type"), geometry["coordinates"])
            except GeometryError as e:
                if e.kind == "unclosed":
                    raise FileFormatError(f"feature {n}: {e}") from None


def _read_gdal(
    path: str, fmt: str, limits: Limits = NO_LIMITS, options: ReadOptions = AS_SAID, encoding: str | None = None
) -> ReadResult:
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
                    path,
                    layer=name,
                    max_features=(None if limits.features is None else limits.features + 1),
                    **({"encoding": encoding} if encoding else {}),
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
    result = _from_frame(gdf, crs, fmt, limits, options.system)
    result.encoding = encoding
    return result


def _from_frame(gdf, crs, fmt: str, limits: Limits = NO_LIMITS, system: str | None = None) -> ReadResult:
    """GeoJSON-like features from a GeoDataFrame, reprojected to EPSG:4326 when it says another CRS,
    or from ``system`` when the user names one (an EPSG code overrides what the file says; GCJ-02
    and BD-09 are lon/lat numbers of their own, converted after)."""
    source = None
    if system is not None and system.startswith("EPSG:") and hasattr(gdf, "geometry"):
        crs = coords.pyproj_crs(int(system.split(":")[1]))
        gdf = gdf.set_crs(crs, allow_override=True)
    if crs is not None:
        source = crs.to_string()
        epsg = crs.to_epsg()
        if epsg != 4326 and not (crs.is_geographic and _is_wgs84_like(crs)):
            try:
                gdf = gdf.to_crs(4326)
            except Exception as e:  # noqa: BLE001 (pyproj and GDAL raise several types)
                raise FileFormatError(f"cannot reproject from {source} to EPSG:4326: {short(e)}") from None
    if system in ("gcj02", "bd09") and hasattr(gdf, "geometry"):
        gdf = gdf.set_geometry(gdf.geometry.apply(lambda g: coords.to_wgs84(g, system) if g is not None else g))
        source = system
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
