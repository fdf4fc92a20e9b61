"""Coordinate reference systems of OGC API - Features Part 2 (``crs``, ``bbox-crs``, ``filter-crs``).

Wuwei stores EPSG:4326 in lon/lat order (CRS84). A request may ask for geometries in, or give a bbox or
a filter's geometries in, any CRS of :data:`SUPPORTED`, with the axis order that CRS defines
(EPSG:4326 and CGCS2000 EPSG:4490: latitude first; the Lanzhou Gauss-Krüger zone EPSG:4544: northing
first). Answers are transformed in PostGIS (``ST_Transform``, then ``ST_FlipCoordinates`` where the axis
order asks for it), so the JSON is still built by PostgreSQL. Geometries that come *in* are transformed in
Python by pyproj transformers built once per CRS and kept (pygeoapi spent most of a small bbox query
building them anew).
"""
import functools
import math
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.exceptions import ProjError
from shapely.geometry.base import BaseGeometry

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@dataclass(frozen=True)
class Crs:
    """One CRS offered: its URI, PostGIS SRID, whether its first axis is north, and the digits kept."""
    uri: str
    srid: int
    north_first: bool
    digits: int
    title: str

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value."""
        return f"<{self.uri}>"


SUPPORTED: dict[str, Crs] = {c.uri: c for c in (
    Crs(CRS84, 4326, False, 7, "WGS 84 longitude/latitude (CRS84)"),
    Crs(_EPSG + "4326", 4326, True, 7, "WGS 84 latitude/longitude"),
    Crs(_EPSG + "3857", 3857, False, 2, "Web Mercator (metres)"),
    Crs(_EPSG + "4490", 4490, True, 7, "CGCS2000 latitude/longitude"),
    Crs(_EPSG + "4544", 4544, True, 2, "CGCS2000 3-degree Gauss-Krüger CM 105E (Lanzhou; northing, easting)"),
)}
DEFAULT = SUPPORTED[CRS84]
# Short spellings clients also send.
_ALIASES = {"crs84": CRS84, "ogc:crs84": CRS84, "urn:ogc:def:crs:ogc:1.3:crs84": CRS84,
            "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84}


class CrsError(ValueError):
    """A CRS that is not offered, or coordinates that it cannot hold; ``str()`` says why."""


def lookup(value: str | None) -> Crs:
    """The offered CRS named by ``value`` (a URI, ``EPSG:n``, ``urn:ogc:def:crs:EPSG::n``), or CrsError."""
    if value is None or value == "":
        return DEFAULT
    text = value.strip().strip("<>")
    key = text.lower()
    if key in _ALIASES:
        return SUPPORTED[_ALIASES[key]]
    for prefix in ("epsg:", "urn:ogc:def:crs:epsg::", "urn:ogc:def:crs:epsg:6.6:",
                   "http://www.opengis.net/def/crs/epsg/0/", "https://www.opengis.net/def/crs/epsg/0/"):
        if key.startswith(prefix):
            code = key[len(prefix):]
            uri = _EPSG + code
            if uri in SUPPORTED:
                return SUPPORTED[uri]
    raise CrsError(f"CRS {value!r} is not offered; use one of: {', '.join(SUPPORTED)}")


@functools.cache
def _to_crs84(uri: str) -> Transformer:
    """From ``uri`` (in its own axis order) to CRS84 lon/lat; built once per CRS."""
    return Transformer.from_crs(ProjCRS.from_user_input(_proj_name(uri)), ProjCRS.from_user_input("OGC:CRS84"))


def _proj_name(uri: str) -> str:
    return "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]


def warm() -> None:
    """Build every transformer now (at start-up), not on a user's request."""
    for uri in SUPPORTED:
        if uri != CRS84:
            _to_crs84(uri)
            area_of_use(uri)


@functools.cache
def area_of_use(uri: str) -> tuple[float, float, float, float]:
    """Where ``uri`` is defined (lon/lat), widened by 1°; outside it a projection's numbers mean nothing."""
    area = ProjCRS.from_user_input(_proj_name(uri)).area_of_use
    if area is None:
        return -180.0, -90.0, 180.0, 90.0
    w, s, e, n = area.bounds
    return max(-180.0, w - 1), max(-90.0, s - 1), min(180.0, e + 1), min(90.0, n + 1)


def _inside_area(bounds, crs: Crs) -> bool:
    w, s, e, n = area_of_use(crs.uri)
    return w <= bounds[0] and bounds[2] <= e and s <= bounds[1] and bounds[3] <= n


def bbox_to_crs84(bbox: tuple[float, float, float, float], crs: Crs) -> tuple[float, float, float, float]:
    """A bbox given in ``crs`` (its axis order) as lon/lat bounds, edges densified."""
    if crs.uri == CRS84:
        return bbox
    a1, b1, a2, b2 = bbox
    if a1 > a2 or b1 > b2:
        raise CrsError("bbox: the lower corner must come first (in the axis order of bbox-crs)")
    try:
        out = _to_crs84(crs.uri).transform_bounds(a1, b1, a2, b2, densify_pts=21)
    except ProjError as e:       # coordinates this CRS cannot transform
        raise CrsError(f"bbox cannot be transformed from {crs.uri}: {e}") from None
    if not all(math.isfinite(v) for v in out) or \
            not (-180 <= out[0] <= out[2] <= 180 and -90 <= out[1] <= out[3] <= 90) or not _inside_area(out, crs):
        raise CrsError(f"bbox lies outside the area where {crs.uri} is defined")
    return out


def geometry_to_crs84(geom: BaseGeometry, crs: Crs) -> BaseGeometry:
    """A filter geometry given in ``crs`` as a lon/lat geometry, or CrsError."""
    if crs.uri != CRS84:
        transformer = _to_crs84(crs.uri)
        try:
            geom = shapely.transform(geom, lambda xy: _transform_xy(transformer, xy))
        except (ProjError, ValueError) as e:
            raise CrsError(f"geometry cannot be transformed from {crs.uri}: {e}") from None
    coords = shapely.get_coordinates(geom)
    if len(coords) and not (coords[:, 0].min() >= -180 and coords[:, 0].max() <= 180
                            and coords[:, 1].min() >= -90 and coords[:, 1].max() <= 90):
        raise CrsError("geometry coordinates lie outside longitude [-180, 180] / latitude [-90, 90] "
                       f"(in the axis order of {crs.uri})")
    if crs.uri != CRS84 and not _inside_area(geom.bounds, crs):
        raise CrsError(f"geometry lies outside the area where {crs.uri} is defined")
    return geom


def _transform_xy(transformer: Transformer, xy):
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    out = np.column_stack([x, y])
    if not np.isfinite(out).all():
        raise CrsError("coordinates outside the CRS's area")
    return out
