"""CSV files with a header: lon/lat columns make Points, a WKT column any geometry.

Read and written here rather than by GDAL, because the lon/lat and WKT columns are the contract
(and a spreadsheet's GB18030 text is read as it is).
"""

import csv
import io

from gis.filebase import (
    NO_LIMITS,
    FileFormatError,
    LimitExceededError,
    Limits,
    ReadResult,
    check_vertices,
    short,
    to_geojson,
)

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")


def count_csv(data: bytes, limit: int | None = None) -> int:
    """The CSV's non-empty rows after the header, counted up to ``limit`` + 1."""
    return sum(1 for _ in _csv_records(_csv_text(data), stop_after=limit))


def _csv_text(data: bytes) -> str:
    """The CSV's text: UTF-8 (with or without BOM) or GB18030, without NUL characters."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # spreadsheets saved on Chinese Windows
        except UnicodeDecodeError:
            raise FileFormatError("the CSV is neither UTF-8 nor GB18030 text") from None
    if "\x00" in text:
        raise FileFormatError("the CSV holds NUL characters; is it a binary file?")
    return text


def _csv_header(text: str):
    """(header, the reader positioned after it)."""
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
    return [h.strip() for h in header], reader


def _csv_records(text: str, stop_after: int | None = None):
    """(row number, cells) of the CSV's non-empty rows after the header; stops after ``stop_after`` + 1."""
    _, reader = _csv_header(text)
    seen = 0
    try:
        for n, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            yield n, cells
            seen += 1
            if stop_after is not None and seen > stop_after:
                return
    except csv.Error as e:
        raise FileFormatError(f"malformed CSV: {e}") from None


def read_csv(data: bytes, limits: Limits = NO_LIMITS) -> ReadResult:
    """CSV with a header: lon/lat columns make Points, a WKT column any geometry; "" is no value."""
    text = _csv_text(data)
    header, _ = _csv_header(text)
    lower = [h.lower() for h in header]
    lon_i = next((lower.index(n) for n in LON_NAMES if n in lower), None)
    lat_i = next((lower.index(n) for n in LAT_NAMES if n in lower), None)
    wkt_i = next((lower.index(n) for n in WKT_NAMES if n in lower), None)
    if (lon_i is None) != (lat_i is None):
        raise FileFormatError("the CSV has a longitude column but no latitude column, or the other way round")
    geo_cols = {i for i in (lon_i, lat_i, wkt_i) if i is not None}
    columns = [h for i, h in enumerate(header) if i not in geo_cols]
    features = []
    vertices = 0
    for n, cells in _csv_records(text, stop_after=limits.features):
        limits.check_features(len(features) + 1, exact=False)
        if len(features) % 1000 == 999:
            limits.check_time()
        if len(cells) != len(header):
            features.append(
                {
                    "row": n,
                    "properties": {},
                    "geometry": None,
                    "error": f"has {len(cells)} cells, the header has {len(header)}",
                }
            )
            continue
        props = {
            h: (None if cells[i].strip() == "" else cells[i].strip()) for i, h in enumerate(header) if i not in geo_cols
        }
        geometry, error = None, None
        if lon_i is not None and (cells[lon_i].strip() or cells[lat_i].strip()):
            try:
                lon, lat = float(cells[lon_i]), float(cells[lat_i])
                geometry = {"type": "Point", "coordinates": [lon, lat]}
                vertices += 1
            except ValueError:
                error = f"lon/lat must be numbers, not {cells[lon_i]!r}, {cells[lat_i]!r}"
        elif wkt_i is not None and cells[wkt_i].strip():
            geometry, error, n_vertices = _wkt_geometry(cells[wkt_i], limits, n)
            vertices += n_vertices
        if limits.vertices is not None and vertices > limits.vertices:
            raise LimitExceededError(
                "vertices", limits.vertices, f"the file holds more than {limits.vertices:,} vertices"
            )
        feature = {"row": n, "properties": props, "geometry": geometry}
        if error:
            feature["error"] = error
        features.append(feature)
    return ReadResult(features, columns, None)


def _wkt_geometry(wkt: str, limits: Limits, row: int) -> tuple[dict | None, str | None, int]:
    """(GeoJSON geometry, error, vertices) of a WKT cell; LimitExceededError over the vertex cap."""
    import shapely

    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.ShapelyError as e:
        return None, f"geometry is not valid WKT: {short(e)}", 0
    vertices = check_vertices([geom], limits, first_row=row)  # before the GeoJSON is built
    try:
        return to_geojson(geom), None, vertices
    except (shapely.errors.ShapelyError, ValueError) as e:
        return None, f"geometry cannot be read: {short(e)}", vertices


def write_csv(features, columns, geometry_type) -> bytes:
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
