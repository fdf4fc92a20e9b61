"""Reading and writing GIS files: GeoJSON, GeoPackage, Shapefile (zip), CSV with lon/lat, KML.

Pure functions over bytes: :func:`read_features` turns a file into GeoJSON-like
features in EPSG:4326 (reprojecting when the file declares another CRS), and
:func:`write_features` turns features into a file. GDAL does the format work
(pyogrio/geopandas); CSV is read and written here, because its lon/lat and WKT
columns are the contract. Nothing here validates the attributes or geometry for a
layer: callers pass each feature through the same parsing as the layer API.
"""
import csv
import datetime as dt
import io
import json
import math
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

FORMATS = {
    # name: (extension of the file written, media type, GDAL driver)
    "geojson": (".geojson", "application/geo+json", "GeoJSON"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3", "GPKG"),
    "shp": (".zip", "application/zip", "ESRI Shapefile"),
    "csv": (".csv", "text/csv", None),
    "kml": (".kml", "application/vnd.google-earth.kml+xml", "LIBKML"),
}
EXTENSIONS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp", ".shz": "shp",
              ".csv": "csv", ".kml": "kml"}
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
# KML's own Placemark fields: rendering hints are always dropped, the others when a file leaves them empty.
KML_RENDERING = ("tessellate", "extrude", "visibility", "drawOrder", "altitudeMode", "icon")
KML_STANDARD = ("Name", "Description", "description", "timestamp", "begin", "end", "snippet", "id")
# A zip may not unpack to more than this many times its own size (zip bombs).
MAX_ZIP_RATIO = 50
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


class FileFormatError(ValueError):
    """The file cannot be read as the format it claims; ``str()`` says why."""


class UnknownFormatError(ValueError):
    """No supported format matches the name or the request."""


@dataclass
class ReadResult:
    """Features read from a file: ``features`` carry ``row`` (1-based), ``properties``, ``geometry``."""
    features: list[dict]
    columns: list[str]
    source_crs: str | None


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
    raise UnknownFormatError(f"cannot tell the format of {filename or 'the file'!r} from its extension; "
                             f"use one of {', '.join(sorted(EXTENSIONS))} or say format=" + "|".join(FORMATS))


# --- reading -----------------------------------------------------------------------------------------

def read_features(data: bytes, fmt: str) -> ReadResult:
    """Features of a file in ``fmt``, with geometries as GeoJSON dicts in EPSG:4326 (lon, lat)."""
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if not data:
        raise FileFormatError("the file is empty")
    if fmt == "csv":
        return _read_csv(data)
    if fmt == "shp":
        return _read_shapefile_zip(data)
    if fmt == "gpkg" and not data.startswith(b"SQLite format 3\x00"):
        raise FileFormatError("not a GeoPackage (no SQLite header)")
    if fmt == "geojson":
        _check_geojson(data)
    with tempfile.TemporaryDirectory(prefix="wuwei-read-") as tmp:
        path = os.path.join(tmp, "upload" + FORMATS[fmt][0])
        with open(path, "wb") as fh:
            fh.write(data)
        return _read_gdal(path, fmt)


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


def _read_gdal(path: str, fmt: str) -> ReadResult:
    import pyogrio
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
        frames = []
        crs = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)  # mixed-type columns are left as text: fine here
            for name in layers if fmt == "kml" else layers[:1]:
                gdf = pyogrio.read_dataframe(path, layer=name)
                if gdf.crs is not None and crs is None:
                    crs = gdf.crs
                frames.append(gdf)
    except Exception as e:  # pyogrio raises DataSourceError, DataLayerError, FieldError, …
        raise FileFormatError(f"cannot read the file as {fmt}: {_short(e)}") from None
    if not frames:
        raise FileFormatError(f"the {fmt} file has no layer")
    gdf = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return _from_frame(gdf, crs, fmt)


def _read_shapefile_zip(data: bytes) -> ReadResult:
    if not data.startswith(b"PK"):
        raise FileFormatError("a Shapefile must be uploaded as a .zip of its .shp, .shx, .dbf (and .prj)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_ZIP_RATIO * max(len(data), 1024 * 1024):
                raise FileFormatError("the zip unpacks to far more than its size; refused")
            shps = [m for m in members if m.filename.lower().endswith(".shp")
                    and not os.path.basename(m.filename).startswith(".")]
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
                return _read_gdal(os.path.join(tmp, "layer.shp"), "shp")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise FileFormatError(f"not a readable zip file: {e}") from None
    except (OSError, RuntimeError) as e:  # CRC errors, encrypted members
        raise FileFormatError(f"not a readable zip file: {e}") from None


def _from_frame(gdf, crs, fmt: str) -> ReadResult:
    """GeoJSON-like features from a GeoDataFrame, reprojected to EPSG:4326 when it says another CRS."""
    source = None
    if crs is not None:
        source = crs.to_string()
        epsg = crs.to_epsg()
        if epsg != 4326 and not (crs.is_geographic and _is_wgs84_like(crs)):
            try:
                gdf = gdf.to_crs(4326)
            except Exception as e:
                raise FileFormatError(f"cannot reproject from {source} to EPSG:4326: {_short(e)}") from None
    columns = [c for c in gdf.columns if c != gdf.geometry.name] if hasattr(gdf, "geometry") else list(gdf.columns)
    if fmt == "kml":
        columns = [c for c in columns if c not in KML_RENDERING
                   and not (c in KML_STANDARD and gdf[c].isna().all())]
    features = []
    geoms = gdf.geometry if hasattr(gdf, "geometry") else [None] * len(gdf)
    records = gdf[columns].to_dict("records")
    for i, (props, geom) in enumerate(zip(records, geoms), start=1):
        features.append({"row": i, "properties": {k: plain_value(v) for k, v in props.items()},
                         "geometry": None if geom is None or geom.is_empty else _geojson(geom)})
    return ReadResult(features, [str(c) for c in columns], source)


def _geojson(geom) -> dict:
    """A shapely geometry as a GeoJSON dict with lists, as JSON would give it."""
    import shapely
    return json.loads(shapely.to_geojson(geom))


def _is_wgs84_like(crs) -> bool:
    """EPSG:4326, CRS84 and CGCS2000 (EPSG:4490, within centimetres of WGS-84) are taken as they are."""
    try:
        return crs.to_epsg() in (4326, 4490) or "CRS84" in crs.to_string()
    except Exception:
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


def _read_csv(data: bytes) -> ReadResult:
    """CSV with a header: lon/lat columns make Points, a WKT column any geometry; "" is no value."""
    import shapely
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # spreadsheets saved on Chinese Windows
        except UnicodeDecodeError:
            raise FileFormatError("the CSV is neither UTF-8 nor GB18030 text") from None
    if "\x00" in text:
        raise FileFormatError("the CSV holds NUL characters; is it a binary file?")
    try:
        sample = text[:4096]
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise FileFormatError("the CSV has no header row") from None
    except csv.Error as e:
        raise FileFormatError(f"malformed CSV: {e}") from None
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    lon_i = next((lower.index(n) for n in LON_NAMES if n in lower), None)
    lat_i = next((lower.index(n) for n in LAT_NAMES if n in lower), None)
    wkt_i = next((lower.index(n) for n in WKT_NAMES if n in lower), None)
    if (lon_i is None) != (lat_i is None):
        raise FileFormatError("the CSV has a longitude column but no latitude column, or the other way round")
    geo_cols = {i for i in (lon_i, lat_i, wkt_i) if i is not None}
    columns = [h for i, h in enumerate(header) if i not in geo_cols]
    features = []
    try:
        for n, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                features.append({"row": n, "properties": {}, "geometry": None,
                                 "error": f"has {len(cells)} cells, the header has {len(header)}"})
                continue
            props = {h: (None if cells[i].strip() == "" else cells[i].strip())
                     for i, h in enumerate(header) if i not in geo_cols}
            geometry, error = None, None
            if lon_i is not None and (cells[lon_i].strip() or cells[lat_i].strip()):
                try:
                    lon, lat = float(cells[lon_i]), float(cells[lat_i])
                    geometry = {"type": "Point", "coordinates": [lon, lat]}
                except ValueError:
                    error = f"lon/lat must be numbers, not {cells[lon_i]!r}, {cells[lat_i]!r}"
            elif wkt_i is not None and cells[wkt_i].strip():
                try:
                    geometry = _geojson(shapely.from_wkt(cells[wkt_i]))
                except Exception as e:
                    error = f"geometry is not valid WKT: {_short(e)}"
            feature = {"row": n, "properties": props, "geometry": geometry}
            if error:
                feature["error"] = error
            features.append(feature)
    except csv.Error as e:
        raise FileFormatError(f"malformed CSV: {e}") from None
    return ReadResult(features, columns, None)


def _short(e: Exception) -> str:
    return str(e).split("\n")[0][:300]


# --- writing -----------------------------------------------------------------------------------------

def write_features(features: list[dict], fmt: str, layer_name: str, columns: list[str],
                   geometry_type: str | None) -> bytes:
    """A file in ``fmt`` holding ``features`` (GeoJSON dicts in EPSG:4326) with ``columns`` in order."""
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}")
    if fmt == "geojson":
        doc = {"type": "FeatureCollection", "name": layer_name,
               "features": [{"type": "Feature", "id": f.get("id"), "geometry": f.get("geometry"),
                             "properties": {c: (f.get("properties") or {}).get(c) for c in columns}}
                            for f in features]}
        return json.dumps(doc, ensure_ascii=False).encode()
    if fmt == "csv":
        return _write_csv(features, columns, geometry_type)
    return _write_gdal(features, fmt, layer_name, columns, geometry_type)


def _write_csv(features, columns, geometry_type) -> bytes:
    import shapely
    from shapely.geometry import shape
    out = io.StringIO()
    w = csv.writer(out)
    geo = ["lon", "lat"] if geometry_type == "Point" else (["wkt"] if geometry_type else [])
    w.writerow(["id"] + columns + geo)
    for f in features:
        props = f.get("properties") or {}
        row = [f.get("id")] + ["" if props.get(c) is None else props.get(c) for c in columns]
        g = f.get("geometry")
        if geometry_type == "Point":
            row += list(g["coordinates"][:2]) if g else ["", ""]
        elif geometry_type:
            row.append(shapely.to_wkt(shape(g), rounding_precision=7) if g else "")
        w.writerow(row)
    return ("\ufeff" + out.getvalue()).encode()  # BOM: spreadsheets then read UTF-8 Chinese correctly


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
            except Exception as e:
                raise FileFormatError(f"cannot write {fmt}: {_short(e)}") from None
        if fmt != "shp":
            with open(path, "rb") as fh:
                return fh.read()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(os.listdir(tmp)):
                zf.write(os.path.join(tmp, name), name)
        return buf.getvalue()
