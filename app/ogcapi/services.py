"""OGC API - Features data access: the published layers as collections, their extents and items.

Items come from :func:`app.basemap.services.list_features` (one query whose JSON PostgreSQL
builds), restricted to the public properties of :mod:`app.basemap.public` and to the user's area.
"""
import datetime as dt

from sqlalchemy import Date, and_, func, select

from app.auth.policy import Scope
from app.basemap import services as layers
from app.basemap.public import PUBLIC_LAYERS, PublicLayer, get_public_layer
from app.core.extensions import db
from app.core.sql import index_driven
from app.core.time import TZ
from app.ogcapi.params import TimeBound, When

WORLD = [-180.0, -90.0, 180.0, 90.0]


def collections() -> list[PublicLayer]:
    """The published layers that have a geometry, in registry order."""
    return [p for p in PUBLIC_LAYERS.values() if p.layer is not None and p.layer.geom_type]


def get_collection(name: str) -> PublicLayer | None:
    """A collection by id, or None."""
    public = get_public_layer(name)
    return public if public is not None and public.layer.geom_type else None


def extent(public: PublicLayer, scope: Scope) -> dict:
    """``extent`` of a collection over what ``scope`` may see: bbox from PostGIS, and the time span."""
    t = layers.table_of(public.layer)
    ext = func.ST_Extent(t.c.geom)
    cols = [func.ST_XMin(ext), func.ST_YMin(ext), func.ST_XMax(ext), func.ST_YMax(ext)]
    if public.time_column:
        cols += [func.min(t.c[public.time_column]), func.max(t.c[public.time_column])]
    row = db.session.execute(select(*cols).where(and_(*layers.layer_conditions(public.layer, t, scope)))).one()
    bbox = WORLD if row[0] is None else [round(float(v), 7) for v in row[:4]]
    result = {"spatial": {"bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if public.time_column:
        span = [_instant(v, end=i == 1) for i, v in enumerate(row[4:6])]
        result["temporal"] = {"interval": [span], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return result


def _instant(value, end: bool = False) -> str | None:
    """RFC 3339 date-time for an extent: a date column's day spans local (Asia/Shanghai) time."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59) if end else dt.time(0), tzinfo=TZ)
    return value.isoformat()


def _time_conditions(col, start: TimeBound | None, end: TimeBound | None, instant: bool) -> list:
    if isinstance(col.type, Date):
        if instant:
            return [col == start.local_date()]
        return ([col >= start.local_date()] if start else []) + ([col <= end.local_date()] if end else [])
    if instant:
        return [col >= start.start(), col < start.end()] if start.is_date else [col == start.value]
    conds = [col >= start.start()] if start else []
    if end:
        conds.append(col < end.end() if end.is_date else col <= end.value)
    return conds


def items(public: PublicLayer, scope: Scope, *, bbox=None, when: When | None = None, filters=None,
          limit: int = 100, offset: int = 0) -> tuple[str, int | None, int]:
    """(features JSON text, numberMatched or None, numberReturned) of one page of a collection.

    ``datetime`` filters the layer's time column; collections without one ignore it.
    The exact count runs on the first page only (GDAL and OWSLib page by ``next`` links).
    """
    # As for tiles: a parallel plan only adds worker start-up to a page read through an index, and
    # JIT compiled the area-scope count (ST_Intersects is costed high) for 1.2 s to save nothing.
    index_driven()
    conditions = None
    if when is not None and public.time_column:
        def conditions(t):
            return _time_conditions(t.c[public.time_column], *when)
    return layers.list_features(public.layer, scope, bbox=bbox, filters=filters or {}, limit=limit,
                                offset=offset, properties=public.sql_properties(), conditions=conditions,
                                count=offset == 0)


def item(public: PublicLayer, scope: Scope, fid: int) -> dict | None:
    """One feature of a collection in the user's area, with the public properties only."""
    return layers.get_feature(public.layer, scope, fid, properties=public.sql_properties())
