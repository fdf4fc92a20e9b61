"""Parsing and checking GeoJSON geometries from users (RFC 7946, lon/lat, WGS-84).

Every function raises :class:`GeometryError` with a message a user can act on;
the web layer turns it into a 422.
"""

import json
import math
import re

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity

GEOJSON_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
# How deep the coordinates array of each type nests above a position (RFC 7946 §3.1).
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


class GeometryError(ValueError):
    """A geometry a user sent cannot be stored; ``str()`` says why.

    ``kind`` says which rule it breaks, for a page that explains it in the user's language:
    ``malformed`` (not GeoJSON), ``range`` (lon/lat out of range), ``type`` (the wrong geometry type),
    ``unclosed`` (a ring whose last position is not its first), ``invalid`` (OGC validity: ``reason`` is
    GEOS' reason without its place, ``location`` the [lon, lat] where it is), ``empty``.
    """

    def __init__(self, message: str, kind: str = "malformed", reason: str | None = None, location=None):
        super().__init__(message)
        self.kind, self.reason, self.location = kind, reason, location


def _coords(obj):
    """Yield every coordinate pair of a GeoJSON coordinates array."""
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], (int, float)) and not isinstance(obj[0], bool):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _coords(item)
    else:
        raise GeometryError("coordinates must be nested arrays of numbers")


def _check_depth(obj, depth: int, gtype: str) -> None:
    """Arrays nest exactly as the type says: a Point is one position, a Polygon rings of positions."""
    if depth == 0:
        if not (
            isinstance(obj, (list, tuple))
            and obj
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj)
        ):
            raise GeometryError(_depth_message(gtype))
        return
    if not isinstance(obj, (list, tuple)):
        raise GeometryError(_depth_message(gtype))
    for item in obj:
        _check_depth(item, depth - 1, gtype)


def _depth_message(gtype: str) -> str:
    shapes = {
        "Point": "one position [lon, lat]",
        "MultiPoint": "an array of positions",
        "LineString": "an array of positions",
        "MultiLineString": "an array of arrays of positions",
        "Polygon": "an array of rings, each an array of positions",
        "MultiPolygon": "an array of polygons, each an array of rings of positions",
    }
    return f"{gtype} coordinates must be {shapes[gtype]}; a position is [lon, lat] numbers"


def check_ranges(geojson: dict) -> None:
    """Longitude in [-180, 180], latitude in [-90, 90], finite numbers, 2 or 3 per position."""
    for pos in _coords(geojson.get("coordinates")):
        if len(pos) not in (2, 3):
            raise GeometryError("a position has 2 or 3 numbers: [lon, lat] or [lon, lat, alt]")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pos):
            raise GeometryError("coordinates must be finite numbers")
        lon, lat = pos[0], pos[1]
        if not -180 <= lon <= 180:
            raise GeometryError(
                f"longitude {lon} is out of range [-180, 180] (GeoJSON order is lon, lat)", kind="range"
            )
        if not -90 <= lat <= 90:
            raise GeometryError(f"latitude {lat} is out of range [-90, 90] (GeoJSON order is lon, lat)", kind="range")


def _rings(gtype: str, coords) -> list:
    """The rings of a (Multi)Polygon's coordinates; none for other types."""
    if gtype == "Polygon":
        return list(coords)
    if gtype == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    return []


def check_rings(gtype: str, coords) -> None:
    """Every ring is closed (RFC 7946 §3.1.6: the last position repeats the first) and has at least
    four positions; shapely would close a ring silently, hiding a shape the user did not draw."""
    for n, ring in enumerate(_rings(gtype, coords), start=1):
        if not isinstance(ring, list) or not all(isinstance(p, list) and len(p) >= 2 for p in ring):
            continue  # the shape of the arrays is _check_depth's to explain
        if len(ring) >= 2 and list(ring[0][:2]) != list(ring[-1][:2]):
            raise GeometryError(
                f"ring {n} is not closed: its last position {list(ring[-1][:2])} must repeat "
                f"its first {list(ring[0][:2])}",
                kind="unclosed",
                location=list(ring[-1][:2]),
            )
        if len(ring) < 4:
            raise GeometryError(
                f"ring {n} has {len(ring)} position(s); a ring needs at least 4 (three corners, then the first again)",
                kind="invalid",
                reason="Too few points in geometry component",
                location=list(ring[0][:2]) if ring else None,
            )


_PLACE = re.compile(r"\[(-?[0-9.eE+-]+) (-?[0-9.eE+-]+)\]\s*$")


def validity_error(geom) -> GeometryError:
    """The error for an invalid shapely geometry: GEOS' reason and the place it names."""
    text = explain_validity(geom)
    m = _PLACE.search(text)
    reason = text[: m.start()].strip() if m else text
    location = [float(m.group(1)), float(m.group(2))] if m else None
    return GeometryError(f"invalid geometry: {text}", kind="invalid", reason=reason, location=location)


def parse_geometry(value, allowed: tuple[str, ...] | None = None, promote_multi: bool = True):
    """A valid shapely geometry from a GeoJSON geometry object (or its JSON text).

    ``allowed`` lists acceptable GeoJSON types after promotion; a Polygon is
    promoted to MultiPolygon when only MultiPolygon is allowed.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise GeometryError(f"geometry is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise GeometryError("geometry must be a GeoJSON geometry object")
    gtype = value.get("type")
    if gtype not in GEOJSON_TYPES:
        raise GeometryError(f"unknown geometry type {gtype!r}")
    if gtype == "GeometryCollection":
        raise GeometryError("GeometryCollection is not accepted; send one geometry type")
    if "coordinates" not in value:
        raise GeometryError("geometry has no coordinates")
    coords = value["coordinates"]
    if isinstance(coords, (list, tuple)) and not coords:
        raise GeometryError("geometry is empty")
    _check_depth(coords, _DEPTH[gtype], gtype)
    check_ranges(value)
    check_rings(gtype, coords)
    try:
        geom = shape(value)
    except Exception as e:  # noqa: BLE001 (shapely raises several types for malformed arrays)
        raise GeometryError(f"malformed {gtype} coordinates: {e}") from None
    if geom.is_empty:
        raise GeometryError("geometry is empty", kind="empty")
    if promote_multi and allowed and "MultiPolygon" in allowed and isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if allowed and geom.geom_type not in allowed:
        raise GeometryError(f"geometry must be {' or '.join(allowed)}, not {gtype}", kind="type")
    if not geom.is_valid:
        raise validity_error(geom)
    if geom.has_z:
        geom = shapely.force_2d(geom)
    # A clockwise exterior is not refused (RFC 7946 §3.1.6: parsers SHOULD NOT), it is turned round.
    return rfc7946(geom) if "Polygon" in geom.geom_type else geom


def repair(value, allowed: tuple[str, ...]):
    """A valid geometry of an ``allowed`` type made from a GeoJSON geometry that breaks a validity rule
    (rings closed, then shapely's ``make_valid``, keeping the parts of the allowed dimension), or None
    when nothing of that type is left. What the user is offered to accept, never applied unasked."""
    if isinstance(value, str):
        value = json.loads(value)
    gtype = value.get("type")
    coords = value.get("coordinates")
    if gtype in ("Polygon", "MultiPolygon"):
        polygons = [coords] if gtype == "Polygon" else list(coords)
        closed = []
        for polygon in polygons:
            rings = [list(r) + [r[0]] if r and list(r[0][:2]) != list(r[-1][:2]) else list(r) for r in polygon]
            rings = [r for r in rings if len(r) >= 4]
            if rings:
                closed.append(rings)
        if not closed:
            return None
        value = {"type": "MultiPolygon", "coordinates": closed}
    try:
        geom = shapely.force_2d(shape(value))
    except Exception:  # noqa: BLE001 (shapely raises several types for malformed arrays)
        return None
    fixed = shapely.make_valid(geom)
    want_polygons = any("Polygon" in t for t in allowed)
    want_lines = any("LineString" in t for t in allowed)
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if not g.is_empty]
    flat = []
    for part in parts:
        flat.extend(getattr(part, "geoms", [part]) if part.geom_type.startswith("Multi") else [part])
    if want_polygons:
        keep = [g for g in flat if g.geom_type == "Polygon" and g.area > 0]
        if not keep:
            return None
        result = MultiPolygon(keep) if "MultiPolygon" in allowed else (keep[0] if len(keep) == 1 else None)
    elif want_lines:
        keep = [g for g in flat if g.geom_type == "LineString" and g.length > 0]
        result = keep[0] if len(keep) == 1 and "LineString" in allowed else None
    else:
        keep = [g for g in flat if g.geom_type == "Point"]
        result = keep[0] if len(keep) == 1 and "Point" in allowed else None
    if result is None or not result.is_valid or result.is_empty:
        return None
    return rfc7946(result)


def rfc7946(geom):
    """``geom`` with RFC 7946 winding: exterior rings counter-clockwise, holes clockwise."""
    return shapely.orient_polygons(geom, exterior_cw=False)


def to_geojson(geom) -> dict:
    """GeoJSON mapping of a shapely geometry."""
    return mapping(geom)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in lon/lat; None when absent."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise GeometryError("bbox must be four numbers: minLon,minLat,maxLon,maxLat")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise GeometryError("bbox must be four numbers: minLon,minLat,maxLon,maxLat") from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise GeometryError("bbox values must be finite")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise GeometryError("bbox is out of range: lon in [-180, 180], lat in [-90, 90]")
    if minx > maxx or miny > maxy:
        raise GeometryError("bbox minimum is greater than its maximum")
    return minx, miny, maxx, maxy
